#include "tunvnet/command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/tunnel.h"
#include "tunvnet/addr.h"
#include "tunvnet/capture.h"
#include "tunvnet/events.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/job.h"
#include "tunvnet/move.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"
#include "tunvnet/routing.h"
#include "tunvnet/stats.h"
#include "tunvnet/tun.h"

#define POOL_SCAN_MAX 65536 /* addresses tried when picking a free VIP */

static const struct vip_prefix *pool_of(struct daemon *d, int family)
{
	if (family == AF_INET)
		return d->cfg.has_pool4 ? &d->cfg.pool4 : NULL;
	return d->cfg.has_pool6 ? &d->cfg.pool6 : NULL;
}

static bool vip_taken(const struct vip *v, void *arg)
{
	struct daemon *d = arg;

	return route_lookup(d->routes, v) || job_by_vip(d, v);
}

/* The first free host address of the pool (vip_prefix_first_free: never the network or
 * the broadcast address). */
static enum ctl_err pick_vip(struct daemon *d, int family, struct vip *out, char **msg)
{
	const struct vip_prefix *pool = pool_of(d, family);
	char pb[VIP_STRLEN + 4];

	if (!pool) {
		asprintf(msg, "this node has no IPv%d pool", family == AF_INET ? 4 : 6);
		return CTL_ERR_POOL_EXHAUSTED;
	}
	if (vip_prefix_first_free(pool, vip_taken, d, POOL_SCAN_MAX, out) == 0)
		return CTL_OK;
	asprintf(msg, "no free address in pool %s", vip_prefix_fmt(pool, pb));
	return CTL_ERR_POOL_EXHAUSTED;
}

static json_t *status_json(struct daemon *d)
{
	char a[ADDR_STRLEN], p4[VIP_STRLEN + 4] = "", p6[VIP_STRLEN + 4] = "";

	if (d->cfg.has_pool4)
		vip_prefix_fmt(&d->cfg.pool4, p4);
	if (d->cfg.has_pool6)
		vip_prefix_fmt(&d->cfg.pool6, p6);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:i, s:s}",
		"node", d->cfg.node, "listen", addr_fmt(&d->cfg.listen, a),
		"uptime_s", (json_int_t)((loop_now(d->loop) - d->start_ms) / 1000),
		"peers_up", (json_int_t)peer_count_up(d),
		"peers_known", (json_int_t)peer_count_known(d),
		"jobs", (json_int_t)job_count(d),
		"routes", (json_int_t)route_count(d->routes),
		"pool4", p4, "pool6", p6, "mtu", d->cfg.mtu, "substrate", d->substrate->name);
}

static json_t *stats_json(struct daemon *d)
{
	return stats_result_json(d); /* shared with the /metrics endpoint */
}

static char *netns_error(const struct ctl_request *rq, int err)
{
	if (err == -ENOENT)
		return ctlmsg_reply_err(CTL_ERR_NO_SUCH_NETNS, "no network namespace \"%s\"%s",
					rq->netns, strchr(rq->netns, '/') ? ""
					: " (looked in /run/netns)");
	if (err == -EINVAL)
		return ctlmsg_reply_err(CTL_ERR_NO_SUCH_NETNS,
					"\"%s\" is not a network namespace", rq->netns);
	if (err == -EPERM)
		return ctlmsg_reply_err(CTL_ERR_NO_SUCH_NETNS, "\"%s\" is the node's own network "
					"namespace (tunvnetd's or the host's); a job needs one "
					"of its own", rq->netns);
	return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot set up TUN in %s: %s",
				rq->netns, strerror(-err));
}

/* Prepares a restore: TUN, address and routes in the namespace, nothing announced. The
 * VIP may be hosted anywhere else, from any node's pool; never here already. */
static char *attach_standby(struct daemon *d, const struct ctl_request *rq,
			    const struct vip *v)
{
	struct job *j, *owner = job_by_vip(d, v);
	char vb[VIP_STRLEN];
	int err;

	vip_fmt(v, vb);
	err = job_open(d, rq->netns, &j);
	if (err < 0)
		return netns_error(rq, err);
	if (owner && owner != j)
		return ctlmsg_reply_err(CTL_ERR_VIP_IN_USE, "%s is already hosted by %s (netns %s)",
					vb, d->cfg.node, owner->netns);
	if (owner == j && j->state != JOB_STANDBY)
		return ctlmsg_reply_err(CTL_ERR_VIP_IN_USE, "%s is already %s on %s", vb,
					job_state_name(j->state), d->cfg.node);
	if (j->nvips == 0)
		j->state = JOB_STANDBY;
	if (j->state != JOB_STANDBY)
		return ctlmsg_reply_err(CTL_ERR_BAD_STATE, "netns %s holds %s VIPs here; a "
					"standby attach needs a namespace of its own", rq->netns,
					job_state_name(j->state));
	err = job_add_vip(j, v);
	if (err < 0) {
		job_drop_if_empty(j);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot add %s to %s: %s", vb, rq->netns,
					err == -E2BIG ? "too many VIPs on one job"
					: strerror(-err));
	}
	events_job(EVENT_JOB_STANDBY, vb, j->netns);
	return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:s, s:i, s:b}", "vip", vb, "netns",
					 j->netns, "ifname", TUN_IFNAME, "epoch", 0,
					 "standby", 1));
}

static char *attach(struct daemon *d, const struct ctl_request *rq)
{
	const struct route_entry *cur;
	struct vip v = rq->vip;
	char vb[VIP_STRLEN], pb[VIP_STRLEN + 4];
	struct job *j, *owner;
	uint64_t epoch;
	int err;

	if (!rq->has_vip) {
		char *msg = NULL, *reply;
		int fam = rq->family == 6 ? AF_INET6
			: rq->family == 4 || d->cfg.has_pool4 ? AF_INET : AF_INET6;
		enum ctl_err e = pick_vip(d, fam, &v, &msg);

		if (e != CTL_OK) {
			reply = ctlmsg_reply_err(e, "%s", msg ? msg : "pool exhausted");
			free(msg);
			return reply;
		}
	}
	vip_fmt(&v, vb);
	if (rq->standby)
		return attach_standby(d, rq, &v);
	if (!pool_of(d, v.family))
		return ctlmsg_reply_err(CTL_ERR_NOT_IN_POOL, "%s: this node has no IPv%d pool",
					vb, v.family == AF_INET ? 4 : 6);
	if (!vip_prefix_contains(pool_of(d, v.family), &v))
		return ctlmsg_reply_err(CTL_ERR_NOT_IN_POOL, "%s is outside this node's pool %s",
					vb, vip_prefix_fmt(pool_of(d, v.family), pb));
	if (!vip_prefix_is_host(pool_of(d, v.family), &v))
		return ctlmsg_reply_err(CTL_ERR_NOT_IN_POOL, "%s is the %s address of pool %s, "
					"never a job's", vb, v.family == AF_INET &&
					v.a[3] & 1 ? "broadcast" : "network",
					vip_prefix_fmt(pool_of(d, v.family), pb));
	cur = route_lookup(d->routes, &v);
	if (cur && strcmp(cur->node, d->cfg.node) != 0)
		return ctlmsg_reply_err(CTL_ERR_VIP_IN_USE, "%s is already hosted by %s", vb,
					cur->node);
	err = job_open(d, rq->netns, &j);
	if (err < 0)
		return netns_error(rq, err);
	owner = job_by_vip(d, &v);
	if (owner && owner != j)
		return ctlmsg_reply_err(CTL_ERR_VIP_IN_USE,
					"%s is already hosted by %s (netns %s)", vb,
					d->cfg.node, owner->netns);
	if (j->state == JOB_STANDBY) {
		job_drop_if_empty(j);
		return ctlmsg_reply_err(CTL_ERR_BAD_STATE, "netns %s is on standby here: "
					"activate it first, or attach with --standby", rq->netns);
	}
	if (owner == j && cur)
		return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:s, s:I}", "vip", vb,
					"netns", j->netns, "ifname", TUN_IFNAME,
					"epoch", (json_int_t)cur->epoch));
	err = job_add_vip(j, &v);
	if (err < 0) {
		job_drop_if_empty(j); /* a job made for this VIP alone goes again */
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot add %s to %s: %s", vb,
					rq->netns, err == -E2BIG ? "too many VIPs on one job"
					: strerror(-err));
	}
	err = routing_announce(d, &v, 1, &epoch, false);
	if (err < 0)
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot announce %s: %s", vb,
					strerror(-err));
	events_job(EVENT_JOB_ATTACH, vb, j->netns);
	return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:s, s:I}", "vip", vb, "netns", j->netns,
					 "ifname", TUN_IFNAME, "epoch", (json_int_t)epoch));
}

static char *detach(struct daemon *d, const struct ctl_request *rq)
{
	struct job *j = job_by_vip(d, &rq->vip);
	const char *node;
	char vb[VIP_STRLEN];
	bool gone;
	int err;

	vip_fmt(&rq->vip, vb);
	if (!j) {
		node = routing_node_of(d, &rq->vip);
		if (node)
			return ctlmsg_reply_err(CTL_ERR_NO_SUCH_VIP,
						"%s is hosted by %s, not here", vb, node);
		return ctlmsg_reply_err(CTL_ERR_NO_SUCH_VIP, "%s is not hosted on %s", vb,
					d->cfg.node);
	}
	routing_withdraw(d, &rq->vip);
	events_job(EVENT_JOB_DETACH, vb, j->netns);
	err = job_del_vip(j, &rq->vip, &gone);
	if (err < 0)
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "removing %s: %s", vb, strerror(-err));
	return ctlmsg_reply_ok(json_pack("{s:s, s:b}", "vip", vb, "tun_removed", gone));
}

char *command_run(struct daemon *d, uint64_t client_id, const char *line, size_t len,
		  bool *deferred)
{
	struct ctl_request rq;
	char why[512];
	enum ctl_err e;

	*deferred = false;
	e = ctlmsg_request_parse(line, len, &rq, why, sizeof(why));
	if (e != CTL_OK)
		return ctlmsg_reply_err(e, "%s", why);
	switch (rq.cmd) {
	case CTL_CMD_STATUS:
		return ctlmsg_reply_ok(status_json(d));
	case CTL_CMD_PEERS:
		return ctlmsg_reply_ok(peer_list_json(d));
	case CTL_CMD_ROUTES:
		return ctlmsg_reply_ok(routing_list_json(d));
	case CTL_CMD_JOBS:
		return ctlmsg_reply_ok(job_list_json(d));
	case CTL_CMD_ATTACH:
		return attach(d, &rq);
	case CTL_CMD_DETACH:
		return detach(d, &rq);
	case CTL_CMD_STATS:
		return ctlmsg_reply_ok(stats_json(d));
	case CTL_CMD_SUSPEND:
		return move_suspend(d, &rq);
	case CTL_CMD_RESUME:
		return move_resume(d, &rq);
	case CTL_CMD_ACTIVATE:
		return move_activate(d, client_id, &rq, deferred);
	case CTL_CMD_MIGRATE:
		return move_migrate(d, client_id, &rq, deferred);
	case CTL_CMD_CAPTURE:
		return capture_command(d, client_id, &rq);
	case CTL_CMD_EVENTS:
		return events_command(d, client_id, &rq);
	default:
		break;
	}
	return ctlmsg_reply_err(CTL_ERR_UNKNOWN_CMD, "unknown command");
}
