/* vnetctl suspend, resume, activate and migrate: the steps of moving a job's VIP from
 * one node to another, in the order a checkpoint/restore tool drives them.
 *
 *   node A: suspend --vip IP      hold the VIP's incoming packets (nothing reaches the
 *                                 dying job, so its kernel never answers with a RST)
 *   node B: attach --standby ...  TUN, address and routes ready, nothing announced
 *           (restore the job)
 *   node B: activate --vip IP     announce with a higher epoch; A hands over what it held
 *
 * resume is the way back on A when the move is called off; migrate --to NODE runs the
 * whole hand-over from A in one request. Each acts on a whole job (all its VIPs), named
 * by any of its VIPs or by its namespace, and each reply lists every VIP it touched. */
#include "ctl/vnetctl.h"

#include <string.h>

#include "tunvnet/msg.h"

enum { OPT_VIP = 256, OPT_TO, OPT_NETNS };

static const struct option vip_opts[] = {
	{ "vip", required_argument, NULL, OPT_VIP },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ NULL, 0, NULL, 0 },
};

static const struct option migrate_opts[] = {
	{ "vip", required_argument, NULL, OPT_VIP },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "to", required_argument, NULL, OPT_TO },
	{ NULL, 0, NULL, 0 },
};

#define JOB_OPTS "--vip IP | --netns NAME  the job: any of its VIPs, or its namespace; every\n" \
		 "                      VIP of the job moves with it\n"

static const struct client_doc suspend_doc = {
	.name = "suspend",
	.synopsis = "suspend --vip IP | --netns NAME",
	.summary =
		"Suspends a job hosted on this node (all its VIPs), the first step of a\n"
		"migration: from now on the daemon holds the packets that arrive for it in a\n"
		"bounded queue\n"
		"instead of writing them into the job's TUN, so that the job's kernel, about\n"
		"to be checkpointed, never answers a peer (with a RST, for instance). Packets\n"
		"the job sends still leave, except TCP RST and FIN, which are dropped. The\n"
		"route stays where it is.\n"
		"\n"
		"Then, typically: checkpoint the job, 'vnetctl attach --standby' on the target\n"
		"node, restore the job there and 'vnetctl activate' it: this node hands the\n"
		"held packets over to the new one. 'vnetctl resume' calls the move off.",
	.options = JOB_OPTS,
	.exit_ok = "the VIP is suspended: its incoming packets are held",
	.example = "$ vnetctl suspend --vip 198.19.1.10\n"
		   "suspended 198.19.1.10, fd00:19::a (job1): incoming packets are held",
};

static const struct client_doc resume_doc = {
	.name = "resume",
	.synopsis = "resume --vip IP | --netns NAME",
	.summary =
		"Resumes a suspended job on this node: the packets held since 'vnetctl\n"
		"suspend' are written into the job's TUN, in the order they came, and new\n"
		"ones go straight there again. This calls a migration off (the checkpoint\n"
		"failed, or the job is to stay).",
	.options = JOB_OPTS,
	.exit_ok = "the VIP is active again and its held packets were delivered",
	.example = "$ vnetctl resume --vip 198.19.1.10\n"
		   "resumed 198.19.1.10, fd00:19::a: 12 held packets delivered",
};

static const struct client_doc activate_doc = {
	.name = "activate",
	.synopsis = "activate --vip IP | --netns NAME",
	.summary =
		"Activates a job prepared on this node with 'vnetctl attach --standby' (once\n"
		"per VIP), once it has been restored into its namespace: the daemon announces\n"
		"every VIP of the job\n"
		"with an epoch higher than any it has seen, waits until every peer that is up\n"
		"has confirmed the new route, then answers. The node that hosted the VIP\n"
		"before sends the packets it held for it over to this node and keeps a\n"
		"forwarding pointer here for a grace period, so packets in flight arrive too.\n"
		"\n"
		"Prints each VIP with its new epoch, the node that had it before and how long the\n"
		"cluster took to agree. If another node announced the same VIP at the same\n"
		"time and won, activate fails with CONFLICT.",
	.options = JOB_OPTS,
	.exit_ok = "the VIP is announced and every peer that is up has confirmed the route",
	.example = "$ vnetctl activate --vip 198.19.1.10\n"
		   "activated 198.19.1.10 (epoch 3), fd00:19::a (epoch 3) on n2 (was n1); every peer "
		   "confirmed in 2.1 ms",
};

static const struct client_doc migrate_doc = {
	.name = "migrate",
	.synopsis = "migrate --vip IP | --netns NAME --to NODE",
	.summary =
		"Moves a job (all its VIPs) hosted on this node to another daemon on this\n"
		"machine, in one request, make before\n"
		"break: the daemon suspends the VIP here, has NODE prepare it, lets NODE\n"
		"announce it with a higher epoch, hands the held packets over and keeps a\n"
		"forwarding pointer for a grace period. This moves the address only: the job\n"
		"itself is moved by whoever checkpoints and restores it, and on NODE the VIP\n"
		"needs a namespace to land in.\n"
		"\n"
		"Prints the old and the new node, each VIP with its new epoch and how long\n"
		"the hand-over took.",
	.options = JOB_OPTS
		   "--to NODE             the node to move it to (a peer whose link is up)\n",
	.exit_ok = "the VIP is hosted by NODE",
	.example = "$ vnetctl migrate --vip 198.19.1.10 --to n2\n"
		   "migrated 198.19.1.10 (epoch 3), fd00:19::a (epoch 3) from n1 to n2 in 35 ms",
};

struct args {
	const struct client_doc *doc;
	const char *vip, *to, *netns;
};

static int on_opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;
	const char **slot = c == OPT_VIP ? &a->vip : c == OPT_TO ? &a->to : &a->netns;

	if (c != OPT_VIP && c != OPT_TO && c != OPT_NETNS)
		return client_usage(a->doc, "unexpected option");
	if (*slot)
		return client_usage(a->doc, "option '%s' given twice",
				    c == OPT_VIP ? "--vip" : c == OPT_TO ? "--to" : "--netns");
	*slot = arg;
	return -1;
}

/* s, made safe for the terminal; "-" for anything that is not a non-empty string. */
static const char *str(const json_t *res, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(res, key);

	return table_safe(json_is_string(v) && *json_string_value(v) ? json_string_value(v) :
			  NULL, buf, size);
}

/* Milliseconds as a person reads them: "2.1 ms", "35 ms". */
static const char *ms(const json_t *v, char *buf, size_t size)
{
	double x = json_number_value(v);

	if (!json_is_number(v) || x < 0)
		snprintf(buf, size, "? ms");
	else if (x < 10 && json_is_real(v))
		snprintf(buf, size, "%.1f ms", x);
	else
		snprintf(buf, size, "%.0f ms", x);
	return buf;
}

/* The job's VIPs from "vips" ([{vip, epoch}]): "A, B" or with epochs "A (epoch 3), B
 * (epoch 3)"; the single "vip" of an older daemon otherwise. */
static const char *vips_of(const json_t *res, bool epochs, char *buf, size_t size)
{
	const json_t *vips = json_object_get(res, "vips"), *e;
	char vb[VIP_STRLEN + 8];
	size_t i, n = 0;

	buf[0] = '\0';
	if (!json_is_array(vips) || json_array_size(vips) == 0)
		return str(res, "vip", buf, size);
	json_array_foreach(vips, i, e) {
		const json_t *ep = json_object_get(e, "epoch");

		if (n >= size)
			break;
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
				      str(e, "vip", vb, sizeof(vb)));
		if (epochs && json_is_integer(ep) && n < size)
			n += (size_t)snprintf(buf + n, size - n, " (epoch %" JSON_INTEGER_FORMAT ")",
					      json_integer_value(ep));
	}
	return buf;
}

static int print_suspend(const json_t *res)
{
	char b2[PATH_MAX], vs[1024];

	if (!json_is_string(json_object_get(res, "vip")))
		return client_bad_result("suspend result lacks vip");
	printf("suspended %s (%s): incoming packets are held\n", vips_of(res, false, vs,
	       sizeof(vs)), str(res, "netns", b2, sizeof(b2)));
	return 0;
}

static int print_resume(const json_t *res)
{
	const json_t *n = json_object_get(res, "released");
	char vs[1024];

	if (!json_is_string(json_object_get(res, "vip")) || !json_is_integer(n))
		return client_bad_result("resume result lacks vip or released");
	printf("resumed %s: %" JSON_INTEGER_FORMAT " held packet%s delivered\n",
	       vips_of(res, false, vs, sizeof(vs)), json_integer_value(n),
	       json_integer_value(n) == 1 ? "" : "s");
	return 0;
}

/* The activate result says where the VIP was, not where it is now: that is this node,
 * whose name a daemon may add as "node"; otherwise ask it. */
static void this_node(const struct ctl_opts *o, const json_t *res, char *buf, size_t size)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_STATUS };
	json_t *st = NULL;

	buf[0] = '\0';
	if (json_is_string(json_object_get(res, "node"))) {
		str(res, "node", buf, size);
		return;
	}
	/* a failure here costs only the name: the activation itself has succeeded */
	if (client_call(o, &req, &st) == 0 && json_is_string(json_object_get(st, "node")))
		str(st, "node", buf, size);
	json_decref(st);
}

static int print_activate(const struct ctl_opts *o, const json_t *res)
{
	char node[64], prev[64], was[80], conv[32], vs[1024];
	const json_t *epoch = json_object_get(res, "epoch");
	const json_t *unconf = json_object_get(res, "unconfirmed");

	if (!json_is_string(json_object_get(res, "vip")) || !json_is_integer(epoch))
		return client_bad_result("activate result lacks vip or epoch");
	this_node(o, res, node, sizeof(node));
	str(res, "previous_node", prev, sizeof(prev));
	if (strcmp(prev, "-"))
		snprintf(was, sizeof(was), "was %s", prev);
	else
		snprintf(was, sizeof(was), "no node had it before");
	if (json_is_array(json_object_get(res, "vips")))
		printf("activated %s%s%s (%s); ", vips_of(res, true, vs, sizeof(vs)),
		       *node ? " on " : "", node, was);
	else
		printf("activated %s%s%s, epoch %" JSON_INTEGER_FORMAT " (%s); ",
		       str(res, "vip", vs, sizeof(vs)), *node ? " on " : "", node,
		       json_integer_value(epoch), was);
	ms(json_object_get(res, "converged_ms"), conv, sizeof(conv));
	if (json_is_array(unconf) && json_array_size(unconf) > 0) {
		/* Some peers never answered (down or slow): say which, do not claim all. */
		size_t i;
		const json_t *n;

		printf("no confirmation within %s from", conv);
		json_array_foreach(unconf, i, n)
			printf("%s %s", i ? "," : "", json_is_string(n) ? json_string_value(n) : "?");
		printf("\n");
	} else if (json_is_string(json_object_get(res, "route_store")) &&
		   strcmp(json_string_value(json_object_get(res, "route_store")), "mesh") != 0) {
		printf("the route store (%s) committed it in %s\n",
		       json_string_value(json_object_get(res, "route_store")), conv);
	} else {
		printf("every peer confirmed in %s\n", conv);
	}
	return 0;
}

static int print_migrate(const json_t *res)
{
	char from[64], to[64], took[32], vs[1024];
	const json_t *epoch = json_object_get(res, "epoch");

	if (!json_is_string(json_object_get(res, "vip")) || !json_is_integer(epoch))
		return client_bad_result("migrate result lacks vip or epoch");
	if (json_is_array(json_object_get(res, "vips")))
		printf("migrated %s from %s to %s in %s\n", vips_of(res, true, vs, sizeof(vs)),
		       str(res, "from", from, sizeof(from)), str(res, "to", to, sizeof(to)),
		       ms(json_object_get(res, "ms"), took, sizeof(took)));
	else
		printf("migrated %s from %s to %s (epoch %" JSON_INTEGER_FORMAT ") in %s\n",
		       str(res, "vip", vs, sizeof(vs)), str(res, "from", from, sizeof(from)),
		       str(res, "to", to, sizeof(to)), json_integer_value(epoch),
		       ms(json_object_get(res, "ms"), took, sizeof(took)));
	return 0;
}

static const struct client_doc *doc_of(enum ctl_cmd cmd)
{
	switch (cmd) {
	case CTL_CMD_SUSPEND:
		return &suspend_doc;
	case CTL_CMD_RESUME:
		return &resume_doc;
	case CTL_CMD_ACTIVATE:
		return &activate_doc;
	default:
		return &migrate_doc;
	}
}

static int run(int argc, char **argv, const struct ctl_opts *global, enum ctl_cmd cmd)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = cmd };
	struct args a = { .doc = doc_of(cmd) };
	struct ctl_opts o = *global;
	json_t *res;
	int r;

	r = client_args(argc, argv, &o, a.doc, cmd == CTL_CMD_MIGRATE ? migrate_opts : vip_opts,
			on_opt, &a);
	if (r >= 0)
		return r;
	if (!a.vip && !a.netns)
		return client_usage(a.doc, "%s needs --vip IP or --netns NAME", a.doc->name);
	if (a.vip && vip_parse(a.vip, &req.vip) < 0)
		return client_usage(a.doc, "--vip: \"%s\" is not an IPv4 or IPv6 address", a.vip);
	req.has_vip = a.vip != NULL;
	if (a.netns) {
		if (!*a.netns || strlen(a.netns) >= sizeof(req.netns))
			return client_usage(a.doc, "--netns: \"%s\" is not a namespace name",
					    a.netns);
		strcpy(req.netns, a.netns);
	}
	if (cmd == CTL_CMD_MIGRATE) {
		if (!a.to)
			return client_usage(a.doc, "migrate needs --to NODE");
		if (!msg_name_valid(a.to))
			return client_usage(a.doc, "--to: \"%s\" is not a node name (1 to %d of "
					    "A-Z a-z 0-9 . _ -)", a.to, NODE_NAME_MAX);
		strcpy(req.to, a.to);
	}

	r = client_call(&o, &req, &res);
	if (r)
		return r;
	if (o.json)
		r = client_print_json(res);
	else if (!json_is_object(res))
		r = client_bad_result("%s result is not an object", a.doc->name);
	else if (cmd == CTL_CMD_SUSPEND)
		r = print_suspend(res);
	else if (cmd == CTL_CMD_RESUME)
		r = print_resume(res);
	else if (cmd == CTL_CMD_ACTIVATE)
		r = print_activate(&o, res);
	else
		r = print_migrate(res);
	json_decref(res);
	return r;
}

int cmd_suspend(int argc, char **argv, const struct ctl_opts *o)
{
	return run(argc, argv, o, CTL_CMD_SUSPEND);
}

int cmd_resume(int argc, char **argv, const struct ctl_opts *o)
{
	return run(argc, argv, o, CTL_CMD_RESUME);
}

int cmd_activate(int argc, char **argv, const struct ctl_opts *o)
{
	return run(argc, argv, o, CTL_CMD_ACTIVATE);
}

int cmd_migrate(int argc, char **argv, const struct ctl_opts *o)
{
	return run(argc, argv, o, CTL_CMD_MIGRATE);
}
