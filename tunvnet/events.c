/* The event bus behind `vnetctl events`. Events are kept as fixed-size records (no
 * allocation when one is added, so the data path may add drops) and turned into JSON
 * only when someone asks: a listing, or a subscriber (a follower, a capture's NOTE). */
#include "tunvnet/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tunvnet/loop.h"

#define DROP_WINDOW_MS 1000

struct events {
	struct loop *loop;
	struct event ring[EVENTS_MAX];
	size_t ring_next, ring_len; /* next slot written; events held */
	/* Drops aggregate per reason: the first drop after a quiet second is an event at
	 * once; later ones within the second add up and come out as one event when it is
	 * over. */
	struct {
		uint64_t last_ms;  /* when the last drop event of this reason was added */
		uint64_t pending;  /* drops since then, not in an event yet */
	} drops[DROP_REASON_MAX + LIMIT_REASON_MAX]; /* drops, then limits reached */
	struct loop_timer drop_timer;
	struct events_sub *subs;
	size_t nsubs;
};

static const char *const type_names[EVENT_TYPE_MAX] = {
	[EVENT_PEER_UP] = "peer_up",
	[EVENT_PEER_DOWN] = "peer_down",
	[EVENT_HANDSHAKE_REFUSED] = "handshake_refused",
	[EVENT_ROUTE_CHANGE] = "route_change",
	[EVENT_JOB_ATTACH] = "job_attach",
	[EVENT_JOB_DETACH] = "job_detach",
	[EVENT_JOB_SUSPEND] = "job_suspend",
	[EVENT_JOB_RESUME] = "job_resume",
	[EVENT_JOB_STANDBY] = "job_standby",
	[EVENT_JOB_ACTIVATE] = "job_activate",
	[EVENT_JOB_RELEASE] = "job_release",
	[EVENT_JOB_BROKEN] = "job_broken",
	[EVENT_JOB_REPAIR] = "job_repair",
	[EVENT_DROP] = "drop",
	[EVENT_LIMIT] = "limit",
	[EVENT_SUBSTRATE_SWITCH] = "substrate_switch",
};

const char *events_type_name(enum event_type t)
{
	return (unsigned)t < EVENT_TYPE_MAX ? type_names[t] : "?";
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	/* coarse: a vDSO read, cheap enough for every drop */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

json_t *events_to_json(const struct event *e)
{
	json_t *o = json_pack("{s:f, s:s}", "ts", e->ts, "type", events_type_name(e->type));

	if (!o)
		return NULL;
	switch (e->type) {
	case EVENT_PEER_UP:
	case EVENT_PEER_DOWN:
	case EVENT_HANDSHAKE_REFUSED:
	case EVENT_SUBSTRATE_SWITCH:
		json_object_set_new(o, "node", json_string(e->node));
		json_object_set_new(o, "detail", json_string(e->detail));
		break;
	case EVENT_ROUTE_CHANGE:
		json_object_set_new(o, "vip", json_string(e->vip));
		json_object_set_new(o, "old_node", json_string(e->old_node));
		json_object_set_new(o, "old_epoch", json_integer((json_int_t)e->old_epoch));
		json_object_set_new(o, "new_node", json_string(e->new_node));
		json_object_set_new(o, "new_epoch", json_integer((json_int_t)e->new_epoch));
		json_object_set_new(o, "withdrawn", json_boolean(e->withdrawn));
		break;
	case EVENT_DROP:
		json_object_set_new(o, "reason", json_string(stats_drop_name(e->reason)));
		json_object_set_new(o, "count", json_integer((json_int_t)e->count));
		break;
	case EVENT_LIMIT:
		json_object_set_new(o, "limit", json_string(stats_limit_name(e->limit)));
		json_object_set_new(o, "count", json_integer((json_int_t)e->count));
		break;
	default:
		json_object_set_new(o, "vip", json_string(e->vip));
		json_object_set_new(o, "detail", json_string(e->detail));
		break;
	}
	return o;
}

void events_subscribe(struct events *ev, struct events_sub *s)
{
	s->next = ev->subs;
	ev->subs = s;
	ev->nsubs++;
}

void events_unsubscribe(struct events *ev, struct events_sub *s)
{
	for (struct events_sub **pp = &ev->subs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			ev->nsubs--;
			return;
		}
	}
}

size_t events_subscribers(const struct events *ev)
{
	return ev->nsubs;
}

/* The event to every subscriber, its JSON made once. */
static void publish(struct events *ev, const struct event *e)
{
	struct events_sub *s, *next;
	json_t *o;
	char *txt;

	if (!ev->subs)
		return;
	o = events_to_json(e);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!txt)
		return;
	for (s = ev->subs; s; s = next) {
		next = s->next; /* s may unsubscribe itself */
		s->event(e, txt, s->arg);
	}
	free(txt);
}

static struct event *add(struct events *ev, enum event_type t)
{
	struct event *e = &ev->ring[ev->ring_next];
	struct timespec ts;

	ev->ring_next = (ev->ring_next + 1) % EVENTS_MAX;
	if (ev->ring_len < EVENTS_MAX)
		ev->ring_len++;
	memset(e, 0, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &ts);
	e->ts = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	e->type = t;
	return e;
}

void events_peer(struct events *ev, enum event_type t, const char *node, const char *detail)
{
	struct event *e = add(ev, t);

	snprintf(e->node, sizeof(e->node), "%s", node ? node : "");
	snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	publish(ev, e);
}

void events_route(struct events *ev, const char *vip, const char *old_node,
		  uint64_t old_epoch, const char *new_node, uint64_t new_epoch, int withdrawn)
{
	struct event *e = add(ev, EVENT_ROUTE_CHANGE);

	snprintf(e->vip, sizeof(e->vip), "%s", vip ? vip : "");
	snprintf(e->old_node, sizeof(e->old_node), "%s", old_node ? old_node : "");
	snprintf(e->new_node, sizeof(e->new_node), "%s", new_node ? new_node : "");
	e->old_epoch = old_epoch;
	e->new_epoch = new_epoch;
	e->withdrawn = withdrawn != 0;
	publish(ev, e);
}

void events_job(struct events *ev, enum event_type t, const char *vip, const char *detail)
{
	struct event *e = add(ev, t);

	snprintf(e->vip, sizeof(e->vip), "%s", vip ? vip : "");
	snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	publish(ev, e);
}

/* r < DROP_REASON_MAX: a drop reason; above, DROP_REASON_MAX + a limit reason. */
static void add_drop(struct events *ev, int r, uint64_t count, uint64_t now)
{
	struct event *e = add(ev, r < DROP_REASON_MAX ? EVENT_DROP : EVENT_LIMIT);

	if (r < DROP_REASON_MAX)
		e->reason = (enum drop_reason)r;
	else
		e->limit = (enum limit_reason)(r - DROP_REASON_MAX);
	e->count = count;
	ev->drops[r].last_ms = now;
	publish(ev, e);
}

/* Drops whose second is over become events. Returns the ms until the next is due (0:
 * none pending). */
static uint64_t flush_drops(struct events *ev, uint64_t now)
{
	uint64_t next = 0;

	for (int r = 0; r < DROP_REASON_MAX + LIMIT_REASON_MAX; r++) {
		uint64_t due;

		if (!ev->drops[r].pending)
			continue;
		due = ev->drops[r].last_ms + DROP_WINDOW_MS;
		if (now >= due) {
			uint64_t n = ev->drops[r].pending;

			ev->drops[r].pending = 0;
			add_drop(ev, r, n, now);
		} else if (!next || due - now < next) {
			next = due - now;
		}
	}
	return next;
}

static void on_drop_timer(struct loop_timer *t, void *arg)
{
	struct events *ev = arg;
	uint64_t next = flush_drops(ev, mono_ms());

	if (next)
		loop_timer_arm(ev->loop, &ev->drop_timer, next);
}

/* n more of aggregate r (a drop reason, or DROP_REASON_MAX + a limit reason). */
static void aggregate(struct events *ev, int r, uint64_t n_new)
{
	uint64_t now;

	now = mono_ms();
	if (now - ev->drops[r].last_ms >= DROP_WINDOW_MS) {
		uint64_t n = ev->drops[r].pending + n_new;

		ev->drops[r].pending = 0;
		add_drop(ev, r, n, now);
		return;
	}
	ev->drops[r].pending += n_new;
	if (ev->drops[r].pending == n_new && ev->loop && !loop_timer_armed(&ev->drop_timer))
		loop_timer_arm(ev->loop, &ev->drop_timer,
			       ev->drops[r].last_ms + DROP_WINDOW_MS > now
			       ? ev->drops[r].last_ms + DROP_WINDOW_MS - now : 0);
}

void events_drop(struct events *ev, enum drop_reason r)
{
	if ((unsigned)r < DROP_REASON_MAX)
		aggregate(ev, (int)r, 1);
}

void events_limit(struct events *ev, enum limit_reason r, uint64_t n)
{
	if ((unsigned)r < LIMIT_REASON_MAX && n)
		aggregate(ev, DROP_REASON_MAX + (int)r, n);
}

static void on_stats_drop(enum drop_reason r, void *arg)
{
	events_drop(arg, r);
}

static void on_stats_limit(enum limit_reason r, uint64_t n, void *arg)
{
	events_limit(arg, r, n);
}

void events_stats_hook(struct events *ev, struct stats_events *out)
{
	out->drop = on_stats_drop;
	out->limit = on_stats_limit;
	out->arg = ev;
}

size_t events_count(const struct events *ev)
{
	return ev->ring_len;
}

json_t *events_list_json(struct events *ev)
{
	json_t *a = json_array();

	flush_drops(ev, mono_ms());
	for (size_t i = 0; a && i < ev->ring_len; i++) {
		size_t k = (ev->ring_next + EVENTS_MAX - ev->ring_len + i) % EVENTS_MAX;

		json_array_append_new(a, events_to_json(&ev->ring[k]));
	}
	return a;
}

int events_new(struct loop *loop, struct events **out)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->loop = loop;
	loop_timer_init(&ev->drop_timer, on_drop_timer, ev);
	*out = ev;
	return 0;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	if (ev->loop)
		loop_timer_stop(ev->loop, &ev->drop_timer);
	free(ev);
}
