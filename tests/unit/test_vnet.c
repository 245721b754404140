/* Unit tests for tunvnet/vnet.c: virtio-net headers checked field by field against the
 * packets they describe, checksum completion, and software segmentation of TCP (TSO) and
 * UDP (USO) super-packets over IPv4 and IPv6. Every checksum is verified with a naive
 * checksum written here, sharing no code with vnet.c or packet.c. Packets under test sit
 * in heap buffers of exactly their length, so ASan catches any read past the end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "tunvnet/vnet.h"

#define P_TCP 6
#define P_UDP 17

#define F_FIN 0x01
#define F_SYN 0x02
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20
#define F_ECE 0x40
#define F_CWR 0x80

#define NEEDS VIRTIO_NET_HDR_F_NEEDS_CSUM
#define VALID VIRTIO_NET_HDR_F_DATA_VALID

static const uint8_t A4_SRC[4] = { 198, 19, 1, 10 };
static const uint8_t A4_DST[4] = { 198, 19, 2, 10 };
static const uint8_t A6_SRC[16] = { 0xfd, 0, 0, 0x19, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
static const uint8_t A6_DST[16] = { 0xfd, 0, 0, 0x19, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };

/* ---- naive helpers, independent of vnet.c ---- */

static unsigned rd16(const uint8_t *p)
{
	return (unsigned)p[0] * 256 + p[1];
}

static unsigned long rd32(const uint8_t *p)
{
	return (unsigned long)rd16(p) * 65536 + rd16(p + 2);
}

static void wr16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v / 256 % 256);
	p[1] = (uint8_t)(v % 256);
}

static void wr32(uint8_t *p, unsigned long v)
{
	wr16(p, (unsigned)(v / 65536 % 65536));
	wr16(p + 2, (unsigned)(v % 65536));
}

/* Sum of 16-bit big-endian words of a, then b, as one byte string (odd tail padded). */
static unsigned long naive_sum(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	unsigned long s = 0;
	size_t n = alen + blen, i;

	for (i = 0; i < n; i += 2) {
		unsigned hi = i < alen ? a[i] : b[i - alen];
		unsigned lo = i + 1 >= n ? 0 : (i + 1 < alen ? a[i + 1] : b[i + 1 - alen]);

		s += hi * 256 + lo;
	}
	while (s > 0xffff)
		s = s % 65536 + s / 65536;
	return s;
}

/* The pseudo-header for an L4 segment of l4len bytes. */
static size_t pseudo(uint8_t *ph, const uint8_t *ip, uint8_t proto, size_t l4len)
{
	memset(ph, 0, 40);
	if (ip[0] >> 4 == 4) {
		memcpy(ph, ip + 12, 8);
		ph[9] = proto;
		wr16(ph + 10, (unsigned)l4len);
		return 12;
	}
	memcpy(ph, ip + 8, 32);
	wr32(ph + 32, l4len);
	ph[39] = proto;
	return 40;
}

/* True when the transport checksum of the IP packet p (ip header l3 bytes) verifies. */
static bool l4_csum_ok(const uint8_t *p, size_t len, size_t l3, uint8_t proto)
{
	uint8_t ph[40];
	size_t pl = pseudo(ph, p, proto, len - l3);

	if (proto == P_UDP && rd16(p + l3 + 6) == 0)
		return false; /* "no checksum" is not what we want from segmentation */
	return naive_sum(ph, pl, p + l3, len - l3) == 0xffff;
}

static bool ip4_csum_ok(const uint8_t *p)
{
	return naive_sum(p, (size_t)(p[0] & 15) * 4, NULL, 0) == 0xffff;
}

/* Builds an IP packet with a TCP or UDP header and payload; opts: IPv4 option words or,
 * for IPv6, the 8-byte units of one destination-options extension header (0: none).
 * tcp_opt_words: extra TCP header words. The transport checksum is left as the kernel
 * leaves it for NEEDS_CSUM: the folded, not inverted, pseudo-header sum. Returns the
 * length; *l3 gets the IP header length. */
static size_t build(uint8_t *b, int family, uint8_t proto, size_t opts, size_t tcp_opt_words,
		    size_t payload, uint8_t tcp_flags, size_t *l3)
{
	size_t hl, th, total, i;
	uint8_t ph[40];
	size_t pl;

	if (family == AF_INET) {
		hl = 20 + opts * 4;
		memset(b, 0, hl);
		b[0] = (uint8_t)(0x40 | (5 + opts));
		wr16(b + 4, 0xfffe); /* id: segmentation must wrap it */
		wr16(b + 6, 0x4000); /* DF */
		b[8] = 64;
		b[9] = proto;
		memcpy(b + 12, A4_SRC, 4);
		memcpy(b + 16, A4_DST, 4);
		for (i = 20; i < hl; i++)
			b[i] = 1; /* NOP options */
	} else {
		hl = 40 + (opts ? opts * 8 : 0);
		memset(b, 0, hl);
		b[0] = 0x60;
		b[1] = 0x0a; /* some traffic class and flow label bits to keep */
		b[3] = 0x77;
		b[6] = opts ? 60 : proto;
		b[7] = 64;
		memcpy(b + 8, A6_SRC, 16);
		memcpy(b + 24, A6_DST, 16);
		if (opts) {
			b[40] = proto;
			b[41] = (uint8_t)(opts - 1);
			b[42] = 1; /* PadN over the rest */
			b[43] = (uint8_t)(opts * 8 - 4);
		}
	}
	th = proto == P_TCP ? 20 + tcp_opt_words * 4 : 8;
	memset(b + hl, 0, th);
	wr16(b + hl, 40000);
	wr16(b + hl + 2, 5201);
	if (proto == P_TCP) {
		wr32(b + hl + 4, 0xfffff000UL); /* seq: segmentation must wrap it */
		wr32(b + hl + 8, 0x12345678UL);
		b[hl + 12] = (uint8_t)((th / 4) << 4);
		b[hl + 13] = tcp_flags;
		wr16(b + hl + 14, 502);
		wr16(b + hl + 18, 7); /* urgent pointer: copied */
		for (i = 20; i < th; i++)
			b[hl + i] = (uint8_t)(i == 20 ? 1 : 0xa0 + i); /* NOP + junk options */
	}
	total = hl + th + payload;
	memset(b + total, 0, 16); /* what tests that add padding find there */
	for (i = 0; i < payload; i++)
		b[hl + th + i] = (uint8_t)(i * 13 + i / 251);
	if (family == AF_INET) {
		wr16(b + 2, (unsigned)total);
		wr16(b + 10, 0xffff - (unsigned)naive_sum(b, hl, NULL, 0));
	} else {
		wr16(b + 4, (unsigned)(total - 40));
	}
	if (proto == P_UDP)
		wr16(b + hl + 4, (unsigned)(total - hl));
	pl = pseudo(ph, b, proto, total - hl);
	wr16(b + hl + (proto == P_TCP ? 16 : 6), (unsigned)naive_sum(ph, pl, NULL, 0));
	*l3 = hl;
	return total;
}

static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	assert_non_null(d);
	memcpy(d, p, len);
	return d;
}

static struct vnet_hdr hdr(uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
			   uint16_t cs, uint16_t co)
{
	struct vnet_hdr h = { flags, gso, hdr_len, gso_size, cs, co };

	return h;
}

static int check(const struct vnet_hdr *h, const uint8_t *p, size_t len)
{
	struct vnet_info vi;
	uint8_t *d = dup_exact(p, len);
	int r = vnet_check(h, d, len, VNET_MTU_ANY, &vi);

	free(d);
	return r;
}

/* ---- header codec ---- */

static void test_hdr_codec(void **state)
{
	static const uint8_t wire[VNET_HDR_LEN] = { 0x01, 0x81, 0x42, 0x00, 0xa8, 0x05,
						    0x14, 0x00, 0x10, 0x00 };
	struct vnet_hdr h;
	uint8_t out[VNET_HDR_LEN];

	vnet_hdr_get(wire, &h);
	assert_int_equal(h.flags, NEEDS);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
	assert_int_equal(h.hdr_len, 66);     /* little-endian on the wire */
	assert_int_equal(h.gso_size, 1448);
	assert_int_equal(h.csum_start, 20);
	assert_int_equal(h.csum_offset, 16);
	memset(out, 0xee, sizeof(out));
	vnet_hdr_put(out, &h);
	assert_memory_equal(out, wire, VNET_HDR_LEN);
	assert_int_equal(sizeof(struct virtio_net_hdr), VNET_HDR_LEN);
}

static void test_hdr_plain(void **state)
{
	struct vnet_hdr h = hdr(0, 0, 0, 0, 0, 0);

	assert_true(vnet_hdr_is_plain(&h));
	h.flags = VALID;
	assert_true(vnet_hdr_is_plain(&h));
	h.flags = NEEDS;
	assert_false(vnet_hdr_is_plain(&h));
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	assert_false(vnet_hdr_is_plain(&h));
}

/* ---- vnet_check: accepted ---- */

static void test_check_plain_and_valid(void **state)
{
	uint8_t b[2000];
	size_t l3, len = build(b, AF_INET, P_UDP, 0, 0, 100, 0, &l3);
	struct vnet_hdr h = hdr(0, 0, 0, 0, 0, 0);
	struct vnet_info vi;

	assert_int_equal(vnet_check(&h, b, len, VNET_MTU_ANY, &vi), 0);
	assert_int_equal(vi.family, AF_INET);
	assert_int_equal(vi.proto, P_UDP);
	assert_int_equal(vi.segs, 1);
	assert_int_equal(vi.total_len, len);
	assert_int_equal(vi.hdrs_len, 0);
	h.flags = VALID;
	assert_int_equal(check(&h, b, len), 0);
	/* hdr_len is a hint: anything within the packet will do (the kernel reports its
	 * linear head length there), also on a packet that is not GSO. */
	h.hdr_len = (uint16_t)len;
	assert_int_equal(check(&h, b, len), 0);
	/* TUN padding past the IP length is allowed */
	assert_int_equal(check(&h, b, len + 4), 0);
}

static void test_check_gso_accepted(void **state)
{
	uint8_t b[70000];
	size_t l3, len = build(b, AF_INET6, P_TCP, 2, 3, 9000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV6, 86, 1000, (uint16_t)l3, 16);
	struct vnet_info vi;
	uint8_t *d = dup_exact(b, len);

	assert_int_equal(vnet_check(&h, d, len, VNET_MTU_ANY, &vi), 0);
	assert_int_equal(vi.family, AF_INET6);
	assert_int_equal(vi.gso, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(vi.l3_len, 56);
	assert_int_equal(vi.hdrs_len, 56 + 32);
	assert_int_equal(vi.segs, 9);
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN; /* ECN is fine with TCP */
	assert_int_equal(vnet_check(&h, d, len, VNET_MTU_ANY, &vi), 0);
	assert_int_equal(vi.gso, VIRTIO_NET_HDR_GSO_TCPV6);
	h.gso_size = 9000; /* not larger than one segment: still valid, one segment */
	assert_int_equal(vnet_check(&h, d, len, VNET_MTU_ANY, &vi), 0);
	assert_int_equal(vi.segs, 1);
	h.gso_size = 8999;
	assert_int_equal(vnet_check(&h, d, len, VNET_MTU_ANY, &vi), 0);
	assert_int_equal(vi.segs, 2);
	free(d);
}

/* ---- vnet_check: every field refused when wrong ---- */

static void test_check_flags(void **state)
{
	uint8_t b[2000];
	size_t l3, len = build(b, AF_INET, P_TCP, 0, 0, 100, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, 0, 0, 0, 20, 16);

	assert_int_equal(check(&h, b, len), 0);
	h.flags = NEEDS | VALID; /* contradictory */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.flags = NEEDS | 0x04;  /* RSC_INFO and unknown bits */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.flags = 0x80;
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_gso_type(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET, P_UDP, 0, 0, 3000, 0, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 0, 1000, 20, 6);

	assert_int_equal(check(&h, b, len), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP; /* legacy UFO */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.gso_type = 2;
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.gso_type = 6;
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(check(&h, b, len), -EINVAL);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_ECN, 0, 0, 20, 6); /* ECN without GSO */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 0, 1000, 20, 6); /* TCP type, UDP packet */
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_gso_size(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET, P_TCP, 0, 0, 3000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 20, 16);

	assert_int_equal(check(&h, b, len), 0);
	h.gso_size = 0;
	assert_int_equal(check(&h, b, len), -EINVAL);
	h = hdr(NEEDS, 0, 0, 1000, 20, 16); /* a segment size without GSO */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h = hdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 0, 0); /* GSO without NEEDS_CSUM */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h = hdr(VALID, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 0, 0);
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_hdr_len(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET, P_TCP, 0, 0, 3000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, (uint16_t)len, 1000, 20, 16);

	assert_int_equal(check(&h, b, len), 0);
	h.hdr_len = (uint16_t)(len + 1);
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.hdr_len = 0xffff;
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_csum_fields(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET, P_TCP, 2, 0, 100, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, 0, 0, 0, 28, 16);

	assert_int_equal(check(&h, b, len), 0);
	h.csum_start = 27; /* inside the IP header (with its options) */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.csum_start = 0;
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.csum_start = (uint16_t)len; /* beyond the packet */
	h.csum_offset = 0;
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.csum_start = (uint16_t)(len - 2); /* the last two bytes: still inside */
	assert_int_equal(check(&h, b, len), 0);
	h.csum_start = 28;
	h.csum_offset = (uint16_t)(len - 28 - 1); /* field would cross the end */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.csum_offset = 0xffff;
	assert_int_equal(check(&h, b, len), -EINVAL);
	/* The IP length decides, not the buffer: padding does not hold a checksum. */
	h.csum_offset = (uint16_t)(len - 28 - 2);
	assert_int_equal(check(&h, b, len), 0);
	assert_int_equal(check(&h, b, len + 10), 0);
	h.csum_offset = (uint16_t)(len - 28);
	assert_int_equal(check(&h, b, len + 10), -EINVAL);
	/* without NEEDS_CSUM, the checksum fields must be zero */
	h = hdr(0, 0, 0, 0, 28, 0);
	assert_int_equal(check(&h, b, len), -EINVAL);
	h = hdr(VALID, 0, 0, 0, 0, 16);
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_gso_csum_placement(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET, P_TCP, 0, 0, 3000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 20, 16);

	h.csum_offset = 6; /* not the TCP check field */
	assert_int_equal(check(&h, b, len), -EINVAL);
	h.csum_offset = 16;
	h.csum_start = 24; /* not the transport header */
	assert_int_equal(check(&h, b, len), -EINVAL);
	len = build(b, AF_INET6, P_UDP, 0, 0, 3000, 0, &l3);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 48, 1000, 40, 6);
	assert_int_equal(check(&h, b, len), 0);
	h.csum_offset = 16;
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_family_mismatch(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET6, P_TCP, 0, 0, 3000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV6, 60, 1000, 40, 16);

	assert_int_equal(check(&h, b, len), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	assert_int_equal(check(&h, b, len), -EINVAL);
	len = build(b, AF_INET, P_TCP, 0, 0, 3000, F_ACK, &l3);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV6, 40, 1000, 20, 16);
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_bad_packets(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET, P_TCP, 0, 0, 3000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 20, 16);
	uint8_t c[5000];

	memcpy(c, b, len);
	c[0] = 0x55; /* no such IP version */
	assert_int_equal(check(&h, c, len), -EBADMSG);
	assert_int_equal(check(&h, b, 19), -EINVAL); /* hdr_len 40 beyond 19 bytes */
	h.hdr_len = 0;
	assert_int_equal(check(&h, b, 19), -EBADMSG);
	assert_int_equal(check(&h, b, len - 1), -EBADMSG); /* IP length beyond the data */
	/* a fragment cannot be segmented (MF set; then an offset) */
	memcpy(c, b, len);
	wr16(c + 6, 0x2000);
	assert_int_equal(check(&h, c, len), -EBADMSG);
	wr16(c + 6, 0x0010);
	assert_int_equal(check(&h, c, len), -EBADMSG);
	/* TCP data offset below 5 words, or beyond the packet */
	memcpy(c, b, len);
	c[20 + 12] = 0x40;
	assert_int_equal(check(&h, c, len), -EBADMSG);
	len = build(b, AF_INET, P_TCP, 0, 0, 0, F_ACK, &l3); /* 40 bytes: header only */
	memcpy(c, b, len);
	c[20 + 12] = 0x60; /* 24-byte header in 20 bytes */
	assert_int_equal(check(&h, c, len), -EBADMSG);
	/* too many headers to repeat in every segment */
	len = build(b, AF_INET6, P_TCP, 30, 0, 1000, F_ACK, &l3);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV6, 0, 100, (uint16_t)l3, 16);
	assert_int_equal(check(&h, b, len), -EINVAL);
}

static void test_check_ip6_frag_and_routing(void **state)
{
	uint8_t b[5000];
	size_t l3, len = build(b, AF_INET6, P_UDP, 1, 0, 3000, 0, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 0, 1000, 48, 6);

	assert_int_equal(check(&h, b, len), 0);
	b[6] = 44; /* the extension header is a fragment header now */
	b[41] = 0;
	assert_int_equal(check(&h, b, len), -EBADMSG);
	b[6] = 43; /* a routing header */
	assert_int_equal(check(&h, b, len), -EBADMSG);
	/* not GSO: the checksum can be completed whatever the headers */
	h = hdr(NEEDS, 0, 0, 0, 48, 6);
	assert_int_equal(check(&h, b, len), 0);
}

static void test_check_udp_segment_limit(void **state)
{
	uint8_t b[70000];
	size_t l3, len = build(b, AF_INET, P_UDP, 0, 0, 128 * 100, 0, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 28, 100, 20, 6);

	assert_int_equal(check(&h, b, len), 0);
	len = build(b, AF_INET, P_UDP, 0, 0, 128 * 100 + 1, 0, &l3);
	assert_int_equal(check(&h, b, len), -EINVAL);
	/* TCP's is a smallest segment (below) */
	len = build(b, AF_INET, P_TCP, 0, 0, 60000, F_ACK, &l3);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 40, VNET_TCP_GSO_MIN, 20, 16);
	assert_int_equal(check(&h, b, len), 0);
}

static int emit_count(const uint8_t *pkt, size_t len, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

/* A TCP segment carries at least VNET_TCP_GSO_MIN bytes: one hostile DATA frame with
 * gso_size 1 over 65,495 bytes of payload used to become 65,495 packets in a job's TUN. */
static void test_check_tcp_gso_min(void **state)
{
	static uint8_t b[70000], scratch[70000];
	size_t l3, len;
	struct vnet_hdr h;
	size_t emitted = 0;

	for (int k = 0; k < 2; k++) {
		int family = k ? AF_INET6 : AF_INET;
		uint8_t gso = k ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;

		len = build(b, family, P_TCP, 0, 0, 65495, F_ACK, &l3);
		h = hdr(NEEDS, gso, (uint16_t)(l3 + 20), 1, (uint16_t)l3, 16);
		assert_int_equal(check(&h, b, len), -EINVAL);
		assert_int_equal(vnet_segment(&h, b, len, VNET_MTU_ANY, scratch, sizeof(scratch),
					      emit_count, &emitted), -EINVAL);
		assert_int_equal(emitted, 0);
		h.gso_size = VNET_TCP_GSO_MIN - 1;
		assert_int_equal(check(&h, b, len), -EINVAL);
		h.gso_size = VNET_TCP_GSO_MIN;
		assert_int_equal(check(&h, b, len), 0);
		/* one byte of payload does not make it any more acceptable */
		len = build(b, family, P_TCP, 0, 0, 1, F_ACK, &l3);
		h.gso_size = 1;
		assert_int_equal(check(&h, b, len), -EINVAL);
	}
	/* UDP is bounded by its segment count instead: a 1-byte datagram is a datagram */
	len = build(b, AF_INET, P_UDP, 0, 0, 128, 0, &l3);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 28, 1, 20, 6);
	assert_int_equal(check(&h, b, len), 0);
}

/* Every segment fits the MTU it is cut for: IP and transport headers plus gso_size. */
static void test_check_mtu(void **state)
{
	static uint8_t b[70000];
	size_t l3, len = build(b, AF_INET, P_TCP, 0, 3, 20000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 52, 1448, 20, 16);
	struct vnet_info vi;

	assert_int_equal(vnet_check(&h, b, len, 1500, &vi), 0); /* 20 + 32 + 1448 */
	h.gso_size = 1449;
	assert_int_equal(vnet_check(&h, b, len, 1500, &vi), -EINVAL);
	assert_int_equal(vnet_check(&h, b, len, 1501, &vi), 0);
	h.gso_size = 0xffff; /* the kernel's GSO_BY_FRAGS: never a segment size */
	assert_int_equal(vnet_check(&h, b, len, VNET_MTU_ANY, &vi), -EINVAL);
	len = build(b, AF_INET6, P_UDP, 0, 0, 20000, 0, &l3);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 48, 1232, 40, 6);
	assert_int_equal(vnet_check(&h, b, len, 1280, &vi), 0);
	h.gso_size = 1233;
	assert_int_equal(vnet_check(&h, b, len, 1280, &vi), -EINVAL);
	/* not GSO: the MTU is not ours to check (the packet is written as it came) */
	len = build(b, AF_INET, P_UDP, 0, 0, 3000, 0, &l3);
	h = hdr(NEEDS, 0, 0, 0, 20, 6);
	assert_int_equal(vnet_check(&h, b, len, 1500, &vi), 0);
}

/* ---- checksum completion ---- */

static void complete_one(int family, uint8_t proto, size_t payload)
{
	uint8_t b[5000];
	size_t l3, len = build(b, family, proto, family == AF_INET ? 1 : 0, 0, payload, F_ACK,
			       &l3);
	struct vnet_hdr h = hdr(NEEDS, 0, 0, 0, (uint16_t)l3, proto == P_TCP ? 16 : 6);
	uint8_t *d = dup_exact(b, len);

	assert_false(l4_csum_ok(d, len, l3, proto));
	assert_int_equal(vnet_csum_complete(&h, d, len), 0);
	assert_true(l4_csum_ok(d, len, l3, proto));
	/* only the checksum field changed */
	memcpy(b + l3 + h.csum_offset, d + l3 + h.csum_offset, 2);
	assert_memory_equal(b, d, len);
	free(d);
}

static void test_csum_complete(void **state)
{
	complete_one(AF_INET, P_TCP, 1000);
	complete_one(AF_INET, P_TCP, 999); /* odd length */
	complete_one(AF_INET, P_UDP, 1);
	complete_one(AF_INET6, P_TCP, 0);
	complete_one(AF_INET6, P_UDP, 1471);
}

static void test_csum_complete_nothing_to_do(void **state)
{
	uint8_t b[2000];
	size_t l3, len = build(b, AF_INET, P_UDP, 0, 0, 10, 0, &l3);
	struct vnet_hdr h = hdr(VALID, 0, 0, 0, 0, 0);
	uint8_t *d = dup_exact(b, len);

	assert_int_equal(vnet_csum_complete(&h, d, len), 0);
	assert_memory_equal(b, d, len);
	h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 0, 4, 20, 6); /* GSO: per segment only */
	assert_int_equal(vnet_csum_complete(&h, d, len), -EINVAL);
	h = hdr(NEEDS, 0, 0, 0, 10, 6); /* refused header: nothing written */
	assert_int_equal(vnet_csum_complete(&h, d, len), -EINVAL);
	assert_memory_equal(b, d, len);
	free(d);
}

/* The 64-bit accumulation's last carry: data whose words (as the daemon adds them, 8
 * bytes at a time in host order, then 2) bring the sum to 2^64 - 2 with one carry, then
 * add 1: acc = 2^64 - 1 and carry 1, so adding the carry wraps once more, and that wrap
 * is worth 1 too. The UDP header is the first word; the payload's first word is its
 * complement (sum 2^64 - 1), then 8 bytes of 0xff (2^64 - 2, one carry), then a 16-bit
 * word of 1. */
static void test_csum_final_carry(void **state)
{
	uint8_t b[2000];
	size_t l3, len = build(b, AF_INET, P_UDP, 0, 0, 18, 0, &l3);
	struct vnet_hdr h = hdr(NEEDS, 0, 0, 0, (uint16_t)l3, 6);
	uint64_t w;
	uint16_t one = 1;
	uint8_t *d;

	memcpy(&w, b + l3, 8);
	w = ~w;
	memcpy(b + l3 + 8, &w, 8);
	memset(b + l3 + 16, 0xff, 8);
	memcpy(b + l3 + 24, &one, 2);
	assert_int_equal(len, l3 + 26);
	d = dup_exact(b, len);
	assert_int_equal(vnet_csum_complete(&h, d, len), 0);
	assert_true(l4_csum_ok(d, len, l3, P_UDP));
	free(d);
}

/* A UDP checksum that comes out as 0 must be sent as 0xffff (0 means "none"). */
static void test_csum_udp_zero(void **state)
{
	uint8_t b[2000], ph[40];
	size_t l3, len = build(b, AF_INET, P_UDP, 0, 0, 10, 0, &l3), pl;
	struct vnet_hdr h = hdr(NEEDS, 0, 0, 0, 20, 6);
	unsigned long s;
	uint8_t *d;

	/* Choose the last two payload bytes so the full sum is 0xffff (checksum 0). */
	wr16(b + len - 2, 0);
	wr16(b + 26, 0);
	pl = pseudo(ph, b, P_UDP, len - l3);
	s = naive_sum(ph, pl, b + l3, len - l3);
	wr16(b + len - 2, (unsigned)(0xffff - s));
	assert_int_equal(naive_sum(ph, pl, b + l3, len - l3), 0xffff);
	wr16(b + 26, (unsigned)naive_sum(ph, pl, NULL, 0)); /* the partial sum again */
	d = dup_exact(b, len);
	assert_int_equal(vnet_csum_complete(&h, d, len), 0);
	assert_int_equal(rd16(d + 26), 0xffff);
	assert_true(l4_csum_ok(d, len, l3, P_UDP));
	free(d);
}

/* ---- segmentation ---- */

#define MAX_SEGS 70000

struct seglist {
	size_t n;
	uint8_t *p[MAX_SEGS];
	size_t len[MAX_SEGS];
	int fail_at; /* emit returns -EPIPE on this call (1-based), 0: never */
};

static int collect(const uint8_t *pkt, size_t len, void *arg)
{
	struct seglist *s = arg;

	if (s->fail_at && (int)s->n + 1 == s->fail_at)
		return -EPIPE;
	assert_true(s->n < MAX_SEGS);
	s->p[s->n] = dup_exact(pkt, len);
	s->len[s->n++] = len;
	return 0;
}

static void seglist_free(struct seglist *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->p[i]);
	s->n = 0;
}

static struct seglist segs;

/* Segments a built packet and checks every segment against the original. */
static void tso_case(int family, uint8_t proto, size_t opts, size_t topt, size_t payload,
		     uint16_t mss, uint8_t flags, bool ecn)
{
	static uint8_t b[70000], scratch[70000];
	size_t l3, len = build(b, family, proto, opts, topt, payload, flags, &l3);
	size_t th = proto == P_TCP ? 20 + topt * 4 : 8, hdrs = l3 + th, got = 0;
	uint8_t gso = proto == P_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4
		    : family == AF_INET ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	struct vnet_hdr h = hdr(NEEDS, (uint8_t)(gso | (ecn ? VIRTIO_NET_HDR_GSO_ECN : 0)),
				(uint16_t)hdrs, mss, (uint16_t)l3, proto == P_TCP ? 16 : 6);
	size_t want = payload <= mss ? 1 : (payload + mss - 1) / mss;
	uint8_t *orig = dup_exact(b, len);
	int n;

	memset(&segs, 0, sizeof(segs));
	n = vnet_segment(&h, orig, len, VNET_MTU_ANY, scratch, sizeof(scratch), collect, &segs);
	assert_int_equal(n, (int)want);
	assert_int_equal(segs.n, want);
	assert_memory_equal(orig, b, len); /* the input is left alone */
	for (size_t i = 0; i < segs.n; i++) {
		const uint8_t *s = segs.p[i];
		size_t sl = segs.len[i], pl = sl - hdrs;
		bool last = i + 1 == segs.n;

		assert_true(sl > hdrs || payload == 0);
		assert_true(pl <= mss || segs.n == 1);
		if (!last)
			assert_int_equal(pl, mss);
		/* payload slice */
		assert_memory_equal(s + hdrs, b + hdrs + got, pl);
		got += pl;
		/* IP header */
		if (family == AF_INET) {
			assert_int_equal(rd16(s + 2), sl);
			assert_int_equal(rd16(s + 4), (0xfffe + i) % 65536);
			assert_true(ip4_csum_ok(s));
			assert_memory_equal(s + 6, b + 6, 4);    /* flags, ttl, proto */
			assert_memory_equal(s + 12, b + 12, l3 - 12); /* addresses, options */
		} else {
			assert_int_equal(rd16(s + 4), sl - 40);
			assert_memory_equal(s, b, 4);
			assert_memory_equal(s + 6, b + 6, l3 - 6);
		}
		/* transport header */
		assert_memory_equal(s + l3, b + l3, 4); /* ports */
		assert_true(l4_csum_ok(s, sl, l3, proto));
		if (proto == P_TCP) {
			uint8_t f = s[l3 + 13], want_f = flags;

			assert_int_equal(rd32(s + l3 + 4), (0xfffff000UL + i * mss) % 4294967296UL);
			if (!last)
				want_f &= (uint8_t)~(F_FIN | F_PSH);
			if (i > 0)
				want_f &= (uint8_t)~F_CWR;
			assert_int_equal(f, want_f);
			assert_memory_equal(s + l3 + 8, b + l3 + 8, 5);   /* ack, offset */
			assert_memory_equal(s + l3 + 14, b + l3 + 14, 2); /* window */
			assert_memory_equal(s + l3 + 18, b + l3 + 18, th - 18); /* urg, options */
		} else {
			assert_int_equal(rd16(s + l3 + 4), sl - l3);
		}
	}
	assert_int_equal(got, payload);
	seglist_free(&segs);
	free(orig);
}

static void test_tso4(void **state)
{
	tso_case(AF_INET, P_TCP, 0, 3, 10000, 1448, F_ACK | F_PSH | F_FIN | F_CWR | F_ECE, true);
	tso_case(AF_INET, P_TCP, 2, 0, 14480, 1448, F_ACK | F_PSH, false); /* exact multiple */
	tso_case(AF_INET, P_TCP, 0, 0, 65535 - 40, 1460, F_ACK | F_URG, false); /* largest */
	tso_case(AF_INET, P_TCP, 0, 0, 1001, VNET_TCP_GSO_MIN, F_ACK, false); /* smallest */
}

static void test_tso6(void **state)
{
	tso_case(AF_INET6, P_TCP, 0, 3, 10000, 1428, F_ACK | F_PSH | F_FIN | F_CWR, true);
	tso_case(AF_INET6, P_TCP, 2, 0, 3333, 1000, F_ACK | F_PSH, false); /* ext header */
	tso_case(AF_INET6, P_TCP, 0, 0, 65535 - 60, 1440, F_ACK, false);
}

static void test_uso(void **state)
{
	tso_case(AF_INET, P_UDP, 0, 0, 9000, 1472, 0, false);
	tso_case(AF_INET, P_UDP, 1, 0, 64 * 128, 64, 0, false); /* the most segments */
	tso_case(AF_INET6, P_UDP, 0, 0, 5000, 1452, 0, false);
	tso_case(AF_INET6, P_UDP, 1, 0, 2905, 1000, 0, false);
}

static void test_gso_single_segment(void **state)
{
	tso_case(AF_INET, P_TCP, 0, 0, 1000, 1448, F_ACK | F_PSH | F_FIN | F_CWR, true);
	tso_case(AF_INET6, P_UDP, 0, 0, 1452, 1452, 0, false);
	tso_case(AF_INET, P_TCP, 0, 0, 0, 1448, F_ACK | F_FIN, false); /* no payload */
}

static void test_segment_not_gso(void **state)
{
	static uint8_t b[2000], scratch[2000];
	size_t l3, len = build(b, AF_INET6, P_TCP, 0, 0, 777, F_ACK | F_PSH, &l3);
	struct vnet_hdr h = hdr(NEEDS, 0, 0, 0, 40, 16);
	uint8_t *d = dup_exact(b, len + 3); /* with 3 bytes of padding, not emitted */

	memset(&segs, 0, sizeof(segs));
	assert_int_equal(vnet_segment(&h, d, len + 3, VNET_MTU_ANY, scratch, sizeof(scratch), collect, &segs),
			 1);
	assert_int_equal(segs.len[0], len);
	assert_true(l4_csum_ok(segs.p[0], len, l3, P_TCP));
	seglist_free(&segs);
	/* a plain header: the packet as it is */
	h = hdr(0, 0, 0, 0, 0, 0);
	assert_int_equal(vnet_segment(&h, d, len, VNET_MTU_ANY, scratch, sizeof(scratch), collect, &segs), 1);
	assert_memory_equal(segs.p[0], b, len);
	seglist_free(&segs);
	free(d);
}

static void test_segment_errors(void **state)
{
	static uint8_t b[20000], scratch[20000];
	size_t l3, len = build(b, AF_INET, P_TCP, 0, 0, 10000, F_ACK, &l3);
	struct vnet_hdr h = hdr(NEEDS, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 20, 16);

	memset(&segs, 0, sizeof(segs));
	/* scratch must hold one segment */
	assert_int_equal(vnet_segment(&h, b, len, VNET_MTU_ANY, scratch, 1039, collect, &segs), -ENOSPC);
	assert_int_equal(segs.n, 0);
	assert_int_equal(vnet_segment(&h, b, len, VNET_MTU_ANY, scratch, 1040, collect, &segs), 10);
	seglist_free(&segs);
	/* emit's error stops it */
	segs.fail_at = 4;
	assert_int_equal(vnet_segment(&h, b, len, VNET_MTU_ANY, scratch, sizeof(scratch), collect, &segs),
			 -EPIPE);
	assert_int_equal(segs.n, 3);
	seglist_free(&segs);
	segs.fail_at = 0;
	/* a refused header emits nothing */
	h.gso_size = 0;
	assert_int_equal(vnet_segment(&h, b, len, VNET_MTU_ANY, scratch, sizeof(scratch), collect, &segs),
			 -EINVAL);
	assert_int_equal(segs.n, 0);
	h = hdr(NEEDS, 0, 0, 0, 20, 16);
	assert_int_equal(vnet_segment(&h, b, len, VNET_MTU_ANY, scratch, 100, collect, &segs), -ENOSPC);
}

/* Random sizes and segment sizes, both families and protocols: every case checked as in
 * tso_case. */
static void test_segment_random(void **state)
{
	srandom(5);
	for (int k = 0; k < 300; k++) {
		int family = random() % 2 ? AF_INET : AF_INET6;
		uint8_t proto = random() % 2 ? P_TCP : P_UDP;
		size_t payload = (size_t)random() % 20000;
		uint16_t mss = (uint16_t)(1 + random() % 3000);

		if (proto == P_TCP && mss < VNET_TCP_GSO_MIN)
			mss = VNET_TCP_GSO_MIN;

		if (proto == P_UDP && payload > (size_t)mss * 128)
			payload = (size_t)mss * 128;
		tso_case(family, proto, (size_t)random() % 3, (size_t)random() % 4, payload, mss,
			 (uint8_t)(F_ACK | (random() % 2 ? F_PSH | F_FIN : 0) |
				   (random() % 2 ? F_CWR : 0)),
			 proto == P_TCP && random() % 2);
	}
}

/* Hostile input: random headers over random and mutated packets never read out of
 * bounds (ASan) and never emit anything that is not a valid IP packet. */
static int emit_ok(const uint8_t *pkt, size_t len, void *arg)
{
	size_t *n = arg;

	assert_true(len >= 20);
	assert_true((pkt[0] >> 4) == 4 || (pkt[0] >> 4) == 6);
	(*n)++;
	return 0;
}

static void test_hostile(void **state)
{
	static uint8_t b[5000], scratch[5000];
	size_t emitted = 0;

	srandom(7);
	for (int k = 0; k < 20000; k++) {
		int family = random() % 2 ? AF_INET : AF_INET6;
		bool tcp = random() % 2;
		size_t l3, len = build(b, family, tcp ? P_TCP : P_UDP, (size_t)random() % 3,
				       (size_t)random() % 3, (size_t)random() % 3000, F_ACK, &l3);
		struct vnet_hdr h;
		uint8_t raw[VNET_HDR_LEN], *d;
		int r;

		for (int i = 0; i < VNET_HDR_LEN; i++)
			raw[i] = (uint8_t)random();
		vnet_hdr_get(raw, &h);
		if (random() % 4) {
			/* mostly plausible values, so that the deeper checks are reached */
			h.flags = random() % 4 ? NEEDS : h.flags & 3;
			h.gso_type = random() % 4 == 0 ? h.gso_type & 0x85
				   : !tcp ? VIRTIO_NET_HDR_GSO_UDP_L4
				   : family == AF_INET ? VIRTIO_NET_HDR_GSO_TCPV4
				   : VIRTIO_NET_HDR_GSO_TCPV6;
			h.csum_start = (uint16_t)(l3 + (random() % 4 ? 0 : random() % 3 - 1));
			h.csum_offset = random() % 4 ? (tcp ? 16 : 6) : random() % 2 ? 16 : 6;
			h.hdr_len = (uint16_t)(random() % (len + 2));
			h.gso_size = (uint16_t)(random() % 2000);
		}
		for (int m = random() % 4; m > 0; m--)
			b[(size_t)random() % len] = (uint8_t)random();
		len = (size_t)random() % 8 ? len : (size_t)random() % (len + 1);
		d = dup_exact(b, len);
		r = vnet_segment(&h, d, len, VNET_MTU_ANY, scratch, sizeof(scratch), emit_ok, &emitted);
		assert_true(r > 0 || r == -EINVAL || r == -EBADMSG);
		if (random() % 2)
			vnet_csum_complete(&h, d, len);
		free(d);
	}
	assert_true(emitted > 10000); /* the deeper paths were reached */
}

/* ---- UDP coalescing ---- */

/* A UDP datagram with payload bytes derived from seq; its checksum complete (full) or
 * partial, as build() leaves it. Returns the length. */
static size_t datagram(uint8_t *b, int family, size_t payload, unsigned seq, bool full,
		       size_t *l3)
{
	size_t len = build(b, family, P_UDP, 0, 0, payload, 0, l3), i;

	for (i = 0; i < payload; i++)
		b[*l3 + 8 + i] = (uint8_t)(seq * 31 + i);
	if (full) {
		uint8_t ph[40];
		size_t pl = pseudo(ph, b, P_UDP, len - *l3);

		wr16(b + *l3 + 6, 0);
		wr16(b + *l3 + 6, 0xffff - (unsigned)naive_sum(ph, pl, b + *l3, len - *l3));
		assert_true(l4_csum_ok(b, len, *l3, P_UDP));
	}
	return len;
}

static void gro_roundtrip(int family, size_t seg, size_t last, unsigned n)
{
	static uint8_t gbuf[VNET_GRO_BUF], scratch[70000];
	static uint8_t orig[VNET_GRO_MAX_SEGS][2000];
	struct vnet_gro g = { .buf = gbuf };
	size_t l3, olen[VNET_GRO_MAX_SEGS], len;
	struct vnet_hdr h;

	for (unsigned i = 0; i < n; i++) {
		bool full = i % 2; /* partial and complete checksums mixed */
		struct vnet_hdr dh = full ? hdr(i % 4 == 3 ? VALID : 0, 0, 0, 0, 0, 0)
					  : hdr(NEEDS, 0, 0, 0, 0, 6);
		uint8_t *d;

		olen[i] = datagram(orig[i], family, i + 1 == n ? last : seg, i, full, &l3);
		dh.csum_start = full ? 0 : (uint16_t)l3;
		d = dup_exact(orig[i], olen[i]);
		assert_int_equal(vnet_gro_add(&g, &dh, d, olen[i]), 1);
		free(d);
	}
	assert_int_equal(g.n, n);
	len = vnet_gro_finish(&g);
	assert_int_equal(g.len, 0);
	vnet_hdr_get(gbuf, &h);
	if (n == 1) {
		assert_int_equal(len, VNET_HDR_LEN + olen[0]);
		assert_memory_equal(gbuf + VNET_HDR_LEN, orig[0], olen[0]);
		return;
	}
	assert_int_equal(h.flags, NEEDS);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	assert_int_equal(h.gso_size, seg);
	assert_int_equal(h.csum_start, l3);
	assert_int_equal(h.csum_offset, 6);
	if (family == AF_INET)
		assert_true(ip4_csum_ok(gbuf + VNET_HDR_LEN));
	{
		/* The partial checksum a NIC (or the kernel) completes: the pseudo-header
		 * sum for the UDP length in the header, not inverted. */
		uint8_t ph[40];
		const uint8_t *ip = gbuf + VNET_HDR_LEN;
		size_t pl = pseudo(ph, ip, P_UDP, rd16(ip + l3 + 4));

		assert_int_equal(rd16(ip + l3 + 4), len - VNET_HDR_LEN - l3);
		assert_int_equal(rd16(ip + l3 + 6), naive_sum(ph, pl, NULL, 0));
	}
	/* Cut again, it gives back every datagram: same payload, valid checksums. */
	memset(&segs, 0, sizeof(segs));
	assert_int_equal(vnet_segment(&h, gbuf + VNET_HDR_LEN, len - VNET_HDR_LEN, VNET_MTU_ANY, scratch,
				      sizeof(scratch), collect, &segs), (int)n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(segs.len[i], olen[i]);
		assert_memory_equal(segs.p[i] + l3, orig[i] + l3, 6); /* ports, length */
		assert_memory_equal(segs.p[i] + l3 + 8, orig[i] + l3 + 8, olen[i] - l3 - 8);
		assert_true(l4_csum_ok(segs.p[i], segs.len[i], l3, P_UDP));
		if (family == AF_INET)
			assert_true(ip4_csum_ok(segs.p[i]));
	}
	seglist_free(&segs);
}

static void test_gro_roundtrip(void **state)
{
	gro_roundtrip(AF_INET, 64, 64, 40);
	gro_roundtrip(AF_INET, 1000, 17, 9);    /* a shorter last one */
	gro_roundtrip(AF_INET6, 1200, 1200, 2);
	gro_roundtrip(AF_INET6, 1, 1, VNET_GRO_MAX_SEGS);
	gro_roundtrip(AF_INET, 1472, 1472, 44); /* 44 x 1472 + 28 = 64796: nearly full */
	gro_roundtrip(AF_INET6, 500, 500, 1);   /* alone: as it came */
}

static void test_gro_refusals(void **state)
{
	static uint8_t gbuf[VNET_GRO_BUF], a[4000], b[4000];
	struct vnet_gro g = { .buf = gbuf };
	struct vnet_hdr plain = hdr(0, 0, 0, 0, 0, 0), partial = hdr(NEEDS, 0, 0, 0, 20, 6);
	size_t l3, la = datagram(a, AF_INET, 100, 1, true, &l3), lb;

	assert_int_equal(vnet_gro_add(&g, &plain, a, la), 1);
	/* another port, TTL, ECN bits, address: another flow */
	lb = datagram(b, AF_INET, 100, 2, false, &l3);
	wr16(b + 22, 5202);
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	lb = datagram(b, AF_INET, 100, 2, false, &l3);
	b[8] = 63;
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	lb = datagram(b, AF_INET, 100, 2, false, &l3);
	b[6] ^= 0x40; /* DF */
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	lb = datagram(b, AF_INET, 100, 2, false, &l3);
	b[1] = 0x03;
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	lb = datagram(b, AF_INET, 100, 2, false, &l3);
	b[19] ^= 1;
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	/* IPv6 after IPv4 */
	lb = datagram(b, AF_INET6, 100, 2, false, &l3);
	partial.csum_start = 40;
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	partial.csum_start = 20;
	/* larger than the first: no; shorter: yes, and then nothing more */
	lb = datagram(b, AF_INET, 101, 2, false, &l3);
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	lb = datagram(b, AF_INET, 99, 2, false, &l3);
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 1);
	lb = datagram(b, AF_INET, 99, 3, false, &l3);
	assert_int_equal(vnet_gro_add(&g, &partial, b, lb), 0);
	assert_int_equal(g.n, 2);
	vnet_gro_finish(&g);
	assert_int_equal(g.n, 0);

	/* never: a bad complete checksum, TCP, GSO, IPv4 options, fragments, padding, an
	 * IPv6 extension header, a checksum field elsewhere, an empty payload */
	la = datagram(a, AF_INET, 100, 1, true, &l3);
	a[l3 + 8] ^= 0x40;
	assert_int_equal(vnet_gro_add(&g, &plain, a, la), -EINVAL);
	assert_int_equal(g.len, 0);
	{
		struct vnet_hdr valid = hdr(VALID, 0, 0, 0, 0, 0); /* trusted as it says */

		assert_int_equal(vnet_gro_add(&g, &valid, a, la), 1);
		vnet_gro_finish(&g);
	}
	la = build(a, AF_INET, P_TCP, 0, 0, 100, F_ACK, &l3);
	assert_int_equal(vnet_gro_add(&g, &plain, a, la), -EINVAL);
	la = datagram(a, AF_INET, 3000, 1, false, &l3);
	{
		struct vnet_hdr uso = hdr(NEEDS, VIRTIO_NET_HDR_GSO_UDP_L4, 28, 1000, 20, 6);

		assert_int_equal(vnet_gro_add(&g, &uso, a, la), -EINVAL);
	}
	la = build(a, AF_INET, P_UDP, 1, 0, 100, 0, &l3);
	assert_int_equal(vnet_gro_add(&g, &(struct vnet_hdr){ NEEDS, 0, 0, 0, 24, 6 }, a, la),
			 -EINVAL);
	la = datagram(a, AF_INET, 100, 1, false, &l3);
	wr16(a + 6, 0x2000);
	wr16(a + 10, 0);
	wr16(a + 10, 0xffff - (unsigned)naive_sum(a, 20, NULL, 0));
	assert_int_equal(vnet_gro_add(&g, &partial, a, la), -EINVAL);
	la = datagram(a, AF_INET, 100, 1, false, &l3);
	assert_int_equal(vnet_gro_add(&g, &partial, a, la + 2), -EINVAL);
	assert_int_equal(vnet_gro_add(&g, &(struct vnet_hdr){ NEEDS, 0, 0, 0, 20, 16 }, a, la),
			 -EINVAL);
	la = build(a, AF_INET6, P_UDP, 1, 0, 100, 0, &l3);
	assert_int_equal(vnet_gro_add(&g, &(struct vnet_hdr){ NEEDS, 0, 0, 0, 48, 6 }, a, la),
			 -EINVAL);
	la = datagram(a, AF_INET, 0, 1, false, &l3);
	assert_int_equal(vnet_gro_add(&g, &partial, a, la), -EINVAL);
	assert_int_equal(vnet_gro_finish(&g), 0);
}

/* The limits: VNET_GRO_MAX_SEGS datagrams, and 65535 bytes of IP packet. */
static void test_gro_limits(void **state)
{
	static uint8_t gbuf[VNET_GRO_BUF], a[2000];
	struct vnet_gro g = { .buf = gbuf };
	struct vnet_hdr partial = hdr(NEEDS, 0, 0, 0, 20, 6);
	size_t l3, la, iplen;
	unsigned i;

	for (i = 0; i < VNET_GRO_MAX_SEGS; i++) {
		la = datagram(a, AF_INET, 10, i, false, &l3);
		assert_int_equal(vnet_gro_add(&g, &partial, a, la), 1);
	}
	assert_int_equal(vnet_gro_add(&g, &partial, a, la), 0);
	vnet_gro_finish(&g);
	for (i = 0;; i++) {
		int r;

		la = datagram(a, AF_INET, 1472, i, false, &l3);
		r = vnet_gro_add(&g, &partial, a, la);
		if (r == 0)
			break;
		assert_int_equal(r, 1);
	}
	assert_int_equal(i, 44); /* 28 + 44 x 1472 = 64796; one more would pass 65535 */
	iplen = vnet_gro_finish(&g) - VNET_HDR_LEN;
	assert_int_equal(iplen, 28 + 44 * 1472);
	assert_int_equal(rd16(gbuf + VNET_HDR_LEN + 2), iplen);
	assert_int_equal(rd16(gbuf + VNET_HDR_LEN + 24), iplen - 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_codec),
		cmocka_unit_test(test_hdr_plain),
		cmocka_unit_test(test_check_plain_and_valid),
		cmocka_unit_test(test_check_gso_accepted),
		cmocka_unit_test(test_check_flags),
		cmocka_unit_test(test_check_gso_type),
		cmocka_unit_test(test_check_gso_size),
		cmocka_unit_test(test_check_hdr_len),
		cmocka_unit_test(test_check_csum_fields),
		cmocka_unit_test(test_check_gso_csum_placement),
		cmocka_unit_test(test_check_family_mismatch),
		cmocka_unit_test(test_check_bad_packets),
		cmocka_unit_test(test_check_ip6_frag_and_routing),
		cmocka_unit_test(test_check_udp_segment_limit),
		cmocka_unit_test(test_check_tcp_gso_min),
		cmocka_unit_test(test_check_mtu),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_csum_complete_nothing_to_do),
		cmocka_unit_test(test_csum_udp_zero),
		cmocka_unit_test(test_csum_final_carry),
		cmocka_unit_test(test_tso4),
		cmocka_unit_test(test_tso6),
		cmocka_unit_test(test_uso),
		cmocka_unit_test(test_gso_single_segment),
		cmocka_unit_test(test_segment_not_gso),
		cmocka_unit_test(test_segment_errors),
		cmocka_unit_test(test_segment_random),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_gro_roundtrip),
		cmocka_unit_test(test_gro_refusals),
		cmocka_unit_test(test_gro_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
