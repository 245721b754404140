/* Substrates: the ways a frame gets to another node's daemon. Each substrate exports one
 * const ops table from its own file (tcp.c today; udp.c and verbs.c later) and is picked
 * by name in exactly one place, substrate_lookup() (tunnel/substrate.c). A substrate knows frames, not routes nor
 * peers: it carries frames of the peer protocol (frame.h) over a link and tells its owner
 * what happened through struct tunnel_events. It never seals or opens a frame: the peer
 * layer (tunvnet/link.c) does, the same way on every substrate.
 *
 * Each daemon opens its own instance of a substrate (struct tunnel: its flush list and
 * anything else it shares between links), so two daemons can live in one process.
 *
 * A TCP link may run TLS 1.3 (tunnel/tls.h): the control link between two nodes does.
 * A listener given a TLS context tells the two kinds apart by the first byte a client
 * sends (a TLS record starts with 0x16, a frame with its version), so one port serves
 * both. Nothing is sent to a client before it has spoken.
 *
 * Queues are bounded. A DATA frame that does not fit is refused with -ENOBUFS and the
 * caller counts the drop (a NIC drops at the head of the path; the endpoints' TCP
 * recovers). Control frames always queue, up to a much larger hard limit past which the
 * link is hopelessly stuck and is closed. Queued frames are written once per loop turn.
 *
 * A new substrate. Export one const struct tunnel_ops from tunnel/NAME.c and give it a
 * number in substrate.h and a line in substrate.c's table; the peer layer then opens it
 * at start (a failing open(), or usable() saying no, makes it "unavailable" with that
 * reason, shown by `vnetctl peers`), advertises it in HELLO, opens a data link over it
 * to every peer that has it too, proves the link with LINK_OPEN / LINK_OK, measures it
 * and lets the chooser (tunvnet/chooser.h) pick it. What each substrate implements:
 *
 *   open, free                 its per-daemon instance (sockets, devices, flush hooks)
 *   listen, listener_close     optional for a substrate whose links are made from
 *                              parameters (below); tcp listens with TLS for control
 *                              links, udp on the same port number without
 *   connect, set_events,       a data link to a peer's listen address; ready() once it
 *   send, flush, close,        carries frames, frame() per whole frame, closed() once on
 *   queued, remote             failure (a datagram substrate reports a dead path too:
 *                              ICMP unreachable, a QP in error)
 *   caps                       max_payload, reliable, ordered (sealing follows: a
 *                              stream seals strictly in order, datagrams with a replay
 *                              window), credit_limited
 *   usable (optional)          whether this node can use it now, and why not
 *   params, accept_params,     (optional, all three or none) for links that need
 *   set_params                 parameters exchanged over the authenticated control link
 *                              before they carry a frame (verbs: QP number, PSN,
 *                              LID/GID, MTU). The dialer's connect() makes the link
 *                              and params() its blob, sent in a SUBSTRATE frame
 *                              (substrate number, link number, blob); the listener
 *                              makes its end with accept_params() and answers with its
 *                              own params(); the dialer hands that to set_params(). Each
 *                              end reports ready() when the link carries frames, and the
 *                              dialer sends LINK_OPEN on it as on any other substrate. */
#ifndef TUNNEL_TUNNEL_H
#define TUNNEL_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunnel/frame.h"

struct loop;
struct tls_ctx;
struct tunnel;
struct tunnel_link;
struct tunnel_listener;
typedef struct ssl_st SSL;

/* What a substrate's links promise; the peer layer's choice of link reads it. */
struct tunnel_caps {
	size_t max_payload; /* largest frame payload a link carries */
	bool reliable;      /* a frame handed to it arrives unless the link fails */
	bool ordered;       /* frames arrive in the order sent (a stream) */
	bool credit_limited; /* the sender waits for the receiver's credits */
};

struct tunnel_events {
	/* The link is ready for frames: an outgoing connect finished, or an accepted link
	 * showed what it is; for a TLS link, after the handshake verified the peer's
	 * certificate (tunnel_ops.tls gives the session). */
	void (*ready)(struct tunnel_link *lk, void *arg);
	/* One whole frame; payload is valid only during the call. The owner may close
	 * the link from here: no further frame is delivered then. */
	void (*frame)(struct tunnel_link *lk, const struct frame_hdr *h,
		      const uint8_t *payload, void *arg);
	/* The link failed (err is -errno, why says what happened; -EKEYREJECTED when the
	 * TLS handshake refused a certificate). The owner must call close(); no callback
	 * follows. */
	void (*closed)(struct tunnel_link *lk, int err, const char *why, void *arg);
};

struct tunnel_ops {
	const char *name;
	struct tunnel_caps caps;
	/* This daemon's instance of the substrate, on loop l. Free it once every link and
	 * listener is closed. */
	int  (*open)(struct loop *l, struct tunnel **out);
	void (*free)(struct tunnel *t);
	/* Accepts links on addr; accepted() gets each new link at once (events not yet set;
	 * the owner may refuse it by closing it), ready() follows when it is usable. With
	 * tls, clients that start a TLS handshake get a TLS server; others are plain. */
	int (*listen)(struct tunnel *t, const struct sockaddr_storage *addr, struct tls_ctx *tls,
		      void (*accepted)(struct tunnel_link *lk,
				       const struct sockaddr_storage *from, void *arg),
		      void *arg, struct tunnel_listener **out);
	void (*listener_close)(struct tunnel_listener *ls);
	/* Starts connecting (a TLS client when tls is given); ready or closed follows. */
	int (*connect)(struct tunnel *t, const struct sockaddr_storage *to, struct tls_ctx *tls,
		       struct tunnel_link **out);
	/* A link over a connected stream socket fd that the caller made (tests: a
	 * socketpair); the link owns fd from then on. */
	int (*adopt)(struct tunnel *t, int fd, struct tls_ctx *tls, bool tls_server,
		     struct tunnel_link **out);
	void (*set_events)(struct tunnel_link *lk, const struct tunnel_events *ev, void *arg);
	/* Queues one frame made of a header and the payload (len <= caps.max_payload).
	 * 0, -ENOBUFS (queue full: DATA dropped, or control past the hard limit), -ENOTCONN. */
	int (*send)(struct tunnel_link *lk, uint8_t type, uint16_t flags, const void *payload,
		    size_t len);
	/* Writes what is queued now instead of at the end of the loop turn (a reply
	 * someone is waiting for). A failure is reported later through closed(). */
	void (*flush)(struct tunnel_link *lk);
	/* Frees the link and closes its socket; no callback after this. */
	void (*close)(struct tunnel_link *lk);
	/* Bytes queued and not yet handed to the kernel. */
	size_t (*queued)(const struct tunnel_link *lk);
	/* The link's TLS session once ready, or NULL for a plain link. */
	SSL *(*tls)(const struct tunnel_link *lk);
	/* The remote address of the link. */
	void (*remote)(const struct tunnel_link *lk, struct sockaddr_storage *out);

	/* Optional (NULL: always usable once open() succeeded). false with why filled in
	 * ("no RDMA device") when this node cannot use the substrate now. */
	bool (*usable)(struct tunnel *t, char *why, size_t cap);
	/* Optional, together: links made from parameters exchanged over the control
	 * link (see the top of this file). params writes this end's blob for lk into buf
	 * (cap >= TUNNEL_PARAMS_MAX) and returns its length or -errno. accept_params makes
	 * the listener's end of a link from the dialer's blob (events not set yet; ready
	 * follows). set_params gives the dialer's end the listener's blob; ready or closed
	 * follows. 0 or -errno. */
	int (*params)(struct tunnel_link *lk, uint8_t *buf, size_t cap);
	int (*accept_params)(struct tunnel *t, const uint8_t *blob, size_t len,
			     struct tunnel_link **out);
	int (*set_params)(struct tunnel_link *lk, const uint8_t *blob, size_t len);
	/* Optional: the underlay path MTU to size datagrams for instead of discovering it
	 * (0: discover). */
	void (*set_mtu)(struct tunnel *t, int mtu);
	/* Optional: bytes the remote sent on lk so far, read or still waiting in the
	 * kernel (a TLS handshake's too). The peer layer's handshake deadline uses it to
	 * tell a remote that answers (slowly, or faster than we read) from a silent one. */
	uint64_t (*rx_bytes)(const struct tunnel_link *lk);
};

#define TUNNEL_PARAMS_MAX 1024 /* bytes of a substrate's parameter blob */

extern const struct tunnel_ops tunnel_tcp_ops;
extern const struct tunnel_ops tunnel_udp_ops;
extern const struct tunnel_ops tunnel_verbs_ops; /* verbs.c, verbs.h */

#endif
