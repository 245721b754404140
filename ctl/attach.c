/* vnetctl attach and detach: give a job's namespace a VIP, take it away again.
 *
 * Arguments are checked here before anything is sent, so a typo is a usage error that
 * names the bad value, not a round trip to the daemon. */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_NETNS = 256, OPT_VIP, OPT_FAMILY, OPT_STANDBY };

static const struct option attach_opts[] = {
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "vip", required_argument, NULL, OPT_VIP },
	{ "family", required_argument, NULL, OPT_FAMILY },
	{ "standby", no_argument, NULL, OPT_STANDBY },
	{ NULL, 0, NULL, 0 },
};

static const struct option detach_opts[] = {
	{ "vip", required_argument, NULL, OPT_VIP },
	{ NULL, 0, NULL, 0 },
};

static const struct client_doc attach_doc = {
	.name = "attach",
	.synopsis = "attach --netns NAME|PATH [--vip IP | --family 4|6] [--standby]",
	.summary =
		"Attaches a job's network namespace to this node's tunvnetd with a VIP. The\n"
		"daemon creates a TUN device in the namespace (or reuses the one it made for\n"
		"an earlier VIP of the same namespace), gives it the address, routes the\n"
		"VIP's family through it, and announces the VIP to the cluster, so that every\n"
		"node sends its packets here.\n"
		"\n"
		"Without --vip, the daemon takes the next free address from its VIP pool\n"
		"(--family says which pool; without it the daemon chooses). A VIP given with\n"
		"--vip must lie in this node's pool and must not be hosted anywhere else in\n"
		"the cluster: moving a VIP from another node is a migration, not an attach.\n"
		"\n"
		"With --standby, the namespace is prepared for a job about to be restored\n"
		"from a checkpoint: TUN device, address and routes are in place, but nothing\n"
		"is announced and no packet is written into the TUN until 'vnetctl activate\n"
		"--vip IP' after the restore. A VIP given with --vip may be hosted by another\n"
		"node meanwhile: that is the point (the job's old node, until activate).\n"
		"\n"
		"Prints the VIP, the namespace, the TUN device and the route's epoch.",
	.options =
		"--netns NAME|PATH     the job's network namespace: a name under /run/netns\n"
		"                      (as made by ip netns add), or a path to a namespace\n"
		"                      file such as /proc/PID/ns/net; a relative path is made\n"
		"                      absolute first\n"
		"--vip IP              the VIP to attach, an IPv4 or IPv6 address\n"
		"--family 4|6          take the VIP from the IPv4 or the IPv6 pool\n"
		"--standby             prepare the VIP for a restore, announce nothing\n",
	.exit_ok = "the VIP is attached and announced",
	.example = "$ ip netns add job1\n"
		   "$ vnetctl attach --netns job1 --vip 198.19.1.10\n"
		   "attached 198.19.1.10 to job1 (tv0), epoch 1\n"
		   "$ vnetctl attach --netns job1 --family 6\n"
		   "attached fd00:19:1::1 to job1 (tv0), epoch 1\n"
		   "$ vnetctl attach --netns restore1 --vip 198.19.1.10 --standby\n"
		   "prepared 198.19.1.10 in restore1 (tv0) on standby: nothing announced; run\n"
		   "'vnetctl activate --vip 198.19.1.10' after the restore",
};

static const struct client_doc detach_doc = {
	.name = "detach",
	.synopsis = "detach --vip IP",
	.summary =
		"Detaches a VIP from the job on this node that holds it: the daemon removes\n"
		"the address from the job's TUN device and withdraws the route, so the rest\n"
		"of the cluster stops sending its packets here. When the device has no VIP\n"
		"left, the daemon removes it from the namespace too. The namespace itself is\n"
		"left alone.",
	.options = "--vip IP              the VIP to detach (it must be hosted on this node)\n",
	.exit_ok = "the VIP is detached",
	.example = "$ vnetctl detach --vip 198.19.1.10\n"
		   "detached 198.19.1.10 (the job's TUN was removed: it held no other VIP)",
};

/* Option values as given; checked once all are known, so the order does not matter. */
struct args {
	const struct client_doc *doc;
	const char *netns, *vip, *family;
	bool standby;
};

static int on_opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;
	const char **slot;

	switch (c) {
	case OPT_STANDBY:
		a->standby = true;
		return -1;
	case OPT_NETNS:
		slot = &a->netns;
		break;
	case OPT_VIP:
		slot = &a->vip;
		break;
	case OPT_FAMILY:
		slot = &a->family;
		break;
	default:
		return client_usage(a->doc, "unexpected option");
	}
	if (*slot)
		return client_usage(a->doc, "option '%s' given twice", c == OPT_NETNS ? "--netns" :
				    c == OPT_VIP ? "--vip" : "--family");
	*slot = arg;
	return -1;
}

static int check_vip(const struct args *a, struct ctl_request *req)
{
	if (vip_parse(a->vip, &req->vip) < 0)
		return client_usage(a->doc, "--vip: \"%s\" is not an IPv4 or IPv6 address",
				    a->vip);
	req->has_vip = true;
	return -1;
}

/* The daemon opens the namespace from its own working directory, not ours. */
static int check_netns(const struct args *a, struct ctl_request *req)
{
	const char *rel = a->netns;
	char cwd[PATH_MAX];
	int n;

	if (!*a->netns)
		return client_usage(a->doc, "--netns: empty namespace name");
	if (!strchr(a->netns, '/') || a->netns[0] == '/') {
		n = snprintf(req->netns, sizeof(req->netns), "%s", a->netns);
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "vnetctl: getcwd: %s\n", strerror(errno));
			return VNETCTL_EXIT_ERROR;
		}
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		n = snprintf(req->netns, sizeof(req->netns), "%s%s%s", cwd,
			     strcmp(cwd, "/") ? "/" : "", rel);
	}
	if (n < 0 || (size_t)n >= sizeof(req->netns))
		return client_usage(a->doc, "--netns: \"%.64s...\" is longer than %d bytes",
				    a->netns, PATH_MAX - 1);
	return -1;
}

static int check_attach(const struct args *a, struct ctl_request *req)
{
	int r;

	if (!a->netns)
		return client_usage(a->doc, "attach needs --netns NAME|PATH");
	if (a->vip && a->family)
		return client_usage(a->doc, "--vip and --family exclude each other");
	req->standby = a->standby;
	r = check_netns(a, req);
	if (r >= 0)
		return r;
	if (a->vip)
		return check_vip(a, req);
	if (a->family) {
		if (strcmp(a->family, "4") && strcmp(a->family, "6"))
			return client_usage(a->doc, "--family: \"%s\" is not 4 or 6", a->family);
		req->family = a->family[0] - '0';
	}
	return -1;
}

static int print_attach(const json_t *res)
{
	const json_t *vip, *netns, *ifname, *epoch;
	char b1[VIP_STRLEN + 8], b2[PATH_MAX], b3[64];

	vip = json_object_get(res, "vip");
	netns = json_object_get(res, "netns");
	ifname = json_object_get(res, "ifname");
	epoch = json_object_get(res, "epoch");
	if (!json_is_string(vip) || !json_is_string(netns) || !json_is_string(ifname) ||
	    !json_is_integer(epoch))
		return client_bad_result("attach result lacks vip, netns, ifname or epoch");
	if (json_is_true(json_object_get(res, "standby"))) {
		table_safe(json_string_value(vip), b1, sizeof(b1));
		printf("prepared %s in %s (%s) on standby: nothing announced; run 'vnetctl "
		       "activate --vip %s' after the restore\n", b1,
		       table_safe(json_string_value(netns), b2, sizeof(b2)),
		       table_safe(json_string_value(ifname), b3, sizeof(b3)), b1);
		return 0;
	}
	printf("attached %s to %s (%s), epoch %" JSON_INTEGER_FORMAT "\n",
	       table_safe(json_string_value(vip), b1, sizeof(b1)),
	       table_safe(json_string_value(netns), b2, sizeof(b2)),
	       table_safe(json_string_value(ifname), b3, sizeof(b3)), json_integer_value(epoch));
	return 0;
}

static int print_detach(const json_t *res)
{
	const json_t *vip = json_object_get(res, "vip");
	const json_t *removed = json_object_get(res, "tun_removed");
	char buf[VIP_STRLEN + 8];

	if (!json_is_string(vip) || !json_is_boolean(removed))
		return client_bad_result("detach result lacks vip or tun_removed");
	const json_t *tun = json_object_get(res, "tun");
	char tb[256];

	/* "tun" says what happened to the TUN (a daemon may know better than removed) */
	if (json_is_string(tun))
		printf("detached %s (the job's TUN %s)\n",
		       table_safe(json_string_value(vip), buf, sizeof(buf)),
		       table_safe(json_string_value(tun), tb, sizeof(tb)));
	else
		printf("detached %s (%s)\n", table_safe(json_string_value(vip), buf, sizeof(buf)),
		       json_is_true(removed) ? "the job's TUN was removed: it held no other VIP" :
					       "the job keeps its TUN and its other VIPs");
	return 0;
}

static int run(int argc, char **argv, const struct ctl_opts *global, enum ctl_cmd cmd)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = cmd };
	struct args a = { .doc = cmd == CTL_CMD_ATTACH ? &attach_doc : &detach_doc };
	struct ctl_opts o = *global;
	json_t *res;
	int r;

	r = client_args(argc, argv, &o, a.doc, cmd == CTL_CMD_ATTACH ? attach_opts : detach_opts,
			on_opt, &a);
	if (r >= 0)
		return r;
	if (cmd == CTL_CMD_ATTACH)
		r = check_attach(&a, &req);
	else if (!a.vip)
		r = client_usage(a.doc, "detach needs --vip IP");
	else
		r = check_vip(&a, &req);
	if (r >= 0)
		return r;

	r = client_call(&o, &req, &res);
	if (r)
		return r;
	if (o.json)
		r = client_print_json(res);
	else if (!json_is_object(res))
		r = client_bad_result("%s result is not an object", ctlmsg_cmd_name(cmd));
	else
		r = cmd == CTL_CMD_ATTACH ? print_attach(res) : print_detach(res);
	json_decref(res);
	return r;
}

int cmd_attach(int argc, char **argv, const struct ctl_opts *o)
{
	return run(argc, argv, o, CTL_CMD_ATTACH);
}

int cmd_detach(int argc, char **argv, const struct ctl_opts *o)
{
	return run(argc, argv, o, CTL_CMD_DETACH);
}
