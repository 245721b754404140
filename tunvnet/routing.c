#include "tunvnet/routing.h"

#include <errno.h>
#include <string.h>

#include "tunnel/frame.h"
#include "tunvnet/daemon.h"
#include "tunvnet/job.h"
#include "tunvnet/log.h"
#include "tunvnet/msg.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"

#define GC_INTERVAL_MS (60 * 1000)
#define MAX_PER_FRAME  (FRAME_MAX_PAYLOAD / 16) /* the smallest encoded route is 16 bytes */

/* Batches routes into ROUTES frames for one peer, or for every peer up (to == NULL). */
struct batch {
	struct daemon *d;
	struct peer *to;
	uint16_t flags;
	size_t n, bytes;
	struct route_entry e[MAX_PER_FRAME];
	uint8_t buf[FRAME_MAX_PAYLOAD];
};

static struct batch batch;

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

static void broadcast(struct daemon *d, const struct route_entry *e)
{
	batch_start(&batch, d, NULL, 0);
	batch_add(e, &batch);
	batch_flush(&batch);
}

static void on_gc(struct loop_timer *t, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = loop_now(d->loop);

	if (now > ROUTING_TOMBSTONE_MS)
		route_expire(d->routes, now - ROUTING_TOMBSTONE_MS);
	loop_timer_arm(d->loop, &d->gc_timer, GC_INTERVAL_MS);
}

int routing_init(struct daemon *d)
{
	int err = route_table_new(&d->routes);

	if (err < 0)
		return err;
	loop_timer_init(&d->gc_timer, on_gc, d);
	loop_timer_arm(d->loop, &d->gc_timer, GC_INTERVAL_MS);
	return 0;
}

void routing_stop(struct daemon *d)
{
	loop_timer_stop(d->loop, &d->gc_timer);
	route_table_free(d->routes);
	d->routes = NULL;
}

static int install_self(struct daemon *d, const struct vip *v, uint64_t epoch, bool withdrawn)
{
	struct route_entry e;
	int err;

	memset(&e, 0, sizeof(e));
	e.vip = *v;
	e.epoch = epoch;
	e.withdrawn = withdrawn;
	e.changed_ms = loop_now(d->loop);
	snprintf(e.node, sizeof(e.node), "%s", d->cfg.node);
	err = route_update(d->routes, &e);
	if (err < 0)
		return err;
	broadcast(d, &e);
	return 0;
}

int routing_announce(struct daemon *d, const struct vip *v, uint64_t *epoch)
{
	*epoch = route_next_epoch(d->routes, v);
	return install_self(d, v, *epoch, false);
}

int routing_withdraw(struct daemon *d, const struct vip *v)
{
	const struct route_entry *e = route_get(d->routes, v);

	if (!e || e->withdrawn || strcmp(e->node, d->cfg.node) != 0)
		return -ENOENT;
	return install_self(d, v, e->epoch, true);
}

void routing_send_table(struct daemon *d, struct peer *p)
{
	batch_start(&batch, d, p, FRAME_F_FULL_TABLE);
	route_foreach(d->routes, batch_add, &batch);
	batch_flush(&batch);
}

/* Keeps what the cluster believes about this node true. */
static void assert_self(struct daemon *d, const struct vip *v)
{
	const struct route_entry *cur = route_get(d->routes, v);
	bool hosted = job_by_vip(d, v) != NULL;
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
			routing_announce(d, v, &epoch);
		}
	} else if (!cur->withdrawn && hosted) {
		log_warnx("VIP %s is hosted here but now routed to %s (epoch %llu)",
			  vip_fmt(v, buf), cur->node, (unsigned long long)cur->epoch);
	}
}

int routing_receive(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *buf,
		    size_t len)
{
	static struct route_entry e[MAX_PER_FRAME];
	size_t n;
	char vb[VIP_STRLEN];

	if (msg_routes_decode(buf, len, e, MAX_PER_FRAME, &n) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		int changed;

		e[i].changed_ms = loop_now(d->loop);
		changed = route_update(d->routes, &e[i]);
		if (changed > 0)
			log_debug("route %s -> %s epoch %llu%s (from %s)", vip_fmt(&e[i].vip, vb),
				  e[i].node, (unsigned long long)e[i].epoch,
				  e[i].withdrawn ? " withdrawn" : "", p->name);
		if (changed != 0 || strcmp(e[i].node, d->cfg.node) == 0)
			assert_self(d, &e[i].vip);
	}
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
	json_array_append_new(c->arr, json_pack("{s:s, s:s, s:I, s:b}", "vip",
		vip_fmt(&e->vip, buf), "node", e->node, "epoch", (json_int_t)e->epoch,
		"local", strcmp(e->node, c->self) == 0));
}

json_t *routing_list_json(struct daemon *d)
{
	struct list_ctx c = { json_array(), d->cfg.node };

	route_foreach(d->routes, list_one, &c);
	return c.arr;
}
