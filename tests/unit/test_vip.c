/* VIPs, VIP prefixes and underlay addresses: what parses, what does not, and the
 * arithmetic on prefixes, checked against a naive bit-by-bit version. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "tunvnet/addr.h"
#include "tunvnet/vip.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct vip V(const char *s)
{
	struct vip v;

	assert_int_equal(vip_parse(s, &v), 0);
	return v;
}

static struct vip_prefix P(const char *s)
{
	struct vip_prefix p;

	assert_int_equal(vip_prefix_parse(s, &p), 0);
	return p;
}

static void test_vip_parse_good(void **state)
{
	static const struct {
		const char *in, *out;
		int family;
	} good[] = {
		{ "198.19.1.10", "198.19.1.10", AF_INET },
		{ "0.0.0.0", "0.0.0.0", AF_INET },
		{ "255.255.255.255", "255.255.255.255", AF_INET },
		{ "198.19.1.10/32", "198.19.1.10", AF_INET },
		{ "fd00:19::1", "fd00:19::1", AF_INET6 },
		{ "FD00:0019:0000:0000:0000:0000:0000:0001", "fd00:19::1", AF_INET6 },
		{ "fd00:19::1/128", "fd00:19::1", AF_INET6 },
		{ "::", "::", AF_INET6 },
		{ "::ffff:1.2.3.4", "::ffff:1.2.3.4", AF_INET6 },
	};
	char buf[VIP_STRLEN];
	struct vip v;
	unsigned i;

	for (i = 0; i < N(good); i++) {
		memset(&v, 0xee, sizeof(v));
		assert_int_equal(vip_parse(good[i].in, &v), 0);
		assert_int_equal(v.family, good[i].family);
		assert_string_equal(vip_fmt(&v, buf), good[i].out);
		if (v.family == AF_INET) {
			static const uint8_t zero[12];

			assert_int_equal(vip_len(&v), 4);
			assert_memory_equal(v.a + 4, zero, sizeof(zero));
		} else {
			assert_int_equal(vip_len(&v), 16);
		}
	}
	v = V("198.19.1.10");
	assert_int_equal(v.a[0], 198);
	assert_int_equal(v.a[1], 19);
	assert_int_equal(v.a[2], 1);
	assert_int_equal(v.a[3], 10);
}

static void test_vip_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", " ", "198.19.1.300", "1.2.3", "1.2.3.4.5", "1.2.3.", ".1.2.3.4",
		"01.2.3.4", "0x1.2.3.4", "1.2.3.-4", " 198.19.1.1", "198.19.1.1 ",
		"198.19.1.1\n", "\t198.19.1.1", "198.19.1.1/24", "198.19.1.1/33",
		"198.19.1.1/", "198.19.1.1/032", "198.19.1.1/+32", "198.19.1.1/32 ",
		"198.19.1.1/128", "fd00::1/64", "fd00::1/", "fd00::1/32", "fd00::1/1280",
		"fd00:::1", "fd00::1::2", "[fd00::1]", "gd00::1", "localhost", "node-a",
		"1.2.3.4:80", "fd00::1%eth0", "198.19.1.1/32/32",
		"1234:5678:9abc:def0:1234:5678:9abc:def0:1",
		"0000000000000000000000000000000000000000000000000000000000000001.1.1.1",
		/* 2^32 + 32 and 2^32 + 128: an unbounded prefix length would wrap to /32 and
		 * /128 in 32 bits */
		"198.19.1.1/4294967328", "fd00::1/4294967424", "198.19.1.1/0032",
	};
	struct vip v, orig;
	unsigned i;

	for (i = 0; i < N(bad); i++) {
		memset(&v, 0x5a, sizeof(v));
		orig = v;
		if (vip_parse(bad[i], &v) != -EINVAL)
			fail_msg("vip_parse accepted \"%s\"", bad[i]);
		/* untouched on failure */
		assert_memory_equal(&v, &orig, sizeof(v));
	}
	assert_int_equal(vip_parse(NULL, &v), -EINVAL);
}

static void test_vip_equal_hash(void **state)
{
	struct vip a = V("198.19.0.1"), b = V("198.19.0.1"), c = V("198.19.0.2");
	struct vip m = V("::ffff:198.19.0.1"), z4 = V("0.0.0.0"), z6 = V("::");
	uint8_t raw[16] = { 198, 19, 0, 1 };
	struct vip r;

	assert_true(vip_equal(&a, &b));
	assert_int_equal(vip_hash(&a), vip_hash(&b));
	assert_false(vip_equal(&a, &c));
	assert_false(vip_equal(&a, &m)); /* a v4-mapped address is another VIP */
	assert_false(vip_equal(&z4, &z6));
	assert_true(vip_hash(&z4) != vip_hash(&z6));
	assert_true(vip_hash(&a) != vip_hash(&c));

	vip_from_bytes(&r, AF_INET, raw);
	assert_true(vip_equal(&r, &a));
	assert_int_equal(vip_hash(&r), vip_hash(&a));
	vip_from_bytes(&r, AF_INET6, V("fd00:19::7").a);
	assert_true(vip_equal(&r, (struct vip[]){ V("fd00:19::7") }));
}

/* A usable table hash spreads a dense pool evenly: bucket counts of 65536 consecutive
 * addresses over 1024 buckets stay near the mean of 64. */
static void test_vip_hash_spread(void **state)
{
	static unsigned buckets[1024];
	struct vip_prefix p4 = P("198.19.0.0/16"), p6 = P("fd00:19::/32");
	const struct vip_prefix *ps[] = { &p4, &p6 };
	unsigned i, k, lo, hi;
	struct vip v;

	for (k = 0; k < N(ps); k++) {
		memset(buckets, 0, sizeof(buckets));
		for (i = 0; i < 65536; i++) {
			assert_int_equal(vip_prefix_nth(ps[k], i, &v), 0);
			buckets[vip_hash(&v) & 1023]++;
		}
		lo = hi = buckets[0];
		for (i = 0; i < 1024; i++) {
			lo = buckets[i] < lo ? buckets[i] : lo;
			hi = buckets[i] > hi ? buckets[i] : hi;
		}
		assert_in_range(lo, 30, 64);
		assert_in_range(hi, 64, 110);
	}
}

static void test_prefix_parse(void **state)
{
	static const char *const good[] = {
		"198.19.0.0/16", "198.19.1.0/24", "0.0.0.0/0", "198.19.1.1/32", "198.19.1.128/25",
		"fd00:19::/32", "::/0", "fd00:19::1/128", "fd00:19:0:8000::/49",
	};
	static const char *const bad[] = {
		"198.19.1.1/24", "198.19.1.0/33", "198.19.1.0", "198.19.1.0/", "198.19.1.0/-1",
		"198.19.0.0/4294967312", "fd00:19::/4294967328", /* 2^32 + 16, 2^32 + 32 */
		"198.19.1.0/024", "198.19.1.0/24 ", " 198.19.1.0/24", "198.19.1.128/24",
		"198.19.1.1/31", "1.2.3/24", "fd00:19::1/64", "fd00:19::/129",
		"fd00:19:0:8000::/48", "", "/24", "fd00::/0x20", "198.19.0.0/16/16",
	};
	char buf[VIP_STRLEN + 4];
	struct vip_prefix p;
	unsigned i;

	for (i = 0; i < N(good); i++) {
		p = P(good[i]);
		assert_string_equal(vip_prefix_fmt(&p, buf), good[i]);
	}
	for (i = 0; i < N(bad); i++)
		if (vip_prefix_parse(bad[i], &p) != -EINVAL)
			fail_msg("vip_prefix_parse accepted \"%s\"", bad[i]);
	assert_int_equal(vip_prefix_parse(NULL, &p), -EINVAL);

	p = P("198.19.0.0/16");
	assert_int_equal(p.len, 16);
	assert_int_equal(p.addr.family, AF_INET);
	p = P("fd00:19::/32");
	assert_int_equal(p.len, 32);
	assert_int_equal(p.addr.family, AF_INET6);
}

static void test_prefix_contains(void **state)
{
	struct vip_prefix p = P("198.19.0.0/16"), q = P("198.19.1.128/25"), all = P("0.0.0.0/0");
	struct vip_prefix p6 = P("fd00:19::/32"), h = P("198.19.1.1/32");

	assert_true(vip_prefix_contains(&p, (struct vip[]){ V("198.19.0.0") }));
	assert_true(vip_prefix_contains(&p, (struct vip[]){ V("198.19.255.255") }));
	assert_false(vip_prefix_contains(&p, (struct vip[]){ V("198.18.255.255") }));
	assert_false(vip_prefix_contains(&p, (struct vip[]){ V("198.20.0.0") }));
	assert_true(vip_prefix_contains(&q, (struct vip[]){ V("198.19.1.200") }));
	assert_false(vip_prefix_contains(&q, (struct vip[]){ V("198.19.1.127") }));
	assert_true(vip_prefix_contains(&all, (struct vip[]){ V("1.2.3.4") }));
	assert_false(vip_prefix_contains(&all, (struct vip[]){ V("fd00::1") }));
	assert_true(vip_prefix_contains(&h, (struct vip[]){ V("198.19.1.1") }));
	assert_false(vip_prefix_contains(&h, (struct vip[]){ V("198.19.1.0") }));
	assert_true(vip_prefix_contains(&p6, (struct vip[]){ V("fd00:19:ffff::1") }));
	assert_false(vip_prefix_contains(&p6, (struct vip[]){ V("fd00:1a::1") }));
	/* families never mix, even for the v4-mapped form */
	assert_false(vip_prefix_contains(&p6, (struct vip[]){ V("198.19.0.1") }));
	assert_false(vip_prefix_contains(&p, (struct vip[]){ V("::ffff:198.19.0.1") }));
}

/* Naive version: compare bit by bit. */
static bool naive_contains(const struct vip_prefix *p, const struct vip *v)
{
	unsigned i;

	if (p->addr.family != v->family)
		return false;
	for (i = 0; i < p->len; i++)
		if (((p->addr.a[i / 8] >> (7 - i % 8)) ^ (v->a[i / 8] >> (7 - i % 8))) & 1)
			return false;
	return true;
}

static void test_prefix_contains_random(void **state)
{
	struct vip_prefix p;
	struct vip v;
	unsigned i, b, bits, hits = 0;

	srand(1);
	for (i = 0; i < 20000; i++) {
		memset(&p, 0, sizeof(p));
		memset(&v, 0, sizeof(v));
		p.addr.family = v.family = (i & 1) ? AF_INET6 : AF_INET;
		bits = p.addr.family == AF_INET ? 32 : 128;
		p.len = (uint8_t)(rand() % (bits + 1));
		for (b = 0; b < bits / 8; b++)
			p.addr.a[b] = v.a[b] = (uint8_t)rand();
		/* flip one random bit of v, often inside the prefix, often outside */
		b = (unsigned)rand() % bits;
		v.a[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
		/* clear the prefix's host bits so it is a valid prefix */
		for (b = p.len; b < bits; b++)
			p.addr.a[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		assert_int_equal(vip_prefix_contains(&p, &v), naive_contains(&p, &v));
		hits += naive_contains(&p, &v);
	}
	/* both outcomes were exercised */
	assert_in_range(hits, 1000, 19000);
}

static void test_prefix_nth(void **state)
{
	struct vip_prefix p = P("198.19.0.0/16"), h = P("198.19.1.1/32"), q = P("198.19.1.128/25");
	struct vip_prefix p6 = P("fd00:19::/32"), h6 = P("fd00:19::1/128"), w6 = P("fd00::/16");
	struct vip_prefix all = P("0.0.0.0/0");
	char buf[VIP_STRLEN];
	struct vip v;

	assert_int_equal(vip_prefix_nth(&p, 0, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "198.19.0.0");
	assert_int_equal(vip_prefix_nth(&p, 1, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "198.19.0.1");
	assert_int_equal(vip_prefix_nth(&p, 258, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "198.19.1.2");
	assert_int_equal(vip_prefix_nth(&p, 65535, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "198.19.255.255");
	assert_int_equal(vip_prefix_nth(&p, 65536, &v), -ERANGE);
	assert_int_equal(vip_prefix_nth(&p, UINT64_MAX, &v), -ERANGE);

	assert_int_equal(vip_prefix_nth(&q, 127, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "198.19.1.255");
	assert_int_equal(vip_prefix_nth(&q, 128, &v), -ERANGE);

	assert_int_equal(vip_prefix_nth(&h, 0, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "198.19.1.1");
	assert_int_equal(vip_prefix_nth(&h, 1, &v), -ERANGE);

	assert_int_equal(vip_prefix_nth(&all, 0xffffffffu, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "255.255.255.255");
	assert_int_equal(vip_prefix_nth(&all, 0x100000000ull, &v), -ERANGE);

	assert_int_equal(vip_prefix_nth(&p6, 0x1234, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "fd00:19::1234");
	assert_int_equal(vip_prefix_nth(&p6, UINT64_MAX, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "fd00:19::ffff:ffff:ffff:ffff");
	assert_true(vip_prefix_contains(&p6, &v));
	assert_int_equal(vip_prefix_nth(&w6, 0x10000, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "fd00::1:0");
	assert_int_equal(vip_prefix_nth(&h6, 0, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "fd00:19::1");
	assert_int_equal(vip_prefix_nth(&h6, 1, &v), -ERANGE);

	/* a /64 has exactly 2^64 addresses: every u64 is in range */
	p6 = P("fd00:19::/64");
	assert_int_equal(vip_prefix_nth(&p6, UINT64_MAX, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "fd00:19::ffff:ffff:ffff:ffff");
	p6 = P("fd00:19::/65");
	assert_int_equal(vip_prefix_nth(&p6, (1ull << 63) - 1, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "fd00:19::7fff:ffff:ffff:ffff");
	assert_int_equal(vip_prefix_nth(&p6, 1ull << 63, &v), -ERANGE);
}

/* The pool allocator, against a naive version: the free addresses it hands out, in
 * order, never include the prefix address or the IPv4 broadcast address. */
struct taken_set {
	struct vip v[600];
	int n;
};

static bool in_set(const struct vip *v, void *arg)
{
	struct taken_set *t = arg;

	for (int i = 0; i < t->n; i++)
		if (vip_equal(&t->v[i], v))
			return true;
	return false;
}

static void drain(const char *prefix, const char *const *want, int nwant)
{
	struct vip_prefix p;
	struct taken_set *t = calloc(1, sizeof(*t));
	char buf[VIP_STRLEN];
	struct vip v;
	int i;

	assert_non_null(t);
	assert_int_equal(vip_prefix_parse(prefix, &p), 0);
	for (i = 0; i < nwant; i++) {
		assert_int_equal(vip_prefix_first_free(&p, in_set, t, 65536, &v), 0);
		assert_string_equal(vip_fmt(&v, buf), want[i]);
		t->v[t->n++] = v;
	}
	assert_int_equal(vip_prefix_first_free(&p, in_set, t, 65536, &v), -ENOSPC);
	free(t);
}

static void test_pool_allocator(void **state)
{
	static const char *const w30[] = { "198.19.1.1", "198.19.1.2" };
	static const char *const w126[] = { "fd00:19:1::1", "fd00:19:1::2", "fd00:19:1::3" };
	static const char *const w31[] = { "198.19.1.1" };
	struct vip_prefix p;
	struct taken_set *t = calloc(1, sizeof(*t));
	char buf[VIP_STRLEN];
	struct vip v;
	int i;

	drain("198.19.1.0/30", w30, 2);
	drain("fd00:19:1::/126", w126, 3);
	/* a /31: the prefix address is still never handed out */
	drain("198.19.1.0/31", w31, 1);

	/* a /24 yields .1 .. .254, in order, then nothing: never .0 or .255 */
	assert_non_null(t);
	assert_int_equal(vip_prefix_parse("198.19.1.0/24", &p), 0);
	for (i = 1; i <= 254; i++) {
		assert_int_equal(vip_prefix_first_free(&p, in_set, t, 65536, &v), 0);
		assert_int_equal(v.a[3], i);
		t->v[t->n++] = v;
	}
	assert_int_equal(vip_prefix_first_free(&p, in_set, t, 65536, &v), -ENOSPC);
	/* a freed address is the next one handed out */
	t->v[41] = t->v[--t->n];
	assert_int_equal(vip_prefix_first_free(&p, in_set, t, 65536, &v), 0);
	assert_string_equal(vip_fmt(&v, buf), "198.19.1.42");
	/* the scan limit bounds the search */
	t->n = 0;
	assert_int_equal(vip_prefix_first_free(&p, in_set, t, 0, &v), -ENOSPC);
	free(t);

	/* what an explicit attach is checked against */
	assert_int_equal(vip_prefix_parse("198.19.1.0/24", &p), 0);
	assert_int_equal(vip_parse("198.19.1.0", &v), 0);
	assert_false(vip_prefix_is_host(&p, &v));
	assert_int_equal(vip_parse("198.19.1.255", &v), 0);
	assert_false(vip_prefix_is_host(&p, &v));
	assert_int_equal(vip_parse("198.19.1.254", &v), 0);
	assert_true(vip_prefix_is_host(&p, &v));
	assert_int_equal(vip_parse("198.19.2.1", &v), 0);
	assert_false(vip_prefix_is_host(&p, &v));
	assert_int_equal(vip_prefix_parse("198.19.0.0/16", &p), 0);
	assert_int_equal(vip_parse("198.19.1.0", &v), 0);
	assert_true(vip_prefix_is_host(&p, &v)); /* .0 inside a /16 is an ordinary host */
	assert_int_equal(vip_parse("198.19.255.255", &v), 0);
	assert_false(vip_prefix_is_host(&p, &v));
	assert_int_equal(vip_prefix_parse("fd00:19:1::/64", &p), 0);
	assert_int_equal(vip_parse("fd00:19:1::", &v), 0);
	assert_false(vip_prefix_is_host(&p, &v));
	assert_int_equal(vip_parse("fd00:19:1::ffff:ffff:ffff:ffff", &v), 0);
	assert_true(vip_prefix_is_host(&p, &v)); /* IPv6 has no broadcast address */
}

static void test_vip_fmt_unknown(void **state)
{
	char buf[VIP_STRLEN];
	struct vip v;

	memset(&v, 0, sizeof(v));
	assert_string_equal(vip_fmt(&v, buf), "?");
	assert_int_equal(vip_len(&v), 0);
}

static void check_addr(const char *in, unsigned dport, const char *want)
{
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN];

	if (addr_parse(in, dport, &ss) != 0)
		fail_msg("addr_parse rejected \"%s\"", in);
	assert_string_equal(addr_fmt(&ss, buf), want);
}

static void test_addr_parse_good(void **state)
{
	struct sockaddr_storage ss;

	check_addr("198.18.0.1:7000", 9, "198.18.0.1:7000");
	check_addr("198.18.0.1", 7000, "198.18.0.1:7000");
	check_addr("198.18.0.1:1", 7000, "198.18.0.1:1");
	check_addr("198.18.0.1:65535", 7000, "198.18.0.1:65535");
	check_addr("[fd00::1]:7000", 9, "[fd00::1]:7000");
	check_addr("[fd00::1]", 7001, "[fd00::1]:7001");
	check_addr("fd00::1", 7002, "[fd00::1]:7002");
	check_addr("[::ffff:1.2.3.4]:80", 9, "[::ffff:1.2.3.4]:80");
	check_addr("127.0.0.1:00080", 9, "127.0.0.1:80");

	assert_int_equal(addr_parse("198.18.0.1:7000", 0, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7000);
	assert_int_equal(addr_parse("[fd00::1]:7000", 0, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(addr_len(&ss), sizeof(struct sockaddr_in6));
}

static void test_addr_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", ":7000", "198.18.0.1:", "198.18.0.1:0", "198.18.0.1:65536", "198.18.0.1:99999",
		"198.18.0.1:123456", "198.18.0.1:-1", "198.18.0.1:+80", "198.18.0.1:80 ",
		"198.18.0.1:80x", "198.18.0.1:80:81", " 198.18.0.1:80", "198.18.0.1 :80",
		"198.18.0.1: 80", "198.18.0.300:80", "1.2.3:80", "1.2.3", "localhost:80",
		"localhost", "example.com:7000", "[fd00::1]:", "[fd00::1]:0", "[fd00::1]:65536",
		"[fd00::1]x", "[fd00::1]:80x", "[fd00::1", "fd00::1]:80", "[198.18.0.1]:80",
		"[]:80", "[fd00::1]]:80", "[[fd00::1]]:80", "fd00::g", "[fd00::1]:0x50",
		"198.18.0.1:0x50",
	};
	struct sockaddr_storage ss, orig;
	unsigned i;

	for (i = 0; i < N(bad); i++) {
		memset(&ss, 0x5a, sizeof(ss));
		orig = ss;
		if (addr_parse(bad[i], 7000, &ss) != -EINVAL)
			fail_msg("addr_parse accepted \"%s\"", bad[i]);
		assert_memory_equal(&ss, &orig, sizeof(ss));
	}
	assert_int_equal(addr_parse(NULL, 7000, &ss), -EINVAL);
	assert_int_equal(addr_parse("198.18.0.1", 65536, &ss), -EINVAL);
}

static void test_addr_equal(void **state)
{
	struct sockaddr_storage a, b;
	char buf[ADDR_STRLEN];

	assert_int_equal(addr_parse("198.18.0.1:7000", 0, &a), 0);
	assert_int_equal(addr_parse("198.18.0.1", 7000, &b), 0);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_parse("198.18.0.1:7001", 0, &b), 0);
	assert_false(addr_equal(&a, &b));
	assert_int_equal(addr_parse("198.18.0.2:7000", 0, &b), 0);
	assert_false(addr_equal(&a, &b));
	assert_int_equal(addr_parse("[::ffff:198.18.0.1]:7000", 0, &b), 0);
	assert_false(addr_equal(&a, &b));

	assert_int_equal(addr_parse("[fd00::1]:7000", 0, &a), 0);
	assert_int_equal(addr_parse("fd00:0::0:1", 7000, &b), 0);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_parse("[fd00::2]:7000", 0, &b), 0);
	assert_false(addr_equal(&a, &b));

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_len(&a), 0);
	assert_string_equal(addr_fmt(&a, buf), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vip_parse_good),
		cmocka_unit_test(test_vip_parse_bad),
		cmocka_unit_test(test_vip_equal_hash),
		cmocka_unit_test(test_vip_hash_spread),
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_prefix_contains),
		cmocka_unit_test(test_prefix_contains_random),
		cmocka_unit_test(test_prefix_nth),
		cmocka_unit_test(test_pool_allocator),
		cmocka_unit_test(test_vip_fmt_unknown),
		cmocka_unit_test(test_addr_parse_good),
		cmocka_unit_test(test_addr_parse_bad),
		cmocka_unit_test(test_addr_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
