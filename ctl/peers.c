/* vnetctl peers: the other nodes this daemon knows and its link to each. */
#include "ctl/vnetctl.h"

#include <string.h>

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
		"SUBSTRATE  the substrate data goes on now (tcp, udp, verbs; the control\n"
		"           link's tcp while no data link is up)\n"
		"SINCE      how long the link has been in this state\n"
		"RTT        the last measured round-trip time, \"-\" when none yet\n"
		"TX, RX     data frames sent to and received from the peer\n"
		"DROPS      packets for the peer dropped here (link down or backed up)\n"
		"\n"
		"Then, for each peer up, its substrate policy and every substrate: in use,\n"
		"standby, connecting, down or unavailable; the last measurements (round-trip\n"
		"time, probes answered of those sent, loss, throughput estimate) and why it is\n"
		"or is not the one in use (\"udp: blocked, 0 of 12 probes answered\",\n"
		"\"verbs: not in this build on n1\").\n"
		"\n"
		"With --json, prints the daemon's result as it is: an array of objects with\n"
		"members node, address, state, substrate, since_s, rtt_ms, tx_frames,\n"
		"rx_frames, drops, links, policy, failovers and substrates (name, state, why,\n"
		"ups, downs, switches_to, probes, answered, loss_pct, rtt_us, rate_mbps; -1\n"
		"where nothing was measured).",
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

static long long num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static const char *text(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* Each peer's substrates under the table. */
static void print_substrates(const json_t *res)
{
	size_t i, j;
	const json_t *p, *s;

	json_array_foreach(res, i, p) {
		const json_t *subs = json_object_get(p, "substrates");

		if (!json_is_array(subs) || strcmp(text(p, "state"), "up") != 0)
			continue;
		printf("\n%s: policy %s, %lld failover%s\n", text(p, "node"), text(p, "policy"),
		       num(p, "failovers"), num(p, "failovers") == 1 ? "" : "s");
		json_array_foreach(subs, j, s) {
			char rtt[32] = "-", rate[32] = "-", loss[48] = "-";

			if (num(s, "rtt_us") >= 0)
				snprintf(rtt, sizeof(rtt), "%.2fms", (double)num(s, "rtt_us") / 1000);
			if (num(s, "rate_mbps") >= 0)
				snprintf(rate, sizeof(rate), "%lldMbit/s", num(s, "rate_mbps"));
			if (num(s, "loss_pct") >= 0)
				snprintf(loss, sizeof(loss), "%lld%% (%lld/%lld)", num(s, "loss_pct"),
					 num(s, "answered"), num(s, "probes"));
			printf("  %-6s %-12s rtt %-8s loss %-16s %-13s %s\n", text(s, "name"),
			       text(s, "state"), rtt, loss, rate, text(s, "why"));
		}
	}
}

static int print_peers(json_t *res)
{
	int r = table_rows(res, cols, sizeof(cols) / sizeof(cols[0]), "the peer list");

	if (r == 0)
		print_substrates(res);
	return r;
}

int cmd_peers(int argc, char **argv, const struct ctl_opts *o)
{
	return client_run(argc, argv, o, &doc, CTL_CMD_PEERS, print_peers);
}
