/* The node layer: what this daemon does with what its peers send and with their comings
 * and goings. peer.c reports through these events; this file hands each frame type to
 * the module that owns it (one table) and sits above all of them. */
#ifndef TUNVNET_NODE_H
#define TUNVNET_NODE_H

#include "tunvnet/peer.h"

/* The events to give peer_start(), with the daemon as their argument. */
extern const struct peer_events node_peer_events;

#endif
