/* The route table: VIP -> (node, epoch).
 *
 * The node that hosts a VIP announces it with an epoch one higher than the highest it
 * has seen for that VIP. Between two entries for one VIP the one with the higher epoch
 * wins; at equal epochs the higher node name (strcmp) wins; for the same node and epoch
 * a withdrawal beats an announcement. A withdrawal is kept as a tombstone (withdrawn =
 * true) so that an older announcement relayed late (a full table from a peer that missed
 * the withdrawal) cannot bring the route back; tombstones expire after a while.
 * route_lookup() never returns a tombstone. Lookup is O(1) (open hash on the VIP).
 *
 * Unreachable. A live entry whose node was declared dead (nothing heard from it for
 * peer_timeout: tunvnet/liveness.c) is marked unreachable: it stays in the table with
 * its epoch (so the node's own later announcement, or a newer one from the node a VIP
 * moved to, is judged against it as before), but packets for it get an ICMP / ICMPv6
 * unreachable at the sender's node. The mark is local knowledge, never on the wire: any
 * update that wins replaces the entry and clears it, and route_set_unreachable() clears
 * it for a node that comes back. */
#ifndef TUNVNET_ROUTE_H
#define TUNVNET_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunvnet/vip.h"

#define ROUTE_NODE_MAX 31

struct route_entry {
	struct vip vip;
	bool withdrawn;      /* beside vip's 17 bytes: the entry stays 80 bytes */
	bool unreachable;    /* its node is declared dead (above); never sent */
	uint64_t epoch;
	char node[ROUTE_NODE_MAX + 1];
	uint64_t changed_ms; /* local monotonic time of the last change; set by the caller */
	uint64_t store_rev;  /* an authoritative store's revision of it (tunvnet/store.h), 0
			      * for the mesh's entries and for a VIP the store has no key for */
};

struct route_table;

int  route_table_new(struct route_table **out);  /* 0 or -ENOMEM */
void route_table_free(struct route_table *t);

/* true when a beats b by the rule above (same VIP assumed). */
bool route_wins(const struct route_entry *a, const struct route_entry *b);

/* Applies an announcement or a withdrawal. Returns 1 when the table changed, 0 when e
 * lost to what the table holds, -ENOMEM, -EINVAL when e->vip.family is neither AF_INET
 * nor AF_INET6. */
int route_update(struct route_table *t, const struct route_entry *e);

/* Installs e whatever the table holds for e->vip (an authoritative store's word: the
 * store, not the epoch rule, decided). 1 when the table changed, 0 when it held e
 * already, -ENOMEM, -EINVAL as route_update. */
int route_set(struct route_table *t, const struct route_entry *e);

/* The live route for v, or NULL (none, or only a tombstone). The pointer is valid until
 * the next update of the table. */
const struct route_entry *route_lookup(const struct route_table *t, const struct vip *v);
/* The entry for v, tombstone or not. */
const struct route_entry *route_get(const struct route_table *t, const struct vip *v);
/* Highest epoch seen for v, plus one (1 for a VIP never seen). */
uint64_t route_next_epoch(const struct route_table *t, const struct vip *v);

/* Visits every entry, tombstones included, in no particular order. The callback must
 * not modify the table. */
void route_foreach(const struct route_table *t,
		   void (*cb)(const struct route_entry *e, void *arg), void *arg);
/* The same in slices: visits the entries of slots [*cursor, *cursor + nslots), moves
 * *cursor on, and returns false once it is past the last slot (start with 0). The table
 * may change between slices: an entry that changed meanwhile may be missed or visited
 * twice, and a resize (the table doubling or halving) reorders the slots. */
bool route_walk(const struct route_table *t, size_t *cursor, size_t nslots,
		void (*cb)(const struct route_entry *e, void *arg), void *arg);
size_t route_count(const struct route_table *t); /* live entries */
size_t route_size(const struct route_table *t);  /* entries, tombstones included */

/* Marks (on) or clears (off) every live entry of node as unreachable. Returns how many
 * entries changed. */
size_t route_set_unreachable(struct route_table *t, const char *node, bool on);
/* "unreachable" for a live entry so marked, "withdrawn" for a tombstone, else "up": the
 * route's state as `vnetctl routes` shows it. */
const char *route_state_name(const struct route_entry *e);

/* Removes tombstones whose changed_ms is older than cutoff_ms. Returns how many. */
size_t route_expire(struct route_table *t, uint64_t cutoff_ms);

#endif
