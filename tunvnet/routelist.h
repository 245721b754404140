/* `vnetctl routes`: the route table as a stream, in slices, so that a table of a million
 * entries neither stalls the event loop nor needs one huge reply.
 *
 * The request's client gets the reply {"streaming": true, "routes": n}, then lines each
 * a JSON array of route objects ({"vip","node","epoch","local"}), then
 * {"end": true, "count": n} and the connection closes. Each loop turn formats at most
 * ROUTELIST_SLICE slots of the table, and only when the client's stream has room for
 * them: a slow reader slows its listing, nothing else. A listing taken while the table
 * changes may miss or repeat the entries that changed (route_walk). */
#ifndef TUNVNET_ROUTELIST_H
#define TUNVNET_ROUTELIST_H

#include <stdint.h>

#define ROUTELIST_SLICE    2048        /* table slots per loop turn */
#define ROUTELIST_BUFFER   (1u << 20)  /* the client's stream ring */
#define ROUTES_REPLY_MAX   16384       /* a plain (not streamed) reply lists at most this */

struct daemon;

/* Takes client_id's connection over and starts the listing. Returns the reply line
 * (malloc'd), an error reply when the stream could not be made. */
char *routelist_start(struct daemon *d, uint64_t client_id);

#endif
