#include "tunnel/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define NAME_MAX_LEN 31 /* as NODE_NAME_MAX (tunvnet/msg.h), which sits above this layer */
#define PEM_FILE_MAX (1 << 20) /* a credential file this big is the wrong file */

struct tls_ctx {
	SSL_CTX *ctx;
	char *ca;
};

static void why_set(char *why, size_t n, const char *fmt, const char *a, const char *b)
{
	if (why && n)
		snprintf(why, n, fmt, a, b ? b : "");
}

/* OpenSSL's last reason, or what fallback says when it has none. */
static const char *ossl_reason(char *buf, size_t cap, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();

	if (!e) {
		snprintf(buf, cap, "%s", fallback);
		return buf;
	}
	ERR_error_string_n(e, buf, cap);
	ERR_clear_error();
	/* "error:0A000086:SSL routines::certificate verify failed": keep the words. */
	{
		char *p = strrchr(buf, ':');

		if (p && p[1])
			memmove(buf, p + 1, strlen(p + 1) + 1);
	}
	return buf;
}

static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int cn_name(X509 *x, char *out, size_t cap)
{
	X509_NAME *sub = X509_get_subject_name(x);
	int idx = sub ? X509_NAME_get_index_by_NID(sub, NID_commonName, -1) : -1;
	const ASN1_STRING *s;
	int len;

	if (idx < 0 || X509_NAME_get_index_by_NID(sub, NID_commonName, idx) >= 0)
		return -EKEYREJECTED; /* none, or two */
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sub, idx));
	len = s ? ASN1_STRING_length(s) : 0;
	if (len <= 0 || (size_t)len >= cap)
		return -EKEYREJECTED;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)len);
	out[len] = '\0';
	return name_ok(out, (size_t)len) ? 0 : -EKEYREJECTED;
}

/* The node name a certificate carries: its one DNS subjectAltName, or without any, its
 * subject CN. Two DNS names are ambiguous and name nothing. */
static int cert_name(X509 *x, char *out, size_t cap)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int ndns = 0, rc = -EKEYREJECTED;

	if (!gens)
		return cn_name(x, out, cap);
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int len;

		if (g->type != GEN_DNS)
			continue;
		ndns++;
		len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || (size_t)len >= cap) {
			rc = -EKEYREJECTED;
			continue;
		}
		memcpy(out, ASN1_STRING_get0_data(g->d.dNSName), (size_t)len);
		out[len] = '\0';
		rc = name_ok(out, (size_t)len) ? 0 : -EKEYREJECTED;
	}
	GENERAL_NAMES_free(gens);
	if (ndns == 0)
		return cn_name(x, out, cap);
	return ndns == 1 ? rc : -EKEYREJECTED;
}

/* A credential file, opened without blocking (a FIFO named by mistake must not hang the
 * daemon or its config check) and only when it is a regular file of a sane size. */
static FILE *open_pem(const char *path, char *why, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	FILE *f;

	if (fd < 0) {
		why_set(why, n, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PEM_FILE_MAX) {
		why_set(why, n, "%s is not a regular file of at most 1 MiB%s", path, "");
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		why_set(why, n, "cannot read %s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

static X509 *read_cert(const char *path, char *why, size_t n)
{
	FILE *f = open_pem(path, why, n);
	X509 *x;
	char r[160];

	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		why_set(why, n, "%s holds no PEM certificate (%s)", path,
			ossl_reason(r, sizeof(r), "no certificate"));
	return x;
}

static int check_dates(X509 *x, const char *path, char *why, size_t n)
{
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		why_set(why, n, "certificate %s has expired%s", path, "");
		return -EKEYEXPIRED;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
		why_set(why, n, "certificate %s is not valid yet%s", path, "");
		return -EKEYREJECTED;
	}
	return 0;
}

int tls_check_ca(const char *path, char *why, size_t n)
{
	X509 *x = read_cert(path, why, n);
	int rc;

	if (!x)
		return -EINVAL;
	rc = check_dates(x, path, why, n);
	if (rc == 0 && X509_check_ca(x) == 0) {
		why_set(why, n, "%s is not a CA certificate%s", path, "");
		rc = -EINVAL;
	}
	X509_free(x);
	return rc;
}

int tls_check_key(const char *path, char *why, size_t n)
{
	struct stat st;
	EVP_PKEY *k;
	FILE *f;
	char r[160];

	if (stat(path, &st) < 0) {
		why_set(why, n, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		char mode[16];

		snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
		why_set(why, n, "private key %s is accessible by group or others (mode %s): "
			"chmod 600 it", path, mode);
		return -EPERM;
	}
	f = open_pem(path, why, n);
	if (!f)
		return -EINVAL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k) {
		why_set(why, n, "%s holds no PEM private key (%s)", path,
			ossl_reason(r, sizeof(r), "no key"));
		return -EINVAL;
	}
	EVP_PKEY_free(k);
	return 0;
}

static X509_CRL *read_crl(const char *path, char *why, size_t n)
{
	FILE *f = open_pem(path, why, n);
	X509_CRL *c;
	char r[160];

	if (!f)
		return NULL;
	c = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	if (!c)
		why_set(why, n, "%s holds no PEM revocation list (%s)", path,
			ossl_reason(r, sizeof(r), "no CRL"));
	return c;
}

/* A store holding the CA and, if given, the revocation list, checked against. */
static X509_STORE *make_store(const char *ca, const char *crl, char *why, size_t n)
{
	X509_STORE *st = X509_STORE_new();
	char r[160];

	if (!st) {
		why_set(why, n, "out of memory%s%s", "", "");
		return NULL;
	}
	{
		FILE *f = open_pem(ca, why, n);

		if (!f)
			goto fail;
		fclose(f);
	}
	if (X509_STORE_load_file(st, ca) != 1) {
		why_set(why, n, "cannot load CA %s (%s)", ca, ossl_reason(r, sizeof(r), "?"));
		goto fail;
	}
	if (crl && crl[0]) {
		X509_CRL *c = read_crl(crl, why, n);

		if (!c)
			goto fail;
		if (X509_STORE_add_crl(st, c) != 1) {
			X509_CRL_free(c);
			why_set(why, n, "cannot use revocation list %s (%s)", crl,
				ossl_reason(r, sizeof(r), "?"));
			goto fail;
		}
		X509_CRL_free(c);
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	return st;
fail:
	X509_STORE_free(st);
	return NULL;
}

int tls_check_crl(const char *path, const char *ca, char *why, size_t n)
{
	X509_STORE *st = make_store(ca, path, why, n);

	if (!st)
		return -EINVAL;
	X509_STORE_free(st);
	return 0;
}

/* Verifies x against st as a TLS peer certificate. 0 or -EKEYREJECTED / -EKEYREVOKED. */
static int verify(X509_STORE *st, X509 *x, const char *path, char *why, size_t n)
{
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	int rc = -ENOMEM, err;

	if (!vc || X509_STORE_CTX_init(vc, st, x, NULL) != 1)
		goto out;
	X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(vc) == 1) {
		rc = 0;
		goto out;
	}
	err = X509_STORE_CTX_get_error(vc);
	why_set(why, n, "certificate %s does not verify against the CA: %s", path,
		X509_verify_cert_error_string(err));
	rc = err == X509_V_ERR_CERT_REVOKED ? -EKEYREVOKED : -EKEYREJECTED;
out:
	X509_STORE_CTX_free(vc);
	ERR_clear_error();
	return rc;
}

int tls_check_cert(const struct tls_cred *c, char *why, size_t n)
{
	X509 *x = read_cert(c->cert, why, n);
	X509_STORE *st = NULL;
	char name[NAME_MAX_LEN + 2];
	EVP_PKEY *k = NULL;
	FILE *f;
	int rc;

	if (!x)
		return -EINVAL;
	rc = check_dates(x, c->cert, why, n);
	if (rc < 0)
		goto out;
	if (cert_name(x, name, sizeof(name)) < 0) {
		why_set(why, n, "certificate %s names no valid node (one DNS subjectAltName "
			"or CN of [A-Za-z0-9._-], at most 31 bytes)%s", c->cert, "");
		rc = -EKEYREJECTED;
		goto out;
	}
	if (strcmp(name, c->node) != 0) {
		char msg[TLS_WHY_MAX];

		snprintf(msg, sizeof(msg), "certificate %s is for node \"%s\", not \"%s\"",
			 c->cert, name, c->node);
		why_set(why, n, "%s%s", msg, "");
		rc = -EKEYREJECTED;
		goto out;
	}
	st = make_store(c->ca, c->crl, why, n);
	if (!st) {
		rc = -EINVAL;
		goto out;
	}
	rc = verify(st, x, c->cert, why, n);
	if (rc < 0)
		goto out;
	f = open_pem(c->key, NULL, 0);
	if (f) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!k || X509_check_private_key(x, k) != 1) {
		why_set(why, n, "private key %s does not belong to certificate %s", c->key,
			c->cert);
		rc = -EKEYREJECTED;
	}
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_STORE_free(st);
	X509_free(x);
	return rc;
}

int tls_ctx_new(const struct tls_cred *c, struct tls_ctx **out, char *why, size_t n)
{
	struct tls_ctx *t = calloc(1, sizeof(*t));
	X509_STORE *st;
	char r[160];

	if (!t || !(t->ca = strdup(c->ca)))
		goto nomem;
	t->ctx = SSL_CTX_new(TLS_method());
	if (!t->ctx)
		goto nomem;
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION);
	/* Every link is a full handshake: no tickets, no resumption, no session cache. */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(t->ctx, 0);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(t->ctx, 4);
	if (SSL_CTX_use_certificate_chain_file(t->ctx, c->cert) != 1) {
		why_set(why, n, "cannot load certificate %s (%s)", c->cert,
			ossl_reason(r, sizeof(r), "?"));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, c->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(t->ctx) != 1) {
		why_set(why, n, "cannot use private key %s (%s)", c->key,
			ossl_reason(r, sizeof(r), "?"));
		goto fail;
	}
	st = make_store(c->ca, c->crl, why, n);
	if (!st)
		goto fail;
	SSL_CTX_set_cert_store(t->ctx, st);
	*out = t;
	return 0;
nomem:
	why_set(why, n, "out of memory%s%s", "", "");
fail:
	tls_ctx_free(t);
	ERR_clear_error();
	return -EINVAL;
}

void tls_ctx_free(struct tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t->ca);
	free(t);
}

int tls_ctx_reload_crl(struct tls_ctx *t, const char *crl, char *why, size_t n)
{
	X509_STORE *st = make_store(t->ca, crl, why, n);

	if (!st)
		return -EINVAL;
	SSL_CTX_set_cert_store(t->ctx, st); /* frees the old store */
	return 0;
}

int tls_recheck(struct tls_ctx *t, SSL *ssl, char *why, size_t n)
{
	X509 *x = SSL_get0_peer_certificate(ssl);

	if (!x) {
		why_set(why, n, "no peer certificate%s%s", "", "");
		return -EKEYREJECTED;
	}
	return verify(SSL_CTX_get_cert_store(t->ctx), x, "of the peer", why, n);
}

SSL *tls_ssl_new(struct tls_ctx *t, int fd, bool server)
{
	SSL *s = SSL_new(t->ctx);

	if (!s)
		return NULL;
	if (SSL_set_fd(s, fd) != 1) {
		SSL_free(s);
		return NULL;
	}
	if (server)
		SSL_set_accept_state(s);
	else
		SSL_set_connect_state(s);
	return s;
}

int tls_peer_name(SSL *ssl, char *out, size_t cap)
{
	X509 *x = SSL_get0_peer_certificate(ssl);

	if (!x || SSL_get_verify_result(ssl) != X509_V_OK)
		return -EKEYREJECTED;
	return cert_name(x, out, cap);
}

int tls_export(SSL *ssl, const char *label, const uint8_t *context, size_t clen,
	       uint8_t *out, size_t olen)
{
	if (SSL_export_keying_material(ssl, out, olen, label, strlen(label), context, clen,
				       1) != 1) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

const char *tls_error(SSL *ssl, char *buf, size_t cap)
{
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (v != X509_V_OK) {
		snprintf(buf, cap, "peer certificate: %s", X509_verify_cert_error_string(v));
		ERR_clear_error();
		return buf;
	}
	return ossl_reason(buf, cap, "TLS error");
}

bool tls_failed_verify(SSL *ssl)
{
	unsigned long e = ERR_peek_last_error();
	int r = ERR_GET_REASON(e);

	if (ssl && SSL_get_verify_result(ssl) != X509_V_OK)
		return true;
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return false;
	switch (r) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}
