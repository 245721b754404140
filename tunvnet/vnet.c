/* virtio-net headers: validation, checksum completion, software segmentation and UDP
 * coalescing.
 *
 * Segmentation follows the kernel's tcp_gso_segment / __udp_gso_segment so that a TUN
 * without offloads receives exactly what a NIC doing TSO / USO would have sent. Each
 * segment is rebuilt in the caller's scratch buffer (headers, then its slice of payload)
 * and its checksums are computed from scratch, never patched incrementally from the
 * super-packet's partial sum: what the sender's kernel put in the check field of a GSO
 * packet is then irrelevant, and a wrong partial sum cannot turn into a wrong checksum. */
#include "tunvnet/vnet.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "tunvnet/packet.h"

#define TCP_HDR_MIN   20
#define UDP_HDR_LEN   8
#define TCP_CSUM_OFF  16
#define UDP_CSUM_OFF  6
#define IP6_HDR_LEN   40
#define NH_ROUTING    43
#define NH_FRAGMENT   44
#define NH_AH         51

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

void vnet_hdr_get(const uint8_t buf[VNET_HDR_LEN], struct vnet_hdr *h)
{
	h->flags = buf[0];
	h->gso_type = buf[1];
	h->hdr_len = le16(buf + 2);
	h->gso_size = le16(buf + 4);
	h->csum_start = le16(buf + 6);
	h->csum_offset = le16(buf + 8);
}

void vnet_hdr_put(uint8_t buf[VNET_HDR_LEN], const struct vnet_hdr *h)
{
	buf[0] = h->flags;
	buf[1] = h->gso_type;
	put_le16(buf + 2, h->hdr_len);
	put_le16(buf + 4, h->gso_size);
	put_le16(buf + 6, h->csum_start);
	put_le16(buf + 8, h->csum_offset);
}

bool vnet_hdr_is_plain(const struct vnet_hdr *h)
{
	return (h->flags & ~VIRTIO_NET_HDR_F_DATA_VALID) == 0 &&
	       h->gso_type == VIRTIO_NET_HDR_GSO_NONE;
}

/* --- checksums ------------------------------------------------------------------------
 * The one's complement sum is independent of byte order (RFC 1071 2(B)): words are added
 * as they lie in memory, in host order, and the folded result is stored back the same
 * way. Every piece summed starts at an even offset of the checksummed range; only the
 * last may have an odd length. */

static uint64_t sum_mem(uint64_t acc, const uint8_t *p, size_t n)
{
	uint64_t carry = 0;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		acc += w;
		carry += acc < w;
	}
	for (; n >= 2; n -= 2, p += 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		acc += w;
		carry += acc < w;
	}
	if (n) {
		/* The odd last byte is the first byte of a word padded with zero. */
		uint16_t w = 0;

		memcpy(&w, p, 1);
		acc += w;
		carry += acc < w;
	}
	/* A carry out of bit 63 is worth 2^64, which is 1 modulo 0xffff. */
	acc += carry;
	return acc + (acc < carry);
}

/* Folds to 16 bits and inverts: the value to store, in memory order. */
static uint16_t fold(uint64_t acc)
{
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void store_csum(uint8_t *p, uint16_t c)
{
	/* 0 and 0xffff are the same sum; 0 in a UDP checksum would mean "none". */
	if (c == 0)
		c = 0xffff;
	memcpy(p, &c, 2);
}

/* Sum of the pseudo-header (RFC 768 / 793 / 8200 8.1) for l4_len bytes of proto. */
static uint64_t sum_pseudo(const uint8_t *ip, int family, uint8_t proto, uint32_t l4_len)
{
	uint8_t tail[8] = { 0 };
	uint64_t acc;

	if (family == AF_INET) {
		acc = sum_mem(0, ip + 12, 8);
		tail[1] = proto;
		put_be16(tail + 2, (uint16_t)l4_len);
		return sum_mem(acc, tail, 4);
	}
	acc = sum_mem(0, ip + 8, 32);
	put_be32(tail, l4_len);
	tail[7] = proto;
	return sum_mem(acc, tail, 8);
}

/* --- validation ------------------------------------------------------------------------ */

/* What the IPv6 header chain up to l3_len (walked and bounded by packet_parse) holds that
 * segmentation cannot cope with: a fragment header (a fragment is not a segment's worth of
 * stream) or a routing header (the pseudo-header would need the final destination from
 * it; the kernel never offloads such packets to a TUN). */
static bool ip6_unsegmentable(const uint8_t *p, size_t l3_len)
{
	uint8_t nh = p[6];
	size_t off = IP6_HDR_LEN;

	while (off < l3_len) {
		uint8_t next = p[off];

		if (nh == NH_FRAGMENT || nh == NH_ROUTING)
			return true;
		/* AH counts in 4-byte units, the others in 8-byte units (as in packet.c). */
		if (nh == NH_AH)
			off += ((size_t)p[off + 1] + 2) * 4;
		else
			off += ((size_t)p[off + 1] + 1) * 8;
		nh = next;
	}
	return false;
}

static int check_gso(const struct vnet_hdr *h, const uint8_t *pkt, size_t mtu,
		     struct vnet_info *vi)
{
	bool tcp = vi->gso != VIRTIO_NET_HDR_GSO_UDP_L4;
	uint32_t l4 = h->csum_start, thl, payload;

	if ((vi->gso == VIRTIO_NET_HDR_GSO_TCPV4 && vi->family != AF_INET) ||
	    (vi->gso == VIRTIO_NET_HDR_GSO_TCPV6 && vi->family != AF_INET6))
		return -EINVAL;
	if (vi->proto != (tcp ? IPPROTO_TCP : IPPROTO_UDP) || l4 != vi->l3_len ||
	    h->csum_offset != (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF))
		return -EINVAL;
	if (vi->family == AF_INET ? (be16(pkt + 6) & 0x3fff) != 0 /* MF or an offset */
				  : ip6_unsegmentable(pkt, vi->l3_len))
		return -EBADMSG;
	if (tcp) {
		if (l4 + TCP_HDR_MIN > vi->total_len)
			return -EBADMSG;
		thl = (uint32_t)(pkt[l4 + 12] >> 4) * 4;
		if (thl < TCP_HDR_MIN || l4 + thl > vi->total_len)
			return -EBADMSG;
	} else {
		thl = UDP_HDR_LEN; /* in the packet: csum_start + 6 + 2 <= total_len */
	}
	if (l4 + thl > VNET_MAX_HDRS)
		return -EINVAL;
	/* Every segment must be a packet the job's link could carry, and a segment must
	 * carry enough payload that cutting one super-packet cannot become a flood (gso_size
	 * 1 would turn 64 KiB into 65,495 packets). */
	if (l4 + thl + h->gso_size > mtu || (tcp && h->gso_size < VNET_TCP_GSO_MIN))
		return -EINVAL;
	vi->hdrs_len = (uint16_t)(l4 + thl);
	payload = vi->total_len - vi->hdrs_len;
	vi->segs = payload <= h->gso_size ? 1 : (payload + h->gso_size - 1) / h->gso_size;
	if (!tcp && vi->segs > VNET_UDP_MAX_SEGS)
		return -EINVAL;
	return 0;
}

int vnet_check(const struct vnet_hdr *h, const uint8_t *pkt, size_t len, size_t mtu,
	       struct vnet_info *vi)
{
	const uint8_t known = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	bool needs = h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	bool ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
	struct packet_info pi;

	memset(vi, 0, sizeof(*vi));
	vi->gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if ((h->flags & ~known) || (h->flags & known) == known)
		return -EINVAL;
	switch (vi->gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (ecn || h->gso_size != 0)
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (ecn)
			return -EINVAL;
		break;
	default: /* legacy UFO and anything unknown */
		return -EINVAL;
	}
	/* A super-packet always comes with a partial checksum: each segment needs its own. */
	if (vi->gso != VIRTIO_NET_HDR_GSO_NONE && (h->gso_size == 0 || !needs))
		return -EINVAL;
	if (h->hdr_len > len)
		return -EINVAL;
	if (packet_parse(pkt, len, &pi) < 0)
		return -EBADMSG;
	vi->family = (pkt[0] >> 4) == 4 ? AF_INET : AF_INET6;
	vi->proto = pi.proto;
	vi->l3_len = pi.l3_len;
	vi->total_len = pi.total_len;
	vi->segs = 1;
	if (!needs)
		return h->csum_start || h->csum_offset ? -EINVAL : 0;
	if (h->csum_start < pi.l3_len ||
	    (uint32_t)h->csum_start + h->csum_offset + 2 > pi.total_len)
		return -EINVAL;
	return vi->gso == VIRTIO_NET_HDR_GSO_NONE ? 0 : check_gso(h, pkt, mtu, vi);
}

/* The packet is valid and not GSO. */
static void complete(const struct vnet_hdr *h, uint8_t *pkt, uint32_t total_len)
{
	uint64_t acc = sum_mem(0, pkt + h->csum_start, total_len - h->csum_start);

	store_csum(pkt + h->csum_start + h->csum_offset, fold(acc));
}

int vnet_csum_complete(const struct vnet_hdr *h, uint8_t *pkt, size_t len)
{
	struct vnet_info vi;
	int err = vnet_check(h, pkt, len, VNET_MTU_ANY, &vi);

	if (err < 0)
		return err;
	if (vi.gso != VIRTIO_NET_HDR_GSO_NONE)
		return -EINVAL; /* each segment is completed by vnet_segment() */
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		complete(h, pkt, vi.total_len);
	return 0;
}

/* Rewrites the headers in s (a copy of the super-packet's, followed by n bytes of
 * payload) for segment i of vi->segs, payload offset off, and fills its checksums. */
static void fix_segment(const struct vnet_info *vi, uint8_t *s, uint32_t i, uint32_t off,
			uint32_t n)
{
	uint32_t l4 = vi->l3_len, seglen = vi->hdrs_len + n;
	bool tcp = vi->proto == IPPROTO_TCP;
	uint64_t acc;

	if (vi->family == AF_INET) {
		put_be16(s + 2, (uint16_t)seglen);
		put_be16(s + 4, (uint16_t)(be16(s + 4) + i));
		s[10] = s[11] = 0;
		acc = sum_mem(0, s, vi->l3_len);
		{
			uint16_t c = fold(acc);

			memcpy(s + 10, &c, 2);
		}
	} else {
		put_be16(s + 4, (uint16_t)(seglen - IP6_HDR_LEN));
	}
	if (tcp) {
		put_be32(s + l4 + 4, be32(s + l4 + 4) + off);
		if (i + 1 < vi->segs)
			s[l4 + 13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			s[l4 + 13] &= (uint8_t)~TCP_CWR;
		s[l4 + TCP_CSUM_OFF] = s[l4 + TCP_CSUM_OFF + 1] = 0;
	} else {
		put_be16(s + l4 + 4, (uint16_t)(seglen - l4));
		s[l4 + UDP_CSUM_OFF] = s[l4 + UDP_CSUM_OFF + 1] = 0;
	}
	acc = sum_pseudo(s, vi->family, vi->proto, seglen - l4);
	acc = sum_mem(acc, s + l4, seglen - l4);
	store_csum(s + l4 + (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF), fold(acc));
}

int vnet_segment(const struct vnet_hdr *h, const uint8_t *pkt, size_t len, size_t mtu,
		 uint8_t *scratch, size_t cap, vnet_emit_fn emit, void *arg)
{
	struct vnet_info vi;
	uint32_t payload, mss, off, i;
	int err = vnet_check(h, pkt, len, mtu, &vi);

	if (err < 0)
		return err;
	if (vi.gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (vi.total_len > cap)
			return -ENOSPC;
		memcpy(scratch, pkt, vi.total_len);
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			complete(h, scratch, vi.total_len);
		err = emit(scratch, vi.total_len, arg);
		return err < 0 ? err : 1;
	}
	payload = vi.total_len - vi.hdrs_len;
	mss = h->gso_size;
	if (vi.hdrs_len + (payload < mss ? payload : mss) > cap)
		return -ENOSPC;
	for (i = 0, off = 0; i < vi.segs; i++, off += mss) {
		uint32_t n = payload - off < mss ? payload - off : mss;

		memcpy(scratch, pkt, vi.hdrs_len);
		memcpy(scratch + vi.hdrs_len, pkt + vi.hdrs_len + off, n);
		fix_segment(&vi, scratch, i, off, n);
		err = emit(scratch, vi.hdrs_len + n, arg);
		if (err < 0)
			return err;
	}
	return (int)vi.segs;
}

/* --- UDP coalescing (GRO) ---------------------------------------------------------------- */

/* Whether ip is a datagram that may join a coalesced packet; *l3 gets its IP header
 * length. */
static bool gro_candidate(const struct vnet_hdr *h, const uint8_t *ip, size_t len,
			  uint16_t *l3)
{
	struct vnet_info vi;
	size_t hl;

	if (vnet_check(h, ip, len, VNET_MTU_ANY, &vi) < 0 || vi.gso != VIRTIO_NET_HDR_GSO_NONE ||
	    vi.proto != IPPROTO_UDP || vi.total_len != len)
		return false;
	if (vi.family == AF_INET ? vi.l3_len != 20 || (be16(ip + 6) & 0x3fff) != 0
				 : vi.l3_len != IP6_HDR_LEN || ip[6] != IPPROTO_UDP)
		return false;
	hl = vi.l3_len;
	if (len <= hl + UDP_HDR_LEN || be16(ip + hl + 4) != len - hl)
		return false;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (h->csum_start != hl || h->csum_offset != UDP_CSUM_OFF)
			return false;
	} else if (!(h->flags & VIRTIO_NET_HDR_F_DATA_VALID) &&
		   !(vi.family == AF_INET && ip[hl + 6] == 0 && ip[hl + 7] == 0)) {
		/* A complete checksum (IPv4's 0 means none): checked here, as nobody will. */
		uint64_t acc = sum_pseudo(ip, vi.family, IPPROTO_UDP, (uint32_t)(len - hl));

		if (fold(sum_mem(acc, ip + hl, len - hl)) != 0)
			return false;
	}
	*l3 = (uint16_t)hl;
	return true;
}

/* Same flow and same IP header but for length, id and checksum (a and b are candidates
 * with l3 bytes of IP header, of one family if their first bytes agree). */
static bool same_flow(const uint8_t *a, const uint8_t *b, size_t l3)
{
	if (l3 == 20)
		return memcmp(a, b, 2) == 0 && memcmp(a + 6, b + 6, 4) == 0 &&
		       memcmp(a + 12, b + 12, 8) == 0 && memcmp(a + 20, b + 20, 4) == 0;
	return memcmp(a, b, 4) == 0 && memcmp(a + 6, b + 6, 34) == 0 &&
	       memcmp(a + 40, b + 40, 4) == 0;
}

int vnet_gro_add(struct vnet_gro *g, const struct vnet_hdr *h, const uint8_t *ip, size_t len)
{
	const uint8_t *first = g->buf + VNET_HDR_LEN;
	uint16_t l3;
	size_t pay;

	if (!gro_candidate(h, ip, len, &l3))
		return -EINVAL;
	pay = len - l3 - UDP_HDR_LEN;
	if (g->len == 0) {
		vnet_hdr_put(g->buf, h);
		memcpy(g->buf + VNET_HDR_LEN, ip, len);
		g->len = VNET_HDR_LEN + len;
		g->l3_len = l3;
		g->seg = (uint16_t)pay;
		g->n = 1;
		g->closed = false;
		return 1;
	}
	if (g->closed || g->n == VNET_GRO_MAX_SEGS || l3 != g->l3_len || pay > g->seg ||
	    g->len + pay > VNET_GRO_BUF || (first[0] >> 4) != (ip[0] >> 4) ||
	    !same_flow(first, ip, l3))
		return 0;
	memcpy(g->buf + g->len, ip + l3 + UDP_HDR_LEN, pay);
	g->len += pay;
	g->n++;
	g->closed = pay < g->seg;
	return 1;
}

size_t vnet_gro_finish(struct vnet_gro *g)
{
	uint8_t *ip = g->buf + VNET_HDR_LEN;
	size_t len = g->len, iplen = len - VNET_HDR_LEN, l3 = g->l3_len;
	int family;
	uint16_t c;

	if (len == 0 || g->n == 1)
		goto out;
	family = (ip[0] >> 4) == 4 ? AF_INET : AF_INET6;
	if (family == AF_INET) {
		put_be16(ip + 2, (uint16_t)iplen);
		ip[10] = ip[11] = 0;
		c = fold(sum_mem(0, ip, l3));
		memcpy(ip + 10, &c, 2);
	} else {
		put_be16(ip + 4, (uint16_t)(iplen - IP6_HDR_LEN));
	}
	put_be16(ip + l3 + 4, (uint16_t)(iplen - l3));
	/* Partial, as for a NIC: the pseudo-header sum, not inverted, for this length (the
	 * kernel adjusts it to each datagram's length when it segments). */
	c = (uint16_t)~fold(sum_pseudo(ip, family, IPPROTO_UDP, (uint32_t)(iplen - l3)));
	memcpy(ip + l3 + UDP_CSUM_OFF, &c, 2);
	vnet_hdr_put(g->buf, &(struct vnet_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
		.hdr_len = (uint16_t)(l3 + UDP_HDR_LEN), .gso_size = g->seg,
		.csum_start = (uint16_t)l3, .csum_offset = UDP_CSUM_OFF });
out:
	g->len = 0;
	g->n = 0;
	g->closed = false;
	return len;
}
