#include "tunnel/seal.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tunnel/wire.h"

static int key_set(struct seal_key *k, const uint8_t key[SEAL_KEY_BYTES], uint32_t gen)
{
	if (!k->ctx) {
		k->ctx = EVP_CIPHER_CTX_new();
		if (!k->ctx)
			return -ENOMEM;
	}
	if (EVP_CipherInit_ex(k->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, -1) != 1 ||
	    EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_HDR_BYTES, NULL) != 1 ||
	    EVP_CipherInit_ex(k->ctx, NULL, NULL, key, NULL, -1) != 1)
		return -EIO;
	memmove(k->key, key, SEAL_KEY_BYTES);
	k->gen = gen;
	k->set = true;
	return 0;
}

static void key_wipe(struct seal_key *k)
{
	EVP_CIPHER_CTX_free(k->ctx);
	OPENSSL_cleanse(k, sizeof(*k));
}

/* The next generation's key: one way from the current one. */
static void key_next(const uint8_t cur[SEAL_KEY_BYTES], uint8_t next[SEAL_KEY_BYTES])
{
	static const char label[] = "tunvnet seal rekey";
	size_t outlen = 0;

	EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, cur, SEAL_KEY_BYTES,
		  (const unsigned char *)label, sizeof(label) - 1, next, SEAL_KEY_BYTES, &outlen);
}

int seal_init(struct seal *s, const uint8_t tx_key[SEAL_KEY_BYTES],
	      const uint8_t rx_key[SEAL_KEY_BYTES], bool stream)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->stream = stream;
	err = key_set(&s->tx, tx_key, 0);
	if (err == 0)
		err = key_set(&s->rx, rx_key, 0);
	if (err < 0)
		seal_free(s);
	return err;
}

void seal_free(struct seal *s)
{
	key_wipe(&s->tx);
	key_wipe(&s->rx);
	key_wipe(&s->rx_prev);
	OPENSSL_cleanse(s, sizeof(*s));
}

void seal_rekey_tx(struct seal *s)
{
	uint8_t next[SEAL_KEY_BYTES];

	key_next(s->tx.key, next);
	if (key_set(&s->tx, next, s->tx.gen + 1) == 0) {
		s->tx_frames = s->tx_bytes = 0;
		s->rekeys++;
	}
	OPENSSL_cleanse(next, sizeof(next));
}

static void nonce(uint8_t n[SEAL_HDR_BYTES], uint32_t gen, uint64_t ctr)
{
	size_t off = 0;

	put_be32(n, SEAL_HDR_BYTES, &off, gen);
	put_be64(n, SEAL_HDR_BYTES, &off, ctr);
}

static void aad(uint8_t a[3], uint8_t type, uint16_t flags)
{
	a[0] = type;
	a[1] = (uint8_t)(flags >> 8);
	a[2] = (uint8_t)flags;
}

int seal_frame(struct seal *s, uint8_t type, uint16_t flags, const uint8_t *in, size_t len,
	       uint8_t *out, size_t cap)
{
	uint8_t ad[3];
	int n1 = 0, n2 = 0;

	if (len > (size_t)INT32_MAX || cap < len + SEAL_OVERHEAD)
		return -EMSGSIZE;
	if (s->tx_frames >= SEAL_REKEY_FRAMES || s->tx_bytes >= SEAL_REKEY_BYTES)
		seal_rekey_tx(s);
	nonce(out, s->tx.gen, s->tx_ctr);
	aad(ad, type, flags);
	if (EVP_EncryptInit_ex(s->tx.ctx, NULL, NULL, NULL, out) != 1 ||
	    EVP_EncryptUpdate(s->tx.ctx, NULL, &n1, ad, sizeof(ad)) != 1 ||
	    EVP_EncryptUpdate(s->tx.ctx, out + SEAL_HDR_BYTES, &n1, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(s->tx.ctx, out + SEAL_HDR_BYTES + n1, &n2) != 1 ||
	    EVP_CIPHER_CTX_ctrl(s->tx.ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_BYTES,
				out + SEAL_HDR_BYTES + len) != 1)
		return -EIO;
	s->tx_ctr++;
	s->tx_frames++;
	s->tx_bytes += len;
	return (int)(len + SEAL_OVERHEAD);
}

void seal_cancel(struct seal *s, size_t len)
{
	/* The ciphertext never left this process, so sealing another frame under the same
	 * counter and key reveals nothing. */
	s->tx_ctr--;
	if (s->tx_frames > 0)
		s->tx_frames--;
	s->tx_bytes = s->tx_bytes >= len ? s->tx_bytes - len : 0;
}

/* Whether counter c may still be accepted (not seen, not too old). On a stream it must
 * be the next one: a frame removed from the stream (or one replayed or moved) shows as a
 * gap, and the sender never leaves one (seal_cancel). */
static bool fresh(const struct seal *s, uint64_t c)
{
	if (s->stream)
		return s->rx_any ? c == s->rx_top + 1 : c == 0;
	if (!s->rx_any || c > s->rx_top)
		return true;
	if (s->rx_top - c >= SEAL_WINDOW)
		return false;
	return !(s->rx_bitmap[(c / 64) % (SEAL_WINDOW / 64)] & (1ull << (c % 64)));
}

static void mark(struct seal *s, uint64_t c)
{
	if (!s->rx_any || c > s->rx_top) {
		uint64_t from = s->rx_any ? s->rx_top / 64 + 1 : c / 64, to = c / 64;

		/* Clear the words the window slides over (all of them after a long jump). */
		if (!s->rx_any || (to >= from && to - from + 1 >= SEAL_WINDOW / 64))
			memset(s->rx_bitmap, 0, sizeof(s->rx_bitmap));
		else
			for (uint64_t w = from; w <= to && to >= from; w++)
				s->rx_bitmap[w % (SEAL_WINDOW / 64)] = 0;
		s->rx_top = c;
		s->rx_any = true;
	}
	s->rx_bitmap[(c / 64) % (SEAL_WINDOW / 64)] |= 1ull << (c % 64);
}

static bool try_open(struct seal_key *k, const uint8_t *ad, const uint8_t *in, size_t clen,
		     uint8_t *out)
{
	uint8_t tag[SEAL_TAG_BYTES];
	int n1 = 0, n2 = 0;

	memcpy(tag, in + SEAL_HDR_BYTES + clen, SEAL_TAG_BYTES);
	return EVP_DecryptInit_ex(k->ctx, NULL, NULL, NULL, in) == 1 &&
	       EVP_DecryptUpdate(k->ctx, NULL, &n1, ad, 3) == 1 &&
	       EVP_DecryptUpdate(k->ctx, out, &n1, in + SEAL_HDR_BYTES, (int)clen) == 1 &&
	       EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_BYTES, tag) == 1 &&
	       EVP_DecryptFinal_ex(k->ctx, out + n1, &n2) == 1;
}

int seal_open(struct seal *s, uint8_t type, uint16_t flags, const uint8_t *in, size_t len,
	      uint8_t *out, size_t cap)
{
	size_t off = 0, clen;
	uint32_t gen;
	uint64_t ctr;
	uint8_t ad[3];

	if (len < SEAL_OVERHEAD || len - SEAL_OVERHEAD > cap || len > (size_t)INT32_MAX)
		return -EBADMSG;
	clen = len - SEAL_OVERHEAD;
	get_be32(in, len, &off, &gen);
	get_be64(in, len, &off, &ctr);
	if (!fresh(s, ctr))
		return -EALREADY;
	aad(ad, type, flags);
	if (gen == s->rx.gen) {
		if (!try_open(&s->rx, ad, in, clen, out))
			return -EBADMSG;
	} else if (s->rx_prev.set && gen == s->rx_prev.gen && !s->stream) {
		if (!try_open(&s->rx_prev, ad, in, clen, out))
			return -EBADMSG;
	} else if (gen == s->rx.gen + 1) {
		struct seal_key next = { 0 };
		uint8_t k[SEAL_KEY_BYTES];

		key_next(s->rx.key, k);
		if (key_set(&next, k, gen) < 0 || !try_open(&next, ad, in, clen, out)) {
			OPENSSL_cleanse(k, sizeof(k));
			key_wipe(&next);
			return -EBADMSG;
		}
		OPENSSL_cleanse(k, sizeof(k));
		key_wipe(&s->rx_prev);
		s->rx_prev = s->rx;
		s->rx = next;
		s->rekeys++;
		if (s->stream) /* nothing of the old generation can come any more */
			key_wipe(&s->rx_prev);
	} else {
		return -EBADMSG;
	}
	mark(s, ctr);
	return (int)clen;
}
