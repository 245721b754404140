/* The peer protocol's 8-byte frame header. */
#include "tunnel/frame.h"

#include <errno.h>

#include "tunnel/wire.h"

void frame_hdr_encode(uint8_t out[FRAME_HDR_LEN], uint8_t type, uint16_t flags, uint32_t len)
{
	size_t off = 0;

	/* Cannot fail: the four fields are exactly FRAME_HDR_LEN bytes. */
	put_u8(out, FRAME_HDR_LEN, &off, FRAME_VERSION);
	put_u8(out, FRAME_HDR_LEN, &off, type);
	put_be16(out, FRAME_HDR_LEN, &off, flags);
	put_be32(out, FRAME_HDR_LEN, &off, len);
}

int frame_hdr_decode(const uint8_t *buf, size_t len, struct frame_hdr *h)
{
	size_t off = 0;

	if (len < FRAME_HDR_LEN)
		return -EAGAIN;
	get_u8(buf, len, &off, &h->version);
	get_u8(buf, len, &off, &h->type);
	get_be16(buf, len, &off, &h->flags);
	get_be32(buf, len, &off, &h->len);
	/* Version first: a peer speaking another version may have other types too, and
	 * "wrong version" is the reason worth logging then. */
	if (h->version != FRAME_VERSION)
		return -EPROTONOSUPPORT;
	if (h->type == 0 || h->type > FRAME_TYPE_MAX)
		return -EBADMSG;
	if (h->len > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	return 0;
}

const char *frame_type_name(uint8_t type)
{
	static const char *const names[] = {
		[FRAME_HELLO] = "HELLO", [FRAME_LINK_OPEN] = "LINK_OPEN", [FRAME_PEERS] = "PEERS",
		[FRAME_ROUTES] = "ROUTES", [FRAME_DATA] = "DATA", [FRAME_PING] = "PING",
		[FRAME_PONG] = "PONG",
		[FRAME_MIGRATE] = "MIGRATE",
		[FRAME_MIGRATE_DONE] = "MIGRATE_DONE", [FRAME_LINK_OK] = "LINK_OK",
		[FRAME_SUBSTRATE] = "SUBSTRATE",
	};

	if (type == 0 || type > FRAME_TYPE_MAX)
		return "?";
	return names[type];
}
