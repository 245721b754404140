#include "tunvnet/routing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/frame.h"
#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/job.h"
#include "tunvnet/log.h"
#include "tunvnet/msg.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"
#include "tunvnet/routeshare.h"
#include "tunvnet/stats.h"
#include "tunvnet/store.h"

#define GC_INTERVAL_MS (60 * 1000)
#define MAX_PER_FRAME  (FRAME_MAX_PAYLOAD / 16) /* the smallest encoded route is 16 bytes */
#define TABLE_SLICE    65536 /* table slots scanned per loop turn for a peer's full table */

/* Batches routes into ROUTES frames for one peer, or for every peer up (to == NULL). */
struct batch {
	struct daemon *d;
	struct peer *to;
	uint16_t flags;
	size_t n, bytes;
	struct route_entry e[MAX_PER_FRAME];
	uint8_t buf[FRAME_MAX_PAYLOAD];
};

/* A full table still being sent to a peer, a slice per loop turn. */
struct table_send {
	struct table_send *next;
	char peer[NODE_NAME_MAX + 1];
	size_t cursor;  /* route_walk's */
};

/* A daemon's routing state. */
struct routing {
	struct table_send *sends;     /* full tables under way */
	struct loop_timer send_timer;
	struct routing_events ev;
	struct loop_timer gc_timer;   /* tombstone expiry */
	struct batch batch;
	struct routeshare *share;     /* live entries per node: [limits] routes_per_peer */
	/* routing_receive()'s scratch: the entries of one frame */
	struct route_entry rx[MAX_PER_FRAME];
	bool check[MAX_PER_FRAME];
	char store_why[STORE_WHY_MAX]; /* routing_strerror()'s text */
};

static void batch_flush(struct batch *b)
{
	int len;

	if (b->n == 0)
		return;
	len = msg_routes_encode(b->e, b->n, b->buf, sizeof(b->buf));
	if (len < 0) {
		log_warnx("cannot encode %zu routes", b->n);
	} else if (b->to) {
		peer_send_ctl(b->to, FRAME_ROUTES, b->flags, b->buf, (size_t)len);
	} else {
		for (struct peer *p = b->d->peers; p; p = p->next)
			if (peer_is_up(p))
				peer_send_ctl(p, FRAME_ROUTES, b->flags, b->buf, (size_t)len);
	}
	b->n = b->bytes = 0;
}

static void batch_start(struct batch *b, struct daemon *d, struct peer *to, uint16_t flags)
{
	b->d = d;
	b->to = to;
	b->flags = flags;
	b->n = 0;
	b->bytes = 2; /* the count */
}

static void batch_add(const struct route_entry *e, void *arg)
{
	struct batch *b = arg;
	size_t sz = msg_route_size(e);

	if (b->n == MAX_PER_FRAME || b->bytes + sz > sizeof(b->buf))
		batch_flush(b);
	if (b->n == 0)
		b->bytes = 2;
	b->e[b->n++] = *e;
	b->bytes += sz;
}

static void broadcast(struct daemon *d, const struct route_entry *e, size_t n, uint16_t flags)
{
	struct batch *b = &d->routing->batch;

	batch_start(b, d, NULL, flags);
	for (size_t i = 0; i < n; i++)
		batch_add(&e[i], b);
	batch_flush(b);
}

/* The mesh as a route store (store.h): every peer up hears each entry; with confirm
 * each answers with what it then holds (routing_events.acked). */
static int mesh_publish(struct daemon *d, const struct route_entry *e, const uint64_t *seen,
			size_t n, bool confirm)
{
	broadcast(d, e, n, confirm ? FRAME_F_ACK_REQ : 0);
	if (confirm)
		for (struct peer *p = d->peers; p; p = p->next)
			peer_flush(p);
	return 0;
}

static bool mesh_reachable(struct daemon *d, char *why, size_t len)
{
	return true;
}

const struct store_ops routing_mesh_store = {
	.name = "mesh",
	.publish = mesh_publish,
	.reachable = mesh_reachable,
	.authoritative = false,
};

/* The revision of the store's entry this node holds for v (0: none), before it is
 * replaced by this node's own: the store's compare-and-set expects it. */
static uint64_t seen_rev(struct daemon *d, const struct vip *v)
{
	const struct route_entry *cur = route_get(d->routes, v);

	return cur ? cur->store_rev : 0;
}

static bool store_rules(const struct daemon *d)
{
	return d->store->authoritative;
}

/* Applies e, logging and recording a change. Returns route_update's result. */
static int apply(struct daemon *d, const struct route_entry *e, const char *from)
{
	const struct route_entry *old = route_get(d->routes, &e->vip);
	char old_node[ROUTE_NODE_MAX + 1] = "", vb[VIP_STRLEN];
	uint64_t old_epoch = 0;
	int changed;

	if (old && !old->withdrawn) {
		snprintf(old_node, sizeof(old_node), "%s", old->node);
		old_epoch = old->epoch;
	}
	changed = route_update(d->routes, e);
	if (changed > 0) {
		routeshare_add(d->routing->share, old_node, -1);
		if (!e->withdrawn)
			routeshare_add(d->routing->share, e->node, 1);
		vip_fmt(&e->vip, vb);
		log_debug("route %s -> %s epoch %llu%s (from %s)", vb, e->node,
			  (unsigned long long)e->epoch, e->withdrawn ? " withdrawn" : "", from);
		events_route(d->events, vb, old_node, old_epoch, e->node, e->epoch, e->withdrawn);
	}
	return changed;
}

static void on_send_timer(struct loop_timer *t, void *arg);

static void on_gc(struct loop_timer *t, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = loop_now(d->loop);

	if (now > ROUTING_TOMBSTONE_MS)
		route_expire(d->routes, now - ROUTING_TOMBSTONE_MS);
	loop_timer_arm(d->loop, &d->routing->gc_timer, GC_INTERVAL_MS);
}

int routing_init(struct daemon *d)
{
	struct routing *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = route_table_new(&d->routes);
	if (err == 0)
		err = routeshare_new(&r->share);
	if (err < 0) {
		route_table_free(d->routes);
		d->routes = NULL;
		free(r);
		return err;
	}
	d->routing = r;
	if (!d->store)
		d->store = &routing_mesh_store;
	loop_timer_init(&r->gc_timer, on_gc, d);
	loop_timer_init(&r->send_timer, on_send_timer, d);
	loop_timer_arm(d->loop, &r->gc_timer, GC_INTERVAL_MS);
	return 0;
}

void routing_stop(struct daemon *d)
{
	if (!d->routing)
		return;
	loop_timer_stop(d->loop, &d->routing->gc_timer);
	loop_timer_stop(d->loop, &d->routing->send_timer);
	while (d->routing->sends) {
		struct table_send *ts = d->routing->sends;

		d->routing->sends = ts->next;
		free(ts);
	}
	route_table_free(d->routes);
	d->routes = NULL;
	routeshare_free(d->routing->share);
	free(d->routing);
	d->routing = NULL;
}

void routing_set_events(struct daemon *d, const struct routing_events *ev)
{
	d->routing->ev = *ev;
}

static void self_entry(struct daemon *d, struct route_entry *e, const struct vip *v,
		       uint64_t epoch, bool withdrawn)
{
	memset(e, 0, sizeof(*e));
	e->vip = *v;
	e->epoch = epoch;
	e->withdrawn = withdrawn;
	e->changed_ms = loop_now(d->loop);
	snprintf(e->node, sizeof(e->node), "%s", d->cfg.node);
}

static int install_self(struct daemon *d, const struct vip *v, uint64_t epoch, bool withdrawn)
{
	struct route_entry e;
	uint64_t seen = seen_rev(d, v);
	int err;

	self_entry(d, &e, v, epoch, withdrawn);
	if (withdrawn)
		e.store_rev = seen; /* the store holds that until the deletion is done */
	err = apply(d, &e, "this node");
	if (err < 0)
		return err;
	return d->store->publish(d, &e, &seen, 1, false);
}

int routing_announce(struct daemon *d, const struct vip *v, size_t n, uint64_t *epochs,
		     bool confirm)
{
	struct route_entry e[JOB_MAX_VIPS];
	uint64_t seen[JOB_MAX_VIPS];
	int err;

	if (n > JOB_MAX_VIPS)
		return -E2BIG;
	/* A store that cannot be reached refuses before anything changes here. */
	if (!d->store->reachable(d, d->routing->store_why, sizeof(d->routing->store_why)))
		return -ENOTCONN;
	for (size_t i = 0; i < n; i++) {
		seen[i] = seen_rev(d, &v[i]);
		epochs[i] = route_next_epoch(d->routes, &v[i]);
		self_entry(d, &e[i], &v[i], epochs[i], false);
		err = apply(d, &e[i], "this node");
		if (err < 0)
			return err;
	}
	return d->store->publish(d, e, seen, n, confirm);
}

int routing_withdraw(struct daemon *d, const struct vip *v)
{
	const struct route_entry *e = route_get(d->routes, v);

	if (!e || e->withdrawn || strcmp(e->node, d->cfg.node) != 0)
		return -ENOENT;
	return install_self(d, v, e->epoch, true);
}

void routing_send_handed_over(struct daemon *d, struct peer *p, const struct route_entry *e)
{
	struct batch *b = &d->routing->batch;

	batch_start(b, d, p, FRAME_F_HANDED_OVER);
	batch_add(e, b);
	batch_flush(b);
}

/* Our own entries only (tombstones included, so a withdrawal missed is learned): the
 * peer learns every other node's from that node. */
static void batch_add_own(const struct route_entry *e, void *arg)
{
	struct batch *b = arg;

	if (strcmp(e->node, b->d->cfg.node) == 0)
		batch_add(e, b);
}

/* One slice of ts: false when its table is sent (or its peer is gone). */
static bool send_slice(struct daemon *d, struct table_send *ts)
{
	struct batch *b = &d->routing->batch;
	struct peer *p = peer_find(d, ts->peer);
	bool more;

	if (!p || !peer_is_up(p))
		return false;
	batch_start(b, d, p, FRAME_F_FULL_TABLE);
	more = route_walk(d->routes, &ts->cursor, TABLE_SLICE, batch_add_own, b);
	batch_flush(b);
	return more;
}

static void on_send_timer(struct loop_timer *t, void *arg)
{
	struct daemon *d = arg;
	struct table_send **pp = &d->routing->sends, *ts;

	while ((ts = *pp)) {
		if (send_slice(d, ts)) {
			pp = &ts->next;
		} else {
			*pp = ts->next;
			free(ts);
		}
	}
	if (d->routing->sends)
		loop_timer_arm(d->loop, t, 0);
}

/* The first slice now (a table of up to TABLE_SLICE slots: all of it), the rest one
 * slice per loop turn, so that a large table does not stall the loop. Each slice reads
 * the table as it is then: what changed meanwhile went out as announcements too. */
void routing_send_table(struct daemon *d, struct peer *p)
{
	struct routing *r = d->routing;
	struct table_send *ts;

	if (store_rules(d))
		return; /* peers learn routes from the store */
	for (ts = r->sends; ts && strcmp(ts->peer, p->name) != 0; ts = ts->next)
		;
	if (!ts) {
		ts = calloc(1, sizeof(*ts));
		if (!ts)
			return;
		snprintf(ts->peer, sizeof(ts->peer), "%s", p->name);
		if (!send_slice(d, ts)) {
			free(ts);
			return;
		}
		ts->next = r->sends;
		r->sends = ts;
	} else {
		ts->cursor = 0; /* a new session: from the start again */
	}
	loop_timer_arm(d->loop, &r->send_timer, 0);
}

/* Keeps what the cluster believes about this node true, and reports when a VIP hosted
 * here is now routed elsewhere (routing_events.route_lost: a move, or a lost race). A job on standby is not
 * hosting yet: routes elsewhere are what it expects. */
static void assert_self(struct daemon *d, const struct vip *v)
{
	const struct route_entry *cur = route_get(d->routes, v);
	struct job *j = job_by_vip(d, v);
	bool hosted = j && j->state != JOB_STANDBY;
	char buf[VIP_STRLEN];

	if (!cur)
		return;
	if (strcmp(cur->node, d->cfg.node) == 0) {
		if (!cur->withdrawn && !hosted) {
			log_info("route %s -> %s (epoch %llu) is stale: withdrawing",
				 vip_fmt(v, buf), cur->node, (unsigned long long)cur->epoch);
			install_self(d, v, cur->epoch, true);
		} else if (cur->withdrawn && hosted) {
			uint64_t epoch;

			log_info("route %s withdrawn in our name, but hosted here: re-announcing",
				 vip_fmt(v, buf));
			routing_announce(d, v, 1, &epoch, false);
		}
	} else if (!cur->withdrawn && hosted && d->routing->ev.route_lost) {
		d->routing->ev.route_lost(j, v, cur, d->routing->ev.arg);
	}
}

/* [limits] routes and routes_per_peer. An entry that would add to the table beyond
 * `routes` entries, or give the peer more than routes_per_peer live ones, is refused and
 * counted: the sender is not told, so this node then holds fewer of the peer's routes
 * than the peer announced (packets to the others are unreachable here) until the peer
 * withdraws some and announces them again. Entries that change nothing's count (a newer
 * epoch of a route the peer already has, a withdrawal of one) always pass. */
static bool within_limits(struct daemon *d, struct peer *p, const struct route_entry *e,
			  const struct route_entry *cur)
{
	const struct config_limits *l = &d->cfg.limits;
	enum limit_reason why;
	char vb[VIP_STRLEN];

	if (cur && !route_wins(e, cur))
		return true; /* it changes nothing */
	if (!cur && route_size(d->routes) >= (size_t)l->routes)
		why = LIMIT_ROUTES;
	else if (!e->withdrawn && !(cur && !cur->withdrawn && strcmp(cur->node, p->name) == 0) &&
		 routeshare_get(d->routing->share, p->name) >= (size_t)l->routes_per_peer)
		why = LIMIT_ROUTES_PER_PEER;
	else
		return true;
	stats_limit(&d->stats, why, 1);
	log_ratelimited(log_warnx, "peer %s announced %s: refused, [limits] %s (%d) reached",
			p->name, vip_fmt(&e->vip, vb), stats_limit_name(why),
			why == LIMIT_ROUTES ? l->routes : l->routes_per_peer);
	return false;
}

/* Whether a peer's entry may be applied: each node speaks only for itself (an entry names
 * the node that sent it, over that node's own authenticated link), and an epoch rises by
 * at most one above the highest seen for the VIP (a full table on connect may catch up
 * on moves this node missed, by at most ROUTING_RESYNC_MAX). Epochs stay below 2^63, so
 * they print exactly in JSON. */
static bool acceptable(struct daemon *d, struct peer *p, uint16_t flags,
		       const struct route_entry *e)
{
	const struct route_entry *cur;
	uint64_t step = flags & FRAME_F_FULL_TABLE ? ROUTING_RESYNC_MAX : 1;
	char vb[VIP_STRLEN];

	if (strcmp(e->node, p->name) != 0) {
		stats_add(&d->stats, STAT_ROUTES_NOT_OWN, 1);
		log_ratelimited(log_warnx, "peer %s announced %s for node %s: refused (a node "
				"speaks only for itself)", p->name, vip_fmt(&e->vip, vb), e->node);
		return false;
	}
	cur = route_get(d->routes, &e->vip);
	if (e->epoch > ROUTING_EPOCH_MAX || (cur && e->epoch > cur->epoch &&
					     e->epoch - cur->epoch > step)) {
		stats_add(&d->stats, STAT_ROUTES_EPOCH_JUMP, 1);
		log_ratelimited(log_warnx, "peer %s announced %s at epoch %llu, highest seen %llu: "
				"refused (an epoch rises by one)", p->name, vip_fmt(&e->vip, vb),
				(unsigned long long)e->epoch,
				(unsigned long long)(cur ? cur->epoch : 0));
		return false;
	}
	return within_limits(d, p, e, cur);
}

int routing_receive(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *buf,
		    size_t len)
{
	struct routing *r = d->routing;
	struct route_entry *e = r->rx;
	bool *check = r->check;
	struct batch *b = &r->batch;
	size_t n;

	if (msg_routes_decode(buf, len, e, MAX_PER_FRAME, &n) < 0)
		return -EBADMSG;
	if (store_rules(d)) {
		/* Routes come from the store; a peer's frame only says it handed over. */
		if ((flags & FRAME_F_HANDED_OVER) && r->ev.handed_over)
			r->ev.handed_over(p, e, n, r->ev.arg);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int changed;

		check[i] = false;
		/* An answer (ACK) says what the peer holds, others' entries included: that
		 * is for move.c to read, never applied here. So does a hand-over, whose
		 * entry names the VIP's new node (this one): not the sender's to announce,
		 * and no lie to count and warn about. */
		if ((flags & FRAME_F_HANDED_OVER) ||
		    ((flags & FRAME_F_ACK) && strcmp(e[i].node, p->name) != 0))
			continue;
		if (!acceptable(d, p, flags, &e[i]))
			continue;
		e[i].changed_ms = loop_now(d->loop);
		changed = apply(d, &e[i], p->name);
		check[i] = changed != 0 || strcmp(e[i].node, d->cfg.node) == 0;
	}
	if (flags & FRAME_F_ACK_REQ) {
		/* Confirm with what we hold now (which may be another winner), before the
		 * slower work below, so that the announcer's wait is one round trip. */
		batch_start(b, d, p, FRAME_F_ACK);
		for (size_t i = 0; i < n; i++) {
			const struct route_entry *cur = route_get(d->routes, &e[i].vip);

			batch_add(cur ? cur : &e[i], b);
		}
		batch_flush(b);
		peer_flush(p);
	}
	for (size_t i = 0; i < n; i++)
		if (check[i])
			assert_self(d, &e[i].vip);
	if ((flags & FRAME_F_ACK) && r->ev.acked)
		r->ev.acked(p, e, n, r->ev.arg);
	if ((flags & FRAME_F_HANDED_OVER) && r->ev.handed_over)
		r->ev.handed_over(p, e, n, r->ev.arg);
	return 0;
}

const char *routing_node_of(struct daemon *d, const struct vip *v)
{
	const struct route_entry *e = route_lookup(d->routes, v);

	return e ? e->node : NULL;
}

struct list_ctx {
	json_t *arr;
	const char *self;
};

static void list_one(const struct route_entry *e, void *arg)
{
	struct list_ctx *c = arg;
	char buf[VIP_STRLEN];

	if (e->withdrawn)
		return;
	json_array_append_new(c->arr, json_pack("{s:s, s:s, s:I, s:b, s:s}", "vip",
		vip_fmt(&e->vip, buf), "node", e->node, "epoch", (json_int_t)e->epoch,
		"local", strcmp(e->node, c->self) == 0, "state", route_state_name(e)));
}

json_t *routing_list_json(struct daemon *d)
{
	struct list_ctx c = { json_array(), d->cfg.node };

	route_foreach(d->routes, list_one, &c);
	return c.arr;
}

/* --- an authoritative store (store.h) --------------------------------------------------- */

/* The store holds se: installed whatever the epochs say (the store decided), then this
 * node stays true about itself as with a peer's entry. A deletion keeps the node and
 * epoch it removed, as a tombstone. */
static void on_store_entry(const struct route_entry *se, void *arg)
{
	struct daemon *d = arg;
	const struct route_entry *cur = route_get(d->routes, &se->vip);
	struct route_entry e = *se;
	char vb[VIP_STRLEN], old_node[ROUTE_NODE_MAX + 1] = "";
	uint64_t old_epoch = 0;
	bool same;

	if (e.withdrawn) {
		if (!cur)
			return;
		snprintf(e.node, sizeof(e.node), "%s", cur->node);
		e.epoch = cur->epoch;
		e.store_rev = 0; /* no key: what the next compare-and-set expects */
	}
	if (cur && !cur->withdrawn) {
		snprintf(old_node, sizeof(old_node), "%s", cur->node);
		old_epoch = cur->epoch;
	}
	same = cur && cur->epoch == e.epoch && cur->withdrawn == e.withdrawn &&
	       strcmp(cur->node, e.node) == 0;
	e.changed_ms = same ? cur->changed_ms : loop_now(d->loop);
	if (route_set(d->routes, &e) <= 0)
		return;
	if (!same) {
		vip_fmt(&e.vip, vb);
		log_debug("route %s -> %s epoch %llu%s (from the route store, revision %llu)", vb,
			  e.node, (unsigned long long)e.epoch, e.withdrawn ? " withdrawn" : "",
			  (unsigned long long)e.store_rev);
		events_route(d->events, vb, old_node, old_epoch, e.node, e.epoch, e.withdrawn);
	}
	assert_self(d, &e.vip);
}

static void on_store_committed(const struct vip *v, size_t n, int err, const char *why,
			       void *arg)
{
	struct daemon *d = arg;
	struct routing *r = d->routing;

	if (r->ev.stored)
		r->ev.stored(v, n, err, why, r->ev.arg);
}

struct own_ctx {
	struct daemon *d;
	struct route_entry *e;
	size_t n, cap;
};

static void collect_own(const struct route_entry *e, void *arg)
{
	struct own_ctx *c = arg;

	if (strcmp(e->node, c->d->cfg.node) != 0 || (e->withdrawn && e->store_rev == 0))
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct route_entry *ne = realloc(c->e, cap * sizeof(*ne));

		if (!ne)
			return;
		c->e = ne;
		c->cap = cap;
	}
	c->e[c->n++] = *e;
}

/* The store answers again: this node's entries (and withdrawals it could not make) are
 * published again, since a lease that expired meanwhile took their keys. */
static void on_store_reconnected(void *arg)
{
	struct daemon *d = arg;
	struct own_ctx c = { d, NULL, 0, 0 };

	route_foreach(d->routes, collect_own, &c);
	for (size_t i = 0; i < c.n; i++) {
		struct job *j = job_by_vip(d, &c.e[i].vip);
		uint64_t seen = c.e[i].store_rev;

		if (!c.e[i].withdrawn && (!j || j->state == JOB_STANDBY))
			c.e[i].withdrawn = true; /* not hosted any more */
		d->store->publish(d, &c.e[i], &seen, 1, false);
	}
	free(c.e);
}

/* The store lists a node (or no longer does): the peers know where to find it. */
static void on_store_node(const char *node, const struct sockaddr_storage *addr, void *arg)
{
	peer_directory(arg, node, addr);
}

int routing_store_start(struct daemon *d)
{
	const struct store_events ev = {
		.entry = on_store_entry,
		.committed = on_store_committed,
		.reconnected = on_store_reconnected,
		.node = on_store_node,
		.arg = d,
	};

	return d->store->start ? d->store->start(d, &ev) : 0;
}

void routing_store_stop(struct daemon *d)
{
	if (d->store && d->store->stop)
		d->store->stop(d);
}

bool routing_store_confirms(const struct daemon *d)
{
	return store_rules(d);
}

const char *routing_strerror(struct daemon *d, int err)
{
	if (err == -ENOTCONN && d->routing->store_why[0])
		return d->routing->store_why;
	return strerror(-err);
}
