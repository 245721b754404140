#include "tunvnet/link.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tunnel/tls.h"
#include "tunnel/wire.h"

#define PROOF_LABEL "EXPORTER-tunvnet-link"
#define DATA_LABEL  "EXPORTER-tunvnet-data"

static void link_context(uint64_t link, uint8_t ctx[8])
{
	size_t off = 0;

	put_be64(ctx, 8, &off, link);
}

int link_proof(SSL *ctl, bool ok, const char *dialer, const char *listener, uint64_t link,
	       uint8_t substrate, uint8_t flags, uint8_t mac[MSG_MAC_BYTES])
{
	uint8_t key[32], ctx[8], msg[2 * (NODE_NAME_MAX + 1) + 16];
	size_t off = 0, outlen = 0;
	int rc = -EIO;

	link_context(link, ctx);
	if (tls_export(ctl, PROOF_LABEL, ctx, sizeof(ctx), key, sizeof(key)) < 0)
		return -EIO;
	/* Each field is length-prefixed, so no two tuples encode alike. */
	put_u8(msg, sizeof(msg), &off, ok ? 'k' : 'o');
	put_u8(msg, sizeof(msg), &off, (uint8_t)strlen(dialer));
	put_bytes(msg, sizeof(msg), &off, dialer, strlen(dialer));
	put_u8(msg, sizeof(msg), &off, (uint8_t)strlen(listener));
	put_bytes(msg, sizeof(msg), &off, listener, strlen(listener));
	put_be64(msg, sizeof(msg), &off, link);
	put_u8(msg, sizeof(msg), &off, substrate);
	put_u8(msg, sizeof(msg), &off, flags);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof(key), msg, off, mac,
		      MSG_MAC_BYTES, &outlen) && outlen == MSG_MAC_BYTES)
		rc = 0;
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

bool link_proof_ok(SSL *ctl, bool ok, const char *dialer, const char *listener,
		   uint64_t link, uint8_t substrate, uint8_t flags,
		   const uint8_t mac[MSG_MAC_BYTES])
{
	uint8_t want[MSG_MAC_BYTES];

	if (link_proof(ctl, ok, dialer, listener, link, substrate, flags, want) < 0)
		return false;
	return CRYPTO_memcmp(want, mac, MSG_MAC_BYTES) == 0;
}

int link_seal_keys(struct peer_link *l, SSL *ctl)
{
	uint8_t keys[2 * SEAL_KEY_BYTES], ctx[8];
	int err;

	link_context(l->id, ctx);
	if (tls_export(ctl, DATA_LABEL, ctx, sizeof(ctx), keys, sizeof(keys)) < 0)
		return -EIO;
	/* The dialer sends with the first half and receives with the second. */
	err = l->initiator ? seal_init(&l->seal, keys, keys + SEAL_KEY_BYTES,
				       l->ops->caps.ordered)
			   : seal_init(&l->seal, keys + SEAL_KEY_BYTES, keys,
				       l->ops->caps.ordered);
	OPENSSL_cleanse(keys, sizeof(keys));
	if (err == 0)
		l->sealed = true;
	return err;
}

int link_send(struct peer_link *l, uint8_t type, uint16_t flags, const void *buf, size_t len,
	      uint8_t *scratch)
{
	int n, err;

	if (!l->sealed) {
		err = l->ops->send(l->lk, type, flags, buf, len);
	} else {
		n = seal_frame(&l->seal, type, flags, buf, len, scratch, FRAME_MAX_PAYLOAD);
		if (n < 0)
			return n;
		err = l->ops->send(l->lk, type, flags, scratch, (size_t)n);
		if (err < 0) /* not sent: no gap in the receiver's counters */
			seal_cancel(&l->seal, len);
	}
	if (err == 0)
		l->tx_frames++;
	return err;
}

int link_open(struct peer_link *l, const struct frame_hdr *h, const uint8_t *payload,
	      uint8_t *scratch, const uint8_t **out, size_t *outlen)
{
	int n;

	if (!l->sealed) {
		*out = payload;
		*outlen = h->len;
		return 0;
	}
	n = seal_open(&l->seal, h->type, h->flags, payload, h->len, scratch, FRAME_MAX_PAYLOAD);
	if (n < 0)
		return n;
	*out = scratch;
	*outlen = (size_t)n;
	return 0;
}
