/* The virtio-net header of TUN super-packets (IFF_VNET_HDR): decoding, validation against
 * the packet it describes, checksum completion and software segmentation, for where a
 * super-packet cannot travel whole (a TUN without offloads, on a node with `offload =
 * off`, must be handed ordinary, fully checksummed packets); and UDP coalescing, its
 * reverse, for many small datagrams into a TUN that can take one super-packet. Pure
 * functions on byte buffers.
 *
 * On the wire (a FRAME_DATA frame with FRAME_F_VNET_HDR) the header is the 10-byte
 * struct virtio_net_hdr in little-endian byte order (virtio 1.0), whatever the host's:
 *
 *   0      1         2          4           6            8             10
 *   +------+---------+----------+-----------+------------+-------------+
 *   |flags |gso_type | hdr_len  | gso_size  | csum_start | csum_offset |
 *   +------+---------+----------+-----------+------------+-------------+
 *
 * What the kernel hands over and what vnet_check() accepts (the kernel's own
 * virtio_net_hdr_to_skb rules, a little stricter where the kernel never sends otherwise):
 *   flags      NEEDS_CSUM (the transport checksum is partial: fill it in at csum_start +
 *              csum_offset over csum_start..end) or DATA_VALID (checksum verified), not
 *              both, no other bit.
 *   gso_type   NONE, TCPV4, TCPV6 or UDP_L4; the ECN bit only with the TCP types. Legacy
 *              UFO (GSO_UDP) is refused: we never ask for it.
 *   gso_size   payload bytes per segment (TCP: the MSS; UDP: the datagram payload);
 *              non-zero with a GSO type, zero without. With GSO, a segment (IP and
 *              transport headers plus gso_size) fits the MTU, and TCP's is at least
 *              VNET_TCP_GSO_MIN; UDP's segments are at most VNET_UDP_MAX_SEGS. So one
 *              super-packet of 64 KiB becomes at most about 1,400 packets.
 *   hdr_len    a hint (the kernel puts its linear head length there, which may include
 *              payload): checked only to lie within the packet, never trusted.
 *   csum_start, csum_offset: zero without NEEDS_CSUM; with it, the checksum field lies
 *              inside the IP packet, after the IP header. With a GSO type, csum_start is
 *              the transport header and csum_offset the TCP (16) or UDP (6) check field.
 */
#ifndef TUNVNET_VNET_H
#define TUNVNET_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#define VNET_HDR_LEN 10 /* sizeof(struct virtio_net_hdr): TUNSETVNETHDRSZ */

/* Newer than Debian 12's kernel headers; the values are fixed by the virtio spec and
 * the TUN ABI. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define VNET_UDP_MAX_SEGS 128 /* the kernel's UDP_MAX_SEGMENTS */
/* The kernel's TCP_MIN_SND_MSS (and the floor of net.ipv4.tcp_min_snd_mss): no Linux
 * sender cuts TCP segments smaller, whatever MSS its peer announced. */
#define VNET_TCP_GSO_MIN  48
#define VNET_MTU_ANY      65535 /* mtu argument: no bound but the IP packet's */
#define VNET_MAX_HDRS     256 /* IP + transport headers one segment repeats, at most */

/* The header, decoded to host byte order. */
struct vnet_hdr {
	uint8_t flags;        /* VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID */
	uint8_t gso_type;     /* VIRTIO_NET_HDR_GSO_*, possibly | VIRTIO_NET_HDR_GSO_ECN */
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* What vnet_check() found out about a valid header and packet. */
struct vnet_info {
	uint8_t family;     /* AF_INET or AF_INET6 */
	uint8_t proto;      /* upper-layer protocol */
	uint8_t gso;        /* gso_type without the ECN bit */
	uint16_t l3_len;    /* bytes of IP header (IPv6: with the extension headers) */
	uint16_t hdrs_len;  /* GSO: IP + transport header bytes every segment repeats; else 0 */
	uint32_t total_len; /* what the IP header claims; bytes past it are padding */
	uint32_t segs;      /* packets vnet_segment() makes of it (1 when not GSO) */
};

void vnet_hdr_get(const uint8_t buf[VNET_HDR_LEN], struct vnet_hdr *h);
void vnet_hdr_put(uint8_t buf[VNET_HDR_LEN], const struct vnet_hdr *h);

/* Whether h is a header that asks for nothing (all zero, or DATA_VALID alone): the packet
 * can be written to a TUN without a vnet header as it is. */
bool vnet_hdr_is_plain(const struct vnet_hdr *h);

/* Checks h against the IP packet pkt (len bytes) by the rules above; mtu: the largest
 * IP packet a segment may be (the MTU of the TUN the segments are for). 0 and *out
 * filled in, -EINVAL for a header that is malformed or does not match the packet,
 * -EBADMSG for a packet that is not a valid IPv4 / IPv6 packet (or whose transport header
 * is cut off). */
int vnet_check(const struct vnet_hdr *h, const uint8_t *pkt, size_t len, size_t mtu,
	       struct vnet_info *out);

/* Fills in the partial checksum of a packet that is not GSO: the one's complement sum
 * over pkt[csum_start .. end of the IP packet], the checksum field's current contents
 * (the pseudo-header sum) included, stored inverted at csum_start + csum_offset (0 as
 * 0xffff, as the kernel does). Nothing to do without NEEDS_CSUM. 0, or as vnet_check(). */
int vnet_csum_complete(const struct vnet_hdr *h, uint8_t *pkt, size_t len);

/* Receives each packet vnet_segment() makes; pkt is valid during the call only. A
 * negative return stops the segmentation and is returned by it. */
typedef int (*vnet_emit_fn)(const uint8_t *pkt, size_t len, void *arg);

/* Turns the packet described by h into ordinary packets, each fully checksummed, as a
 * NIC with TSO / USO would put them on the wire, and hands them to emit in order:
 *   TCP: gso_size bytes of payload each (the last may be shorter), sequence numbers
 *        advancing by the payload, FIN and PSH only on the last, CWR only on the first;
 *   UDP: one datagram per gso_size bytes of payload, each with its own UDP header;
 *   both: IPv4 total length, header checksum and id (+1 per segment) or IPv6 payload
 *        length rewritten, the transport checksum computed over the segment.
 * A packet that is not GSO (or not larger than one segment) comes out alone, its
 * checksum completed if it was partial. mtu: as for vnet_check(). pkt is not modified:
 * each packet is built in scratch (cap bytes; cap >= len always suffices). Returns the
 * number of packets emitted, or as vnet_check(), -ENOSPC (scratch too small), or emit's
 * error. */
int vnet_segment(const struct vnet_hdr *h, const uint8_t *pkt, size_t len, size_t mtu,
		 uint8_t *scratch, size_t cap, vnet_emit_fn emit, void *arg);

/* UDP receive coalescing (GRO), the reverse of USO: consecutive datagrams of one flow
 * (same addresses, ports and IP header fields) with payloads of one size, the last one
 * possibly shorter, become one UDP_L4 super-packet, so that a TUN with USO takes many
 * datagrams in one write and the receiving kernel one packet through its stack.
 *
 * Only plain datagrams join: not GSO, IPv4 without options and not a fragment, IPv6 with
 * UDP right behind the fixed header, no padding. A datagram whose checksum is complete
 * (not NEEDS_CSUM, not DATA_VALID) joins only if the checksum verifies: the kernel will
 * not check it again, as the super-packet's is partial (the kernel completes it per
 * datagram). Each datagram's bytes are copied into the caller's buffer. */
#define VNET_GRO_MAX_SEGS 64 /* the kernel's UDP_GRO_CNT_MAX */
#define VNET_GRO_BUF (VNET_HDR_LEN + 65535)

struct vnet_gro {
	uint8_t *buf;     /* VNET_GRO_BUF bytes: vnet header, then the packet being built */
	size_t len;       /* bytes used in buf; 0: empty */
	uint16_t l3_len;  /* IP header bytes */
	uint16_t seg;     /* payload bytes of each datagram */
	uint16_t n;       /* datagrams in it */
	bool closed;      /* the last one was shorter: nothing more may join */
};

/* Adds the datagram ip (len bytes, with header h) to g. 1: added (g was empty, or it
 * joins the flow in g); 0: g holds something it cannot join (finish g, then add again);
 * -EINVAL: it can never join (not a plain UDP datagram, or a bad checksum): write it
 * as it is, after finishing what g holds. */
int vnet_gro_add(struct vnet_gro *g, const struct vnet_hdr *h, const uint8_t *ip, size_t len);

/* Completes what g holds and empties g. Returns the length of buf to write to a TUN with
 * a vnet header: one datagram alone goes out exactly as it came (its own header or one
 * that asks for nothing), several as one UDP_L4 super-packet (IP lengths and header
 * checksum, UDP length and partial checksum, NEEDS_CSUM, gso_size). 0 when g was empty. */
size_t vnet_gro_finish(struct vnet_gro *g);

#endif
