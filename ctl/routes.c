/* vnetctl routes: the route table, VIP -> node. */
#include "ctl/vnetctl.h"

static const struct client_doc doc = {
	.name = "routes",
	.synopsis = "routes",
	.summary =
		"Prints this node's route table: for every VIP in the cluster, the node that\n"
		"hosts it. One line per VIP:\n"
		"\n"
		"VIP    the virtual IP address\n"
		"NODE   the node that hosts it, where its packets are sent\n"
		"EPOCH  the announcement that put the route in place; a VIP that moves is\n"
		"       announced again with a higher epoch, and the highest epoch wins\n"
		"LOCAL  yes if the VIP belongs to a job attached to this node\n"
		"STATE  up, or unreachable: its node was declared dead (silent for the\n"
		"       configured peer_timeout); senders get ICMP host unreachable until it\n"
		"       comes back\n"
		"\n"
		"With --json, prints the daemon's result as it is: an array of objects with\n"
		"members vip, node, epoch, local and state.",
	.exit_ok = "the table was printed (it may be empty)",
	.example = "$ vnetctl routes\n"
		   "VIP           NODE  EPOCH  LOCAL  STATE\n"
		   "198.19.1.10   n1        1  yes    up\n"
		   "198.19.2.10   n2        3  no     up\n"
		   "198.19.3.10   n3        1  no     unreachable\n"
		   "fd00:19:1::a  n1        1  yes    up",
};

static const struct table_col cols[] = {
	{ "VIP", "vip", TABLE_JSON, false },
	{ "NODE", "node", TABLE_JSON, false },
	{ "EPOCH", "epoch", TABLE_JSON, true },
	{ "LOCAL", "local", TABLE_JSON, false },
	{ "STATE", "state", TABLE_JSON, false },
};

static int print_routes(json_t *res)
{
	return table_rows(res, cols, sizeof(cols) / sizeof(cols[0]), "the route table");
}

int cmd_routes(int argc, char **argv, const struct ctl_opts *o)
{
	return client_run(argc, argv, o, &doc, CTL_CMD_ROUTES, print_routes);
}
