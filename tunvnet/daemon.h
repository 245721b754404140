/* The daemon's state: one instance, owned by main(), passed to every module. */
#ifndef TUNVNET_DAEMON_H
#define TUNVNET_DAEMON_H

#include <stdint.h>

#include "tunvnet/config.h"
#include "tunvnet/loop.h"

struct route_table;
struct tunnel_ops;
struct job;
struct peer;
struct control;
struct peer_set;

struct daemon {
	struct config cfg;
	const char *cfg_path;
	struct loop *loop;
	struct route_table *routes;
	const struct tunnel_ops *substrate;   /* control links and data links: tcp */
	struct job *jobs;                     /* job.c */
	struct peer *peers;                   /* peer.c: every node we know of */
	struct peer_set *pset;                /* peer.c: links, seeds, TLS, limits */
	struct control *ctl;                  /* control.c */
	struct loop_timer gc_timer;           /* routing.c: tombstone expiry */
	uint64_t start_ms;
};

#endif
