/* The daemon's counters: numbers only. One instance per daemon (struct daemon's stats),
 * bumped on the data path without locks (a daemon is one thread). Names are the JSON keys
 * of `vnetctl stats --json`; the JSON itself is made above (command.c).
 *
 * Counters know nothing of who watches them: a drop is reported upward through the hook
 * registered with stats_set_events() (the event bus aggregates drops into events). */
#ifndef TUNVNET_STATS_H
#define TUNVNET_STATS_H

#include <stddef.h>
#include <stdint.h>

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
	DROP_SPOOFED_SOURCE_PEER, /* a peer sent DATA whose source is not a VIP routed to it */
	DROP_BAD_VNET_HDR,   /* a peer's super-packet header is malformed or unsafe to cut */
	DROP_STANDBY,        /* sent by a job on standby (restored, not activated yet) */
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
	STAT_ROUTES_NOT_OWN,                  /* route entries a peer sent for another node */
	STAT_ROUTES_EPOCH_JUMP,               /* ... with an epoch more than one ahead */
	STAT_METRICS_EVICTED,                 /* idle metrics connections closed for a new one */
	STAT_METRICS_REFUSED,                 /* metrics connections refused: every slot busy */
	STAT_JOB_BROKEN,                      /* jobs found broken: TUN or namespace gone */
	STAT_JOB_REPAIRS,                     /* addresses / routes of a job's TUN put back */
	STAT_COUNTER_MAX
};

/* Limits ([limits] in the config) reached: what was refused or evicted, by limit. Each is
 * in `vnetctl stats --json` under "limits", in Prometheus as tunvnet_limit_total{limit=}
 * and an event "limit" (aggregated per second, like drops). */
enum limit_reason {
	LIMIT_ROUTES,          /* route entries refused: the table holds `routes` */
	LIMIT_ROUTES_PER_PEER, /* route entries refused: the peer has routes_per_peer */
	LIMIT_PEERS,           /* a peer (hint or link) refused: `peers` known */
	LIMIT_PENDING,         /* a connection closed: pending_handshakes in all */
	LIMIT_PENDING_PER_ADDRESS, /* ... pending_per_address from its address */
	LIMIT_CONTROL_REFUSED, /* a control client refused: every slot busy, none idle */
	LIMIT_CONTROL_EVICTED, /* the oldest idle control client closed for a new one */
	LIMIT_CONTROL_IDLE,    /* a control client closed after control_idle_timeout */
	LIMIT_FOLLOWERS,       /* `events -f` refused: event_followers following */
	LIMIT_CAPTURES,        /* a capture refused: captures running */
	LIMIT_CTL_QUEUE,       /* a control frame refused by a link's queue: link reset */
	LIMIT_REASON_MAX
};

/* Who hears of each drop (registered from above; drop may be NULL). Called on the data
 * path: it must be cheap. */
struct stats_events {
	void (*drop)(enum drop_reason r, void *arg);
	void (*limit)(enum limit_reason r, uint64_t n, void *arg);
	void *arg;
};

struct stats {
	uint64_t drops[DROP_REASON_MAX];
	uint64_t c[STAT_COUNTER_MAX];
	uint64_t limits[LIMIT_REASON_MAX];
	struct stats_events ev;
};

/* Registers the drop hook (a copy of *ev is kept; NULL unregisters). */
void stats_set_events(struct stats *s, const struct stats_events *ev);

static inline void stats_drop(struct stats *s, enum drop_reason r)
{
	s->drops[r]++;
	if (s->ev.drop)
		s->ev.drop(r, s->ev.arg);
}

/* A drop charged also to the counter arrays (DROP_REASON_MAX long) of the job and / or
 * peer it concerns (struct job's drops, struct peer's drops_by; either may be NULL). */
static inline void stats_drop_at(struct stats *s, enum drop_reason r, uint64_t *job_drops,
				 uint64_t *peer_drops)
{
	stats_drop(s, r);
	if (job_drops)
		job_drops[r]++;
	if (peer_drops)
		peer_drops[r]++;
}

static inline void stats_add(struct stats *s, enum stat_counter c, uint64_t n)
{
	s->c[c] += n;
}

/* n refusals (or evictions) because limit r was reached. */
static inline void stats_limit(struct stats *s, enum limit_reason r, uint64_t n)
{
	s->limits[r] += n;
	if (s->ev.limit)
		s->ev.limit(r, n, s->ev.arg);
}

const char *stats_drop_name(enum drop_reason r);   /* "spoofed_source", ... */
const char *stats_counter_name(enum stat_counter c); /* "tun_rx_packets", ... */
const char *stats_limit_name(enum limit_reason r);   /* "routes", ... */

#endif
