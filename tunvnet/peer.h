/* Peers: the other nodes' daemons, their links, membership and the handshake.
 *
 * A link starts as a `struct conn` (tunvnet/peer.c) that is not trusted: it may carry
 * HELLO and AUTH only. Each side sends HELLO (name, listen address, fresh nonce) as
 * soon as the link is there, and AUTH (proof of the cluster key over both nonces,
 * tunnel/auth.h) when it has the other's HELLO. A conn whose AUTH verifies is bound to
 * the peer of that name, which is then "up": ROUTES, PEERS and DATA are accepted from
 * then on, never before. A failed proof closes the link, is counted, and is logged once
 * per remote address.
 *
 * Membership is a full mesh: nodes start from seed addresses (config) and learn the rest
 * from the PEERS lists of authenticated peers. A node dials a named peer only if its own
 * name is lower, and a seed only while no peer up has the seed's address; so mostly one
 * side dials. When both did anyway, each side keeps the link dialed by the lower name and
 * closes the other, which both sides agree on. A link dies when nothing was received for
 * PEER_DEAD_MS (keepalive PINGs every second); a dialing side retries with exponential
 * backoff up to PEER_BACKOFF_MAX_MS. */
#ifndef TUNVNET_PEER_H
#define TUNVNET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "tunvnet/config.h"
#include "tunvnet/loop.h"
#include "tunvnet/msg.h"
#include "tunvnet/stats.h"

#define PEER_KEEPALIVE_MS    1000
#define PEER_DEAD_MS         6000
#define PEER_HANDSHAKE_MS    5000
#define PEER_BACKOFF_MIN_MS  100
#define PEER_BACKOFF_MAX_MS  5000

struct daemon;
struct conn;

struct peer {
	struct peer *next;
	struct daemon *d;
	char name[NODE_NAME_MAX + 1];
	struct sockaddr_storage addr; /* where it listens (AF_UNSPEC: unknown) */
	struct conn *up;              /* the authenticated link, or NULL */
	struct conn *dial;            /* our outgoing attempt, or NULL */
	struct loop_timer retry;
	uint32_t backoff_ms;
	struct loop_timer keepalive;
	uint64_t last_rx_ms;
	uint64_t since_ms;            /* when it last went up or down */
	int64_t rtt_ms;               /* -1: not measured yet */
	uint64_t tx_frames, rx_frames, drops;
	/* DATA only (the IP packets), for stats and the Prometheus export */
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t drops_by[DROP_REASON_MAX]; /* stats_drop_at() */
};

/* Listens on the configured address and starts dialing the seeds. 0 or -errno. */
int  peer_start(struct daemon *d);
/* Closes every link and frees every peer. */
void peer_stop(struct daemon *d);
/* Replaces the seed list with nc's (SIGHUP). */
void peer_reload_seeds(struct daemon *d, const struct config *nc);

struct peer *peer_find(struct daemon *d, const char *name);
bool peer_is_up(const struct peer *p);
size_t peer_count_up(const struct daemon *d);
size_t peer_count_known(const struct daemon *d);

/* Queues one DATA frame (FRAME_F_* flags) to p. 0, -ENOTCONN (no link), -ENOBUFS. */
int peer_send_data(struct peer *p, uint16_t flags, const void *pkt, size_t len);
/* Queues one control frame to p. */
int peer_send_ctl(struct peer *p, uint8_t type, uint16_t flags, const void *buf, size_t len);
/* Writes what is queued to p now (someone waits for it). */
void peer_flush(struct peer *p);

json_t *peer_list_json(struct daemon *d);

#endif
