/* The libibverbs fabric against a mocked libibverbs (fabric_ibv.h's table of calls): what
 * it asks of the device. Discovery (no device, the first active port, the RoCE v2 GID),
 * the queue pair's creation (RC, selective signalling) and its INIT/RTR/RTS attributes,
 * the work requests it posts (send with immediate, inline, signalled, big-endian
 * immediate), completions and async events mapped back, and the verbs engine on top:
 * the receive ring is posted in full when a link is made. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <cmocka.h>

#include "tunnel/fabric_ibv.h"
#include "tunnel/verbs_engine.h"
#include "tunvnet/loop.h"

/* The mocked device's state and what the fabric asked of it. */
static struct {
	int ndev;
	enum ibv_port_state port_state[3];
	enum ibv_mtu mtu;
	bool ethernet;
	struct ibv_context ctx;
	struct ibv_pd pd;
	struct ibv_qp qp;
	struct ibv_cq cq;
	struct ibv_comp_channel ch;
	struct ibv_qp_init_attr qp_init;
	struct ibv_qp_attr mod[4];
	int mod_mask[4], nmod;
	struct ibv_send_wr send;
	struct ibv_sge send_sge;
	bool send_had_sge;
	int nrecv;
	uint32_t recv_lkey;
	struct ibv_wc wc[4];
	int nwc;
	struct ibv_async_event async;
	bool async_pending;
	int acked_async;
} M;

static struct ibv_device dev0;

static struct ibv_device **m_get_device_list(int *n)
{
	struct ibv_device **l = calloc(2, sizeof(*l));

	*n = M.ndev;
	if (M.ndev)
		l[0] = &dev0;
	return l;
}

static void m_free_device_list(struct ibv_device **l)
{
	free(l);
}

static const char *m_get_device_name(struct ibv_device *d)
{
	return "mock0";
}

static struct ibv_context *m_open_device(struct ibv_device *d)
{
	M.ctx.async_fd = eventfd(0, 0);
	return &M.ctx;
}

static int m_close_device(struct ibv_context *c)
{
	close(c->async_fd);
	return 0;
}

static int m_query_device(struct ibv_context *c, struct ibv_device_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->phys_port_cnt = 2;
	return 0;
}

static int m_query_port(struct ibv_context *c, uint8_t port, struct ibv_port_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->state = M.port_state[port];
	a->active_mtu = M.mtu;
	a->lid = M.ethernet ? 0 : 0x42;
	a->gid_tbl_len = 4;
	a->link_layer = M.ethernet ? IBV_LINK_LAYER_ETHERNET : IBV_LINK_LAYER_INFINIBAND;
	return 0;
}

/* Index 0: a link-local GID; index 2: IPv4-mapped 198.18.0.1 (RoCE v2). */
static int m_query_gid(struct ibv_context *c, uint8_t port, int i, union ibv_gid *g)
{
	memset(g, 0, sizeof(*g));
	if (i == 0) {
		g->raw[0] = 0xfe;
		g->raw[1] = 0x80;
		g->raw[15] = 1;
	} else if (i == 2) {
		g->raw[10] = g->raw[11] = 0xff;
		g->raw[12] = 198;
		g->raw[13] = 18;
		g->raw[15] = 1;
	}
	return 0;
}

static struct ibv_pd *m_alloc_pd(struct ibv_context *c)
{
	return &M.pd;
}

static int m_dealloc_pd(struct ibv_pd *pd)
{
	return 0;
}

static struct ibv_mr *m_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	struct ibv_mr *mr = calloc(1, sizeof(*mr));

	assert_int_equal(access, IBV_ACCESS_LOCAL_WRITE); /* no remote access, ever */
	mr->addr = addr;
	mr->length = len;
	mr->lkey = 0x1000 + (uint32_t)(len & 0xfff);
	return mr;
}

static int m_dereg_mr(struct ibv_mr *mr)
{
	free(mr);
	return 0;
}

static struct ibv_comp_channel *m_create_comp_channel(struct ibv_context *c)
{
	M.ch.fd = eventfd(0, 0);
	return &M.ch;
}

static int m_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	close(ch->fd);
	return 0;
}

static struct ibv_cq *m_create_cq(struct ibv_context *c, int cqe, void *ctx,
				  struct ibv_comp_channel *ch, int vector)
{
	assert_ptr_equal(ch, &M.ch); /* with its completion channel */
	M.cq.cqe = cqe;
	return &M.cq;
}

static int m_destroy_cq(struct ibv_cq *cq)
{
	return 0;
}

static int m_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	assert_int_equal(solicited_only, 0);
	return 0;
}

static int m_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq, void **ctx)
{
	return -1;
}

static void m_ack_cq_events(struct ibv_cq *cq, unsigned int n)
{
}

static int m_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	int got = M.nwc < n ? M.nwc : n;

	memcpy(wc, M.wc, (size_t)got * sizeof(*wc));
	M.nwc = 0;
	return got;
}

static struct ibv_qp *m_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *a)
{
	M.qp_init = *a;
	a->cap.max_inline_data = 32; /* the device gives less than asked */
	M.qp.qp_num = 0x00abcd;
	M.qp.qp_context = a->qp_context;
	return &M.qp;
}

static int m_destroy_qp(struct ibv_qp *qp)
{
	return 0;
}

static int m_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *a, int mask)
{
	assert_true(M.nmod < 4);
	M.mod[M.nmod] = *a;
	M.mod_mask[M.nmod++] = mask;
	return 0;
}

static int m_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	M.send = *wr;
	M.send_had_sge = wr->sg_list != NULL;
	if (wr->sg_list)
		M.send_sge = wr->sg_list[0];
	assert_null(wr->next);
	return 0;
}

static int m_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	assert_int_equal(wr->num_sge, 1);
	M.recv_lkey = wr->sg_list[0].lkey;
	M.nrecv++;
	return 0;
}

static int m_get_async_event(struct ibv_context *c, struct ibv_async_event *ev)
{
	if (!M.async_pending)
		return -1;
	M.async_pending = false;
	*ev = M.async;
	return 0;
}

static void m_ack_async_event(struct ibv_async_event *ev)
{
	M.acked_async++;
}

static const struct fabric_ibv_calls mock = {
	.get_device_list = m_get_device_list,
	.free_device_list = m_free_device_list,
	.get_device_name = m_get_device_name,
	.open_device = m_open_device,
	.close_device = m_close_device,
	.query_device = m_query_device,
	.query_port = m_query_port,
	.query_gid = m_query_gid,
	.alloc_pd = m_alloc_pd,
	.dealloc_pd = m_dealloc_pd,
	.reg_mr = m_reg_mr,
	.dereg_mr = m_dereg_mr,
	.create_comp_channel = m_create_comp_channel,
	.destroy_comp_channel = m_destroy_comp_channel,
	.create_cq = m_create_cq,
	.destroy_cq = m_destroy_cq,
	.req_notify_cq = m_req_notify_cq,
	.get_cq_event = m_get_cq_event,
	.ack_cq_events = m_ack_cq_events,
	.poll_cq = m_poll_cq,
	.create_qp = m_create_qp,
	.destroy_qp = m_destroy_qp,
	.modify_qp = m_modify_qp,
	.post_send = m_post_send,
	.post_recv = m_post_recv,
	.get_async_event = m_get_async_event,
	.ack_async_event = m_ack_async_event,
};

static int reset(void **state)
{
	memset(&M, 0, sizeof(M));
	M.ndev = 1;
	M.port_state[1] = IBV_PORT_DOWN;
	M.port_state[2] = IBV_PORT_ACTIVE;
	M.mtu = IBV_MTU_2048;
	return 0;
}

static void test_no_device(void **state)
{
	struct fabric *f;
	char why[64];

	M.ndev = 0;
	assert_int_equal(fabric_ibv_open_calls(&mock, NULL, 0, &f, why, sizeof(why)), -ENODEV);
	assert_string_equal(why, "no RDMA device");
	M.ndev = 1;
	assert_int_equal(fabric_ibv_open_calls(&mock, "mlx5_9", 0, &f, why, sizeof(why)),
			 -ENODEV);
	assert_string_equal(why, "no RDMA device mlx5_9");
	M.port_state[2] = IBV_PORT_DOWN;
	assert_int_equal(fabric_ibv_open_calls(&mock, NULL, 0, &f, why, sizeof(why)), -ENODEV);
	assert_string_equal(why, "mock0: no active port");
}

static void test_first_active_port_and_roce_gid(void **state)
{
	struct fabric *f;
	struct fabric_port p;
	char why[64];

	M.ethernet = true;
	assert_int_equal(fabric_ibv_open_calls(&mock, NULL, 0, &f, why, sizeof(why)), 0);
	assert_int_equal(fabric_ibv_ops.port(f, &p), 0);
	assert_string_equal(p.device, "mock0");
	assert_int_equal(p.port, 2);           /* port 1 is down */
	assert_true(p.active);
	assert_int_equal(p.mtu, 2048);
	assert_int_equal(p.gid_index, 2);      /* the IPv4-mapped GID: RoCE v2 */
	assert_int_equal(p.gid[12], 198);
	fabric_ibv_ops.close(f);
}

static void test_qp_states_and_posts(void **state)
{
	const struct fabric_ops *fo = &fabric_ibv_ops;
	struct fabric *f;
	struct fabric_cq *cq;
	struct fabric_qp *qp;
	struct fabric_mr *mr;
	struct fabric_port p;
	struct fabric_qp_attr local = { .psn = 0x111, .mtu = 2048 },
			      remote = { .qpn = 0x77, .psn = 0x222, .lid = 9, .mtu = 1024 };
	static uint8_t buf[4096];
	uint32_t qpn, lkey;
	char why[64];

	assert_int_equal(fabric_ibv_open_calls(&mock, NULL, 0, &f, why, sizeof(why)), 0);
	assert_int_equal(fo->port(f, &p), 0);
	assert_int_equal(p.lid, 0x42);
	assert_int_equal(fo->reg_mr(f, buf, sizeof(buf), &mr, &lkey), 0);
	assert_int_equal(fo->create_cq(f, 64, &cq), 0);
	assert_int_equal(M.cq.cqe, 64);
	assert_int_equal(fo->cq_fd(cq), M.ch.fd);
	assert_int_equal(fo->create_qp(f, cq, 16, 32, &qp, &qpn), 0);
	assert_int_equal(qpn, 0xabcd);
	assert_int_equal(M.qp_init.qp_type, IBV_QPT_RC);
	assert_int_equal(M.qp_init.sq_sig_all, 0); /* selective signalling */
	assert_int_equal(M.qp_init.cap.max_send_wr, 16);
	assert_int_equal(M.qp_init.cap.max_recv_wr, 32);
	assert_ptr_equal(M.qp_init.send_cq, &M.cq);
	assert_ptr_equal(M.qp_init.recv_cq, &M.cq);
	/* INIT at creation */
	assert_int_equal(M.nmod, 1);
	assert_int_equal(M.mod[0].qp_state, IBV_QPS_INIT);
	assert_int_equal(M.mod[0].port_num, 2);
	assert_int_equal(M.mod[0].qp_access_flags, 0);
	assert_int_equal(M.mod_mask[0], IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
						IBV_QP_ACCESS_FLAGS);
	/* RTR toward the far end, then RTS */
	assert_int_equal(fo->connect(qp, &local, &remote, 3), 0);
	assert_int_equal(M.nmod, 3);
	assert_int_equal(M.mod[1].qp_state, IBV_QPS_RTR);
	assert_int_equal(M.mod[1].dest_qp_num, 0x77);
	assert_int_equal(M.mod[1].rq_psn, 0x222);
	assert_int_equal(M.mod[1].path_mtu, IBV_MTU_1024); /* the smaller */
	assert_int_equal(M.mod[1].ah_attr.dlid, 9);
	assert_int_equal(M.mod[1].ah_attr.is_global, 0);  /* InfiniBand, same subnet */
	assert_int_equal(M.mod[1].ah_attr.port_num, 2);
	assert_true(M.mod_mask[1] & IBV_QP_AV);
	assert_true(M.mod_mask[1] & IBV_QP_DEST_QPN);
	assert_int_equal(M.mod[2].qp_state, IBV_QPS_RTS);
	assert_int_equal(M.mod[2].sq_psn, 0x111);
	assert_int_equal(M.mod[2].rnr_retry, 3);
	assert_int_equal(M.mod[2].retry_cnt, 7);
	assert_true(M.mod_mask[2] & IBV_QP_SQ_PSN);
	/* A small signalled inline send with immediate */
	assert_int_equal(fo->post_send(qp, 5, buf, 20, lkey, 0x01020304,
				       FABRIC_SEND_IMM | FABRIC_SEND_INLINE |
					       FABRIC_SEND_SIGNALED), 0);
	assert_int_equal(M.send.opcode, IBV_WR_SEND_WITH_IMM);
	assert_int_equal(M.send.wr_id, 5);
	assert_int_equal(M.send.imm_data, htobe32(0x01020304));
	assert_int_equal(M.send.send_flags, IBV_SEND_SIGNALED | IBV_SEND_INLINE);
	assert_int_equal(M.send_sge.length, 20);
	assert_int_equal(M.send_sge.lkey, lkey);
	/* Inline asked past what the device gave (32): sent by DMA instead */
	assert_int_equal(fo->post_send(qp, 6, buf, 40, lkey, 0,
				       FABRIC_SEND_IMM | FABRIC_SEND_INLINE), 0);
	assert_int_equal(M.send.send_flags, 0);
	/* A credit message: no data, no scatter entry */
	assert_int_equal(fo->post_send(qp, 7, buf, 0, lkey, 9, FABRIC_SEND_IMM), 0);
	assert_int_equal(M.send.num_sge, 0);
	assert_false(M.send_had_sge);
	/* Error state */
	assert_int_equal(fo->set_error(qp), 0);
	assert_int_equal(M.mod[3].qp_state, IBV_QPS_ERR);
	fo->destroy_qp(qp);
	fo->destroy_cq(cq);
	fo->dereg_mr(mr);
	fo->close(f);
}

static void test_roce_connect_is_global(void **state)
{
	struct fabric *f;
	struct fabric_cq *cq;
	struct fabric_qp *qp;
	struct fabric_qp_attr local = { .mtu = 1024 }, remote = { .qpn = 1, .mtu = 4096 };
	uint32_t qpn;
	char why[64];

	M.ethernet = true;
	remote.gid[10] = remote.gid[11] = 0xff;
	remote.gid[15] = 2;
	assert_int_equal(fabric_ibv_open_calls(&mock, NULL, 0, &f, why, sizeof(why)), 0);
	assert_int_equal(fabric_ibv_ops.create_cq(f, 8, &cq), 0);
	assert_int_equal(fabric_ibv_ops.create_qp(f, cq, 4, 4, &qp, &qpn), 0);
	assert_int_equal(fabric_ibv_ops.connect(qp, &local, &remote, 7), 0);
	assert_int_equal(M.mod[1].ah_attr.is_global, 1);
	assert_memory_equal(M.mod[1].ah_attr.grh.dgid.raw, remote.gid, 16);
	assert_int_equal(M.mod[1].ah_attr.grh.sgid_index, 2);
	assert_int_equal(M.mod[1].path_mtu, IBV_MTU_1024);
	fabric_ibv_ops.destroy_qp(qp);
	fabric_ibv_ops.destroy_cq(cq);
	fabric_ibv_ops.close(f);
}

static void test_completions_and_events(void **state)
{
	const struct fabric_ops *fo = &fabric_ibv_ops;
	struct fabric *f;
	struct fabric_cq *cq;
	struct fabric_qp *qp, *which;
	struct fabric_wc wc[4];
	enum fabric_event ev;
	uint32_t qpn;
	char why[64];

	assert_int_equal(fabric_ibv_open_calls(&mock, NULL, 0, &f, why, sizeof(why)), 0);
	assert_int_equal(fo->create_cq(f, 8, &cq), 0);
	assert_int_equal(fo->create_qp(f, cq, 4, 4, &qp, &qpn), 0);
	M.wc[0] = (struct ibv_wc){ .wr_id = 3, .status = IBV_WC_SUCCESS, .opcode = IBV_WC_RECV,
				   .byte_len = 100, .imm_data = htobe32(5),
				   .wc_flags = IBV_WC_WITH_IMM };
	M.wc[1] = (struct ibv_wc){ .wr_id = 4, .status = IBV_WC_RNR_RETRY_EXC_ERR };
	M.wc[2] = (struct ibv_wc){ .wr_id = 5, .status = IBV_WC_WR_FLUSH_ERR };
	M.wc[3] = (struct ibv_wc){ .wr_id = 6, .status = IBV_WC_REM_ACCESS_ERR };
	M.nwc = 4;
	assert_int_equal(fo->poll(cq, wc, 4), 4);
	assert_int_equal(wc[0].opcode, FABRIC_WC_RECV);
	assert_int_equal(wc[0].byte_len, 100);
	assert_true(wc[0].has_imm);
	assert_int_equal(wc[0].imm, 5);
	assert_int_equal(wc[1].status, FABRIC_WC_RNR_RETRY_EXC);
	assert_int_equal(wc[2].status, FABRIC_WC_WR_FLUSH_ERR);
	assert_int_equal(wc[3].status, FABRIC_WC_REM_ERR);
	assert_int_equal(fo->get_event(cq), -EAGAIN);

	assert_int_equal(fo->get_async(f, &ev, &which), 0);
	assert_int_equal(ev, FABRIC_EV_NONE);
	M.async = (struct ibv_async_event){ .event_type = IBV_EVENT_PORT_ERR,
					    .element.port_num = 2 };
	M.async_pending = true;
	assert_int_equal(fo->get_async(f, &ev, &which), 0);
	assert_int_equal(ev, FABRIC_EV_PORT_DOWN);
	M.async = (struct ibv_async_event){ .event_type = IBV_EVENT_PORT_ERR,
					    .element.port_num = 1 }; /* not our port */
	M.async_pending = true;
	assert_int_equal(fo->get_async(f, &ev, &which), 0);
	assert_int_equal(ev, FABRIC_EV_OTHER);
	M.async = (struct ibv_async_event){ .event_type = IBV_EVENT_QP_FATAL,
					    .element.qp = &M.qp };
	M.async_pending = true;
	assert_int_equal(fo->get_async(f, &ev, &which), 0);
	assert_int_equal(ev, FABRIC_EV_QP_FATAL);
	assert_ptr_equal(which, qp);
	M.async = (struct ibv_async_event){ .event_type = IBV_EVENT_DEVICE_FATAL };
	M.async_pending = true;
	assert_int_equal(fo->get_async(f, &ev, &which), 0);
	assert_int_equal(ev, FABRIC_EV_DEVICE_GONE);
	assert_int_equal(M.acked_async, 4); /* every event acknowledged */
	fo->destroy_qp(qp);
	fo->destroy_cq(cq);
	fo->close(f);
}

/* The engine on the mocked device: a new link posts its whole receive ring, with the
 * receive region's key, before the far end may send. */
static struct fabric_ops mock_ops;

static int mock_open(const char *device, uint8_t port, struct fabric **out, char *why,
		     size_t why_len)
{
	return fabric_ibv_open_calls(&mock, device, port, out, why, why_len);
}

static void test_engine_posts_ring(void **state)
{
	struct verbs_engine_cfg cfg = { .recv_depth = 12, .send_depth = 8, .msg_max = 4096,
					.rnr_retry = 3 };
	struct verbs_engine *e;
	struct verbs_qp *q;
	struct verbs_engine_peer local;
	struct loop *l;
	char why[64];

	mock_ops = fabric_ibv_ops;
	mock_ops.open = mock_open;
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(verbs_engine_open(l, &mock_ops, NULL, 0, &cfg, &e, why, sizeof(why)), 0);
	assert_int_equal(verbs_engine_link(e, NULL, NULL, &q, &local), 0);
	assert_int_equal(M.nrecv, 12);
	assert_int_equal(M.recv_lkey, 0x1000 + ((12 * 4096) & 0xfff));
	assert_int_equal(local.qp.qpn, 0xabcd);
	assert_int_equal(local.recv_depth, 12);
	assert_int_equal(local.qp.lid, 0x42);
	assert_true(local.qp.psn <= 0xffffff);
	verbs_engine_close_link(q);
	verbs_engine_close(e);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_device, reset),
		cmocka_unit_test_setup(test_first_active_port_and_roce_gid, reset),
		cmocka_unit_test_setup(test_qp_states_and_posts, reset),
		cmocka_unit_test_setup(test_roce_connect_is_global, reset),
		cmocka_unit_test_setup(test_completions_and_events, reset),
		cmocka_unit_test_setup(test_engine_posts_ring, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
