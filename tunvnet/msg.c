/* Peer protocol control bodies: HELLO, LINK_OPEN / LINK_OK, PEERS, ROUTES, MIGRATE. Every encoder has its decoder
 * next to it; the layouts are in msg.h. */
#include "tunvnet/msg.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "tunnel/wire.h"

/* Family bytes on the wire: fixed numbers, not the host's AF_* values. */
enum { WIRE_NONE = 0, WIRE_V4 = 4, WIRE_V6 = 6 };

/* Smallest encodings, to refuse a count the rest of the body cannot hold before
 * looking at any entry: name_len + 1-byte name + family 0 + port; family + 4-byte
 * address + epoch + flags + node_len + 1-byte node. */
#define MEMBER_MIN (1 + 1 + 1 + 2)
#define ROUTE_MIN  (1 + 4 + 8 + 1 + 1 + 1)

static bool name_ok(const char *s, size_t n, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool msg_name_valid(const char *name)
{
	return name && name_ok(name, strnlen(name, NODE_NAME_MAX + 1), NODE_NAME_MAX);
}

/* Writes u8 len, bytes. -EINVAL for an invalid name, -EMSGSIZE when out of room. */
static int put_name(uint8_t *b, size_t cap, size_t *off, const char *name, size_t max)
{
	size_t n = strnlen(name, max + 1);

	if (!name_ok(name, n, max))
		return -EINVAL;
	if (!put_u8(b, cap, off, (uint8_t)n) || !put_bytes(b, cap, off, name, n))
		return -EMSGSIZE;
	return 0;
}

static bool get_name(const uint8_t *b, size_t len, size_t *off, char *out, size_t max)
{
	uint8_t n;

	if (!get_u8(b, len, off, &n) || n == 0 || n > max || !get_bytes(b, len, off, out, n))
		return false;
	out[n] = '\0';
	return name_ok(out, n, max);
}

/* u8 family, address, u16 port; AF_UNSPEC is family 0 with port 0 and no address. */
static int put_sockaddr(uint8_t *b, size_t cap, size_t *off, const struct sockaddr_storage *a)
{
	bool ok;

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)a;

		ok = put_u8(b, cap, off, WIRE_V4) &&
		     put_bytes(b, cap, off, &sin->sin_addr, 4) &&
		     put_be16(b, cap, off, ntohs(sin->sin_port));
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)a;

		ok = put_u8(b, cap, off, WIRE_V6) &&
		     put_bytes(b, cap, off, &sin6->sin6_addr, 16) &&
		     put_be16(b, cap, off, ntohs(sin6->sin6_port));
	} else if (a->ss_family == AF_UNSPEC) {
		ok = put_u8(b, cap, off, WIRE_NONE) && put_be16(b, cap, off, 0);
	} else {
		return -EINVAL;
	}
	return ok ? 0 : -EMSGSIZE;
}

static bool get_sockaddr(const uint8_t *b, size_t len, size_t *off,
			 struct sockaddr_storage *a)
{
	uint8_t fam;
	uint16_t port;

	memset(a, 0, sizeof(*a));
	if (!get_u8(b, len, off, &fam))
		return false;
	if (fam == WIRE_V4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)a;

		if (!get_bytes(b, len, off, &sin->sin_addr, 4) || !get_be16(b, len, off, &port))
			return false;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (fam == WIRE_V6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)a;

		if (!get_bytes(b, len, off, &sin6->sin6_addr, 16) ||
		    !get_be16(b, len, off, &port))
			return false;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else if (fam == WIRE_NONE) {
		/* A port without an address is meaningless: refuse it, so that one message
		 * has one encoding. */
		if (!get_be16(b, len, off, &port) || port != 0)
			return false;
		a->ss_family = AF_UNSPEC;
	} else {
		return false;
	}
	return true;
}

int msg_hello_encode(const struct msg_hello *m, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	int err;

	err = put_name(buf, cap, &off, m->name, NODE_NAME_MAX);
	if (err)
		return err;
	err = put_sockaddr(buf, cap, &off, &m->listen);
	if (err)
		return err;
	if (m->flags & ~MSG_HELLO_SEALED)
		return -EINVAL;
	if (!put_u8(buf, cap, &off, m->flags) || !put_be32(buf, cap, &off, m->substrates))
		return -EMSGSIZE;
	return (int)off;
}

int msg_hello_decode(const uint8_t *buf, size_t len, struct msg_hello *m)
{
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	if (!get_name(buf, len, &off, m->name, NODE_NAME_MAX) ||
	    !get_sockaddr(buf, len, &off, &m->listen) || !get_u8(buf, len, &off, &m->flags) ||
	    (m->flags & ~MSG_HELLO_SEALED) || !get_be32(buf, len, &off, &m->substrates) ||
	    off != len)
		return -EBADMSG;
	return 0;
}

int msg_link_open_encode(const struct msg_link_open *m, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	int err;

	err = put_name(buf, cap, &off, m->name, NODE_NAME_MAX);
	if (err)
		return err;
	if (m->flags & ~MSG_HELLO_SEALED)
		return -EINVAL;
	if (!put_be64(buf, cap, &off, m->link) || !put_u8(buf, cap, &off, m->substrate) ||
	    !put_u8(buf, cap, &off, m->flags) || !put_bytes(buf, cap, &off, m->mac, MSG_MAC_BYTES))
		return -EMSGSIZE;
	return (int)off;
}

int msg_link_open_decode(const uint8_t *buf, size_t len, struct msg_link_open *m)
{
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	if (!get_name(buf, len, &off, m->name, NODE_NAME_MAX) ||
	    !get_be64(buf, len, &off, &m->link) || !get_u8(buf, len, &off, &m->substrate) ||
	    !get_u8(buf, len, &off, &m->flags) || (m->flags & ~MSG_HELLO_SEALED) ||
	    !get_bytes(buf, len, &off, m->mac, MSG_MAC_BYTES) || off != len)
		return -EBADMSG;
	return 0;
}

int msg_substrate_encode(const struct msg_substrate *m, uint8_t *buf, size_t cap)
{
	size_t off = 0;

	if (m->len > MSG_SUBSTRATE_BLOB_MAX)
		return -EINVAL;
	if (!put_u8(buf, cap, &off, m->substrate) || !put_be64(buf, cap, &off, m->link) ||
	    !put_be16(buf, cap, &off, (uint16_t)m->len) ||
	    !put_bytes(buf, cap, &off, m->blob, m->len))
		return -EMSGSIZE;
	return (int)off;
}

int msg_substrate_decode(const uint8_t *buf, size_t len, struct msg_substrate *m)
{
	size_t off = 0;
	uint16_t n;

	memset(m, 0, sizeof(*m));
	if (!get_u8(buf, len, &off, &m->substrate) || !get_be64(buf, len, &off, &m->link) ||
	    !get_be16(buf, len, &off, &n) || n > MSG_SUBSTRATE_BLOB_MAX ||
	    !get_bytes(buf, len, &off, m->blob, n) || off != len)
		return -EBADMSG;
	m->len = n;
	return 0;
}

int msg_link_ok_encode(const struct msg_link_ok *m, uint8_t *buf, size_t cap)
{
	size_t off = 0;

	if (!put_be64(buf, cap, &off, m->link) || !put_bytes(buf, cap, &off, m->mac, MSG_MAC_BYTES))
		return -EMSGSIZE;
	return (int)off;
}

int msg_link_ok_decode(const uint8_t *buf, size_t len, struct msg_link_ok *m)
{
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	if (!get_be64(buf, len, &off, &m->link) ||
	    !get_bytes(buf, len, &off, m->mac, MSG_MAC_BYTES) || off != len)
		return -EBADMSG;
	return 0;
}

int msg_peers_encode(const struct msg_member *v, size_t n, uint8_t *buf, size_t cap)
{
	size_t off = 0, i;
	int err;

	if (n > UINT16_MAX)
		return -EMSGSIZE;
	if (!put_be16(buf, cap, &off, (uint16_t)n))
		return -EMSGSIZE;
	for (i = 0; i < n; i++) {
		err = put_name(buf, cap, &off, v[i].name, NODE_NAME_MAX);
		if (!err)
			err = put_sockaddr(buf, cap, &off, &v[i].addr);
		if (err)
			return err;
	}
	return (int)off;
}

int msg_peers_decode(const uint8_t *buf, size_t len, struct msg_member *v, size_t max,
		     size_t *n)
{
	size_t off = 0, i;
	uint16_t count;

	if (!get_be16(buf, len, &off, &count) || (size_t)count * MEMBER_MIN > len - off)
		return -EBADMSG;
	if (count > max)
		return -E2BIG;
	for (i = 0; i < count; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		if (!get_name(buf, len, &off, v[i].name, NODE_NAME_MAX) ||
		    !get_sockaddr(buf, len, &off, &v[i].addr))
			return -EBADMSG;
	}
	if (off != len)
		return -EBADMSG;
	*n = count;
	return 0;
}

size_t msg_route_size(const struct route_entry *e)
{
	return 1 + vip_len(&e->vip) + 8 + 1 + 1 + strnlen(e->node, ROUTE_NODE_MAX + 1);
}

static int put_route(uint8_t *b, size_t cap, size_t *off, const struct route_entry *e)
{
	uint8_t fam;

	if (e->vip.family == AF_INET)
		fam = WIRE_V4;
	else if (e->vip.family == AF_INET6)
		fam = WIRE_V6;
	else
		return -EINVAL;
	if (!put_u8(b, cap, off, fam) || !put_bytes(b, cap, off, e->vip.a, vip_len(&e->vip)) ||
	    !put_be64(b, cap, off, e->epoch) ||
	    !put_u8(b, cap, off, e->withdrawn ? MSG_ROUTE_WITHDRAWN : 0))
		return -EMSGSIZE;
	return put_name(b, cap, off, e->node, ROUTE_NODE_MAX);
}

static bool get_route(const uint8_t *b, size_t len, size_t *off, struct route_entry *e)
{
	uint8_t fam, flags, bytes[16];
	int family;

	memset(e, 0, sizeof(*e));
	if (!get_u8(b, len, off, &fam))
		return false;
	if (fam == WIRE_V4)
		family = AF_INET;
	else if (fam == WIRE_V6)
		family = AF_INET6;
	else
		return false;
	if (!get_bytes(b, len, off, bytes, fam == WIRE_V4 ? 4 : 16) ||
	    !get_be64(b, len, off, &e->epoch) || !get_u8(b, len, off, &flags) ||
	    (flags & ~MSG_ROUTE_WITHDRAWN) ||
	    !get_name(b, len, off, e->node, ROUTE_NODE_MAX))
		return false;
	vip_from_bytes(&e->vip, family, bytes);
	e->withdrawn = flags & MSG_ROUTE_WITHDRAWN;
	/* changed_ms is local time, never sent: the receiver stamps it. */
	e->changed_ms = 0;
	return true;
}

int msg_routes_encode(const struct route_entry *v, size_t n, uint8_t *buf, size_t cap)
{
	size_t off = 0, i;
	int err;

	if (n > UINT16_MAX)
		return -EMSGSIZE;
	if (!put_be16(buf, cap, &off, (uint16_t)n))
		return -EMSGSIZE;
	for (i = 0; i < n; i++) {
		err = put_route(buf, cap, &off, &v[i]);
		if (err)
			return err;
	}
	return (int)off;
}

int msg_routes_decode(const uint8_t *buf, size_t len, struct route_entry *v, size_t max,
		      size_t *n)
{
	size_t off = 0, i;
	uint16_t count;

	if (!get_be16(buf, len, &off, &count) || (size_t)count * ROUTE_MIN > len - off)
		return -EBADMSG;
	if (count > max)
		return -E2BIG;
	for (i = 0; i < count; i++)
		if (!get_route(buf, len, &off, &v[i]))
			return -EBADMSG;
	if (off != len)
		return -EBADMSG;
	*n = count;
	return 0;
}

/* --- MIGRATE ------------------------------------------------------------------------ */

static bool text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

static int put_text(uint8_t *b, size_t cap, size_t *off, const char *s)
{
	size_t n = strnlen(s, MSG_TEXT_MAX + 1);

	if (n > MSG_TEXT_MAX || !text_ok(s, n))
		return -EINVAL;
	if (!put_be16(b, cap, off, (uint16_t)n) || !put_bytes(b, cap, off, s, n))
		return -EMSGSIZE;
	return 0;
}

static bool get_text(const uint8_t *b, size_t len, size_t *off, char *out, bool allow_empty)
{
	uint16_t n;
	size_t o = *off;

	if (!get_be16(b, len, &o, &n) || n > MSG_TEXT_MAX || (!allow_empty && n == 0) ||
	    !get_bytes(b, len, &o, out, n))
		return false;
	out[n] = '\0';
	if (!text_ok(out, n))
		return false;
	*off = o;
	return true;
}

int msg_migrate_encode(const struct msg_migrate *m, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	int err;

	if (m->nvips == 0 || m->nvips > MSG_MIGRATE_MAX_VIPS || !m->netns[0])
		return -EINVAL;
	if (!put_be64(buf, cap, &off, m->op))
		return -EMSGSIZE;
	err = put_text(buf, cap, &off, m->netns);
	if (err)
		return err;
	if (!put_u8(buf, cap, &off, (uint8_t)m->nvips))
		return -EMSGSIZE;
	for (size_t i = 0; i < m->nvips; i++) {
		const struct vip *v = &m->vips[i];

		if (v->family != AF_INET && v->family != AF_INET6)
			return -EINVAL;
		if (!put_u8(buf, cap, &off, v->family == AF_INET ? WIRE_V4 : WIRE_V6) ||
		    !put_bytes(buf, cap, &off, v->a, vip_len(v)))
			return -EMSGSIZE;
	}
	return (int)off;
}

int msg_migrate_decode(const uint8_t *buf, size_t len, struct msg_migrate *m)
{
	size_t off = 0;
	uint8_t n;

	memset(m, 0, sizeof(*m));
	if (!get_be64(buf, len, &off, &m->op) || !get_text(buf, len, &off, m->netns, false) ||
	    !get_u8(buf, len, &off, &n) || n == 0 || n > MSG_MIGRATE_MAX_VIPS)
		return -EBADMSG;
	for (uint8_t i = 0; i < n; i++) {
		uint8_t fam, bytes[16];

		if (!get_u8(buf, len, &off, &fam) || (fam != WIRE_V4 && fam != WIRE_V6) ||
		    !get_bytes(buf, len, &off, bytes, fam == WIRE_V4 ? 4 : 16))
			return -EBADMSG;
		vip_from_bytes(&m->vips[i], fam == WIRE_V4 ? AF_INET : AF_INET6, bytes);
	}
	m->nvips = n;
	return off == len ? 0 : -EBADMSG;
}

int msg_migrate_done_encode(const struct msg_migrate_done *m, uint8_t *buf, size_t cap)
{
	size_t off = 0;
	int err;

	if (!put_be64(buf, cap, &off, m->op) || !put_u8(buf, cap, &off, m->status) ||
	    !put_be64(buf, cap, &off, m->epoch))
		return -EMSGSIZE;
	err = put_text(buf, cap, &off, m->msg);
	return err ? err : (int)off;
}

int msg_migrate_done_decode(const uint8_t *buf, size_t len, struct msg_migrate_done *m)
{
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	if (!get_be64(buf, len, &off, &m->op) || !get_u8(buf, len, &off, &m->status) ||
	    !get_be64(buf, len, &off, &m->epoch) || !get_text(buf, len, &off, m->msg, true))
		return -EBADMSG;
	return off == len ? 0 : -EBADMSG;
}
