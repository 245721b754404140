/* The records of a capture stream (vnetctl capture): encoder and decoder in one place,
 * compiled into the daemon and the client.
 *
 * After its ok reply line ({"capturing": true, "linktype": 101}), the daemon writes a
 * sequence of binary records on the control connection, each
 *
 *   u32 type, u32 length (both big-endian), then length bytes of payload:
 *
 *   CAPMSG_PACKET (1): u64 ts_usec (CLOCK_REALTIME, microseconds), u32 orig_len (the
 *       packet's real length), u8 dir (enum capture_dir), u8 node_len, node name (the
 *       node that captured it), then the captured bytes: the IP packet's first
 *       length - 14 - node_len bytes (a snaplen may have cut it).
 *   CAPMSG_END (2): a JSON object {"packets": n, "dropped": n, "reason": "count" |
 *       "duration" | "client" | "moved" | ...}; the daemon closes the connection after it.
 *   CAPMSG_NOTE (3): a JSON object the client shows its user (e.g. {"moved_to": "n2"}
 *       when a cluster capture hands over).
 *
 * A client that has seen enough half-closes the connection (shutdown SHUT_WR); the
 * daemon answers with END, reason "client". Records of another type are skipped by the
 * client, so a daemon may add types without breaking older clients. */
#ifndef TUNVNET_CAPMSG_H
#define TUNVNET_CAPMSG_H

#include <stddef.h>
#include <stdint.h>

#include "tunvnet/msg.h"

enum capmsg_type {
	CAPMSG_PACKET = 1,
	CAPMSG_END = 2,
	CAPMSG_NOTE = 3,
};

#define CAPMSG_HDR_LEN    8         /* type, length */
#define CAPMSG_PACKET_LEN 14        /* ts_usec, orig_len, dir, node_len */
#define CAPMSG_MAX        (1u << 20) /* longest payload a decoder accepts */
/* The most a PACKET record takes before its captured bytes. */
#define CAPMSG_PACKET_HDR_MAX (CAPMSG_HDR_LEN + CAPMSG_PACKET_LEN + NODE_NAME_MAX)

struct capmsg {
	uint32_t type;
	const uint8_t *body; /* the payload, in the decoded buffer */
	size_t body_len;
	/* CAPMSG_PACKET only */
	uint64_t ts_usec;
	uint32_t orig_len;
	uint8_t dir;
	char node[NODE_NAME_MAX + 1];
	const uint8_t *data; /* the captured bytes, in the decoded buffer */
	size_t caplen;
};

/* Decodes the record at the start of buf (len bytes). Returns its whole length (header
 * included) with *m filled, 0 when buf does not hold all of it yet, or -EBADMSG: a
 * payload longer than CAPMSG_MAX, a PACKET too short for its fields, or with a node name
 * that is not valid (msg_name_valid, over all its node_len bytes: no NUL inside). */
int capmsg_decode(const uint8_t *buf, size_t len, struct capmsg *m);

/* The 8-byte record header: type and payload length. */
void capmsg_header(uint8_t buf[CAPMSG_HDR_LEN], enum capmsg_type t, uint32_t len);
/* A PACKET record up to its captured bytes, for a writer that sends those from where they
 * are (writev): returns its length (at most CAPMSG_PACKET_HDR_MAX), -EMSGSIZE when it
 * does not fit in cap or the record would exceed CAPMSG_MAX, -EINVAL for a node name
 * that is not valid. */
int capmsg_packet_header(uint8_t *buf, size_t cap, uint64_t ts_usec, uint32_t orig_len,
			 uint8_t dir, const char *node, size_t caplen);
/* A whole PACKET record into buf: returns its length, or the errors above. */
int capmsg_packet_encode(uint8_t *buf, size_t cap, uint64_t ts_usec, uint32_t orig_len,
			 uint8_t dir, const char *node, const uint8_t *data, size_t caplen);
/* An END or NOTE record with len bytes of JSON text: its length or -EMSGSIZE. */
int capmsg_text_encode(uint8_t *buf, size_t cap, enum capmsg_type t, const char *text,
		       size_t len);

#endif
