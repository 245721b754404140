/* The daemon's counters. One global instance, bumped on the data path without locks
 * (the daemon is one thread). Names are the JSON keys of `vnetctl stats --json`. */
#ifndef TUNVNET_STATS_H
#define TUNVNET_STATS_H

#include <stdint.h>

#include <jansson.h>

enum drop_reason {
	DROP_SPOOFED_SOURCE, /* a job sent a packet whose source is not one of its VIPs */
	DROP_NO_ROUTE,       /* destination VIP unknown (an ICMP unreachable may be sent) */
	DROP_NO_LINK,        /* route to a node we have no authenticated link to */
	DROP_QUEUE_FULL,     /* the link to the peer is backed up */
	DROP_MALFORMED,      /* not a valid IPv4 / IPv6 packet */
	DROP_NOT_LOCAL,      /* a peer sent us a packet for a VIP we do not host */
	DROP_NON_UNICAST,    /* multicast / broadcast / link-local traffic from a job */
	DROP_TUN_WRITE,      /* the job's TUN refused the write */
	DROP_SUSPENDED,      /* sent by a suspended job (its dying kernel state) */
	DROP_HOLD_FULL,      /* the hold queue of a suspended / standby job is full */
	DROP_BAD_VNET_HDR,   /* a peer's super-packet header is malformed or unsafe to cut */
	DROP_REASON_MAX
};

enum stat_counter {
	STAT_TUN_RX_PACKETS, STAT_TUN_RX_BYTES, /* read from jobs' TUNs */
	STAT_TUN_TX_PACKETS, STAT_TUN_TX_BYTES, /* written into jobs' TUNs */
	STAT_PEER_TX_PACKETS, STAT_PEER_TX_BYTES, /* data frames queued to peers */
	STAT_PEER_RX_PACKETS, STAT_PEER_RX_BYTES, /* data frames received from peers */
	STAT_LOCAL_SWITCHED,                  /* packets between jobs on this node */
	STAT_ICMP_UNREACH_SENT,
	STAT_HANDSHAKE_REFUSED,               /* peers that failed the cluster-key proof */
	STAT_PROTOCOL_ERRORS,                 /* links closed for a bad frame */
	STAT_LINK_UPS, STAT_LINK_DOWNS,
	STAT_HELD_PACKETS,                    /* packets held for suspended / standby jobs */
	STAT_FORWARDED,                       /* sent on by a forwarding pointer or hand-over */
	STAT_METRICS_EVICTED,                 /* idle metrics connections closed for a new one */
	STAT_METRICS_REFUSED,                 /* metrics connections refused: every slot busy */
	STAT_COUNTER_MAX
};

struct stats {
	uint64_t drops[DROP_REASON_MAX];
	uint64_t c[STAT_COUNTER_MAX];
};

extern struct stats stats;

struct daemon;
struct job;
struct peer;

void events_drop(enum drop_reason r); /* tunvnet/events.h: the event ring aggregates */

static inline void stats_drop(enum drop_reason r)
{
	stats.drops[r]++;
	events_drop(r);
}

/* A drop charged also to the job and / or peer it concerns (either may be NULL). */
void stats_drop_at(enum drop_reason r, struct job *j, struct peer *p);

static inline void stats_add(enum stat_counter c, uint64_t n)
{
	stats.c[c] += n;
}

const char *stats_drop_name(enum drop_reason r);   /* "spoofed_source", ... */
const char *stats_counter_name(enum stat_counter c); /* "tun_rx_packets", ... */

/* The stats command's result (ctlmsg.h), also what /metrics exports: {"node",
 * "counters": {name: n}, "drops": {reason: n}, "jobs": {netns: {...}}, "peers":
 * {node: {...}}, "substrates": {name: {...}}} (per object: packets, bytes, drops by
 * reason). A new reference, NULL when out of memory. */
json_t *stats_result_json(struct daemon *d);

#endif
