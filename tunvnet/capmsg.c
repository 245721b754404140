/* Capture stream records: the layout is in capmsg.h. */
#include "tunvnet/capmsg.h"

#include <errno.h>
#include <string.h>

#include "tunnel/wire.h"

int capmsg_decode(const uint8_t *buf, size_t len, struct capmsg *m)
{
	uint32_t type, body_len;
	uint8_t node_len;
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	if (!get_be32(buf, len, &off, &type) || !get_be32(buf, len, &off, &body_len))
		return 0;
	/* refused before waiting for it: a bad length must not make the reader buffer 4 GB */
	if (body_len > CAPMSG_MAX)
		return -EBADMSG;
	if (len - off < body_len)
		return 0;
	m->type = type;
	m->body = buf + off;
	m->body_len = body_len;
	if (type != CAPMSG_PACKET)
		return (int)(off + body_len);

	len = off + body_len;
	if (!get_be64(buf, len, &off, &m->ts_usec) || !get_be32(buf, len, &off, &m->orig_len) ||
	    !get_u8(buf, len, &off, &m->dir) || !get_u8(buf, len, &off, &node_len) ||
	    node_len > NODE_NAME_MAX || !get_bytes(buf, len, &off, m->node, node_len))
		return -EBADMSG;
	m->node[node_len] = '\0';
	if (!msg_name_valid(m->node))
		return -EBADMSG;
	m->data = buf + off;
	m->caplen = len - off;
	return (int)len;
}

int capmsg_packet_encode(uint8_t *buf, size_t cap, uint64_t ts_usec, uint32_t orig_len,
			 uint8_t dir, const char *node, const uint8_t *data, size_t caplen)
{
	size_t n, body, off = 0;

	if (!msg_name_valid(node))
		return -EINVAL;
	n = strlen(node);
	if (caplen > CAPMSG_MAX - CAPMSG_PACKET_LEN - n)
		return -EMSGSIZE;
	body = CAPMSG_PACKET_LEN + n + caplen;
	if (!put_be32(buf, cap, &off, CAPMSG_PACKET) || !put_be32(buf, cap, &off, (uint32_t)body) ||
	    !put_be64(buf, cap, &off, ts_usec) || !put_be32(buf, cap, &off, orig_len) ||
	    !put_u8(buf, cap, &off, dir) || !put_u8(buf, cap, &off, (uint8_t)n) ||
	    !put_bytes(buf, cap, &off, node, n) ||
	    (caplen && !put_bytes(buf, cap, &off, data, caplen)))
		return -EMSGSIZE;
	return (int)off;
}

int capmsg_text_encode(uint8_t *buf, size_t cap, enum capmsg_type t, const char *text,
		       size_t len)
{
	size_t off = 0;

	if (len > CAPMSG_MAX)
		return -EMSGSIZE;
	if (!put_be32(buf, cap, &off, (uint32_t)t) || !put_be32(buf, cap, &off, (uint32_t)len) ||
	    (len && !put_bytes(buf, cap, &off, text, len)))
		return -EMSGSIZE;
	return (int)off;
}
