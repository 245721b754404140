/* The UDP substrate's datagram header (tunnel/udp.c says how it is used): pure
 * encoding and decoding, so unit tests and the fuzzer reach the parser alone.
 *
 *   0              8                12               16
 *   +--------------+----------------+----------------+-------------
 *   | frame header | frame number   | offset         | piece ...
 *   +--------------+----------------+----------------+-------------
 *
 * The frame header (frame.h) gives the whole frame's type, flags and payload length;
 * frame number (u32, per link, rising) and offset (u32) place this piece in it. */
#ifndef TUNNEL_UDPWIRE_H
#define TUNNEL_UDPWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/frame.h"

#define UDPW_HDR_LEN (FRAME_HDR_LEN + 8)

struct udpw_hdr {
	struct frame_hdr h; /* the whole frame's */
	uint32_t frame;
	uint32_t offset;
	size_t piece;       /* payload bytes in this datagram */
};

void udpw_hdr_encode(uint8_t out[UDPW_HDR_LEN], uint8_t type, uint16_t flags, uint32_t len,
		     uint32_t frame, uint32_t offset);
/* Decodes the datagram b[0..len). 0, or -EBADMSG when the header is short or malformed
 * (frame_hdr_decode's checks), an empty piece of a non-empty frame, or the piece does
 * not lie within the frame. */
int udpw_hdr_decode(const uint8_t *b, size_t len, struct udpw_hdr *u);

/* A link's frame being rebuilt from its pieces. Pieces of one frame come in order on
 * one path; a gap, a piece of another frame or one that disagrees with the first loses
 * the frame (nothing is retransmitted: the job's TCP recovers). */
struct udpw_rasm {
	uint8_t *buf;      /* FRAME_MAX_PAYLOAD bytes, allocated at the first piece */
	bool on;
	uint32_t frame;
	size_t got;
	struct frame_hdr h;
	uint64_t lost;     /* frames given up */
};

/* Takes datagram b[0..len). Returns 1 with *h and *payload (in b for a frame of one
 * piece, else in r->buf, valid until the next call) when a frame is whole; 0 when it
 * needs more pieces or the piece was dropped; -EBADMSG for a malformed datagram;
 * -ENOMEM. */
int udpw_rasm_add(struct udpw_rasm *r, const uint8_t *b, size_t len, struct frame_hdr *h,
		  const uint8_t **payload);
void udpw_rasm_free(struct udpw_rasm *r);

#endif
