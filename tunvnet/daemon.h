/* The daemon's state: one instance, owned by main(), passed to every module. */
#ifndef TUNVNET_DAEMON_H
#define TUNVNET_DAEMON_H

#include <stdint.h>

#include "tunvnet/config.h"
#include "tunvnet/loop.h"

struct route_table;
struct tunnel_ops;
struct tunnel_listener;
struct job;
struct peer;
struct conn;
struct control;
struct metrics;

struct daemon {
	struct config cfg;
	const char *cfg_path;
	struct loop *loop;
	struct route_table *routes;
	const struct tunnel_ops *substrate;   /* the one substrate this build uses: tcp */
	struct tunnel_listener *listener;
	struct job *jobs;                     /* job.c */
	struct peer *peers;                   /* peer.c: every node we know of */
	struct conn *conns;                   /* peer.c: links not yet authenticated */
	struct control *ctl;                  /* control.c */
	struct metrics *metrics;              /* metrics.c: NULL without metrics_listen */
	struct loop_timer gc_timer;           /* routing.c: tombstone expiry */
	uint64_t start_ms;
};

#endif
