#include "tunvnet/stats.h"

#include "tunnel/tunnel.h"
#include "tunvnet/daemon.h"
#include "tunvnet/job.h"
#include "tunvnet/peer.h"

struct stats stats;

static const char *const drop_names[DROP_REASON_MAX] = {
	[DROP_SPOOFED_SOURCE] = "spoofed_source",
	[DROP_NO_ROUTE] = "no_route",
	[DROP_NO_LINK] = "no_link",
	[DROP_QUEUE_FULL] = "queue_full",
	[DROP_MALFORMED] = "malformed",
	[DROP_NOT_LOCAL] = "not_local",
	[DROP_NON_UNICAST] = "non_unicast",
	[DROP_TUN_WRITE] = "tun_write",
	[DROP_SUSPENDED] = "suspended",
	[DROP_HOLD_FULL] = "hold_full",
	[DROP_BAD_VNET_HDR] = "bad_vnet_hdr",
};

static const char *const counter_names[STAT_COUNTER_MAX] = {
	[STAT_TUN_RX_PACKETS] = "tun_rx_packets",
	[STAT_TUN_RX_BYTES] = "tun_rx_bytes",
	[STAT_TUN_TX_PACKETS] = "tun_tx_packets",
	[STAT_TUN_TX_BYTES] = "tun_tx_bytes",
	[STAT_PEER_TX_PACKETS] = "peer_tx_packets",
	[STAT_PEER_TX_BYTES] = "peer_tx_bytes",
	[STAT_PEER_RX_PACKETS] = "peer_rx_packets",
	[STAT_PEER_RX_BYTES] = "peer_rx_bytes",
	[STAT_LOCAL_SWITCHED] = "local_switched",
	[STAT_ICMP_UNREACH_SENT] = "icmp_unreach_sent",
	[STAT_HANDSHAKE_REFUSED] = "handshake_refused",
	[STAT_PROTOCOL_ERRORS] = "protocol_errors",
	[STAT_LINK_UPS] = "link_ups",
	[STAT_LINK_DOWNS] = "link_downs",
	[STAT_HELD_PACKETS] = "held_packets",
	[STAT_FORWARDED] = "forwarded",
	[STAT_METRICS_EVICTED] = "metrics_evicted",
	[STAT_METRICS_REFUSED] = "metrics_refused",
};

const char *stats_drop_name(enum drop_reason r)
{
	return (unsigned)r < DROP_REASON_MAX ? drop_names[r] : "?";
}

const char *stats_counter_name(enum stat_counter c)
{
	return (unsigned)c < STAT_COUNTER_MAX ? counter_names[c] : "?";
}

void stats_drop_at(enum drop_reason r, struct job *j, struct peer *p)
{
	stats_drop(r);
	if (j)
		j->drops[r]++;
	if (p)
		p->drops_by[r]++;
}

static json_t *drops_json(const uint64_t *drops)
{
	json_t *o = json_object();

	for (int i = 0; o && i < DROP_REASON_MAX; i++)
		json_object_set_new(o, stats_drop_name(i), json_integer((json_int_t)drops[i]));
	return o;
}

static void add_sum(uint64_t *sum, const uint64_t *v, int n)
{
	for (int i = 0; i < n; i++)
		sum[i] += v[i];
}

static void objects_json(struct daemon *d, json_t *into)
{
	json_t *jobs = json_object(), *peers = json_object(), *subs = json_object();
	uint64_t sum[7] = { 0 }, sum_drops[DROP_REASON_MAX] = { 0 };

	for (struct job *j = d->jobs; j; j = j->next)
		json_object_set_new(jobs, j->netns,
			json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
				  "state", job_state_name(j->state),
				  "rx_packets", (json_int_t)j->rx_packets,
				  "rx_bytes", (json_int_t)j->rx_bytes,
				  "tx_packets", (json_int_t)j->tx_packets,
				  "tx_bytes", (json_int_t)j->tx_bytes,
				  "held_packets", (json_int_t)j->nheld,
				  "drops", drops_json(j->drops)));
	for (struct peer *p = d->peers; p; p = p->next) {
		uint64_t v[7] = { p->tx_packets, p->tx_bytes, p->rx_packets, p->rx_bytes,
				  p->tx_frames, p->rx_frames, peer_is_up(p) };

		add_sum(sum, v, 7);
		add_sum(sum_drops, p->drops_by, DROP_REASON_MAX);
		json_object_set_new(peers, p->name,
			json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
				  "up", peer_is_up(p),
				  "tx_packets", (json_int_t)v[0], "tx_bytes", (json_int_t)v[1],
				  "rx_packets", (json_int_t)v[2], "rx_bytes", (json_int_t)v[3],
				  "tx_frames", (json_int_t)v[4], "rx_frames", (json_int_t)v[5],
				  "drops", drops_json(p->drops_by)));
	}
	/* One substrate per daemon today: its counters are those of all its peers. */
	json_object_set_new(subs, d->substrate ? d->substrate->name : "tcp",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			  "peers_up", (json_int_t)sum[6],
			  "tx_packets", (json_int_t)sum[0], "tx_bytes", (json_int_t)sum[1],
			  "rx_packets", (json_int_t)sum[2], "rx_bytes", (json_int_t)sum[3],
			  "tx_frames", (json_int_t)sum[4], "rx_frames", (json_int_t)sum[5],
			  "drops", drops_json(sum_drops)));
	json_object_set_new(into, "jobs", jobs);
	json_object_set_new(into, "peers", peers);
	json_object_set_new(into, "substrates", subs);
}

json_t *stats_result_json(struct daemon *d)
{
	json_t *c = json_object(), *o;

	for (int i = 0; c && i < STAT_COUNTER_MAX; i++)
		json_object_set_new(c, stats_counter_name(i), json_integer((json_int_t)stats.c[i]));
	o = json_pack("{s:s, s:o, s:o}", "node", d->cfg.node, "counters", c, "drops",
		      drops_json(stats.drops));
	if (o)
		objects_json(d, o);
	return o;
}
