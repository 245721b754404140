/* One link of a peer: a control link (TLS) or a data link (plain, its frames sealed with
 * keys from the control link's TLS exporter). This file seals and opens frames and makes
 * and checks the proofs that bind a data link to its control session; peer.c runs the
 * links' life (connect, handshake, bind, close). Keys and proofs:
 *
 *   proof key  = TLS-Exporter("EXPORTER-tunvnet-link", link number, 32)
 *   LINK_OPEN  mac = HMAC-SHA256(proof key, "open" | dialer | listener | link | substrate
 *                                          | flags)
 *   LINK_OK    mac = the same with "ok"
 *   data keys  = TLS-Exporter("EXPORTER-tunvnet-data", link number, 64): the first half
 *                seals what the dialer sends, the second what the listener sends.
 *
 * The exporter's output is a function of the session's secrets: an on-path host, and any
 * other node of the cluster, cannot compute it, and a new session (after a reconnect)
 * gives new keys. */
#ifndef TUNVNET_LINK_H
#define TUNVNET_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunnel/seal.h"
#include "tunnel/tunnel.h"
#include "tunvnet/loop.h"
#include "tunvnet/msg.h"

struct daemon;
struct peer;
struct seed;

enum link_role {
	LINK_CONTROL,
	LINK_DATA,
};

struct peer_link {
	struct peer_link *next;       /* in the pending list until bound */
	struct daemon *d;
	struct peer *peer;            /* the peer dialed, or bound to; NULL: a stranger */
	struct seed *seed;            /* the seed dialed, or NULL */
	const struct tunnel_ops *ops;
	struct tunnel_link *lk;
	enum link_role role;
	bool initiator;
	bool ready;                   /* the substrate (and TLS) is up */
	bool got_hello;               /* control: the peer's HELLO arrived */
	bool bound;                   /* belongs to p, frames accepted */
	bool sealed;                  /* data: frames are sealed */
	struct sockaddr_storage remote;
	char name[NODE_NAME_MAX + 1]; /* control: the certificate's name, once known */
	uint64_t id;                  /* data: the link number */
	struct seal seal;             /* data, when sealed */
	struct loop_timer timeout;    /* handshake deadline (peer.c, link_new) */
	uint64_t hs_start_ms;         /* when the handshake began */
	uint64_t hs_rx;               /* bytes from the remote at the last deadline */
	struct loop_timer resend;     /* datagrams: LINK_OPEN again until LINK_OK */
	uint64_t tx_frames, rx_frames;
};

/* Fills m's mac for a LINK_OPEN (ok false) or LINK_OK (ok true) of the data link number
 * link between dialer and listener, with the control session ctl. 0 or -EIO. */
int link_proof(SSL *ctl, bool ok, const char *dialer, const char *listener, uint64_t link,
	       uint8_t substrate, uint8_t flags, uint8_t mac[MSG_MAC_BYTES]);
/* Whether mac is the right proof (constant time). */
bool link_proof_ok(SSL *ctl, bool ok, const char *dialer, const char *listener,
		   uint64_t link, uint8_t substrate, uint8_t flags,
		   const uint8_t mac[MSG_MAC_BYTES]);
/* Keys l's seal from the control session (l->id set, l->initiator says which half is
 * ours). 0 or -errno. */
int link_seal_keys(struct peer_link *l, SSL *ctl);

/* Queues one frame on l, sealed when l is. scratch holds at least FRAME_MAX_PAYLOAD
 * bytes. 0, -ENOBUFS, -ENOTCONN, -EMSGSIZE. */
int link_send(struct peer_link *l, uint8_t type, uint16_t flags, const void *buf, size_t len,
	      uint8_t *scratch);
/* Opens a received frame's payload: *out points at the plain payload (payload itself,
 * or scratch). 0, -EBADMSG (forged or malformed), -EALREADY (replayed, reordered). The
 * caller passes on h->flags without FRAME_F_SEALED. */
int link_open(struct peer_link *l, const struct frame_hdr *h, const uint8_t *payload,
	      uint8_t *scratch, const uint8_t **out, size_t *outlen);

#endif
