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

#endif
