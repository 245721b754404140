#include "tunnel/reasm.h"

#include <errno.h>
#include <string.h>

uint8_t *reasm_tail(struct reasm *r, size_t *room)
{
	*room = r->cap - r->len;
	return r->buf + r->len;
}

void reasm_wrote(struct reasm *r, size_t n)
{
	r->len += n <= r->cap - r->len ? n : r->cap - r->len;
}

int reasm_next(struct reasm *r, struct frame_hdr *h, const uint8_t **payload)
{
	int err = frame_hdr_decode(r->buf + r->off, r->len - r->off, h);

	if (err == -EAGAIN)
		return 0;
	if (err < 0)
		return err;
	if (r->len - r->off - FRAME_HDR_LEN < h->len)
		return 0;
	*payload = r->buf + r->off + FRAME_HDR_LEN;
	r->off += FRAME_HDR_LEN + h->len;
	return 1;
}

void reasm_compact(struct reasm *r)
{
	if (r->off == r->len) {
		r->off = r->len = 0;
	} else if (r->cap - r->len < r->cap / 2) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
}
