/* The event ring behind `vnetctl events`. Events are kept as fixed-size records (no
 * allocation when one is added, so the data path may add drops) and turned into JSON
 * only when someone asks: a listing, a follower, a capture's NOTE. */
#include "tunvnet/events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tunvnet/capture.h"
#include "tunvnet/control.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/loop.h"
#include "tunvnet/msg.h"
#include "tunvnet/vip.h"

#define DROP_WINDOW_MS 1000
#define FOLLOW_BUFFER  (1u << 20) /* a follower further behind than this is cut off */
#define MAX_FOLLOWERS  16

struct event {
	double ts;                 /* realtime, seconds */
	enum event_type type;
	char node[NODE_NAME_MAX + 1];
	char detail[96];
	char vip[VIP_STRLEN];
	char old_node[NODE_NAME_MAX + 1], new_node[NODE_NAME_MAX + 1];
	uint64_t old_epoch, new_epoch;
	bool withdrawn;
	enum drop_reason reason;
	uint64_t count;
};

static struct event ring[EVENTS_MAX];
static size_t ring_next, ring_len; /* next slot written; events held */

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
	[EVENT_DROP] = "drop",
};

/* Drops aggregate per reason: the first drop after a quiet second is an event at once;
 * later ones within the second add up and come out as one event when it is over. */
static struct {
	uint64_t last_ms;  /* when the last drop event of this reason was added */
	uint64_t pending;  /* drops since then, not in an event yet */
} drops[DROP_REASON_MAX];

static struct daemon *daemon_ref;   /* known once a client asked for events */
static struct loop_timer drop_timer;
static bool drop_timer_ready;

static struct control_stream *followers[MAX_FOLLOWERS];
static int nfollowers;

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

static json_t *to_json(const struct event *e)
{
	json_t *o = json_pack("{s:f, s:s}", "ts", e->ts, "type", events_type_name(e->type));

	if (!o)
		return NULL;
	switch (e->type) {
	case EVENT_PEER_UP:
	case EVENT_PEER_DOWN:
	case EVENT_HANDSHAKE_REFUSED:
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
	default:
		json_object_set_new(o, "vip", json_string(e->vip));
		json_object_set_new(o, "detail", json_string(e->detail));
		break;
	}
	return o;
}

static void drop_follower(int i)
{
	followers[i] = followers[--nfollowers];
}

/* The event to followers (a line each) and to the captures it concerns (a NOTE). */
static void publish(const struct event *e)
{
	json_t *o;
	char *txt;

	if (!nfollowers && !capture_active)
		return;
	o = to_json(e);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!txt)
		return;
	if (capture_active)
		capture_note(e->vip, e->type == EVENT_ROUTE_CHANGE ? "" : e->node, txt);
	for (int i = 0; i < nfollowers; i++) {
		struct iovec iov[2] = {
			{ .iov_base = txt, .iov_len = strlen(txt) },
			{ .iov_base = "\n", .iov_len = 1 },
		};

		if (control_stream_writev(followers[i], iov, 2) < 0) {
			/* It stopped reading: cut it off rather than hold events for it. */
			control_stream_abort(followers[i]);
			drop_follower(i--);
		}
	}
	free(txt);
}

static struct event *add(enum event_type t)
{
	struct event *e = &ring[ring_next];
	struct timespec ts;

	ring_next = (ring_next + 1) % EVENTS_MAX;
	if (ring_len < EVENTS_MAX)
		ring_len++;
	memset(e, 0, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &ts);
	e->ts = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	e->type = t;
	return e;
}

void events_peer(enum event_type t, const char *node, const char *detail)
{
	struct event *e = add(t);

	snprintf(e->node, sizeof(e->node), "%s", node ? node : "");
	snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	publish(e);
}

void events_route(const char *vip, const char *old_node, uint64_t old_epoch,
		  const char *new_node, uint64_t new_epoch, int withdrawn)
{
	struct event *e = add(EVENT_ROUTE_CHANGE);

	snprintf(e->vip, sizeof(e->vip), "%s", vip ? vip : "");
	snprintf(e->old_node, sizeof(e->old_node), "%s", old_node ? old_node : "");
	snprintf(e->new_node, sizeof(e->new_node), "%s", new_node ? new_node : "");
	e->old_epoch = old_epoch;
	e->new_epoch = new_epoch;
	e->withdrawn = withdrawn != 0;
	publish(e);
	if (capture_active)
		capture_route(e->vip, e->old_node, e->new_node, e->withdrawn);
}

void events_job(enum event_type t, const char *vip, const char *detail)
{
	struct event *e = add(t);

	snprintf(e->vip, sizeof(e->vip), "%s", vip ? vip : "");
	snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	publish(e);
}

static void add_drop(enum drop_reason r, uint64_t count, uint64_t now)
{
	struct event *e = add(EVENT_DROP);

	e->reason = r;
	e->count = count;
	drops[r].last_ms = now;
	publish(e);
}

/* Drops whose second is over become events. Returns the ms until the next is due (0:
 * none pending). */
static uint64_t flush_drops(uint64_t now)
{
	uint64_t next = 0;

	for (int r = 0; r < DROP_REASON_MAX; r++) {
		uint64_t due;

		if (!drops[r].pending)
			continue;
		due = drops[r].last_ms + DROP_WINDOW_MS;
		if (now >= due) {
			uint64_t n = drops[r].pending;

			drops[r].pending = 0;
			add_drop(r, n, now);
		} else if (!next || due - now < next) {
			next = due - now;
		}
	}
	return next;
}

static void on_drop_timer(struct loop_timer *t, void *arg)
{
	uint64_t next = flush_drops(mono_ms());

	if (next && daemon_ref)
		loop_timer_arm(daemon_ref->loop, &drop_timer, next);
}

void events_drop(enum drop_reason r)
{
	uint64_t now;

	if ((unsigned)r >= DROP_REASON_MAX)
		return;
	now = mono_ms();
	if (now - drops[r].last_ms >= DROP_WINDOW_MS) {
		uint64_t n = drops[r].pending + 1;

		drops[r].pending = 0;
		add_drop(r, n, now);
		return;
	}
	if (drops[r].pending++ == 0 && daemon_ref && !loop_timer_armed(&drop_timer))
		loop_timer_arm(daemon_ref->loop, &drop_timer,
			       drops[r].last_ms + DROP_WINDOW_MS > now
			       ? drops[r].last_ms + DROP_WINDOW_MS - now : 0);
}

size_t events_count(void)
{
	return ring_len;
}

json_t *events_list_json(void)
{
	json_t *a = json_array();

	flush_drops(mono_ms());
	for (size_t i = 0; a && i < ring_len; i++) {
		size_t k = (ring_next + EVENTS_MAX - ring_len + i) % EVENTS_MAX;

		json_array_append_new(a, to_json(&ring[k]));
	}
	return a;
}

static void on_follower(struct control_stream *s, enum control_stream_event ev, void *arg)
{
	for (int i = 0; i < nfollowers; i++)
		if (followers[i] == s) {
			drop_follower(i);
			break;
		}
	if (ev == CONTROL_STREAM_EOF)
		control_stream_end(s);
}

void events_start(struct daemon *d)
{
	if (!drop_timer_ready) {
		loop_timer_init(&drop_timer, on_drop_timer, NULL);
		drop_timer_ready = true;
	}
	if (daemon_ref != d) {
		if (daemon_ref)
			loop_timer_stop(daemon_ref->loop, &drop_timer);
		daemon_ref = d;
	}
	if (!loop_timer_armed(&drop_timer)) {
		uint64_t next = flush_drops(mono_ms());

		if (next)
			loop_timer_arm(d->loop, &drop_timer, next);
	}
}

char *events_command(struct daemon *d, uint64_t client_id, const struct ctl_request *rq)
{
	struct control_stream *s;

	events_start(d);
	if (!rq->follow)
		return ctlmsg_reply_ok(events_list_json());
	if (nfollowers >= MAX_FOLLOWERS)
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "%d followers already", MAX_FOLLOWERS);
	s = control_stream_take(d, client_id, FOLLOW_BUFFER, on_follower, NULL);
	if (!s)
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot follow: %s", strerror(errno));
	followers[nfollowers++] = s;
	return ctlmsg_reply_ok(json_pack("{s:b}", "following", 1));
}

void events_stop(struct daemon *d)
{
	if (daemon_ref == d) {
		loop_timer_stop(d->loop, &drop_timer);
		daemon_ref = NULL;
	}
}
