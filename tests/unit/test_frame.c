/* Frame header codec: round trips, every rejection the header promises, golden bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tunnel/frame.h"

static void round_trip_one(uint8_t type, uint16_t flags, uint32_t len)
{
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h;

	memset(&h, 0xaa, sizeof(h));
	frame_hdr_encode(b, type, flags, len);
	assert_int_equal(frame_hdr_decode(b, sizeof(b), &h), 0);
	assert_int_equal(h.version, FRAME_VERSION);
	assert_int_equal(h.type, type);
	assert_int_equal(h.flags, flags);
	assert_int_equal(h.len, len);
}

static void test_round_trip(void **state)
{
	static const uint16_t flags[] = { 0, FRAME_F_FULL_TABLE, 0x8000, 0x1234, 0xffff };
	static const uint32_t lens[] = { 0, 1, 255, 256, 1500, 65535, 65536,
					 FRAME_MAX_PAYLOAD - 1, FRAME_MAX_PAYLOAD };
	unsigned t, f, l;

	for (t = 1; t <= FRAME_TYPE_MAX; t++)
		for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
			for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
				round_trip_one((uint8_t)t, flags[f], lens[l]);
}

static void test_decode_ignores_bytes_after_header(void **state)
{
	uint8_t b[FRAME_HDR_LEN + 3];
	struct frame_hdr h;

	frame_hdr_encode(b, FRAME_DATA, 0, 3);
	memcpy(b + FRAME_HDR_LEN, "xyz", 3);
	assert_int_equal(frame_hdr_decode(b, sizeof(b), &h), 0);
	assert_int_equal(h.type, FRAME_DATA);
	assert_int_equal(h.len, 3);
}

static void test_truncated(void **state)
{
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h;
	size_t n;

	frame_hdr_encode(b, FRAME_PING, 0, 8);
	for (n = 0; n < FRAME_HDR_LEN; n++)
		assert_int_equal(frame_hdr_decode(b, n, &h), -EAGAIN);
	assert_int_equal(frame_hdr_decode(b, FRAME_HDR_LEN, &h), 0);
}

static void test_oversized(void **state)
{
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h;

	frame_hdr_encode(b, FRAME_DATA, 0, FRAME_MAX_PAYLOAD + 1);
	assert_int_equal(frame_hdr_decode(b, sizeof(b), &h), -EMSGSIZE);
	assert_int_equal(h.len, FRAME_MAX_PAYLOAD + 1);
	frame_hdr_encode(b, FRAME_DATA, 0, 0xffffffffu);
	assert_int_equal(frame_hdr_decode(b, sizeof(b), &h), -EMSGSIZE);
	assert_int_equal(h.len, 0xffffffffu);
	assert_int_equal(h.type, FRAME_DATA);
}

static void test_bad_version(void **state)
{
	static const uint8_t versions[] = { 0, 1, 3, 255 };
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h;
	unsigned i;

	for (i = 0; i < sizeof(versions); i++) {
		frame_hdr_encode(b, FRAME_HELLO, 0, 10);
		b[0] = versions[i];
		assert_int_equal(frame_hdr_decode(b, sizeof(b), &h), -EPROTONOSUPPORT);
		/* filled even on error, so the caller can log the bad value */
		assert_int_equal(h.version, versions[i]);
		assert_int_equal(h.len, 10);
	}
}

static void test_bad_type(void **state)
{
	static const uint8_t types[] = { 0, FRAME_TYPE_MAX + 1, 255 };
	uint8_t b[FRAME_HDR_LEN];
	struct frame_hdr h;
	unsigned i;

	for (i = 0; i < sizeof(types); i++) {
		frame_hdr_encode(b, types[i], 0, 0);
		assert_int_equal(frame_hdr_decode(b, sizeof(b), &h), -EBADMSG);
		assert_int_equal(h.type, types[i]);
	}
}

struct golden {
	uint8_t bytes[FRAME_HDR_LEN];
	int rc;
	uint8_t type;
	uint16_t flags;
	uint32_t len;
};

static void test_golden(void **state)
{
	static const struct golden g[] = {
		{ { 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a }, 0, FRAME_HELLO, 0, 42 },
		{ { 0x02, 0x04, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00 }, 0, FRAME_ROUTES,
		  FRAME_F_FULL_TABLE, 256 },
		{ { 0x02, 0x05, 0xab, 0xcd, 0x00, 0x01, 0x02, 0x00 }, 0, FRAME_DATA, 0xabcd,
		  FRAME_MAX_PAYLOAD },
		{ { 0x02, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08 }, 0, FRAME_PONG, 0, 8 },
		{ { 0x02, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x48 }, 0, FRAME_LINK_OK, 0, 72 },
		{ { 0x02, 0x05, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01 }, -EMSGSIZE, FRAME_DATA, 0,
		  FRAME_MAX_PAYLOAD + 1 },
		{ { 0x02, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b }, 0, FRAME_SUBSTRATE, 0, 11 },
		{ { 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, -EBADMSG, 12, 0, 0 },
		{ { 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, -EPROTONOSUPPORT, 1, 0, 0 },
	};
	struct frame_hdr h;
	uint8_t b[FRAME_HDR_LEN];
	unsigned i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		assert_int_equal(frame_hdr_decode(g[i].bytes, FRAME_HDR_LEN, &h), g[i].rc);
		assert_int_equal(h.type, g[i].type);
		assert_int_equal(h.flags, g[i].flags);
		assert_int_equal(h.len, g[i].len);
		if (g[i].rc == 0) {
			frame_hdr_encode(b, g[i].type, g[i].flags, g[i].len);
			assert_memory_equal(b, g[i].bytes, FRAME_HDR_LEN);
		}
	}
}

static void test_type_names(void **state)
{
	assert_string_equal(frame_type_name(FRAME_HELLO), "HELLO");
	assert_string_equal(frame_type_name(FRAME_LINK_OPEN), "LINK_OPEN");
	assert_string_equal(frame_type_name(FRAME_LINK_OK), "LINK_OK");
	assert_string_equal(frame_type_name(FRAME_PEERS), "PEERS");
	assert_string_equal(frame_type_name(FRAME_ROUTES), "ROUTES");
	assert_string_equal(frame_type_name(FRAME_DATA), "DATA");
	assert_string_equal(frame_type_name(FRAME_PING), "PING");
	assert_string_equal(frame_type_name(FRAME_PONG), "PONG");
	assert_string_equal(frame_type_name(0), "?");
	assert_string_equal(frame_type_name(FRAME_TYPE_MAX + 1), "?");
	assert_string_equal(frame_type_name(255), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_ignores_bytes_after_header),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
