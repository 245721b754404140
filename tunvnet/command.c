#include "tunvnet/command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "tunnel/tunnel.h"
#include "tunvnet/addr.h"
#include "tunvnet/capture.h"
#include "tunvnet/control.h"
#include "tunvnet/events.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/job.h"
#include "tunvnet/move.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"
#include "tunvnet/routelist.h"
#include "tunvnet/routing.h"
#include "tunvnet/stats.h"
#include "tunvnet/tun.h"
#include "tunvnet/tunlink.h"

#define POOL_SCAN_MAX 65536 /* addresses tried when picking a free VIP */
#define FOLLOW_BUFFER (1u << 20) /* a follower further behind than this is cut off */

struct command {
	size_t nfollowers;
};

typedef char *(*command_fn)(struct daemon *d, uint64_t client_id,
			    const struct ctl_request *rq, bool *deferred);

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

/* --- stats ----------------------------------------------------------------------------- */

static json_t *drops_json(const uint64_t *drops)
{
	json_t *o = json_object();

	for (int i = 0; o && i < DROP_REASON_MAX; i++)
		json_object_set_new(o, stats_drop_name(i), json_integer((json_int_t)drops[i]));
	return o;
}

/* What each [limits] bound refused or evicted so far. */
static json_t *limits_json(const uint64_t *n)
{
	json_t *o = json_object();

	for (int i = 0; o && i < LIMIT_REASON_MAX; i++)
		json_object_set_new(o, stats_limit_name(i), json_integer((json_int_t)n[i]));
	return o;
}

static void add_sum(uint64_t *sum, const uint64_t *v, int n)
{
	for (int i = 0; i < n; i++)
		sum[i] += v[i];
}

static void objects_json(struct daemon *d, json_t *into)
{
	json_t *jobs = json_object(), *peers = json_object(), *subs = json_object();
	uint64_t sum[7] = { 0 }, sum_drops[DROP_REASON_MAX] = { 0 };

	for (struct job *j = d->jobs; j; j = j->next)
		json_object_set_new(jobs, j->netns,
			json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
				  "state", job_state_name(j->state),
				  "rx_packets", (json_int_t)j->rx_packets,
				  "rx_bytes", (json_int_t)j->rx_bytes,
				  "tx_packets", (json_int_t)j->tx_packets,
				  "tx_bytes", (json_int_t)j->tx_bytes,
				  "held_packets", (json_int_t)j->nheld,
				  "drops", drops_json(j->drops)));
	for (struct peer *p = d->peers; p; p = p->next) {
		uint64_t v[7] = { p->tx_packets, p->tx_bytes, p->rx_packets, p->rx_bytes,
				  p->tx_frames, p->rx_frames, peer_is_up(p) };

		add_sum(sum, v, 7);
		add_sum(sum_drops, p->drops_by, DROP_REASON_MAX);
		json_object_set_new(peers, p->name,
			json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
				  "up", peer_is_up(p),
				  "tx_packets", (json_int_t)v[0], "tx_bytes", (json_int_t)v[1],
				  "rx_packets", (json_int_t)v[2], "rx_bytes", (json_int_t)v[3],
				  "tx_frames", (json_int_t)v[4], "rx_frames", (json_int_t)v[5],
				  "drops", drops_json(p->drops_by)));
	}
	/* Per substrate: its DATA, links and switches (peer.c); the frames and drops of
	 * all peers go with tcp, which carries every control link. */
	json_decref(subs);
	subs = d->pset ? peer_substrates_json(d) : json_object();
	{
		json_t *tcp = json_object_get(subs, "tcp");

		if (!tcp) {
			tcp = json_object();
			json_object_set_new(subs, "tcp", tcp);
		}
		json_object_set_new(tcp, "tx_frames", json_integer((json_int_t)sum[4]));
		json_object_set_new(tcp, "rx_frames", json_integer((json_int_t)sum[5]));
		json_object_set_new(tcp, "drops", drops_json(sum_drops));
	}
	json_object_set_new(into, "jobs", jobs);
	json_object_set_new(into, "peers", peers);
	json_object_set_new(into, "substrates", subs);
}

json_t *command_stats_json(struct daemon *d)
{
	json_t *c = json_object(), *o;

	for (int i = 0; c && i < STAT_COUNTER_MAX; i++)
		json_object_set_new(c, stats_counter_name(i),
				    json_integer((json_int_t)d->stats.c[i]));
	o = json_pack("{s:s, s:o, s:o, s:o, s:o}", "node", d->cfg.node, "counters", c, "drops",
		      drops_json(d->stats.drops), "peer_layer", peer_counters_json(d),
		      "limits", limits_json(d->stats.limits));
	if (o)
		objects_json(d, o);
	return o;
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

/* Never two daemons on one TUN (but for a migrate hand-over, which move.c makes): a
 * namespace whose TUN another daemon serves is refused, naming it. NULL when free. */
static char *tun_taken(struct daemon *d, const struct ctl_request *rq)
{
	char by[NODE_NAME_MAX + 32];

	if (job_by_netns(d, rq->netns) || tunlink_served_by(rq->netns, TUN_IFNAME, by,
							      sizeof(by)) != 1)
		return NULL;
	return ctlmsg_reply_err(CTL_ERR_BAD_STATE, "netns %s: its TUN %s is served by %s (a "
				"daemon on this machine); two daemons never share a TUN. To move the "
				"job here use `migrate --to %s` on %s, or restore it into a fresh "
				"namespace and `attach --standby` that one", rq->netns, TUN_IFNAME, by,
				d->cfg.node, by);
}

/* Prepares a restore: TUN, address and routes in the namespace, nothing announced. The
 * VIP may be hosted anywhere else, from any node's pool; never here already. */
static char *attach_standby(struct daemon *d, const struct ctl_request *rq,
			    const struct vip *v)
{
	struct job *j, *owner = job_by_vip(d, v);
	char vb[VIP_STRLEN], *reply;
	int err;

	vip_fmt(v, vb);
	if ((reply = tun_taken(d, rq)))
		return reply;
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
	events_job(d->events, EVENT_JOB_STANDBY, vb, j->netns);
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
	/* Hosted elsewhere says more than "outside this node's pool": moves are explicit. */
	cur = route_lookup(d->routes, &v);
	if (cur && strcmp(cur->node, d->cfg.node) != 0)
		return ctlmsg_reply_err(CTL_ERR_VIP_IN_USE, "%s is hosted by %s (epoch %llu); to "
					"move it here use `attach --standby` then `activate`, or "
					"`migrate`", vb, cur->node, (unsigned long long)cur->epoch);
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
	{
		char *taken = tun_taken(d, rq);

		if (taken)
			return taken;
	}
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
	if (err < 0) {
		job_del_vip(j, &v, &(bool){ false }); /* nothing stays half-attached */
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot announce %s: %s", vb,
					routing_strerror(d, err));
	}
	events_job(d->events, EVENT_JOB_ATTACH, vb, j->netns);
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
	/* Say what happened to the TUN, not what was meant to: it may have been deleted
	 * behind our back (broken), or be another daemon's too (then it stays). */
	{
		struct tunlink_info info;
		char tun[sizeof(j->problem) + 64];
		bool broken = j->broken;

		if (broken)
			snprintf(tun, sizeof(tun), "was gone already (%s)", j->problem);
		else if (tunlink_probe(j->netns_fd, TUN_IFNAME, &info) == 0 && info.queues > 1) {
			j->handing_over = true;
			snprintf(tun, sizeof(tun), "left in place: %s serves it too",
				 tunlink_mark_node(&info) ? tunlink_mark_node(&info)
				 : "another process");
		} else {
			tun[0] = '\0';
		}
		routing_withdraw(d, &rq->vip);
		events_job(d->events, EVENT_JOB_DETACH, vb, j->netns);
		err = job_del_vip(j, &rq->vip, &gone);
		if (err < 0 && !broken)
			return ctlmsg_reply_err(CTL_ERR_SYSTEM, "removing %s: %s", vb,
						strerror(-err));
		if (!tun[0])
			snprintf(tun, sizeof(tun), "%s", gone ? "removed: it held no other VIP"
				 : "kept: the job holds other VIPs");
		return ctlmsg_reply_ok(json_pack("{s:s, s:b, s:s}", "vip", vb, "tun_removed",
						 gone && !broken && !strstr(tun, "left"),
						 "tun", tun));
	}
}

/* --- events: a follower is a subscriber of the bus writing to a control stream --------- */

struct follower {
	struct daemon *d;
	struct control_stream *s;
	struct events_sub sub;
};

static void follower_free(struct follower *f)
{
	events_unsubscribe(f->d->events, &f->sub);
	f->d->command->nfollowers--;
	free(f);
}

static void follower_event(const struct event *e, const char *json, void *arg)
{
	struct follower *f = arg;
	struct iovec iov[2] = {
		{ .iov_base = (void *)json, .iov_len = strlen(json) },
		{ .iov_base = "\n", .iov_len = 1 },
	};

	if (control_stream_writev(f->s, iov, 2) < 0) {
		/* It stopped reading: cut it off rather than hold events for it. */
		control_stream_abort(f->s);
		follower_free(f);
	}
}

static void follower_stream(struct control_stream *s, enum control_stream_event ev, void *arg)
{
	follower_free(arg);
	if (ev == CONTROL_STREAM_EOF)
		control_stream_end(s);
}

/* Without follow, the reply lists the ring, oldest first; with follow, the client's
 * connection then carries one JSON object per line per new event, and a follower that
 * falls FOLLOW_BUFFER behind is cut off. */
static char *cmd_events(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			bool *deferred)
{
	struct follower *f;
	int e;

	if (!rq->follow)
		return ctlmsg_reply_ok(events_list_json(d->events));
	if (d->command->nfollowers >= (size_t)d->cfg.limits.followers) {
		stats_limit(&d->stats, LIMIT_FOLLOWERS, 1);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "%zu followers already ([limits] "
					"event_followers)", d->command->nfollowers);
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "out of memory");
	f->d = d;
	f->s = control_stream_take(d->ctl, client_id, FOLLOW_BUFFER, follower_stream, f);
	if (!f->s) {
		e = errno;
		free(f);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot follow: %s", strerror(e));
	}
	f->sub.event = follower_event;
	f->sub.arg = f;
	events_subscribe(d->events, &f->sub);
	d->command->nfollowers++;
	return ctlmsg_reply_ok(json_pack("{s:b}", "following", 1));
}

/* --- the table ------------------------------------------------------------------------ */

static char *cmd_status(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			bool *deferred)
{
	return ctlmsg_reply_ok(status_json(d));
}

static char *cmd_peers(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
		       bool *deferred)
{
	return ctlmsg_reply_ok(peer_list_json(d));
}

static char *cmd_routes(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			bool *deferred)
{
	if (rq->stream)
		return routelist_start(d, client_id);
	if (route_count(d->routes) > ROUTES_REPLY_MAX)
		return ctlmsg_reply_err(CTL_ERR_TOO_LONG, "%zu routes: more than %d in one reply "
					"(ask with \"stream\": true, as vnetctl does)",
					route_count(d->routes), ROUTES_REPLY_MAX);
	return ctlmsg_reply_ok(routing_list_json(d));
}

static char *cmd_jobs(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
		      bool *deferred)
{
	return ctlmsg_reply_ok(job_list_json(d));
}

static char *cmd_attach(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			bool *deferred)
{
	return attach(d, rq);
}

static char *cmd_detach(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			bool *deferred)
{
	return detach(d, rq);
}

static char *cmd_stats(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
		       bool *deferred)
{
	return ctlmsg_reply_ok(command_stats_json(d));
}

static char *cmd_suspend(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			 bool *deferred)
{
	return move_suspend(d, rq);
}

static char *cmd_resume(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			bool *deferred)
{
	return move_resume(d, rq);
}

static char *cmd_capture(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			 bool *deferred)
{
	if (rq->scope == CTL_SCOPE_PEER && !peer_find(d, rq->peer))
		return ctlmsg_reply_err(CTL_ERR_NO_SUCH_PEER, "%s knows no peer \"%s\"",
					d->cfg.node, rq->peer);
	return capture_command(d->capture, d->ctl, client_id, rq);
}

/* vnetctl substrate [PEER] POLICY */
static char *cmd_substrate(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
			   bool *deferred)
{
	int pol = strcmp(rq->policy, "default") == 0 ? PEER_POLICY_DEFAULT
						     : peer_policy_parse(rq->policy);
	struct peer *p = NULL;

	if (rq->peer[0] && !(p = peer_find(d, rq->peer)))
		return ctlmsg_reply_err(CTL_ERR_NO_SUCH_PEER, "%s knows no peer \"%s\"",
					d->cfg.node, rq->peer);
	if (pol == -EINVAL || (!p && pol == PEER_POLICY_DEFAULT))
		return ctlmsg_reply_err(CTL_ERR_BAD_REQUEST, "policy \"%s\" needs a peer",
					rq->policy);
	if (p) {
		peer_set_policy(p, pol);
		return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:s}", "peer", p->name, "policy",
			rq->policy, "in_use", p->active >= 0 ? substrate_name(p->active)
							      : "control link"));
	}
	peer_set_default_policy(d, pol);
	return ctlmsg_reply_ok(json_pack("{s:s}", "policy", rq->policy));
}

/* Every control command (ctlmsg.h names them and parses their arguments). */
static const struct {
	const char *name;
	command_fn fn;
} commands[] = {
	{ "status", cmd_status },
	{ "peers", cmd_peers },
	{ "routes", cmd_routes },
	{ "jobs", cmd_jobs },
	{ "attach", cmd_attach },
	{ "detach", cmd_detach },
	{ "stats", cmd_stats },
	{ "suspend", cmd_suspend },
	{ "resume", cmd_resume },
	{ "activate", move_activate },
	{ "migrate", move_migrate },
	{ "capture", cmd_capture },
	{ "events", cmd_events },
	{ "substrate", cmd_substrate },
};

char *command_run(struct daemon *d, uint64_t client_id, const char *line, size_t len,
		  bool *deferred)
{
	struct ctl_request rq;
	const char *name;
	char why[512];
	enum ctl_err e;

	*deferred = false;
	e = ctlmsg_request_parse(line, len, &rq, why, sizeof(why));
	if (e != CTL_OK)
		return ctlmsg_reply_err(e, "%s", why);
	name = ctlmsg_cmd_name(rq.cmd);
	for (size_t i = 0; name && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].fn(d, client_id, &rq, deferred);
	return ctlmsg_reply_err(CTL_ERR_UNKNOWN_CMD, "unknown command");
}

int command_init(struct daemon *d)
{
	d->command = calloc(1, sizeof(*d->command));
	return d->command ? 0 : -ENOMEM;
}

void command_fini(struct daemon *d)
{
	free(d->command);
	d->command = NULL;
}
