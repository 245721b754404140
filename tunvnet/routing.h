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
struct peer;
struct route_entry;

int  routing_init(struct daemon *d);   /* 0 or -ENOMEM */
void routing_stop(struct daemon *d);

/* Installs each of v[0..n) -> this node with its next epoch and tells every peer in one
 * frame; epochs[i] gets each epoch. With confirm, every peer answers with the entries it
 * then holds (move_on_ack()). 0 or -errno. */
int routing_announce(struct daemon *d, const struct vip *v, size_t n, uint64_t *epochs,
		     bool confirm);
/* Withdraws v (hosted here) and tells every peer. */
int routing_withdraw(struct daemon *d, const struct vip *v);

/* Tells p (the new node of e's VIP) that everything held here for it was sent. */
void routing_send_handed_over(struct daemon *d, struct peer *p, const struct route_entry *e);
/* Sends p this node's own entries, tombstones included. */
void routing_send_table(struct daemon *d, struct peer *p);
/* Applies a ROUTES frame from p. 0, or -EBADMSG (the link is then closed). */
int routing_receive(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *buf,
		    size_t len);

/* The node a packet to v goes to: NULL for none, or the node name. */
const char *routing_node_of(struct daemon *d, const struct vip *v);

json_t *routing_list_json(struct daemon *d);

#endif
