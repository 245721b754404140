/* Two daemons' peer layers in one process, over a socketpair: TLS 1.3 with certificates
 * from a CA made for the test (scripts/vnet-ca), HELLO both ways, then frames each way.
 * Also: a certificate from another CA is refused, and nothing is delivered from it; the
 * handshake deadline lets a slow remote finish and closes a silent one. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunnel/frame.h"
#include "tunvnet/daemon.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/node.h"
#include "tunvnet/peer.h"

static char dir[] = "/tmp/tv-test-peer.XXXXXX";

struct got {
	int ups, downs, frames;
	uint8_t type;
	uint16_t flags;
	uint8_t payload[256];
	size_t len;
};

static void on_up(struct peer *p, void *arg)
{
	((struct got *)arg)->ups++;
}

static void on_down(struct peer *p, const char *why, void *arg)
{
	((struct got *)arg)->downs++;
}

static int on_frame(struct peer *p, uint8_t type, uint16_t flags, const uint8_t *payload,
		    size_t len, void *arg)
{
	struct got *g = arg;

	g->frames++;
	g->type = type;
	g->flags = flags;
	g->len = len < sizeof(g->payload) ? len : sizeof(g->payload);
	memcpy(g->payload, payload, g->len);
	return 0;
}

static const struct peer_events ev = { on_up, on_down, on_frame };

/* A daemon (node_init: its modules, nothing listening) whose peer layer reports to g
 * instead of the node layer. */
static void daemon_make(struct daemon *d, struct got *g, const char *name, const char *ca)
{
	memset(d, 0, sizeof(*d));
	memset(g, 0, sizeof(*g));
	snprintf(d->cfg.node, sizeof(d->cfg.node), "%s", name);
	config_limits_default(&d->cfg.limits);
	d->cfg.listen.ss_family = AF_UNSPEC;
	snprintf(d->cfg.ca_file, sizeof(d->cfg.ca_file), "%s/%s/ca.crt", dir, ca);
	snprintf(d->cfg.cert_file, sizeof(d->cfg.cert_file), "%s/%s/%s.crt", dir, ca, name);
	snprintf(d->cfg.key_file, sizeof(d->cfg.key_file), "%s/%s/%s.key", dir, ca, name);
	d->cfg.sealed = true;
	d->cfg.rekey_s = 600;
	assert_int_equal(node_init(d), 0);
	assert_int_equal(peer_start(d, &ev, g), 0);
}

static void daemon_end(struct daemon *d)
{
	peer_stop(d);
	node_free(d);
}

/* Turns both loops until cond holds or 5 s passed. */
static bool run_until(struct daemon *a, struct daemon *b, bool (*cond)(void *), void *arg)
{
	for (int i = 0; i < 1000; i++) {
		if (cond(arg))
			return true;
		loop_run_once(a->loop, 5);
		loop_run_once(b->loop, 5);
	}
	return cond(arg);
}

struct pair {
	struct daemon a, b;
	struct got ga, gb;
};

static bool both_up(void *arg)
{
	struct pair *p = arg;
	struct peer *x = peer_find(&p->a, "nb"), *y = peer_find(&p->b, "na");

	return x && y && peer_is_up(x) && peer_is_up(y);
}

static bool b_got_frame(void *arg)
{
	return ((struct pair *)arg)->gb.frames > 0;
}

static bool a_got_frame(void *arg)
{
	return ((struct pair *)arg)->ga.frames > 0;
}

static void connect_pair(struct pair *p)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(peer_adopt_fd(&p->a, sv[0], false), 0);
	assert_int_equal(peer_adopt_fd(&p->b, sv[1], true), 0);
}

static void two_daemons_exchange_frames(void **state)
{
	static struct pair p;
	const char ping[] = "a DATA frame from na";
	const char routes[] = "a ROUTES body";

	daemon_make(&p.a, &p.ga, "na", "ca");
	daemon_make(&p.b, &p.gb, "nb", "ca");
	connect_pair(&p);
	assert_true(run_until(&p.a, &p.b, both_up, &p));
	assert_int_equal(p.ga.ups, 1);
	assert_int_equal(p.gb.ups, 1);

	assert_int_equal(peer_send_data(peer_find(&p.a, "nb"), FRAME_F_FORWARDED, ping,
					sizeof(ping)), 0);
	assert_true(run_until(&p.a, &p.b, b_got_frame, &p));
	assert_int_equal(p.gb.type, FRAME_DATA);
	assert_int_equal(p.gb.flags, FRAME_F_FORWARDED);
	assert_int_equal(p.gb.len, sizeof(ping));
	assert_memory_equal(p.gb.payload, ping, sizeof(ping));

	assert_int_equal(peer_send_ctl(peer_find(&p.b, "na"), FRAME_ROUTES, 0, routes,
				       sizeof(routes)), 0);
	assert_true(run_until(&p.a, &p.b, a_got_frame, &p));
	assert_int_equal(p.ga.type, FRAME_ROUTES);
	assert_memory_equal(p.ga.payload, routes, sizeof(routes));

	daemon_end(&p.a);
	assert_true(p.ga.downs == 1);
	daemon_end(&p.b);
}

static bool a_down(void *arg)
{
	return ((struct pair *)arg)->ga.downs > 0;
}

/* A control frame the link's queue refuses (nb stopped reading) is not lost silently:
 * every later one is refused too, the link is reset and counted, so that the next
 * session resyncs the tables. */
static void ctl_overflow_resets_link(void **state)
{
	static struct pair p;
	static uint8_t body[60000];
	struct peer *nb;
	int err = 0, i;

	daemon_make(&p.a, &p.ga, "na", "ca");
	daemon_make(&p.b, &p.gb, "nb", "ca");
	connect_pair(&p);
	assert_true(run_until(&p.a, &p.b, both_up, &p));
	nb = peer_find(&p.a, "nb");
	for (i = 0; i < 4000; i++) {
		err = peer_send_ctl(nb, FRAME_ROUTES, 0, body, sizeof(body));
		if (err)
			break;
		loop_run_once(p.a.loop, 0); /* na writes; nb does not read */
	}
	assert_int_equal(err, -ENOBUFS);
	assert_int_equal(peer_send_ctl(nb, FRAME_PING, 0, body, 8), -ENOBUFS);
	for (i = 0; i < 100 && !a_down(&p); i++)
		loop_run_once(p.a.loop, 5);
	assert_int_equal(p.ga.downs, 1);
	assert_int_equal(p.a.stats.limits[LIMIT_CTL_QUEUE], 1);
	assert_false(nb->ctl_overflow);
	daemon_end(&p.a);
	daemon_end(&p.b);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t counter(struct daemon *d, const char *name)
{
	json_t *c = peer_counters_json(d);
	uint64_t v = (uint64_t)json_integer_value(json_object_get(c, name));

	json_decref(c);
	return v;
}

/* nb answers, but slowly (its loop gets a turn every 2.2 s, as on a starved machine):
 * the handshake takes longer than PEER_HANDSHAKE_MS in all, yet no silence of nb's is
 * that long, so both come up. */
static void slow_remote_comes_up(void **state)
{
	static struct pair p;
	uint64_t t0, last;

	daemon_make(&p.a, &p.ga, "na", "ca");
	daemon_make(&p.b, &p.gb, "nb", "ca");
	connect_pair(&p);
	t0 = last = mono_ms();
	while (!both_up(&p) && mono_ms() - t0 < 15000) {
		loop_run_once(p.a.loop, 5);
		if (mono_ms() - last >= 2200) {
			for (int i = 0; i < 20; i++)
				loop_run_once(p.b.loop, 1);
			last = mono_ms();
		}
	}
	assert_true(both_up(&p));
	assert_true(mono_ms() - t0 > PEER_HANDSHAKE_MS);
	assert_int_equal(counter(&p.a, "handshake_timeouts"), 0);
	daemon_end(&p.a);
	daemon_end(&p.b);
}

/* nb never says anything: na closes the link at the deadline, counted. */
static void silent_remote_closed(void **state)
{
	static struct pair p;
	uint64_t t0;

	daemon_make(&p.a, &p.ga, "na", "ca");
	daemon_make(&p.b, &p.gb, "nb", "ca");
	connect_pair(&p);
	t0 = mono_ms();
	while (counter(&p.a, "handshake_timeouts") == 0 && mono_ms() - t0 < 10000)
		loop_run_once(p.a.loop, 50);
	assert_int_equal(counter(&p.a, "handshake_timeouts"), 1);
	assert_true(mono_ms() - t0 >= PEER_HANDSHAKE_MS);
	assert_true(mono_ms() - t0 < PEER_HANDSHAKE_MAX_MS);
	assert_int_equal(counter(&p.a, "pending"), 0);
	assert_int_equal(p.ga.ups, 0);
	daemon_end(&p.a);
	daemon_end(&p.b);
}

/* nb's certificate comes from another CA: neither side brings the other up. */
static void other_ca_refused(void **state)
{
	static struct pair p;
	json_t *c;

	daemon_make(&p.a, &p.ga, "na", "ca");
	daemon_make(&p.b, &p.gb, "nb", "other");
	connect_pair(&p);
	for (int i = 0; i < 200; i++) {
		loop_run_once(p.a.loop, 5);
		loop_run_once(p.b.loop, 5);
	}
	assert_int_equal(p.ga.ups + p.gb.ups, 0);
	assert_null(peer_find(&p.a, "nb"));
	c = peer_counters_json(&p.a);
	assert_true(json_integer_value(json_object_get(c, "refused_certificate")) >= 1);
	json_decref(c);
	daemon_end(&p.a);
	daemon_end(&p.b);
}

static int setup(void **state)
{
	char cmd[512];

	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "scripts/vnet-ca init %s/ca && scripts/vnet-ca issue %s/ca na && "
		 "scripts/vnet-ca issue %s/ca nb && scripts/vnet-ca init %s/other && "
		 "scripts/vnet-ca issue %s/other nb", dir, dir, dir, dir, dir);
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
		cmocka_unit_test(two_daemons_exchange_frames),
		cmocka_unit_test(ctl_overflow_resets_link),
		cmocka_unit_test(other_ca_refused),
		cmocka_unit_test(slow_remote_comes_up),
		cmocka_unit_test(silent_remote_closed),
	};

	signal(SIGPIPE, SIG_IGN); /* as the daemon: a link closed under a write is an error */
	log_init("test_peer", false, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
