/* Substrates by name and by number (tunnel/substrate.c). The number is the one peers
 * use on the wire (HELLO's bitmap, LINK_OPEN, SUBSTRATE frames): it never changes. */
#ifndef TUNNEL_SUBSTRATE_H
#define TUNNEL_SUBSTRATE_H

#include "tunnel/tunnel.h"

enum substrate_id {
	SUBSTRATE_TCP = 0,
	SUBSTRATE_UDP = 1,
	SUBSTRATE_VERBS = 2,
	SUBSTRATE_MAX,
};

/* The substrate called name ("tcp"), or NULL. */
const struct tunnel_ops *substrate_lookup(const char *name);
/* The substrate numbered id, or NULL when this build has none. */
const struct tunnel_ops *substrate_get(int id);
/* ops' number, or -1. */
int substrate_id(const struct tunnel_ops *ops);
/* The name of number id even when this build lacks it ("verbs"), or "?". */
const char *substrate_name(int id);

#endif
