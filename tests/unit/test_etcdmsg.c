/* etcd's JSON gateway codec (tunvnet/etcdmsg.c) on replies captured from Debian's etcd
 * 3.4 (a txn won and lost, a watch stream with a DELETE and a compaction, a lease, an
 * error), the VIP layout both ways, and the txn body's compare-and-set. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tunvnet/etcdmsg.h"

struct seen {
	int n;
	struct etcd_kv kv[4];
};

static void collect(const struct etcd_kv *kv, void *arg)
{
	struct seen *s = arg;

	if (s->n < 4)
		s->kv[s->n] = *kv;
	s->n++;
}

static void txn_lost_names_winner(void **state)
{
	const char *b = "{\"header\":{\"revision\":\"2\"},\"responses\":[{\"response_range\":"
		"{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"L3R2L3ZpcC8xOTguMTkuMS4xMA==\","
		"\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":"
		"\"eyJub2RlIjoibjEiLCJlcG9jaCI6M30=\"}],\"count\":\"1\"}}]}";
	struct etcd_reply r;
	struct route_entry e;
	struct seen s = { 0 };

	assert_int_equal(etcdmsg_reply(b, strlen(b), &r, collect, &s), 0);
	assert_false(r.succeeded);
	assert_int_equal(r.revision, 2);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.kv[0].key, "/tv/vip/198.19.1.10");
	assert_int_equal(etcdmsg_vip_entry("/tv", &s.kv[0], &e), 0);
	assert_string_equal(e.node, "n1");
	assert_int_equal(e.epoch, 3);
	assert_int_equal(e.store_rev, 2);
	assert_false(e.withdrawn);
	/* another prefix's key is not ours */
	assert_int_equal(etcdmsg_vip_entry("/other", &s.kv[0], &e), -EINVAL);
}

static void txn_won(void **state)
{
	const char *b = "{\"header\":{\"revision\":\"7\"},\"succeeded\":true,\"responses\":"
		"[{\"response_put\":{\"header\":{\"revision\":\"7\"}}}]}";
	struct etcd_reply r;

	assert_int_equal(etcdmsg_reply(b, strlen(b), &r, NULL, NULL), 0);
	assert_true(r.succeeded);
	assert_int_equal(r.revision, 7);
}

static void watch_stream(void **state)
{
	const char *b =
		"{\"result\":{\"header\":{\"revision\":\"3\"},\"created\":true}}\n"
		"{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"type\":\"DELETE\","
		"\"kv\":{\"key\":\"L3R2L3ZpcC8xOTguMTkuMS4xMA==\",\"mod_revision\":\"4\"}}]}}\n"
		"{\"result\":{\"header\":{},\"canceled\":true,\"compact_revision\":\"3\"}}\n"
		"{\"result\":{\"hea";
	size_t len = strlen(b), off = 0, used;
	struct etcd_reply r;
	struct route_entry e;
	struct seen s = { 0 };

	assert_int_equal(etcdmsg_watch_next(b, len, &used, &r, collect, &s), 0);
	assert_true(r.created);
	assert_int_equal(r.revision, 3);
	off += used;
	assert_int_equal(etcdmsg_watch_next(b + off, len - off, &used, &r, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.kv[0].deleted);
	assert_int_equal(etcdmsg_vip_entry("/tv", &s.kv[0], &e), 0);
	assert_true(e.withdrawn);
	off += used;
	assert_int_equal(etcdmsg_watch_next(b + off, len - off, &used, &r, collect, &s), 0);
	assert_true(r.canceled);
	assert_int_equal(r.compact_rev, 3);
	off += used;
	/* a message cut short waits for more */
	assert_int_equal(etcdmsg_watch_next(b + off, len - off, &used, &r, collect, &s), 0);
	assert_int_equal(used, 0);
}

static void lease_and_error(void **state)
{
	const char *l = "{\"header\":{\"revision\":\"1\"},\"ID\":\"7587899414044135941\","
			"\"TTL\":\"5\"}";
	const char *e = "{\"error\":\"etcdserver: requested lease not found\",\"message\":"
			"\"etcdserver: requested lease not found\",\"code\":5}";
	struct etcd_reply r;

	assert_int_equal(etcdmsg_reply(l, strlen(l), &r, NULL, NULL), 0);
	assert_true(r.lease_id == 7587899414044135941LL);
	assert_int_equal(r.ttl, 5);
	assert_int_equal(etcdmsg_reply(e, strlen(e), &r, NULL, NULL), 0);
	assert_string_equal(r.error, "etcdserver: requested lease not found");
}

static void malformed(void **state)
{
	const char *bad[] = {
		"", "[]", "{\"header\":{\"revision\":\"x\"}}", "{\"kvs\":[{\"key\":\"!!\"}]}",
		"{\"kvs\":[{\"value\":\"YQ==\"}]}", "{\"header\":{\"revision\":\"-3\"}}",
		"{\"result\":{\"events\":[{\"type\":\"NOPE\",\"kv\":{\"key\":\"YQ==\"}}]}}",
		"{\"kvs\":[{\"key\":\"YQBi\"}]}", /* a NUL inside the key */
	};
	struct etcd_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(etcdmsg_reply(bad[i], strlen(bad[i]), &r, NULL, NULL),
				 -EBADMSG);
}

static void bad_values(void **state)
{
	const char *vals[] = { "{\"node\":\"n1\"}", "{\"node\":\"n 1\",\"epoch\":1}",
			       "{\"node\":\"n1\",\"epoch\":0}", "{\"node\":1,\"epoch\":1}", "x" };
	struct etcd_kv kv = { .key = "/tv/vip/198.19.1.10", .mod_rev = 3 };
	struct route_entry e;

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		snprintf(kv.value, sizeof(kv.value), "%s", vals[i]);
		kv.value_len = strlen(vals[i]);
		assert_int_equal(etcdmsg_vip_entry("/tv", &kv, &e), -EINVAL);
	}
	snprintf(kv.key, sizeof(kv.key), "/tv/vip/not-an-address");
	assert_int_equal(etcdmsg_vip_entry("/tv", &kv, &e), -EINVAL);
	assert_null(etcdmsg_node_of("/tv", "/tv/node/a b"));
	assert_string_equal(etcdmsg_node_of("/tv", "/tv/node/n7"), "n7");
}

static void txn_body(void **state)
{
	struct route_entry e[2];
	uint64_t seen[2] = { 0, 41 };
	json_t *j;
	char *b;

	memset(e, 0, sizeof(e));
	assert_int_equal(vip_parse("198.19.1.10", &e[0].vip), 0);
	assert_int_equal(vip_parse("fd00:19:1::10", &e[1].vip), 0);
	snprintf(e[0].node, sizeof(e[0].node), "n2");
	e[0].epoch = 5;
	e[1] = e[0];
	assert_int_equal(vip_parse("fd00:19:1::10", &e[1].vip), 0);
	e[1].withdrawn = true;
	b = etcdmsg_txn_routes("/tv", e, seen, 2, 0x1234);
	assert_non_null(b);
	j = json_loads(b, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "compare")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(j, "compare"), 1), "mod_revision")), "41");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(
		json_object_get(j, "success"), 0), "request_put"), "lease")), "4660");
	assert_non_null(json_object_get(json_array_get(json_object_get(j, "success"), 1),
					"request_delete_range"));
	assert_non_null(json_object_get(json_array_get(json_object_get(j, "failure"), 0),
					"request_range"));
	json_decref(j);
	free(b);
	/* a page after "/tv/a" starts at "/tv/a\0" ("L3R2L2EA"), pinned to revision 9 */
	b = etcdmsg_range_page("/tv/", "/tv/a", 9, 2);
	assert_non_null(strstr(b, "\"key\":\"L3R2L2EA\""));
	assert_non_null(strstr(b, "\"limit\":\"2\""));
	assert_non_null(strstr(b, "\"revision\":\"9\""));
	free(b);
	{
		const char *p = "{\"header\":{\"revision\":\"9\"},\"kvs\":[],\"more\":true}";
		struct etcd_reply r;

		assert_int_equal(etcdmsg_reply(p, strlen(p), &r, NULL, NULL), 0);
		assert_true(r.more);
	}
	b = etcdmsg_watch("/tv", 8);
	assert_non_null(strstr(b, "\"range_end\":\"L3R3\"")); /* "/tw": the prefix + 1 */
	assert_non_null(strstr(b, "\"start_revision\":\"8\""));
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(txn_lost_names_winner),
		cmocka_unit_test(txn_won),
		cmocka_unit_test(watch_stream),
		cmocka_unit_test(lease_and_error),
		cmocka_unit_test(malformed),
		cmocka_unit_test(bad_values),
		cmocka_unit_test(txn_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
