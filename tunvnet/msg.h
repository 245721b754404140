/* Bodies of the peer protocol's control frames: encoders and decoders in pairs.
 * Layouts (all big-endian, names are length-prefixed, no NUL on the wire):
 *
 * HELLO:  u8 name_len, name, u8 family (4|6), addr (4|16), u16 port (family 0, no
 *         addr and port 0: the sender does not accept connections), u8 flags
 *         (MSG_HELLO_SEALED), u32 substrates (bit i: substrate.c's i-th substrate)
 * LINK_OPEN: u8 name_len, name (the dialer), u64 link, u8 substrate, u8 flags
 *         (MSG_HELLO_SEALED), mac[32]
 * LINK_OK: u64 link, mac[32]
 * SUBSTRATE: u8 substrate, u64 link, u16 blob_len, blob (at most MSG_SUBSTRATE_BLOB_MAX;
 *         what it means is the substrate's business: tunnel.h, params)
 * PEERS:  u16 count, then count x { u8 name_len, name, u8 family, addr, u16 port }
 *         (family and addr as in HELLO, family 0 included)
 * ROUTES: u16 count, then count x { u8 family, addr (4|16), u64 epoch, u8 flags
 *         (MSG_ROUTE_WITHDRAWN), u8 node_len, node }
 * PING/PONG: u64 sender's monotonic milliseconds
 * MIGRATE:  u64 op, u16 netns_len, netns (printable), u8 nvips, nvips x { u8 family, addr }
 * MIGRATE_DONE: u64 op, u8 status (enum ctl_err), u64 epoch, u16 msg_len, msg (printable)
 *
 * Decoders check every length and reject trailing bytes, names that are empty, too long
 * or not printable, and unknown address families. */
#ifndef TUNVNET_MSG_H
#define TUNVNET_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunvnet/route.h"

#define NODE_NAME_MAX 31 /* bytes, [A-Za-z0-9._-] */

/* ROUTES flags; other bits are rejected (a new flag needs a new frame version). */
#define MSG_ROUTE_WITHDRAWN 0x01

#define MSG_HELLO_SEALED 0x01 /* the sender's data links are sealed */
#define MSG_MAC_BYTES    32

struct msg_hello {
	char name[NODE_NAME_MAX + 1];   /* must equal the name its certificate carries */
	struct sockaddr_storage listen; /* ss_family AF_UNSPEC: none */
	uint8_t flags;
	uint32_t substrates;
};

struct msg_link_open {
	char name[NODE_NAME_MAX + 1];
	uint64_t link;     /* chosen by the dialer, rising within one control session */
	uint8_t substrate;
	uint8_t flags;
	uint8_t mac[MSG_MAC_BYTES];
};

struct msg_link_ok {
	uint64_t link;
	uint8_t mac[MSG_MAC_BYTES];
};

#define MSG_SUBSTRATE_BLOB_MAX 1024 /* = TUNNEL_PARAMS_MAX */

struct msg_substrate {
	uint8_t substrate;
	uint64_t link;
	size_t len;
	uint8_t blob[MSG_SUBSTRATE_BLOB_MAX];
};

struct msg_member {
	char name[NODE_NAME_MAX + 1];
	struct sockaddr_storage addr;
};

/* Encoders write into buf (cap bytes) and return the length, or -EMSGSIZE (also for
 * more than 65535 entries), or -EINVAL for what the decoder would reject (bad name,
 * unknown family). */
int msg_hello_encode(const struct msg_hello *m, uint8_t *buf, size_t cap);
int msg_hello_decode(const uint8_t *buf, size_t len, struct msg_hello *m); /* 0 / -EBADMSG */

int msg_link_open_encode(const struct msg_link_open *m, uint8_t *buf, size_t cap);
int msg_link_open_decode(const uint8_t *buf, size_t len, struct msg_link_open *m);
int msg_link_ok_encode(const struct msg_link_ok *m, uint8_t *buf, size_t cap);
int msg_link_ok_decode(const uint8_t *buf, size_t len, struct msg_link_ok *m);

int msg_substrate_encode(const struct msg_substrate *m, uint8_t *buf, size_t cap);
int msg_substrate_decode(const uint8_t *buf, size_t len, struct msg_substrate *m);

int msg_peers_encode(const struct msg_member *v, size_t n, uint8_t *buf, size_t cap);
/* Decodes up to max members into v; *n gets the count. 0 / -EBADMSG / -E2BIG. */
int msg_peers_decode(const uint8_t *buf, size_t len, struct msg_member *v, size_t max,
		     size_t *n);

/* Route bodies: route_entry as declared in route.h. */
int msg_routes_encode(const struct route_entry *v, size_t n, uint8_t *buf, size_t cap);
int msg_routes_decode(const uint8_t *buf, size_t len, struct route_entry *v, size_t max,
		      size_t *n);
/* Bytes one route takes on the wire, to size batches. */
size_t msg_route_size(const struct route_entry *e);

#define MSG_MIGRATE_MAX_VIPS 8
#define MSG_TEXT_MAX 4095

struct msg_migrate {
	uint64_t op;
	char netns[MSG_TEXT_MAX + 1];  /* the job's namespace, as the old node names it */
	struct vip vips[MSG_MIGRATE_MAX_VIPS];
	size_t nvips;
};

struct msg_migrate_done {
	uint64_t op;
	uint8_t status;                /* enum ctl_err: 0 is success */
	uint64_t epoch;
	char msg[MSG_TEXT_MAX + 1];
};

int msg_migrate_encode(const struct msg_migrate *m, uint8_t *buf, size_t cap);
int msg_migrate_decode(const uint8_t *buf, size_t len, struct msg_migrate *m);
int msg_migrate_done_encode(const struct msg_migrate_done *m, uint8_t *buf, size_t cap);
int msg_migrate_done_decode(const uint8_t *buf, size_t len, struct msg_migrate_done *m);

bool msg_name_valid(const char *name);

#endif
