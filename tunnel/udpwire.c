#include "tunnel/udpwire.h"

#include <errno.h>

#include "tunnel/wire.h"

void udpw_hdr_encode(uint8_t out[UDPW_HDR_LEN], uint8_t type, uint16_t flags, uint32_t len,
		     uint32_t frame, uint32_t offset)
{
	size_t off = FRAME_HDR_LEN;

	frame_hdr_encode(out, type, flags, len);
	put_be32(out, UDPW_HDR_LEN, &off, frame);
	put_be32(out, UDPW_HDR_LEN, &off, offset);
}

int udpw_hdr_decode(const uint8_t *b, size_t len, struct udpw_hdr *u)
{
	size_t off = FRAME_HDR_LEN;

	if (len < UDPW_HDR_LEN || frame_hdr_decode(b, len, &u->h) < 0 ||
	    !get_be32(b, len, &off, &u->frame) || !get_be32(b, len, &off, &u->offset))
		return -EBADMSG;
	u->piece = len - UDPW_HDR_LEN;
	if (u->offset > u->h.len || u->piece > u->h.len - u->offset ||
	    (u->piece == 0 && u->h.len != 0))
		return -EBADMSG;
	return 0;
}
