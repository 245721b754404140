/* vnetctl peers: the other nodes this daemon knows and its link to each. */
#include "ctl/vnetctl.h"

static const struct client_doc doc = {
	.name = "peers",
	.synopsis = "peers",
	.summary =
		"Lists the other nodes of the cluster that this node's tunvnetd knows, from\n"
		"its configured seeds and from what its peers told it, one line each:\n"
		"\n"
		"NODE       the peer's node name (\"-\" for a seed not reached yet)\n"
		"ADDRESS    its underlay address and port\n"
		"STATE      the state of the link to it: up (authenticated, carrying\n"
		"           packets), connecting, backoff (waiting to try again) or down\n"
		"SUBSTRATE  the substrate the link uses (tcp, verbs)\n"
		"SINCE      how long the link has been in this state\n"
		"RTT        the last measured round-trip time, \"-\" when none yet\n"
		"TX, RX     data frames sent to and received from the peer\n"
		"DROPS      packets for the peer dropped here (link down or backed up)\n"
		"\n"
		"With --json, prints the daemon's result as it is: an array of objects with\n"
		"members node, address, state, substrate, since_s, rtt_ms, tx_frames,\n"
		"rx_frames and drops.",
	.exit_ok = "the list was printed (it may be empty)",
	.example = "$ vnetctl peers\n"
		   "NODE  ADDRESS          STATE       SUBSTRATE"
		   "  SINCE     RTT      TX      RX  DROPS\n"
		   "n2    198.18.0.2:7000  up          tcp      "
		   "  3h02m  0.21ms  184211  179934      0\n"
		   "n3    198.18.0.3:7000  connecting  -        "
		   "    12s       -       0       0     14",
};

static const struct table_col cols[] = {
	{ "NODE", "node", TABLE_JSON, false },
	{ "ADDRESS", "address", TABLE_JSON, false },
	{ "STATE", "state", TABLE_JSON, false },
	{ "SUBSTRATE", "substrate", TABLE_JSON, false },
	{ "SINCE", "since_s", TABLE_DURATION, true },
	{ "RTT", "rtt_ms", TABLE_MS, true },
	{ "TX", "tx_frames", TABLE_JSON, true },
	{ "RX", "rx_frames", TABLE_JSON, true },
	{ "DROPS", "drops", TABLE_JSON, true },
};

static int print_peers(json_t *res)
{
	return table_rows(res, cols, sizeof(cols) / sizeof(cols[0]), "the peer list");
}

int cmd_peers(int argc, char **argv, const struct ctl_opts *o)
{
	return client_run(argc, argv, o, &doc, CTL_CMD_PEERS, print_peers);
}
