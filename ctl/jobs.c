/* vnetctl jobs: the job namespaces attached to this node. */
#include "ctl/vnetctl.h"

static const struct client_doc doc = {
	.name = "jobs",
	.synopsis = "jobs",
	.summary =
		"Lists the jobs attached to this node's tunvnetd, one line per job network\n"
		"namespace:\n"
		"\n"
		"NETNS    the namespace, as it was given to attach (a name under /run/netns\n"
		"         or a path)\n"
		"IFNAME   the TUN device inside it\n"
		"VIPS     the VIPs on that device, comma-separated\n"
		"STATE    active; suspended (incoming packets are held, see 'vnetctl\n"
		"         suspend'); or standby (prepared for a restore, not announced, see\n"
		"         'vnetctl attach --standby'); or broken (its TUN was deleted or its\n"
		"         namespace removed behind tunvnetd's back: detach it)\n"
		"RX_PKTS  packets the daemon read from the job's TUN (sent by the job)\n"
		"TX_PKTS  packets the daemon wrote into it (received by the job)\n"
		"PROBLEM  why it is broken, or what is wrong with it (\"split\": part of the\n"
		"         job moved away and part is still suspended here); empty if none\n"
		"\n"
		"With --json, prints the daemon's result as it is: an array of objects with\n"
		"members netns, ifname, vips (an array), state, problem, held, rx_packets,\n"
		"tx_packets, rx_bytes and tx_bytes.",
	.exit_ok = "the list was printed (it may be empty)",
	.example = "$ vnetctl jobs\n"
		   "NETNS              IFNAME  VIPS                      STATE    RX_PKTS  "
		   "TX_PKTS\n"
		   "job1               tv0     198.19.1.10,fd00:19:1::a  active      1204     "
		   "1187\n"
		   "/proc/4242/ns/net  tv0     198.19.1.11               standby        0        "
		   "0",
};

static const struct table_col cols[] = {
	{ "NETNS", "netns", TABLE_JSON, false },
	{ "IFNAME", "ifname", TABLE_JSON, false },
	{ "VIPS", "vips", TABLE_LIST, false },
	{ "STATE", "state", TABLE_JSON, false },
	{ "RX_PKTS", "rx_packets", TABLE_JSON, true },
	{ "TX_PKTS", "tx_packets", TABLE_JSON, true },
	{ "PROBLEM", "problem", TABLE_JSON, false },
};

static int print_jobs(json_t *res)
{
	return table_rows(res, cols, sizeof(cols) / sizeof(cols[0]), "the job list");
}

int cmd_jobs(int argc, char **argv, const struct ctl_opts *o)
{
	return client_run(argc, argv, o, &doc, CTL_CMD_JOBS, print_jobs);
}
