/* Substrates: the ways a frame gets to another node's daemon. Each substrate exports one
 * const ops table from its own file (tcp.c today; verbs.c and udp.c later) and is picked
 * by name in exactly one place, tunnel_lookup(). A substrate knows frames, not routes:
 * it carries frames of the peer protocol (frame.h) over a link and tells its owner what
 * arrived through struct tunnel_events.
 *
 * Queues are bounded. A DATA frame that does not fit is refused with -ENOBUFS and the
 * caller counts the drop (a NIC drops at the head of the path; the endpoints' TCP
 * recovers). Control frames always queue, up to a much larger hard limit past which the
 * link is hopelessly stuck and is closed. Queued frames are written once per loop turn. */
#ifndef TUNNEL_TUNNEL_H
#define TUNNEL_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunnel/frame.h"

struct loop;
struct tunnel_link;
struct tunnel_listener;

struct tunnel_events {
	/* An outgoing link finished connecting. */
	void (*connected)(struct tunnel_link *lk, void *arg);
	/* One whole frame; payload is valid only during the call. The owner may close
	 * the link from here: no further frame is delivered then. */
	void (*frame)(struct tunnel_link *lk, const struct frame_hdr *h,
		      const uint8_t *payload, void *arg);
	/* The link failed (err is -errno, why says what happened). The owner must call
	 * close(); no callback follows. */
	void (*closed)(struct tunnel_link *lk, int err, const char *why, void *arg);
};

struct tunnel_ops {
	const char *name;
	/* Accepts links on addr; accepted() gets each new link (events not yet set). */
	int (*listen)(struct loop *l, const struct sockaddr_storage *addr,
		      void (*accepted)(struct tunnel_link *lk,
				       const struct sockaddr_storage *from, void *arg),
		      void *arg, struct tunnel_listener **out);
	void (*listener_close)(struct tunnel_listener *ls);
	/* Starts connecting; events.connected or events.closed follows. */
	int (*connect)(struct loop *l, const struct sockaddr_storage *to,
		       struct tunnel_link **out);
	void (*set_events)(struct tunnel_link *lk, const struct tunnel_events *ev, void *arg);
	/* Queues one frame made of a header and the payload (len <= FRAME_MAX_PAYLOAD).
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
};

extern const struct tunnel_ops tunnel_tcp_ops;

/* The substrate called name ("tcp"), or NULL. */
const struct tunnel_ops *tunnel_lookup(const char *name);

#endif
