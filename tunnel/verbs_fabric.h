/* The fabric: the handful of verbs operations the verbs engine (verbs_engine.h) needs,
 * behind one ops table with two implementations:
 *
 *   fabric_ibv.c  libibverbs: a real RDMA device (InfiniBand, RoCE, rdma_rxe)
 *   fabric_emu.c  an emulated fabric in shared memory between processes on one machine,
 *                 with the same queue-pair and completion semantics. Tests only: the
 *                 daemon offers it only when TUNVNET_TEST_VERBS_EMU is set (verbs.c).
 *
 * The model is libibverbs' reduced to what a reliable connected (RC) queue pair carrying
 * two-sided sends needs: one device port, a protection domain (implied), memory regions,
 * a completion queue with its completion channel (a file descriptor the event loop
 * watches), queue pairs moved RESET -> INIT -> RTR -> RTS, sends with immediate data,
 * inline or not, signalled or not, receives, and asynchronous events (a port down, the
 * device gone, a queue pair in error).
 *
 * Semantics both implementations keep (the engine relies on them):
 *  - RC: sends arrive once, in order, into the receives posted in order; a send completes
 *    (when signalled) only after the receiver took it; a signalled completion implies
 *    every earlier send on that queue pair completed.
 *  - A send that finds no receive posted waits (receiver not ready) and fails with
 *    FABRIC_WC_RNR_RETRY_EXC after the retry count; a receiver that is gone fails it with
 *    FABRIC_WC_RETRY_EXC.
 *  - A completion in error moves the queue pair to the error state: every outstanding
 *    and later work request completes with FABRIC_WC_WR_FLUSH_ERR.
 *  - The completion channel's fd becomes readable after fabric_ops.req_notify once a
 *    completion arrives; get_event consumes that (and acknowledges it). */
#ifndef TUNNEL_VERBS_FABRIC_H
#define TUNNEL_VERBS_FABRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fabric;    /* an open device port and its protection domain */
struct fabric_cq; /* a completion queue and its completion channel */
struct fabric_qp; /* an RC queue pair */
struct fabric_mr; /* a registered memory region */

#define FABRIC_GID_LEN 16
#define FABRIC_NAME_MAX 64

struct fabric_port {
	char device[FABRIC_NAME_MAX]; /* "mlx5_0", "rxe0", "emu:n1" */
	uint8_t port;
	bool active;           /* the port is up (IBV_PORT_ACTIVE) */
	uint16_t lid;          /* InfiniBand; 0 on RoCE */
	uint8_t gid[FABRIC_GID_LEN]; /* RoCE, or across subnets */
	uint8_t gid_index;
	uint32_t mtu;          /* active path MTU in bytes: 256 .. 4096 */
	uint32_t max_inline;   /* largest inline send the device takes */
};

/* What two ends exchange to connect their queue pairs (over the control link). */
struct fabric_qp_attr {
	uint32_t qpn;   /* 24 bits */
	uint32_t psn;   /* 24 bits: the first packet sequence number of this end's sends */
	uint16_t lid;
	uint8_t gid[FABRIC_GID_LEN];
	uint32_t mtu;   /* bytes; the path uses the smaller of the two */
};

enum fabric_wc_status {
	FABRIC_WC_SUCCESS = 0,
	FABRIC_WC_WR_FLUSH_ERR,     /* flushed: the queue pair was in error */
	FABRIC_WC_RNR_RETRY_EXC,    /* no receive posted at the far end, retries used up */
	FABRIC_WC_RETRY_EXC,        /* no answer from the far end (gone, port down) */
	FABRIC_WC_LOC_ERR,          /* a local protection or length error */
	FABRIC_WC_REM_ERR,          /* the far end refused (its receive too short...) */
	FABRIC_WC_OTHER_ERR,
};

enum fabric_wc_opcode {
	FABRIC_WC_SEND = 0,
	FABRIC_WC_RECV,
};

struct fabric_wc {
	uint64_t wr_id;
	enum fabric_wc_status status;
	enum fabric_wc_opcode opcode; /* valid only with FABRIC_WC_SUCCESS on real devices:
				       * the engine tells sends from receives by wr_id */
	uint32_t byte_len;            /* receives: bytes placed */
	uint32_t imm;                 /* receives: immediate data when has_imm */
	bool has_imm;
};

/* Asynchronous events (the device's async fd). */
enum fabric_event {
	FABRIC_EV_NONE = 0,
	FABRIC_EV_PORT_DOWN,   /* IBV_EVENT_PORT_ERR */
	FABRIC_EV_PORT_UP,     /* IBV_EVENT_PORT_ACTIVE */
	FABRIC_EV_DEVICE_GONE, /* IBV_EVENT_DEVICE_FATAL, or the device was removed */
	FABRIC_EV_QP_FATAL,    /* IBV_EVENT_QP_FATAL and friends: one queue pair */
	FABRIC_EV_OTHER,
};

/* Send flags */
#define FABRIC_SEND_SIGNALED 0x1 /* produce a completion for this send */
#define FABRIC_SEND_INLINE   0x2 /* the data is copied at post time (len <= max_inline) */
#define FABRIC_SEND_IMM      0x4 /* carry imm (the far end's receive completion shows it) */

struct fabric_ops {
	const char *name; /* "ibv", "emu" */
	/* Opens device (NULL: the first with an active port) and port (0: the first active
	 * one). -ENODEV when there is none; why says so in words ("no RDMA device"). */
	int (*open)(const char *device, uint8_t port, struct fabric **out, char *why,
		    size_t why_len);
	void (*close)(struct fabric *f);
	/* The port's current attributes. */
	int (*port)(struct fabric *f, struct fabric_port *out);
	/* The device's asynchronous event fd (non-blocking), and the next event on it
	 * (FABRIC_EV_NONE when none is pending). qp_out names the queue pair of a
	 * FABRIC_EV_QP_FATAL, else NULL. */
	int (*async_fd)(struct fabric *f);
	int (*get_async)(struct fabric *f, enum fabric_event *ev, struct fabric_qp **qp_out);

	int (*reg_mr)(struct fabric *f, void *buf, size_t len, struct fabric_mr **out,
		      uint32_t *lkey);
	void (*dereg_mr)(struct fabric_mr *mr);

	/* A completion queue of depth entries with its completion channel. */
	int (*create_cq)(struct fabric *f, int depth, struct fabric_cq **out);
	void (*destroy_cq)(struct fabric_cq *cq);
	int (*cq_fd)(struct fabric_cq *cq); /* non-blocking */
	int (*req_notify)(struct fabric_cq *cq);
	/* Consumes one notification from the channel: 0, -EAGAIN when none. */
	int (*get_event)(struct fabric_cq *cq);
	/* Up to n completions into wc: how many, or -errno. */
	int (*poll)(struct fabric_cq *cq, struct fabric_wc *wc, int n);

	/* An RC queue pair using cq for sends and receives, taken to INIT. */
	int (*create_qp)(struct fabric *f, struct fabric_cq *cq, uint32_t send_depth,
			 uint32_t recv_depth, struct fabric_qp **out, uint32_t *qpn);
	void (*destroy_qp)(struct fabric_qp *qp);
	/* INIT -> RTR (toward the far end's attributes) -> RTS (with this end's psn). */
	int (*connect)(struct fabric_qp *qp, const struct fabric_qp_attr *local,
		       const struct fabric_qp_attr *remote, uint8_t rnr_retry);
	/* Moves the queue pair to the error state: outstanding requests flush. */
	int (*set_error)(struct fabric_qp *qp);

	int (*post_recv)(struct fabric_qp *qp, uint64_t wr_id, void *buf, uint32_t len,
			 uint32_t lkey);
	int (*post_send)(struct fabric_qp *qp, uint64_t wr_id, const void *buf, uint32_t len,
			 uint32_t lkey, uint32_t imm, unsigned flags);
};

extern const struct fabric_ops fabric_ibv_ops;
extern const struct fabric_ops fabric_emu_ops;

const char *fabric_wc_status_str(enum fabric_wc_status s);
const char *fabric_event_str(enum fabric_event ev);

#endif
