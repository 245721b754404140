/* Peer protocol bodies: round trips, golden bytes, and every malformed input the
 * decoders must refuse (truncation at each length, trailing bytes, bad names, unknown
 * families and flags, counts over the caller's bound). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "tunvnet/msg.h"

static void sa4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void sa6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
}

static void assert_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	assert_int_equal(a->ss_family, b->ss_family);
	if (a->ss_family == AF_INET)
		assert_memory_equal(a, b, sizeof(struct sockaddr_in));
	else if (a->ss_family == AF_INET6)
		assert_memory_equal(a, b, sizeof(struct sockaddr_in6));
}

static void route(struct route_entry *e, const char *vip, uint64_t epoch, const char *node,
		  bool withdrawn)
{
	uint8_t b[16];
	int fam = strchr(vip, ':') ? AF_INET6 : AF_INET;

	memset(e, 0, sizeof(*e));
	assert_int_equal(inet_pton(fam, vip, b), 1);
	vip_from_bytes(&e->vip, fam, b);
	e->epoch = epoch;
	snprintf(e->node, sizeof(e->node), "%s", node);
	e->withdrawn = withdrawn;
	e->changed_ms = 12345; /* local only: must not survive the wire */
}

static void fill_hello(struct msg_hello *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->flags = MSG_HELLO_SEALED;
	m->substrates = 0x5;
}

/* Every proper prefix of a valid encoding must be refused. */
static void assert_hello_truncations_rejected(const uint8_t *b, size_t n)
{
	struct msg_hello m;
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(msg_hello_decode(b, i, &m), -EBADMSG);
}

static void hello_round_trip(const struct msg_hello *in)
{
	uint8_t b[256];
	struct msg_hello out;
	int n;

	n = msg_hello_encode(in, b, sizeof(b));
	assert_true(n > 0);
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), 0);
	assert_string_equal(out.name, in->name);
	assert_int_equal(out.flags, in->flags);
	assert_int_equal(out.substrates, in->substrates);
	assert_sa_equal(&out.listen, &in->listen);
	assert_hello_truncations_rejected(b, (size_t)n);
	/* one trailing byte */
	b[n] = 0;
	assert_int_equal(msg_hello_decode(b, (size_t)n + 1, &out), -EBADMSG);
	/* exactly enough room encodes, one byte less does not */
	assert_int_equal(msg_hello_encode(in, b, (size_t)n), n);
	assert_int_equal(msg_hello_encode(in, b, (size_t)n - 1), -EMSGSIZE);
}

static void test_hello_round_trips(void **state)
{
	struct msg_hello m;

	fill_hello(&m, "node-a");
	sa4(&m.listen, "198.18.0.1", 7000);
	hello_round_trip(&m);

	fill_hello(&m, "n");
	sa6(&m.listen, "fd00:18::1", 65535);
	m.flags = 0;
	hello_round_trip(&m);

	fill_hello(&m, "a.very_long-name.0123456789abcd"); /* 31 bytes: the maximum */
	assert_int_equal(strlen(m.name), NODE_NAME_MAX);
	m.listen.ss_family = AF_UNSPEC;
	hello_round_trip(&m);
}

static void test_hello_golden(void **state)
{
	static const uint8_t want[] = { 2, 'n', '1', 4, 198, 18, 0, 1, 0x1b, 0x58,
					MSG_HELLO_SEALED, 0, 0, 0, 5 };
	struct msg_hello m, out;
	uint8_t b[128];
	int n;

	fill_hello(&m, "n1");
	sa4(&m.listen, "198.18.0.1", 7000);
	n = msg_hello_encode(&m, b, sizeof(b));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));

	/* no listen address: family 0, port 0 */
	m.listen.ss_family = AF_UNSPEC;
	n = msg_hello_encode(&m, b, sizeof(b));
	assert_int_equal(n, 3 + 3 + 5);
	assert_int_equal(b[3], 0);
	assert_int_equal(b[4], 0);
	assert_int_equal(b[5], 0);
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), 0);
	assert_int_equal(out.listen.ss_family, AF_UNSPEC);
	/* family 0 with a port is not a valid encoding */
	b[5] = 1;
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
}

static void test_hello_bad(void **state)
{
	struct msg_hello m, out;
	uint8_t b[128];
	int n;

	fill_hello(&m, "node-a");
	sa4(&m.listen, "198.18.0.1", 7000);
	n = msg_hello_encode(&m, b, sizeof(b));
	assert_true(n > 0);

	/* unknown families */
	b[1 + 6] = 5;
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[1 + 6] = AF_INET6; /* the host's value, not the wire's */
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[1 + 6] = 4;
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), 0);

	/* unknown flags are refused (a new flag needs a new version) */
	b[1 + 6 + 7] = 0x02;
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[1 + 6 + 7] = MSG_HELLO_SEALED;
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), 0);

	/* bad characters in the name */
	b[3] = ' ';
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[3] = '\0';
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[3] = '/';
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[3] = 0xc3;
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[3] = 'd';

	/* empty name */
	b[0] = 0;
	assert_int_equal(msg_hello_decode(b, (size_t)n, &out), -EBADMSG);
	b[0] = 6;

	/* name over NODE_NAME_MAX, even with enough bytes behind the length */
	{
		uint8_t big[1 + 32 + 3 + 5];

		memset(big, 'a', sizeof(big));
		big[0] = 32;
		memset(big + 1 + 32, 0, 3 + 5);
		assert_int_equal(msg_hello_decode(big, sizeof(big), &out), -EBADMSG);
		/* 31 bytes of name is the maximum: valid */
		big[0] = 31;
		memset(big + 1 + 31, 0, 3 + 5);
		assert_int_equal(msg_hello_decode(big, sizeof(big) - 1, &out), 0);
		assert_int_equal(strlen(out.name), 31);
	}

	/* the encoder refuses what the decoder would */
	fill_hello(&m, "bad name");
	assert_int_equal(msg_hello_encode(&m, b, sizeof(b)), -EINVAL);
	fill_hello(&m, "");
	assert_int_equal(msg_hello_encode(&m, b, sizeof(b)), -EINVAL);
	fill_hello(&m, "ok");
	m.listen.ss_family = AF_UNIX;
	assert_int_equal(msg_hello_encode(&m, b, sizeof(b)), -EINVAL);
	fill_hello(&m, "ok");
	m.flags = 0x80;
	assert_int_equal(msg_hello_encode(&m, b, sizeof(b)), -EINVAL);
}

static void test_link_open_ok(void **state)
{
	struct msg_link_open m, out;
	struct msg_link_ok k, kout;
	uint8_t b[128];
	int n;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "n2");
	m.link = 0x0102030405060708ULL;
	m.substrate = 0;
	m.flags = MSG_HELLO_SEALED;
	for (int i = 0; i < MSG_MAC_BYTES; i++)
		m.mac[i] = (uint8_t)i;
	n = msg_link_open_encode(&m, b, sizeof(b));
	assert_int_equal(n, 3 + 8 + 1 + 1 + MSG_MAC_BYTES);
	assert_int_equal(b[3], 1); /* big-endian link number */
	assert_int_equal(b[10], 8);
	assert_int_equal(msg_link_open_decode(b, (size_t)n, &out), 0);
	assert_string_equal(out.name, "n2");
	assert_true(out.link == m.link);
	assert_memory_equal(out.mac, m.mac, MSG_MAC_BYTES);
	for (int i = 0; i < n; i++)
		assert_int_equal(msg_link_open_decode(b, (size_t)i, &out), -EBADMSG);
	assert_int_equal(msg_link_open_decode(b, (size_t)n + 1, &out), -EBADMSG);
	b[12] = 0x40; /* unknown flag */
	assert_int_equal(msg_link_open_decode(b, (size_t)n, &out), -EBADMSG);

	memset(&k, 0, sizeof(k));
	k.link = 7;
	k.mac[31] = 0xaa;
	n = msg_link_ok_encode(&k, b, sizeof(b));
	assert_int_equal(n, 8 + MSG_MAC_BYTES);
	assert_int_equal(msg_link_ok_decode(b, (size_t)n, &kout), 0);
	assert_true(kout.link == 7 && kout.mac[31] == 0xaa);
	assert_int_equal(msg_link_ok_decode(b, (size_t)n - 1, &kout), -EBADMSG);
	assert_int_equal(msg_link_ok_decode(b, (size_t)n + 1, &kout), -EBADMSG);
	assert_int_equal(msg_link_ok_encode(&k, b, (size_t)n - 1), -EMSGSIZE);
}

static void test_substrate(void **state)
{
	static struct msg_substrate m, out;
	uint8_t b[MSG_SUBSTRATE_BLOB_MAX + 32];
	int n;

	memset(&m, 0, sizeof(m));
	m.substrate = 2;
	m.link = 9;
	m.len = 5;
	memcpy(m.blob, "qpgid", 5);
	n = msg_substrate_encode(&m, b, sizeof(b));
	assert_int_equal(n, 1 + 8 + 2 + 5);
	assert_int_equal(msg_substrate_decode(b, (size_t)n, &out), 0);
	assert_int_equal(out.substrate, 2);
	assert_true(out.link == 9 && out.len == 5);
	assert_memory_equal(out.blob, "qpgid", 5);
	for (int i = 0; i < n; i++)
		assert_int_equal(msg_substrate_decode(b, (size_t)i, &out), -EBADMSG);
	assert_int_equal(msg_substrate_decode(b, (size_t)n + 1, &out), -EBADMSG);
	b[9] = 0xff; /* a blob longer than allowed */
	assert_int_equal(msg_substrate_decode(b, (size_t)n, &out), -EBADMSG);
	m.len = MSG_SUBSTRATE_BLOB_MAX + 1;
	assert_int_equal(msg_substrate_encode(&m, b, sizeof(b)), -EINVAL);
}

static void test_name_valid(void **state)
{
	char name[64];

	assert_true(msg_name_valid("a"));
	assert_true(msg_name_valid("node-01.rack_3"));
	assert_true(msg_name_valid("ABC.xyz-0_9"));
	memset(name, 'x', sizeof(name));
	name[NODE_NAME_MAX] = '\0';
	assert_true(msg_name_valid(name));
	name[NODE_NAME_MAX] = 'x';
	name[NODE_NAME_MAX + 1] = '\0';
	assert_false(msg_name_valid(name));
	assert_false(msg_name_valid(""));
	assert_false(msg_name_valid(NULL));
	assert_false(msg_name_valid("a b"));
	assert_false(msg_name_valid("a/b"));
	assert_false(msg_name_valid("a:b"));
	assert_false(msg_name_valid("caf\xc3\xa9"));
	assert_false(msg_name_valid("tab\t"));
	assert_false(msg_name_valid("new\nline"));
}

static void fill_members(struct msg_member *v)
{
	memset(v, 0, 3 * sizeof(*v));
	snprintf(v[0].name, sizeof(v[0].name), "node-a");
	sa4(&v[0].addr, "198.18.0.1", 7000);
	snprintf(v[1].name, sizeof(v[1].name), "node-b");
	sa6(&v[1].addr, "fd00:18::2", 7001);
	snprintf(v[2].name, sizeof(v[2].name), "client.only");
	v[2].addr.ss_family = AF_UNSPEC;
}

static void test_peers_round_trip(void **state)
{
	struct msg_member in[3], out[4];
	uint8_t b[256];
	size_t n, i;
	int len;

	fill_members(in);
	len = msg_peers_encode(in, 3, b, sizeof(b));
	assert_int_equal(len, 2 + (1 + 6 + 1 + 4 + 2) + (1 + 6 + 1 + 16 + 2) + (1 + 11 + 1 + 2));
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 3);
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 4, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(out[i].name, in[i].name);
		assert_sa_equal(&out[i].addr, &in[i].addr);
	}
	/* exactly max fits */
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 3, &n), 0);

	for (i = 0; i < (size_t)len; i++)
		assert_int_equal(msg_peers_decode(b, i, out, 4, &n), -EBADMSG);
	b[len] = 0;
	assert_int_equal(msg_peers_decode(b, (size_t)len + 1, out, 4, &n), -EBADMSG);

	assert_int_equal(msg_peers_encode(in, 3, b, (size_t)len - 1), -EMSGSIZE);
}

static void test_peers_empty(void **state)
{
	uint8_t b[4];
	size_t n = 99;
	int len;

	len = msg_peers_encode(NULL, 0, b, sizeof(b));
	assert_int_equal(len, 2);
	assert_int_equal(msg_peers_decode(b, 2, NULL, 0, &n), 0);
	assert_int_equal(n, 0);
}

static void test_peers_bad(void **state)
{
	struct msg_member in[3], out[4];
	uint8_t b[256];
	size_t n;
	int len;

	fill_members(in);
	len = msg_peers_encode(in, 3, b, sizeof(b));
	assert_true(len > 0);

	/* more members than the caller has room for */
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 2, &n), -E2BIG);
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 0, &n), -E2BIG);

	/* a count the body cannot hold */
	b[0] = 0xff;
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 4, &n), -EBADMSG);
	b[0] = 0;
	b[1] = 2; /* fewer than encoded: the third is trailing garbage */
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 4, &n), -EBADMSG);
	b[1] = 4; /* more than encoded */
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 4, &n), -EBADMSG);
	b[1] = 3;

	/* bad name in the second member */
	b[2 + 14 + 1] = '*';
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 4, &n), -EBADMSG);
	b[2 + 14 + 1] = 'n';
	/* unknown family in the first member */
	b[2 + 7] = 7;
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 4, &n), -EBADMSG);
	b[2 + 7] = 4;
	assert_int_equal(msg_peers_decode(b, (size_t)len, out, 4, &n), 0);

	/* encoder refuses a bad name */
	snprintf(in[1].name, sizeof(in[1].name), "no spaces");
	assert_int_equal(msg_peers_encode(in, 3, b, sizeof(b)), -EINVAL);
}

static void assert_route_equal(const struct route_entry *a, const struct route_entry *b)
{
	assert_true(vip_equal(&a->vip, &b->vip));
	assert_true(a->epoch == b->epoch);
	assert_string_equal(a->node, b->node);
	assert_int_equal(a->withdrawn, b->withdrawn);
}

static void test_routes_round_trip(void **state)
{
	struct route_entry in[3], out[3];
	uint8_t b[512];
	size_t n, i, sum = 2;
	int len;

	route(&in[0], "198.19.1.10", 1, "node-a", false);
	route(&in[1], "fd00:19::a", 0xfedcba9876543210ull, "node-b", false);
	route(&in[2], "198.19.7.7", 42, "n", true);
	for (i = 0; i < 3; i++)
		sum += msg_route_size(&in[i]);
	assert_int_equal(msg_route_size(&in[0]), 1 + 4 + 8 + 1 + 1 + 6);
	assert_int_equal(msg_route_size(&in[1]), 1 + 16 + 8 + 1 + 1 + 6);

	len = msg_routes_encode(in, 3, b, sizeof(b));
	assert_int_equal(len, sum);
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 3, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++) {
		assert_route_equal(&out[i], &in[i]);
		assert_true(out[i].changed_ms == 0);
	}

	for (i = 0; i < (size_t)len; i++)
		assert_int_equal(msg_routes_decode(b, i, out, 3, &n), -EBADMSG);
	b[len] = 0;
	assert_int_equal(msg_routes_decode(b, (size_t)len + 1, out, 3, &n), -EBADMSG);
	assert_int_equal(msg_routes_encode(in, 3, b, (size_t)len - 1), -EMSGSIZE);
	assert_int_equal(msg_routes_encode(in, 3, b, (size_t)len), len);
}

static void test_routes_golden(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x01,                                     /* count */
		0x04, 198, 19, 1, 10,                           /* family, address */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, /* epoch 258 */
		0x01,                                           /* withdrawn */
		0x02, 'n', '1',                                 /* node */
	};
	struct route_entry e, out;
	uint8_t b[64];
	size_t n;

	route(&e, "198.19.1.10", 258, "n1", true);
	assert_int_equal(msg_routes_encode(&e, 1, b, sizeof(b)), sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(msg_routes_decode(want, sizeof(want), &out, 1, &n), 0);
	assert_route_equal(&out, &e);
	assert_true(out.withdrawn);
}

static void test_routes_bad(void **state)
{
	struct route_entry in[2], out[2];
	uint8_t b[128];
	size_t n;
	int len;

	route(&in[0], "198.19.1.10", 5, "node-a", false);
	route(&in[1], "fd00:19::1", 6, "node-b", true);
	len = msg_routes_encode(in, 2, b, sizeof(b));
	assert_true(len > 0);
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), 0);

	/* count over max */
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 1, &n), -E2BIG);

	/* family 0 is not a VIP, nor is any other value */
	b[2] = 0;
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), -EBADMSG);
	b[2] = 5;
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), -EBADMSG);
	b[2] = 4;

	/* unknown flag bits */
	b[2 + 1 + 4 + 8] = 0x02;
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), -EBADMSG);
	b[2 + 1 + 4 + 8] = 0x81;
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), -EBADMSG);
	b[2 + 1 + 4 + 8] = 0;

	/* empty node name; bad character */
	b[2 + 1 + 4 + 8 + 1] = 0;
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), -EBADMSG);
	b[2 + 1 + 4 + 8 + 1] = 6;
	b[2 + 1 + 4 + 8 + 2] = '@';
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), -EBADMSG);
	b[2 + 1 + 4 + 8 + 2] = 'n';
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, 2, &n), 0);

	/* node name longer than ROUTE_NODE_MAX */
	{
		uint8_t big[2 + 1 + 4 + 8 + 1 + 1 + ROUTE_NODE_MAX + 1];
		size_t off = 2 + 1 + 4 + 8 + 1;

		memset(big, 0, sizeof(big));
		big[1] = 1;
		big[2] = 4;
		big[off] = ROUTE_NODE_MAX + 1;
		memset(big + off + 1, 'x', ROUTE_NODE_MAX + 1);
		assert_int_equal(msg_routes_decode(big, sizeof(big), out, 2, &n), -EBADMSG);
		big[off] = ROUTE_NODE_MAX;
		assert_int_equal(msg_routes_decode(big, sizeof(big) - 1, out, 2, &n), 0);
		assert_int_equal(strlen(out[0].node), ROUTE_NODE_MAX);
	}

	/* encoder refuses an invalid node or family */
	snprintf(in[1].node, sizeof(in[1].node), "%s", "");
	assert_int_equal(msg_routes_encode(in, 2, b, sizeof(b)), -EINVAL);
	snprintf(in[1].node, sizeof(in[1].node), "%s", "ok");
	in[1].vip.family = 0;
	assert_int_equal(msg_routes_encode(in, 2, b, sizeof(b)), -EINVAL);
}

/* The largest count the u16 allows, decoded against max = count and count - 1. */
static void test_routes_max_count(void **state)
{
	static struct route_entry in[UINT16_MAX], out[UINT16_MAX];
	static uint8_t b[UINT16_MAX * 32 + 2];
	size_t n, i;
	int len;

	for (i = 0; i < UINT16_MAX; i++) {
		uint8_t a[4] = { 198, 19, (uint8_t)(i >> 8), (uint8_t)i };

		memset(&in[i], 0, sizeof(in[i]));
		vip_from_bytes(&in[i].vip, AF_INET, a);
		in[i].epoch = i + 1;
		snprintf(in[i].node, sizeof(in[i].node), "node-%zu", i % 7);
		in[i].withdrawn = i % 3 == 0;
	}
	len = msg_routes_encode(in, UINT16_MAX, b, sizeof(b));
	assert_true(len > 0);
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, UINT16_MAX - 1, &n), -E2BIG);
	assert_int_equal(msg_routes_decode(b, (size_t)len, out, UINT16_MAX, &n), 0);
	assert_int_equal(n, UINT16_MAX);
	for (i = 0; i < UINT16_MAX; i += 997)
		assert_route_equal(&out[i], &in[i]);
	assert_route_equal(&out[UINT16_MAX - 1], &in[UINT16_MAX - 1]);

	/* one more than a u16 can count is refused by the encoder */
	assert_int_equal(msg_routes_encode(in, (size_t)UINT16_MAX + 1, b, sizeof(b)), -EMSGSIZE);
}

static void mk_migrate(struct msg_migrate *m)
{
	memset(m, 0, sizeof(*m));
	m->op = 0x0102030405060708ULL;
	snprintf(m->netns, sizeof(m->netns), "/proc/1234/ns/net");
	assert_int_equal(vip_parse("198.19.1.10", &m->vips[0]), 0);
	assert_int_equal(vip_parse("fd00:19:1::10", &m->vips[1]), 0);
	m->nvips = 2;
}

static void test_migrate_round_trip(void **state)
{
	struct msg_migrate m, out;
	uint8_t buf[512];
	int len;

	mk_migrate(&m);
	len = msg_migrate_encode(&m, buf, sizeof(buf));
	/* op 8, netns 2+17, count 1, v4 1+4, v6 1+16 */
	assert_int_equal(len, 8 + 2 + 17 + 1 + 5 + 17);
	assert_int_equal(msg_migrate_decode(buf, (size_t)len, &out), 0);
	assert_true(out.op == m.op);
	assert_string_equal(out.netns, m.netns);
	assert_int_equal(out.nvips, 2);
	assert_true(vip_equal(&out.vips[0], &m.vips[0]));
	assert_true(vip_equal(&out.vips[1], &m.vips[1]));
	/* Every truncation is refused, and so is a trailing byte. */
	for (int n = 0; n < len; n++)
		assert_int_equal(msg_migrate_decode(buf, (size_t)n, &out), -EBADMSG);
	buf[len] = 0;
	assert_int_equal(msg_migrate_decode(buf, (size_t)len + 1, &out), -EBADMSG);
	/* Too small a buffer. */
	assert_int_equal(msg_migrate_encode(&m, buf, 20), -EMSGSIZE);
}

static void test_migrate_bad(void **state)
{
	struct msg_migrate m, out;
	uint8_t buf[512];
	int len;

	mk_migrate(&m);
	m.nvips = 0;
	assert_int_equal(msg_migrate_encode(&m, buf, sizeof(buf)), -EINVAL);
	mk_migrate(&m);
	m.netns[0] = '\0';
	assert_int_equal(msg_migrate_encode(&m, buf, sizeof(buf)), -EINVAL);
	mk_migrate(&m);
	m.netns[3] = '\n'; /* control characters are refused both ways */
	assert_int_equal(msg_migrate_encode(&m, buf, sizeof(buf)), -EINVAL);
	mk_migrate(&m);
	len = msg_migrate_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	buf[8 + 2 + 5] = 0x01;
	assert_int_equal(msg_migrate_decode(buf, (size_t)len, &out), -EBADMSG);
	mk_migrate(&m);
	len = msg_migrate_encode(&m, buf, sizeof(buf));
	buf[8 + 2 + 17] = 0; /* zero VIPs */
	assert_int_equal(msg_migrate_decode(buf, (size_t)len, &out), -EBADMSG);
	buf[8 + 2 + 17] = MSG_MIGRATE_MAX_VIPS + 1;
	assert_int_equal(msg_migrate_decode(buf, (size_t)len, &out), -EBADMSG);
	buf[8 + 2 + 17] = 2;
	buf[8 + 2 + 17 + 1] = 5; /* unknown family */
	assert_int_equal(msg_migrate_decode(buf, (size_t)len, &out), -EBADMSG);
}

static void test_migrate_done_round_trip(void **state)
{
	struct msg_migrate_done r = { .op = 42, .status = 12, .epoch = 7 }, out;
	uint8_t buf[256];
	int len;

	snprintf(r.msg, sizeof(r.msg), "cannot attach to netns x: No such file");
	len = msg_migrate_done_encode(&r, buf, sizeof(buf));
	assert_int_equal(len, 8 + 1 + 8 + 2 + (int)strlen(r.msg));
	assert_int_equal(msg_migrate_done_decode(buf, (size_t)len, &out), 0);
	assert_true(out.op == 42 && out.status == 12 && out.epoch == 7);
	assert_string_equal(out.msg, r.msg);
	for (int n = 0; n < len; n++)
		assert_int_equal(msg_migrate_done_decode(buf, (size_t)n, &out), -EBADMSG);
	r.msg[0] = '\0'; /* an empty message is fine (success) */
	len = msg_migrate_done_encode(&r, buf, sizeof(buf));
	assert_int_equal(msg_migrate_done_decode(buf, (size_t)len, &out), 0);
	assert_string_equal(out.msg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_round_trips),
		cmocka_unit_test(test_hello_golden),
		cmocka_unit_test(test_hello_bad),
		cmocka_unit_test(test_link_open_ok),
		cmocka_unit_test(test_substrate),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_peers_round_trip),
		cmocka_unit_test(test_peers_empty),
		cmocka_unit_test(test_peers_bad),
		cmocka_unit_test(test_routes_round_trip),
		cmocka_unit_test(test_routes_golden),
		cmocka_unit_test(test_routes_bad),
		cmocka_unit_test(test_routes_max_count),
		cmocka_unit_test(test_migrate_round_trip),
		cmocka_unit_test(test_migrate_bad),
		cmocka_unit_test(test_migrate_done_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
