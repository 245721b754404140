/* The libibverbs fabric: verbs_fabric.h on a real RDMA device (InfiniBand, RoCE, or
 * rdma_rxe on an Ethernet interface). Every libibverbs call goes through the table in
 * fabric_ibv.h, so unit tests mock the device.
 *
 * Discovery: the named device (or the first one) and the named port (or the first
 * ACTIVE one). On RoCE (an Ethernet link layer) the GID is the port's first
 * IPv4-mapped GID (RoCE v2 over the node's IPv4 underlay), else index 0; on InfiniBand
 * the LID addresses the far end and the GID is used only when the far end gave one
 * outside the subnet (a non-zero GID with a zero LID). */
#include "tunnel/fabric_ibv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_WANT 64 /* asked of the queue pairs; most devices give more */

struct fabric {
	const struct fabric_ibv_calls *c;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	char name[FABRIC_NAME_MAX];
	uint8_t port;
	bool ethernet;
	int gid_index;
	uint32_t max_inline;
};

struct fabric_cq {
	struct fabric *f;
	struct ibv_comp_channel *ch;
	struct ibv_cq *cq;
};

struct fabric_qp {
	struct fabric *f;
	struct ibv_qp *qp;
};

struct fabric_mr {
	struct fabric *f;
	struct ibv_mr *mr;
};

/* The thin wrappers around libibverbs' inline functions and macros. */
static int w_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr)
{
	return ibv_query_port(ctx, port, attr);
}

static struct ibv_mr *w_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	return ibv_reg_mr(pd, addr, len, access);
}

static int w_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	return ibv_req_notify_cq(cq, solicited_only);
}

static int w_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	return ibv_poll_cq(cq, n, wc);
}

static int w_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	return ibv_post_send(qp, wr, bad);
}

static int w_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	return ibv_post_recv(qp, wr, bad);
}

const struct fabric_ibv_calls fabric_ibv_real = {
	.get_device_list = ibv_get_device_list,
	.free_device_list = ibv_free_device_list,
	.get_device_name = ibv_get_device_name,
	.open_device = ibv_open_device,
	.close_device = ibv_close_device,
	.query_device = ibv_query_device,
	.query_port = w_query_port,
	.query_gid = ibv_query_gid,
	.alloc_pd = ibv_alloc_pd,
	.dealloc_pd = ibv_dealloc_pd,
	.reg_mr = w_reg_mr,
	.dereg_mr = ibv_dereg_mr,
	.create_comp_channel = ibv_create_comp_channel,
	.destroy_comp_channel = ibv_destroy_comp_channel,
	.create_cq = ibv_create_cq,
	.destroy_cq = ibv_destroy_cq,
	.req_notify_cq = w_req_notify_cq,
	.get_cq_event = ibv_get_cq_event,
	.ack_cq_events = ibv_ack_cq_events,
	.poll_cq = w_poll_cq,
	.create_qp = ibv_create_qp,
	.destroy_qp = ibv_destroy_qp,
	.modify_qp = ibv_modify_qp,
	.post_send = w_post_send,
	.post_recv = w_post_recv,
	.get_async_event = ibv_get_async_event,
	.ack_async_event = ibv_ack_async_event,
};

static uint32_t mtu_bytes(enum ibv_mtu m)
{
	return m >= IBV_MTU_256 && m <= IBV_MTU_4096 ? 128u << m : 1024;
}

static enum ibv_mtu mtu_enum(uint32_t bytes)
{
	enum ibv_mtu m = IBV_MTU_256;

	while (m < IBV_MTU_4096 && mtu_bytes(m + 1) <= bytes)
		m++;
	return m;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* The port's GID index: on RoCE the first IPv4-mapped GID (RoCE v2), else 0. */
static int pick_gid(struct fabric *f, const struct ibv_port_attr *pa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!f->ethernet)
		return 0;
	for (int i = 0; i < pa->gid_tbl_len && i < 128; i++) {
		union ibv_gid g;

		if (f->c->query_gid(f->ctx, f->port, i, &g) == 0 &&
		    memcmp(g.raw, v4mapped, sizeof(v4mapped)) == 0)
			return i;
	}
	return 0;
}

int fabric_ibv_open_calls(const struct fabric_ibv_calls *c, const char *device, uint8_t port,
			  struct fabric **out, char *why, size_t why_len)
{
	struct ibv_device **list;
	struct ibv_device *dev = NULL;
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	struct fabric *f;
	int n = 0, err;

	list = c->get_device_list(&n);
	if (!list || n == 0) {
		if (list)
			c->free_device_list(list);
		snprintf(why, why_len, "no RDMA device");
		return -ENODEV;
	}
	for (int i = 0; i < n && !dev; i++)
		if (!device || strcmp(c->get_device_name(list[i]), device) == 0)
			dev = list[i];
	if (!dev) {
		c->free_device_list(list);
		snprintf(why, why_len, "no RDMA device %s", device);
		return -ENODEV;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		c->free_device_list(list);
		return -ENOMEM;
	}
	f->c = c;
	snprintf(f->name, sizeof(f->name), "%s", c->get_device_name(dev));
	f->ctx = c->open_device(dev);
	c->free_device_list(list);
	if (!f->ctx) {
		err = errno ? -errno : -ENODEV;
		snprintf(why, why_len, "cannot open RDMA device %s", f->name);
		goto fail;
	}
	if (c->query_device(f->ctx, &da) != 0) {
		err = -EIO;
		snprintf(why, why_len, "cannot query RDMA device %s", f->name);
		goto fail_ctx;
	}
	err = -ENODEV;
	snprintf(why, why_len, "%s: no active port", f->name);
	for (uint8_t p = port ? port : 1; p <= da.phys_port_cnt && p != 0; p++) {
		if (c->query_port(f->ctx, p, &pa) == 0 && (port || pa.state == IBV_PORT_ACTIVE)) {
			f->port = p;
			break;
		}
		if (port)
			break;
	}
	if (!f->port)
		goto fail_ctx;
	f->ethernet = pa.link_layer == IBV_LINK_LAYER_ETHERNET;
	f->gid_index = pick_gid(f, &pa);
	f->max_inline = INLINE_WANT;
	if (set_nonblock(f->ctx->async_fd) < 0) {
		err = -errno;
		snprintf(why, why_len, "%s: cannot watch device events", f->name);
		goto fail_ctx;
	}
	f->pd = c->alloc_pd(f->ctx);
	if (!f->pd) {
		err = -ENOMEM;
		snprintf(why, why_len, "%s: cannot allocate a protection domain", f->name);
		goto fail_ctx;
	}
	*out = f;
	return 0;
fail_ctx:
	c->close_device(f->ctx);
fail:
	free(f);
	return err;
}

static int ibv_fab_open(const char *device, uint8_t port, struct fabric **out, char *why,
			size_t why_len)
{
	return fabric_ibv_open_calls(&fabric_ibv_real, device, port, out, why, why_len);
}

static void ibv_fab_close(struct fabric *f)
{
	if (!f)
		return;
	f->c->dealloc_pd(f->pd);
	f->c->close_device(f->ctx);
	free(f);
}

static int ibv_fab_port(struct fabric *f, struct fabric_port *out)
{
	struct ibv_port_attr pa;
	union ibv_gid g;

	if (f->c->query_port(f->ctx, f->port, &pa) != 0)
		return -EIO;
	memset(out, 0, sizeof(*out));
	snprintf(out->device, sizeof(out->device), "%s", f->name);
	out->port = f->port;
	out->active = pa.state == IBV_PORT_ACTIVE;
	out->lid = pa.lid;
	out->gid_index = (uint8_t)f->gid_index;
	if (f->c->query_gid(f->ctx, f->port, f->gid_index, &g) == 0)
		memcpy(out->gid, g.raw, FABRIC_GID_LEN);
	out->mtu = mtu_bytes(pa.active_mtu);
	out->max_inline = f->max_inline;
	return 0;
}

static int ibv_fab_async_fd(struct fabric *f)
{
	return f->ctx->async_fd;
}

static int ibv_fab_get_async(struct fabric *f, enum fabric_event *ev, struct fabric_qp **qp_out)
{
	struct ibv_async_event e;

	*ev = FABRIC_EV_NONE;
	*qp_out = NULL;
	if (f->c->get_async_event(f->ctx, &e) != 0)
		return 0; /* EAGAIN: none pending (the fd is non-blocking) */
	switch (e.event_type) {
	case IBV_EVENT_PORT_ERR:
		*ev = e.element.port_num == f->port ? FABRIC_EV_PORT_DOWN : FABRIC_EV_OTHER;
		break;
	case IBV_EVENT_PORT_ACTIVE:
		*ev = e.element.port_num == f->port ? FABRIC_EV_PORT_UP : FABRIC_EV_OTHER;
		break;
	case IBV_EVENT_DEVICE_FATAL:
		*ev = FABRIC_EV_DEVICE_GONE;
		break;
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
		*ev = FABRIC_EV_QP_FATAL;
		*qp_out = e.element.qp ? e.element.qp->qp_context : NULL;
		break;
	default:
		*ev = FABRIC_EV_OTHER;
		break;
	}
	f->c->ack_async_event(&e);
	return 0;
}

static int ibv_fab_reg_mr(struct fabric *f, void *buf, size_t len, struct fabric_mr **out,
			  uint32_t *lkey)
{
	struct fabric_mr *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->f = f;
	m->mr = f->c->reg_mr(f->pd, buf, len, IBV_ACCESS_LOCAL_WRITE);
	if (!m->mr) {
		int err = errno ? -errno : -ENOMEM;

		free(m);
		return err;
	}
	*lkey = m->mr->lkey;
	*out = m;
	return 0;
}

static void ibv_fab_dereg_mr(struct fabric_mr *m)
{
	if (!m)
		return;
	m->f->c->dereg_mr(m->mr);
	free(m);
}

static int ibv_fab_create_cq(struct fabric *f, int depth, struct fabric_cq **out)
{
	struct fabric_cq *cq = calloc(1, sizeof(*cq));
	int err = -ENOMEM;

	if (!cq)
		return -ENOMEM;
	cq->f = f;
	cq->ch = f->c->create_comp_channel(f->ctx);
	if (!cq->ch)
		goto fail;
	if ((err = set_nonblock(cq->ch->fd)) < 0)
		goto fail_ch;
	cq->cq = f->c->create_cq(f->ctx, depth, cq, cq->ch, 0);
	if (!cq->cq) {
		err = -ENOMEM;
		goto fail_ch;
	}
	*out = cq;
	return 0;
fail_ch:
	f->c->destroy_comp_channel(cq->ch);
fail:
	free(cq);
	return err;
}

static void ibv_fab_destroy_cq(struct fabric_cq *cq)
{
	if (!cq)
		return;
	cq->f->c->destroy_cq(cq->cq);
	cq->f->c->destroy_comp_channel(cq->ch);
	free(cq);
}

static int ibv_fab_cq_fd(struct fabric_cq *cq)
{
	return cq->ch->fd;
}

static int ibv_fab_req_notify(struct fabric_cq *cq)
{
	int r = cq->f->c->req_notify_cq(cq->cq, 0);

	return r ? -r : 0; /* libibverbs returns a positive errno here */
}

static int ibv_fab_get_event(struct fabric_cq *cq)
{
	struct ibv_cq *ev_cq;
	void *ctx;

	if (cq->f->c->get_cq_event(cq->ch, &ev_cq, &ctx) != 0)
		return -EAGAIN;
	cq->f->c->ack_cq_events(ev_cq, 1);
	return 0;
}

static enum fabric_wc_status status_of(enum ibv_wc_status s)
{
	switch (s) {
	case IBV_WC_SUCCESS:
		return FABRIC_WC_SUCCESS;
	case IBV_WC_WR_FLUSH_ERR:
		return FABRIC_WC_WR_FLUSH_ERR;
	case IBV_WC_RNR_RETRY_EXC_ERR:
		return FABRIC_WC_RNR_RETRY_EXC;
	case IBV_WC_RETRY_EXC_ERR:
		return FABRIC_WC_RETRY_EXC;
	case IBV_WC_LOC_LEN_ERR:
	case IBV_WC_LOC_QP_OP_ERR:
	case IBV_WC_LOC_PROT_ERR:
		return FABRIC_WC_LOC_ERR;
	case IBV_WC_REM_INV_REQ_ERR:
	case IBV_WC_REM_ACCESS_ERR:
	case IBV_WC_REM_OP_ERR:
		return FABRIC_WC_REM_ERR;
	default:
		return FABRIC_WC_OTHER_ERR;
	}
}

static int ibv_fab_poll(struct fabric_cq *cq, struct fabric_wc *wc, int n)
{
	struct ibv_wc w[32];
	int got;

	if (n > 32)
		n = 32;
	got = cq->f->c->poll_cq(cq->cq, n, w);
	if (got < 0)
		return -EIO;
	for (int i = 0; i < got; i++)
		wc[i] = (struct fabric_wc){
			.wr_id = w[i].wr_id,
			.status = status_of(w[i].status),
			.opcode = w[i].opcode & IBV_WC_RECV ? FABRIC_WC_RECV : FABRIC_WC_SEND,
			.byte_len = w[i].byte_len,
			.imm = be32toh(w[i].imm_data),
			.has_imm = w[i].status == IBV_WC_SUCCESS && (w[i].wc_flags & IBV_WC_WITH_IMM),
		};
	return got;
}

static int ibv_fab_create_qp(struct fabric *f, struct fabric_cq *cq, uint32_t send_depth,
			     uint32_t recv_depth, struct fabric_qp **out, uint32_t *qpn)
{
	struct fabric_qp *q = calloc(1, sizeof(*q));
	struct ibv_qp_init_attr ia = {
		.qp_context = q,
		.send_cq = cq->cq,
		.recv_cq = cq->cq,
		.cap = { .max_send_wr = send_depth, .max_recv_wr = recv_depth,
			 .max_send_sge = 1, .max_recv_sge = 1, .max_inline_data = INLINE_WANT },
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 0, /* selective signalling */
	};
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.pkey_index = 0,
		.port_num = f->port,
		.qp_access_flags = 0, /* two-sided sends only: no remote access */
	};
	int r;

	if (!q)
		return -ENOMEM;
	q->f = f;
	q->qp = f->c->create_qp(f->pd, &ia);
	if (!q->qp) {
		r = errno ? errno : ENOMEM;
		free(q);
		return -r;
	}
	if (ia.cap.max_inline_data < f->max_inline)
		f->max_inline = ia.cap.max_inline_data;
	r = f->c->modify_qp(q->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					  IBV_QP_ACCESS_FLAGS);
	if (r) {
		f->c->destroy_qp(q->qp);
		free(q);
		return -r;
	}
	*qpn = q->qp->qp_num;
	*out = q;
	return 0;
}

static void ibv_fab_destroy_qp(struct fabric_qp *q)
{
	if (!q)
		return;
	q->f->c->destroy_qp(q->qp);
	free(q);
}

static bool gid_zero(const uint8_t *g)
{
	for (int i = 0; i < FABRIC_GID_LEN; i++)
		if (g[i])
			return false;
	return true;
}

static int ibv_fab_connect(struct fabric_qp *q, const struct fabric_qp_attr *local,
			   const struct fabric_qp_attr *remote, uint8_t rnr_retry)
{
	struct fabric *f = q->f;
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = mtu_enum(local->mtu < remote->mtu ? local->mtu : remote->mtu),
		.dest_qp_num = remote->qpn,
		.rq_psn = remote->psn,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12, /* 0.64 ms */
		.ah_attr = { .dlid = remote->lid, .sl = 0, .src_path_bits = 0,
			     .port_num = f->port },
	};
	int r;

	/* RoCE always routes by GID; InfiniBand does when the far end has no LID. */
	if (f->ethernet || (remote->lid == 0 && !gid_zero(remote->gid))) {
		a.ah_attr.is_global = 1;
		memcpy(a.ah_attr.grh.dgid.raw, remote->gid, FABRIC_GID_LEN);
		a.ah_attr.grh.sgid_index = (uint8_t)f->gid_index;
		a.ah_attr.grh.hop_limit = 64;
	}
	r = f->c->modify_qp(q->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
					  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
	if (r)
		return -r;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14; /* 4.096 us * 2^14: 67 ms per try */
	a.retry_cnt = 7;
	a.rnr_retry = rnr_retry;
	a.sq_psn = local->psn;
	a.max_rd_atomic = 1;
	r = f->c->modify_qp(q->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
					  IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
					  IBV_QP_MAX_QP_RD_ATOMIC);
	return -r;
}

static int ibv_fab_set_error(struct fabric_qp *q)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

	return -q->f->c->modify_qp(q->qp, &a, IBV_QP_STATE);
}

static int ibv_fab_post_recv(struct fabric_qp *q, uint64_t wr_id, void *buf, uint32_t len,
			     uint32_t lkey)
{
	struct ibv_sge sge = { .addr = (uintptr_t)buf, .length = len, .lkey = lkey };
	struct ibv_recv_wr wr = { .wr_id = wr_id, .sg_list = &sge, .num_sge = 1 }, *bad;

	return -q->f->c->post_recv(q->qp, &wr, &bad);
}

static int ibv_fab_post_send(struct fabric_qp *q, uint64_t wr_id, const void *buf, uint32_t len,
			     uint32_t lkey, uint32_t imm, unsigned flags)
{
	struct ibv_sge sge = { .addr = (uintptr_t)buf, .length = len, .lkey = lkey };
	struct ibv_send_wr wr = {
		.wr_id = wr_id,
		.sg_list = len ? &sge : NULL,
		.num_sge = len ? 1 : 0,
		.opcode = flags & FABRIC_SEND_IMM ? IBV_WR_SEND_WITH_IMM : IBV_WR_SEND,
		.send_flags = (flags & FABRIC_SEND_SIGNALED ? IBV_SEND_SIGNALED : 0) |
			      (flags & FABRIC_SEND_INLINE && len <= q->f->max_inline
				       ? IBV_SEND_INLINE : 0),
		.imm_data = htobe32(imm),
	}, *bad;

	return -q->f->c->post_send(q->qp, &wr, &bad);
}

const struct fabric_ops fabric_ibv_ops = {
	.name = "ibv",
	.open = ibv_fab_open,
	.close = ibv_fab_close,
	.port = ibv_fab_port,
	.async_fd = ibv_fab_async_fd,
	.get_async = ibv_fab_get_async,
	.reg_mr = ibv_fab_reg_mr,
	.dereg_mr = ibv_fab_dereg_mr,
	.create_cq = ibv_fab_create_cq,
	.destroy_cq = ibv_fab_destroy_cq,
	.cq_fd = ibv_fab_cq_fd,
	.req_notify = ibv_fab_req_notify,
	.get_event = ibv_fab_get_event,
	.poll = ibv_fab_poll,
	.create_qp = ibv_fab_create_qp,
	.destroy_qp = ibv_fab_destroy_qp,
	.connect = ibv_fab_connect,
	.set_error = ibv_fab_set_error,
	.post_recv = ibv_fab_post_recv,
	.post_send = ibv_fab_post_send,
};
