/* Node identity: TLS 1.3 with mutual certificate authentication (OpenSSL).
 *
 * Every node holds a certificate from the cluster's CA (scripts/vnet-ca) that names it:
 * a DNS subjectAltName (or, without one, the subject CN) equal to its node name. Peers
 * meet over TLS 1.3 only; each side requires and verifies the other's certificate
 * against the CA and, when one is configured, the revocation list. A peer is then
 * exactly the name its certificate carries (tls_peer_name). No session tickets, no
 * resumption: every control link is a full handshake with fresh ECDHE keys.
 *
 * Keys for links that are not the TLS stream itself come from the session's exporter
 * (RFC 8446 §7.5; tls_export), so they are bound to this authenticated session and to
 * nothing an on-path host can see or choose.
 *
 * The credential checks (tls_check_*) are what `tunvnetd -n` reports: each returns 0, or
 * -errno with a sentence in why. */
#ifndef TUNNEL_TLS_H
#define TUNNEL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ssl_st SSL;
struct tls_ctx;

#define TLS_WHY_MAX 256

struct tls_cred {
	const char *ca;    /* PEM: the cluster CA certificate(s) */
	const char *cert;  /* PEM: this node's certificate (chain after it, if any) */
	const char *key;   /* PEM: its private key; must not be readable by group or others */
	const char *crl;   /* PEM: revocation list, or NULL / "" for none */
	const char *node;  /* the name the certificate must carry */
};

/* Config checks, one per file. tls_check_cert verifies cert against ca (and crl),
 * checks its validity dates and that it names node and matches key. */
int tls_check_ca(const char *path, char *why, size_t n);
int tls_check_key(const char *path, char *why, size_t n);
int tls_check_crl(const char *path, const char *ca, char *why, size_t n);
int tls_check_cert(const struct tls_cred *c, char *why, size_t n);

/* Loads the credential into a TLS 1.3-only context that requires and verifies the peer's
 * certificate (both roles). 0 or -errno with why. */
int  tls_ctx_new(const struct tls_cred *c, struct tls_ctx **out, char *why, size_t n);
void tls_ctx_free(struct tls_ctx *t);
/* Re-reads the revocation list (SIGHUP); on failure the old one stays. 0 or -errno. */
int  tls_ctx_reload_crl(struct tls_ctx *t, const char *crl, char *why, size_t n);
/* Verifies the peer certificate of an established link again (after a CRL reload).
 * 0, or -EKEYREVOKED / -EKEYREJECTED with why. */
int  tls_recheck(struct tls_ctx *t, SSL *ssl, char *why, size_t n);
/* A new connection object for fd, in the client or server role; NULL when out of memory. */
SSL *tls_ssl_new(struct tls_ctx *t, int fd, bool server);

/* The node name the verified peer certificate carries, into out (cap bytes). 0, or
 * -EKEYREJECTED when there is no verified certificate or it names no valid node. */
int tls_peer_name(SSL *ssl, char *out, size_t cap);
/* Keying material from the session's exporter: label and context as RFC 8446 defines.
 * 0 or -EIO. */
int tls_export(SSL *ssl, const char *label, const uint8_t *context, size_t clen,
	       uint8_t *out, size_t olen);
/* Why the last handshake or record operation on ssl failed, for the log: the
 * certificate verification result when that was it, else OpenSSL's reason. */
const char *tls_error(SSL *ssl, char *buf, size_t cap);
/* Whether the failure was the peer's certificate (counted as a refused handshake) rather
 * than the transport. */
bool tls_failed_verify(SSL *ssl);

#endif
