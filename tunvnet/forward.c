/* The data path.
 *
 * Outbound flow:
 *   1. job.c reads a packet (or a super-packet behind its virtio-net header) from a
 *      job's TUN and reports it through job_events: forward_from_job()
 *   2. parse, check the source, look up the destination's node (routing_node_of)
 *   3. a local job: job_deliver(); another node: peer_send_data() onto its link (with
 *      links on demand, the packet waits there, bounded, for a link being made)
 * Inbound flow:
 *   1. peer.c hands a DATA frame's payload to forward_from_peer()
 *   2. parse; the local job hosting the destination: job_deliver() (which writes, holds
 *      or coalesces), else a live forwarding pointer sends it on to the VIP's new node
 *
 * From a job: parse, check the source is one of the job's VIPs, look the
 * destination up, then write it into a local job's TUN or queue it to the peer hosting
 * it; an unknown destination, or one whose node was declared dead, gets an ICMP /
 * ICMPv6 unreachable back. From a peer: parse
 * and write it into the local job hosting the destination, or, for a VIP that just moved
 * away, send it on to the VIP's new node (a forwarding pointer, once: never a loop). A
 * job that is not ACTIVE has its packets held (job.c). */
#include "tunvnet/forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/frame.h"
#include "tunvnet/capture.h"

#include "tunvnet/daemon.h"
#include "tunvnet/job.h"
#include "tunvnet/log.h"
#include "tunvnet/packet.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"
#include "tunvnet/routing.h"
#include "tunvnet/stats.h"
#include "tunvnet/vnet.h"

static void unreachable(struct job *j, const uint8_t *pkt, size_t len,
			const struct packet_info *pi)
{
	uint8_t out[1280];
	int n;

	if (!packet_may_send_error(pi))
		return;
	n = packet_icmp_unreach(pkt, len, pi, out, sizeof(out));
	if (n > 0 && job_write(j, out, (size_t)n) == 0)
		stats_add(&j->d->stats, STAT_ICMP_UNREACH_SENT, 1);
}

/* The IP packet of a FRAME_DATA payload: behind the vnet header if there is one. false
 * when the payload is too short to hold the header. */
static bool ip_part(uint16_t flags, const uint8_t *pkt, size_t len, const uint8_t **ip,
		    size_t *iplen)
{
	size_t hl = flags & FRAME_F_VNET_HDR ? VNET_HDR_LEN : 0;

	if (len < hl)
		return false;
	*ip = pkt + hl;
	*iplen = len - hl;
	return true;
}

/* One definition of a packet and a byte on every counter of peer traffic, the node's
 * (STAT_PEER_*) and each peer's alike: a DATA frame, counted by the length of the inner
 * IP packet (or super-packet), without the virtio-net header, as the TUN counters are.
 * Both are bumped here and only here, so that the peers' add up to the node's. */
static void count_tx(struct daemon *d, struct peer *p, size_t iplen)
{
	p->tx_packets++;
	p->tx_bytes += iplen;
	stats_add(&d->stats, STAT_PEER_TX_PACKETS, 1);
	stats_add(&d->stats, STAT_PEER_TX_BYTES, iplen);
}

static void count_rx(struct daemon *d, struct peer *p, size_t iplen)
{
	p->rx_packets++;
	p->rx_bytes += iplen;
	stats_add(&d->stats, STAT_PEER_RX_PACKETS, 1);
	stats_add(&d->stats, STAT_PEER_RX_BYTES, iplen);
}

/* VIPs that moved away lately, each until its grace period ends. */
#define POINTERS_MAX 1024

struct pointer {
	struct vip vip;
	uint64_t until_ms;
};

struct forward {
	struct pointer pointers[POINTERS_MAX];
	size_t npointers;
};

/* A drop charged to the job and / or peer it concerns (either may be NULL). */
static void drop(struct daemon *d, enum drop_reason r, struct job *j, struct peer *p)
{
	stats_drop_at(&d->stats, r, j ? j->drops : NULL, p ? p->drops_by : NULL);
}

/* A super-packet travels whole, its vnet header in front (FRAME_F_VNET_HDR): the far TUN
 * takes it as it is, or the far daemon segments it (job.c). Only the IP packet behind
 * the header is parsed, captured and counted here. */
/* A TCP segment with RST or FIN. */
static bool closes_connection(const uint8_t *ip, size_t iplen, const struct packet_info *pi)
{
	return pi->proto == IPPROTO_TCP && !pi->frag_nonfirst && iplen >= pi->l3_len + 14u &&
	       (ip[pi->l3_len + 13] & 0x05);
}

/* A VIP that just came to this node: its first packets travel on the control link,
 * behind the announcement that tells the far node the VIP is ours now (which checks every
 * DATA's source against its routes). The data link is not ordered with the control link.
 */
#define ORDERED_AFTER_MOVE_MS 200

static bool just_moved(struct daemon *d, const struct vip *src)
{
	const struct route_entry *e = route_lookup(d->routes, src);

	return e && loop_now(d->loop) - e->changed_ms < ORDERED_AFTER_MOVE_MS;
}

int forward_from_job(struct job *j, uint16_t flags, const uint8_t *pkt, size_t len)
{
	struct daemon *d = j->d;
	const struct route_entry *re;
	struct packet_info pi;
	const uint8_t *ip;
	const char *node;
	struct peer *p;
	size_t iplen;
	int err;

	if (!ip_part(flags, pkt, len, &ip, &iplen)) {
		drop(d, DROP_MALFORMED, j, NULL);
		return 0;
	}
	capture_packet(d->capture, CAPTURE_FROM_JOB, NULL, ip, iplen, iplen);
	if (packet_parse(ip, iplen, &pi) < 0) {
		drop(d, DROP_MALFORMED, j, NULL);
		return 0;
	}
	if (j->state == JOB_STANDBY) {
		/* Not announced yet: the answers to what it sends would go to the old node,
		 * which holds them until activate. Delivered now, a restored connection's
		 * segments are acknowledged only after the whole standby, so its TCP takes
		 * the path for one of that delay and almost no bandwidth: BBR then paces
		 * the connection's data up to a minute behind (the load test's resets).
		 * Lost, they are simply sent again once the job is active. */
		drop(d, DROP_STANDBY, j, NULL);
		return 0;
	}
	if (j->state == JOB_SUSPENDED && closes_connection(ip, iplen, &pi)) {
		/* Its checkpoint may be under way: a RST or FIN now would end the connection
		 * the restored job is to carry on. Data, ACKs and retransmissions go out,
		 * so that the peer's view stays current and no retransmit timer backs off. */
		drop(d, DROP_SUSPENDED, j, NULL);
		return 0;
	}
	if (pi.dst_multicast || pi.src_unspecified) {
		drop(d, DROP_NON_UNICAST, j, NULL);
		return 0;
	}
	if (!job_has_vip(j, &pi.src)) {
		char s[VIP_STRLEN];

		drop(d, DROP_SPOOFED_SOURCE, j, NULL);
		log_ratelimited(log_info, "job %s: dropped a packet from %s, not its VIP",
				j->netns, vip_fmt(&pi.src, s));
		return 0;
	}
	/* No route, or its node declared dead (route.h): an ICMP error, not silence. */
	re = route_lookup(d->routes, &pi.dst);
	if (!re || re->unreachable) {
		drop(d, DROP_NO_ROUTE, j, NULL);
		unreachable(j, ip, iplen, &pi);
		return 0;
	}
	node = re->node;
	if (strcmp(node, d->cfg.node) == 0) {
		struct job *to = job_by_vip(d, &pi.dst);

		if (!to) {
			drop(d, DROP_NO_ROUTE, j, NULL);
			unreachable(j, ip, iplen, &pi);
			return 0;
		}
		if (job_deliver(to, flags, pkt, len) == 0)
			stats_add(&d->stats, STAT_LOCAL_SWITCHED, 1);
		return 0;
	}
	p = peer_find(d, node);
	if (!p || !peer_can_send(p)) {
		drop(d, DROP_NO_LINK, j, p);
		return 0;
	}
	capture_packet(d->capture, CAPTURE_TO_PEER, p->name, ip, iplen, iplen);
	err = peer_send_data(p, flags | (just_moved(d, &pi.src) ? PEER_SEND_ORDERED : 0), pkt,
			     len);
	if (err == -ENOBUFS) {
		drop(d, DROP_QUEUE_FULL, j, p);
		return -ENOBUFS;
	}
	if (err < 0) {
		drop(d, DROP_NO_LINK, j, p);
		return 0;
	}
	count_tx(d, p, iplen);
	return 0;
}

void forward_pointer_add(struct daemon *d, const struct vip *v)
{
	struct pointer *pointers = d->forward->pointers;
	size_t npointers = d->forward->npointers;
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
			d->forward->npointers++;
	}
	pointers[i].vip = *v;
	pointers[i].until_ms = until;
}

static bool pointer_live(struct daemon *d, const struct vip *v)
{
	const struct forward *f = d->forward;

	for (size_t i = 0; i < f->npointers; i++)
		if (vip_equal(&f->pointers[i].vip, v))
			return f->pointers[i].until_ms > loop_now(d->loop);
	return false;
}

/* Sends a FRAME_DATA payload on to node, marked FRAME_F_FORWARDED. */
static int send_on(struct daemon *d, const char *node, uint32_t flags, const uint8_t *pkt,
		   size_t len, const uint8_t *ip, size_t iplen)
{
	struct peer *p = peer_find(d, node);
	int err;

	if (!p || !peer_can_send(p)) {
		drop(d, DROP_NO_LINK, NULL, p);
		return -ENOTCONN;
	}
	capture_packet(d->capture, CAPTURE_TO_PEER, p->name, ip, iplen, iplen);
	err = peer_send_data(p, (uint32_t)flags | FRAME_F_FORWARDED, pkt, len);
	if (err < 0) {
		drop(d, err == -ENOBUFS ? DROP_QUEUE_FULL : DROP_NO_LINK, NULL, p);
		return err;
	}
	count_tx(d, p, iplen);
	stats_add(&d->stats, STAT_FORWARDED, 1);
	return 0;
}

/* A hand-over: on the control link, so that the HANDED_OVER that follows it on that
 * link arrives after every packet. */
int forward_to_node(struct daemon *d, const char *node, const uint8_t *pkt, size_t len)
{
	return send_on(d, node, PEER_SEND_ORDERED, pkt, len, pkt, len);
}

/* A peer speaks only for its own jobs: a DATA frame's source must be a VIP routed to it.
 * The one exception is what a VIP's old node sends on to the VIP's new host (held
 * packets, stragglers: FRAME_F_FORWARDED, from others' sources), for the job here that
 * came from that node, within its grace. */
static bool source_ok(struct daemon *d, struct peer *p, uint16_t flags,
		      const struct packet_info *pi)
{
	const struct route_entry *e = route_lookup(d->routes, &pi->src);
	struct job *to;

	if (e && strcmp(e->node, p->name) == 0)
		return true;
	if (!(flags & FRAME_F_FORWARDED))
		return false;
	to = job_by_vip(d, &pi->dst);
	return to && strcmp(to->moved_from, p->name) == 0 &&
	       loop_now(d->loop) < to->moved_until_ms;
}

void forward_from_peer(struct peer *p, uint16_t flags, const uint8_t *pkt, size_t len)
{
	struct daemon *d = p->d;
	struct packet_info pi;
	const uint8_t *ip;
	const char *node;
	struct job *to;
	size_t iplen;

	if (!ip_part(flags, pkt, len, &ip, &iplen)) {
		drop(d, DROP_MALFORMED, NULL, p);
		return;
	}
	count_rx(d, p, iplen);
	capture_packet(d->capture, CAPTURE_FROM_PEER, p->name, ip, iplen, iplen);
	if (packet_parse(ip, iplen, &pi) < 0) {
		drop(d, DROP_MALFORMED, NULL, p);
		return;
	}
	if (!source_ok(d, p, flags, &pi)) {
		char s[VIP_STRLEN];

		drop(d, DROP_SPOOFED_SOURCE_PEER, NULL, p);
		log_ratelimited(log_info, "peer %s: dropped DATA from %s, not a VIP routed to it",
				p->name, vip_fmt(&pi.src, s));
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
		send_on(d, node, flags, pkt, len, ip, iplen);
		return;
	}
	drop(d, DROP_NOT_LOCAL, NULL, p);
}

static int from_job(struct job *j, uint16_t flags, uint8_t *pkt, size_t len, void *arg)
{
	return forward_from_job(j, flags, pkt, len);
}

int forward_init(struct daemon *d)
{
	static const struct job_events ev = { .packet = from_job };

	d->forward = calloc(1, sizeof(*d->forward));
	if (!d->forward)
		return -ENOMEM;
	job_set_events(d, &ev);
	return 0;
}

void forward_fini(struct daemon *d)
{
	free(d->forward);
	d->forward = NULL;
}
