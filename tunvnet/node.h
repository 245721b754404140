/* A daemon's life, in order: node_init, node_start, (the loop runs), node_stop,
 * node_free. Each undoes its counterpart in reverse order. Nothing here is global: two
 * daemons can live in one process (tests do), each with its own struct daemon, on their
 * own loops or on one shared loop.
 *
 *   node_init   the loop (unless the caller set d->loop), the event bus, capture, jobs,
 *               routing, forward, move, commands; and the callbacks that connect them
 *               (stats -> events, job -> forward, routing -> move, move -> control by
 *               request id, control -> command). Nothing listens yet.
 *   node_start  the jobs of the state file taken up again (state.h), the control
 *               socket, the metrics endpoint, the peer listener and seeds.
 *   node_stop   the state file written, pending moves answered, peers closed, metrics
 *               and control closed, jobs let go (their persistent TUNs stay, and the
 *               state file names them, for a restarted daemon).
 *   node_teardown (SIGUSR2, before node_stop) every job detached for good: its VIPs
 *               withdrawn, its TUN destroyed; the state file keeps only epochs.
 *   node_free   the state node_init made, and the loop if node_init made it. */
#ifndef TUNVNET_NODE_H
#define TUNVNET_NODE_H

struct daemon;

/* d: zeroed, with d->cfg loaded (config_load) and optionally d->loop and d->cfg_path
 * set. 0 or -errno; on failure what was made is freed again. */
int  node_init(struct daemon *d);
/* 0 or -errno (logged); on failure what had started is stopped again. */
int  node_start(struct daemon *d);
/* Safe whether or not node_start ran or succeeded. */
void node_stop(struct daemon *d);
/* Detaches every job as `vnetctl detach` would (withdrawn, TUN destroyed) and tells the
 * peers; call from inside the loop, then stop it. */
void node_teardown(struct daemon *d);
void node_free(struct daemon *d);

#endif
