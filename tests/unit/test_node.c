/* Two daemons in one process: each with its own struct daemon, on one shared loop, with
 * control sockets of their own. They find each other over loopback (one seeded with the
 * other's address), authenticate (TLS 1.3, certificates from a CA made for the test),
 * open a sealed data link, and each then counts the other up; each answers `status`
 * with its own name. Nothing global is shared between them. */
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

#include <cmocka.h>

#include "tunvnet/daemon.h"
#include "tunvnet/loop.h"
#include "tunvnet/node.h"
#include "tunvnet/peer.h"

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
	d->loop = L; /* shared: node_init leaves it to us */
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

/* One request to a daemon's control socket, run on the shared loop; the reply line. */
static void request(const struct daemon *d, const char *req, char *reply, size_t cap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	size_t n = 0;

	assert_true(strlen(d->cfg.ctl_socket) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, d->cfg.ctl_socket, strlen(d->cfg.ctl_socket) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (int i = 0; i < 200 && !memchr(reply, '\n', n); i++) {
		ssize_t k;

		spin(5);
		k = read(fd, reply + n, cap - 1 - n);
		if (k > 0)
			n += (size_t)k;
	}
	reply[n] = '\0';
	close(fd);
}

static void test_two_daemons(void **state)
{
	int base = 20000 + (int)(getpid() % 20000);
	char reply[4096];

	assert_int_equal(loop_new(&L), 0);
	configure(&A, "n1", base);
	configure(&B, "n2", base + 1);
	B.cfg.seeds[0] = A.cfg.listen;
	B.cfg.nseeds = 1;
	assert_int_equal(node_init(&A), 0);
	assert_int_equal(node_init(&B), 0);
	assert_int_equal(node_start(&A), 0);
	assert_int_equal(node_start(&B), 0);
	for (int i = 0; i < 400 && (peer_count_up(&A) < 1 || peer_count_up(&B) < 1); i++)
		spin(5);
	assert_int_equal(peer_count_up(&A), 1);
	assert_int_equal(peer_count_up(&B), 1);
	/* B dialled, so B opens the data link; wait for it on both sides */
	for (int i = 0; i < 400 && (peer_data_links(peer_find(&A, "n2")) < 1 ||
				    peer_data_links(peer_find(&B, "n1")) < 1); i++)
		spin(5);
	/* one data link per substrate both have: tcp and udp */
	for (int i = 0; i < 400 && (peer_data_links(peer_find(&A, "n2")) < 2 ||
				    peer_data_links(peer_find(&B, "n1")) < 2); i++)
		spin(5);
	assert_int_equal(peer_data_links(peer_find(&A, "n2")), 2);
	assert_int_equal(peer_data_links(peer_find(&B, "n1")), 2);
	assert_non_null(peer_find(&A, "n2"));
	assert_non_null(peer_find(&B, "n1"));
	assert_int_equal(A.stats.c[STAT_LINK_UPS], 1);
	assert_int_equal(B.stats.c[STAT_LINK_UPS], 1);

	request(&A, "{\"version\":1,\"cmd\":\"status\"}\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "\"node\":\"n1\""));
	assert_non_null(strstr(reply, "\"peers_up\":1"));
	request(&B, "{\"version\":1,\"cmd\":\"status\"}\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "\"node\":\"n2\""));

	/* One stops: the other sees it go down, and goes on. */
	node_stop(&B);
	node_free(&B);
	for (int i = 0; i < 400 && peer_count_up(&A) > 0; i++)
		spin(5);
	assert_int_equal(peer_count_up(&A), 0);
	assert_int_equal(A.stats.c[STAT_LINK_DOWNS], 1);
	request(&A, "{\"version\":1,\"cmd\":\"status\"}\n", reply, sizeof(reply));
	assert_non_null(strstr(reply, "\"peers_up\":0"));
	node_stop(&A);
	node_free(&A);
	loop_free(L);
}

static int setup(void **state)
{
	char cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/test_node.XXXXXX");
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
		cmocka_unit_test(test_two_daemons),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
