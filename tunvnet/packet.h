/* IPv4 / IPv6 header parsing of the packets a job's kernel writes into its TUN, and the
 * ICMP / ICMPv6 destination-unreachable errors the daemon writes back. Pure functions on
 * byte buffers: nothing here trusts a length it has not checked. */
#ifndef TUNVNET_PACKET_H
#define TUNVNET_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunvnet/vip.h"

struct packet_info {
	struct vip src, dst;
	uint8_t proto;         /* IPPROTO_*: for IPv6 the upper-layer protocol after extension headers, or the last next-header seen */
	uint16_t l3_len;       /* bytes of IP header (IPv6: fixed header plus extension headers walked) */
	uint32_t total_len;    /* length the IP header claims (IPv6: 40 + payload length) */
	bool is_error;         /* an ICMP / ICMPv6 error message */
	bool frag_nonfirst;    /* a fragment other than the first */
	bool dst_multicast;    /* multicast, broadcast or otherwise not a unicast VIP */
	bool src_unspecified;  /* 0.0.0.0, ::, or a link-local source */
};

/* Parses the IP header at p. 0, or -EBADMSG for anything malformed: too short, wrong
 * version, IHL < 5, total length beyond len or below the header, and so on. Bytes past
 * total_len (TUN padding) are allowed. */
int packet_parse(const uint8_t *p, size_t len, struct packet_info *out);

/* Whether an ICMP unreachable may be sent for this packet (RFC 1812 4.3.2.7 / RFC 4443
 * 2.4(e)): not for errors, non-first fragments, multicast or unspecified sources. */
bool packet_may_send_error(const struct packet_info *in);

/* Builds the ICMP (type 3 code 1, host unreachable) or ICMPv6 (type 1 code 3, address
 * unreachable) error for the packet orig (len bytes, parsed as in), from the
 * unreachable destination to the original source, quoting as much of orig as fits in
 * 576 (IPv4) or 1280 (IPv6) bytes. Checksums are filled in. Returns the length written
 * to out, or -ENOSPC when cap is too small (cap >= 1280 always suffices). */
int packet_icmp_unreach(const uint8_t *orig, size_t len, const struct packet_info *in,
			uint8_t *out, size_t cap);

/* The Internet checksum (RFC 1071) of buf, folded, not inverted, starting from sum. */
uint32_t packet_csum_add(uint32_t sum, const void *buf, size_t len);
uint16_t packet_csum_fold(uint32_t sum); /* ~fold(sum) */

#endif
