/* Cluster-key challenge-response, all primitives from libsodium. */
#include "tunnel/auth.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "tunnel/wire.h"

/* The auth key is a subkey so that the cluster key can later key other things (data
 * path encryption) without the same key serving two purposes. */
#define KDF_CONTEXT  "tvnauth1"
#define KDF_SUBKEY_ID 1

/* Domain separation: a MAC made for this transcript format means nothing elsewhere. */
static const char label[] = "tunvnet-auth-v1";

enum { ROLE_INITIATOR = 'I', ROLE_RESPONDER = 'R' };

/* label, role, 2 nonces, 2 length-prefixed names */
#define TRANSCRIPT_MAX \
	(sizeof(label) + 1 + 2 * AUTH_NONCE_BYTES + 2 * (1 + AUTH_NAME_MAX))

_Static_assert(AUTH_KEY_BYTES == crypto_kdf_KEYBYTES, "cluster key is a kdf key");
_Static_assert(AUTH_KEY_BYTES == crypto_auth_KEYBYTES, "subkey is a crypto_auth key");
_Static_assert(AUTH_MAC_BYTES == crypto_auth_BYTES, "mac is a crypto_auth tag");
_Static_assert(sizeof(KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context size");
_Static_assert(AUTH_KEY_BYTES >= crypto_generichash_BYTES_MIN &&
	       AUTH_KEY_BYTES <= crypto_generichash_BYTES_MAX, "generichash output size");

int auth_global_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static void copy_name(char dst[AUTH_NAME_MAX + 1], const char *src)
{
	size_t n = src ? strnlen(src, AUTH_NAME_MAX) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

void auth_init(struct auth_state *st, const uint8_t cluster_key[AUTH_KEY_BYTES],
	       const char *my_name, bool initiator)
{
	memset(st, 0, sizeof(*st));
	crypto_kdf_derive_from_key(st->key, sizeof(st->key), KDF_SUBKEY_ID, KDF_CONTEXT,
				   cluster_key);
	randombytes_buf(st->my_nonce, sizeof(st->my_nonce));
	copy_name(st->my_name, my_name);
	st->initiator = initiator;
}

void auth_set_peer(struct auth_state *st, const uint8_t nonce[AUTH_NONCE_BYTES],
		   const char *peer_name)
{
	memcpy(st->peer_nonce, nonce, AUTH_NONCE_BYTES);
	copy_name(st->peer_name, peer_name);
	st->have_peer = true;
}

static void put_name(uint8_t *b, size_t cap, size_t *off, const char *name)
{
	size_t n = strnlen(name, AUTH_NAME_MAX);

	put_u8(b, cap, off, (uint8_t)n);
	put_bytes(b, cap, off, name, n);
}

/* The transcript the side with role `prover_initiator` proves. It is laid out by role,
 * not by "mine/theirs", so both ends build the same bytes for one proof. Returns its
 * length; it fits in TRANSCRIPT_MAX by construction, so no put can fail. */
static size_t transcript(const struct auth_state *st, bool prover_initiator,
			 uint8_t t[TRANSCRIPT_MAX])
{
	const uint8_t *ini_nonce = st->initiator ? st->my_nonce : st->peer_nonce;
	const uint8_t *rsp_nonce = st->initiator ? st->peer_nonce : st->my_nonce;
	const char *ini_name = st->initiator ? st->my_name : st->peer_name;
	const char *rsp_name = st->initiator ? st->peer_name : st->my_name;
	size_t off = 0;

	put_bytes(t, TRANSCRIPT_MAX, &off, label, sizeof(label));
	put_u8(t, TRANSCRIPT_MAX, &off, prover_initiator ? ROLE_INITIATOR : ROLE_RESPONDER);
	put_bytes(t, TRANSCRIPT_MAX, &off, ini_nonce, AUTH_NONCE_BYTES);
	put_bytes(t, TRANSCRIPT_MAX, &off, rsp_nonce, AUTH_NONCE_BYTES);
	put_name(t, TRANSCRIPT_MAX, &off, ini_name);
	put_name(t, TRANSCRIPT_MAX, &off, rsp_name);
	return off;
}

void auth_proof(const struct auth_state *st, uint8_t mac[AUTH_MAC_BYTES])
{
	uint8_t t[TRANSCRIPT_MAX];
	size_t n;

	/* Without the peer's nonce there is nothing to prove; an all-zero tag never
	 * verifies on the other side. */
	if (!st->have_peer) {
		memset(mac, 0, AUTH_MAC_BYTES);
		return;
	}
	n = transcript(st, st->initiator, t);
	crypto_auth(mac, t, n, st->key);
}

bool auth_verify(const struct auth_state *st, const uint8_t mac[AUTH_MAC_BYTES])
{
	uint8_t t[TRANSCRIPT_MAX];
	size_t n;

	if (!st->have_peer)
		return false;
	/* A peer that echoes our own nonce is reflecting our HELLO back at us. The role
	 * byte already makes a reflected proof fail; refusing the echo costs nothing. */
	if (sodium_memcmp(st->peer_nonce, st->my_nonce, AUTH_NONCE_BYTES) == 0)
		return false;
	n = transcript(st, !st->initiator, t);
	return crypto_auth_verify(mac, t, n, st->key) == 0;
}

void auth_clear(struct auth_state *st)
{
	sodium_memzero(st, sizeof(*st));
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int auth_key_from_secret(const uint8_t *secret, size_t len, uint8_t key[AUTH_KEY_BYTES])
{
	/* Key files usually end in a newline, and editors add or drop one at will: the
	 * same secret must give the same key either way. */
	while (len > 0 && is_space(secret[0])) {
		secret++;
		len--;
	}
	while (len > 0 && is_space(secret[len - 1]))
		len--;
	if (len < 32)
		return -EINVAL;
	if (crypto_generichash(key, AUTH_KEY_BYTES, secret, len, NULL, 0) != 0)
		return -EIO;
	return 0;
}
