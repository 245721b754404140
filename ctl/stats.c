/* vnetctl stats: the daemon's counters, then its drops by reason. */
#include "ctl/vnetctl.h"

static const struct client_doc doc = {
	.name = "stats",
	.synopsis = "stats",
	.summary =
		"Prints the packet counters of this node's tunvnetd since it started, one\n"
		"per line, then the packets it dropped, by reason. Counters include packets\n"
		"and bytes read from and written into the jobs' TUN devices (tun_rx_*,\n"
		"tun_tx_*), data frames sent to and received from peers (peer_tx_*,\n"
		"peer_rx_*), packets switched between jobs of this node, ICMP unreachables\n"
		"sent, refused handshakes, protocol errors and link ups and downs. Drop\n"
		"reasons include spoofed_source (a job sent from an address that is not its\n"
		"VIP), no_route, no_link, queue_full and malformed.\n"
		"\n"
		"With --json, prints the daemon's result as it is: an object with members\n"
		"node, counters (an object, name: count) and drops (reason: count).",
	.exit_ok = "the counters were printed",
	.example = "$ vnetctl stats\n"
		   "counters of n1:\n"
		   "  tun_rx_packets        120433\n"
		   "  tun_rx_bytes       163289016\n"
		   "  ...\n"
		   "drops by reason:\n"
		   "  spoofed_source             0\n"
		   "  no_route                   3\n"
		   "  ...",
};

static int section(struct table *t, const json_t *res, const char *key)
{
	const json_t *group = json_object_get(res, key), *v;
	const char *name;

	if (!json_is_object(group))
		return client_bad_result("stats have no \"%s\" object", key);
	json_object_foreach((json_t *)group, name, v) {
		table_add(t, "  %s", name);
		table_add_json(t, v);
	}
	return 0;
}

static int print_stats(json_t *res)
{
	const json_t *node;
	struct table t;
	char buf[64];

	if (!json_is_object(res))
		return client_bad_result("stats are not an object");
	node = json_object_get(res, "node");
	/* one table for both sections, so that all the numbers line up */
	table_init(&t, 2, NULL, 1u << 1);
	table_add_span(&t, "counters of %s:",
		       table_safe(json_string_value(node), buf, sizeof(buf)));
	if (section(&t, res, "counters"))
		goto bad;
	table_add_span(&t, "drops by reason:");
	if (section(&t, res, "drops"))
		goto bad;
	return table_output(&t);
bad:
	table_free(&t);
	return VNETCTL_EXIT_ERROR;
}

int cmd_stats(int argc, char **argv, const struct ctl_opts *o)
{
	return client_run(argc, argv, o, &doc, CTL_CMD_STATS, print_stats);
}
