/* A daemon's life (node.h): the one place that knows every module, creates their state
 * low to high, wires each lower layer's callbacks to the layer above, and tears it all
 * down in reverse. */
#include "tunvnet/node.h"

#include <errno.h>

#include "tunnel/frame.h"
#include "tunnel/substrate.h"
#include "tunvnet/capture.h"
#include "tunvnet/command.h"
#include "tunvnet/control.h"
#include "tunvnet/daemon.h"
#include "tunvnet/etcd.h"
#include "tunvnet/events.h"
#include "tunvnet/forward.h"
#include "tunvnet/job.h"
#include "tunvnet/liveness.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/metrics.h"
#include "tunvnet/move.h"
#include "tunvnet/peer.h"
#include "tunvnet/routing.h"
#include "tunvnet/watch.h"
#include "tunvnet/state.h"

/* control -> command: each request line. */
static char *on_request(uint64_t client_id, const char *line, size_t len, bool *deferred,
			void *arg)
{
	return command_run(arg, client_id, line, len, deferred);
}

/* move -> control: a deferred reply finds its client by id. */
static void reply_by_id(uint64_t client_id, char *line, void *arg)
{
	struct daemon *d = arg;

	control_reply(d->ctl, client_id, line);
}

/* peer -> the modules above it: the frames of an up peer that this layer takes, and who
 * takes each (the peer layer handles its own: HELLO, LINK_*, PEERS, PING, PONG). */
static int on_data(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		   size_t len)
{
	forward_from_peer(p, flags, b, len);
	return 0;
}

static int on_routes(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		     size_t len)
{
	return routing_receive(d, p, flags, b, len);
}

static int on_migrate(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		      size_t len)
{
	return move_on_migrate(d, p, b, len);
}

static int on_migrate_done(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
			   size_t len)
{
	return move_on_migrate_done(d, p, b, len);
}

static const struct {
	uint8_t type;
	int (*fn)(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		  size_t len);
} frames[] = {
	{ FRAME_DATA, on_data },
	{ FRAME_ROUTES, on_routes },
	{ FRAME_MIGRATE, on_migrate },
	{ FRAME_MIGRATE_DONE, on_migrate_done },
};

static int on_peer_frame(struct peer *p, uint8_t type, uint16_t flags, const uint8_t *payload,
			 size_t len, void *arg)
{
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		if (frames[i].type == type)
			return frames[i].fn(arg, p, flags, payload, len);
	return -EBADMSG;
}

/* A peer that comes up gets this node's own routes. */
static void on_peer_up(struct peer *p, void *arg)
{
	liveness_peer_up(arg, p);
	routing_send_table(arg, p);
}

static void on_peer_down(struct peer *p, const char *why, void *arg)
{
	move_peer_down(arg, p);
	liveness_peer_down(arg, p);
}

static const struct peer_events peer_ev = {
	.up = on_peer_up,
	.down = on_peer_down,
	.frame = on_peer_frame,
};

int node_init(struct daemon *d)
{
	struct stats_events drops;
	int err;

	if (!d->loop) {
		err = loop_new(&d->loop);
		if (err < 0)
			return err;
		d->own_loop = true;
	}
	if (!d->substrate)
		d->substrate = substrate_lookup("tcp");
	/* The route store, picked here only ([store] route_store). */
	if (!d->store)
		d->store = d->cfg.store.etcd ? &etcd_store : &routing_mesh_store;
	d->start_ms = loop_now(d->loop);
	err = events_new(d->loop, &d->events);
	if (err < 0)
		goto fail;
	events_stats_hook(d->events, &drops);
	stats_set_events(&d->stats, &drops);
	err = capture_new(d, &d->capture);
	if (err == 0)
		err = job_init(d);
	if (err == 0)
		err = watch_init(d);
	if (err == 0)
		err = routing_init(d);
	if (err == 0)
		err = forward_init(d);
	if (err == 0)
		err = move_init(d, &(struct move_events){ .reply = reply_by_id, .arg = d });
	if (err == 0)
		err = command_init(d);
	if (err == 0)
		err = liveness_init(d);
	if (err == 0)
		err = state_init(d);
	if (err < 0)
		goto fail;
	return 0;
fail:
	node_free(d);
	return err;
}

int node_start(struct daemon *d)
{
	const struct control_events ctl = { .request = on_request, .arg = d };
	int err;

	/* Before anyone can ask: the jobs of the last run are back, or dropped and said. */
	err = state_restore(d);
	if (err < 0)
		return err;
	err = control_start(d->loop, d->cfg.ctl_socket, &ctl, &d->ctl);
	if (err < 0)
		return err;
	control_set_limits(d->ctl, d->cfg.limits.control_clients, d->cfg.limits.control_idle_s,
			   &d->stats);
	/* The other local management interface: off unless metrics_listen is set. */
	err = metrics_start(d);
	if (err < 0)
		goto out_control;
	err = peer_start(d, &peer_ev, d);
	if (err < 0)
		goto out_metrics;
	err = routing_store_start(d);
	if (err < 0)
		goto out_peers;
	state_dial_peers(d);
	d->running = true;
	return 0;
out_peers:
	peer_stop(d);
out_metrics:
	metrics_stop(d);
out_control:
	control_stop(d->ctl);
	d->ctl = NULL;
	return err;
}

void node_stop(struct daemon *d)
{
	state_stop(d); /* the file as it is now: what follows lets go, forgets nothing */
	move_stop(d);
	if (d->running) {
		routing_store_stop(d);
		peer_stop(d);
		metrics_stop(d);
		d->running = false;
	}
	control_stop(d->ctl); /* streams end: captures and followers let go */
	d->ctl = NULL;
	job_close_all(d);
}

void node_teardown(struct daemon *d)
{
	while (d->jobs) {
		struct job *j = d->jobs;
		char vb[VIP_STRLEN];
		bool gone = false;

		if (j->nvips == 0) {
			job_drop_if_empty(j);
			continue;
		}
		while (!gone) {
			struct vip v = j->vips[0];

			vip_fmt(&v, vb);
			routing_withdraw(d, &v);
			events_job(d->events, EVENT_JOB_DETACH, vb, j->netns);
			if (job_del_vip(j, &v, &gone) < 0 && !gone)
				log_warnx("teardown: removing %s from %s failed", vb, j->netns);
		}
	}
	for (struct peer *p = d->peers; p; p = p->next)
		if (peer_is_up(p))
			peer_flush(p);
	state_flush(d);
	log_info("teardown: every job detached, its TUN destroyed");
}

void node_free(struct daemon *d)
{
	state_fini(d);
	liveness_fini(d);
	command_fini(d);
	move_fini(d);
	forward_fini(d);
	routing_stop(d);
	watch_fini(d);
	job_fini(d);
	capture_free(d->capture);
	d->capture = NULL;
	stats_set_events(&d->stats, NULL);
	events_free(d->events);
	d->events = NULL;
	if (d->own_loop) {
		loop_free(d->loop);
		d->loop = NULL;
		d->own_loop = false;
	}
}
