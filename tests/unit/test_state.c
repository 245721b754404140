/* The state file: its format (statefile.c) round trip and what it refuses, and the
 * daemon's side (state.c): a file written atomically as routes change, read back by a
 * second daemon with the same epochs (a route no job hosts any more comes back
 * withdrawn at its epoch, never lower), and a corrupt or foreign file set aside. Jobs
 * with real namespaces and TUNs are the integration test's (81-restart). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tunvnet/addr.h"
#include "tunvnet/daemon.h"
#include "tunvnet/log.h"
#include "tunvnet/node.h"
#include "tunvnet/route.h"
#include "tunvnet/routing.h"
#include "tunvnet/state.h"
#include "tunvnet/statefile.h"

static struct vip V(const char *s)
{
	struct vip v;

	assert_int_equal(vip_parse(s, &v), 0);
	return v;
}

static void sample(struct statefile *sf)
{
	static struct statefile_job jobs[2];
	static struct statefile_route routes[3];
	static struct statefile_peer peers[2];

	memset(sf, 0, sizeof(*sf));
	memset(jobs, 0, sizeof(jobs));
	memset(routes, 0, sizeof(routes));
	snprintf(sf->node, sizeof(sf->node), "n1");
	snprintf(jobs[0].netns, sizeof(jobs[0].netns), "tv-j1");
	jobs[0].ns_dev = 4;
	jobs[0].ns_ino = 4026532999ULL;
	jobs[0].state = JOB_ACTIVE;
	jobs[0].vips[0] = V("198.19.1.10");
	jobs[0].vips[1] = V("fd00:19:1::a");
	jobs[0].nvips = 2;
	snprintf(jobs[1].netns, sizeof(jobs[1].netns), "/proc/1234/ns/net");
	jobs[1].ns_dev = 4;
	jobs[1].ns_ino = 4026533000ULL;
	jobs[1].state = JOB_SUSPENDED;
	jobs[1].handing_over = true;
	jobs[1].vips[0] = V("198.19.1.11");
	jobs[1].nvips = 1;
	routes[0] = (struct statefile_route){ V("198.19.1.10"), 3, false };
	routes[1] = (struct statefile_route){ V("fd00:19:1::a"), 1, false };
	routes[2] = (struct statefile_route){ V("198.19.1.99"), (uint64_t)INT64_MAX, true };
	sf->jobs = jobs;
	sf->njobs = 2;
	sf->routes = routes;
	sf->nroutes = 3;
	memset(peers, 0, sizeof(peers));
	snprintf(peers[0].name, sizeof(peers[0].name), "n2");
	assert_int_equal(addr_parse("198.18.0.2:7000", 0, &peers[0].addr), 0);
	snprintf(peers[1].name, sizeof(peers[1].name), "n3");
	assert_int_equal(addr_parse("[fd00::3]:7001", 0, &peers[1].addr), 0);
	sf->peers = peers;
	sf->npeers = 2;
}

static void test_round_trip(void **state)
{
	struct statefile in, out;
	char why[200] = "", *txt, *txt2;

	sample(&in);
	txt = statefile_format(&in);
	assert_non_null(txt);
	assert_int_equal(statefile_parse(txt, strlen(txt), &out, why, sizeof(why)), 0);
	assert_string_equal(out.node, "n1");
	assert_int_equal(out.njobs, 2);
	assert_int_equal(out.nroutes, 3);
	assert_string_equal(out.jobs[1].netns, "/proc/1234/ns/net");
	assert_int_equal(out.jobs[1].state, JOB_SUSPENDED);
	assert_true(out.jobs[1].handing_over);
	assert_false(out.jobs[0].handing_over);
	assert_int_equal(out.jobs[0].ns_ino, 4026532999ULL);
	assert_int_equal(out.jobs[0].nvips, 2);
	assert_true(vip_equal(&out.jobs[0].vips[1], &in.jobs[0].vips[1]));
	assert_int_equal(out.routes[2].epoch, (uint64_t)INT64_MAX);
	assert_true(out.routes[2].withdrawn);
	assert_int_equal(out.npeers, 2);
	assert_string_equal(out.peers[1].name, "n3");
	assert_true(addr_equal(&out.peers[1].addr, &in.peers[1].addr));
	txt2 = statefile_format(&out);
	assert_non_null(txt2);
	assert_string_equal(txt, txt2); /* printed the same again */
	statefile_free(&out);
	free(txt);
	free(txt2);
}

/* Each input is refused as a whole, with a reason, and leaves nothing allocated. */
static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": []",
		"{\"version\": 2, \"node\": \"n1\", \"jobs\": [], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n 1\", \"jobs\": [], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": {}, \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"node\": \"n2\", \"jobs\": [], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [], \"peers\": [{\"name\": \"n2\", \"addr\": \"n2:7000\"}]}",
		/* an address without its port would print as ":0", which nothing accepts again */
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [], \"peers\": [{\"name\": \"n2\", \"addr\": \"198.18.0.2\"}]}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [], \"peers\": [{\"name\": \"n2/x\", \"addr\": \"198.18.0.2:7000\"}]}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [{\"vip\": \"198.19.1.1\", \"epoch\": 0}], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [{\"vip\": \"198.19.1.1\", \"epoch\": -3}], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [{\"vip\": \"198.19.1.1/24\", \"epoch\": 1}], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [{\"vip\": \"198.19.1.1\", \"epoch\": 1, \"withdrawn\": 1}], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [], \"routes\": [{\"vip\": \"198.19.1.1\", \"epoch\": 1}, {\"vip\": \"198.19.1.1\", \"epoch\": 2}], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"a\", \"nsid\": [1, 2], \"state\": \"active\", \"vips\": []}], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"a\", \"nsid\": [1], \"state\": \"active\", \"vips\": [\"198.19.1.1\"]}], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"a\", \"nsid\": [1, 2], \"state\": \"asleep\", \"vips\": [\"198.19.1.1\"]}], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"\", \"nsid\": [1, 2], \"state\": \"active\", \"vips\": [\"198.19.1.1\"]}], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"a\", \"nsid\": [1, 2], \"state\": \"active\", \"vips\": [\"198.19.1.1\", \"198.19.1.1\"]}], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"a\", \"nsid\": [1, 2], \"state\": \"active\", \"vips\": [\"198.19.1.1\"]}, {\"netns\": \"b\", \"nsid\": [1, 3], \"state\": \"active\", \"vips\": [\"198.19.1.1\"]}], \"routes\": [], \"peers\": []}",
		"{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"a\", \"nsid\": [1, 2], \"state\": \"active\", \"vips\": [\"1.1.1.1\",\"1.1.1.2\",\"1.1.1.3\",\"1.1.1.4\",\"1.1.1.5\",\"1.1.1.6\",\"1.1.1.7\",\"1.1.1.8\",\"1.1.1.9\"]}], \"routes\": [], \"peers\": []}",
	};
	static const char nul[] = "{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": \"a\\u0000b\", \"nsid\": [1, 2], \"state\": \"active\", \"vips\": [\"198.19.1.1\"]}], \"routes\": [], \"peers\": []}";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct statefile sf;
		char why[200] = "";

		if (statefile_parse(bad[i], strlen(bad[i]), &sf, why, sizeof(why)) != -EINVAL)
			fail_msg("accepted input %zu: %s", i, bad[i]);
		assert_true(why[0] != '\0');
		assert_null(sf.jobs);
		assert_null(sf.routes);
		assert_null(sf.peers);
	}
	{
		struct statefile sf;
		char why[200];

		assert_int_equal(statefile_parse(nul, sizeof(nul) - 1, &sf, why, sizeof(why)),
				 -EINVAL);
	}
}

/* --- the daemon's side ------------------------------------------------------------ */

static char dir[] = "/tmp/tunvnet-test-state.XXXXXX";

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char p[512];

	while (dp && (de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (dp)
		closedir(dp);
	rmdir(dir);
	return 0;
}

static void daemon_make(struct daemon *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->cfg.node, sizeof(d->cfg.node), "%s", name);
	snprintf(d->cfg.state_dir, sizeof(d->cfg.state_dir), "%s", dir);
	d->cfg.mtu = 1500;
	d->cfg.peer_timeout_s = 6;
	assert_int_equal(node_init(d), 0);
	assert_non_null(d->state);
}

static void daemon_end(struct daemon *d)
{
	node_stop(d);
	node_free(d);
}

/* Files in dir whose name starts with prefix. */
static int count_files(const char *prefix)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(dp);
	return n;
}

static void put_file(const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, STATE_FILE);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_epochs_survive(void **state)
{
	struct daemon a, b;
	struct vip v = V("198.19.1.10"), w = V("fd00:19:1::a");
	const struct route_entry *e;
	uint64_t epoch;
	int i;

	daemon_make(&a, "n1");
	for (i = 0; i < 3; i++) /* epochs 1, 2, 3: as three moves back here would */
		assert_int_equal(routing_announce(&a, &v, 1, &epoch, false), 0);
	assert_int_equal(epoch, 3);
	assert_int_equal(routing_announce(&a, &w, 1, &epoch, false), 0);
	assert_int_equal(routing_withdraw(&a, &w), 0);
	/* One loop turn writes the file (the before-sleep hook), whatever the changes. */
	assert_int_equal(loop_run_once(a.loop, 0), 0);
	assert_int_equal(count_files(STATE_FILE), 1);
	assert_int_equal(count_files(STATE_FILE ".tmp"), 0);
	daemon_end(&a);

	daemon_make(&b, "n1");
	assert_int_equal(state_restore(&b), 0);
	e = route_get(b.routes, &v);
	assert_non_null(e);
	assert_int_equal(e->epoch, 3);   /* never backwards */
	assert_true(e->withdrawn);       /* no job hosts it after the restart */
	assert_string_equal(e->node, "n1");
	e = route_get(b.routes, &w);
	assert_non_null(e);
	assert_int_equal(e->epoch, 1);
	assert_true(e->withdrawn);
	/* Announced again, it goes on from there. */
	assert_int_equal(routing_announce(&b, &v, 1, &epoch, false), 0);
	assert_int_equal(epoch, 4);
	daemon_end(&b);
}

static void test_corrupt_set_aside(void **state)
{
	struct daemon d;

	put_file("{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": ");
	daemon_make(&d, "n1");
	assert_int_equal(state_restore(&d), 0);
	assert_int_equal(count_files(STATE_FILE ".bad-"), 1);
	assert_int_equal(route_count(d.routes), 0);
	/* ... and a good file is written in its place. */
	assert_int_equal(count_files(STATE_FILE), 2);
	daemon_end(&d);
}

static void test_foreign_set_aside(void **state)
{
	struct daemon d;

	put_file("{\"version\": 1, \"node\": \"n2\", \"jobs\": [], \"routes\": "
		 "[{\"vip\": \"198.19.2.10\", \"epoch\": 5, \"withdrawn\": false}], "
		 "\"peers\": []}");
	daemon_make(&d, "n1");
	assert_int_equal(state_restore(&d), 0);
	assert_int_equal(count_files(STATE_FILE ".bad-"), 2); /* this one and the last */
	assert_int_equal(route_count(d.routes), 0);
	daemon_end(&d);
}

/* A job whose namespace is gone is dropped, its route withdrawn at its epoch. */
static void test_job_gone(void **state)
{
	struct daemon d;
	const struct route_entry *e;
	struct vip v = V("198.19.1.20");

	put_file("{\"version\": 1, \"node\": \"n1\", \"jobs\": [{\"netns\": "
		 "\"tunvnet-test-no-such-netns\", \"nsid\": [4, 12345], \"state\": \"active\", "
		 "\"vips\": [\"198.19.1.20\"]}], \"routes\": [{\"vip\": \"198.19.1.20\", "
		 "\"epoch\": 7, \"withdrawn\": false}], \"peers\": [{\"name\": \"n2\", "
		 "\"addr\": \"198.18.0.2:7000\"}]}");
	daemon_make(&d, "n1");
	assert_int_equal(state_restore(&d), 0);
	assert_int_equal(job_count(&d), 0);
	e = route_get(d.routes, &v);
	assert_non_null(e);
	assert_int_equal(e->epoch, 7);
	assert_true(e->withdrawn);
	daemon_end(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_epochs_survive),
		cmocka_unit_test(test_corrupt_set_aside),
		cmocka_unit_test(test_foreign_set_aside),
		cmocka_unit_test(test_job_gone),
	};

	log_init("test_state", false, LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
