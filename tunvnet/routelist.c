#include "tunvnet/routelist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "tunvnet/control.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/route.h"

#define ENTRY_MAX 160 /* one formatted entry, at most */

struct listing {
	struct daemon *d;
	struct control_stream *s;
	struct loop_timer timer;
	size_t cursor, count;
	char *buf;        /* the slice being formatted: "[{..},{..}]\n" */
	size_t len;
};

static void listing_free(struct listing *l)
{
	loop_timer_stop(l->d->loop, &l->timer);
	free(l->buf);
	free(l);
}

static void put_entry(const struct route_entry *e, void *arg)
{
	struct listing *l = arg;
	char vb[VIP_STRLEN];
	int n;

	if (e->withdrawn)
		return;
	/* Node names are [A-Za-z0-9._-] (msg.c checks every name it decodes): no escaping */
	n = snprintf(l->buf + l->len, ENTRY_MAX, "%s{\"vip\":\"%s\",\"node\":\"%s\",\"epoch\":%llu,"
		     "\"local\":%s}", l->len > 1 ? "," : "", vip_fmt(&e->vip, vb), e->node,
		     (unsigned long long)e->epoch,
		     strcmp(e->node, l->d->cfg.node) == 0 ? "true" : "false");
	if (n > 0 && n < ENTRY_MAX) {
		l->len += (size_t)n;
		l->count++;
	}
}

static void on_stream(struct control_stream *s, enum control_stream_event ev, void *arg)
{
	listing_free(arg);
	if (ev == CONTROL_STREAM_EOF)
		control_stream_end(s);
}

/* One slice: formatted only when the client's ring can take the most it can be. */
static void on_slice(struct loop_timer *t, void *arg)
{
	struct listing *l = arg;
	size_t most = ROUTELIST_SLICE * ENTRY_MAX + 4;
	struct iovec iov;
	bool more;

	if (control_stream_room(l->s) < most) {
		loop_timer_arm(l->d->loop, &l->timer, 1); /* the client reads slowly */
		return;
	}
	l->buf[0] = '[';
	l->len = 1;
	more = route_walk(l->d->routes, &l->cursor, ROUTELIST_SLICE, put_entry, l);
	if (l->len > 1) {
		memcpy(l->buf + l->len, "]\n", 2);
		iov = (struct iovec){ l->buf, l->len + 2 };
		control_stream_writev(l->s, &iov, 1); /* fits: checked above */
	}
	if (more) {
		loop_timer_arm(l->d->loop, &l->timer, 0);
		return;
	}
	l->len = (size_t)snprintf(l->buf, most, "{\"end\":true,\"count\":%zu}\n", l->count);
	iov = (struct iovec){ l->buf, l->len };
	control_stream_writev(l->s, &iov, 1);
	control_stream_end(l->s);
	listing_free(l);
}

char *routelist_start(struct daemon *d, uint64_t client_id)
{
	struct listing *l = calloc(1, sizeof(*l));
	int e;

	if (!l || !(l->buf = malloc(ROUTELIST_SLICE * ENTRY_MAX + 4))) {
		if (l)
			free(l);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "out of memory");
	}
	l->d = d;
	loop_timer_init(&l->timer, on_slice, l);
	l->s = control_stream_take(d->ctl, client_id, ROUTELIST_BUFFER, on_stream, l);
	if (!l->s) {
		e = errno;
		free(l->buf);
		free(l);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot stream the routes: %s",
					strerror(e));
	}
	loop_timer_arm(d->loop, &l->timer, 0);
	return ctlmsg_reply_ok(json_pack("{s:b, s:I}", "streaming", 1, "routes",
					 (json_int_t)route_count(d->routes)));
}
