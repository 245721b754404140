/* Mutual challenge-response proving both ends hold the cluster key (libsodium).
 *
 * Each side sends a fresh random nonce in its HELLO. Each side then proves the key with
 * a MAC (crypto_auth, keyed by a subkey derived from the cluster key) over a transcript
 * that binds both nonces, both node names and the prover's role (initiator or
 * responder). A fresh nonce per session defeats replay; the role defeats reflection of
 * a peer's own proof back to it. No secret ever crosses the wire. */
#ifndef TUNNEL_AUTH_H
#define TUNNEL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_BYTES   32
#define AUTH_NONCE_BYTES 32
#define AUTH_MAC_BYTES   32
#define AUTH_NAME_MAX    63

struct auth_state {
	uint8_t key[AUTH_KEY_BYTES]; /* derived auth subkey, not the cluster key */
	uint8_t my_nonce[AUTH_NONCE_BYTES];
	uint8_t peer_nonce[AUTH_NONCE_BYTES];
	char my_name[AUTH_NAME_MAX + 1];
	char peer_name[AUTH_NAME_MAX + 1];
	bool initiator;
	bool have_peer;
};

/* Must be called once before anything else (sodium_init). 0 or -EIO. */
int  auth_global_init(void);
/* Starts a session: derives the subkey and draws a fresh nonce. */
void auth_init(struct auth_state *st, const uint8_t cluster_key[AUTH_KEY_BYTES],
	       const char *my_name, bool initiator);
/* Records what the peer's HELLO said. */
void auth_set_peer(struct auth_state *st, const uint8_t nonce[AUTH_NONCE_BYTES],
		   const char *peer_name);
/* Our proof, to send in FRAME_AUTH. */
void auth_proof(const struct auth_state *st, uint8_t mac[AUTH_MAC_BYTES]);
/* Checks the peer's proof in constant time. */
bool auth_verify(const struct auth_state *st, const uint8_t mac[AUTH_MAC_BYTES]);
/* Wipes the state (sodium_memzero). */
void auth_clear(struct auth_state *st);

/* Derives the 32-byte cluster key from a key file's contents (BLAKE2b of the trimmed
 * bytes). At least 32 bytes of secret are required: -EINVAL otherwise. */
int auth_key_from_secret(const uint8_t *secret, size_t len, uint8_t key[AUTH_KEY_BYTES]);

#endif
