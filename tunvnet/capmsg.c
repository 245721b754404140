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
	/* The name is counted, not terminated: a NUL in it would cut it short into another
	 * valid name ("n1\0x" read as "n1"), so every one of its bytes must be checked. */
	if (strlen(m->node) != node_len || !msg_name_valid(m->node))
		return -EBADMSG;
	m->data = buf + off;
	m->caplen = len - off;
	return (int)len;
}

void capmsg_header(uint8_t buf[CAPMSG_HDR_LEN], enum capmsg_type t, uint32_t len)
{
	size_t off = 0;

	put_be32(buf, CAPMSG_HDR_LEN, &off, (uint32_t)t);
	put_be32(buf, CAPMSG_HDR_LEN, &off, len);
}

int capmsg_packet_header(uint8_t *buf, size_t cap, uint64_t ts_usec, uint32_t orig_len,
			 uint8_t dir, const char *node, size_t caplen)
{
	size_t n, off = CAPMSG_HDR_LEN;

	if (!msg_name_valid(node))
		return -EINVAL;
	n = strlen(node);
	if (caplen > CAPMSG_MAX - CAPMSG_PACKET_LEN - n)
		return -EMSGSIZE;
	if (cap < CAPMSG_HDR_LEN || !put_be64(buf, cap, &off, ts_usec) ||
	    !put_be32(buf, cap, &off, orig_len) || !put_u8(buf, cap, &off, dir) ||
	    !put_u8(buf, cap, &off, (uint8_t)n) || !put_bytes(buf, cap, &off, node, n))
		return -EMSGSIZE;
	capmsg_header(buf, CAPMSG_PACKET, (uint32_t)(CAPMSG_PACKET_LEN + n + caplen));
	return (int)off;
}

int capmsg_packet_encode(uint8_t *buf, size_t cap, uint64_t ts_usec, uint32_t orig_len,
			 uint8_t dir, const char *node, const uint8_t *data, size_t caplen)
{
	int h = capmsg_packet_header(buf, cap, ts_usec, orig_len, dir, node, caplen);
	size_t off;

	if (h < 0)
		return h;
	off = (size_t)h;
	if (caplen && !put_bytes(buf, cap, &off, data, caplen))
		return -EMSGSIZE;
	return (int)off;
}

int capmsg_text_encode(uint8_t *buf, size_t cap, enum capmsg_type t, const char *text,
		       size_t len)
{
	size_t off = CAPMSG_HDR_LEN;

	if (len > CAPMSG_MAX || cap < CAPMSG_HDR_LEN ||
	    (len && !put_bytes(buf, cap, &off, text, len)))
		return -EMSGSIZE;
	capmsg_header(buf, t, (uint32_t)len);
	return (int)off;
}
