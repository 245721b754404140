/* The UDP substrate's datagrams (tunnel/udpwire.c): the header, and frames cut into
 * pieces and rebuilt, with pieces lost, repeated, reordered or forged. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/udpwire.h"

#define PIECE 1456

/* Cuts a frame of len bytes into datagrams as udp.c does; returns how many. */
static int cut(uint8_t type, uint16_t flags, const uint8_t *p, size_t len, uint32_t fn,
	       uint8_t dg[][UDPW_HDR_LEN + PIECE], size_t *dlen)
{
	size_t off = 0;
	int n = 0;

	do {
		size_t k = len - off < PIECE ? len - off : PIECE;

		udpw_hdr_encode(dg[n], type, flags, (uint32_t)len, fn, (uint32_t)off);
		memcpy(dg[n] + UDPW_HDR_LEN, p + off, k);
		dlen[n++] = UDPW_HDR_LEN + k;
		off += k;
	} while (off < len);
	return n;
}

static uint8_t dg[64][UDPW_HDR_LEN + PIECE];
static size_t dlen[64];
static uint8_t frame[FRAME_MAX_PAYLOAD];

static void test_header(void **state)
{
	uint8_t b[UDPW_HDR_LEN + 4];
	struct udpw_hdr u;

	udpw_hdr_encode(b, FRAME_DATA, 0x20, 4, 7, 0);
	assert_int_equal(udpw_hdr_decode(b, sizeof(b), &u), 0);
	assert_int_equal(u.h.type, FRAME_DATA);
	assert_int_equal(u.h.flags, 0x20);
	assert_int_equal(u.h.len, 4);
	assert_int_equal(u.frame, 7);
	assert_int_equal(u.offset, 0);
	assert_int_equal(u.piece, 4);
	for (size_t i = 0; i < UDPW_HDR_LEN; i++)
		assert_int_equal(udpw_hdr_decode(b, i, &u), -EBADMSG);
	/* a piece past the frame's end */
	udpw_hdr_encode(b, FRAME_DATA, 0, 4, 7, 2);
	assert_int_equal(udpw_hdr_decode(b, sizeof(b), &u), -EBADMSG);
	/* an offset past it */
	udpw_hdr_encode(b, FRAME_DATA, 0, 4, 7, 5);
	assert_int_equal(udpw_hdr_decode(b, UDPW_HDR_LEN, &u), -EBADMSG);
	/* an empty piece of a non-empty frame */
	udpw_hdr_encode(b, FRAME_DATA, 0, 4, 7, 0);
	assert_int_equal(udpw_hdr_decode(b, UDPW_HDR_LEN, &u), -EBADMSG);
	/* a bad frame header */
	b[0] = 9;
	assert_int_equal(udpw_hdr_decode(b, sizeof(b), &u), -EBADMSG);
	udpw_hdr_encode(b, FRAME_DATA, 0, FRAME_MAX_PAYLOAD + 1, 0, 0);
	assert_int_equal(udpw_hdr_decode(b, sizeof(b), &u), -EBADMSG);
}

static void test_rebuild(void **state)
{
	struct udpw_rasm r = { 0 };
	struct frame_hdr h;
	const uint8_t *p;
	int n;

	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7 + 3);
	/* a frame of one piece comes out at once, from the datagram itself */
	n = cut(FRAME_PING, 0, frame, 100, 1, dg, dlen);
	assert_int_equal(n, 1);
	assert_int_equal(udpw_rasm_add(&r, dg[0], dlen[0], &h, &p), 1);
	assert_ptr_equal(p, dg[0] + UDPW_HDR_LEN);
	assert_int_equal(h.len, 100);
	/* a 64 KiB super-packet in 46 pieces */
	n = cut(FRAME_DATA, 0x20, frame, 65536 + 10, 2, dg, dlen);
	assert_int_equal(n, 46);
	for (int i = 0; i < n - 1; i++)
		assert_int_equal(udpw_rasm_add(&r, dg[i], dlen[i], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[n - 1], dlen[n - 1], &h, &p), 1);
	assert_int_equal(h.len, 65546);
	assert_int_equal(h.flags, 0x20);
	assert_memory_equal(p, frame, 65546);
	/* one piece lost: the frame is lost, the next one is whole again */
	for (int i = 0; i < n; i++)
		if (i != 17)
			assert_int_equal(udpw_rasm_add(&r, dg[i], dlen[i], &h, &p), 0);
	assert_int_equal(r.lost, 1);
	n = cut(FRAME_DATA, 0, frame, 5000, 3, dg, dlen);
	for (int i = 0; i < n - 1; i++)
		assert_int_equal(udpw_rasm_add(&r, dg[i], dlen[i], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[n - 1], dlen[n - 1], &h, &p), 1);
	assert_memory_equal(p, frame, 5000);
	/* a piece repeated, or swapped with the next: lost, never a wrong frame */
	n = cut(FRAME_DATA, 0, frame, 5000, 4, dg, dlen);
	assert_int_equal(udpw_rasm_add(&r, dg[0], dlen[0], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[1], dlen[1], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[1], dlen[1], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[2], dlen[2], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[3], dlen[3], &h, &p), 0);
	/* a piece of another frame in the middle */
	n = cut(FRAME_DATA, 0, frame, 5000, 5, dg, dlen);
	assert_int_equal(udpw_rasm_add(&r, dg[0], dlen[0], &h, &p), 0);
	udpw_hdr_encode(dg[1], FRAME_DATA, 0, 5000, 6, PIECE);
	assert_int_equal(udpw_rasm_add(&r, dg[1], dlen[1], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[2], dlen[2], &h, &p), 0);
	assert_int_equal(udpw_rasm_add(&r, dg[3], dlen[3], &h, &p), 0);
	/* a malformed datagram */
	assert_int_equal(udpw_rasm_add(&r, dg[0], 3, &h, &p), -EBADMSG);
	udpw_rasm_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_rebuild),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
