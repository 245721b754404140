/* Defensive IPv4 / IPv6 header parsing and ICMP / ICMPv6 unreachable generation.
 *
 * Everything here reads bytes a job's kernel (or a job itself, through a raw socket)
 * wrote: every offset is checked against the length before it is read, and the IPv6
 * extension-header walk is bounded both in bytes and in count. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tunnel/wire.h"
#include "tunvnet/packet.h"

#define IP4_HDR_MIN   20
#define IP6_HDR_LEN   40
#define ICMP_HDR_LEN  8
#define IP4_ERR_MAX   576   /* RFC 1812 4.3.2.3 */
#define IP6_ERR_MAX   1280  /* RFC 4443 2.4(c): the IPv6 minimum MTU */
#define ERR_TTL       64

#define PROTO_ICMP    1
#define PROTO_ICMPV6  58
#define NH_HOPOPTS    0
#define NH_ROUTING    43
#define NH_FRAGMENT   44
#define NH_AH         51
#define NH_DSTOPTS    60

/* More extension headers than any sane sender uses; the bound also keeps l3_len within
 * 16 bits (40 + 8 * 2048 at most). */
#define IP6_MAX_EXT   8

/* The caller has checked that p[0..1] is in bounds. */
static uint16_t be16(const uint8_t *p)
{
	size_t off = 0;
	uint16_t v = 0;

	get_be16(p, 2, &off, &v);
	return v;
}

static bool all_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

static bool icmp4_is_error(uint8_t type)
{
	/* unreachable, source quench, redirect, time exceeded, parameter problem */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static int parse4(const uint8_t *p, size_t len, struct packet_info *out)
{
	size_t hl, total;
	uint16_t frag;
	const uint8_t *src = p + 12, *dst = p + 16;
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	if (len < IP4_HDR_MIN)
		return -EBADMSG;
	hl = (size_t)(p[0] & 0x0f) * 4;
	if (hl < IP4_HDR_MIN || hl > len)
		return -EBADMSG;
	total = be16(p + 2);
	/* TUN may hand over trailing padding: only the claimed length must fit. */
	if (total < hl || total > len)
		return -EBADMSG;

	frag = be16(p + 6);
	out->frag_nonfirst = (frag & 0x1fff) != 0;
	out->proto = p[9];
	out->l3_len = (uint16_t)hl;
	out->total_len = (uint32_t)total;
	vip_from_bytes(&out->src, AF_INET, src);
	vip_from_bytes(&out->dst, AF_INET, dst);

	out->dst_multicast = (dst[0] & 0xf0) == 0xe0 || !memcmp(dst, bcast, 4) ||
			     all_zero(dst, 4);
	out->src_unspecified = all_zero(src, 4) || (src[0] == 169 && src[1] == 254);
	/* Only a first fragment carries the ICMP header, and only if the type byte is
	 * inside the datagram's claimed length. */
	out->is_error = out->proto == PROTO_ICMP && !out->frag_nonfirst && total > hl &&
			icmp4_is_error(p[hl]);
	return 0;
}

static int parse6(const uint8_t *p, size_t len, struct packet_info *out)
{
	size_t total, off = IP6_HDR_LEN, hlen;
	uint8_t nh;
	unsigned n_ext = 0;
	const uint8_t *src = p + 8, *dst = p + 24;

	if (len < IP6_HDR_LEN)
		return -EBADMSG;
	total = IP6_HDR_LEN + (size_t)be16(p + 4);
	if (total > len)
		return -EBADMSG;
	nh = p[6];
	/* A jumbogram (RFC 2675) claims payload length 0 and carries its real length in a
	 * hop-by-hop option; TUN never carries one, so it is malformed here. The walk below
	 * would reject it too (no room for the hop-by-hop header within 40 bytes); this
	 * says why. */
	if (total == IP6_HDR_LEN && nh == NH_HOPOPTS)
		return -EBADMSG;

	/* Every extension header below is walked within total, not len: bytes past the
	 * payload length are padding, not headers. */
	while (nh == NH_HOPOPTS || nh == NH_ROUTING || nh == NH_FRAGMENT ||
	       nh == NH_DSTOPTS || nh == NH_AH) {
		if (n_ext == IP6_MAX_EXT)
			return -EBADMSG;
		n_ext++;
		/* Every extension header is at least 8 bytes. */
		if (total - off < 8)
			return -EBADMSG;
		if (nh == NH_FRAGMENT)
			hlen = 8;
		else if (nh == NH_AH)
			hlen = ((size_t)p[off + 1] + 2) * 4; /* RFC 4302: in 4-byte units, minus 2 */
		else
			hlen = ((size_t)p[off + 1] + 1) * 8; /* RFC 8200: in 8-byte units, minus 1 */
		if (hlen > total - off)
			return -EBADMSG;
		if (nh == NH_FRAGMENT && (be16(p + off + 2) & 0xfff8) != 0) {
			/* What follows a non-first fragment header is the middle of the
			 * original payload, not headers: stop here. */
			out->frag_nonfirst = true;
			nh = p[off];
			off += hlen;
			break;
		}
		nh = p[off];
		off += hlen;
	}

	out->proto = nh;
	out->l3_len = (uint16_t)off;
	out->total_len = (uint32_t)total;
	vip_from_bytes(&out->src, AF_INET6, src);
	vip_from_bytes(&out->dst, AF_INET6, dst);

	out->dst_multicast = dst[0] == 0xff || all_zero(dst, 16);
	out->src_unspecified = all_zero(src, 16) || (src[0] == 0xfe && (src[1] & 0xc0) == 0x80);
	/* RFC 4443 2.1: ICMPv6 types 0..127 are errors. */
	out->is_error = nh == PROTO_ICMPV6 && !out->frag_nonfirst && off < total &&
			p[off] < 128;
	return 0;
}

int packet_parse(const uint8_t *p, size_t len, struct packet_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!p || len < 1)
		return -EBADMSG;
	switch (p[0] >> 4) {
	case 4:
		return parse4(p, len, out);
	case 6:
		return parse6(p, len, out);
	default:
		return -EBADMSG;
	}
}

bool packet_may_send_error(const struct packet_info *in)
{
	return !in->is_error && !in->frag_nonfirst && !in->dst_multicast &&
	       !in->src_unspecified;
}

uint32_t packet_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint64_t acc = sum;
	size_t i;

	/* 16-bit big-endian words; a trailing odd byte is the high half of a word padded
	 * with zero (RFC 1071 4.1). A 64-bit accumulator cannot overflow for any buffer a
	 * size_t can describe in practice, so the carries are folded once at the end. */
	for (i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		acc += (uint32_t)b[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

uint16_t packet_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* How many bytes of orig to quote: the original's real length (not TUN padding), no more
 * than fits in the error's size limit and in cap. 0 when not even the minimum fits. */
static size_t quote_len(size_t avail, size_t hdr, size_t min_quote, size_t limit, size_t cap)
{
	size_t q;

	if (cap < hdr + ICMP_HDR_LEN + min_quote)
		return 0;
	q = min_sz(avail, limit - hdr - ICMP_HDR_LEN);
	return min_sz(q, cap - hdr - ICMP_HDR_LEN);
}

static int unreach4(const uint8_t *orig, size_t avail, const struct packet_info *in,
		    uint8_t *out, size_t cap)
{
	size_t q, n, off = 0;
	uint16_t csum;

	if (avail < in->l3_len || in->l3_len < IP4_HDR_MIN)
		return -EINVAL;
	q = quote_len(avail, IP4_HDR_MIN, in->l3_len, IP4_ERR_MAX, cap);
	if (!q)
		return -ENOSPC;
	n = IP4_HDR_MIN + ICMP_HDR_LEN + q;

	put_u8(out, cap, &off, 0x45);            /* version 4, IHL 5 */
	put_u8(out, cap, &off, 0);               /* TOS */
	put_be16(out, cap, &off, (uint16_t)n);
	put_be32(out, cap, &off, 0);             /* id, flags, fragment offset */
	put_u8(out, cap, &off, ERR_TTL);
	put_u8(out, cap, &off, PROTO_ICMP);
	put_be16(out, cap, &off, 0);             /* header checksum, below */
	put_bytes(out, cap, &off, in->dst.a, 4); /* from the unreachable destination */
	put_bytes(out, cap, &off, in->src.a, 4);
	csum = packet_csum_fold(packet_csum_add(0, out, IP4_HDR_MIN));
	out[10] = (uint8_t)(csum >> 8);
	out[11] = (uint8_t)csum;

	put_u8(out, cap, &off, 3);               /* destination unreachable */
	put_u8(out, cap, &off, 1);               /* host unreachable */
	put_be16(out, cap, &off, 0);             /* checksum, below */
	put_be32(out, cap, &off, 0);             /* unused */
	put_bytes(out, cap, &off, orig, q);
	csum = packet_csum_fold(packet_csum_add(0, out + IP4_HDR_MIN, ICMP_HDR_LEN + q));
	out[IP4_HDR_MIN + 2] = (uint8_t)(csum >> 8);
	out[IP4_HDR_MIN + 3] = (uint8_t)csum;
	return (int)n;
}

static int unreach6(const uint8_t *orig, size_t avail, const struct packet_info *in,
		    uint8_t *out, size_t cap)
{
	size_t q, n, off = 0;
	uint8_t pseudo[IP6_HDR_LEN];
	size_t poff = 0;
	uint32_t sum;
	uint16_t csum;

	if (avail < IP6_HDR_LEN)
		return -EINVAL;
	/* The minimum quotes the fixed header; extension headers are quoted as far as
	 * they fit, like the payload. */
	q = quote_len(avail, IP6_HDR_LEN, IP6_HDR_LEN, IP6_ERR_MAX, cap);
	if (!q)
		return -ENOSPC;
	n = IP6_HDR_LEN + ICMP_HDR_LEN + q;

	put_be32(out, cap, &off, 6u << 28);      /* version 6, traffic class 0, flow 0 */
	put_be16(out, cap, &off, (uint16_t)(ICMP_HDR_LEN + q));
	put_u8(out, cap, &off, PROTO_ICMPV6);
	put_u8(out, cap, &off, ERR_TTL);
	put_bytes(out, cap, &off, in->dst.a, 16);
	put_bytes(out, cap, &off, in->src.a, 16);

	put_u8(out, cap, &off, 1);               /* destination unreachable */
	put_u8(out, cap, &off, 3);               /* address unreachable */
	put_be16(out, cap, &off, 0);             /* checksum, below */
	put_be32(out, cap, &off, 0);             /* unused */
	put_bytes(out, cap, &off, orig, q);

	/* RFC 8200 8.1 pseudo-header: src, dst, upper-layer length, zero, next header. */
	put_bytes(pseudo, sizeof(pseudo), &poff, in->dst.a, 16);
	put_bytes(pseudo, sizeof(pseudo), &poff, in->src.a, 16);
	put_be32(pseudo, sizeof(pseudo), &poff, (uint32_t)(ICMP_HDR_LEN + q));
	put_be32(pseudo, sizeof(pseudo), &poff, PROTO_ICMPV6);
	sum = packet_csum_add(0, pseudo, sizeof(pseudo));
	sum = packet_csum_add(sum, out + IP6_HDR_LEN, ICMP_HDR_LEN + q);
	csum = packet_csum_fold(sum);
	out[IP6_HDR_LEN + 2] = (uint8_t)(csum >> 8);
	out[IP6_HDR_LEN + 3] = (uint8_t)csum;
	return (int)n;
}

int packet_icmp_unreach(const uint8_t *orig, size_t len, const struct packet_info *in,
			uint8_t *out, size_t cap)
{
	/* Quote the datagram the sender really sent: total_len, never TUN padding, and
	 * never past len even if in does not describe orig. */
	size_t avail = min_sz(len, in->total_len);

	if (in->src.family != in->dst.family)
		return -EINVAL;
	if (in->src.family == AF_INET)
		return unreach4(orig, avail, in, out, cap);
	if (in->src.family == AF_INET6)
		return unreach6(orig, avail, in, out, cap);
	return -EINVAL;
}
