/* vnetctl stats: the daemon's counters, then its drops by reason; or all of it in the
 * Prometheus text format (tunvnet/prom.c, shared with the daemon). */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunvnet/prom.h"

enum { OPT_PROMETHEUS = 256 };

static const struct option opts[] = {
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ NULL, 0, NULL, 0 },
};

static const struct client_doc doc = {
	.name = "stats",
	.synopsis = "stats [--prometheus]",
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
		"node, counters (an object, name: count) and drops (reason: count), and, when\n"
		"the daemon keeps them, jobs, peers and substrates (objects keyed by name,\n"
		"each with its own counters; the text above shows the node's totals only).\n"
		"\n"
		"With --prometheus, prints the same in the Prometheus text exposition format,\n"
		"for a node exporter's textfile collector or a scrape through a pipe: each\n"
		"counter as tunvnet_<name>_total{node=\"...\"}, drops as\n"
		"tunvnet_drops_total{node=\"...\",reason=\"...\"}, and per job, peer and\n"
		"substrate as tunvnet_job_<name>_total{node=\"...\",job=\"...\"} (peer=,\n"
		"substrate=), with HELP and TYPE lines.",
	.options = "--prometheus          print the Prometheus text exposition format\n",
	.exit_ok = "the counters were printed",
	.example = "$ vnetctl stats --prometheus | head -3\n"
		   "# HELP tunvnet_tun_rx_packets_total Packets read from the jobs' TUN devices "
		   "(sent by the jobs).\n"
		   "# TYPE tunvnet_tun_rx_packets_total counter\n"
		   "tunvnet_tun_rx_packets_total{node=\"n1\"} 120433\n"
		   "$ vnetctl stats\n"
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

static int print_prometheus(const json_t *res)
{
	char *text = prom_format(res);

	if (!text) {
		if (errno == ENOMEM) {
			fprintf(stderr, "vnetctl: out of memory\n");
			return VNETCTL_EXIT_ERROR;
		}
		return client_bad_result("stats are not an object with \"counters\"");
	}
	fputs(text, stdout);
	free(text);
	return 0;
}

static int on_opt(int c, const char *arg, void *ctx)
{
	bool *prom = ctx;

	if (c != OPT_PROMETHEUS)
		return client_usage(&doc, "unexpected option");
	*prom = true;
	return -1;
}

int cmd_stats(int argc, char **argv, const struct ctl_opts *global)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_STATS };
	struct ctl_opts o = *global;
	bool prom = false;
	json_t *res;
	int r;

	r = client_args(argc, argv, &o, &doc, opts, on_opt, &prom);
	if (r >= 0)
		return r;
	if (prom && o.json)
		return client_usage(&doc, "--prometheus and --json exclude each other");
	r = client_call(&o, &req, &res);
	if (r)
		return r;
	if (prom)
		r = print_prometheus(res);
	else
		r = o.json ? client_print_json(res) : print_stats(res);
	json_decref(res);
	return r;
}
