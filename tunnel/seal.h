/* Sealed frames: every frame on a data link is encrypted and authenticated (AES-256-GCM,
 * OpenSSL) with keys from the peers' TLS session, and accepted at most once.
 *
 * A sealed payload is
 *
 *   +--------+----------------+------------------------+----------+
 *   | gen u32| counter u64    | ciphertext (len bytes) | tag [16] |
 *   +--------+----------------+------------------------+----------+
 *
 * behind the frame header, whose type and flags are the additional authenticated data
 * (so a flipped FORWARDED or VNET_HDR flag fails like a flipped byte). The 96-bit nonce
 * is gen || counter: the counter never repeats under one key (it runs across generations
 * and is 64 bits wide), so no nonce is ever used twice.
 *
 * Freshness: the receiver keeps the highest counter it accepted. On an ordered substrate
 * (a stream) a counter must be the next one: a replayed, reordered, re-inserted or
 * removed frame fails (a frame the sender's queue refused gives its counter back,
 * seal_cancel, so a stream never has a gap of its own).
 * On a datagram substrate a window of SEAL_WINDOW counters below the highest is
 * accepted once each (RFC 6479 style), so reordering in the network costs nothing.
 *
 * Rotation: the sender moves to the next generation after SEAL_REKEY_FRAMES frames,
 * SEAL_REKEY_BYTES bytes or a time the owner chooses (seal_rekey_tx). The next key is
 * derived one way from the current one (HMAC-SHA256), so an old key cannot be computed
 * from a newer one; the receiver derives it when the first frame of the new generation
 * authenticates, and keeps the previous key for datagrams still in flight. Traffic never
 * pauses for a rotation. */
#ifndef TUNNEL_SEAL_H
#define TUNNEL_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_BYTES    32
#define SEAL_TAG_BYTES    16
#define SEAL_HDR_BYTES    12 /* gen + counter */
#define SEAL_OVERHEAD     (SEAL_HDR_BYTES + SEAL_TAG_BYTES)
#define SEAL_WINDOW       4096
#define SEAL_REKEY_FRAMES (1ull << 32)
#define SEAL_REKEY_BYTES  (1ull << 38) /* 256 GiB */

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

struct seal_key {
	EVP_CIPHER_CTX *ctx; /* keyed once; per frame only the nonce is set */
	uint8_t key[SEAL_KEY_BYTES];
	uint32_t gen;
	bool set;
};

struct seal {
	struct seal_key tx, rx, rx_prev;
	uint64_t tx_ctr;             /* next counter to send */
	uint64_t tx_frames, tx_bytes; /* under the current tx generation */
	bool stream;                 /* ordered substrate: counters strictly increase */
	bool rx_any;                 /* a frame was accepted (rx_top is valid) */
	uint64_t rx_top;             /* highest counter accepted */
	uint64_t rx_bitmap[SEAL_WINDOW / 64];
	uint64_t rekeys;             /* generations moved to, both directions */
};

/* Keys s with a key per direction (the two ends swap them). 0 or -ENOMEM. */
int  seal_init(struct seal *s, const uint8_t tx_key[SEAL_KEY_BYTES],
	       const uint8_t rx_key[SEAL_KEY_BYTES], bool stream);
/* Wipes every key. */
void seal_free(struct seal *s);

/* Seals in[0..len) as the payload of a frame of type and flags into out (cap bytes,
 * at least len + SEAL_OVERHEAD). Returns the sealed length or -errno. Rotates the key
 * first when one of the limits is reached. */
int seal_frame(struct seal *s, uint8_t type, uint16_t flags, const uint8_t *in, size_t len,
	       uint8_t *out, size_t cap);
/* Opens a sealed payload into out (cap >= len - SEAL_OVERHEAD). Returns the plain length,
 * -EBADMSG when it does not authenticate (or is malformed), -EALREADY for a replayed or
 * stale counter. */
int seal_open(struct seal *s, uint8_t type, uint16_t flags, const uint8_t *in, size_t len,
	      uint8_t *out, size_t cap);
/* The frame just sealed (len plain bytes) was not sent (its queue refused it): its
 * counter is used by the next frame. Call it before sealing anything else. */
void seal_cancel(struct seal *s, size_t len);
/* Moves the sending direction to the next generation (a timer of the owner's). */
void seal_rekey_tx(struct seal *s);

#endif
