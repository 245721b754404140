/* Route table: the epoch / node-name / withdrawal rule, tombstones and their expiry, v4
 * and v6 lookup, growth and shrinking, and a randomized check against a naive linear
 * list that applies the same rule (WireGuard's allowedips selftest does the same). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tunvnet/route.h"

static struct vip v4(uint32_t host_order)
{
	struct vip v;
	uint32_t n = htonl(host_order);

	memset(&v, 0, sizeof(v));
	v.family = AF_INET;
	memcpy(v.a, &n, 4);
	return v;
}

/* fd00:19::<hi>:<lo> */
static struct vip v6(uint32_t hi, uint32_t lo)
{
	struct vip v;
	uint32_t h = htonl(hi), l = htonl(lo);

	memset(&v, 0, sizeof(v));
	v.family = AF_INET6;
	v.a[0] = 0xfd;
	v.a[2] = 0x00;
	v.a[3] = 0x19;
	memcpy(v.a + 8, &h, 4);
	memcpy(v.a + 12, &l, 4);
	return v;
}

static struct vip parse(const char *s)
{
	struct vip v;

	memset(&v, 0, sizeof(v));
	if (inet_pton(AF_INET, s, v.a) == 1) {
		v.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, s, v.a), 1);
		v.family = AF_INET6;
	}
	return v;
}

static struct route_entry ent(struct vip v, const char *node, uint64_t epoch, bool withdrawn,
			      uint64_t ms)
{
	struct route_entry e;

	memset(&e, 0, sizeof(e));
	e.vip = v;
	snprintf(e.node, sizeof(e.node), "%s", node);
	e.epoch = epoch;
	e.withdrawn = withdrawn;
	e.changed_ms = ms;
	return e;
}

static int upd(struct route_table *t, struct vip v, const char *node, uint64_t epoch,
	       bool withdrawn, uint64_t ms)
{
	struct route_entry e = ent(v, node, epoch, withdrawn, ms);

	return route_update(t, &e);
}

static struct route_table *mktable(void)
{
	struct route_table *t = NULL;

	assert_int_equal(route_table_new(&t), 0);
	assert_non_null(t);
	return t;
}

static void count_cb(const struct route_entry *e, void *arg)
{
	(*(size_t *)arg)++;
}

static size_t visits(const struct route_table *t)
{
	size_t n = 0;

	route_foreach(t, count_cb, &n);
	return n;
}

static void test_empty(void **state)
{
	struct route_table *t = mktable();
	struct vip a = v4(0xc6130001);

	assert_int_equal(route_count(t), 0);
	assert_null(route_lookup(t, &a));
	assert_null(route_get(t, &a));
	assert_int_equal(route_next_epoch(t, &a), 1);
	assert_int_equal(visits(t), 0);
	assert_int_equal(route_expire(t, UINT64_MAX), 0);
	route_table_free(t);
	route_table_free(NULL);
}

static void test_wins(void **state)
{
	struct vip a = v4(1);
	struct route_entry e1 = ent(a, "n1", 5, false, 0);
	struct route_entry e2 = ent(a, "n1", 6, false, 0);
	struct route_entry e3 = ent(a, "n2", 5, false, 0);
	struct route_entry w1 = ent(a, "n1", 5, true, 0);
	struct route_entry w0 = ent(a, "n1", 4, true, 0);

	assert_true(route_wins(&e2, &e1));
	assert_false(route_wins(&e1, &e2));
	/* A higher node name does not beat a higher epoch. */
	assert_true(route_wins(&e2, &e3));
	assert_true(route_wins(&e3, &e1));
	assert_false(route_wins(&e1, &e3));
	assert_true(route_wins(&w1, &e1));
	assert_false(route_wins(&e1, &w1));
	assert_false(route_wins(&e1, &e1));
	assert_false(route_wins(&w1, &w1));
	/* A withdrawal only beats an announcement of the same node and epoch. */
	assert_false(route_wins(&w0, &e1));
	assert_false(route_wins(&w1, &e3));
	assert_true(route_wins(&e1, &w0));
}

static void test_epochs(void **state)
{
	struct route_table *t = mktable();
	struct vip a = v4(0xc6130102);
	const struct route_entry *r;

	assert_int_equal(upd(t, a, "nodeA", 1, false, 10), 1);
	r = route_lookup(t, &a);
	assert_non_null(r);
	assert_string_equal(r->node, "nodeA");
	assert_int_equal(r->epoch, 1);
	assert_int_equal(r->changed_ms, 10);

	assert_int_equal(upd(t, a, "nodeB", 2, false, 20), 1);
	r = route_lookup(t, &a);
	assert_string_equal(r->node, "nodeB");
	assert_int_equal(r->epoch, 2);

	/* Lower epoch is ignored, whatever the node name. */
	assert_int_equal(upd(t, a, "nodeZ", 1, false, 30), 0);
	assert_int_equal(upd(t, a, "nodeA", 1, true, 30), 0);
	r = route_lookup(t, &a);
	assert_string_equal(r->node, "nodeB");
	assert_int_equal(r->changed_ms, 20);

	/* An identical re-announce changes nothing. */
	assert_int_equal(upd(t, a, "nodeB", 2, false, 40), 0);
	assert_int_equal(route_lookup(t, &a)->changed_ms, 20);

	assert_int_equal(upd(t, a, "nodeA", 100, false, 50), 1);
	assert_string_equal(route_lookup(t, &a)->node, "nodeA");
	assert_int_equal(route_count(t), 1);
	assert_int_equal(visits(t), 1);
	route_table_free(t);
}

static void test_ties(void **state)
{
	/* strcmp order: "node9" > "node10" > "node1". */
	static const char *nodes[3] = { "node1", "node10", "node9" };
	static const int perm[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	struct vip a = v6(7, 7);
	int p, k;

	for (p = 0; p < 6; p++) {
		struct route_table *t = mktable();
		int best = -1;

		for (k = 0; k < 3; k++) {
			int n = perm[p][k];
			int want = best < 0 || strcmp(nodes[n], nodes[best]) > 0;

			assert_int_equal(upd(t, a, nodes[n], 4, false, (uint64_t)k), want);
			if (want)
				best = n;
		}
		assert_string_equal(route_lookup(t, &a)->node, "node9");
		assert_int_equal(route_lookup(t, &a)->epoch, 4);
		assert_int_equal(route_next_epoch(t, &a), 5);
		route_table_free(t);
	}
}

static void test_withdraw(void **state)
{
	struct route_table *t = mktable();
	struct vip a = v4(0xc6130203), b = v4(0xc6130204);
	const struct route_entry *r;

	assert_int_equal(upd(t, a, "n2", 3, false, 1), 1);
	assert_int_equal(upd(t, b, "n2", 1, false, 1), 1);
	assert_int_equal(route_count(t), 2);

	assert_int_equal(upd(t, a, "n2", 3, true, 2), 1);
	assert_null(route_lookup(t, &a));
	r = route_get(t, &a);
	assert_non_null(r);
	assert_true(r->withdrawn);
	assert_string_equal(r->node, "n2");
	assert_int_equal(route_count(t), 1);
	assert_int_equal(visits(t), 2);
	assert_int_equal(route_next_epoch(t, &a), 4);

	/* A late relay of the same or an older announcement does not revive it. */
	assert_int_equal(upd(t, a, "n2", 3, false, 3), 0);
	assert_int_equal(upd(t, a, "n2", 2, false, 3), 0);
	assert_int_equal(upd(t, a, "n1", 3, false, 3), 0);
	/* Repeated withdrawal: nothing changes. */
	assert_int_equal(upd(t, a, "n2", 3, true, 3), 0);
	/* A lower-named node's withdrawal at the same epoch loses too. */
	assert_int_equal(upd(t, a, "n1", 3, true, 3), 0);
	assert_null(route_lookup(t, &a));
	assert_int_equal(route_get(t, &a)->changed_ms, 2);

	/* A higher epoch revives it. */
	assert_int_equal(upd(t, a, "n5", 4, false, 4), 1);
	r = route_lookup(t, &a);
	assert_non_null(r);
	assert_string_equal(r->node, "n5");
	assert_false(r->withdrawn);
	assert_int_equal(route_count(t), 2);

	/* A withdrawal from a node that does not hold the route at that epoch loses. */
	assert_int_equal(upd(t, a, "n2", 3, true, 5), 0);
	assert_int_equal(upd(t, a, "n1", 4, true, 5), 0);
	assert_non_null(route_lookup(t, &a));

	/* Withdrawing a VIP never seen leaves a tombstone that blocks older announcements. */
	{
		struct vip c = v6(1, 1);

		assert_int_equal(upd(t, c, "n3", 6, true, 6), 1);
		assert_null(route_lookup(t, &c));
		assert_non_null(route_get(t, &c));
		assert_int_equal(route_count(t), 2);
		assert_int_equal(upd(t, c, "n3", 5, false, 7), 0);
		assert_null(route_lookup(t, &c));
		assert_int_equal(route_next_epoch(t, &c), 7);
	}
	route_table_free(t);
}

static void test_lookup_v4_v6(void **state)
{
	static const char *addrs[] = {
		"198.19.0.1", "198.19.0.2", "198.19.255.254", "10.0.0.1",
		"fd00:19::1", "fd00:19::2", "fd00:19:ffff::1", "::ffff:198.19.0.1",
		"c613:1:100::", /* same first 4 bytes as 198.19.0.1 */
	};
	size_t n = sizeof(addrs) / sizeof(addrs[0]), i;
	struct route_table *t = mktable();
	struct route_entry bad;
	struct vip v;

	for (i = 0; i < n; i++) {
		char node[16];

		snprintf(node, sizeof(node), "node%zu", i);
		assert_int_equal(upd(t, parse(addrs[i]), node, i + 1, false, 0), 1);
	}
	assert_int_equal(route_count(t), n);
	for (i = 0; i < n; i++) {
		const struct route_entry *r;
		char node[16];

		v = parse(addrs[i]);
		snprintf(node, sizeof(node), "node%zu", i);
		r = route_lookup(t, &v);
		assert_non_null(r);
		assert_string_equal(r->node, node);
		assert_int_equal(r->epoch, i + 1);
		assert_int_equal(r->vip.family, v.family);
		assert_memory_equal(r->vip.a, v.a, 16);
	}
	v = parse("198.19.0.3");
	assert_null(route_lookup(t, &v));
	v = parse("fd00:19::3");
	assert_null(route_lookup(t, &v));

	/* An IPv4 VIP is matched on its 4 address bytes, not on bytes past them. */
	v = parse("198.19.0.2");
	v.a[15] = 0x55;
	assert_non_null(route_lookup(t, &v));
	assert_string_equal(route_lookup(t, &v)->node, "node1");

	/* A VIP of no known family is refused and never found. */
	bad = ent(parse("198.19.0.9"), "x", 1, false, 0);
	bad.vip.family = 0;
	assert_int_equal(route_update(t, &bad), -EINVAL);
	assert_null(route_get(t, &bad.vip));
	assert_int_equal(route_next_epoch(t, &bad.vip), 1);
	bad.vip.family = AF_UNIX;
	assert_int_equal(route_update(t, &bad), -EINVAL);
	assert_int_equal(route_count(t), n);
	route_table_free(t);
}

static void test_next_epoch(void **state)
{
	struct route_table *t = mktable();
	struct vip a = v6(0, 0x42), b = v4(0xc6130042);

	assert_int_equal(route_next_epoch(t, &a), 1);
	assert_int_equal(upd(t, a, "n1", 5, false, 1), 1);
	assert_int_equal(route_next_epoch(t, &a), 6);
	/* Other VIPs are unaffected. */
	assert_int_equal(route_next_epoch(t, &b), 1);
	assert_int_equal(upd(t, a, "n9", 3, false, 2), 0);
	assert_int_equal(route_next_epoch(t, &a), 6);
	assert_int_equal(upd(t, a, "n1", 7, true, 3), 1);
	assert_int_equal(route_next_epoch(t, &a), 8);
	/* The tombstone remembers the epoch until it expires. */
	assert_int_equal(route_expire(t, 3), 0);
	assert_int_equal(route_next_epoch(t, &a), 8);
	assert_int_equal(route_expire(t, 4), 1);
	assert_int_equal(route_next_epoch(t, &a), 1);
	assert_int_equal(upd(t, a, "n1", UINT64_MAX, false, 5), 1);
	assert_true(route_next_epoch(t, &a) == UINT64_MAX);
	route_table_free(t);
}

static void test_expire(void **state)
{
	struct route_table *t = mktable();
	struct vip a = v4(1), b = v4(2), c = v4(3), d = v6(0, 4), e = v6(0, 5);

	assert_int_equal(upd(t, a, "n", 1, true, 100), 1);
	assert_int_equal(upd(t, b, "n", 1, true, 200), 1);
	assert_int_equal(upd(t, c, "n", 1, true, 300), 1);
	assert_int_equal(upd(t, d, "n", 1, false, 0), 1);
	assert_int_equal(upd(t, e, "n", 1, false, 50), 1);
	assert_int_equal(route_count(t), 2);
	assert_int_equal(visits(t), 5);

	/* Strictly older than the cutoff; live entries never expire. */
	assert_int_equal(route_expire(t, 200), 1);
	assert_null(route_get(t, &a));
	assert_non_null(route_get(t, &b));
	assert_non_null(route_get(t, &c));
	assert_int_equal(visits(t), 4);
	assert_int_equal(route_count(t), 2);

	/* An expired VIP can be announced afresh at any epoch. */
	assert_int_equal(upd(t, a, "m", 1, false, 400), 1);
	assert_string_equal(route_lookup(t, &a)->node, "m");

	assert_int_equal(route_expire(t, 1000), 2);
	assert_null(route_get(t, &b));
	assert_null(route_get(t, &c));
	assert_non_null(route_lookup(t, &a));
	assert_non_null(route_lookup(t, &d));
	assert_non_null(route_lookup(t, &e));
	assert_int_equal(route_count(t), 3);
	assert_int_equal(visits(t), 3);
	assert_int_equal(route_expire(t, UINT64_MAX), 0);
	route_table_free(t);
}

#define GROW_N4 100000u
#define GROW_N6 30000u

static void grow_check(struct route_table *t, uint32_t i, bool present)
{
	struct vip v = i < GROW_N4 ? v4(0xc6130000 + i) : v6(i, ~i);
	const struct route_entry *r = route_lookup(t, &v);

	if (!present) {
		if (r)
			fail_msg("entry %u still present", i);
		return;
	}
	if (!r)
		fail_msg("entry %u missing", i);
	assert_int_equal(r->epoch, i + 1);
	assert_int_equal(r->vip.family, v.family);
	assert_memory_equal(r->vip.a, v.a, 16);
}

static void test_growth(void **state)
{
	struct route_table *t = mktable();
	uint32_t n = GROW_N4 + GROW_N6, i;

	for (i = 0; i < n; i++) {
		struct vip v = i < GROW_N4 ? v4(0xc6130000 + i) : v6(i, ~i);

		assert_int_equal(upd(t, v, "n", i + 1, false, i), 1);
		/* Spot checks while resizes happen. */
		if ((i & (i + 1)) == 0)
			grow_check(t, i / 2, true);
	}
	assert_int_equal(route_count(t), n);
	assert_int_equal(visits(t), n);
	for (i = 0; i < n; i++)
		grow_check(t, i, true);

	/* Withdraw every third entry and expire them: backward-shift deletion at scale. */
	for (i = 0; i < n; i += 3) {
		struct vip v = i < GROW_N4 ? v4(0xc6130000 + i) : v6(i, ~i);

		assert_int_equal(upd(t, v, "n", i + 1, true, 7), 1);
	}
	assert_int_equal(route_count(t), n - (n + 2) / 3);
	assert_int_equal(visits(t), n);
	assert_int_equal(route_expire(t, 8), (n + 2) / 3);
	assert_int_equal(visits(t), n - (n + 2) / 3);
	for (i = 0; i < n; i++)
		grow_check(t, i, i % 3 != 0);

	/* Withdraw and expire the rest: the table shrinks and stays usable. */
	for (i = 0; i < n; i++) {
		struct vip v = i < GROW_N4 ? v4(0xc6130000 + i) : v6(i, ~i);

		if (i % 3)
			assert_int_equal(upd(t, v, "n", i + 1, true, 9), 1);
	}
	assert_int_equal(route_count(t), 0);
	assert_int_equal(route_expire(t, 10), n - (n + 2) / 3);
	assert_int_equal(visits(t), 0);
	for (i = 0; i < n; i += 97)
		grow_check(t, i, false);
	assert_int_equal(upd(t, v4(5), "n", 1, false, 11), 1);
	assert_non_null(route_lookup(t, &(struct vip){ .family = AF_INET, .a = { 0, 0, 0, 5 } }));
	route_table_free(t);
}

#define FE_N 5000u

struct fe_state {
	unsigned char seen[FE_N];
	size_t tombstones;
	size_t bad;
};

static void fe_cb(const struct route_entry *e, void *arg)
{
	struct fe_state *s = arg;
	uint32_t i;

	memcpy(&i, e->vip.a + 12, 4);
	if (e->vip.family != AF_INET6 || i >= FE_N || e->epoch != i) {
		s->bad++;
		return;
	}
	s->seen[i]++;
	if (e->withdrawn)
		s->tombstones++;
}

static void test_foreach_once(void **state)
{
	struct route_table *t = mktable();
	struct fe_state *s = calloc(1, sizeof(*s));
	uint32_t i;

	assert_non_null(s);
	for (i = 0; i < FE_N; i++) {
		struct route_entry e = ent(v6(0, 0), "n", i, i % 3 == 0, 0);

		memcpy(e.vip.a + 12, &i, 4);
		assert_int_equal(route_update(t, &e), 1);
	}
	route_foreach(t, fe_cb, s);
	assert_int_equal(s->bad, 0);
	for (i = 0; i < FE_N; i++)
		if (s->seen[i] != 1)
			fail_msg("entry %u visited %u times", i, s->seen[i]);
	assert_int_equal(s->tombstones, (FE_N + 2) / 3);
	assert_int_equal(route_count(t), FE_N - (FE_N + 2) / 3);
	free(s);
	route_table_free(t);
}

/* ---- randomized comparison against a linear list ---- */

struct model {
	struct route_entry *e;
	size_t n;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* The rule as the header states it, written independently of route_wins(). */
static bool model_beats(const struct route_entry *a, const struct route_entry *b)
{
	int c;

	if (a->epoch > b->epoch)
		return true;
	if (a->epoch < b->epoch)
		return false;
	c = strcmp(a->node, b->node);
	if (c > 0)
		return true;
	if (c < 0)
		return false;
	return a->withdrawn && !b->withdrawn;
}

static struct route_entry *model_get(struct model *m, const struct vip *v)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->e[i].vip.family == v->family && !memcmp(m->e[i].vip.a, v->a, 16))
			return &m->e[i];
	return NULL;
}

static int model_update(struct model *m, const struct route_entry *e)
{
	struct route_entry *cur = model_get(m, &e->vip);

	if (!cur) {
		m->e[m->n++] = *e;
		return 1;
	}
	if (!model_beats(e, cur))
		return 0;
	*cur = *e;
	return 1;
}

static size_t model_expire(struct model *m, uint64_t cutoff)
{
	size_t i = 0, removed = 0;

	while (i < m->n) {
		if (m->e[i].withdrawn && m->e[i].changed_ms < cutoff) {
			m->e[i] = m->e[--m->n];
			removed++;
		} else {
			i++;
		}
	}
	return removed;
}

static size_t model_live(const struct model *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->n; i++)
		n += !m->e[i].withdrawn;
	return n;
}

static bool same_entry(const struct route_entry *a, const struct route_entry *b)
{
	return a->vip.family == b->vip.family && !memcmp(a->vip.a, b->vip.a, 16) &&
	       a->epoch == b->epoch && !strcmp(a->node, b->node) &&
	       a->withdrawn == b->withdrawn && a->changed_ms == b->changed_ms;
}

struct cmp_state {
	struct model *m;
	unsigned char *seen; /* per model index */
	size_t visited, bad;
};

static void cmp_cb(const struct route_entry *e, void *arg)
{
	struct cmp_state *s = arg;
	struct route_entry *me = model_get(s->m, &e->vip);

	s->visited++;
	if (!me || !same_entry(me, e)) {
		s->bad++;
		return;
	}
	s->seen[me - s->m->e]++;
}

static void check_vip(struct route_table *t, struct model *m, const struct vip *v,
		      uint64_t seed, size_t step)
{
	const struct route_entry *me = model_get(m, v);
	const struct route_entry *g = route_get(t, v), *l = route_lookup(t, v);
	uint64_t ne = me ? me->epoch + 1 : 1;

	if ((me == NULL) != (g == NULL) || (me && !same_entry(me, g)))
		fail_msg("seed %llu step %zu: route_get differs", (unsigned long long)seed, step);
	if ((me && !me->withdrawn) != (l != NULL) || (l && l != g))
		fail_msg("seed %llu step %zu: route_lookup differs", (unsigned long long)seed,
			 step);
	if (route_next_epoch(t, v) != ne)
		fail_msg("seed %llu step %zu: next_epoch %llu, want %llu",
			 (unsigned long long)seed, step,
			 (unsigned long long)route_next_epoch(t, v), (unsigned long long)ne);
}

/* Checks the VIP last touched (if any) and the count; with full, every VIP of the set and
 * a walk of route_foreach too. */
static void check_all(struct route_table *t, struct model *m, const struct vip *set, size_t nv,
		      const struct vip *touched, bool full, uint64_t seed, size_t step)
{
	size_t i;

	if (touched)
		check_vip(t, m, touched, seed, step);
	for (i = 0; full && i < nv; i++)
		check_vip(t, m, &set[i], seed, step);
	if (route_count(t) != model_live(m))
		fail_msg("seed %llu step %zu: count %zu, want %zu", (unsigned long long)seed, step,
			 route_count(t), model_live(m));
	if (full) {
		struct cmp_state s = { .m = m, .seen = calloc(nv + 1, 1) };

		assert_non_null(s.seen);
		route_foreach(t, cmp_cb, &s);
		if (s.bad || s.visited != m->n)
			fail_msg("seed %llu step %zu: foreach visited %zu (%zu bad), want %zu",
				 (unsigned long long)seed, step, s.visited, s.bad, m->n);
		for (i = 0; i < m->n; i++)
			if (s.seen[i] != 1)
				fail_msg("seed %llu step %zu: foreach saw an entry %u times",
					 (unsigned long long)seed, step, s.seen[i]);
		free(s.seen);
	}
}

/* nv VIPs, steps random operations, a full comparison every full_every steps. */
static void random_run(uint64_t seed, size_t nv, size_t steps, size_t full_every)
{
	static const char *nodes[] = { "a", "b", "n1", "n10", "n9", "zz" };
	struct route_table *t = mktable();
	struct model m = { .e = calloc(nv, sizeof(struct route_entry)) };
	struct vip *set = calloc(nv + 1, sizeof(*set));
	uint64_t rs = seed * 0x9e3779b97f4a7c15ULL + 1, now = 1000;
	size_t i, step;
	unsigned wd_pct = 30;

	assert_non_null(m.e);
	assert_non_null(set);
	/* Mixed families; set[nv] is never announced. */
	for (i = 0; i <= nv; i++)
		set[i] = i % 2 ? v4(0xc6130000 + (uint32_t)i) : v6(0, (uint32_t)i);

	for (step = 0; step < steps; step++) {
		uint64_t op = rnd(&rs, 100);
		struct vip *v = NULL;

		/* Phases of mostly-withdrawals and mostly-announcements, so that expiry
		 * empties the table and it grows back: resizes both ways. */
		if (step % 500 == 0)
			wd_pct = (unsigned)rnd(&rs, 100);
		if (op < 5) {
			uint64_t back = rnd(&rs, 4) == 0 ? 0 : rnd(&rs, 200);
			uint64_t cutoff = now > back ? now - back : 0;
			size_t got, want;

			/* Sometimes expire every tombstone at once. */
			if (rnd(&rs, 8) == 0)
				cutoff = now + 1;
			got = route_expire(t, cutoff);
			want = model_expire(&m, cutoff);
			if (got != want)
				fail_msg("seed %llu step %zu: expire %zu, want %zu",
					 (unsigned long long)seed, step, got, want);
		} else {
			const struct route_entry *cur;
			uint64_t next, epoch;
			struct route_entry e;
			int got, want;

			v = &set[rnd(&rs, nv)];
			cur = model_get(&m, v);
			next = cur ? cur->epoch + 1 : 1;
			/* Either a correct announcer (next epoch) or a late or racing relay
			 * at or below it. */
			if (rnd(&rs, 3) == 0)
				epoch = next;
			else
				epoch = next > 3 ? next - rnd(&rs, 4) : 1 + rnd(&rs, next + 1);
			e = ent(*v, nodes[rnd(&rs, 6)], epoch, rnd(&rs, 100) < wd_pct, now);
			got = route_update(t, &e);
			want = model_update(&m, &e);
			if (got != want)
				fail_msg("seed %llu step %zu: update returned %d, want %d",
					 (unsigned long long)seed, step, got, want);
		}
		now += rnd(&rs, 10);
		check_all(t, &m, set, nv + 1, v, step % full_every == 0 || step + 1 == steps, seed,
			  step);
	}
	free(set);
	free(m.e);
	route_table_free(t);
}

static void test_random_small(void **state)
{
	uint64_t seed;

	for (seed = 1; seed <= 8; seed++) {
		random_run(seed, 3, 4000, 1);
		random_run(seed, 11, 8000, 1);
	}
}

static void test_random_medium(void **state)
{
	uint64_t seed;

	for (seed = 11; seed <= 15; seed++)
		random_run(seed, 100, 20000, 8);
}

static void test_random_large(void **state)
{
	uint64_t seed;

	for (seed = 21; seed <= 23; seed++)
		random_run(seed, 1000, 20000, 250);
}

/* A dead node's live entries are marked, nobody else's and no tombstone; an update that
 * wins (the VIP moved meanwhile) replaces the mark; a node back clears it. */
static void test_unreachable(void **state)
{
	struct route_table *t;
	struct route_entry a = ent(v4(0xc6130301), "n3", 4, false, 0);
	struct route_entry b = ent(v4(0xc6130302), "n3", 2, false, 0);
	struct route_entry c = ent(v4(0xc6130303), "n3", 2, true, 0);
	struct route_entry o = ent(v4(0xc6130201), "n2", 1, false, 0);
	struct route_entry moved = ent(v4(0xc6130302), "n2", 3, false, 0);

	assert_int_equal(route_table_new(&t), 0);
	assert_int_equal(route_update(t, &a), 1);
	assert_int_equal(route_update(t, &b), 1);
	assert_int_equal(route_update(t, &c), 1);
	assert_int_equal(route_update(t, &o), 1);
	assert_int_equal(route_set_unreachable(t, "n3", true), 2);
	assert_int_equal(route_set_unreachable(t, "n3", true), 0);
	assert_true(route_lookup(t, &a.vip)->unreachable);
	assert_string_equal(route_state_name(route_lookup(t, &a.vip)), "unreachable");
	assert_false(route_lookup(t, &o.vip)->unreachable);
	assert_string_equal(route_state_name(route_lookup(t, &o.vip)), "up");
	assert_false(route_get(t, &c.vip)->unreachable);
	assert_string_equal(route_state_name(route_get(t, &c.vip)), "withdrawn");
	/* b's VIP moved to n2 while n3 was dead: the newer epoch wins and is live. */
	assert_int_equal(route_update(t, &moved), 1);
	assert_false(route_lookup(t, &b.vip)->unreachable);
	assert_string_equal(route_lookup(t, &b.vip)->node, "n2");
	/* n3 back: its one remaining route is reachable again; the moved one stays n2's. */
	assert_int_equal(route_set_unreachable(t, "n3", false), 1);
	assert_false(route_lookup(t, &a.vip)->unreachable);
	b.epoch = 2;
	assert_int_equal(route_update(t, &b), 0);
	assert_string_equal(route_lookup(t, &b.vip)->node, "n2");
	route_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_wins),
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_lookup_v4_v6),
		cmocka_unit_test(test_next_epoch),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_foreach_once),
		cmocka_unit_test(test_random_small),
		cmocka_unit_test(test_random_medium),
		cmocka_unit_test(test_random_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
