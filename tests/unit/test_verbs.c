/* The verbs substrate end to end over the emulated fabric: two verbs instances (two
 * emulated devices) in one process, one loop. Transfer in order both ways with inline
 * and selectively signalled sends; a receiver that posts slowly (credits run out, the
 * sender waits, nothing is lost, no "receiver not ready"); completions in error, a
 * port going down and a far end gone each fail the link at once with a reason; the
 * fabric alone: a send without a receive fails with RNR after its retries and the
 * rest flushes; the parameters blob and the message parser refuse what is wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunnel/fabric_emu.h"
#include "tunnel/verbs.h"
#include "tunvnet/loop.h"

struct end {
	struct tunnel *t;
	struct tunnel_link *lk;
	char dev[256];
	bool ready, closed;
	int err;
	char why[128];
	uint32_t next;    /* the sequence number expected next */
	uint64_t frames, bytes;
	bool bad;         /* out of order or corrupt */
};

static struct loop *L;
static char dir[64];
static struct end A, B;

static void on_ready(struct tunnel_link *lk, void *arg)
{
	((struct end *)arg)->ready = true;
}

/* Payload: u32 sequence, then bytes (seq + i) & 0xff. */
static void on_frame(struct tunnel_link *lk, const struct frame_hdr *h, const uint8_t *p,
		     void *arg)
{
	struct end *e = arg;
	uint32_t seq;

	if (h->len < 4) {
		e->bad = true;
		return;
	}
	memcpy(&seq, p, 4);
	if (seq != e->next)
		e->bad = true;
	for (uint32_t i = 4; i < h->len; i++)
		if (p[i] != (uint8_t)(seq + i))
			e->bad = true;
	e->next = seq + 1;
	e->frames++;
	e->bytes += h->len;
}

static void on_closed(struct tunnel_link *lk, int err, const char *why, void *arg)
{
	struct end *e = arg;

	e->closed = true;
	e->err = err;
	snprintf(e->why, sizeof(e->why), "%s", why);
	tunnel_verbs_ops.close(lk);
	e->lk = NULL;
}

static const struct tunnel_events events = {
	.ready = on_ready, .frame = on_frame, .closed = on_closed,
};

static int send_seq(struct end *e, uint32_t seq, size_t len)
{
	static uint8_t buf[FRAME_MAX_PAYLOAD];

	memcpy(buf, &seq, 4);
	for (size_t i = 4; i < len; i++)
		buf[i] = (uint8_t)(seq + i);
	return tunnel_verbs_ops.send(e->lk, FRAME_DATA, 0, buf, len);
}

static bool run_until(bool (*cond)(void), int max_ms)
{
	uint64_t end = loop_clock_ms() + (uint64_t)max_ms;

	while (!cond() && loop_clock_ms() < end)
		loop_run_once(L, 20);
	return cond();
}

static int setup_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/dev/shm/tunvnet-test-verbs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(loop_new(&L), 0);
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	loop_free(L);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Opens A and B on their emulated devices and connects a link between them. */
static void pair(uint32_t recv_depth, uint32_t b_hold_ms)
{
	struct verbs_engine_cfg cfg = { .recv_depth = recv_depth, .send_depth = 32,
					.msg_max = 66112, .rnr_retry = 3 };
	uint8_t pa[VERBS_PARAMS_LEN], pb[VERBS_PARAMS_LEN];
	size_t la, lb;
	char why[128];

	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	snprintf(A.dev, sizeof(A.dev), "%s/a", dir);
	snprintf(B.dev, sizeof(B.dev), "%s/b", dir);
	assert_int_equal(verbs_open_on(L, &fabric_emu_ops, A.dev, &cfg, &A.t, why, sizeof(why)), 0);
	cfg.recv_hold_ms = b_hold_ms;
	assert_int_equal(verbs_open_on(L, &fabric_emu_ops, B.dev, &cfg, &B.t, why, sizeof(why)), 0);
	assert_int_equal(verbs_endpoint(A.t, &A.lk, pa, sizeof(pa), &la), 0);
	assert_int_equal(verbs_endpoint(B.t, &B.lk, pb, sizeof(pb), &lb), 0);
	tunnel_verbs_ops.set_events(A.lk, &events, &A);
	tunnel_verbs_ops.set_events(B.lk, &events, &B);
	assert_int_equal(verbs_start(A.lk, pb, lb), 0);
	assert_int_equal(verbs_start(B.lk, pa, la), 0);
	assert_int_equal(verbs_start(B.lk, pa, la), -EALREADY);
}

static void unpair(void)
{
	if (A.lk)
		tunnel_verbs_ops.close(A.lk);
	if (B.lk)
		tunnel_verbs_ops.close(B.lk);
	tunnel_verbs_ops.free(A.t);
	tunnel_verbs_ops.free(B.t);
}

static bool both_ready(void)
{
	return A.ready && B.ready;
}

static uint64_t want_a, want_b;

static bool all_in(void)
{
	return A.frames >= want_a && B.frames >= want_b;
}

static bool a_closed(void)
{
	return A.closed;
}

static void test_transfer(void **state)
{
	struct verbs_engine_stats sa, sb;
	uint32_t sa_seq = 0, sb_seq = 0;

	pair(16, 0);
	assert_true(run_until(both_ready, 2000));
	/* Small (inline), medium and 64 KiB super-packet sized frames, both ways, more
	 * than the ring holds: the senders wait for credits as they go. */
	want_a = want_b = 0;
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 25; i++) {
			size_t len = i % 5 == 0 ? 65536 : i % 2 ? 40 : 1400;

			if (send_seq(&A, sa_seq, len) == 0)
				sa_seq++;
			if (i % 3 == 0 && send_seq(&B, sb_seq, 100) == 0)
				sb_seq++;
		}
		want_b = sa_seq;
		want_a = sb_seq;
		assert_true(run_until(all_in, 5000));
	}
	assert_false(A.bad);
	assert_false(B.bad);
	assert_int_equal(B.frames, sa_seq);
	assert_int_equal(A.frames, sb_seq);
	assert_true(sa_seq > 900); /* nothing refused while the backlog had room */
	verbs_link_stats(A.lk, &sa);
	verbs_link_stats(B.lk, &sb);
	assert_true(sa.tx_inline > 0);
	assert_true(sa.tx_signalled < sa.tx_msgs / 2); /* selective signalling */
	assert_true(sa.credit_stalls > 0);
	assert_true(sb.tx_credit_msgs > 0);            /* B had less to say than credits */
	assert_true(sa.rx_credit_msgs > 0 && sa.rx_credit_msgs <= sb.tx_credit_msgs);
	assert_false(A.closed || B.closed);
	unpair();
}

static void test_slow_receiver(void **state)
{
	struct verbs_engine_stats sa, sb;
	uint32_t sent = 0, refused = 0;
	int rounds = 0;
	uint64_t t0;

	pair(8, 3); /* B reposts one buffer per 3 ms */
	assert_true(run_until(both_ready, 2000));
	for (uint32_t i = 0; i < 300; i++) {
		int err = send_seq(&A, sent, 1000);

		if (err == 0)
			sent++;
		else if (err == -ENOBUFS)
			refused++;
		else
			fail_msg("send: %d", err);
	}
	verbs_link_stats(A.lk, &sa);
	assert_int_equal(sa.credits, 0);          /* exhausted */
	assert_true(sa.backlog > 0);              /* the rest waits, in order */
	assert_true(sa.credit_stalls > 0);
	want_b = sent;
	want_a = 0;
	t0 = loop_clock_ms();
	uint64_t until = loop_clock_ms() + 10000;

	while (!all_in() && loop_clock_ms() < until) {
		rounds++;
		loop_run_once(L, 20);
		verbs_link_stats(B.lk, &sb);
		/* Never more in flight than B's ring: B never holds more than it has. */
		assert_true(sb.held <= 8);
	}
	if (!all_in()) {
		verbs_link_stats(A.lk, &sa);
		verbs_link_stats(B.lk, &sb);
		print_message("B got %llu of %u; A credits %u backlog %zu; B owed %u held %u closed %d %d %s\n",
			      (unsigned long long)B.frames, sent, sa.credits, sa.backlog, sb.owed,
			      sb.held, A.closed, B.closed, A.why);
	}
	assert_true(all_in());
	print_message("slow receiver: %u frames in %llu ms, %d loop turns\n", sent,
		      (unsigned long long)(loop_clock_ms() - t0), rounds);
	assert_false(B.bad);
	assert_false(A.closed || B.closed); /* no receiver-not-ready error, ever */
	verbs_link_stats(A.lk, &sa);
	assert_int_equal(sa.backlog, 0);
	assert_int_equal(refused, 0);
	/* Recovery: credits come back once B caught up. */
	assert_true(run_until(all_in, 100));
	for (int i = 0; i < 50 && sa.credits < 8 - VERBS_CTRL_SLOTS; i++) {
		loop_run_once(L, 20);
		verbs_link_stats(A.lk, &sa);
	}
	assert_int_equal(sa.credits, 8 - VERBS_CTRL_SLOTS);
	unpair();
}

static void test_backlog_bounded(void **state)
{
	uint32_t sent = 0;
	int err = 0;

	pair(8, 1000); /* B hardly posts */
	assert_true(run_until(both_ready, 2000));
	while (sent < 1000 && (err = send_seq(&A, sent, 65536)) == 0)
		sent++;
	assert_int_equal(err, -ENOBUFS);          /* DATA refused past the bound */
	assert_true(sent * 65536ull <= VERBS_BACKLOG_DATA + 16 * 65536ull);
	/* Control frames still queue. */
	assert_int_equal(tunnel_verbs_ops.send(A.lk, FRAME_PING, 0, "ping", 4), 0);
	assert_true(tunnel_verbs_ops.queued(A.lk) > VERBS_BACKLOG_DATA - 65536);
	unpair();
}

static void test_completion_error(void **state)
{
	pair(16, 0);
	assert_true(run_until(both_ready, 2000));
	want_b = 3;
	want_a = 0;
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(send_seq(&A, i, 500), 0);
	assert_true(run_until(all_in, 2000));
	assert_int_equal(fabric_emu_fault(A.dev, FABRIC_EMU_FAIL_SENDS, 1), 0);
	send_seq(&A, 3, 500);
	send_seq(&A, 4, 500);
	assert_true(run_until(a_closed, 2000));
	assert_int_equal(A.err, -ETIMEDOUT);
	assert_non_null(strstr(A.why, "send completion"));
	assert_int_equal(B.frames, 3); /* the failed send never arrived */
	unpair();
}

static void test_port_down(void **state)
{
	pair(16, 0);
	assert_true(run_until(both_ready, 2000));
	assert_int_equal(fabric_emu_fault(A.dev, FABRIC_EMU_PORT_DOWN, 0), 0);
	assert_true(run_until(a_closed, 2000));
	assert_int_equal(A.err, -ENETDOWN);
	assert_non_null(strstr(A.why, "port down"));
	unpair();
}

static void test_far_end_gone(void **state)
{
	pair(16, 0);
	assert_true(run_until(both_ready, 2000));
	tunnel_verbs_ops.close(B.lk);
	B.lk = NULL;
	send_seq(&A, 0, 100);
	assert_true(run_until(a_closed, 2000));
	assert_int_equal(A.err, -ETIMEDOUT);
	unpair();
}

static void test_emulated_meets_real_refused(void **state)
{
	uint8_t pa[VERBS_PARAMS_LEN], pb[VERBS_PARAMS_LEN];
	struct tunnel_link *x;
	struct verbs_params p;
	size_t la;

	pair(16, 0);
	assert_int_equal(verbs_endpoint(A.t, &x, pa, sizeof(pa), &la), 0);
	assert_int_equal(verbs_params_decode(pa, la, &p), 0);
	assert_true(p.emulated);
	p.emulated = false;
	assert_int_equal(verbs_params_encode(&p, pb, sizeof(pb)), VERBS_PARAMS_LEN);
	assert_int_equal(verbs_start(x, pb, VERBS_PARAMS_LEN), -EPROTO);
	tunnel_verbs_ops.close(x);
	unpair();
}

/* The fabric alone: a send that finds no receive posted fails with RNR after its
 * retries; what was posted after it flushes. */
static void test_fabric_rnr(void **state)
{
	const struct fabric_ops *fo = &fabric_emu_ops;
	struct fabric *fa, *fb;
	struct fabric_cq *ca, *cb;
	struct fabric_qp *qa, *qb;
	struct fabric_mr *ma;
	struct fabric_qp_attr xa = { .psn = 1, .mtu = 4096 }, xb = { .psn = 2, .mtu = 4096 };
	struct fabric_port pt;
	struct fabric_wc wc[4];
	static uint8_t buf[256];
	uint32_t key;
	char why[64], da[96], db[96];
	int n = 0, got = 0;

	snprintf(da, sizeof(da), "%s/ra", dir);
	snprintf(db, sizeof(db), "%s/rb", dir);
	assert_int_equal(fo->open(da, 0, &fa, why, sizeof(why)), 0);
	assert_int_equal(fo->open(db, 0, &fb, why, sizeof(why)), 0);
	assert_int_equal(fo->reg_mr(fa, buf, sizeof(buf), &ma, &key), 0);
	assert_int_equal(fo->create_cq(fa, 8, &ca), 0);
	assert_int_equal(fo->create_cq(fb, 8, &cb), 0);
	assert_int_equal(fo->create_qp(fa, ca, 4, 4, &qa, &xa.qpn), 0);
	assert_int_equal(fo->create_qp(fb, cb, 4, 4, &qb, &xb.qpn), 0);
	assert_int_equal(fo->port(fa, &pt), 0);
	memcpy(xa.gid, pt.gid, FABRIC_GID_LEN);
	assert_int_equal(fo->port(fb, &pt), 0);
	memcpy(xb.gid, pt.gid, FABRIC_GID_LEN);
	assert_int_equal(fo->connect(qa, &xa, &xb, 1), 0);
	assert_int_equal(fo->connect(qb, &xb, &xa, 1), 0);
	/* Outside the registered region: refused at post time. */
	assert_int_equal(fo->post_send(qa, 9, buf + 200, 100, key, 0, FABRIC_SEND_SIGNALED),
			 -EINVAL);
	assert_int_equal(fo->post_send(qa, 1, buf, 100, key, 0, FABRIC_SEND_SIGNALED), 0);
	assert_int_equal(fo->post_send(qa, 2, buf, 100, key, 0, FABRIC_SEND_SIGNALED), 0);
	for (int i = 0; i < 100 && got < 2; i++) {
		fo->poll(cb, wc, 4); /* B notices it has no receive */
		usleep(5000);
		n = fo->poll(ca, wc + got, 4 - got);
		got += n;
	}
	assert_int_equal(got, 2);
	assert_int_equal(wc[0].wr_id, 1);
	assert_int_equal(wc[0].status, FABRIC_WC_RNR_RETRY_EXC);
	assert_int_equal(wc[1].wr_id, 2);
	assert_int_equal(wc[1].status, FABRIC_WC_WR_FLUSH_ERR);
	fo->destroy_qp(qa);
	fo->destroy_qp(qb);
	fo->destroy_cq(ca);
	fo->destroy_cq(cb);
	fo->dereg_mr(ma);
	fo->close(fa);
	fo->close(fb);
}

/* A far end that lies: a raw queue pair on a third device connects to B's link and
 * returns more credits than B's ring could ever owe it, then (on a fresh link) sends a
 * message that is not one frame. B fails the link each time, with -EPROTO. */
static bool b_closed(void)
{
	return B.closed;
}

static void liar(bool credits)
{
	const struct fabric_ops *fo = &fabric_emu_ops;
	struct fabric *f;
	struct fabric_cq *cq;
	struct fabric_qp *qp;
	struct fabric_mr *mr;
	struct fabric_port pt;
	struct verbs_params me = { .emulated = true,
				   .peer = { .recv_depth = 16, .msg_max = 66112 } };
	uint8_t pb[VERBS_PARAMS_LEN], pm[VERBS_PARAMS_LEN];
	static uint8_t buf[64];
	struct verbs_params bp;
	uint32_t key;
	size_t lb;
	char why[64], dev[96];

	snprintf(dev, sizeof(dev), "%s/liar%d", dir, credits);
	memset(&B, 0, sizeof(B));
	assert_int_equal(fo->open(dev, 0, &f, why, sizeof(why)), 0);
	assert_int_equal(fo->port(f, &pt), 0);
	assert_int_equal(fo->reg_mr(f, buf, sizeof(buf), &mr, &key), 0);
	assert_int_equal(fo->create_cq(f, 8, &cq), 0);
	assert_int_equal(fo->create_qp(f, cq, 4, 4, &qp, &me.peer.qp.qpn), 0);
	memcpy(me.peer.qp.gid, pt.gid, FABRIC_GID_LEN);
	me.peer.qp.mtu = 4096;
	assert_int_equal(verbs_params_encode(&me, pm, sizeof(pm)), VERBS_PARAMS_LEN);
	snprintf(B.dev, sizeof(B.dev), "%s/b", dir);
	{
		struct verbs_engine_cfg cfg = { .recv_depth = 16, .send_depth = 8,
						.msg_max = 66112, .rnr_retry = 3 };

		assert_int_equal(verbs_open_on(L, &fabric_emu_ops, B.dev, &cfg, &B.t, why,
					       sizeof(why)), 0);
	}
	assert_int_equal(verbs_endpoint(B.t, &B.lk, pb, sizeof(pb), &lb), 0);
	tunnel_verbs_ops.set_events(B.lk, &events, &B);
	assert_int_equal(verbs_start(B.lk, pm, VERBS_PARAMS_LEN), 0);
	assert_int_equal(verbs_params_decode(pb, lb, &bp), 0);
	assert_int_equal(fo->connect(qp, &me.peer.qp, &bp.peer.qp, 3), 0);
	if (credits) {
		/* a valid frame, but 1000 credits back: B's ring has 16 */
		frame_hdr_encode(buf, FRAME_PING, 0, 4);
		assert_int_equal(fo->post_send(qp, 1, buf, FRAME_HDR_LEN + 4, key, 1000,
					       FABRIC_SEND_IMM | FABRIC_SEND_SIGNALED), 0);
	} else {
		/* a header that claims more than the message holds */
		frame_hdr_encode(buf, FRAME_DATA, 0, 40);
		assert_int_equal(fo->post_send(qp, 1, buf, FRAME_HDR_LEN + 4, key, 0,
					       FABRIC_SEND_SIGNALED), 0);
	}
	assert_true(run_until(b_closed, 2000));
	assert_int_equal(B.err, -EPROTO);
	assert_int_equal(B.frames, 0); /* nothing of it reached the owner */
	fo->destroy_qp(qp);
	fo->destroy_cq(cq);
	fo->dereg_mr(mr);
	fo->close(f);
	tunnel_verbs_ops.free(B.t);
}

static void test_lying_far_end(void **state)
{
	liar(true);
	assert_non_null(strstr(B.why, "more credits"));
	liar(false);
	assert_non_null(strstr(B.why, "not one frame"));
}

static void test_params_and_messages(void **state)
{
	struct verbs_params p = { .peer = { .qp = { .qpn = 0x123456, .psn = 0xabcdef, .lid = 7,
						    .mtu = 4096 },
					    .recv_depth = 32, .msg_max = 66112 } };
	struct verbs_params q;
	uint8_t b[VERBS_PARAMS_LEN + 1], msg[FRAME_HDR_LEN + 4] = { 0 };
	struct frame_hdr h;
	const uint8_t *pl;

	memset(p.peer.qp.gid, 0xfe, FABRIC_GID_LEN);
	assert_int_equal(verbs_params_encode(&p, b, VERBS_PARAMS_LEN - 1), -ENOSPC);
	assert_int_equal(verbs_params_encode(&p, b, sizeof(b)), VERBS_PARAMS_LEN);
	assert_int_equal(verbs_params_decode(b, VERBS_PARAMS_LEN, &q), 0);
	assert_memory_equal(&q.peer, &p.peer, sizeof(p.peer));
	assert_false(q.emulated);
	assert_int_equal(verbs_params_decode(b, VERBS_PARAMS_LEN - 1, &q), -EBADMSG);
	assert_int_equal(verbs_params_decode(b, VERBS_PARAMS_LEN + 1, &q), -EBADMSG);
	b[0] = 2; /* another version */
	assert_int_equal(verbs_params_decode(b, VERBS_PARAMS_LEN, &q), -EBADMSG);
	b[0] = VERBS_PARAMS_VERSION;
	b[2] = 0x01; /* a QP number past 24 bits */
	assert_int_equal(verbs_params_decode(b, VERBS_PARAMS_LEN, &q), -EBADMSG);
	p.peer.recv_depth = VERBS_CTRL_SLOTS; /* no data credits */
	verbs_params_encode(&p, b, sizeof(b));
	assert_int_equal(verbs_params_decode(b, VERBS_PARAMS_LEN, &q), -EBADMSG);

	frame_hdr_encode(msg, FRAME_DATA, 0, 4);
	assert_int_equal(verbs_msg_parse(msg, sizeof(msg), &h, &pl), 0);
	assert_ptr_equal(pl, msg + FRAME_HDR_LEN);
	assert_int_equal(verbs_msg_parse(msg, sizeof(msg) - 1, &h, &pl), -EPROTO);
	assert_int_equal(verbs_msg_parse(msg, 5, &h, &pl), -EPROTO);
	frame_hdr_encode(msg, FRAME_DATA, 0, 2);
	assert_int_equal(verbs_msg_parse(msg, sizeof(msg), &h, &pl), -EPROTO);
	msg[1] = 200;
	assert_int_equal(verbs_msg_parse(msg, sizeof(msg), &h, &pl), -EBADMSG);
}

/* On a machine without RDMA hardware the libibverbs fabric says so in words. */
static void test_no_device_reason(void **state)
{
	struct fabric *f;
	char why[128] = "";
	int err = fabric_ibv_ops.open(NULL, 0, &f, why, sizeof(why));

	if (err == 0) {
		fabric_ibv_ops.close(f);
		skip(); /* this machine has a device */
	}
	assert_int_equal(err, -ENODEV);
	assert_string_equal(why, "no RDMA device");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_and_messages),
		cmocka_unit_test(test_no_device_reason),
		cmocka_unit_test_setup_teardown(test_transfer, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_slow_receiver, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_backlog_bounded, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_completion_error, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_port_down, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_far_end_gone, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_emulated_meets_real_refused, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_fabric_rnr, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_lying_far_end, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
