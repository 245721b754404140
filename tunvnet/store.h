/* The route store: where this node publishes the routes it hosts and learns everyone
 * else's. Interchangeable backends behind one ops table, picked by name in one place
 * (node.c, from [store] route_store), the way substrates sit behind tunnel/tunnel.h:
 *
 *   mesh   routing.c's own distribution (the default): ROUTES frames over every peer
 *          link, each node speaking for itself, epochs and ties decided in route.c
 *   etcd   etcd.c: an etcd v3 cluster holds one key per VIP (node and epoch) and one per
 *          node (its underlay address and certificate fingerprint) under a lease the
 *          node keeps alive; every node watches the prefix
 *
 * routing.c stays the one front door (announce, withdraw, look up, the change stream to
 * move.c through routing_events): it applies an entry locally and then asks the store to
 * publish it. A store that is authoritative (etcd) reports what it holds through
 * store_events; routing applies that as the truth (route_set), so that the winner of a
 * compare-and-set is the winner everywhere. node.c picks the table by name
 * (routing_mesh_store, etcd_store). */
#ifndef TUNVNET_STORE_H
#define TUNVNET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunvnet/vip.h"

#define STORE_WAITER "route store" /* move.c waits on this name for a store's commit */
#define STORE_WHY_MAX 256

struct daemon;
struct route_entry;

/* What a store reports upward (routing.c registers it). */
struct store_events {
	/* The store holds e for e->vip now (e->withdrawn: no key), as of revision
	 * e->store_rev. Applied as the truth. */
	void (*entry)(const struct route_entry *e, void *arg);
	/* The publication of v[0..n) (an announce with confirm) ended: 0, -ECANCELED when
	 * another node's entry won (it was reported through entry first), or -errno when
	 * the store could not be reached (why says so). */
	void (*committed)(const struct vip *v, size_t n, int err, const char *why, void *arg);
	/* The store answers again (after a start or an outage): this node's own entries
	 * are published again (a lease that expired took their keys). */
	void (*reconnected)(void *arg);
	/* A store that keeps a directory of nodes (etcd): node registered that it listens
	 * at addr; addr NULL: its registration is gone (it left, or its lease expired). */
	void (*node)(const char *node, const struct sockaddr_storage *addr, void *arg);
	void *arg;
};

struct store_ops {
	const char *name;
	/* Starts talking to the store (the daemon's loop drives it). 0 or -errno. */
	int  (*start)(struct daemon *d, const struct store_events *ev);
	void (*stop)(struct daemon *d);
	/* Publishes e[0..n) (this node's entries, applied locally already); seen[i] is the
	 * store revision of the entry this node held for e[i].vip before (0: none), the
	 * compare-and-set's expectation. With confirm, store_events.committed follows.
	 * -ENOTCONN when the store is known to be unreachable (nothing is sent). */
	int  (*publish)(struct daemon *d, const struct route_entry *e, const uint64_t *seen,
			size_t n, bool confirm);
	/* true when the store answers; otherwise why says what is wrong, naming it. */
	bool (*reachable)(struct daemon *d, char *why, size_t len);
	/* The store is the authority (true) or the peers are (false: the mesh). */
	bool authoritative;
};

#endif
