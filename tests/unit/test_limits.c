/* [limits] at work in whole daemons (two in one process on loopback, as test_node):
 *   - routes_per_peer and routes: a peer announcing more than its share has the excess
 *     refused and counted (stats limits), the rest applied; a withdrawal makes room;
 *   - control_clients and control_idle_timeout: idle clients beyond the limit are
 *     evicted oldest first, a request still gets its answer, idle ones time out;
 *   - `routes` with "stream": the table in slices, ended by {"end": true, "count": n}. */
#include <errno.h>
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
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "tunvnet/control.h"
#include "tunvnet/daemon.h"
#include "tunvnet/loop.h"
#include "tunvnet/node.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"
#include "tunvnet/routing.h"
#include "tunvnet/routeshare.h"

static struct daemon A, B;
static struct loop *L;
static char dir[64];

static void stop(struct loop_timer *t, void *arg)
{
	loop_stop(L);
}

static void spin(unsigned ms)
{
	struct loop_timer t;

	loop_timer_init(&t, stop, NULL);
	loop_timer_arm(L, &t, ms);
	loop_run(L);
	loop_timer_stop(L, &t);
}

static void loopback(struct sockaddr_storage *ss, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void configure(struct daemon *d, const char *name, int port)
{
	memset(d, 0, sizeof(*d));
	d->loop = L;
	snprintf(d->cfg.node, sizeof(d->cfg.node), "%s", name);
	config_limits_default(&d->cfg.limits);
	snprintf(d->cfg.ctl_socket, sizeof(d->cfg.ctl_socket), "%s/%s.sock", dir, name);
	loopback(&d->cfg.listen, port);
	snprintf(d->cfg.ca_file, sizeof(d->cfg.ca_file), "%s/ca/ca.crt", dir);
	snprintf(d->cfg.cert_file, sizeof(d->cfg.cert_file), "%s/ca/%s.crt", dir, name);
	snprintf(d->cfg.key_file, sizeof(d->cfg.key_file), "%s/ca/%s.key", dir, name);
	d->cfg.sealed = true;
	d->cfg.rekey_s = 600;
	d->cfg.mtu = 1400;
}

static int ctl_connect(const struct daemon *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memcpy(sun.sun_path, d->cfg.ctl_socket, strlen(d->cfg.ctl_socket) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Sends req, reads until the connection closes or a line starting with stop_at came
 * (NULL: the first line), running the shared loop meanwhile. */
static size_t exchange(const struct daemon *d, const char *req, char *reply, size_t cap,
		       const char *stop_at)
{
	int fd = ctl_connect(d);
	size_t n = 0;

	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (int i = 0; i < 400; i++) {
		ssize_t k;

		spin(5);
		k = read(fd, reply + n, cap - 1 - n);
		if (k > 0)
			n += (size_t)k;
		reply[n] = '\0';
		if (k == 0 || (!stop_at && memchr(reply, '\n', n)) ||
		    (stop_at && strstr(reply, stop_at)))
			break;
	}
	close(fd);
	return n;
}

static void vip4(struct vip *v, unsigned i)
{
	uint32_t a = htonl(0xc6130100u + i); /* 198.19.1.0 + i */

	memset(v, 0, sizeof(*v));
	v->family = AF_INET;
	memcpy(v->a, &a, 4);
}

/* A announces n VIPs of its own, 4 per frame. */
static void announce(struct daemon *d, unsigned first, unsigned n)
{
	for (unsigned i = 0; i < n; i += 4) {
		struct vip v[4];
		uint64_t ep[4];
		unsigned k = n - i < 4 ? n - i : 4;

		for (unsigned j = 0; j < k; j++)
			vip4(&v[j], first + i + j);
		assert_int_equal(routing_announce(d, v, k, ep, false), 0);
	}
}

static int a_forget_s; /* set: A's peer_forget */

/* A up; with a_routes > 0, A announces that many before B comes. */
static void up_pair_after(int per_peer, int total, unsigned a_routes)
{
	int base = 20000 + (int)((getpid() * 7) % 20000);

	assert_int_equal(loop_new(&L), 0);
	configure(&A, "n1", base);
	configure(&B, "n2", base + 1);
	B.cfg.limits.routes_per_peer = per_peer;
	B.cfg.limits.routes = total;
	if (a_forget_s)
		A.cfg.limits.peer_forget_s = B.cfg.limits.peer_forget_s = a_forget_s;
	B.cfg.seeds[0] = A.cfg.listen;
	B.cfg.nseeds = 1;
	assert_int_equal(node_init(&A), 0);
	assert_int_equal(node_init(&B), 0);
	assert_int_equal(node_start(&A), 0);
	if (a_routes)
		announce(&A, 0, a_routes);
	assert_int_equal(node_start(&B), 0);
	for (int i = 0; i < 400 && (peer_count_up(&A) < 1 || peer_count_up(&B) < 1); i++)
		spin(5);
	assert_int_equal(peer_count_up(&B), 1);
}

static void up_pair(int per_peer, int total)
{
	up_pair_after(per_peer, total, 0);
}

static void down_pair(void)
{
	node_stop(&B);
	node_free(&B);
	node_stop(&A);
	node_free(&A);
	loop_free(L);
}

static void wait_routes(struct daemon *d, size_t n)
{
	for (int i = 0; i < 400 && route_count(d->routes) < n; i++)
		spin(5);
	spin(20); /* and nothing more comes */
}

static void test_routes_per_peer(void **state)
{
	struct vip v;
	char reply[256];

	up_pair(16, 1000);
	announce(&A, 0, 40);
	wait_routes(&B, 16);
	assert_int_equal(route_count(A.routes), 40);
	assert_int_equal(route_count(B.routes), 16);
	assert_int_equal(B.stats.limits[LIMIT_ROUTES_PER_PEER], 24);
	assert_int_equal(B.stats.limits[LIMIT_ROUTES], 0);
	/* A newer epoch of a route n2 holds is no new entry: it passes. */
	announce(&A, 0, 4);
	spin(50);
	assert_int_equal(B.stats.limits[LIMIT_ROUTES_PER_PEER], 24);
	/* Find one VIP n2 holds, withdraw it: room for one more. */
	for (unsigned i = 0; i < 40; i++) {
		vip4(&v, i);
		if (route_lookup(B.routes, &v))
			break;
	}
	assert_int_equal(routing_withdraw(&A, &v), 0);
	for (int i = 0; i < 100 && route_count(B.routes) != 15; i++)
		spin(5);
	assert_int_equal(route_count(B.routes), 15);
	announce(&A, 100, 1);
	wait_routes(&B, 16);
	assert_int_equal(route_count(B.routes), 16);
	vip4(&v, 100);
	assert_non_null(route_lookup(B.routes, &v));
	/* Counted in stats --json by name. */
	exchange(&B, "{\"version\":1,\"cmd\":\"stats\"}\n", reply, sizeof(reply), "\n");
	down_pair();
}

static void test_routes_total(void **state)
{
	char *reply = malloc(1 << 20);
	size_t n;

	up_pair(1000, 20);
	announce(&A, 0, 40);
	wait_routes(&B, 20);
	assert_int_equal(route_count(B.routes), 20);
	assert_int_equal(B.stats.limits[LIMIT_ROUTES], 20);
	n = exchange(&B, "{\"version\":1,\"cmd\":\"stats\"}\n", reply, 1 << 20, NULL);
	assert_true(n > 0);
	assert_non_null(strstr(reply, "\"routes\":20"));
	assert_non_null(strstr(reply, "\"routes_per_peer\":0"));
	free(reply);
	down_pair();
}

static void test_routes_stream(void **state)
{
	char *reply = malloc(1 << 20);
	size_t n;
	int entries = 0;

	up_pair(100000, 100000);
	announce(&A, 0, 3000);
	wait_routes(&B, 3000);
	assert_int_equal(route_count(B.routes), 3000);
	n = exchange(&B, "{\"version\":1,\"cmd\":\"routes\",\"stream\":true}\n", reply, 1 << 20,
		     "{\"end\":true");
	assert_true(n > 0);
	assert_non_null(strstr(reply, "\"streaming\":true"));
	assert_non_null(strstr(reply, "{\"end\":true,\"count\":3000}"));
	for (char *p = reply; (p = strstr(p, "\"vip\":")); p++)
		entries++;
	assert_int_equal(entries, 3000);
	/* Streamed in several lines (ROUTELIST_SLICE slots each), not one reply. */
	entries = 0;
	for (char *p = reply; (p = strchr(p, '\n')); p++)
		entries++;
	assert_true(entries > 2);
	free(reply);
	down_pair();
}

/* A's own table is larger than one slice (TABLE_SLICE slots): it reaches a peer that
 * comes up in several loop turns, whole. */
static void test_full_table_sliced(void **state)
{
	up_pair_after(100000, 200000, 50000);
	assert_true(route_size(A.routes) == 50000);
	for (int i = 0; i < 1000 && route_count(B.routes) < 50000; i++)
		spin(5);
	assert_int_equal(route_count(B.routes), 50000);
	down_pair();
}

/* A learned peer that goes down is forgotten after peer_forget (1 s here); a seed's
 * address is kept (n2's seed is n1). */
static void test_peer_forget(void **state)
{
	a_forget_s = 1;
	up_pair(100, 100);
	a_forget_s = 0;
	spin(1500); /* up for longer than peer_forget: kept */
	assert_non_null(peer_find(&A, "n2"));
	node_stop(&B);
	node_free(&B);
	assert_non_null(peer_find(&A, "n2"));
	for (int i = 0; i < 500 && peer_find(&A, "n2"); i++)
		spin(10);
	assert_null(peer_find(&A, "n2"));
	assert_true(peer_count_known(&A) == 0);
	node_stop(&A);
	node_free(&A);
	loop_free(L);
}

/* event_followers and captures: one more than the limit is refused and counted. */
static void test_followers_captures(void **state)
{
	char reply[4096];
	int f1;
	const char *follow = "{\"version\":1,\"cmd\":\"events\",\"follow\":true}\n";

	up_pair(100, 100);
	B.cfg.limits.followers = 1;
	B.cfg.limits.captures = 0;
	f1 = ctl_connect(&B);
	assert_int_equal(write(f1, follow, strlen(follow)), (ssize_t)strlen(follow));
	spin(50);
	exchange(&B, follow, reply, sizeof(reply), NULL);
	assert_non_null(strstr(reply, "event_followers"));
	assert_int_equal(B.stats.limits[LIMIT_FOLLOWERS], 1);
	exchange(&B, "{\"version\":1,\"cmd\":\"capture\",\"scope\":\"all\"}\n", reply,
		 sizeof(reply), NULL);
	assert_non_null(strstr(reply, "captures"));
	assert_int_equal(B.stats.limits[LIMIT_CAPTURES], 1);
	close(f1);
	down_pair();
}

/* ... but a peer at a seed's address stays known however long it is down. */
static void test_seed_kept(void **state)
{
	a_forget_s = 1;
	up_pair(100, 100);
	a_forget_s = 0;
	node_stop(&A);
	node_free(&A);
	spin(3000);
	assert_non_null(peer_find(&B, "n1"));
	node_stop(&B);
	node_free(&B);
	loop_free(L);
}

static void test_control_clients(void **state)
{
	int fds[12];
	char reply[4096];

	up_pair(100, 100);
	control_set_limits(B.ctl, 4, 1, &B.stats);
	for (int i = 0; i < 12; i++) {
		fds[i] = ctl_connect(&B);
		spin(2);
	}
	/* 12 idle clients against 4 slots: the oldest made room each time. */
	assert_int_equal(B.stats.limits[LIMIT_CONTROL_EVICTED], 8);
	exchange(&B, "{\"version\":1,\"cmd\":\"status\"}\n", reply, sizeof(reply), NULL);
	assert_non_null(strstr(reply, "\"node\":\"n2\""));
	assert_int_equal(B.stats.limits[LIMIT_CONTROL_EVICTED], 9);
	/* The evicted ones are closed: a read sees the end. */
	assert_int_equal(read(fds[0], reply, sizeof(reply)), 0);
	/* After the idle timeout (1 s), the rest are closed too. */
	for (int i = 0; i < 300 && B.stats.limits[LIMIT_CONTROL_IDLE] < 3; i++)
		spin(10);
	assert_int_equal(B.stats.limits[LIMIT_CONTROL_IDLE], 3);
	assert_int_equal(read(fds[11], reply, sizeof(reply)), 0);
	for (int i = 0; i < 12; i++)
		close(fds[i]);
	down_pair();
}

static void test_routeshare(void **state)
{
	struct routeshare *rs;
	char name[32];

	assert_int_equal(routeshare_new(&rs), 0);
	assert_int_equal(routeshare_get(rs, "n1"), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "node%d", i);
		for (int k = 0; k <= i % 7; k++)
			assert_int_equal(routeshare_add(rs, name, 1), 0);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "node%d", i);
		assert_int_equal(routeshare_get(rs, name), (size_t)(i % 7 + 1));
	}
	routeshare_add(rs, "node3", -1);
	assert_int_equal(routeshare_get(rs, "node3"), 3);
	routeshare_add(rs, "node0", -5); /* never below 0 */
	assert_int_equal(routeshare_get(rs, "node0"), 0);
	routeshare_add(rs, "", 1);
	assert_int_equal(routeshare_get(rs, ""), 0);
	routeshare_free(rs);
}

static int setup(void **state)
{
	char cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/test_limits.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "exec >/dev/null; scripts/vnet-ca init %s/ca && "
		 "scripts/vnet-ca issue %s/ca n1 && scripts/vnet-ca issue %s/ca n2", dir, dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routeshare),
		cmocka_unit_test(test_routes_per_peer),
		cmocka_unit_test(test_routes_total),
		cmocka_unit_test(test_routes_stream),
		cmocka_unit_test(test_full_table_sliced),
		cmocka_unit_test(test_control_clients),
		cmocka_unit_test(test_peer_forget),
		cmocka_unit_test(test_seed_kept),
		cmocka_unit_test(test_followers_captures),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
