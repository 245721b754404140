/* fakepeer — a node that is nothing but a route table, to load a real tunvnetd with
 * routes (make bench: the daemon's memory with 100,000 routes).
 *
 *   fakepeer -k KEYFILE -c ADDR[:PORT] [-n NAME] [-r ROUTES] [-b FIRST_VIP] [-t SECONDS]
 *
 * Connects to the daemon at ADDR, does the real handshake (HELLO with a fresh nonce, the
 * cluster-key proof both ways, tunnel/auth.h), then announces ROUTES VIPs (default
 * 100000; consecutive IPv4 addresses from FIRST_VIP, default 10.0.0.1, or IPv6 if
 * FIRST_VIP is one) as hosted by node NAME (default "fake"), epoch 1, in ROUTES frames
 * of up to 2000 routes. Then it sends a PING and waits for its PONG: the daemon handles
 * a link's frames in order, so by then it has applied every route. It prints
 * "ready ROUTES" on stdout and stays connected, answering the daemon's keepalives, for
 * SECONDS (default: until killed). It accepts connections from nobody (its HELLO has no
 * listen address), so no daemon dials it.
 *
 * Exit status: 0 after SECONDS; 1 when the handshake fails or the link closes; 2 on a
 * usage error. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "tunnel/auth.h"
#include "tunnel/frame.h"
#include "tunnel/wire.h"
#include "tunvnet/addr.h"
#include "tunvnet/msg.h"
#include "tunvnet/route.h"

#define PER_FRAME   2000
#define READY_MAGIC 0x66616b6570656572ULL /* "fakepeer": the PING we wait for */
#define KEY_MAX     4096

static uint8_t ibuf[4 * (FRAME_HDR_LEN + FRAME_MAX_PAYLOAD)];
static size_t ilen;

static void die(const char *what)
{
	fprintf(stderr, "fakepeer: %s\n", what);
	exit(1);
}

static void send_frame(int fd, uint8_t type, uint16_t flags, const void *p, size_t len)
{
	uint8_t h[FRAME_HDR_LEN];
	const uint8_t *parts[2] = { h, p };
	size_t lens[2] = { FRAME_HDR_LEN, len };

	frame_hdr_encode(h, type, flags, (uint32_t)len);
	for (int i = 0; i < 2; i++) {
		size_t off = 0;

		while (off < lens[i]) {
			ssize_t n = write(fd, parts[i] + off, lens[i] - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				die("write to the daemon failed");
			off += (size_t)n;
		}
	}
}

/* Waits up to timeout_ms for one whole frame; copies its payload into out (cap bytes).
 * Returns 1 with *h filled, 0 on timeout; dies when the link fails. */
static int read_frame(int fd, struct frame_hdr *h, uint8_t *out, size_t cap, int timeout_ms)
{
	for (;;) {
		int err = frame_hdr_decode(ibuf, ilen, h);

		if (err < 0 && err != -EAGAIN)
			die("bad frame from the daemon");
		if (err == 0 && ilen - FRAME_HDR_LEN >= h->len) {
			if (h->len > cap)
				die("frame too large");
			memcpy(out, ibuf + FRAME_HDR_LEN, h->len);
			memmove(ibuf, ibuf + FRAME_HDR_LEN + h->len, ilen - FRAME_HDR_LEN - h->len);
			ilen -= FRAME_HDR_LEN + h->len;
			return 1;
		}
		{
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			ssize_t n;

			if (poll(&pfd, 1, timeout_ms) == 0)
				return 0;
			n = read(fd, ibuf + ilen, sizeof(ibuf) - ilen);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				die("the daemon closed the link");
			ilen += (size_t)n;
		}
	}
}

static void load_key(const char *path, uint8_t key[AUTH_KEY_BYTES])
{
	uint8_t buf[KEY_MAX];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		die("cannot open the key file");
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (auth_key_from_secret(buf, n, key) < 0)
		die("the key file holds no usable key");
}

static void send_routes(int fd, const char *name, const struct vip *first, long count)
{
	static struct route_entry e[PER_FRAME];
	static uint8_t buf[FRAME_MAX_PAYLOAD];
	struct vip v = *first;
	long done = 0;

	while (done < count) {
		size_t n = 0;
		int len;

		while (n < PER_FRAME && done < count) {
			memset(&e[n], 0, sizeof(e[n]));
			e[n].vip = v;
			e[n].epoch = 1;
			snprintf(e[n].node, sizeof(e[n].node), "%s", name);
			n++;
			done++;
			/* next address: increment the address bytes as one big-endian number */
			for (int i = (int)vip_len(&v) - 1; i >= 0 && ++v.a[i] == 0; i--)
				;
		}
		len = msg_routes_encode(e, n, buf, sizeof(buf));
		if (len < 0)
			die("cannot encode routes");
		send_frame(fd, FRAME_ROUTES, 0, buf, (size_t)len);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: fakepeer -k KEYFILE -c ADDR[:PORT] [-n NAME] [-r ROUTES] "
			"[-b FIRST_VIP] [-t SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static uint8_t payload[FRAME_MAX_PAYLOAD];
	const char *keyfile = NULL, *to = NULL, *name = "fake", *first = "10.0.0.1";
	long routes = 100000, seconds = -1;
	struct sockaddr_storage ss;
	struct auth_state st;
	struct msg_hello hello;
	uint8_t key[AUTH_KEY_BYTES], mac[AUTH_MAC_BYTES];
	struct frame_hdr h;
	struct vip v0;
	bool verified = false, ready = false;
	time_t end;
	int fd, one = 1, c, n;

	while ((c = getopt(argc, argv, "k:c:n:r:b:t:")) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'c': to = optarg; break;
		case 'n': name = optarg; break;
		case 'r': routes = strtol(optarg, NULL, 10); break;
		case 'b': first = optarg; break;
		case 't': seconds = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (!keyfile || !to || optind != argc || routes < 0 || !msg_name_valid(name) ||
	    addr_parse(to, 7000, &ss) < 0 || vip_parse(first, &v0) < 0)
		usage();
	if (auth_global_init() < 0)
		die("libsodium init failed");
	load_key(keyfile, key);

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, addr_len(&ss)) < 0)
		die("cannot connect to the daemon");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	auth_init(&st, key, name, true);
	memset(&hello, 0, sizeof(hello));
	snprintf(hello.name, sizeof(hello.name), "%s", name);
	memcpy(hello.nonce, st.my_nonce, sizeof(hello.nonce));
	hello.listen.ss_family = AF_UNSPEC;
	n = msg_hello_encode(&hello, payload, sizeof(payload));
	if (n < 0)
		die("cannot encode HELLO");
	send_frame(fd, FRAME_HELLO, 0, payload, (size_t)n);

	end = seconds < 0 ? 0 : time(NULL) + seconds;
	for (;;) {
		if (end && time(NULL) >= end)
			break;
		if (!read_frame(fd, &h, payload, sizeof(payload), 500)) {
			if (!verified)
				die("no handshake from the daemon");
			continue;
		}
		switch (h.type) {
		case FRAME_HELLO:
			if (msg_hello_decode(payload, h.len, &hello) < 0)
				die("malformed HELLO from the daemon");
			auth_set_peer(&st, hello.nonce, hello.name);
			auth_proof(&st, mac);
			send_frame(fd, FRAME_AUTH, 0, mac, sizeof(mac));
			break;
		case FRAME_AUTH: {
			uint8_t ping[8];
			size_t off = 0;

			if (h.len != AUTH_MAC_BYTES || !auth_verify(&st, payload))
				die("the daemon's AUTH proof does not verify (another key?)");
			verified = true;
			send_routes(fd, name, &v0, routes);
			put_be64(ping, sizeof(ping), &off, READY_MAGIC);
			send_frame(fd, FRAME_PING, 0, ping, sizeof(ping));
			break;
		}
		case FRAME_PING:
			send_frame(fd, FRAME_PONG, 0, payload, h.len);
			break;
		case FRAME_PONG: {
			uint64_t v = 0;
			size_t off = 0;

			if (!ready && get_be64(payload, h.len, &off, &v) && v == READY_MAGIC) {
				ready = true;
				printf("ready %ld\n", routes);
				fflush(stdout);
			}
			break;
		}
		default:
			break; /* PEERS, the daemon's own ROUTES: not our business */
		}
	}
	auth_clear(&st);
	close(fd);
	return ready ? 0 : 1;
}
