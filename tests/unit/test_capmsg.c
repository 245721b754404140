/* Capture stream records: the exact bytes, round trips, partial input, and what a
 * decoder must refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tunvnet/capmsg.h"

/* The layout, byte by byte, as the daemon must send it. */
static void test_packet_golden(void **state)
{
	static const uint8_t data[] = { 0x45, 0x00, 0x00, 0x14 };
	static const uint8_t want[] = {
		0, 0, 0, 1,                           /* type PACKET */
		0, 0, 0, 20,                          /* length: 14 + 2 + 4 */
		0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x01, /* ts_usec */
		0, 0, 0x05, 0xdc,                     /* orig_len 1500 */
		2,                                    /* dir */
		2, 'n', '1',                          /* node */
		0x45, 0x00, 0x00, 0x14,               /* the bytes */
	};
	uint8_t buf[64];
	struct capmsg m;
	int n;

	n = capmsg_packet_encode(buf, sizeof(buf), 0x18bcfe56801ull, 1500, 2, "n1", data,
				 sizeof(data));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	assert_int_equal(capmsg_decode(want, sizeof(want), &m), sizeof(want));
	assert_int_equal(m.type, CAPMSG_PACKET);
	assert_int_equal(m.ts_usec, 0x18bcfe56801ull);
	assert_int_equal(m.orig_len, 1500);
	assert_int_equal(m.dir, 2);
	assert_string_equal(m.node, "n1");
	assert_int_equal(m.caplen, 4);
	assert_ptr_equal(m.data, want + 24);
	assert_ptr_equal(m.body, want + 8);
	assert_int_equal(m.body_len, 20);
}

static void test_text_records(void **state)
{
	static const char end[] = "{\"packets\":3,\"dropped\":0,\"reason\":\"count\"}";
	uint8_t buf[128];
	struct capmsg m;
	int n;

	n = capmsg_text_encode(buf, sizeof(buf), CAPMSG_END, end, strlen(end));
	assert_int_equal(n, 8 + strlen(end));
	assert_memory_equal(buf, "\0\0\0\x02\0\0\0\x2a", 8);
	assert_int_equal(capmsg_decode(buf, (size_t)n, &m), n);
	assert_int_equal(m.type, CAPMSG_END);
	assert_int_equal(m.body_len, strlen(end));
	assert_memory_equal(m.body, end, strlen(end));

	/* an empty NOTE is a record too */
	n = capmsg_text_encode(buf, sizeof(buf), CAPMSG_NOTE, NULL, 0);
	assert_int_equal(n, 8);
	assert_int_equal(capmsg_decode(buf, 8, &m), 8);
	assert_int_equal(m.type, CAPMSG_NOTE);
	assert_int_equal(m.body_len, 0);

	/* types a decoder does not know come back whole, for the caller to skip */
	memcpy(buf, "\0\0\0\x09\0\0\0\x03" "abc", 11);
	assert_int_equal(capmsg_decode(buf, 11, &m), 11);
	assert_int_equal(m.type, 9);
	assert_int_equal(m.body_len, 3);

	assert_int_equal(capmsg_text_encode(buf, 10, CAPMSG_NOTE, "abc", 3), -EMSGSIZE);
}

/* Every prefix of a record is "not yet", and two records back to back come apart. */
static void test_partial_and_sequence(void **state)
{
	uint8_t pkt[1600], buf[4096];
	struct capmsg m;
	size_t off = 0, i;
	int n1, n2;

	for (i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7);
	n1 = capmsg_packet_encode(buf, sizeof(buf), 1, 1600, 0, "node-1.rack_2", pkt, 1500);
	assert_true(n1 > 0);
	n2 = capmsg_text_encode(buf + n1, sizeof(buf) - (size_t)n1, CAPMSG_END, "{}", 2);
	assert_true(n2 > 0);
	for (i = 0; i < (size_t)n1; i++)
		assert_int_equal(capmsg_decode(buf, i, &m), 0);

	assert_int_equal(capmsg_decode(buf, (size_t)(n1 + n2), &m), n1);
	assert_string_equal(m.node, "node-1.rack_2");
	assert_int_equal(m.caplen, 1500);
	assert_memory_equal(m.data, pkt, 1500);
	off += (size_t)n1;
	assert_int_equal(capmsg_decode(buf + off, (size_t)n2, &m), n2);
	assert_int_equal(m.type, CAPMSG_END);

	/* a packet with no bytes (a snaplen of 0 would make one) */
	n1 = capmsg_packet_encode(buf, sizeof(buf), 5, 60, 4, "n", NULL, 0);
	assert_int_equal(n1, 8 + 14 + 1);
	assert_int_equal(capmsg_decode(buf, (size_t)n1, &m), n1);
	assert_int_equal(m.caplen, 0);
	assert_int_equal(m.dir, 4);
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static void test_decode_refuses(void **state)
{
	uint8_t buf[64] = { 0 };
	struct capmsg m;
	int n;

	/* a length over the limit, refused from the header alone */
	put32(buf, CAPMSG_PACKET);
	put32(buf + 4, CAPMSG_MAX + 1);
	assert_int_equal(capmsg_decode(buf, 8, &m), -EBADMSG);
	put32(buf, CAPMSG_END);
	put32(buf + 4, 0xffffffffu);
	assert_int_equal(capmsg_decode(buf, 8, &m), -EBADMSG);
	/* exactly the limit is only "not yet" */
	put32(buf + 4, CAPMSG_MAX);
	assert_int_equal(capmsg_decode(buf, 64, &m), 0);

	/* a PACKET shorter than its fixed fields */
	put32(buf, CAPMSG_PACKET);
	put32(buf + 4, 13);
	assert_int_equal(capmsg_decode(buf, 8 + 13, &m), -EBADMSG);
	/* a node name longer than the record */
	n = capmsg_packet_encode(buf, sizeof(buf), 1, 2, 0, "abc", (const uint8_t *)"xy", 2);
	assert_true(n > 0);
	buf[8 + 13] = 6;
	assert_int_equal(capmsg_decode(buf, (size_t)n, &m), -EBADMSG);
	/* an empty node name, an invalid one, one too long */
	buf[8 + 13] = 0;
	assert_int_equal(capmsg_decode(buf, (size_t)n, &m), -EBADMSG);
	buf[8 + 13] = 3;
	buf[8 + 15] = ' ';
	assert_int_equal(capmsg_decode(buf, (size_t)n, &m), -EBADMSG);
	buf[8 + 15] = 'c';
	assert_int_equal(capmsg_decode(buf, (size_t)n, &m), n);
	/* a NUL inside the name (it read as the valid "a"), or at its end (as "ab"), and
	 * every other byte a name may not hold, in every place */
	for (int pos = 0; pos < 3; pos++) {
		for (int ch = 0; ch < 256; ch++) {
			bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';

			buf[8 + 14 + pos] = (uint8_t)ch;
			assert_int_equal(capmsg_decode(buf, (size_t)n, &m), ok ? n : -EBADMSG);
		}
		buf[8 + 14 + pos] = (uint8_t)"abc"[pos];
	}
	assert_int_equal(capmsg_decode(buf, (size_t)n, &m), n);
	assert_string_equal(m.node, "abc");
	buf[8 + 13] = 32;
	put32(buf + 4, 14 + 32);
	memset(buf + 8 + 14, 'a', 32);
	assert_int_equal(capmsg_decode(buf, 8 + 14 + 32, &m), -EBADMSG);
}

static void test_encode_refuses(void **state)
{
	static uint8_t big[CAPMSG_MAX];
	uint8_t buf[64];

	assert_int_equal(capmsg_packet_encode(buf, sizeof(buf), 1, 1, 0, "", big, 1), -EINVAL);
	assert_int_equal(capmsg_packet_encode(buf, sizeof(buf), 1, 1, 0, "a b", big, 1), -EINVAL);
	assert_int_equal(capmsg_packet_encode(buf, sizeof(buf), 1, 1, 0,
					      "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", big, 1),
			 -EINVAL);
	/* room for the header but not the bytes */
	assert_int_equal(capmsg_packet_encode(buf, sizeof(buf), 1, 64, 0, "n1", big, 64),
			 -EMSGSIZE);
	assert_int_equal(capmsg_packet_encode(buf, sizeof(buf), 1, 1, 0, "n1", big, 41),
			 -EMSGSIZE);
	assert_int_equal(capmsg_packet_encode(buf, sizeof(buf), 1, 1, 0, "n1", big, 40),
			 64);
	/* a record no decoder would take is not written */
	assert_int_equal(capmsg_packet_encode(big, sizeof(big), 1, 1, 0, "n1", big,
					      CAPMSG_MAX - 15), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet_golden),
		cmocka_unit_test(test_text_records),
		cmocka_unit_test(test_partial_and_sequence),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_encode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
