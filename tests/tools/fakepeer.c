/* fakepeer — a scripted peer: a node with a real credential that says what it is told,
 * to load a daemon (make bench: 100,000 routes) and to play a hostile cluster member in
 * the integration tests (a node lying about others' VIPs, epochs, PEERS floods, spoofed
 * DATA).
 *
 *   fakepeer --connect ADDR[:PORT] --ca FILE --cert FILE --key FILE [--name NAME]
 *            [--none] [-t SECONDS] STEP...
 *
 * Connects over TLS 1.3 with the credential (as any node does), sends HELLO as NAME
 * (default: the name its certificate carries; another name tests the daemon's check),
 * with data_protection sealed (--none: none), then runs the steps in order:
 *
 *   routes N FIRST [EPOCH [NODE]]  announce N consecutive VIPs from FIRST (IPv4 or IPv6)
 *                                  with EPOCH (default 1) as hosted by NODE (default:
 *                                  NAME), in ROUTES frames of up to 2000 routes
 *   peers N [FIRST_ADDR [PREFIX]]  PEERS hints: N members PREFIXK (default hintK) at
 *                                  consecutive addresses from FIRST_ADDR (default
 *                                  198.18.1.1), port 7000 (a daemon dials a hinted name
 *                                  only when its own is lower: "zhint" > "n1")
 *   data SRC DST [COUNT]           COUNT (default 1) DATA frames: a UDP datagram SRC:9 ->
 *                                  DST:9 (IPv4) with payload "fakepeer"
 *   sync                           PING, then wait for its PONG: the daemon handles a
 *                                  link's frames in order, so it has applied the above
 *   print WORD                     print WORD on stdout (scripts wait for it)
 *   stay                           stay connected answering keepalives for -t SECONDS
 *                                  (default: until killed)
 *
 * It accepts connections from nobody (its HELLO has no listen address), so no daemon
 * dials it; it opens no data link, so its DATA goes on the control link.
 *
 * Exit status: 0 when the steps are done; 1 when the handshake fails or the link closes
 * (the daemon refused it: the reason is printed); 2 on a usage error. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tunnel/frame.h"
#include "tunnel/wire.h"
#include "tunvnet/addr.h"
#include "tunvnet/msg.h"
#include "tunvnet/route.h"

#define PER_FRAME   2000
#define READY_MAGIC 0x66616b6570656572ULL /* "fakepeer": the PING we wait for */

static SSL *ssl;
static uint8_t ibuf[4 * (FRAME_HDR_LEN + FRAME_MAX_PAYLOAD)];
static size_t ilen;
static uint8_t payload[FRAME_MAX_PAYLOAD];

static void die(const char *what)
{
	char e[256] = "";
	unsigned long err = ERR_get_error();

	if (err)
		ERR_error_string_n(err, e, sizeof(e));
	fprintf(stderr, "fakepeer: %s%s%s\n", what, e[0] ? ": " : "", e);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: fakepeer --connect ADDR[:PORT] --ca FILE --cert FILE --key FILE "
			"[--name NAME] [--none] [-t SECONDS] STEP...\n"
			"steps: routes N FIRST [EPOCH [NODE]] | peers N [FIRST_ADDR [PREFIX]] | "
			"data SRC DST [COUNT] | sync | print WORD | stay\n");
	exit(2);
}

static void send_frame(uint8_t type, uint16_t flags, const void *p, size_t len)
{
	static uint8_t buf[FRAME_HDR_LEN + FRAME_MAX_PAYLOAD];

	frame_hdr_encode(buf, type, flags, (uint32_t)len);
	memcpy(buf + FRAME_HDR_LEN, p, len);
	if (SSL_write(ssl, buf, (int)(FRAME_HDR_LEN + len)) <= 0)
		die("the daemon closed the link");
}

/* Reads one frame; answers PINGs. Returns its type, the payload in payload. */
static uint8_t read_frame(size_t *len)
{
	for (;;) {
		struct frame_hdr h;
		int err = frame_hdr_decode(ibuf, ilen, &h), n;

		if (err == 0 && ilen >= FRAME_HDR_LEN + h.len) {
			memcpy(payload, ibuf + FRAME_HDR_LEN, h.len);
			memmove(ibuf, ibuf + FRAME_HDR_LEN + h.len, ilen - FRAME_HDR_LEN - h.len);
			ilen -= FRAME_HDR_LEN + h.len;
			*len = h.len;
			if (h.type == FRAME_PING) {
				send_frame(FRAME_PONG, 0, payload, h.len);
				continue;
			}
			return h.type;
		}
		if (err < 0 && err != -EAGAIN)
			die("bad frame from the daemon");
		n = SSL_read(ssl, ibuf + ilen, (int)(sizeof(ibuf) - ilen));
		if (n <= 0)
			die("the daemon closed the link");
		ilen += (size_t)n;
	}
}

static void step_sync(void)
{
	uint8_t b[8];
	size_t off = 0, len;

	put_be64(b, sizeof(b), &off, READY_MAGIC);
	send_frame(FRAME_PING, 0, b, sizeof(b));
	for (;;) {
		uint8_t t = read_frame(&len);
		uint64_t v;

		off = 0;
		if (t == FRAME_PONG && get_be64(payload, len, &off, &v) && v == READY_MAGIC)
			return;
	}
}

static void step_routes(const char *name, long n, const char *first, uint64_t epoch,
			const char *node)
{
	static struct route_entry e[PER_FRAME];
	struct vip v;
	long done = 0;

	if (vip_parse(first, &v) < 0)
		usage();
	while (done < n) {
		size_t k = 0;
		int len;

		for (; k < PER_FRAME && done < n; k++, done++) {
			memset(&e[k], 0, sizeof(e[k]));
			e[k].vip = v;
			e[k].epoch = epoch;
			snprintf(e[k].node, sizeof(e[k].node), "%s", node ? node : name);
			/* next address: add one to the last bytes */
			for (int i = v.family == AF_INET ? 3 : 15; i >= 0 && ++v.a[i] == 0; i--)
				;
		}
		len = msg_routes_encode(e, k, payload, sizeof(payload));
		if (len < 0)
			die("cannot encode routes");
		send_frame(FRAME_ROUTES, 0, payload, (size_t)len);
	}
}

static void step_peers(long n, const char *first, const char *prefix)
{
	static struct msg_member m[1000];
	struct in_addr a;
	long done = 0;

	if (inet_pton(AF_INET, first, &a) != 1)
		usage();
	while (done < n) {
		size_t k = 0;
		int len;

		for (; k < 1000 && done < n; k++, done++) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&m[k].addr;

			memset(&m[k], 0, sizeof(m[k]));
			snprintf(m[k].name, sizeof(m[k].name), "%s%ld", prefix, done);
			sin->sin_family = AF_INET;
			sin->sin_port = htons(7000);
			sin->sin_addr.s_addr = htonl(ntohl(a.s_addr) + (uint32_t)done);
		}
		len = msg_peers_encode(m, k, payload, sizeof(payload));
		if (len < 0)
			die("cannot encode peers");
		send_frame(FRAME_PEERS, 0, payload, (size_t)len);
	}
}

static uint16_t csum(const uint8_t *b, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void step_data(const char *src, const char *dst, long count)
{
	uint8_t p[20 + 8 + 8];
	struct in_addr s, d;
	uint16_t c;

	if (inet_pton(AF_INET, src, &s) != 1 || inet_pton(AF_INET, dst, &d) != 1)
		usage();
	memset(p, 0, sizeof(p));
	p[0] = 0x45;
	p[3] = sizeof(p);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	memcpy(p + 12, &s, 4);
	memcpy(p + 16, &d, 4);
	c = csum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
	p[21] = 9;
	p[23] = 9;
	p[25] = 16;
	memcpy(p + 28, "fakepeer", 8); /* UDP checksum 0: none */
	for (long i = 0; i < count; i++)
		send_frame(FRAME_DATA, 0, p, sizeof(p));
}

static void step_stay(int seconds)
{
	time_t end = seconds > 0 ? time(NULL) + seconds : 0;
	size_t len;

	for (;;) {
		struct pollfd pfd = { SSL_get_fd(ssl), POLLIN, 0 };

		if (end && time(NULL) >= end)
			return;
		if (SSL_pending(ssl) == 0 && poll(&pfd, 1, 1000) <= 0)
			continue;
		read_frame(&len);
	}
}

/* The name the certificate carries (CN). */
static void cert_cn(SSL_CTX *ctx, char *out, size_t cap)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);

	out[0] = '\0';
	if (x)
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)cap);
}

int main(int argc, char **argv)
{
	const char *connect_to = NULL, *ca = NULL, *cert = NULL, *key = NULL;
	char name[NODE_NAME_MAX + 1] = "";
	struct sockaddr_storage to;
	struct msg_hello hello;
	bool sealed = true;
	int seconds = 0, c, fd, n;
	SSL_CTX *ctx;
	size_t len;

	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' }, { "ca", required_argument, NULL, 'A' },
		{ "cert", required_argument, NULL, 'C' }, { "key", required_argument, NULL, 'K' },
		{ "name", required_argument, NULL, 'n' }, { "none", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};

	while ((c = getopt_long(argc, argv, "+c:n:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': connect_to = optarg; break;
		case 'A': ca = optarg; break;
		case 'C': cert = optarg; break;
		case 'K': key = optarg; break;
		case 'n': snprintf(name, sizeof(name), "%s", optarg); break;
		case 'N': sealed = false; break;
		case 't': seconds = atoi(optarg); break;
		default: usage();
		}
	}
	if (!connect_to || !ca || !cert || !key || addr_parse(connect_to, 7000, &to) < 0)
		usage();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		die("cannot load the credential");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!name[0])
		cert_cn(ctx, name, sizeof(name));
	fd = socket(to.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, to.ss_family == AF_INET ?
			      sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0)
		die("cannot connect");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		die("TLS handshake failed");
	memset(&hello, 0, sizeof(hello));
	snprintf(hello.name, sizeof(hello.name), "%s", name);
	hello.listen.ss_family = AF_UNSPEC;
	hello.flags = sealed ? MSG_HELLO_SEALED : 0;
	hello.substrates = 1;
	n = msg_hello_encode(&hello, payload, sizeof(payload));
	if (n < 0)
		die("cannot encode HELLO");
	send_frame(FRAME_HELLO, 0, payload, (size_t)n);
	if (read_frame(&len) != FRAME_HELLO)
		die("no HELLO from the daemon");
	for (int i = optind; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "routes") == 0 && i + 2 < argc) {
			long cnt = atol(argv[i + 1]);
			const char *first = argv[i + 2];
			uint64_t epoch = 1;
			const char *node = NULL;

			i += 2;
			if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				epoch = strtoull(argv[++i], NULL, 10);
			if (i + 1 < argc && msg_name_valid(argv[i + 1]) &&
			    strcmp(argv[i + 1], "sync") != 0 && strcmp(argv[i + 1], "stay") != 0 &&
			    strcmp(argv[i + 1], "print") != 0 && strcmp(argv[i + 1], "routes") != 0 &&
			    strcmp(argv[i + 1], "peers") != 0 && strcmp(argv[i + 1], "data") != 0)
				node = argv[++i];
			step_routes(name, cnt, first, epoch, node);
		} else if (strcmp(s, "peers") == 0 && i + 1 < argc) {
			long cnt = atol(argv[++i]);
			const char *first = "198.18.1.1", *prefix = "hint";

			if (i + 1 < argc && strchr(argv[i + 1], '.')) {
				first = argv[++i];
				if (i + 1 < argc && argv[i + 1][0] >= 'a' && argv[i + 1][0] <= 'z' &&
				    strlen(argv[i + 1]) <= 20 && msg_name_valid(argv[i + 1]) &&
				    strcmp(argv[i + 1], "sync") != 0 && strcmp(argv[i + 1], "stay") != 0 &&
				    strcmp(argv[i + 1], "print") != 0 && strcmp(argv[i + 1], "routes") != 0 &&
				    strcmp(argv[i + 1], "peers") != 0 && strcmp(argv[i + 1], "data") != 0)
					prefix = argv[++i];
			}
			step_peers(cnt, first, prefix);
		} else if (strcmp(s, "data") == 0 && i + 2 < argc) {
			const char *src = argv[i + 1], *dst = argv[i + 2];
			long cnt = 1;

			i += 2;
			if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				cnt = atol(argv[++i]);
			step_data(src, dst, cnt);
		} else if (strcmp(s, "sync") == 0) {
			step_sync();
		} else if (strcmp(s, "print") == 0 && i + 1 < argc) {
			printf("%s\n", argv[++i]);
			fflush(stdout);
		} else if (strcmp(s, "stay") == 0) {
			step_stay(seconds);
		} else {
			usage();
		}
	}
	SSL_shutdown(ssl);
	return 0;
}
