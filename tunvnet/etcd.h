/* The etcd route store (store.h): etcd v3 through its JSON gateway, over httpc.
 *
 * A node's life in the store:
 *   1. grant a lease of [store] lease_ttl seconds, keep it alive every third of it
 *   2. put P/node/<name> = {addr, fingerprint} under the lease
 *   3. read P/ whole (once, and again when the watch's revision was compacted)
 *   4. watch P/ from the last revision applied; "created" = reachable
 * A publication is one txn: compare each VIP key's mod_revision with what this node last
 * saw, put (or delete) them all under the lease, else read them back (the winner is
 * reported, CONFLICT follows in move.c). The VIP keys share the node's lease, so when
 * it expires etcd deletes them and every node's watch withdraws the routes: packets to
 * them get ICMP unreachable. Any failure marks the store unreachable (attach and
 * activate then fail naming it), moves to the next endpoint and starts over at 1 (a
 * lease still alive is kept); forwarding goes on with the routes held. */
#ifndef TUNVNET_ETCD_H
#define TUNVNET_ETCD_H

#include "tunvnet/store.h"

#define ETCD_RETRY_MS   500   /* after a failure, the next endpoint is tried this soon */
#define ETCD_TIMEOUT_MS 2000  /* a unary request's limit */
#define ETCD_CAS_TRIES  3     /* a txn retried when its expectation was only stale */
#define ETCD_RESENDS    3     /* an activation's txn left unanswered: sent again this often,
			       * each time the store answers again */
#ifndef ETCD_PAGE
#define ETCD_PAGE       5000  /* keys per page of a full read (one snapshot revision) */
#endif

extern const struct store_ops etcd_store;

#endif
