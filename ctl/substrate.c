/* vnetctl substrate: which substrate carries data to a peer, or to every peer. */
#include "ctl/vnetctl.h"

#include <string.h>

#include "tunvnet/msg.h"

static const struct client_doc doc = {
	.name = "substrate",
	.synopsis = "substrate [PEER] auto|tcp|udp|verbs|default",
	.summary =
		"Sets the substrate policy live: for PEER only, or without PEER for every peer\n"
		"that has no policy of its own (the daemon's policy, [substrate] policy in\n"
		"tunvnet.conf(5)). auto lets the chooser pick by its rule (verbs, then the\n"
		"faster of udp and tcp unless udp loses probes or is blocked; failover within\n"
		"a second); tcp, udp and verbs pin that substrate while its data link is up\n"
		"(else tcp, else the control link). default (with PEER) drops the peer's own\n"
		"policy: the config's for it, or the daemon's, applies again. A switch that\n"
		"is not a failover drains the old link first: no packet of a flow overtakes\n"
		"another. The setting lasts until the daemon restarts; `vnetctl peers` shows\n"
		"the policy and the substrate in use.\n"
		"\n"
		"With --json, prints the daemon's result: peer (absent without PEER), policy\n"
		"and in_use.",
	.exit_ok = "the policy was set",
	.exit_err = "no daemon, or PEER is not a peer the daemon knows",
	.example = "$ vnetctl substrate n2 udp\n"
		   "n2: policy udp, data on udp",
	.positional = true,
};

struct args {
	const char *pos[2];
	int n;
};

static int on_arg(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;

	if (c != 1)
		return -1;
	if (a->n == 2)
		return client_usage(&doc, "too many arguments");
	a->pos[a->n++] = arg;
	return -1;
}

int cmd_substrate(int argc, char **argv, const struct ctl_opts *global)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_SUBSTRATE };
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	struct ctl_opts o = *global;
	struct args a = { { NULL, NULL }, 0 };
	const char *policy, *peer = NULL;
	json_t *res;
	int r;

	r = client_args(argc, argv, &o, &doc, none, on_arg, &a);
	if (r >= 0)
		return r;
	if (a.n == 0)
		return client_usage(&doc, "substrate needs a policy");
	policy = a.pos[a.n - 1];
	if (a.n == 2)
		peer = a.pos[0];
	if (strcmp(policy, "auto") && strcmp(policy, "tcp") && strcmp(policy, "udp") &&
	    strcmp(policy, "verbs") && strcmp(policy, "default"))
		return client_usage(&doc, "\"%s\" is not auto, tcp, udp, verbs or default",
				    policy);
	if (peer && !msg_name_valid(peer))
		return client_usage(&doc, "\"%s\" is not a node name", peer);
	if (!peer && !strcmp(policy, "default"))
		return client_usage(&doc, "default needs a PEER");
	snprintf(req.policy, sizeof(req.policy), "%s", policy);
	if (peer)
		snprintf(req.peer, sizeof(req.peer), "%s", peer);
	r = client_call(&o, &req, &res);
	if (r)
		return r;
	if (o.json) {
		r = client_print_json(res);
	} else if (peer) {
		const json_t *u = json_object_get(res, "in_use");

		printf("%s: policy %s, data on %s\n", peer, policy,
		       json_is_string(u) ? json_string_value(u) : "?");
	} else {
		printf("policy %s for every peer without one of its own\n", policy);
	}
	json_decref(res);
	return r;
}
