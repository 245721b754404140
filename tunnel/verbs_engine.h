/* The verbs engine: messages over one reliable connected queue pair per link, on a
 * fabric (verbs_fabric.h: libibverbs, or the emulated fabric in tests). The verbs
 * substrate (verbs.c) puts a frame in each message; the engine knows only messages.
 *
 * Per link: one completion queue whose channel fd sits in the event loop, one queue
 * pair, a ring of recv_depth registered receive buffers posted before the far end
 * may send, and send_depth registered send slots (one per send queue entry).
 *
 * Credit flow control (the far end's receive ring is never overrun, so a sender never
 * meets "receiver not ready"):
 *  - Of the far end's recv_depth receives, recv_depth - CTRL_SLOTS are data credits:
 *    a data message costs one; the sender starts with all of them.
 *  - The receiver reposts a buffer once the message in it was delivered (or later:
 *    cfg.recv_hold_ms, the test knob for a receiver that posts slowly) and owes the
 *    sender one credit per buffer reposted. Owed credits ride in the immediate data of
 *    every message it sends (returned in-band); with nothing to send, once it owes a
 *    quarter of the ring, it sends a credit message (zero bytes, immediate only).
 *  - Credit messages use the CTRL_SLOTS receives kept out of the data credits. They are
 *    always signalled, and the receiver reposts their buffer at once: the sender knows a
 *    control receive is free again from its own send completion, so credit messages
 *    never need credits of their own and two ends never wait on each other.
 *  - What cannot be sent now (no credit, or no free send slot) waits in a bounded
 *    backlog, in order: DATA beyond VERBS_BACKLOG_DATA is refused (-ENOBUFS), control
 *    messages queue up to a hard limit.
 *
 * Sends of up to max_inline bytes go inline (the device copies them at post time).
 * Sends are signalled one in SIGNAL_EVERY (and credit messages always): a signalled
 * completion frees every send slot up to it, since RC completes sends in order.
 *
 * Failure: a completion in error (retries exceeded, receiver not ready, a flush), an
 * asynchronous event (the port down, the device gone, the queue pair fatal) or a
 * message the far end should not have sent fails the link at once through
 * events.failed, so the peer moves to another substrate. */
#ifndef TUNNEL_VERBS_ENGINE_H
#define TUNNEL_VERBS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/verbs_fabric.h"

struct loop;
struct verbs_engine;
struct verbs_qp;

#define VERBS_CTRL_SLOTS   2
#define VERBS_BACKLOG_DATA (2u * 1024 * 1024)
#define VERBS_BACKLOG_HARD (64u * 1024 * 1024)

struct verbs_engine_cfg {
	uint32_t recv_depth;   /* receive buffers per link */
	uint32_t send_depth;   /* send slots per link */
	uint32_t msg_max;      /* largest message */
	uint8_t rnr_retry;     /* 0..7 (7: forever); credits make it moot */
	uint32_t recv_hold_ms; /* tests: repost one buffer per this many ms (0: at once) */
};

struct verbs_engine_events {
	/* One message; msg is valid only during the call. The owner may close the link. */
	void (*message)(struct verbs_qp *q, const uint8_t *msg, size_t len, void *arg);
	/* The link failed: the owner must close it; nothing follows. */
	void (*failed)(struct verbs_qp *q, int err, const char *why, void *arg);
};

struct verbs_engine_stats {
	uint64_t tx_msgs, rx_msgs, tx_inline, tx_signalled, tx_credit_msgs, rx_credit_msgs;
	uint64_t credit_stalls; /* sends that had to wait for credits */
	uint32_t credits;       /* data credits now */
	uint32_t owed;          /* credits this end owes the far end */
	uint32_t held;          /* receive buffers not reposted yet */
	size_t backlog;         /* bytes waiting */
};

/* What one end tells the other to connect (carried in verbs.c's parameters blob). */
struct verbs_engine_peer {
	struct fabric_qp_attr qp;
	uint32_t recv_depth; /* its receive ring */
	uint32_t msg_max;    /* its receive buffers' size */
};

/* Opens the device's port on fabric fops; -ENODEV with why set when there is none. */
int verbs_engine_open(struct loop *l, const struct fabric_ops *fops, const char *device,
		      uint8_t port, const struct verbs_engine_cfg *cfg, struct verbs_engine **out,
		      char *why, size_t why_len);
/* Every link must be closed first. */
void verbs_engine_close(struct verbs_engine *e);
int verbs_engine_port(struct verbs_engine *e, struct fabric_port *out);

/* A new link with its receive ring posted; local is what the far end needs. */
int verbs_engine_link(struct verbs_engine *e, const struct verbs_engine_events *ev, void *arg,
		      struct verbs_qp **out, struct verbs_engine_peer *local);
/* Connects to the far end's queue pair: messages may be sent from now on. -EINVAL
 * when remote does not fit this end (too small a ring or buffer). */
int verbs_engine_connect(struct verbs_qp *q, const struct verbs_engine_peer *remote);
/* Sends the message a|b. 0; -ENOBUFS (backlog full: droppable refused, or past the hard
 * limit); -EMSGSIZE; -ENOTCONN (failed or not connected). Failures show later. */
int verbs_engine_send(struct verbs_qp *q, bool droppable, const void *a, size_t alen,
		      const void *b, size_t blen);
/* Frees the link (safe inside its own callbacks); nothing is called after. */
void verbs_engine_close_link(struct verbs_qp *q);
size_t verbs_engine_queued(const struct verbs_qp *q);
void verbs_engine_stats(const struct verbs_qp *q, struct verbs_engine_stats *out);

#endif
