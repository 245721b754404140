#include "tunnel/udpwire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int udpw_rasm_add(struct udpw_rasm *r, const uint8_t *b, size_t len, struct frame_hdr *h,
		  const uint8_t **payload)
{
	struct udpw_hdr u;

	if (udpw_hdr_decode(b, len, &u) < 0)
		return -EBADMSG;
	if (u.offset == 0 && u.piece == u.h.len) {
		*h = u.h; /* whole: no copy */
		*payload = b + UDPW_HDR_LEN;
		return 1;
	}
	if (u.offset == 0) {
		if (!r->buf && !(r->buf = malloc(FRAME_MAX_PAYLOAD)))
			return -ENOMEM;
		if (r->on)
			r->lost++;
		r->on = true;
		r->frame = u.frame;
		r->got = 0;
		r->h = u.h;
	}
	if (!r->on || u.frame != r->frame || u.offset != r->got || u.h.len != r->h.len ||
	    u.h.type != r->h.type || u.h.flags != r->h.flags) {
		if (r->on)
			r->lost++;
		r->on = false;
		return 0;
	}
	memcpy(r->buf + r->got, b + UDPW_HDR_LEN, u.piece);
	r->got += u.piece;
	if (r->got < r->h.len)
		return 0;
	r->on = false;
	*h = r->h;
	*payload = r->buf;
	return 1;
}

void udpw_rasm_free(struct udpw_rasm *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}
