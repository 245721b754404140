/* The verbs engine (verbs_engine.h says what it promises: ring, credits, failures).
 *
 * Send flow: verbs_engine_send -> straight to a send slot when the backlog is empty and
 * a credit and a slot are free, else the backlog -> pump() (after every batch of
 * completions) moves the backlog into slots as credits and slots come back, then sends
 * a credit message if this end owes enough and sent nothing that carried them.
 *
 * Receive flow: the channel fd is readable -> get_event -> poll until empty, re-arm,
 * poll once more (a completion between the last poll and the re-arm would otherwise
 * wait) -> each receive: credits from its immediate data, the message to the owner,
 * the buffer reposted (or held: recv_hold_ms) -> pump().
 *
 * A link is freed only outside its own callbacks (in_cb), so the owner may close it
 * from message() or failed(). */
#include "tunnel/verbs_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunvnet/loop.h"

#define SIGNAL_EVERY 8
#define POLL_BATCH   32
#define TICK_MS      100 /* progress without events: the emulated fabric's timeouts */
#define WR_SEND      (1ull << 63)

struct verbs_engine {
	struct loop *loop;
	const struct fabric_ops *fops;
	struct fabric *f;
	struct loop_io *async_io;
	struct verbs_engine_cfg cfg;
	struct fabric_port port;
	struct verbs_qp *links;
};

struct verbs_qp {
	struct verbs_engine *e;
	struct verbs_qp *next;
	const struct verbs_engine_events *ev;
	void *arg;
	struct fabric_cq *cq;
	struct fabric_qp *qp;
	struct loop_io *io;
	struct loop_timer tick, hold;
	struct verbs_engine_peer local, remote;
	bool connected, failed, closed, in_cb;
	int perr;              /* a post failed inside send(): reported from the timer */

	uint8_t *rbuf;         /* recv_depth buffers of msg_max */
	struct fabric_mr *rmr;
	uint32_t rkey;
	uint32_t *held;        /* buffers to repost later (recv_hold_ms) */
	uint32_t held_head, held_count;

	uint8_t *sbuf;         /* send_depth slots of msg_max */
	struct fabric_mr *smr;
	uint32_t skey;
	bool *slot_ctrl;       /* the slot holds a credit message */
	uint64_t seq;          /* sends posted */
	uint64_t done;         /* sends known complete */
	uint32_t unsignalled;
	uint32_t ctrl_inflight;

	uint32_t credits;      /* data messages the far end can take now */
	uint32_t owed;         /* buffers reposted and not reported yet */
	uint32_t threshold;    /* owe this many: send a credit message */
	uint32_t max_inline;

	uint8_t *bl;           /* backlog: [u32 len][bytes] ... */
	size_t bl_head, bl_len, bl_cap;

	struct verbs_engine_stats st;
};

static void qp_free(struct verbs_qp *q)
{
	struct verbs_engine *e = q->e;
	const struct fabric_ops *fo = e->fops;

	for (struct verbs_qp **pp = &e->links; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	loop_timer_stop(e->loop, &q->tick);
	loop_timer_stop(e->loop, &q->hold);
	loop_io_del(q->io);
	if (q->qp)
		fo->destroy_qp(q->qp);
	if (q->cq)
		fo->destroy_cq(q->cq);
	fo->dereg_mr(q->rmr);
	fo->dereg_mr(q->smr);
	free(q->rbuf);
	free(q->sbuf);
	free(q->slot_ctrl);
	free(q->held);
	free(q->bl);
	free(q);
}

/* Reports a failure once; the owner will close the link. */
static void fail(struct verbs_qp *q, int err, const char *why)
{
	bool was = q->in_cb;

	if (q->failed || q->closed)
		return;
	q->failed = true;
	loop_timer_stop(q->e->loop, &q->tick);
	loop_timer_stop(q->e->loop, &q->hold);
	q->in_cb = true;
	if (q->ev && q->ev->failed)
		q->ev->failed(q, err, why, q->arg);
	q->in_cb = was;
	if (q->closed && !q->in_cb)
		qp_free(q);
}

static uint8_t *slot(struct verbs_qp *q, uint64_t seq)
{
	return q->sbuf + (size_t)(seq % q->e->cfg.send_depth) * q->e->cfg.msg_max;
}

static bool slot_free(const struct verbs_qp *q)
{
	return q->seq - q->done < q->e->cfg.send_depth;
}

/* Posts a|b (or a credit message when both are empty) in the next slot. */
static int post(struct verbs_qp *q, const void *a, size_t alen, const void *b, size_t blen)
{
	size_t len = alen + blen;
	uint8_t *s = slot(q, q->seq);
	bool ctrl = len == 0;
	unsigned flags = FABRIC_SEND_IMM;
	int err;

	if (alen)
		memcpy(s, a, alen);
	if (blen)
		memcpy(s + alen, b, blen);
	if (len <= q->max_inline)
		flags |= FABRIC_SEND_INLINE;
	/* Signal one in SIGNAL_EVERY, credit messages, and the send that fills the queue:
	 * slots come back only through signalled completions. */
	if (ctrl || ++q->unsignalled >= SIGNAL_EVERY || q->seq - q->done + 1 == q->e->cfg.send_depth) {
		flags |= FABRIC_SEND_SIGNALED;
		q->unsignalled = 0;
	}
	err = q->e->fops->post_send(q->qp, WR_SEND | q->seq, s, (uint32_t)len, q->skey, q->owed,
				    flags);
	if (err < 0)
		return err;
	q->slot_ctrl[q->seq % q->e->cfg.send_depth] = ctrl;
	q->seq++;
	q->owed = 0;
	q->st.tx_msgs++;
	if (flags & FABRIC_SEND_INLINE)
		q->st.tx_inline++;
	if (flags & FABRIC_SEND_SIGNALED)
		q->st.tx_signalled++;
	if (ctrl) {
		q->ctrl_inflight++;
		q->st.tx_credit_msgs++;
	} else {
		q->credits--;
	}
	return 0;
}

static bool can_send_data(const struct verbs_qp *q)
{
	return q->connected && !q->failed && q->credits > 0 && slot_free(q);
}

/* Moves the backlog out as far as credits and slots allow, then returns owed credits
 * if nothing carried them. */
static void pump(struct verbs_qp *q)
{
	int err;

	if (!q->connected || q->failed || q->closed)
		return;
	while (q->bl_head < q->bl_len && can_send_data(q)) {
		uint32_t len;

		memcpy(&len, q->bl + q->bl_head, 4);
		err = post(q, q->bl + q->bl_head + 4, len, NULL, 0);
		if (err < 0) {
			fail(q, err, "cannot post a send");
			return;
		}
		q->bl_head += 4 + (size_t)len;
	}
	if (q->bl_head == q->bl_len)
		q->bl_head = q->bl_len = 0;
	if (q->owed >= q->threshold && q->ctrl_inflight < VERBS_CTRL_SLOTS && slot_free(q)) {
		err = post(q, NULL, 0, NULL, 0);
		if (err < 0)
			fail(q, err, "cannot post a credit message");
	}
}

static int repost(struct verbs_qp *q, uint32_t idx)
{
	size_t m = q->e->cfg.msg_max;

	return q->e->fops->post_recv(q->qp, idx, q->rbuf + idx * m, (uint32_t)m, q->rkey);
}

static void on_hold(struct loop_timer *t, void *arg)
{
	struct verbs_qp *q = arg;

	if (!q->held_count || q->failed)
		return;
	q->in_cb = true;
	if (repost(q, q->held[q->held_head]) < 0) {
		fail(q, -EIO, "cannot post a receive");
	} else {
		q->held_head = (q->held_head + 1) % q->e->cfg.recv_depth;
		q->held_count--;
		q->owed++;
		pump(q);
		if (q->held_count && !q->failed)
			loop_timer_arm(q->e->loop, &q->hold, q->e->cfg.recv_hold_ms);
	}
	q->in_cb = false;
	if (q->closed)
		qp_free(q);
}

static void completion_failed(struct verbs_qp *q, const struct fabric_wc *wc)
{
	char why[96];

	snprintf(why, sizeof(why), "%s completion: %s",
		 wc->wr_id & WR_SEND ? "send" : "receive", fabric_wc_status_str(wc->status));
	fail(q, wc->status == FABRIC_WC_RETRY_EXC || wc->status == FABRIC_WC_RNR_RETRY_EXC
			? -ETIMEDOUT : -EIO, why);
}

/* One completion. false once the link failed or was closed. */
static bool handle(struct verbs_qp *q, const struct fabric_wc *wc)
{
	const struct verbs_engine_cfg *c = &q->e->cfg;

	if (wc->status != FABRIC_WC_SUCCESS) {
		completion_failed(q, wc);
		return false;
	}
	if (wc->wr_id & WR_SEND) {
		uint64_t seq = wc->wr_id & ~WR_SEND;

		if (seq < q->done || seq >= q->seq)
			return true;
		/* In order: every send up to seq is complete. */
		for (; q->done <= seq; q->done++)
			if (q->slot_ctrl[q->done % c->send_depth]) {
				q->slot_ctrl[q->done % c->send_depth] = false;
				q->ctrl_inflight--;
			}
		return true;
	}
	if (wc->wr_id >= c->recv_depth)
		return true;
	if (wc->has_imm) {
		/* Never more than the far end's ring: a lying or broken peer cannot make
		 * this end overrun it. */
		if (wc->imm > q->remote.recv_depth ||
		    q->credits + wc->imm > q->remote.recv_depth - VERBS_CTRL_SLOTS) {
			fail(q, -EPROTO, "the far end returned more credits than it has");
			return false;
		}
		q->credits += wc->imm;
	}
	q->st.rx_msgs++;
	if (wc->byte_len == 0) {
		/* A credit message: its buffer goes back at once, owed to no one. */
		q->st.rx_credit_msgs++;
		if (repost(q, (uint32_t)wc->wr_id) < 0) {
			fail(q, -EIO, "cannot post a receive");
			return false;
		}
		return true;
	}
	{
		bool was = q->in_cb;

		q->in_cb = true;
		if (q->ev && q->ev->message)
			q->ev->message(q, q->rbuf + wc->wr_id * c->msg_max, wc->byte_len, q->arg);
		q->in_cb = was;
	}
	if (q->closed || q->failed)
		return false;
	if (c->recv_hold_ms) {
		q->held[(q->held_head + q->held_count) % c->recv_depth] = (uint32_t)wc->wr_id;
		if (!q->held_count++)
			loop_timer_arm(q->e->loop, &q->hold, c->recv_hold_ms);
		return true;
	}
	if (repost(q, (uint32_t)wc->wr_id) < 0) {
		fail(q, -EIO, "cannot post a receive");
		return false;
	}
	q->owed++;
	return true;
}

/* Polls until the queue is empty. false once the link is gone or failed. */
static bool drain(struct verbs_qp *q)
{
	struct fabric_wc wc[POLL_BATCH];
	int n;

	do {
		n = q->e->fops->poll(q->cq, wc, POLL_BATCH);
		if (n < 0) {
			fail(q, n, "cannot poll the completion queue");
			return false;
		}
		for (int i = 0; i < n; i++)
			if (!handle(q, &wc[i]))
				return false;
	} while (n == POLL_BATCH);
	return true;
}

static void process(struct verbs_qp *q)
{
	const struct fabric_ops *fo = q->e->fops;

	q->in_cb = true; /* nothing below frees q; a close waits for the end */
	while (fo->get_event(q->cq) == 0)
		;
	if (drain(q)) {
		if (fo->req_notify(q->cq) < 0)
			fail(q, -EIO, "cannot arm the completion channel");
		else if (drain(q))
			pump(q);
	}
	q->in_cb = false;
	if (q->closed)
		qp_free(q);
}

static void on_cq(struct loop_io *io, uint32_t events, void *arg)
{
	process(arg);
}

static void on_tick(struct loop_timer *t, void *arg)
{
	struct verbs_qp *q = arg;

	loop_timer_arm(q->e->loop, &q->tick, TICK_MS);
	if (q->perr) {
		fail(q, q->perr, "cannot post a send");
		return;
	}
	process(q);
}

static void on_async(struct loop_io *io, uint32_t events, void *arg)
{
	struct verbs_engine *e = arg;
	enum fabric_event ev;
	struct fabric_qp *which;

	while (e->fops->get_async(e->f, &ev, &which) == 0 && ev != FABRIC_EV_NONE) {
		char why[96];

		if (ev == FABRIC_EV_PORT_UP || ev == FABRIC_EV_OTHER)
			continue;
		snprintf(why, sizeof(why), "%s: %s", e->port.device, fabric_event_str(ev));
		/* Every link on the port (or the one queue pair) fails now. A link closed
		 * by its owner from failed() unlinks itself: walk from the head again. */
		for (bool again = true; again;) {
			again = false;
			for (struct verbs_qp *q = e->links; q; q = q->next) {
				if (q->failed || q->closed || (which && q->qp != which))
					continue;
				fail(q, ev == FABRIC_EV_DEVICE_GONE ? -ENODEV : -ENETDOWN, why);
				again = true;
				break;
			}
		}
	}
}

int verbs_engine_open(struct loop *l, const struct fabric_ops *fops, const char *device,
		      uint8_t port, const struct verbs_engine_cfg *cfg, struct verbs_engine **out,
		      char *why, size_t why_len)
{
	struct verbs_engine *e;
	int err;

	if (cfg->recv_depth <= VERBS_CTRL_SLOTS + 1 || cfg->send_depth < 2 ||
	    cfg->msg_max < 64 || cfg->rnr_retry > 7) {
		snprintf(why, why_len, "bad verbs engine configuration");
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->loop = l;
	e->fops = fops;
	e->cfg = *cfg;
	err = fops->open(device, port, &e->f, why, why_len);
	if (err < 0)
		goto fail;
	err = fops->port(e->f, &e->port);
	if (err < 0) {
		snprintf(why, why_len, "cannot query the port: %s", strerror(-err));
		goto fail_f;
	}
	e->async_io = loop_io_add(l, fops->async_fd(e->f), EPOLLIN, on_async, e);
	if (!e->async_io) {
		err = -errno;
		snprintf(why, why_len, "cannot watch the device's events");
		goto fail_f;
	}
	*out = e;
	return 0;
fail_f:
	fops->close(e->f);
fail:
	free(e);
	return err;
}

void verbs_engine_close(struct verbs_engine *e)
{
	if (!e)
		return;
	loop_io_del(e->async_io);
	e->fops->close(e->f);
	free(e);
}

int verbs_engine_port(struct verbs_engine *e, struct fabric_port *out)
{
	int err = e->fops->port(e->f, out);

	if (err == 0)
		e->port = *out;
	return err;
}

int verbs_engine_link(struct verbs_engine *e, const struct verbs_engine_events *ev, void *arg,
		      struct verbs_qp **out, struct verbs_engine_peer *local)
{
	const struct verbs_engine_cfg *c = &e->cfg;
	const struct fabric_ops *fo = e->fops;
	struct verbs_qp *q = calloc(1, sizeof(*q));
	int err = -ENOMEM;

	if (!q)
		return -ENOMEM;
	q->e = e;
	q->ev = ev;
	q->arg = arg;
	loop_timer_init(&q->tick, on_tick, q);
	loop_timer_init(&q->hold, on_hold, q);
	q->next = e->links;
	e->links = q;
	q->rbuf = malloc((size_t)c->recv_depth * c->msg_max);
	q->sbuf = malloc((size_t)c->send_depth * c->msg_max);
	q->slot_ctrl = calloc(c->send_depth, sizeof(*q->slot_ctrl));
	q->held = calloc(c->recv_depth, sizeof(*q->held));
	if (!q->rbuf || !q->sbuf || !q->slot_ctrl || !q->held)
		goto fail;
	if ((err = fo->reg_mr(e->f, q->rbuf, (size_t)c->recv_depth * c->msg_max, &q->rmr,
			      &q->rkey)) < 0 ||
	    (err = fo->reg_mr(e->f, q->sbuf, (size_t)c->send_depth * c->msg_max, &q->smr,
			      &q->skey)) < 0 ||
	    (err = fo->create_cq(e->f, (int)(c->recv_depth + c->send_depth), &q->cq)) < 0 ||
	    (err = fo->create_qp(e->f, q->cq, c->send_depth, c->recv_depth, &q->qp,
				 &q->local.qp.qpn)) < 0)
		goto fail;
	for (uint32_t i = 0; i < c->recv_depth; i++)
		if ((err = repost(q, i)) < 0)
			goto fail;
	if ((err = fo->req_notify(q->cq)) < 0)
		goto fail;
	q->io = loop_io_add(e->loop, fo->cq_fd(q->cq), EPOLLIN, on_cq, q);
	if (!q->io) {
		err = -errno;
		goto fail;
	}
	q->local.qp.psn = (uint32_t)random() & 0xffffff;
	q->local.qp.lid = e->port.lid;
	memcpy(q->local.qp.gid, e->port.gid, FABRIC_GID_LEN);
	q->local.qp.mtu = e->port.mtu;
	q->local.recv_depth = c->recv_depth;
	q->local.msg_max = c->msg_max;
	*out = q;
	*local = q->local;
	return 0;
fail:
	qp_free(q);
	return err;
}

int verbs_engine_connect(struct verbs_qp *q, const struct verbs_engine_peer *remote)
{
	const struct verbs_engine_cfg *c = &q->e->cfg;
	int err;

	if (q->connected || q->failed)
		return -EINVAL;
	/* The far end's buffers must take this end's largest message, and its ring leave
	 * data credits beside the control receives. */
	if (remote->msg_max < c->msg_max || remote->recv_depth <= VERBS_CTRL_SLOTS ||
	    remote->recv_depth > 65536 || remote->qp.qpn > 0xffffff || remote->qp.psn > 0xffffff)
		return -EINVAL;
	err = q->e->fops->connect(q->qp, &q->local.qp, &remote->qp, c->rnr_retry);
	if (err < 0)
		return err;
	q->remote = *remote;
	q->credits = remote->recv_depth - VERBS_CTRL_SLOTS;
	q->threshold = (c->recv_depth - VERBS_CTRL_SLOTS) / 4;
	if (q->threshold == 0)
		q->threshold = 1;
	q->max_inline = q->e->port.max_inline;
	q->connected = true;
	loop_timer_arm(q->e->loop, &q->tick, TICK_MS);
	pump(q);
	return 0;
}

/* Appends a|b to the backlog. */
static int backlog(struct verbs_qp *q, bool droppable, const void *a, size_t alen, const void *b,
		   size_t blen)
{
	size_t pending = q->bl_len - q->bl_head, need = 4 + alen + blen;
	uint32_t len = (uint32_t)(alen + blen);

	if (pending + need > (droppable ? VERBS_BACKLOG_DATA : VERBS_BACKLOG_HARD))
		return -ENOBUFS;
	if (q->bl_len + need > q->bl_cap) {
		if (q->bl_head) {
			memmove(q->bl, q->bl + q->bl_head, pending);
			q->bl_len = pending;
			q->bl_head = 0;
		}
		if (q->bl_len + need > q->bl_cap) {
			size_t cap = q->bl_cap ? q->bl_cap : 256 * 1024;
			uint8_t *nb;

			while (cap < q->bl_len + need)
				cap *= 2;
			nb = realloc(q->bl, cap);
			if (!nb)
				return -ENOBUFS;
			q->bl = nb;
			q->bl_cap = cap;
		}
	}
	memcpy(q->bl + q->bl_len, &len, 4);
	if (alen)
		memcpy(q->bl + q->bl_len + 4, a, alen);
	if (blen)
		memcpy(q->bl + q->bl_len + 4 + alen, b, blen);
	q->bl_len += need;
	return 0;
}

int verbs_engine_send(struct verbs_qp *q, bool droppable, const void *a, size_t alen,
		      const void *b, size_t blen)
{
	int err;

	if (q->failed || q->closed || q->perr)
		return -ENOTCONN;
	if (alen + blen > q->e->cfg.msg_max || alen + blen == 0)
		return -EMSGSIZE;
	if (q->bl_head == q->bl_len && can_send_data(q)) {
		err = post(q, a, alen, b, blen);
		if (err < 0) {
			/* Reported from the timer, not to a caller in the middle of its work. */
			q->perr = err;
			loop_timer_arm(q->e->loop, &q->tick, 0);
			return -ENOTCONN;
		}
		return 0;
	}
	if (q->connected && q->credits == 0)
		q->st.credit_stalls++;
	return backlog(q, droppable, a, alen, b, blen);
}

void verbs_engine_close_link(struct verbs_qp *q)
{
	if (!q || q->closed)
		return;
	q->closed = true;
	loop_io_del(q->io);
	q->io = NULL;
	if (!q->in_cb)
		qp_free(q);
}

size_t verbs_engine_queued(const struct verbs_qp *q)
{
	return q->bl_len - q->bl_head;
}

void verbs_engine_stats(const struct verbs_qp *q, struct verbs_engine_stats *out)
{
	*out = q->st;
	out->credits = q->credits;
	out->owed = q->owed;
	out->held = q->held_count;
	out->backlog = q->bl_len - q->bl_head;
}
