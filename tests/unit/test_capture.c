/* Capture: filters compiled by libpcap (and their error messages), the scope rule that
 * records a packet once per node, the PACKET record as vnetctl's decoder reads it, and a
 * whole session through a real control socket: packets past a full buffer are dropped
 * and counted, never waited for; count and duration end a capture with END. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <pcap/pcap.h>

#include "tunvnet/capmsg.h"
#include "tunvnet/capture.h"
#include "tunvnet/command.h"
#include "tunvnet/control.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/loop.h"
#include "tunvnet/node.h"
#include "tunvnet/peer.h"

/* An IPv4 UDP or TCP packet of total length len (>= 40) between two VIPs. */
static size_t ip4(uint8_t *b, size_t len, int proto, const char *src, const char *dst,
		  uint16_t sport, uint16_t dport)
{
	struct vip s, d;

	memset(b, 0, len);
	assert_int_equal(vip_parse(src, &s), 0);
	assert_int_equal(vip_parse(dst, &d), 0);
	b[0] = 0x45;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	b[8] = 64;
	b[9] = (uint8_t)proto;
	memcpy(b + 12, s.a, 4);
	memcpy(b + 16, d.a, 4);
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	if (proto == 6)
		b[32] = 0x50; /* TCP data offset 5 */
	return len;
}

static size_t ip6(uint8_t *b, size_t len, const char *src, const char *dst, uint16_t dport)
{
	struct vip s, d;

	memset(b, 0, len);
	assert_int_equal(vip_parse(src, &s), 0);
	assert_int_equal(vip_parse(dst, &d), 0);
	b[0] = 0x60;
	b[4] = (uint8_t)((len - 40) >> 8);
	b[5] = (uint8_t)(len - 40);
	b[6] = 17;
	b[7] = 64;
	memcpy(b + 8, s.a, 16);
	memcpy(b + 24, d.a, 16);
	b[42] = (uint8_t)(dport >> 8);
	b[43] = (uint8_t)dport;
	return len;
}

static bool filter_match(const char *expr, const uint8_t *pkt, size_t len)
{
	struct bpf_program prog;
	struct pcap_pkthdr h = { .caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len };
	char err[512];
	bool m;

	assert_int_equal(capture_filter_compile(expr, 65535, &prog, err, sizeof(err)), 0);
	m = pcap_offline_filter(&prog, &h, pkt) != 0;
	pcap_freecode(&prog);
	return m;
}

static void test_filter(void **state)
{
	struct bpf_program prog;
	uint8_t p[100], q[100], r[80];
	char err[512];

	ip4(p, sizeof(p), 17, "198.19.1.10", "198.19.2.10", 40000, 5201);
	ip4(q, sizeof(q), 6, "198.19.1.10", "198.19.2.10", 40000, 5201);
	ip6(r, sizeof(r), "fd00:19:1::10", "fd00:19:2::10", 5201);
	assert_true(filter_match("udp port 5201", p, sizeof(p)));
	assert_false(filter_match("udp port 5201", q, sizeof(q)));
	assert_true(filter_match("tcp dst port 5201", q, sizeof(q)));
	assert_true(filter_match("host 198.19.2.10", p, sizeof(p)));
	assert_false(filter_match("host 198.19.3.10", p, sizeof(p)));
	assert_true(filter_match("ip6 and udp dst port 5201", r, sizeof(r)));
	assert_false(filter_match("ip", r, sizeof(r)));
	/* libpcap's own words come back */
	err[0] = '\0';
	assert_int_equal(capture_filter_compile("tcp port", 65535, &prog, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "syntax error"));
	assert_int_equal(capture_filter_compile("host nosuchhost.invalid.", 65535, &prog, err,
						sizeof(err)), -EINVAL);
	assert_true(strlen(err) > 0);
	assert_int_equal(capture_filter_compile("ether host 1:2:3:4:5:6", 65535, &prog, err,
						sizeof(err)), -EINVAL);
}

static void test_scope(void **state)
{
	struct capture_scope all = { .scope = CTL_SCOPE_ALL };
	struct capture_scope vip = { .scope = CTL_SCOPE_VIP };
	struct capture_scope cl = { .scope = CTL_SCOPE_VIP, .cluster = true };
	struct capture_scope pr = { .scope = CTL_SCOPE_PEER };
	struct peer n2 = { .name = "n2" }, n3 = { .name = "n3" };
	uint8_t out[60], in[60], other[60], v6[60], junk[10] = { 0x45 };

	assert_int_equal(vip_parse("198.19.1.10", &vip.vip), 0);
	cl.vip = vip.vip;
	strcpy(pr.peer, "n2");
	ip4(out, sizeof(out), 17, "198.19.1.10", "198.19.2.10", 1, 2);  /* from the VIP */
	ip4(in, sizeof(in), 17, "198.19.2.10", "198.19.1.10", 2, 1);    /* to the VIP */
	ip4(other, sizeof(other), 17, "198.19.2.10", "198.19.3.10", 2, 1);
	ip6(v6, sizeof(v6), "fd00:19:1::10", "fd00:19:2::10", 1);

	/* all: once per node, where the packet comes in */
	assert_true(capture_scope_match(&all, CAPTURE_FROM_JOB, NULL, out, 60));
	assert_true(capture_scope_match(&all, CAPTURE_FROM_PEER, n2.name, out, 60));
	assert_false(capture_scope_match(&all, CAPTURE_TO_PEER, n2.name, out, 60));
	assert_false(capture_scope_match(&all, CAPTURE_TO_JOB, NULL, out, 60));
	assert_false(capture_scope_match(&all, CAPTURE_HELD, NULL, out, 60));

	/* vip: either address, at ingress */
	assert_true(capture_scope_match(&vip, CAPTURE_FROM_JOB, NULL, out, 60));
	assert_true(capture_scope_match(&vip, CAPTURE_FROM_PEER, n2.name, in, 60));
	assert_false(capture_scope_match(&vip, CAPTURE_FROM_PEER, n2.name, other, 60));
	assert_false(capture_scope_match(&vip, CAPTURE_TO_JOB, NULL, in, 60));
	assert_false(capture_scope_match(&vip, CAPTURE_FROM_JOB, NULL, v6, 60));
	assert_false(capture_scope_match(&vip, CAPTURE_FROM_JOB, NULL, out, 19));
	assert_false(capture_scope_match(&vip, CAPTURE_FROM_JOB, NULL, junk, 10));

	/* vip across the cluster: only at the VIP's own TUN */
	assert_true(capture_scope_match(&cl, CAPTURE_FROM_JOB, NULL, out, 60));
	assert_false(capture_scope_match(&cl, CAPTURE_FROM_JOB, NULL, in, 60));
	assert_true(capture_scope_match(&cl, CAPTURE_TO_JOB, NULL, in, 60));
	assert_false(capture_scope_match(&cl, CAPTURE_TO_JOB, NULL, out, 60));
	assert_false(capture_scope_match(&cl, CAPTURE_FROM_PEER, n2.name, in, 60));
	assert_false(capture_scope_match(&cl, CAPTURE_TO_PEER, n2.name, out, 60));
	assert_false(capture_scope_match(&cl, CAPTURE_HELD, NULL, in, 60));

	/* peer: both directions of that peer's link, no other */
	assert_true(capture_scope_match(&pr, CAPTURE_TO_PEER, n2.name, out, 60));
	assert_true(capture_scope_match(&pr, CAPTURE_FROM_PEER, n2.name, in, 60));
	assert_false(capture_scope_match(&pr, CAPTURE_FROM_PEER, n3.name, in, 60));
	assert_false(capture_scope_match(&pr, CAPTURE_FROM_JOB, NULL, out, 60));
	assert_false(capture_scope_match(&pr, CAPTURE_TO_PEER, NULL, out, 60));
}

/* The daemon's encoding, read back with the client's decoder. */
static void test_record(void **state)
{
	uint8_t buf[CAPMSG_PACKET_HDR_MAX + 100], pkt[100];
	struct capmsg m;
	int h;

	ip4(pkt, sizeof(pkt), 17, "198.19.1.10", "198.19.2.10", 1, 2);
	h = capmsg_packet_header(buf, sizeof(buf), 0x0102030405060708ull, 64000, CAPTURE_TO_PEER,
				 "node-7", 60);
	assert_int_equal(h, 8 + 14 + 6);
	memcpy(buf + h, pkt, 60);
	assert_int_equal(capmsg_decode(buf, h + 59, &m), 0); /* not all there yet */
	assert_int_equal(capmsg_decode(buf, h + 60 + 5, &m), (int)(h + 60));
	assert_int_equal(m.type, CAPMSG_PACKET);
	assert_true(m.ts_usec == 0x0102030405060708ull);
	assert_int_equal(m.orig_len, 64000);
	assert_int_equal(m.dir, CAPTURE_TO_PEER);
	assert_string_equal(m.node, "node-7");
	assert_int_equal(m.caplen, 60);
	assert_memory_equal(m.data, pkt, 60);
	/* big-endian on the wire, whatever the host */
	assert_int_equal(buf[3], CAPMSG_PACKET);
	assert_int_equal(buf[7], 14 + 6 + 60);
}

/* ---- whole sessions over a control socket ---- */

static struct daemon D;
static char sockpath[108];

static void stop(struct loop_timer *t, void *arg)
{
	loop_stop(D.loop);
}

static void spin(unsigned ms)
{
	struct loop_timer t;

	loop_timer_init(&t, stop, NULL);
	loop_timer_arm(D.loop, &t, ms);
	loop_run(D.loop);
	loop_timer_stop(D.loop, &t);
}

/* The control socket with the daemon's commands behind it, as node_start() has it. */
static char *on_request(uint64_t client_id, const char *line, size_t len, bool *deferred,
			void *arg)
{
	return command_run(arg, client_id, line, len, deferred);
}

static int setup(void **state)
{
	snprintf(sockpath, sizeof(sockpath), "/tmp/test_capture.%d/ctl.sock", (int)getpid());
	memset(&D, 0, sizeof(D));
	snprintf(D.cfg.node, sizeof(D.cfg.node), "n1");
	config_limits_default(&D.cfg.limits);
	snprintf(D.cfg.ctl_socket, sizeof(D.cfg.ctl_socket), "%s", sockpath);
	if (node_init(&D) < 0 ||
	    control_start(D.loop, sockpath, &(struct control_events){ on_request, &D },
			  &D.ctl) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char dir[sizeof(sockpath)];

	control_stop(D.ctl);
	D.ctl = NULL;
	node_free(&D);
	snprintf(dir, sizeof(dir), "%s", sockpath);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
	return 0;
}

/* A connected client that sent req: its socket, the reply line read. */
static int client(const char *req, char *reply, size_t cap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, sockpath);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	spin(20);
	/* the reply line alone, byte by byte: what follows is the stream */
	while (n + 1 < cap) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0) {
			spin(5);
			continue;
		}
		assert_int_equal(read(fd, reply + n, 1), 1);
		if (reply[n++] == '\n')
			break;
	}
	reply[n] = '\0';
	return fd;
}

struct drained {
	unsigned long packets;
	json_t *end;
	size_t bytes;
};

/* Reads the stream to its end (the daemon closes after END), running the loop meanwhile. */
static void drain(int fd, struct drained *out)
{
	size_t cap = 1 << 20, len = 0;
	uint8_t *buf = malloc(cap);

	memset(out, 0, sizeof(*out));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int idle = 0; idle < 400;) {
		ssize_t n = read(fd, buf + len, cap - len);
		struct capmsg m;
		size_t off = 0;
		int k;

		if (n == 0)
			break;
		if (n < 0) {
			spin(5);
			idle++;
			continue;
		}
		len += (size_t)n;
		out->bytes += (size_t)n;
		while ((k = capmsg_decode(buf + off, len - off, &m)) > 0) {
			if (m.type == CAPMSG_PACKET)
				out->packets++;
			if (m.type == CAPMSG_END)
				out->end = json_loadb((const char *)m.body, m.body_len, 0, NULL);
			off += (size_t)k;
		}
		assert_true(k == 0);
		memmove(buf, buf + off, len - off);
		len -= off;
	}
	free(buf);
	close(fd);
}

static long end_int(const struct drained *dr, const char *key)
{
	assert_non_null(dr->end);
	return (long)json_integer_value(json_object_get(dr->end, key));
}

static void test_bad_filter_reply(void **state)
{
	char reply[1024];
	int fd = client("{\"version\":1,\"cmd\":\"capture\",\"filter\":\"udp port 99999\"}\n",
			reply, sizeof(reply));

	assert_non_null(strstr(reply, "\"BAD_FILTER\""));
	assert_non_null(strstr(reply, "99999")); /* libpcap: "illegal port number 99999 > 65535" */
	assert_int_equal(D.capture->active, 0);
	close(fd);
}

/* A client that reads nothing while far more than the buffer is captured: the data path
 * returns at once, the excess is dropped, and every packet is accounted for at the end. */
static void test_drop_when_full(void **state)
{
	enum { N = 20000, LEN = 1400 };
	static uint8_t pkt[LEN];
	struct drained dr;
	char reply[1024];
	uint64_t t0;
	int fd;

	fd = client("{\"version\":1,\"cmd\":\"capture\",\"filter\":\"udp\"}\n", reply,
		    sizeof(reply));
	assert_non_null(strstr(reply, "\"capturing\":true"));
	assert_non_null(strstr(reply, "\"linktype\":101"));
	assert_int_equal(D.capture->active, 1);
	ip4(pkt, LEN, 17, "198.19.1.10", "198.19.2.10", 1, 2);
	t0 = loop_clock_ms();
	for (int i = 0; i < N; i++) {
		capture_packet(D.capture, CAPTURE_FROM_JOB, NULL, pkt, LEN, LEN);
		if (i % 1000 == 0)
			spin(1); /* let the loop flush some, as it would between batches */
	}
	assert_true(loop_clock_ms() - t0 < 5000);
	/* a TCP packet the filter refuses is neither recorded nor dropped */
	ip4(pkt, LEN, 6, "198.19.1.10", "198.19.2.10", 1, 2);
	capture_packet(D.capture, CAPTURE_FROM_JOB, NULL, pkt, LEN, LEN);
	shutdown(fd, SHUT_WR); /* the client has seen enough */
	drain(fd, &dr);
	assert_int_equal(D.capture->active, 0);
	assert_string_equal(json_string_value(json_object_get(dr.end, "reason")), "client");
	assert_int_equal(end_int(&dr, "packets"), (long)dr.packets);
	assert_int_equal(end_int(&dr, "packets") + end_int(&dr, "dropped"), N);
	assert_true(end_int(&dr, "dropped") > 0);
	/* at least a buffer's worth got through */
	assert_true(dr.packets * (LEN + 8 + 14 + 2) >= CAPTURE_BUFFER - 8192);
	json_decref(dr.end);
}

static void test_count_and_duration(void **state)
{
	uint8_t pkt[60];
	struct drained dr;
	char reply[1024];
	int fd;

	ip4(pkt, sizeof(pkt), 17, "198.19.1.10", "198.19.2.10", 1, 5201);
	fd = client("{\"version\":1,\"cmd\":\"capture\",\"scope\":\"vip\",\"vip\":\"198.19.1.10\","
		    "\"count\":3,\"snaplen\":64}\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "\"snaplen\":64"));
	for (int i = 0; i < 5; i++)
		capture_packet(D.capture, CAPTURE_FROM_JOB, NULL, pkt, sizeof(pkt), 60000);
	assert_int_equal(D.capture->active, 0); /* over after the third */
	drain(fd, &dr);
	assert_int_equal(dr.packets, 3);
	assert_string_equal(json_string_value(json_object_get(dr.end, "reason")), "count");
	assert_int_equal(end_int(&dr, "dropped"), 0);
	json_decref(dr.end);

	fd = client("{\"version\":1,\"cmd\":\"capture\",\"duration_ms\":100}\n", reply,
		    sizeof(reply));
	capture_packet(D.capture, CAPTURE_FROM_PEER, NULL, pkt, sizeof(pkt), sizeof(pkt));
	spin(150);
	assert_int_equal(D.capture->active, 0);
	drain(fd, &dr);
	assert_int_equal(dr.packets, 1);
	assert_string_equal(json_string_value(json_object_get(dr.end, "reason")), "duration");
	json_decref(dr.end);
}

/* Two captures at once, one closed abruptly by its client. */
static void test_two_and_hangup(void **state)
{
	uint8_t pkt[60];
	struct drained dr;
	char reply[1024];
	int a, b;

	ip4(pkt, sizeof(pkt), 17, "198.19.1.10", "198.19.2.10", 1, 5201);
	a = client("{\"version\":1,\"cmd\":\"capture\",\"filter\":\"udp port 5201\"}\n", reply,
		   sizeof(reply));
	b = client("{\"version\":1,\"cmd\":\"capture\",\"filter\":\"udp port 5202\"}\n", reply,
		   sizeof(reply));
	assert_int_equal(D.capture->active, 2);
	close(b);
	spin(20);
	assert_int_equal(D.capture->active, 1);
	capture_packet(D.capture, CAPTURE_FROM_JOB, NULL, pkt, sizeof(pkt), sizeof(pkt));
	shutdown(a, SHUT_WR);
	drain(a, &dr);
	assert_int_equal(dr.packets, 1);
	assert_int_equal(D.capture->active, 0);
	json_decref(dr.end);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_record),
		cmocka_unit_test_setup_teardown(test_bad_filter_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_when_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_and_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_and_hangup, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
