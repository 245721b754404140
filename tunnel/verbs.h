/* The verbs substrate's own entry points (verbs.c), besides its tunnel_ops table.
 *
 * A verbs link is not dialled to an address: each end makes an endpoint (a queue pair
 * with its receive ring posted) and sends its parameters to the other over the peer's
 * authenticated control link; each end then starts its link with the other's
 * parameters, and ready() follows. listen, connect and adopt are not supported.
 *
 * The parameters blob (VERBS_PARAMS_LEN bytes, big-endian):
 *   u8 version (1) | u8 flags (VERBS_PARAMS_EMULATED) | u32 qpn | u32 psn | u16 lid |
 *   gid[16] | u32 mtu | u32 recv_depth | u32 msg_max
 * An emulated end and a real one never connect: verbs_start refuses with -EPROTO.
 *
 * Each verbs message carries one whole frame (frame.h): header and payload, nothing
 * else; credits ride in the immediate data (verbs_engine.h). */
#ifndef TUNNEL_VERBS_H
#define TUNNEL_VERBS_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/frame.h"
#include "tunnel/tunnel.h"
#include "tunnel/verbs_engine.h"

#define VERBS_PARAMS_VERSION  1
#define VERBS_PARAMS_LEN      (2 + 4 + 4 + 2 + FABRIC_GID_LEN + 4 + 4 + 4)
#define VERBS_PARAMS_EMULATED 0x01

/* The environment variables of the test-only emulated fabric (never a config key):
 * EMU names the device DIR/NAME (fabric_emu.c); RECV_HOLD_MS makes this daemon's
 * receivers repost one buffer per that many ms (a receiver that posts slowly). */
#define VERBS_ENV_EMU          "TUNVNET_TEST_VERBS_EMU"
/* The RDMA device to use (default: the first with an active port). */
#define VERBS_ENV_DEVICE       "TUNVNET_VERBS_DEVICE"
#define VERBS_ENV_RECV_HOLD_MS "TUNVNET_TEST_VERBS_RECV_HOLD_MS"

struct verbs_params {
	struct verbs_engine_peer peer;
	bool emulated;
};

/* Writes the blob: its length, or -ENOSPC. */
int verbs_params_encode(const struct verbs_params *p, uint8_t *buf, size_t cap);
/* Reads a blob a peer sent: 0, or -EBADMSG (short, long, another version, a field out
 * of range). */
int verbs_params_decode(const uint8_t *buf, size_t len, struct verbs_params *p);

/* One received verbs message as a frame: 0, or -EPROTO/-EPROTONOSUPPORT/-EBADMSG/
 * -EMSGSIZE when the message is not exactly one valid frame. */
int verbs_msg_parse(const uint8_t *msg, size_t len, struct frame_hdr *h,
		    const uint8_t **payload);

/* tunnel_ops.open, saying why verbs cannot be used here ("no RDMA device"). */
int verbs_open_why(struct loop *l, struct tunnel **out, char *why, size_t why_len);
/* Opens on a given fabric and device with cfg (tests). */
int verbs_open_on(struct loop *l, const struct fabric_ops *fops, const char *device,
		  const struct verbs_engine_cfg *cfg, struct tunnel **out, char *why,
		  size_t why_len);
/* A new link's endpoint and this end's parameters blob (*len bytes into params). */
int verbs_endpoint(struct tunnel *t, struct tunnel_link **out, uint8_t *params, size_t cap,
		   size_t *len);
/* Connects the link to the far end's parameters; ready() follows. */
int verbs_start(struct tunnel_link *lk, const uint8_t *params, size_t len);
/* The engine's figures for a link. */
void verbs_link_stats(const struct tunnel_link *lk, struct verbs_engine_stats *out);

#endif
