/* The data path. From a job: parse, check the source is one of the job's VIPs, look the
 * destination up, then write it into a local job's TUN or queue it to the peer hosting
 * it; an unknown destination gets an ICMP / ICMPv6 unreachable back. From a peer: parse
 * and write it into the local job hosting the destination, or, for a VIP that just moved
 * away, send it on to the VIP's new node (a forwarding pointer, once: never a loop). A
 * job that is not ACTIVE has its packets held (job.c). */
#include "tunvnet/forward.h"

#include <errno.h>
#include <string.h>

#include "tunnel/frame.h"
#include "tunvnet/capture.h"

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

	capture_packet(CAPTURE_FROM_JOB, j, NULL, pkt, len, len);
	if (j->state == JOB_SUSPENDED) {
		stats_drop(DROP_SUSPENDED);
		return;
	}
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
		if (job_deliver(to, 0, pkt, len) == 0)
			stats_add(STAT_LOCAL_SWITCHED, 1);
		return;
	}
	p = peer_find(d, node);
	if (!p || !peer_is_up(p)) {
		stats_drop(DROP_NO_LINK);
		return;
	}
	capture_packet(CAPTURE_TO_PEER, j, p, pkt, len, len);
	err = peer_send_data(p, 0, pkt, len);
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

/* VIPs that moved away lately, each until its grace period ends. */
#define POINTERS_MAX 1024

static struct pointer {
	struct vip vip;
	uint64_t until_ms;
} pointers[POINTERS_MAX];
static size_t npointers;

void forward_pointer_add(struct daemon *d, const struct vip *v)
{
	uint64_t now = loop_now(d->loop), until = now + (uint64_t)d->cfg.forward_grace_ms;
	size_t i, free_slot = npointers;

	for (i = 0; i < npointers; i++) {
		if (vip_equal(&pointers[i].vip, v))
			break;
		if (pointers[i].until_ms <= now)
			free_slot = i;
	}
	if (i == npointers) {
		if (free_slot == npointers && npointers == POINTERS_MAX)
			free_slot = 0; /* full of live ones: the oldest slot goes */
		i = free_slot;
		if (i == npointers)
			npointers++;
	}
	pointers[i].vip = *v;
	pointers[i].until_ms = until;
}

static bool pointer_live(struct daemon *d, const struct vip *v)
{
	for (size_t i = 0; i < npointers; i++)
		if (vip_equal(&pointers[i].vip, v))
			return pointers[i].until_ms > loop_now(d->loop);
	return false;
}

int forward_to_node(struct daemon *d, const char *node, const uint8_t *pkt, size_t len)
{
	struct peer *p = peer_find(d, node);
	int err;

	if (!p || !peer_is_up(p)) {
		stats_drop(DROP_NO_LINK);
		return -ENOTCONN;
	}
	capture_packet(CAPTURE_TO_PEER, NULL, p, pkt, len, len);
	err = peer_send_data(p, FRAME_F_FORWARDED, pkt, len);
	if (err < 0) {
		stats_drop(err == -ENOBUFS ? DROP_QUEUE_FULL : DROP_NO_LINK);
		return err;
	}
	stats_add(STAT_FORWARDED, 1);
	return 0;
}

void forward_from_peer(struct peer *p, uint16_t flags, const uint8_t *pkt, size_t len)
{
	struct daemon *d = p->d;
	struct packet_info pi;
	const char *node;
	struct job *to;

	stats_add(STAT_PEER_RX_PACKETS, 1);
	stats_add(STAT_PEER_RX_BYTES, len);
	capture_packet(CAPTURE_FROM_PEER, NULL, p, pkt, len, len);
	if (packet_parse(pkt, len, &pi) < 0) {
		stats_drop(DROP_MALFORMED);
		return;
	}
	to = job_by_vip(d, &pi.dst);
	if (to) {
		job_deliver(to, flags, pkt, len);
		return;
	}
	node = routing_node_of(d, &pi.dst);
	if (!(flags & FRAME_F_FORWARDED) && node && strcmp(node, d->cfg.node) != 0 &&
	    pointer_live(d, &pi.dst)) {
		forward_to_node(d, node, pkt, len);
		return;
	}
	stats_drop(DROP_NOT_LOCAL);
}
