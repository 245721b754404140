/* Super-packet headers and segmentation (tunvnet/vnet.c): the virtio-net header and
 * packet of a DATA frame from a peer, checked and cut into packets for a job's TUN; and
 * UDP coalescing of datagrams from peers. The first byte picks:
 *
 *   even: u16 mtu (big-endian), 10-byte header, packet: vnet_check, vnet_segment and
 *         vnet_csum_complete. Every packet cut must parse, carry valid checksums, fit the
 *         MTU, and there must be as many as vnet_check said (never a flood).
 *   odd:  datagrams, each u16 length, 10-byte header, bytes: vnet_gro_add until one is
 *         refused, then vnet_gro_finish. What comes out must pass vnet_check and cut
 *         back into as many datagrams as went in. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/packet.h"
#include "tunvnet/vnet.h"

static uint8_t scratch[65536 + 64];
static uint8_t copy[65536 + 64];
static uint8_t gro_buf[VNET_GRO_BUF];

struct emitted {
	size_t n;
	size_t mtu;  /* 0: no bound checked */
	bool gso;    /* cut from a super-packet: its checksums are ours, so must verify */
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The transport checksum of a whole packet verifies (pseudo-header included). */
static bool l4_ok(const uint8_t *p, size_t len, const struct packet_info *pi)
{
	uint8_t ph[40] = { 0 };
	size_t l4 = len - pi->l3_len;
	uint32_t s;
	bool v4 = pi->src.family == AF_INET;

	if (v4) {
		memcpy(ph, p + 12, 8);
		ph[9] = pi->proto;
		ph[10] = (uint8_t)(l4 >> 8);
		ph[11] = (uint8_t)l4;
	} else {
		memcpy(ph, p + 8, 32);
		ph[34] = (uint8_t)(l4 >> 8);
		ph[35] = (uint8_t)l4;
		ph[39] = pi->proto;
	}
	s = packet_csum_add(0, ph, v4 ? 12 : 40);
	s = packet_csum_add(s, p + pi->l3_len, l4);
	return packet_csum_fold(s) == 0;
}

static int check_segment(const uint8_t *pkt, size_t len, void *arg)
{
	struct emitted *e = arg;
	struct packet_info pi;

	e->n++;
	FUZZ_CHECK(e->n <= 65535 / VNET_TCP_GSO_MIN + 1);
	FUZZ_CHECK(packet_parse(pkt, len, &pi) == 0);
	FUZZ_CHECK(pi.total_len == len);
	FUZZ_CHECK(e->mtu == 0 || len <= e->mtu);
	if (e->gso) {
		FUZZ_CHECK(pi.proto == IPPROTO_TCP || pi.proto == IPPROTO_UDP);
		FUZZ_CHECK(l4_ok(pkt, len, &pi));
		if (pi.src.family == AF_INET)
			FUZZ_CHECK(packet_csum_fold(packet_csum_add(0, pkt, pi.l3_len)) == 0);
	}
	return 0;
}

static void one(const uint8_t *d, size_t n)
{
	struct emitted e = { 0 };
	struct vnet_info vi;
	struct vnet_hdr h;
	size_t mtu, len;
	int r;

	if (n < 2 + VNET_HDR_LEN)
		return;
	mtu = be16(d);
	vnet_hdr_get(d + 2, &h);
	d += 2 + VNET_HDR_LEN;
	len = n - 2 - VNET_HDR_LEN;
	r = vnet_check(&h, d, len, mtu, &vi);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EBADMSG);
	if (r == 0 && vi.gso != VIRTIO_NET_HDR_GSO_NONE) {
		e.mtu = mtu;
		e.gso = true;
		FUZZ_CHECK(vi.hdrs_len + h.gso_size <= mtu);
		FUZZ_CHECK(vi.segs <= 65535 / VNET_TCP_GSO_MIN + 1);
	}
	r = vnet_segment(&h, d, len, mtu, scratch, sizeof(scratch), check_segment, &e);
	FUZZ_CHECK(r > 0 || r == -EINVAL || r == -EBADMSG);
	if (r > 0) {
		FUZZ_CHECK((size_t)r == e.n);
		FUZZ_CHECK((uint32_t)r == vi.segs);
	}
	/* completion in place, on a copy */
	memcpy(copy, d, len);
	r = vnet_csum_complete(&h, copy, len);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EBADMSG);
}

static void gro(const uint8_t *d, size_t n)
{
	struct vnet_gro g = { .buf = gro_buf };
	struct emitted e = { 0 };
	struct vnet_info vi;
	struct vnet_hdr h;
	size_t len, in = 0;
	int r;

	while (n >= 2 + VNET_HDR_LEN) {
		len = be16(d);
		if (len > n - 2 - VNET_HDR_LEN)
			len = n - 2 - VNET_HDR_LEN;
		vnet_hdr_get(d + 2, &h);
		r = vnet_gro_add(&g, &h, d + 2 + VNET_HDR_LEN, len);
		FUZZ_CHECK(r == 1 || r == 0 || r == -EINVAL);
		d += 2 + VNET_HDR_LEN + len;
		n -= 2 + VNET_HDR_LEN + len;
		if (r != 1)
			break;
		in++;
	}
	FUZZ_CHECK(g.n == in);
	len = vnet_gro_finish(&g);
	if (in == 0) {
		FUZZ_CHECK(len == 0);
		return;
	}
	FUZZ_CHECK(len > VNET_HDR_LEN);
	vnet_hdr_get(gro_buf, &h);
	FUZZ_CHECK(vnet_check(&h, gro_buf + VNET_HDR_LEN, len - VNET_HDR_LEN, VNET_MTU_ANY, &vi) ==
		   0);
	e.gso = vi.gso != VIRTIO_NET_HDR_GSO_NONE;
	r = vnet_segment(&h, gro_buf + VNET_HDR_LEN, len - VNET_HDR_LEN, VNET_MTU_ANY, scratch,
			 sizeof(scratch), check_segment, &e);
	FUZZ_CHECK(r > 0 && (size_t)r == in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536 + 2 + VNET_HDR_LEN + 1)
		return 0;
	if (data[0] & 1)
		gro(data + 1, size - 1);
	else
		one(data + 1, size - 1);
	return 0;
}
