/* The emulated fabric: RC queue pairs in shared memory between processes of one machine,
 * for tests (verbs_fabric.h says what both fabrics promise). Never offered in production:
 * verbs.c picks it only when the environment names a device (TUNVNET_TEST_VERBS_EMU).
 *
 * A device is a path DIR/NAME. Its files, all in DIR:
 *   NAME.dev     shared state a test changes to inject faults (fabric_emu_fault):
 *                the port down, the next N sends completing in error
 *   NAME.async   a FIFO: the device's asynchronous event fd; a fault rings it
 *   NAME.cqN     a FIFO per completion queue: its completion channel
 *   NAME.qpN     per queue pair, its inbound ring: what the far end sent it
 *
 * The GID carries NAME, so the far end of a queue pair finds DIR/NAME.qpN from the
 * attributes exchanged to connect (both ends live in the same DIR).
 *
 * Data path. A send copies its message into the far end's inbound ring (a byte ring
 * of [len, imm, flags, pad] headers and payloads padded to 8; a header of len WRAP
 * skips to the start) and rings the far end's completion channel. The receiver's
 * progress (run from poll) copies each message into the oldest posted receive,
 * advances the ring's tail and rings the sender's channel; the sender's progress
 * completes its sends once the far tail passed them: a send completes only after the
 * receiver took it, as on RC. A message that finds no receive waits (the receiver
 * marks the ring "not ready since"); the sender fails it with RNR_RETRY_EXC once
 * rnr_retry timeouts passed (7 means forever, as on InfiniBand). A far end that is
 * gone (its queue pair destroyed, or its process dead) fails the sends with
 * RETRY_EXC. Any completion in error moves the queue pair to the error state and
 * flushes what is outstanding.
 *
 * Progress happens only inside poll and post calls of the process that owns a queue
 * pair (there is no hardware running beside it); the engine polls whenever a channel
 * fd is readable and on its timer, which is enough for the semantics above. */
#include "tunnel/verbs_fabric.h"
#include "tunnel/fabric_emu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EMU_MAGIC       0x54564d55u
#define RING_BYTES      (8u << 20)
#define MSG_HDR         16u
#define WRAP            0xffffffffu
#define MAX_INLINE      256u
#define MAX_MR          32
#define RNR_TIMEOUT_NS  (20 * 1000000ull) /* per retry */
#define QP_ALIVE        1u
#define QP_GONE         2u
#define SEND_FAIL       0x80000000u /* sq_entry.flags: an injected failure */

enum qp_state { QPS_RESET, QPS_INIT, QPS_RTR, QPS_RTS, QPS_ERR };

/* NAME.dev */
struct dev_shm {
	uint32_t magic;
	uint32_t port_down;  /* set by a test */
	uint32_t fail_sends; /* the next this many sends complete with RETRY_EXC */
	uint32_t next_qpn;
};

/* NAME.qpN: the queue pair's inbound ring. head is written by the far end, tail and
 * rnr_since by the owner. */
struct qp_shm {
	uint32_t magic;
	uint32_t state;   /* QP_ALIVE, QP_GONE */
	int32_t pid;      /* the owner */
	uint32_t cq;      /* the owner's completion queue: NAME.cqN */
	uint64_t head;
	uint64_t tail;
	uint64_t rnr_since_ns;
	uint8_t data[RING_BYTES];
};

struct fabric_mr {
	struct fabric *f;
	uint8_t *buf;
	size_t len;
	uint32_t lkey;
};

struct fabric {
	char dir[PATH_MAX];
	char name[FABRIC_GID_LEN];
	struct dev_shm *dev;
	int async_fd;
	bool port_down_seen;
	uint32_t next_cq;
	struct fabric_mr *mr[MAX_MR];
};

struct sq_entry {
	uint64_t wr_id;
	const uint8_t *buf;
	uint32_t len, imm;
	unsigned flags;
	bool written;
	uint64_t end;     /* ring position after the message, once written */
	uint8_t inl[MAX_INLINE];
};

struct rq_entry {
	uint64_t wr_id;
	uint8_t *buf;
	uint32_t len;
};

struct fabric_cq {
	struct fabric *f;
	uint32_t id;
	int fd;           /* the FIFO, read and write */
	struct fabric_wc *wc;
	int depth, head, count;
	struct fabric_qp *qps;
};

struct fabric_qp {
	struct fabric *f;
	struct fabric_cq *cq;
	struct fabric_qp *next; /* on cq->qps */
	uint32_t qpn;
	enum qp_state state;
	uint8_t rnr_retry;
	struct qp_shm *in;      /* ours */
	struct qp_shm *out;     /* the far end's, once connected */
	int out_fd;             /* the far end's completion channel */
	struct sq_entry *sq;
	uint32_t sq_depth, sq_head, sq_count;
	struct rq_entry *rq;
	uint32_t rq_depth, rq_head, rq_count;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void path_of(const struct fabric *f, const char *name, const char *suffix, uint32_t n,
		    char *out, size_t len)
{
	if (suffix[0] == 'q' || suffix[0] == 'c')
		snprintf(out, len, "%s/%s.%s%u", f->dir, name, suffix, n);
	else
		snprintf(out, len, "%s/%s.%s", f->dir, name, suffix);
}

static bool name_ok(const char *s)
{
	size_t n = strnlen(s, FABRIC_GID_LEN);

	if (n == 0 || n >= FABRIC_GID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* Splits "DIR/NAME". */
static int split_path(const char *path, char *dir, size_t dlen, char *name)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	if (!slash || slash == path || (size_t)(slash - path) >= dlen || !name_ok(slash + 1))
		return -EINVAL;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	strcpy(name, slash + 1);
	return 0;
}

static void *map_file(const char *path, size_t len, bool create)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	struct stat st;
	void *p;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || ((size_t)st.st_size < len &&
				   (!create || ftruncate(fd, (off_t)len) < 0))) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static int open_fifo(const char *path, int flags)
{
	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void ring_fd(int fd)
{
	if (fd >= 0)
		(void)!write(fd, "x", 1); /* a full FIFO is readable already */
}

static int emu_open(const char *device, uint8_t port, struct fabric **out, char *why,
		    size_t why_len)
{
	struct fabric *f = calloc(1, sizeof(*f));
	char p[PATH_MAX + 32];
	int err;

	if (!f)
		return -ENOMEM;
	f->async_fd = -1;
	if (port > 1 || split_path(device, f->dir, sizeof(f->dir), f->name) < 0) {
		snprintf(why, why_len, "no emulated device %s", device ? device : "(none)");
		err = -ENODEV;
		goto fail;
	}
	path_of(f, f->name, "dev", 0, p, sizeof(p));
	f->dev = map_file(p, sizeof(*f->dev), true);
	if (!f->dev) {
		err = -errno;
		snprintf(why, why_len, "cannot map %s: %s", p, strerror(errno));
		goto fail;
	}
	if (f->dev->magic != EMU_MAGIC) {
		memset(f->dev, 0, sizeof(*f->dev));
		f->dev->next_qpn = 1;
		__atomic_store_n(&f->dev->magic, EMU_MAGIC, __ATOMIC_RELEASE);
	}
	path_of(f, f->name, "async", 0, p, sizeof(p));
	err = open_fifo(p, O_RDWR);
	if (err < 0) {
		snprintf(why, why_len, "cannot open %s: %s", p, strerror(-err));
		goto fail;
	}
	f->async_fd = err;
	f->port_down_seen = __atomic_load_n(&f->dev->port_down, __ATOMIC_ACQUIRE);
	*out = f;
	return 0;
fail:
	if (f->dev)
		munmap(f->dev, sizeof(*f->dev));
	free(f);
	return err;
}

static void emu_close(struct fabric *f)
{
	char p[PATH_MAX + 32];

	if (!f)
		return;
	close(f->async_fd);
	path_of(f, f->name, "async", 0, p, sizeof(p));
	unlink(p);
	munmap(f->dev, sizeof(*f->dev));
	free(f);
}

static int emu_port(struct fabric *f, struct fabric_port *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->device, sizeof(out->device), "emu:%s", f->name);
	out->port = 1;
	out->active = !__atomic_load_n(&f->dev->port_down, __ATOMIC_ACQUIRE);
	memcpy(out->gid, f->name, strlen(f->name));
	out->mtu = 4096;
	out->max_inline = MAX_INLINE;
	return 0;
}

static int emu_async_fd(struct fabric *f)
{
	return f->async_fd;
}

static int emu_get_async(struct fabric *f, enum fabric_event *ev, struct fabric_qp **qp_out)
{
	uint8_t b[64];
	bool down;

	while (read(f->async_fd, b, sizeof(b)) > 0)
		;
	*qp_out = NULL;
	*ev = FABRIC_EV_NONE;
	down = __atomic_load_n(&f->dev->port_down, __ATOMIC_ACQUIRE);
	if (down != f->port_down_seen) {
		f->port_down_seen = down;
		*ev = down ? FABRIC_EV_PORT_DOWN : FABRIC_EV_PORT_UP;
	}
	return 0;
}

static int emu_reg_mr(struct fabric *f, void *buf, size_t len, struct fabric_mr **out,
		      uint32_t *lkey)
{
	for (uint32_t i = 0; i < MAX_MR; i++) {
		struct fabric_mr *mr;

		if (f->mr[i])
			continue;
		mr = calloc(1, sizeof(*mr));
		if (!mr)
			return -ENOMEM;
		*mr = (struct fabric_mr){ .f = f, .buf = buf, .len = len, .lkey = i + 1 };
		f->mr[i] = mr;
		*out = mr;
		*lkey = mr->lkey;
		return 0;
	}
	return -ENOMEM;
}

static void emu_dereg_mr(struct fabric_mr *mr)
{
	if (!mr)
		return;
	mr->f->mr[mr->lkey - 1] = NULL;
	free(mr);
}

/* Whether [buf, buf+len) lies in the region lkey names (the HCA's protection check). */
static bool mr_covers(const struct fabric *f, uint32_t lkey, const void *buf, uint32_t len)
{
	const struct fabric_mr *mr = lkey >= 1 && lkey <= MAX_MR ? f->mr[lkey - 1] : NULL;
	const uint8_t *b = buf;

	return mr && b >= mr->buf && len <= mr->len && (size_t)(b - mr->buf) <= mr->len - len;
}

static int emu_create_cq(struct fabric *f, int depth, struct fabric_cq **out)
{
	struct fabric_cq *cq = calloc(1, sizeof(*cq));
	char p[PATH_MAX + 32];
	int fd;

	if (!cq || depth <= 0 || !(cq->wc = calloc((size_t)depth, sizeof(*cq->wc)))) {
		free(cq);
		return depth <= 0 ? -EINVAL : -ENOMEM;
	}
	cq->f = f;
	cq->depth = depth;
	cq->id = ++f->next_cq;
	path_of(f, f->name, "cq", cq->id, p, sizeof(p));
	unlink(p);
	fd = open_fifo(p, O_RDWR);
	if (fd < 0) {
		free(cq->wc);
		free(cq);
		return fd;
	}
	cq->fd = fd;
	*out = cq;
	return 0;
}

static void emu_destroy_cq(struct fabric_cq *cq)
{
	char p[PATH_MAX + 32];

	if (!cq)
		return;
	path_of(cq->f, cq->f->name, "cq", cq->id, p, sizeof(p));
	unlink(p);
	close(cq->fd);
	free(cq->wc);
	free(cq);
}

static int emu_cq_fd(struct fabric_cq *cq)
{
	return cq->fd;
}

static int emu_req_notify(struct fabric_cq *cq)
{
	return 0; /* the channel is a doorbell: rung on every event, armed or not */
}

static int emu_get_event(struct fabric_cq *cq)
{
	uint8_t b[256];
	ssize_t n, total = 0;

	while ((n = read(cq->fd, b, sizeof(b))) > 0)
		total += n;
	return total > 0 ? 0 : -EAGAIN;
}

static bool cq_room(const struct fabric_cq *cq)
{
	return cq->count < cq->depth;
}

static void cq_push(struct fabric_cq *cq, const struct fabric_wc *wc)
{
	cq->wc[(cq->head + cq->count) % cq->depth] = *wc;
	cq->count++;
}

static void qp_error(struct fabric_qp *qp)
{
	qp->state = QPS_ERR;
	ring_fd(qp->cq->fd); /* the flushes show at the next poll */
}

/* The front send failed with status: it completes in error (signalled or not). */
static void fail_send(struct fabric_qp *qp, enum fabric_wc_status status)
{
	struct sq_entry *e = &qp->sq[qp->sq_head];

	cq_push(qp->cq, &(struct fabric_wc){ .wr_id = e->wr_id, .status = status,
					     .opcode = FABRIC_WC_SEND });
	qp->sq_head = (qp->sq_head + 1) % qp->sq_depth;
	qp->sq_count--;
	qp_error(qp);
}

static void flush(struct fabric_qp *qp)
{
	while (qp->sq_count && cq_room(qp->cq)) {
		struct sq_entry *e = &qp->sq[qp->sq_head];

		cq_push(qp->cq, &(struct fabric_wc){ .wr_id = e->wr_id,
						     .status = FABRIC_WC_WR_FLUSH_ERR,
						     .opcode = FABRIC_WC_SEND });
		qp->sq_head = (qp->sq_head + 1) % qp->sq_depth;
		qp->sq_count--;
	}
	while (qp->rq_count && cq_room(qp->cq)) {
		struct rq_entry *e = &qp->rq[qp->rq_head];

		cq_push(qp->cq, &(struct fabric_wc){ .wr_id = e->wr_id,
						     .status = FABRIC_WC_WR_FLUSH_ERR,
						     .opcode = FABRIC_WC_RECV });
		qp->rq_head = (qp->rq_head + 1) % qp->rq_depth;
		qp->rq_count--;
	}
}

static uint32_t msg_size(uint32_t len)
{
	return MSG_HDR + ((len + 7u) & ~7u);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Takes what the far end sent into the posted receives. */
static void progress_recv(struct fabric_qp *qp)
{
	struct qp_shm *in = qp->in;
	uint64_t head = __atomic_load_n(&in->head, __ATOMIC_ACQUIRE), tail = in->tail;
	bool took = false;

	while (tail < head && qp->state != QPS_ERR && cq_room(qp->cq)) {
		uint32_t off = (uint32_t)(tail % RING_BYTES), len = get32(in->data + off);
		struct rq_entry *e;
		struct fabric_wc wc = { .opcode = FABRIC_WC_RECV };

		if (len == WRAP) {
			tail += RING_BYTES - off;
			continue;
		}
		if (!qp->rq_count) {
			if (!__atomic_load_n(&in->rnr_since_ns, __ATOMIC_ACQUIRE))
				__atomic_store_n(&in->rnr_since_ns, now_ns(), __ATOMIC_RELEASE);
			break;
		}
		e = &qp->rq[qp->rq_head];
		wc.wr_id = e->wr_id;
		if (len > e->len) {
			/* Too long for the receive: a local length error here; the sender sees
			 * its send completed (the far end's problem) only in the flush. */
			wc.status = FABRIC_WC_LOC_ERR;
		} else {
			memcpy(e->buf, in->data + off + MSG_HDR, len);
			wc.byte_len = len;
			wc.imm = get32(in->data + off + 4);
			wc.has_imm = get32(in->data + off + 8) & FABRIC_SEND_IMM;
		}
		cq_push(qp->cq, &wc);
		qp->rq_head = (qp->rq_head + 1) % qp->rq_depth;
		qp->rq_count--;
		tail += msg_size(len);
		took = true;
		if (wc.status != FABRIC_WC_SUCCESS)
			qp_error(qp);
	}
	if (took) {
		__atomic_store_n(&in->rnr_since_ns, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&in->tail, tail, __ATOMIC_RELEASE);
		ring_fd(qp->out_fd);
	}
}

/* Writes one send into the far ring: false when it does not fit now. */
static bool write_msg(struct fabric_qp *qp, struct sq_entry *e)
{
	struct qp_shm *out = qp->out;
	uint64_t head = out->head, tail = __atomic_load_n(&out->tail, __ATOMIC_ACQUIRE);
	uint32_t off = (uint32_t)(head % RING_BYTES), m = msg_size(e->len), skip = 0;
	const uint8_t *src = e->flags & FABRIC_SEND_INLINE ? e->inl : e->buf;

	if (off + m > RING_BYTES)
		skip = RING_BYTES - off;
	if (RING_BYTES - (head - tail) < skip + m)
		return false;
	if (skip) {
		put32(out->data + off, WRAP);
		head += skip;
		off = 0;
	}
	put32(out->data + off, e->len);
	put32(out->data + off + 4, e->imm);
	put32(out->data + off + 8, e->flags);
	put32(out->data + off + 12, 0);
	memcpy(out->data + off + MSG_HDR, src, e->len);
	head += m;
	__atomic_store_n(&out->head, head, __ATOMIC_RELEASE);
	e->written = true;
	e->end = head;
	return true;
}

static bool far_gone(const struct fabric_qp *qp)
{
	int32_t pid = qp->out->pid;

	return __atomic_load_n(&qp->out->state, __ATOMIC_ACQUIRE) != QP_ALIVE ||
	       (kill(pid, 0) < 0 && errno == ESRCH);
}

/* Completes the sends the far end took and writes the ones not written yet. */
static void progress_send(struct fabric_qp *qp)
{
	struct fabric *f = qp->f;
	uint64_t tail;
	bool wrote = false;

	if (qp->state != QPS_RTS)
		return;
	tail = __atomic_load_n(&qp->out->tail, __ATOMIC_ACQUIRE);
	while (qp->sq_count && cq_room(qp->cq) && qp->state == QPS_RTS) {
		struct sq_entry *e = &qp->sq[qp->sq_head];

		if (e->written && tail >= e->end) {
			if (e->flags & FABRIC_SEND_SIGNALED)
				cq_push(qp->cq, &(struct fabric_wc){ .wr_id = e->wr_id,
								     .opcode = FABRIC_WC_SEND });
			qp->sq_head = (qp->sq_head + 1) % qp->sq_depth;
			qp->sq_count--;
			continue;
		}
		if ((e->flags & SEND_FAIL) || __atomic_load_n(&f->dev->port_down, __ATOMIC_ACQUIRE) ||
		    far_gone(qp)) {
			fail_send(qp, FABRIC_WC_RETRY_EXC);
			break;
		}
		if (e->written) {
			uint64_t since = __atomic_load_n(&qp->out->rnr_since_ns, __ATOMIC_ACQUIRE);

			if (since && qp->rnr_retry < 7 &&
			    now_ns() - since > RNR_TIMEOUT_NS * (qp->rnr_retry + 1u))
				fail_send(qp, FABRIC_WC_RNR_RETRY_EXC);
		}
		break;
	}
	for (uint32_t i = 0; i < qp->sq_count && qp->state == QPS_RTS; i++) {
		struct sq_entry *e = &qp->sq[(qp->sq_head + i) % qp->sq_depth];
		uint32_t n;

		if (e->written)
			continue;
		if (e->flags & SEND_FAIL)
			break;
		n = __atomic_load_n(&f->dev->fail_sends, __ATOMIC_ACQUIRE);
		if (n && __atomic_compare_exchange_n(&f->dev->fail_sends, &n, n - 1, false,
						     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			/* An injected failure: this send completes in error once the earlier
			 * ones completed (in order); the rest flush. */
			e->flags |= SEND_FAIL;
			if (i == 0 && cq_room(qp->cq))
				fail_send(qp, FABRIC_WC_RETRY_EXC);
			break;
		}
		if (!write_msg(qp, e))
			break;
		wrote = true;
	}
	if (wrote)
		ring_fd(qp->out_fd);
}

static void progress(struct fabric_qp *qp)
{
	if (qp->state == QPS_ERR) {
		flush(qp);
		return;
	}
	if (qp->state == QPS_RTR || qp->state == QPS_RTS)
		progress_recv(qp);
	progress_send(qp);
	if (qp->state == QPS_ERR)
		flush(qp);
}

static int emu_poll(struct fabric_cq *cq, struct fabric_wc *wc, int n)
{
	int got = 0;

	for (struct fabric_qp *qp = cq->qps; qp; qp = qp->next)
		progress(qp);
	while (got < n && cq->count) {
		wc[got++] = cq->wc[cq->head];
		cq->head = (cq->head + 1) % cq->depth;
		cq->count--;
	}
	return got;
}

static int emu_create_qp(struct fabric *f, struct fabric_cq *cq, uint32_t send_depth,
			 uint32_t recv_depth, struct fabric_qp **out, uint32_t *qpn)
{
	struct fabric_qp *qp = calloc(1, sizeof(*qp));
	char p[PATH_MAX + 32];
	int err = -ENOMEM;

	if (!qp)
		return -ENOMEM;
	qp->f = f;
	qp->cq = cq;
	qp->out_fd = -1;
	qp->sq_depth = send_depth;
	qp->rq_depth = recv_depth;
	qp->sq = calloc(send_depth, sizeof(*qp->sq));
	qp->rq = calloc(recv_depth, sizeof(*qp->rq));
	if (!qp->sq || !qp->rq || !send_depth || !recv_depth)
		goto fail;
	qp->qpn = __atomic_fetch_add(&f->dev->next_qpn, 1, __ATOMIC_ACQ_REL) & 0xffffff;
	path_of(f, f->name, "qp", qp->qpn, p, sizeof(p));
	unlink(p);
	qp->in = map_file(p, sizeof(*qp->in), true);
	if (!qp->in) {
		err = -errno;
		goto fail;
	}
	qp->in->pid = (int32_t)getpid();
	qp->in->cq = cq->id;
	qp->in->state = QP_ALIVE;
	__atomic_store_n(&qp->in->magic, EMU_MAGIC, __ATOMIC_RELEASE);
	qp->state = QPS_INIT;
	qp->next = cq->qps;
	cq->qps = qp;
	*out = qp;
	*qpn = qp->qpn;
	return 0;
fail:
	free(qp->sq);
	free(qp->rq);
	free(qp);
	return err;
}

static void emu_destroy_qp(struct fabric_qp *qp)
{
	char p[PATH_MAX + 32];

	if (!qp)
		return;
	for (struct fabric_qp **pp = &qp->cq->qps; *pp; pp = &(*pp)->next)
		if (*pp == qp) {
			*pp = qp->next;
			break;
		}
	__atomic_store_n(&qp->in->state, QP_GONE, __ATOMIC_RELEASE);
	path_of(qp->f, qp->f->name, "qp", qp->qpn, p, sizeof(p));
	unlink(p);
	munmap(qp->in, sizeof(*qp->in));
	if (qp->out) {
		ring_fd(qp->out_fd); /* the far end notices at once */
		munmap(qp->out, sizeof(*qp->out));
	}
	if (qp->out_fd >= 0)
		close(qp->out_fd);
	free(qp->sq);
	free(qp->rq);
	free(qp);
}

static int emu_connect(struct fabric_qp *qp, const struct fabric_qp_attr *local,
		       const struct fabric_qp_attr *remote, uint8_t rnr_retry)
{
	char name[FABRIC_GID_LEN + 1] = { 0 }, p[PATH_MAX + 32];
	struct qp_shm *out;
	int fd;

	if (qp->state != QPS_INIT)
		return -EINVAL;
	memcpy(name, remote->gid, FABRIC_GID_LEN);
	if (!name_ok(name))
		return -EINVAL;
	path_of(qp->f, name, "qp", remote->qpn, p, sizeof(p));
	out = map_file(p, sizeof(*out), false);
	if (!out)
		return -errno == -ENOENT ? -EHOSTUNREACH : -errno;
	if (__atomic_load_n(&out->magic, __ATOMIC_ACQUIRE) != EMU_MAGIC) {
		munmap(out, sizeof(*out));
		return -EINVAL;
	}
	path_of(qp->f, name, "cq", out->cq, p, sizeof(p));
	fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC); /* RDWR: never SIGPIPE */
	if (fd < 0) {
		int err = -errno;

		munmap(out, sizeof(*out));
		return err;
	}
	qp->out = out;
	qp->out_fd = fd;
	qp->rnr_retry = rnr_retry;
	qp->state = QPS_RTS; /* RTR then RTS: nothing in between to emulate */
	ring_fd(qp->cq->fd); /* messages may wait already */
	return 0;
}

static int emu_set_error(struct fabric_qp *qp)
{
	qp_error(qp);
	return 0;
}

static int emu_post_recv(struct fabric_qp *qp, uint64_t wr_id, void *buf, uint32_t len,
			 uint32_t lkey)
{
	if (qp->state == QPS_RESET)
		return -EINVAL;
	if (qp->rq_count == qp->rq_depth)
		return -ENOMEM;
	if (!mr_covers(qp->f, lkey, buf, len))
		return -EINVAL;
	qp->rq[(qp->rq_head + qp->rq_count) % qp->rq_depth] =
		(struct rq_entry){ .wr_id = wr_id, .buf = buf, .len = len };
	qp->rq_count++;
	if (qp->rq_count == 1 && qp->in->tail < __atomic_load_n(&qp->in->head, __ATOMIC_ACQUIRE))
		ring_fd(qp->cq->fd); /* a message waits for it */
	return 0;
}

static int emu_post_send(struct fabric_qp *qp, uint64_t wr_id, const void *buf, uint32_t len,
			 uint32_t lkey, uint32_t imm, unsigned flags)
{
	struct sq_entry *e;

	if (qp->state != QPS_RTS && qp->state != QPS_ERR)
		return -EINVAL;
	if (qp->sq_count == qp->sq_depth)
		return -ENOMEM;
	if (len > RING_BYTES / 2 || ((flags & FABRIC_SEND_INLINE) && len > MAX_INLINE))
		return -EINVAL;
	if (!(flags & FABRIC_SEND_INLINE) && len && !mr_covers(qp->f, lkey, buf, len))
		return -EINVAL;
	e = &qp->sq[(qp->sq_head + qp->sq_count) % qp->sq_depth];
	*e = (struct sq_entry){ .wr_id = wr_id, .buf = buf, .len = len, .imm = imm,
				.flags = flags & (FABRIC_SEND_SIGNALED | FABRIC_SEND_INLINE |
						  FABRIC_SEND_IMM) };
	if (flags & FABRIC_SEND_INLINE)
		memcpy(e->inl, buf, len);
	qp->sq_count++;
	if (qp->state == QPS_ERR)
		ring_fd(qp->cq->fd);
	else
		progress_send(qp);
	return 0;
}

int fabric_emu_fault(const char *device, enum fabric_emu_fault what, uint32_t n)
{
	struct fabric f = { 0 };
	char p[PATH_MAX + 32];
	int fd;

	if (split_path(device, f.dir, sizeof(f.dir), f.name) < 0)
		return -EINVAL;
	path_of(&f, f.name, "dev", 0, p, sizeof(p));
	f.dev = map_file(p, sizeof(*f.dev), false);
	if (!f.dev)
		return -errno;
	switch (what) {
	case FABRIC_EMU_PORT_DOWN:
		__atomic_store_n(&f.dev->port_down, 1, __ATOMIC_RELEASE);
		break;
	case FABRIC_EMU_PORT_UP:
		__atomic_store_n(&f.dev->port_down, 0, __ATOMIC_RELEASE);
		break;
	case FABRIC_EMU_FAIL_SENDS:
		__atomic_store_n(&f.dev->fail_sends, n, __ATOMIC_RELEASE);
		break;
	}
	munmap(f.dev, sizeof(*f.dev));
	path_of(&f, f.name, "async", 0, p, sizeof(p));
	fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC); /* RDWR: never SIGPIPE */
	if (fd >= 0) {
		ring_fd(fd);
		close(fd);
	}
	return 0;
}

const struct fabric_ops fabric_emu_ops = {
	.name = "emu",
	.open = emu_open,
	.close = emu_close,
	.port = emu_port,
	.async_fd = emu_async_fd,
	.get_async = emu_get_async,
	.reg_mr = emu_reg_mr,
	.dereg_mr = emu_dereg_mr,
	.create_cq = emu_create_cq,
	.destroy_cq = emu_destroy_cq,
	.cq_fd = emu_cq_fd,
	.req_notify = emu_req_notify,
	.get_event = emu_get_event,
	.poll = emu_poll,
	.create_qp = emu_create_qp,
	.destroy_qp = emu_destroy_qp,
	.connect = emu_connect,
	.set_error = emu_set_error,
	.post_recv = emu_post_recv,
	.post_send = emu_post_send,
};
