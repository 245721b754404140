/* The peer protocol's frame: the unit every substrate carries.
 *
 *   0      1      2             4                           8
 *   +------+------+-------------+---------------------------+----------------
 *   | ver  | type |   flags     |   length of payload        | payload ...
 *   +------+------+-------------+---------------------------+----------------
 *
 * All fields big-endian. length counts the payload only and is at most
 * FRAME_MAX_PAYLOAD: a 64 KiB super-packet plus its virtio-net header fits. A frame with
 * another version, an unknown type or a longer length is a protocol error: the link is
 * closed with a logged reason. */
#ifndef TUNNEL_FRAME_H
#define TUNNEL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_VERSION     2 /* 2: TLS control links, LINK_OPEN, sealed data links */
#define FRAME_HDR_LEN     8
#define FRAME_MAX_PAYLOAD (65536 + 512)

enum frame_type {
	FRAME_HELLO = 1,  /* first frame on a control link (inside TLS): listen address,
			   * data protection, substrates */
	FRAME_LINK_OPEN = 2, /* first frame on a data link: who, which link, proof */
	FRAME_PEERS = 3,  /* members this node knows (full mesh learning) */
	FRAME_ROUTES = 4, /* route announcements and withdrawals */
	FRAME_DATA  = 5,  /* one IP packet, or a super-packet with its vnet header */
	FRAME_PING  = 6,  /* keepalive; payload echoed in PONG */
	FRAME_PONG  = 7,
	FRAME_MIGRATE = 8,      /* take over a job on this machine (vnetctl migrate) */
	FRAME_MIGRATE_DONE = 9, /* the answer to a MIGRATE */
	FRAME_LINK_OK = 10,     /* the answer to LINK_OPEN: the listener's proof */
	FRAME_SUBSTRATE = 11,   /* control link: a substrate's parameters for a data link
				 * (tunnel.h: params), both ways */
	FRAME_TYPE_MAX = FRAME_SUBSTRATE,
};

/* FRAME_ROUTES flags */
#define FRAME_F_FULL_TABLE 0x0001 /* this ROUTES frame is (part of) a full table dump */
#define FRAME_F_ACK_REQ    0x0002 /* answer with the entries you now hold (FRAME_F_ACK) */
#define FRAME_F_ACK        0x0004 /* the answer to FRAME_F_ACK_REQ */
#define FRAME_F_HANDED_OVER 0x0040 /* sent by a VIP's old node to the new one after the
				    * packets it held: the new node may now deliver
				    * what it held back meanwhile (flow order kept) */
/* Any frame on a data link */
#define FRAME_F_SEALED     0x8000 /* the payload is sealed (tunnel/seal.h): informational,
				   * for captures; the link, not the flag, decides */
/* FRAME_DATA flags */
#define FRAME_F_FORWARDED  0x0010 /* sent on by a forwarding pointer or a hold hand-over:
				   * never forwarded again (no loops) */
#define FRAME_F_VNET_HDR   0x0020 /* the payload is a virtio-net header (VNET_HDR_LEN
				   * bytes, tunvnet/vnet.h), then the (super-)packet */

struct frame_hdr {
	uint8_t  version;
	uint8_t  type;
	uint16_t flags;
	uint32_t len;
};

void frame_hdr_encode(uint8_t out[FRAME_HDR_LEN], uint8_t type, uint16_t flags, uint32_t len);

/* Decodes the header at buf. Returns 0; -EAGAIN when fewer than FRAME_HDR_LEN bytes;
 * -EPROTONOSUPPORT for another version; -EBADMSG for an unknown type; -EMSGSIZE when
 * len exceeds FRAME_MAX_PAYLOAD. h is filled in every case where 8 bytes were there. */
int frame_hdr_decode(const uint8_t *buf, size_t len, struct frame_hdr *h);

const char *frame_type_name(uint8_t type); /* "HELLO", ..., "?" */

#endif
