#include "tunvnet/move.h"
#include "tunvnet/netns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/frame.h"
#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/forward.h"
#include "tunvnet/job.h"
#include "tunvnet/log.h"
#include "tunvnet/msg.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"
#include "tunvnet/routing.h"
#include "tunvnet/store.h"
#include "tunvnet/tun.h"
#include "tunvnet/tunlink.h"

/* An operation that answers its control client later: an activation waiting for every
 * peer's confirmation, or a migration waiting for the target node. */
struct pending {
	struct pending *next;
	struct daemon *d;
	bool migrate;
	uint64_t client_id;
	uint64_t op;                      /* migrate: the id in MIGRATE / MIGRATE_DONE */
	struct vip vips[JOB_MAX_VIPS];
	uint64_t epochs[JOB_MAX_VIPS];
	bool moved[JOB_MAX_VIPS];         /* migrate: the route of vips[i] is the target's */
	size_t nvips;
	bool done;                        /* migrate: the target said MIGRATE_DONE ok */
	char prev_node[ROUTE_NODE_MAX + 1];
	char to[NODE_NAME_MAX + 1];       /* migrate target */
	char (*waiting)[NODE_NAME_MAX + 1]; /* activate: peers yet to confirm */
	size_t nwaiting;
	uint64_t start_ms;
	struct loop_timer timer;
};


/* A job just activated here whose old node has not handed over yet: one per VIP set,
 * ended by FRAME_F_HANDED_OVER from that node, its link going down, or the timer. */
struct await {
	struct await *next;
	struct daemon *d;
	struct vip vip;          /* one of the job's VIPs: the job is looked up again */
	struct loop_timer timer;
};

/* A daemon's moves. */
struct move {
	struct daemon *d;
	struct move_events ev;
	/* A suspended job that lost one VIP and kept others: checked for a split soon. */
	struct loop_timer split_timer;
	struct vip split_vip;            /* what moved */
	struct vip split_rest;           /* one VIP the job kept */
	char split_to[NODE_NAME_MAX + 1];
	struct pending *pendings;
	uint64_t next_op;
	struct await *awaits;
	uint8_t buf[FRAME_MAX_PAYLOAD]; /* move_migrate()'s scratch */
};

static void await_end(struct await *a)
{
	struct job *j = job_by_vip(a->d, &a->vip);

	for (struct await **pp = &a->d->move->awaits; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	loop_timer_stop(a->d->loop, &a->timer);
	if (j && j->await_from[0]) {
		j->await_from[0] = '\0';
		if (j->state == JOB_ACTIVE)
			job_flush_held(j);
	}
	free(a);
}

static void on_await_timeout(struct loop_timer *t, void *arg)
{
	struct await *a = arg;
	char vb[VIP_STRLEN];

	log_info("%s: no hand-over from the old node within %d ms; delivering",
		 vip_fmt(&a->vip, vb), MOVE_HANDOVER_WAIT_MS);
	await_end(a);
}

/* j was just activated here and old (a peer we can reach) hosted it: hold back direct
 * packets. */
static void await_handover(struct daemon *d, struct job *j, const char *old)
{
	struct peer *p = old[0] ? peer_find(d, old) : NULL;
	struct await *a;

	if (old[0] && strcmp(old, d->cfg.node) != 0) {
		snprintf(j->moved_from, sizeof(j->moved_from), "%s", old);
		j->moved_until_ms = loop_now(d->loop) + MOVE_HANDOVER_WAIT_MS +
				    (uint64_t)d->cfg.forward_grace_ms;
	}
	if (!p || !peer_can_send(p) || strcmp(old, d->cfg.node) == 0 ||
	    !(a = calloc(1, sizeof(*a))))
		return;
	snprintf(j->await_from, sizeof(j->await_from), "%s", old);
	a->d = d;
	a->vip = j->vips[0];
	loop_timer_init(&a->timer, on_await_timeout, a);
	loop_timer_arm(d->loop, &a->timer, MOVE_HANDOVER_WAIT_MS);
	a->next = d->move->awaits;
	d->move->awaits = a;
}

/* routing: p, a VIP's old node, has handed over all it held for e[0..n). */
static void on_handed_over(struct peer *p, const struct route_entry *e, size_t n, void *arg)
{
	struct daemon *d = arg;

	for (size_t i = 0; i < n; i++) {
		struct job *j = job_by_vip(d, &e[i].vip);

		if (!j || strcmp(j->await_from, p->name) != 0)
			continue;
		for (struct await *a = d->move->awaits; a; a = a->next) {
			if (job_by_vip(d, &a->vip) == j) {
				await_end(a);
				break;
			}
		}
	}
}

static void pending_free(struct pending *pd)
{
	for (struct pending **pp = &pd->d->move->pendings; *pp; pp = &(*pp)->next) {
		if (*pp == pd) {
			*pp = pd->next;
			break;
		}
	}
	loop_timer_stop(pd->d->loop, &pd->timer);
	free(pd->waiting);
	free(pd);
}

static struct pending *pending_with_vip(struct daemon *d, const struct vip *v, bool migrate)
{
	for (struct pending *pd = d->move->pendings; pd; pd = pd->next)
		for (size_t i = 0; pd->migrate == migrate && i < pd->nvips; i++)
			if (vip_equal(&pd->vips[i], v))
				return pd;
	return NULL;
}

/* The deferred reply goes out through the hook (it finds its client by id). */
static void finish(struct pending *pd, char *reply)
{
	struct move *m = pd->d->move;

	if (m->ev.reply)
		m->ev.reply(pd->client_id, reply, m->ev.arg);
	else
		free(reply);
	pending_free(pd);
}

/* The job a move names, by any of its VIPs or by its namespace (a move is of the whole
 * job). NULL with *err set when there is none here; a VIP hosted elsewhere says where. */
static struct job *find_job(struct daemon *d, const struct ctl_request *rq, char **err)
{
	const struct route_entry *e;
	char vb[VIP_STRLEN];
	struct job *j;

	if (!rq->has_vip) {
		j = job_by_netns(d, rq->netns);
		if (!j)
			*err = ctlmsg_reply_err(CTL_ERR_NO_SUCH_NETNS, "no job in netns %s on %s",
						rq->netns, d->cfg.node);
		return j;
	}
	j = job_by_vip(d, &rq->vip);
	if (j && rq->netns[0] && job_by_netns(d, rq->netns) != j) {
		*err = ctlmsg_reply_err(CTL_ERR_BAD_REQUEST, "%s is the job in netns %s, not %s",
					vip_fmt(&rq->vip, vb), j->netns, rq->netns);
		return NULL;
	}
	if (j)
		return j;
	vip_fmt(&rq->vip, vb);
	e = route_lookup(d->routes, &rq->vip);
	if (e && strcmp(e->node, d->cfg.node) != 0)
		*err = ctlmsg_reply_err(CTL_ERR_NO_SUCH_VIP, "%s is hosted by %s (epoch %llu), "
					"not here on %s", vb, e->node,
					(unsigned long long)e->epoch, d->cfg.node);
	else
		*err = ctlmsg_reply_err(CTL_ERR_NO_SUCH_VIP, "%s is not hosted on %s", vb,
					d->cfg.node);
	return NULL;
}

/* The job's VIPs, each with its epoch (epochs NULL: as the route table has it now). */
static json_t *vips_json(struct daemon *d, const struct vip *vips, const uint64_t *epochs,
			 size_t n)
{
	json_t *a = json_array();
	char vb[VIP_STRLEN];

	for (size_t i = 0; a && i < n; i++) {
		const struct route_entry *e = epochs ? NULL : route_lookup(d->routes, &vips[i]);

		json_array_append_new(a, json_pack("{s:s, s:I}", "vip", vip_fmt(&vips[i], vb),
			"epoch", (json_int_t)(epochs ? epochs[i] : e ? e->epoch : 0)));
	}
	return a;
}

/* "198.19.1.1 and fd00:19::1": the job's VIPs for a log line. */
static const char *vips_text(const struct job *j, char *buf, size_t size)
{
	char vb[VIP_STRLEN];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < j->nvips && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? " " : "",
				      vip_fmt(&j->vips[i], vb));
	return buf;
}

static char *bad_state(const struct job *j, const char *want)
{
	char vt[JOB_MAX_VIPS * VIP_STRLEN];

	return ctlmsg_reply_err(CTL_ERR_BAD_STATE, "the job in netns %s (%s) is %s here, not %s",
				j->netns, vips_text(j, vt, sizeof(vt)),
				j->broken ? "broken" : job_state_name(j->state), want);
}

/* --- suspend / resume ----------------------------------------------------------------- */

char *move_suspend(struct daemon *d, const struct ctl_request *rq)
{
	char *err = NULL, vb[VIP_STRLEN], vt[JOB_MAX_VIPS * VIP_STRLEN];
	struct job *j = find_job(d, rq, &err);

	if (!j)
		return err;
	if (j->state != JOB_ACTIVE || j->broken)
		return bad_state(j, "active");
	j->state = JOB_SUSPENDED;
	log_info("job %s (%s) suspended: holding its packets", j->netns,
		 vips_text(j, vt, sizeof(vt)));
	events_job(d->events, EVENT_JOB_SUSPEND, vip_fmt(&j->vips[0], vb), j->netns);
	return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:o}", "vip", vb, "netns", j->netns,
					 "vips", vips_json(d, j->vips, NULL, (size_t)j->nvips)));
}

char *move_resume(struct daemon *d, const struct ctl_request *rq)
{
	char *err = NULL, vb[VIP_STRLEN], vt[JOB_MAX_VIPS * VIP_STRLEN];
	struct job *j = find_job(d, rq, &err);
	size_t n;

	if (!j)
		return err;
	if (j->state != JOB_SUSPENDED)
		return bad_state(j, "suspended");
	j->state = JOB_ACTIVE;
	j->problem[0] = j->broken ? j->problem[0] : '\0'; /* a split is over */
	n = job_flush_held(j);
	log_info("job %s (%s) resumed: %zu held packets delivered", j->netns,
		 vips_text(j, vt, sizeof(vt)), n);
	events_job(d->events, EVENT_JOB_RESUME, vip_fmt(&j->vips[0], vb), j->netns);
	return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:I, s:o}", "vip", vb, "netns", j->netns,
					 "released", (json_int_t)n,
					 "vips", vips_json(d, j->vips, NULL, (size_t)j->nvips)));
}

/* --- activate ------------------------------------------------------------------------- */

static char *activate_reply(struct pending *pd)
{
	uint64_t ms = loop_clock_ms() - pd->start_ms;
	json_t *unconfirmed = json_array();
	char vb[VIP_STRLEN];

	for (size_t i = 0; i < pd->nwaiting; i++)
		json_array_append_new(unconfirmed, json_string(pd->waiting[i]));
	return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:I, s:s, s:I, s:o, s:o, s:s}", "vip",
		vip_fmt(&pd->vips[0], vb), "node", pd->d->cfg.node,
		"epoch", (json_int_t)pd->epochs[0],
		"previous_node", pd->prev_node, "converged_ms", (json_int_t)ms,
		"unconfirmed", unconfirmed,
		"vips", vips_json(pd->d, pd->vips, pd->epochs, pd->nvips),
		"route_store", pd->d->store->name));
}

static void on_activate_timeout(struct loop_timer *t, void *arg)
{
	struct pending *pd = arg;

	log_warnx("activate: %zu peer(s) did not confirm within %d ms", pd->nwaiting,
		  MOVE_CONFIRM_TIMEOUT_MS);
	finish(pd, activate_reply(pd));
}

char *move_activate(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
		    bool *deferred)
{
	char *err = NULL, vb[VIP_STRLEN];
	struct job *j = find_job(d, rq, &err);
	const struct route_entry *prev;
	struct pending *pd;
	size_t n = 0;
	int err2;

	if (!j)
		return err;
	if (j->state != JOB_STANDBY || j->broken)
		return bad_state(j, "on standby");
	pd = calloc(1, sizeof(*pd));
	if (pd)
		pd->waiting = calloc(peer_count_known(d) + 1, sizeof(*pd->waiting));
	if (!pd || !pd->waiting) {
		free(pd);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "out of memory");
	}
	pd->d = d;
	pd->client_id = client_id;
	pd->start_ms = loop_clock_ms();
	/* Every VIP of the job; the one asked for first, so that "vip" is about it. */
	if (rq->has_vip)
		pd->vips[n++] = rq->vip;
	for (int i = 0; i < j->nvips; i++)
		if (!rq->has_vip || !vip_equal(&j->vips[i], &rq->vip))
			pd->vips[n++] = j->vips[i];
	pd->nvips = n;
	prev = route_lookup(d->routes, &pd->vips[0]);
	snprintf(pd->prev_node, sizeof(pd->prev_node), "%s", prev ? prev->node : "");
	if (routing_store_confirms(d)) /* the store's commit, not every peer */
		snprintf(pd->waiting[pd->nwaiting++], NODE_NAME_MAX + 1, "%s", STORE_WAITER);
	else
		for (struct peer *p = d->peers; p; p = p->next)
			if (peer_is_up(p))
				snprintf(pd->waiting[pd->nwaiting++], NODE_NAME_MAX + 1, "%s",
					 p->name);
	pd->next = d->move->pendings;
	d->move->pendings = pd;
	loop_timer_init(&pd->timer, on_activate_timeout, pd);

	j->state = JOB_ACTIVE;
	err2 = routing_announce(d, pd->vips, n, pd->epochs, true);
	if (err2 < 0) {
		j->state = JOB_STANDBY;
		pending_free(pd);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot announce %s: %s; the job stays "
					"on standby", vip_fmt(&pd->vips[0], vb),
					routing_strerror(d, err2));
	}
	job_flush_held(j); /* what arrived while on standby came from the old route */
	await_handover(d, j, pd->prev_node);
	vip_fmt(&pd->vips[0], vb);
	log_info("job %s (%s) activated, epoch %llu (was %s)", j->netns, vb,
		 (unsigned long long)pd->epochs[0], pd->prev_node[0] ? pd->prev_node : "none");
	events_job(d->events, EVENT_JOB_ACTIVATE, vb, j->netns);
	if (pd->nwaiting == 0) {
		char *reply = activate_reply(pd);

		pending_free(pd);
		return reply;
	}
	loop_timer_arm(d->loop, &pd->timer, MOVE_CONFIRM_TIMEOUT_MS);
	*deferred = true;
	return NULL;
}

static void unwait(struct pending *pd, const char *node)
{
	for (size_t i = 0; i < pd->nwaiting; i++) {
		if (strcmp(pd->waiting[i], node) == 0) {
			memmove(pd->waiting[i], pd->waiting[pd->nwaiting - 1],
				sizeof(pd->waiting[i]));
			pd->nwaiting--;
			return;
		}
	}
}

/* routing: p confirmed an announcement with the entries it now holds. */
static void on_ack(struct peer *p, const struct route_entry *e, size_t n, void *arg)
{
	struct daemon *d = arg;

	for (size_t i = 0; i < n; i++) {
		struct pending *pd = pending_with_vip(d, &e[i].vip, false);

		if (!pd)
			continue;
		unwait(pd, p->name);
		if (pd->nwaiting == 0)
			finish(pd, activate_reply(pd));
	}
}

/* routing: the store ended an activation's publication (routing_store_confirms). */
static void on_stored(const struct vip *v, size_t n, int err, const char *why, void *arg)
{
	struct daemon *d = arg;
	struct pending *pd = n ? pending_with_vip(d, &v[0], false) : NULL;
	struct job *j;

	if (!pd)
		return; /* lost already (route_lost answered CONFLICT), or timed out */
	if (err == 0) {
		unwait(pd, STORE_WAITER);
		if (pd->nwaiting == 0)
			finish(pd, activate_reply(pd));
		return;
	}
	j = job_by_vip(d, &v[0]);
	if (j && j->state == JOB_ACTIVE)
		j->state = JOB_STANDBY; /* never two nodes serving one VIP */
	finish(pd, ctlmsg_reply_err(err == -ECANCELED ? CTL_ERR_CONFLICT : CTL_ERR_SYSTEM,
				    "activate: %s; the job is back on standby", why));
}

/* --- a VIP hosted here moved away ----------------------------------------------------- */

struct handover {
	struct daemon *d;
	const char *node;
	size_t sent;
};

static void hand_one(const struct held_packet *hp, void *arg)
{
	struct handover *h = arg;

	if (forward_to_node(h->d, h->node, hp->data, hp->len) == 0)
		h->sent++;
}

static char *migrate_reply(struct pending *pd);

/* A migration whose target has answered and whose every VIP is routed there now. */
static void migrate_check_done(struct pending *pd)
{
	for (size_t i = 0; i < pd->nvips; i++)
		if (!pd->moved[i])
			return;
	if (pd->done)
		finish(pd, migrate_reply(pd));
}

/* After a VIP of a suspended job moved away while others stayed: if the job is still
 * here a moment later (the rest did not follow in the same announcement), part of the
 * job moved and part did not. Nothing can make that right from here (the other node
 * announced only what its standby job held): say so, loudly and where it is seen. */
static void on_split_check(struct loop_timer *t, void *arg)
{
	struct move *m = arg;
	struct daemon *d = m->d;
	char vb[VIP_STRLEN], vt[JOB_MAX_VIPS * VIP_STRLEN];
	struct job *j = job_by_vip(d, &m->split_rest);

	if (!j || j->nvips == 0 || j->state != JOB_SUSPENDED || j->handing_over)
		return;
	vips_text(j, vt, sizeof(vt));
	snprintf(j->problem, sizeof(j->problem), "split: %s moved to %s, %.40s still suspended "
		 "here", vip_fmt(&m->split_vip, vb), m->split_to, vt);
	log_warnx("job %s: %s; attach --standby and activate the rest on %s, or resume here",
		  j->netns, j->problem, m->split_to);
	stats_add(&d->stats, STAT_JOB_BROKEN, 1);
	events_job(d->events, EVENT_JOB_BROKEN, vt, j->problem);
}

/* routing: v, hosted here by j (not on standby), is now routed to cur->node. */
static void on_route_lost(struct job *j, const struct vip *v, const struct route_entry *cur,
			  void *arg)
{
	struct daemon *d = arg;
	struct pending *pd = pending_with_vip(d, v, false), *mig = pending_with_vip(d, v, true);
	struct handover h = { d, cur->node, 0 };
	char vb[VIP_STRLEN], detail[128];
	bool gone, suspended = j->state == JOB_SUSPENDED;

	vip_fmt(v, vb);
	if (pd) {
		/* We announced it a moment ago and another node won the race: back to
		 * standby, so that never two nodes serve one VIP. */
		j->state = JOB_STANDBY;
		log_warnx("activate %s lost to %s (epoch %llu): back on standby", vb, cur->node,
			  (unsigned long long)cur->epoch);
		finish(pd, ctlmsg_reply_err(CTL_ERR_CONFLICT,
			"%s was activated on %s at the same time (epoch %llu); %s keeps it and "
			"%s is back on standby", vb, cur->node, (unsigned long long)cur->epoch,
			cur->node, d->cfg.node));
		return;
	}
	if (!j->handing_over) {
		/* Another daemon holds a queue of this very TUN (it should not: attach
		 * refuses that; but one may have been forced): its addresses are its now. */
		struct tunlink_info info;

		if (tunlink_probe(j->netns_fd, TUN_IFNAME, &info) == 0 && info.queues > 1) {
			log_warnx("job %s: its TUN is served by %s too: leaving its addresses",
				  j->netns, tunlink_mark_node(&info) ? tunlink_mark_node(&info)
				  : "another process");
			j->handing_over = true;
		}
	}
	job_take_held(j, v, hand_one, &h);
	{
		struct peer *np = peer_find(d, cur->node);

		if (np && peer_can_send(np))
			routing_send_handed_over(d, np, cur);
	}
	forward_pointer_add(d, v);
	snprintf(detail, sizeof(detail), "to %s epoch %llu, %zu held packets handed over",
		 cur->node, (unsigned long long)cur->epoch, h.sent);
	log_info("VIP %s moved %s", vb, detail);
	events_job(d->events, EVENT_JOB_RELEASE, vb, detail);
	job_release_vip(j, v, &gone);
	if (mig && strcmp(mig->to, cur->node) == 0) {
		for (size_t i = 0; i < mig->nvips; i++) {
			if (vip_equal(&mig->vips[i], v)) {
				mig->moved[i] = true;
				mig->epochs[i] = cur->epoch;
			}
		}
		migrate_check_done(mig);
	} else if (!gone && suspended) {
		struct move *m = d->move;

		m->split_vip = *v;
		m->split_rest = j->vips[0];
		snprintf(m->split_to, sizeof(m->split_to), "%s", cur->node);
		loop_timer_arm(d->loop, &m->split_timer, MOVE_SPLIT_CHECK_MS);
	}
}

/* --- migrate on one machine ------------------------------------------------------------ */

static char *migrate_reply(struct pending *pd)
{
	char vb[VIP_STRLEN];

	return ctlmsg_reply_ok(json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "vip",
		vip_fmt(&pd->vips[0], vb), "from", pd->d->cfg.node, "to", pd->to,
		"epoch", (json_int_t)pd->epochs[0],
		"ms", (json_int_t)(loop_clock_ms() - pd->start_ms),
		"vips", vips_json(pd->d, pd->vips, pd->epochs, pd->nvips)));
}

static void on_migrate_timeout(struct loop_timer *t, void *arg)
{
	struct pending *pd = arg;
	struct job *j = job_by_vip(pd->d, &pd->vips[0]);
	char vb[VIP_STRLEN];

	if (pd->done) {
		/* The target took the job but some route never reached us: say which. */
		for (size_t i = 0; i < pd->nvips; i++) {
			if (pd->moved[i])
				continue;
			finish(pd, ctlmsg_reply_err(CTL_ERR_TIMEOUT, "%s took the job over, but "
				"its route for %s did not reach %s within %d ms", pd->to,
				vip_fmt(&pd->vips[i], vb), pd->d->cfg.node,
				MOVE_MIGRATE_TIMEOUT_MS));
			return;
		}
	}
	if (j)
		j->handing_over = false;
	finish(pd, ctlmsg_reply_err(CTL_ERR_TIMEOUT, "%s did not take the job over within %d "
				    "ms; the job stays here", pd->to, MOVE_MIGRATE_TIMEOUT_MS));
}

char *move_migrate(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
		   bool *deferred)
{
	uint8_t *buf = d->move->buf;
	char *err = NULL, vb[VIP_STRLEN], vt[JOB_MAX_VIPS * VIP_STRLEN];
	struct job *j = find_job(d, rq, &err);
	struct msg_migrate *m;
	struct pending *pd;
	struct peer *p;
	int len;

	if (!j)
		return err;
	vip_fmt(&j->vips[0], vb);
	if (j->state != JOB_ACTIVE || j->broken)
		return bad_state(j, "active");
	if (strcmp(rq->to, d->cfg.node) == 0)
		return ctlmsg_reply_err(CTL_ERR_BAD_REQUEST, "the job in netns %s is already on %s",
					j->netns, rq->to);
	p = peer_find(d, rq->to);
	if (!p || !peer_can_send(p))
		return ctlmsg_reply_err(CTL_ERR_NO_SUCH_PEER, "no link to a node named \"%s\"%s",
					rq->to, p ? " (it is down)" : "");
	if (pending_with_vip(d, &j->vips[0], true))
		return ctlmsg_reply_err(CTL_ERR_BAD_STATE, "the job in netns %s is being migrated "
					"already", j->netns);
	m = calloc(1, sizeof(*m));
	pd = calloc(1, sizeof(*pd));
	if (!m || !pd) {
		free(m);
		free(pd);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "out of memory");
	}
	m->op = d->move->next_op++;
	snprintf(m->netns, sizeof(m->netns), "%s", j->netns);
	/* The whole job; the VIP asked for first, so that "vip" is about it. */
	if (rq->has_vip)
		m->vips[m->nvips++] = rq->vip;
	for (int i = 0; i < j->nvips; i++)
		if (!rq->has_vip || !vip_equal(&j->vips[i], &rq->vip))
			m->vips[m->nvips++] = j->vips[i];
	len = msg_migrate_encode(m, buf, sizeof(d->move->buf));
	if (len < 0 || peer_send_ctl(p, FRAME_MIGRATE, 0, buf, (size_t)len) < 0) {
		free(m);
		free(pd);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot send the hand-over to %s", rq->to);
	}
	j->handing_over = true;
	pd->d = d;
	pd->migrate = true;
	pd->client_id = client_id;
	pd->op = m->op;
	for (size_t i = 0; i < m->nvips; i++)
		pd->vips[i] = m->vips[i];
	pd->nvips = m->nvips;
	pd->start_ms = loop_clock_ms();
	snprintf(pd->to, sizeof(pd->to), "%s", rq->to);
	snprintf(pd->prev_node, sizeof(pd->prev_node), "%s", d->cfg.node);
	loop_timer_init(&pd->timer, on_migrate_timeout, pd);
	loop_timer_arm(d->loop, &pd->timer, MOVE_MIGRATE_TIMEOUT_MS);
	pd->next = d->move->pendings;
	d->move->pendings = pd;
	free(m);
	log_info("migrating job %s (%s) to %s", j->netns, vips_text(j, vt, sizeof(vt)), rq->to);
	*deferred = true;
	return NULL;
}

static void migrate_answer(struct peer *p, uint64_t op, enum ctl_err status, uint64_t epoch,
			   const char *msg)
{
	struct msg_migrate_done r = { .op = op, .status = (uint8_t)status, .epoch = epoch };
	uint8_t buf[MSG_TEXT_MAX + 64];
	int len;

	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	len = msg_migrate_done_encode(&r, buf, sizeof(buf));
	if (len > 0)
		peer_send_ctl(p, FRAME_MIGRATE_DONE, 0, buf, (size_t)len);
}

/* The target's side: attach a queue of our own to the job's TUN, then announce. */
int move_on_migrate(struct daemon *d, struct peer *p, const uint8_t *buf, size_t len)
{
	struct msg_migrate m;
	uint64_t epochs[JOB_MAX_VIPS];
	char why[MSG_TEXT_MAX + 1], vb[VIP_STRLEN];
	struct job *j;
	int err;

	if (msg_migrate_decode(buf, len, &m) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < m.nvips; i++) {
		if (job_by_vip(d, &m.vips[i])) {
			migrate_answer(p, m.op, CTL_ERR_VIP_IN_USE, 0, "already hosted here");
			return 0;
		}
	}
	/* A peer never makes this daemon open a path it chose: only a namespace the
	 * machine's operator named (/run/netns), opened without blocking (netns_open). */
	if (!netns_is_named(m.netns)) {
		log_ratelimited(log_warnx, "peer %s: MIGRATE names %.200s, not a named namespace: "
				"refused", p->name, m.netns);
		migrate_answer(p, m.op, CTL_ERR_NO_SUCH_NETNS, 0, "migrate takes a named "
			       "namespace (ip netns add; /run/netns/NAME) only");
		return 0;
	}
	err = job_open(d, m.netns, &j);
	if (err < 0) {
		snprintf(why, sizeof(why), "cannot attach to netns %.200s: %s", m.netns,
			 strerror(-err));
		migrate_answer(p, m.op, CTL_ERR_SYSTEM, 0, why);
		return 0;
	}
	for (size_t i = 0; i < m.nvips; i++) {
		err = job_add_vip(j, &m.vips[i]);
		if (err < 0) {
			snprintf(why, sizeof(why), "cannot add %s: %s",
				 vip_fmt(&m.vips[i], vb), strerror(-err));
			j->handing_over = true; /* the device is the old node's too: leave it */
			while (j->nvips > 0) {
				bool gone;

				job_release_vip(j, &j->vips[0], &gone);
				if (gone)
					break;
			}
			if (j->nvips == 0)
				job_drop_if_empty(j);
			migrate_answer(p, m.op, CTL_ERR_SYSTEM, 0, why);
			return 0;
		}
	}
	j->state = JOB_ACTIVE;
	if (routing_announce(d, m.vips, m.nvips, epochs, false) < 0) {
		migrate_answer(p, m.op, CTL_ERR_SYSTEM, 0, "cannot announce");
		return 0;
	}
	/* The old node writes into the shared TUN until it hears us: write nothing of
	 * ours before its hand-over, so that no flow is reordered. */
	await_handover(d, j, p->name);
	log_info("took over job %s (%s) from %s, epoch %llu", m.netns,
		 vip_fmt(&m.vips[0], vb), p->name, (unsigned long long)epochs[0]);
	events_job(d->events, EVENT_JOB_ACTIVATE, vb, m.netns);
	migrate_answer(p, m.op, CTL_OK, epochs[0], "");
	return 0;
}

int move_on_migrate_done(struct daemon *d, struct peer *p, const uint8_t *buf, size_t len)
{
	struct msg_migrate_done r;
	struct pending *pd;

	if (msg_migrate_done_decode(buf, len, &r) < 0)
		return -EBADMSG;
	for (pd = d->move->pendings; pd && !(pd->migrate && pd->op == r.op); pd = pd->next)
		;
	if (!pd)
		return 0; /* timed out already */
	if (r.status != CTL_OK) {
		struct job *j = job_by_vip(d, &pd->vips[0]);

		if (j)
			j->handing_over = false;
		finish(pd, ctlmsg_reply_err(r.status < CTL_ERR_MAX ? r.status : CTL_ERR_SYSTEM,
					    "%s refused the hand-over: %s; the job stays here",
					    p->name, r.msg));
		return 0;
	}
	/* The reply waits for the route of every VIP to reach us too (on_route_lost), so
	 * that it can list each with its epoch. */
	pd->done = true;
	if (!pd->moved[0])
		pd->epochs[0] = r.epoch;
	migrate_check_done(pd);
	return 0;
}

void move_peer_down(struct daemon *d, struct peer *p)
{
	struct pending *pd = d->move->pendings;
	struct await *a = d->move->awaits;

	while (a) {
		struct await *next = a->next;
		struct job *j = job_by_vip(d, &a->vip);

		if (!j || strcmp(j->await_from, p->name) == 0)
			await_end(a);
		a = next;
	}

	while (pd) {
		struct pending *next = pd->next;

		if (!pd->migrate) {
			unwait(pd, p->name);
			if (pd->nwaiting == 0)
				finish(pd, activate_reply(pd));
		}
		pd = next;
	}
}

void move_stop(struct daemon *d)
{
	struct move *m = d->move;

	if (!m)
		return;
	loop_timer_stop(d->loop, &m->split_timer);
	while (m->awaits)
		await_end(m->awaits);
	while (m->pendings)
		finish(m->pendings, ctlmsg_reply_err(CTL_ERR_SYSTEM, "tunvnetd is stopping"));
}

int move_init(struct daemon *d, const struct move_events *ev)
{
	struct routing_events rev = {
		.route_lost = on_route_lost,
		.acked = on_ack,
		.handed_over = on_handed_over,
		.stored = on_stored,
		.arg = d,
	};
	struct move *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->d = d;
	m->ev = *ev;
	m->next_op = 1;
	loop_timer_init(&m->split_timer, on_split_check, m);
	d->move = m;
	routing_set_events(d, &rev);
	return 0;
}

void move_fini(struct daemon *d)
{
	if (!d->move)
		return;
	move_stop(d);
	routing_set_events(d, &(struct routing_events){ 0 });
	free(d->move);
	d->move = NULL;
}
