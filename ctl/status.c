/* vnetctl status: this node at a glance, one "key: value" line each. */
#include "ctl/vnetctl.h"

#include <string.h>

static const struct client_doc doc = {
	.name = "status",
	.synopsis = "status",
	.summary =
		"Prints a summary of the tunvnetd of this node: its node name, the underlay\n"
		"address it listens on for peers, how long it has been running, how many\n"
		"peers have an authenticated link out of how many it knows, the number of\n"
		"attached jobs and of routes in its table, the VIP pools it hands out\n"
		"addresses from (\"-\" for a family without a pool), the MTU of the jobs'\n"
		"TUN devices, and whatever else the daemon reports (such as its substrate).\n"
		"\n"
		"With --json, prints the daemon's result object as it is: members node,\n"
		"listen, uptime_s, peers_up, peers_known, jobs, routes, pool4, pool6, mtu\n"
		"and any others the daemon adds.",
	.exit_ok = "the status was printed",
	.example = "$ vnetctl status\n"
		   "node:    n1\n"
		   "listen:  198.18.0.1:7000\n"
		   "uptime:  3h02m\n"
		   "peers:   2 up, 3 known\n"
		   "jobs:    4\n"
		   "routes:  11\n"
		   "pool4:   198.19.1.0/24\n"
		   "pool6:   fd00:19:1::/64\n"
		   "mtu:     1500",
};

/* Members printed as they are, in this order; the rest are combined or reformatted. */
static const char *const plain[] = { "jobs", "routes", "pool4", "pool6", "mtu" };

static bool is_known(const char *key)
{
	static const char *const other[] = { "node", "listen", "uptime_s", "peers_up",
					     "peers_known" };
	size_t i;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strcmp(key, plain[i]) == 0)
			return true;
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (strcmp(key, other[i]) == 0)
			return true;
	return false;
}

static void row(struct table *t, const char *key, const json_t *v)
{
	table_add(t, "%s:", key);
	table_add_json(t, v);
}

static int print_status(json_t *res)
{
	json_t *up, *known, *v;
	struct table t;
	const char *key;
	size_t i;

	if (!json_is_object(res))
		return client_bad_result("status is not an object");
	if (table_init(&t, 2, NULL, 0) < 0)
		return table_output(&t);
	row(&t, "node", json_object_get(res, "node"));
	row(&t, "listen", json_object_get(res, "listen"));
	table_add(&t, "uptime:");
	table_add_duration(&t, json_object_get(res, "uptime_s"));
	up = json_object_get(res, "peers_up");
	known = json_object_get(res, "peers_known");
	table_add(&t, "peers:");
	if (json_is_integer(up) && json_is_integer(known))
		table_add(&t, "%" JSON_INTEGER_FORMAT " up, %" JSON_INTEGER_FORMAT " known",
			  json_integer_value(up), json_integer_value(known));
	else
		table_add(&t, "-");
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		row(&t, plain[i], json_object_get(res, plain[i]));
	/* what a newer daemon adds is shown too, rather than hidden until --json */
	json_object_foreach(res, key, v) {
		if (!is_known(key))
			row(&t, key, v);
	}
	return table_output(&t);
}

int cmd_status(int argc, char **argv, const struct ctl_opts *o)
{
	return client_run(argc, argv, o, &doc, CTL_CMD_STATUS, print_status);
}
