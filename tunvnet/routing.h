/* Route distribution: this node's announcements and withdrawals, full tables for peers
 * that come up, and what peers tell us. The table itself (epochs, ties, tombstones) is
 * route.c; this file decides what to send and keeps this node authoritative about
 * itself: an entry naming this node for a VIP it does not host is withdrawn, and a
 * withdrawal of a VIP it does host is answered with a newer announcement. */
#ifndef TUNVNET_ROUTING_H
#define TUNVNET_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tunvnet/vip.h"

#define ROUTING_TOMBSTONE_MS (10 * 60 * 1000)
#define ROUTING_EPOCH_MAX    ((uint64_t)INT64_MAX) /* higher is refused: see routing.c */
#define ROUTING_RESYNC_MAX   65536 /* a full table may jump this far (missed moves) */

struct daemon;
struct job;
struct peer;
struct route_entry;

/* What routing reports upward (registered by move.c with routing_set_events()). Any
 * may be NULL. */
struct routing_events {
	/* v, hosted here by j (not on standby), is now routed to cur->node. */
	void (*route_lost)(struct job *j, const struct vip *v, const struct route_entry *cur,
			   void *arg);
	/* p confirmed an announcement with the entries it now holds. */
	void (*acked)(struct peer *p, const struct route_entry *e, size_t n, void *arg);
	/* p, a VIP's old node, has handed over all it held for e[0..n). */
	void (*handed_over)(struct peer *p, const struct route_entry *e, size_t n, void *arg);
	/* An authoritative store ended the publication of v[0..n) asked with confirm: 0,
	 * -ECANCELED (another node won: route_lost came first), or -errno with why. */
	void (*stored)(const struct vip *v, size_t n, int err, const char *why, void *arg);
	void *arg;
};

/* Makes the route table and d->routing, and starts tombstone expiry. 0 or -ENOMEM. */
int  routing_init(struct daemon *d);
void routing_stop(struct daemon *d);
/* *ev is copied. */
void routing_set_events(struct daemon *d, const struct routing_events *ev);

/* Installs each of v[0..n) -> this node with its next epoch and publishes them in one
 * frame to every peer (mesh) or one transaction (etcd); epochs[i] gets each epoch. With
 * confirm, every peer answers with the entries it then holds (routing_events.acked), or
 * the store with the outcome (routing_events.stored). 0, -ENOTCONN when the store cannot
 * be reached (nothing changed; routing_strerror says why), or -errno. */
int routing_announce(struct daemon *d, const struct vip *v, size_t n, uint64_t *epochs,
		     bool confirm);
/* Withdraws v (hosted here) and tells every peer. */
int routing_withdraw(struct daemon *d, const struct vip *v);

/* Tells p (the new node of e's VIP) that everything held here for it was sent. */
void routing_send_handed_over(struct daemon *d, struct peer *p, const struct route_entry *e);
/* Sends p this node's own entries, tombstones included: a slice of the table now, the
 * rest one slice per loop turn (a large table does not stall the loop). */
void routing_send_table(struct daemon *d, struct peer *p);
/* Applies a ROUTES frame from p. 0, or -EBADMSG (the link is then closed). */
int routing_receive(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *buf,
		    size_t len);

/* The node a packet to v goes to: NULL for none, or the node name. */
const char *routing_node_of(struct daemon *d, const struct vip *v);

json_t *routing_list_json(struct daemon *d);

/* The route store (store.h): d->store is picked before routing_init (the mesh when
 * NULL). Start after the peers, stop before them. 0 or -errno. */
extern const struct store_ops routing_mesh_store;
int  routing_store_start(struct daemon *d);
void routing_store_stop(struct daemon *d);
/* true when an announcement is confirmed by the store (routing_events.stored), not by
 * every peer (routing_events.acked). */
bool routing_store_confirms(const struct daemon *d);
/* The text for an error of routing_announce (-ENOTCONN: the store's own words). */
const char *routing_strerror(struct daemon *d, int err);

#endif
