/* Live migration, in the order a checkpoint/restore tool drives it (DESIGN.md §4):
 *
 *   node A: suspend      the job's packets are held, nothing is written into its TUN
 *   node B: attach --standby   TUN, VIPs and routes ready in the restore namespace,
 *                         nothing announced (packets for it are held)
 *           (the job is restored on B)
 *   node B: activate     the VIPs are announced with a higher epoch; the reply waits until
 *                         every peer up has confirmed, and is an error if another node
 *                         won the VIP meanwhile (then B goes back to standby)
 *   node A: (on hearing) hands its held packets to B, closes its TUN side, and keeps a
 *                         forwarding pointer for the grace period (forward.c)
 *
 * `resume` on A undoes a suspend when a checkpoint is abandoned. `migrate --to B` does
 * the whole hand-over on one machine: B attaches a queue of its own to the job's
 * multi-queue TUN and announces, then A lets go of its queue (make-before-break). */
#ifndef TUNVNET_MOVE_H
#define TUNVNET_MOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunvnet/ctlmsg.h"

#define MOVE_CONFIRM_TIMEOUT_MS 3000  /* activate: how long to wait for every peer */
#define MOVE_MIGRATE_TIMEOUT_MS 10000 /* migrate: how long to wait for the target */
#define MOVE_SPLIT_CHECK_MS     500   /* a suspended job that lost a VIP and kept another
				       * is reported as split if still so this much later */
#define MOVE_HANDOVER_WAIT_MS   1000  /* the new node holds back direct packets at most
				       * this long for the old node's hand-over */

struct daemon;
struct job;
struct peer;
struct route_entry;

/* Where deferred replies go (registered from above: command.c sends them to the control
 * client with that id). reply takes line (malloc'd). */
struct move_events {
	void (*reply)(uint64_t client_id, char *line, void *arg);
	void *arg;
};

/* Makes d->move and registers for what routing reports (routing_set_events): a VIP
 * hosted here routed elsewhere, confirmations, hand-overs. *ev is copied. 0 or -ENOMEM. */
int  move_init(struct daemon *d, const struct move_events *ev);
/* Ends every pending operation (shutdown): each deferred request is answered. */
void move_stop(struct daemon *d);
void move_fini(struct daemon *d);

/* Control handlers; those that may defer set *deferred and return NULL. */
char *move_suspend(struct daemon *d, const struct ctl_request *rq);
char *move_resume(struct daemon *d, const struct ctl_request *rq);
char *move_activate(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
		    bool *deferred);
char *move_migrate(struct daemon *d, uint64_t client_id, const struct ctl_request *rq,
		   bool *deferred);

/* peer.c: MIGRATE and MIGRATE_DONE frames from an authenticated peer. 0 or -EBADMSG. */
int move_on_migrate(struct daemon *d, struct peer *p, const uint8_t *buf, size_t len);
int move_on_migrate_done(struct daemon *d, struct peer *p, const uint8_t *buf, size_t len);
/* peer.c: p went down: operations waiting on it stop waiting. */
void move_peer_down(struct daemon *d, struct peer *p);

#endif
