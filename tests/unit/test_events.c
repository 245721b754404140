/* The event ring: it keeps the newest EVENTS_MAX events in order when it wraps, drops
 * aggregate per reason and second without losing a count, and followers get each new
 * event as a line, until one that stops reading is cut off. */
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

#include "tunvnet/command.h"
#include "tunvnet/control.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/loop.h"
#include "tunvnet/node.h"
#include "tunvnet/stats.h"

/* A bus of its own (no loop: aggregated drops come out with the next listing) and the
 * counters whose drops it hears of, as node_init() wires them. */
static struct events *EV;
static struct stats ST;

static int bus_setup(void **state)
{
	struct stats_events hook;

	if (events_new(NULL, &EV) < 0)
		return -1;
	events_stats_hook(EV, &hook);
	stats_set_events(&ST, &hook);
	return 0;
}

static int bus_teardown(void **state)
{
	stats_set_events(&ST, NULL);
	events_free(EV);
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void test_wrap_around(void **state)
{
	enum { EXTRA = 37 };
	json_t *a, *e;
	double last = 0;
	char vb[32];

	for (int i = 0; i < EVENTS_MAX + EXTRA; i++) {
		char d[16];

		snprintf(d, sizeof(d), "#%d", i);
		snprintf(vb, sizeof(vb), "198.19.%d.%d", i / 250, i % 250 + 1);
		events_job(EV, EVENT_JOB_ATTACH + i % 7, vb, d);
	}
	assert_int_equal(events_count(EV), EVENTS_MAX);
	a = events_list_json(EV);
	assert_int_equal(json_array_size(a), EVENTS_MAX);
	for (size_t i = 0; i < json_array_size(a); i++) {
		char want[16];

		e = json_array_get(a, i);
		snprintf(want, sizeof(want), "#%zu", i + EXTRA); /* the oldest went first */
		assert_string_equal(str(e, "detail"), want);
		assert_string_equal(str(e, "type"),
				    events_type_name(EVENT_JOB_ATTACH + (i + EXTRA) % 7));
		assert_true(json_real_value(json_object_get(e, "ts")) >= last);
		last = json_real_value(json_object_get(e, "ts"));
	}
	json_decref(a);

	/* each kind carries its own members */
	events_peer(EV, EVENT_PEER_DOWN, "n2", "no keepalive for 6 s");
	events_route(EV, "198.19.1.10", "n1", 2, "n2", 3, 0);
	a = events_list_json(EV);
	e = json_array_get(a, EVENTS_MAX - 2);
	assert_string_equal(str(e, "type"), "peer_down");
	assert_string_equal(str(e, "node"), "n2");
	assert_string_equal(str(e, "detail"), "no keepalive for 6 s");
	e = json_array_get(a, EVENTS_MAX - 1);
	assert_string_equal(str(e, "type"), "route_change");
	assert_string_equal(str(e, "old_node"), "n1");
	assert_string_equal(str(e, "new_node"), "n2");
	assert_int_equal(json_integer_value(json_object_get(e, "old_epoch")), 2);
	assert_int_equal(json_integer_value(json_object_get(e, "new_epoch")), 3);
	assert_true(json_is_false(json_object_get(e, "withdrawn")));
	json_decref(a);
}

/* Sums the counts of the drop events of one reason in the ring; *n: how many events. */
static long drop_total(const char *reason, int *n)
{
	json_t *a = events_list_json(EV), *e;
	size_t i;
	long sum = 0;

	*n = 0;
	json_array_foreach(a, i, e) {
		if (strcmp(str(e, "type"), "drop") == 0 && strcmp(str(e, "reason"), reason) == 0) {
			sum += (long)json_integer_value(json_object_get(e, "count"));
			(*n)++;
		}
	}
	json_decref(a);
	return sum;
}

static void test_drop_aggregation(void **state)
{
	int n;

	for (int i = 0; i < 500; i++)
		stats_drop(&ST, DROP_QUEUE_FULL);
	for (int i = 0; i < 7; i++)
		stats_drop(&ST, DROP_NO_ROUTE);
	assert_int_equal(ST.drops[DROP_QUEUE_FULL], 500);
	/* the first of each reason at once, the rest held for the second to end */
	assert_int_equal(drop_total("queue_full", &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(drop_total("no_route", &n), 1);
	usleep(1100 * 1000);
	assert_int_equal(drop_total("queue_full", &n), 500);
	assert_int_equal(n, 2);
	assert_int_equal(drop_total("no_route", &n), 7);
	assert_int_equal(n, 2);
	/* a second later still, the next drop is an event of its own at once */
	usleep(1100 * 1000);
	stats_drop(&ST, DROP_QUEUE_FULL);
	assert_int_equal(drop_total("queue_full", &n), 501);
	assert_int_equal(n, 3);
	assert_int_equal(drop_total("malformed", &n), 0);
}

/* ---- followers over a control socket ---- */

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
	snprintf(sockpath, sizeof(sockpath), "/tmp/test_events.%d/ctl.sock", (int)getpid());
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

static int follower(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static const char req[] = "{\"version\":1,\"cmd\":\"events\",\"follow\":true}\n";
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, sockpath);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	spin(20);
	return fd;
}

/* Everything the daemon wrote until it closed (or nothing came for a while). */
static char *slurp(int fd, size_t *len, bool *eof)
{
	size_t cap = 1 << 16;
	char *b = malloc(cap);

	*len = 0;
	*eof = false;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int idle = 0; idle < 100;) {
		ssize_t n;

		if (*len + 1 >= cap)
			b = realloc(b, cap *= 2);
		n = read(fd, b + *len, cap - 1 - *len);
		if (n == 0) {
			*eof = true;
			break;
		}
		if (n < 0) {
			spin(5);
			idle++;
			continue;
		}
		*len += (size_t)n;
	}
	b[*len] = '\0';
	return b;
}

static void test_follow(void **state)
{
	int fd = follower(), lines = 0;
	bool eof;
	size_t len;
	char *out, *p, *line;

	events_peer(D.events, EVENT_PEER_UP, "n2", "198.18.0.2:7000, dialed");
	events_job(D.events, EVENT_JOB_SUSPEND, "198.19.1.10", "");
	spin(20);
	shutdown(fd, SHUT_WR); /* ends following: the daemon closes */
	out = slurp(fd, &len, &eof);
	assert_true(eof);
	close(fd);
	p = out;
	line = strsep(&p, "\n");
	assert_non_null(strstr(line, "\"following\":true"));
	while ((line = strsep(&p, "\n")) && *line) {
		json_t *e = json_loads(line, 0, NULL);

		assert_non_null(e);
		assert_string_equal(str(e, "type"), lines == 0 ? "peer_up" : "job_suspend");
		json_decref(e);
		lines++;
	}
	assert_int_equal(lines, 2);
	free(out);
}

/* A follower that does not read is cut off once it is far behind; a reader beside it
 * keeps getting every event. */
static void test_slow_follower_cut_off(void **state)
{
	enum { N = 20000 };
	int slow = follower(), fast = follower(), got = 0;
	bool eof;
	size_t len;
	char *out, *p;

	for (int i = 0; i < N; i++) {
		char d[64];

		snprintf(d, sizeof(d), "event %d, padded to make it longer than short", i);
		events_job(D.events, EVENT_JOB_RESUME, "198.19.1.10", d);
		if (i % 500 == 0) {
			char junk[1 << 16];

			spin(1);
			fcntl(fast, F_SETFL, O_NONBLOCK);
			for (ssize_t n; (n = read(fast, junk, sizeof(junk))) > 0;)
				for (ssize_t k = 0; k < n; k++)
					got += junk[k] == '\n';
		}
	}
	spin(20);
	out = slurp(slow, &len, &eof);
	/* it got what its socket held, then the daemon closed: not all N lines */
	assert_true(eof);
	assert_true(len > 0);
	assert_true(len < (size_t)N * 100);
	free(out);
	close(slow);
	shutdown(fast, SHUT_WR);
	out = slurp(fast, &len, &eof);
	assert_true(eof);
	for (p = out; (p = strchr(p, '\n')); p++)
		got++;
	assert_int_equal(got, N + 1); /* the reply line and every event */
	free(out);
	close(fast);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wrap_around, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_drop_aggregation, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_follower_cut_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
