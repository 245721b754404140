/* The data path. From a job: parse, check the source is one of the job's VIPs, look the
 * destination up, then write it into a local job's TUN or queue it to the peer hosting
 * it; an unknown destination gets an ICMP / ICMPv6 unreachable back. From a peer: parse
 * and write it into the local job hosting the destination. */
#include "tunvnet/forward.h"

#include <errno.h>
#include <string.h>

#include "tunvnet/daemon.h"
#include "tunvnet/job.h"
#include "tunvnet/log.h"
#include "tunvnet/packet.h"
#include "tunvnet/peer.h"
#include "tunvnet/routing.h"
#include "tunvnet/stats.h"

static void unreachable(struct job *j, const uint8_t *pkt, size_t len,
			const struct packet_info *pi)
{
	uint8_t out[1280];
	int n;

	if (!packet_may_send_error(pi))
		return;
	n = packet_icmp_unreach(pkt, len, pi, out, sizeof(out));
	if (n > 0 && job_write(j, out, (size_t)n) == 0)
		stats_add(STAT_ICMP_UNREACH_SENT, 1);
}

void forward_from_job(struct job *j, const uint8_t *pkt, size_t len)
{
	struct daemon *d = j->d;
	struct packet_info pi;
	const char *node;
	struct peer *p;
	int err;

	if (packet_parse(pkt, len, &pi) < 0) {
		stats_drop(DROP_MALFORMED);
		return;
	}
	if (pi.dst_multicast || pi.src_unspecified) {
		stats_drop(DROP_NON_UNICAST);
		return;
	}
	if (!job_has_vip(j, &pi.src)) {
		char s[VIP_STRLEN];

		stats_drop(DROP_SPOOFED_SOURCE);
		log_ratelimited(log_info, "job %s: dropped a packet from %s, not its VIP",
				j->netns, vip_fmt(&pi.src, s));
		return;
	}
	node = routing_node_of(d, &pi.dst);
	if (!node) {
		stats_drop(DROP_NO_ROUTE);
		unreachable(j, pkt, len, &pi);
		return;
	}
	if (strcmp(node, d->cfg.node) == 0) {
		struct job *to = job_by_vip(d, &pi.dst);

		if (!to) {
			stats_drop(DROP_NO_ROUTE);
			unreachable(j, pkt, len, &pi);
			return;
		}
		if (job_write(to, pkt, len) == 0)
			stats_add(STAT_LOCAL_SWITCHED, 1);
		return;
	}
	p = peer_find(d, node);
	if (!p || !peer_is_up(p)) {
		stats_drop(DROP_NO_LINK);
		return;
	}
	err = peer_send_data(p, pkt, len);
	if (err == -ENOBUFS) {
		stats_drop(DROP_QUEUE_FULL);
		return;
	}
	if (err < 0) {
		stats_drop(DROP_NO_LINK);
		return;
	}
	stats_add(STAT_PEER_TX_PACKETS, 1);
	stats_add(STAT_PEER_TX_BYTES, len);
}

void forward_from_peer(struct peer *p, const uint8_t *pkt, size_t len)
{
	struct packet_info pi;
	struct job *to;

	stats_add(STAT_PEER_RX_PACKETS, 1);
	stats_add(STAT_PEER_RX_BYTES, len);
	if (packet_parse(pkt, len, &pi) < 0) {
		stats_drop(DROP_MALFORMED);
		return;
	}
	to = job_by_vip(p->d, &pi.dst);
	if (!to) {
		stats_drop(DROP_NOT_LOCAL);
		return;
	}
	job_write(to, pkt, len);
}
