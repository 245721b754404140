/* Substrates by name (tunnel/substrate.c). */
#ifndef TUNNEL_SUBSTRATE_H
#define TUNNEL_SUBSTRATE_H

#include "tunnel/tunnel.h"

/* The substrate called name ("tcp"), or NULL. */
const struct tunnel_ops *substrate_lookup(const char *name);

#endif
