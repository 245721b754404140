/* vnetctl routes: the route table, VIP -> node.
 *
 * The table may hold a million entries: the daemon streams it (tunvnet/routelist.h) in
 * lines of JSON arrays, ended by {"end": true, "count": n}. With --json they are printed
 * as they come, as one JSON array; the text table needs every row for its widths, so it
 * is printed at the end. */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#define STALL_MS   CLIENT_TIMEOUT_MS /* no byte from the daemon for this long: give up */
#define LINE_MAX_B (4u << 20)        /* one streamed line, at most */

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
		"members vip, node, epoch, local and state, written as the daemon streams the table\n"
		"(a table changing meanwhile may show an entry that changed twice or not at\n"
		"all).",
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

/* One streamed line: an array of routes (printed, or kept for the table) or the end. */
static int take_line(const char *p, size_t n, bool json, json_t *all, size_t *count,
		     bool *end)
{
	json_error_t jerr;
	json_t *v = json_loadb(p, n, 0, &jerr), *e;
	size_t i;
	int r = 0;

	if (json_is_object(v) && json_is_true(json_object_get(v, "end"))) {
		*end = true;
		json_decref(v);
		return 0;
	}
	if (!json_is_array(v)) {
		json_decref(v);
		return client_bad_result("a streamed line of routes is not a JSON array");
	}
	json_array_foreach(v, i, e) {
		if (json) {
			r = fputs(*count ? ",\n  " : "  ", stdout) == EOF ||
			    json_dumpf(e, stdout, JSON_COMPACT) < 0;
		} else {
			json_array_append(all, e);
		}
		(*count)++;
	}
	json_decref(v);
	return r ? client_bad_result("cannot write the routes") : 0;
}

int cmd_routes(int argc, char **argv, const struct ctl_opts *global)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_ROUTES, .stream = true };
	struct ctl_opts o = *global;
	struct client_stream s;
	json_t *res, *all = json_array();
	size_t count = 0;
	bool end = false;
	int r;

	r = client_args(argc, argv, &o, &doc, NULL, NULL, NULL);
	if (r >= 0)
		goto out;
	r = client_stream_open(o.socket, &req, NULL, 0, &res, &s);
	if (r)
		goto out;
	json_decref(res);
	if (o.json)
		fputs("[\n", stdout);
	while (!end && r == 0) {
		const char *p = (const char *)s.buf + s.off, *nl = memchr(p, '\n', s.len - s.off);
		struct pollfd pf = { .fd = s.fd, .events = POLLIN };

		if (nl) {
			r = take_line(p, (size_t)(nl - p), o.json, all, &count, &end);
			client_stream_consume(&s, (size_t)(nl - p) + 1);
			continue;
		}
		if (s.eof) {
			fprintf(stderr, "vnetctl: tunvnetd on %s closed the connection in the middle "
				"of the routes\n", o.socket);
			r = VNETCTL_EXIT_ERROR;
			break;
		}
		r = client_stream_read(&s, LINE_MAX_B);
		if (r > 0 || (r == 0 && s.eof)) {
			r = 0;
			continue;
		}
		if (r == -EAGAIN && poll(&pf, 1, STALL_MS) > 0) {
			r = 0;
			continue;
		}
		fprintf(stderr, "vnetctl: reading the routes from tunvnetd on %s: %s\n", o.socket,
			r == -EAGAIN ? "no data for 10 s" : strerror(-r));
		r = VNETCTL_EXIT_ERROR;
	}
	client_stream_close(&s);
	if (r == 0 && o.json)
		r = fputs(count ? "\n]\n" : "]\n", stdout) == EOF ? VNETCTL_EXIT_ERROR : 0;
	else if (r == 0)
		r = table_rows(all, cols, sizeof(cols) / sizeof(cols[0]), "the route table");
out:
	json_decref(all);
	return r;
}
