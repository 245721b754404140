/* The daemon's state: one instance per daemon, passed to every module. Everything a
 * daemon holds lives here or in the structs it owns, so that two daemons can run in one
 * process (a unit test does). File statics hold only constant tables; log.c's settings
 * are the process's, not a daemon's.
 *
 * This header is low in the layering: it includes only what it embeds (config, loop,
 * stats) and knows every other module's state as an opaque pointer. Creating, starting,
 * stopping and freeing a daemon is node.c (node_init/node_start/node_stop/node_free).
 *
 * Layers, low to high; a module calls only modules below it. Lower ones report upward
 * through callbacks registered from above (a small struct X_events of function pointers
 * and an arg, as tunnel_events does), never by calling up. `make check` runs
 * scripts/check-layering, which builds this graph from the sources' includes and the
 * objects' symbols and fails on any cycle.
 *
 *   log, loop                    logging; the epoll loop, timers, signals
 *   wire, frame, msg, ctlmsg,    codecs: bytes <-> structs, no state
 *     capmsg, auth
 *   vip, addr, packet, vnet,     addresses, IP parsing, virtio-net headers and GSO
 *     route                      the route table (epochs, tombstones)
 *   config, tun, netns           configuration; TUN devices and namespaces
 *   tunnel (tcp)                 substrates: frames over links (tunnel_events up)
 *   stats                        counters; drops reported through stats_events
 *   daemon.h                     this struct
 *   events                       the event bus and ring; subscribers: capture, the
 *                                control socket's followers (command.c)
 *   control                      the control socket as a transport: clients, replies
 *                                by request id, streams; requests go up to the handler
 *                                registered in control_events (command.c)
 *   capture                      the capture tap the data path calls, and its sessions
 *   job                          jobs' TUNs; packets read go up through job_events
 *                                (forward.c), packets in come down by job_deliver()
 *   watch                        the periodic check that the kernel still holds each
 *                                job's TUN, addresses and routes (tunlink: netlink)
 *   peer                         peers and links (being rebuilt: its calls up into
 *                                forward, routing, move are allowed in
 *                                tests/layering-allow until then)
 *   routing                      route distribution; reports through routing_events
 *                                (move.c)
 *   forward                      the data path between jobs and links
 *   move                         suspend / activate / migrate; deferred replies go out
 *                                through move_events.reply (to control_reply by id)
 *   command                      the {name, handler} table of control commands, the
 *                                JSON of stats, events followers
 *   metrics                      the Prometheus endpoint
 *   liveness                     dead peers: their routes marked unreachable
 *   state                        the state file: jobs and own epochs kept across a
 *                                restart, re-adopted at start
 *   node                         a daemon's life: init, start, stop, free; wires the
 *                                callbacks above together
 *   main                         tunvnetd's main(): options, config, signals */
#ifndef TUNVNET_DAEMON_H
#define TUNVNET_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "tunvnet/config.h"
#include "tunvnet/loop.h"
#include "tunvnet/stats.h"

struct route_table;
struct tunnel_ops;
struct job;
struct peer;
struct control;
struct events;
struct captures;
struct job_ctx;
struct routing;
struct forward;
struct move;
struct command;
struct peer_set;
struct metrics;
struct watch;
struct liveness;
struct state;
struct store_ops;
struct etcd;

struct daemon {
	struct config cfg;
	const char *cfg_path;
	struct loop *loop;
	bool own_loop;                        /* node_init made it: node_free frees it */
	bool running;                         /* node_start succeeded */
	struct route_table *routes;
	const struct tunnel_ops *substrate;   /* control links and data links: tcp */
	struct job *jobs;                     /* job.c */
	struct peer *peers;                   /* peer.c: every node we know of */
	struct peer_set *pset;                /* peer.c: links, seeds, TLS, limits */
	struct stats stats;                   /* stats.h: the counters */
	struct events *events;                /* events.c: bus and ring */
	struct control *ctl;                  /* control.c: NULL until node_start */
	struct captures *capture;              /* capture.c */
	struct job_ctx *jobctx;               /* job.c: VIP index, GRO, backpressure */
	struct routing *routing;              /* routing.c: batches, tombstone expiry */
	struct forward *forward;              /* forward.c: forwarding pointers */
	struct move *move;                    /* move.c: pending operations */
	struct command *command;              /* command.c: followers */
	struct metrics *metrics;              /* metrics.c: NULL without metrics_listen */
	struct watch *watch;                  /* watch.c: the periodic kernel check */
	struct liveness *liveness;            /* liveness.c: dead peers' routes */
	struct state *state;                  /* state.c: the state file (restarts) */
	const struct store_ops *store;        /* store.h: where routes live (mesh, etcd) */
	struct etcd *etcd;                    /* etcd.c: NULL unless route_store = etcd */
	uint64_t start_ms;
};

#endif
