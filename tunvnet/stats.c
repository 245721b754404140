#include "tunvnet/stats.h"

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
	[DROP_SPOOFED_SOURCE_PEER] = "spoofed_source_peer",
	[DROP_BAD_VNET_HDR] = "bad_vnet_hdr",
	[DROP_STANDBY] = "standby",
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
	[STAT_ROUTES_NOT_OWN] = "routes_not_own",
	[STAT_ROUTES_EPOCH_JUMP] = "routes_epoch_jump",
	[STAT_METRICS_EVICTED] = "metrics_evicted",
	[STAT_METRICS_REFUSED] = "metrics_refused",
	[STAT_JOB_BROKEN] = "jobs_broken",
	[STAT_JOB_REPAIRS] = "jobs_repaired",
};

static const char *const limit_names[LIMIT_REASON_MAX] = {
	[LIMIT_ROUTES] = "routes",
	[LIMIT_ROUTES_PER_PEER] = "routes_per_peer",
	[LIMIT_PEERS] = "peers",
	[LIMIT_PENDING] = "pending_handshakes",
	[LIMIT_PENDING_PER_ADDRESS] = "pending_per_address",
	[LIMIT_CONTROL_REFUSED] = "control_refused",
	[LIMIT_CONTROL_EVICTED] = "control_evicted",
	[LIMIT_CONTROL_IDLE] = "control_idle_closed",
	[LIMIT_FOLLOWERS] = "event_followers",
	[LIMIT_CAPTURES] = "captures",
	[LIMIT_CTL_QUEUE] = "control_queue_reset",
};

const char *stats_limit_name(enum limit_reason r)
{
	return (unsigned)r < LIMIT_REASON_MAX ? limit_names[r] : "?";
}

const char *stats_drop_name(enum drop_reason r)
{
	return (unsigned)r < DROP_REASON_MAX ? drop_names[r] : "?";
}

const char *stats_counter_name(enum stat_counter c)
{
	return (unsigned)c < STAT_COUNTER_MAX ? counter_names[c] : "?";
}

void stats_set_events(struct stats *s, const struct stats_events *ev)
{
	s->ev = ev ? *ev : (struct stats_events){ 0 };
}
