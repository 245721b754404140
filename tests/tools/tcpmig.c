/*
 * tcpmig — a TCP stream test tool whose client end can be checkpointed with TCP_REPAIR
 * and restored in another network namespace, the way CRIU's --tcp-established does
 * (soccr/soccr.c is the reference for what is saved and the order it is restored in).
 *
 *   tcpmig serve --port P [--bind IP] [--conns N] [--rate B/S] [--status FILE]
 *   tcpmig client --connect IP:PORT [--connect IP:PORT]... --conns N [--id-base K]
 *                 [--rate B/S] --state FILE [--status FILE]
 *   tcpmig restore --state FILE [--rate B/S] [--status FILE]
 *
 * Every connection carries two deterministic byte streams, one each way, generated from
 * the connection id the client sends first (an 8-byte hello "TMIG" + id). Each end checks
 * every byte it receives, in order, against the other end's stream: a lost, duplicated,
 * reordered or corrupted byte is a mismatch at a known offset.
 *
 * The client, on SIGUSR1, stops all I/O, puts every socket in repair mode, saves the TCP
 * state and both queues plus its own stream positions to the state file and exits
 * without a FIN or RST (a socket closed in repair mode goes away silently). `restore`
 * rebuilds the sockets from that file in a brand-new namespace holding the same address
 * and carries on as the client did, including being checkpointed again. SIGUSR2 makes
 * the client stop reading (and start again), so that a checkpoint finds data in the
 * receive queues.
 *
 * Times are CLOCK_REALTIME microseconds, comparable with bash's $EPOCHREALTIME. The
 * status file (JSON, replaced atomically every 100 ms and at the end) lists per
 * connection the bytes received and sent, the time of the first and last byte received
 * by this process and the receive gaps longer than --gap-ms, so that a test can measure
 * the stall of each move from either end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELLO_LEN	8
#define CHUNK		(64 * 1024)
#define MAX_CONNS	1024
#define MAX_GAPS	64
#define MAX_TARGETS	16
#define STATE_MAGIC	"tcpmig-state 1"

enum mode { MODE_SERVE, MODE_CLIENT, MODE_RESTORE };

enum cstate {
	C_HELLO,	/* server: waiting for the client's hello */
	C_OPEN,		/* streaming both ways */
	C_CLOSING,	/* client: our FIN is sent, reading until the server's */
	C_CLOSED,	/* clean end: both FINs */
	C_FAILED,	/* mismatch, reset or premature EOF: see why */
};

static const char *cstate_names[] = { "hello", "open", "closing", "closed", "failed" };

/*
 * What TCP_REPAIR gives us about one socket: the fields libsoccr saves, plus the buffer
 * sizes CRIU saves with the socket's options. The queue sequence numbers are those of
 * the queues' ends (rcv_nxt, write_seq); the restore sets each queue's start (end minus
 * length) and lets the kernel advance it as the contents are put back.
 */
struct tcp_snap {
	struct sockaddr_storage local, remote;
	uint32_t state;
	uint32_t inq_seq, inq_len;
	uint32_t outq_seq, outq_len, unsq_len;
	uint32_t mss;
	uint32_t opts;			/* TCPI_OPT_* */
	uint32_t snd_wscale, rcv_wscale;
	uint32_t timestamp;
	uint32_t has_window;
	struct tcp_repair_window win;
	uint32_t sndbuf, rcvbuf;	/* SO_SNDBUF, SO_RCVBUF as getsockopt gives them */
	uint8_t *rq, *sq;		/* queue contents, inq_len and outq_len bytes */
};

struct gap {
	uint64_t from, to;
};

struct conn {
	int fd;
	uint32_t id;
	enum cstate st;
	char why[160];
	uint8_t hello[HELLO_LEN];
	size_t hello_len;
	uint64_t tx;			/* bytes of our stream accepted by the kernel */
	uint64_t rx;			/* bytes of the peer's stream received and checked */
	uint64_t pace_t;		/* pacing: the time up to which the rate was used */
	/*
	 * restore: the unsent tail of the checkpointed send queue, bytes [pending_off,
	 * pending_len) of pending, written before any new data. tx already counts it (the
	 * old socket had accepted it), so it is outside the pacing.
	 */
	uint8_t *pending;
	uint32_t pending_off, pending_len;
	bool fin_wanted;		/* SIGTERM came while pending data was left */
	uint64_t t_first_rx, t_last_rx;	/* in this process */
	uint64_t t_last_rx_saved;	/* restore: the last byte before the checkpoint */
	uint64_t gaps_total;
	struct gap gaps[MAX_GAPS];	/* the most recent, ring */
	struct tcp_snap snap;
};

static struct {
	enum mode mode;
	const char *state_path;
	const char *status_path;
	const char *bind_ip;
	int port;
	int nconns;
	uint32_t id_base;
	uint64_t rate;			/* per connection and direction, bytes/s; 0: unlimited */
	uint64_t gap_us;
	int ntargets;
	struct sockaddr_storage targets[MAX_TARGETS];
	int verbose;
} opt = { .nconns = 1, .id_base = 1, .gap_us = 20000 };

static struct conn *conns[MAX_CONNS];
static int nconns;
static int listen_fd = -1;
static int accepted;
static uint64_t t_start;		/* process start */
static uint64_t t_live;			/* restore: every socket out of repair mode */
static uint64_t t_ckpt_signal, t_ckpt_saved;
static uint64_t t_prev_signal, t_prev_saved;	/* restore: the checkpoint restored from */
static const char *phase = "running";
static bool rx_paused;			/* SIGUSR2: the client stops reading (see usage) */
static uint8_t zbuf[CHUNK], pbuf[CHUNK];

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcpmig: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("tcpmig: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(3);
}

/* ---- the byte streams ---------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The seed of a connection's stream: direction 0 is client -> server, 1 the reverse. */
static uint64_t stream_seed(uint32_t id, int dir)
{
	return mix64(((uint64_t)id << 1 | (uint64_t)dir) ^ 0x7463706d6967ull);
}

/* Fills buf with the stream's bytes [off, off + len): byte o is byte o % 8 of a hash of
 * o / 8, so any offset can be produced without generating what comes before it. */
static void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t blk = (off + i) >> 3, v = mix64(seed ^ mix64(blk));
		unsigned b = (unsigned)((off + i) & 7);

		for (; b < 8 && i < len; b++, i++)
			buf[i] = (uint8_t)(v >> (8 * b));
	}
}

/* ---- small helpers --------------------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': x *= 1000; end++; break;
	case 'm': case 'M': x *= 1000000; end++; break;
	default: break;
	}
	if (*end)
		return false;
	*v = x;
	return true;
}

/* IP:PORT or [IPv6]:PORT */
static bool parse_ep(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hl;

	if (!colon || !parse_u64(colon + 1, &port) || port == 0 || port > 65535)
		return false;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return false;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return true;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return true;
	}
	return false;
}

static socklen_t ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					   sizeof(struct sockaddr_in);
}

static const char *ep_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a6->sin6_port));
	} else {
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a4->sin_port));
	}
	return buf;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -errno : fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

static void __attribute__((format(printf, 2, 3))) fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->st == C_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	c->st = C_FAILED;
	say("conn id=%u: %s", c->id, c->why);
}

static struct conn *conn_new(int fd)
{
	struct conn *c;

	if (nconns >= MAX_CONNS)
		die("more than %d connections", MAX_CONNS);
	c = calloc(1, sizeof(*c));
	if (!c)
		die("out of memory");
	c->fd = fd;
	conns[nconns++] = c;
	return c;
}

/* ---- status file ----------------------------------------------------------------------- */

static void write_status(void)
{
	char tmp[4096];
	FILE *f;
	int i;
	unsigned g;

	if (!opt.status_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", opt.status_path);
	f = fopen(tmp, "w");
	if (!f) {
		say("cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "{\"mode\": \"%s\", \"pid\": %d, \"phase\": \"%s\", \"t\": %" PRIu64
		", \"t_start\": %" PRIu64 ", \"t_live\": %" PRIu64 ", \"t_ckpt_signal\": %" PRIu64
		", \"t_ckpt_saved\": %" PRIu64 ", \"t_prev_signal\": %" PRIu64
		", \"t_prev_saved\": %" PRIu64 ", \"accepted\": %d,\n \"conns\": [",
		opt.mode == MODE_SERVE ? "serve" : opt.mode == MODE_CLIENT ? "client" : "restore",
		(int)getpid(), phase, now_us(), t_start, t_live, t_ckpt_signal, t_ckpt_saved,
		t_prev_signal, t_prev_saved, accepted);
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		unsigned n = c->gaps_total < MAX_GAPS ? (unsigned)c->gaps_total : MAX_GAPS;

		fprintf(f, "%s\n  {\"id\": %u, \"state\": \"%s\", \"rx\": %" PRIu64
			", \"tx\": %" PRIu64
			", \"t_first_rx\": %" PRIu64 ", \"t_last_rx\": %" PRIu64
			", \"t_last_rx_saved\": %" PRIu64 ", \"why\": \"%s\", \"gaps\": [",
			i ? "," : "", c->id, cstate_names[c->st], c->rx, c->tx, c->t_first_rx,
			c->t_last_rx, c->t_last_rx_saved, c->why);
		for (g = 0; g < n; g++) {
			const struct gap *gp = &c->gaps[(c->gaps_total - n + g) % MAX_GAPS];

			fprintf(f, "%s[%" PRIu64 ", %" PRIu64 "]", g ? ", " : "", gp->from, gp->to);
		}
		fputs("]}", f);
	}
	fputs("\n]}\n", f);
	if (fclose(f) != 0 || rename(tmp, opt.status_path) < 0)
		say("cannot write %s: %s", opt.status_path, strerror(errno));
}

/* ---- streaming ------------------------------------------------------------------------- */

/* Our stream's direction: the client sends stream 0, the server stream 1. */
static int tx_dir(void)
{
	return opt.mode == MODE_SERVE ? 1 : 0;
}

static void note_rx(struct conn *c, uint64_t t)
{
	if (!c->t_first_rx)
		c->t_first_rx = t;
	if (c->t_last_rx && t - c->t_last_rx > opt.gap_us) {
		struct gap *g = &c->gaps[c->gaps_total % MAX_GAPS];

		g->from = c->t_last_rx;
		g->to = t;
		c->gaps_total++;
	}
	c->t_last_rx = t;
}

static void start_stream(struct conn *c)
{
	c->st = C_OPEN;
	c->pace_t = now_us();
}

/* The server's first bytes of a connection: the client's hello. */
static void read_hello(struct conn *c)
{
	ssize_t n = recv(c->fd, c->hello + c->hello_len, HELLO_LEN - c->hello_len, 0);
	int i;

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail(c, "recv (hello): %s", strerror(errno));
		return;
	}
	if (n == 0) {
		fail(c, "premature EOF in the hello");
		return;
	}
	c->hello_len += (size_t)n;
	if (c->hello_len < HELLO_LEN)
		return;
	if (memcmp(c->hello, "TMIG", 4) != 0) {
		fail(c, "bad hello");
		return;
	}
	c->id = (uint32_t)c->hello[4] << 24 | (uint32_t)c->hello[5] << 16 |
		(uint32_t)c->hello[6] << 8 | c->hello[7];
	for (i = 0; i < nconns; i++) {
		if (conns[i] != c && conns[i]->id == c->id && conns[i]->st != C_HELLO) {
			fail(c, "a second connection with id %u", c->id);
			return;
		}
	}
	start_stream(c);
	if (opt.verbose)
		say("conn id=%u open", c->id);
}

static void do_read(struct conn *c)
{
	uint64_t seed = stream_seed(c->id, !tx_dir());
	int rounds;

	for (rounds = 0; rounds < 16 && (c->st == C_OPEN || c->st == C_CLOSING); rounds++) {
		ssize_t n = recv(c->fd, zbuf, sizeof(zbuf), 0);
		size_t i;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fail(c, "recv after %" PRIu64 " bytes: %s", c->rx, strerror(errno));
			return;
		}
		if (n == 0) {
			if (opt.mode == MODE_SERVE) {
				/* the client's deliberate end: answer with ours */
				shutdown(c->fd, SHUT_WR);
				c->st = C_CLOSED;
			} else if (c->st == C_CLOSING) {
				c->st = C_CLOSED;
			} else {
				fail(c, "premature EOF after %" PRIu64 " bytes", c->rx);
			}
			return;
		}
		note_rx(c, now_us());
		stream_fill(seed, c->rx, pbuf, (size_t)n);
		if (memcmp(zbuf, pbuf, (size_t)n) != 0) {
			for (i = 0; zbuf[i] == pbuf[i]; i++)
				;
			fail(c, "mismatch at byte %" PRIu64 ": got 0x%02x, want 0x%02x", c->rx + i,
			     zbuf[i], pbuf[i]);
			return;
		}
		c->rx += (uint64_t)n;
	}
}

/*
 * How many bytes the pacing allows now (rate 0: a full chunk). A token bucket holding at
 * most 100 ms of credit: after a stall (a move) the stream catches up a little, not by
 * the whole stall, so the queues a checkpoint saves stay near their usual size.
 */
static size_t budget(struct conn *c, uint64_t t)
{
	uint64_t allowed;

	if (!opt.rate)
		return CHUNK;
	if (t > c->pace_t + 100000u)
		c->pace_t = t - 100000u;
	if (t <= c->pace_t)
		return 0;
	allowed = (t - c->pace_t) * opt.rate / 1000000u;
	return allowed > CHUNK ? CHUNK : (size_t)allowed;
}

static void do_write(struct conn *c, uint64_t t)
{
	size_t len;
	ssize_t n;

	if (c->st != C_OPEN)
		return;
	while (c->pending) {
		n = send(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fail(c, "send (restored queue): %s", strerror(errno));
			return;
		}
		c->pending_off += (uint32_t)n;
		if (c->pending_off == c->pending_len) {
			free(c->pending);
			c->pending = NULL;
		}
	}
	if (c->fin_wanted) {
		shutdown(c->fd, SHUT_WR);
		c->st = C_CLOSING;
		return;
	}
	len = budget(c, t);
	if (!len)
		return;
	stream_fill(stream_seed(c->id, tx_dir()), c->tx, pbuf, len);
	n = send(c->fd, pbuf, len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail(c, "send after %" PRIu64 " bytes: %s", c->tx, strerror(errno));
		return;
	}
	c->tx += (uint64_t)n;
	if (opt.rate)
		c->pace_t += (uint64_t)n * 1000000u / opt.rate;
}

/* ---- TCP_REPAIR checkpoint ------------------------------------------------------------- */

static int sopt(int fd, int name, const void *v, socklen_t len, const char *what)
{
	if (setsockopt(fd, SOL_TCP, name, v, len) < 0) {
		int e = errno;

		say("setsockopt %s: %s", what, strerror(e));
		return -e;
	}
	return 0;
}

static int sopt_int(int fd, int name, int v, const char *what)
{
	return sopt(fd, name, &v, sizeof(v), what);
}

static int gopt(int fd, int name, void *v, socklen_t len, const char *what)
{
	socklen_t l = len;

	if (getsockopt(fd, SOL_TCP, name, v, &l) < 0) {
		int e = errno;

		say("getsockopt %s: %s", what, strerror(e));
		return -e;
	}
	return 0;
}

/* Selects a queue and reads its sequence number and, with MSG_PEEK, its contents. */
static int save_queue(int fd, int q, uint32_t *seq, uint32_t len, uint8_t **buf)
{
	ssize_t n;
	int r;

	r = sopt_int(fd, TCP_REPAIR_QUEUE, q, "TCP_REPAIR_QUEUE");
	if (r)
		return r;
	r = gopt(fd, TCP_QUEUE_SEQ, seq, sizeof(*seq), "TCP_QUEUE_SEQ");
	if (r)
		return r;
	*buf = malloc(len + 1);
	if (!*buf)
		return -ENOMEM;
	if (!len)
		return 0;
	/* one byte more than expected, to see that the queue holds exactly len */
	n = recv(fd, *buf, len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		say("peek of %s queue: got %zd bytes, want %u (%s)", q == TCP_SEND_QUEUE ?
		    "send" : "receive", n, len, n < 0 ? strerror(errno) : "size changed");
		return -EIO;
	}
	return 0;
}

static int snap_save(int fd, struct tcp_snap *s)
{
	struct tcp_info ti;
	socklen_t l;
	int v, r;

	memset(s, 0, sizeof(*s));
	r = sopt_int(fd, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR on");
	if (r)
		return r;
	memset(&ti, 0, sizeof(ti));
	r = gopt(fd, TCP_INFO, &ti, sizeof(ti), "TCP_INFO");
	if (r)
		return r;
	s->state = ti.tcpi_state;
	if (ti.tcpi_state != TCP_ESTABLISHED) {
		say("socket not established (TCP state %u)", ti.tcpi_state);
		return -ENOTCONN;
	}
	if (ioctl(fd, SIOCOUTQ, &v) < 0)
		return -errno;
	s->outq_len = (uint32_t)v;
	if (ioctl(fd, SIOCOUTQNSD, &v) < 0)
		return -errno;
	s->unsq_len = (uint32_t)v;
	if (ioctl(fd, SIOCINQ, &v) < 0)
		return -errno;
	s->inq_len = (uint32_t)v;
	r = gopt(fd, TCP_MAXSEG, &s->mss, sizeof(s->mss), "TCP_MAXSEG");
	if (r)
		return r;
	s->opts = ti.tcpi_options;
	if (ti.tcpi_options & TCPI_OPT_WSCALE) {
		s->snd_wscale = ti.tcpi_snd_wscale;
		s->rcv_wscale = ti.tcpi_rcv_wscale;
	}
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) {
		r = gopt(fd, TCP_TIMESTAMP, &s->timestamp, sizeof(s->timestamp), "TCP_TIMESTAMP");
		if (r)
			return r;
	}
	if (gopt(fd, TCP_REPAIR_WINDOW, &s->win, sizeof(s->win), "TCP_REPAIR_WINDOW") == 0)
		s->has_window = 1;
	r = save_queue(fd, TCP_RECV_QUEUE, &s->inq_seq, s->inq_len, &s->rq);
	if (r)
		return r;
	r = save_queue(fd, TCP_SEND_QUEUE, &s->outq_seq, s->outq_len, &s->sq);
	if (r)
		return r;
	l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l) < 0)
		return -errno;
	s->sndbuf = (uint32_t)v;
	l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l) < 0)
		return -errno;
	s->rcvbuf = (uint32_t)v;
	l = sizeof(s->local);
	if (getsockname(fd, (struct sockaddr *)&s->local, &l) < 0)
		return -errno;
	l = sizeof(s->remote);
	if (getpeername(fd, (struct sockaddr *)&s->remote, &l) < 0)
		return -errno;
	return 0;
}

static void put_addr(FILE *f, const char *key, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET6)
		fprintf(f, "%s 6 %s %u\n", key, inet_ntop(AF_INET6, &a6->sin6_addr, host,
			sizeof(host)), ntohs(a6->sin6_port));
	else
		fprintf(f, "%s 4 %s %u\n", key, inet_ntop(AF_INET, &a4->sin_addr, host,
			sizeof(host)), ntohs(a4->sin_port));
}

/* Data a restored connection had not yet handed back to its new socket belongs after
 * the kernel's send queue, unsent: the next checkpoint saves it as such. */
static void add_pending(struct tcp_snap *s, const uint8_t *p, uint32_t len)
{
	uint8_t *q = realloc(s->sq, (size_t)s->outq_len + len + 1);

	if (!q)
		die("out of memory");
	memcpy(q + s->outq_len, p, len);
	s->sq = q;
	s->outq_len += len;
	s->unsq_len += len;
	s->outq_seq += len;
}

/*
 * The state file: text lines "key value..." and, after "recvq LEN" / "sendq LEN", LEN raw
 * bytes and a newline. Written to FILE.tmp and renamed, so a reader sees all or nothing.
 */
static int state_write(const char *path)
{
	char tmp[4096];
	FILE *f;
	int i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\nt_signal %" PRIu64 "\nt_saved %" PRIu64 "\nrate %" PRIu64
		"\ngap_us %" PRIu64 "\nconns %d\n", STATE_MAGIC, t_ckpt_signal, now_us(),
		opt.rate, opt.gap_us, nconns);
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		struct tcp_snap *s = &c->snap;

		fprintf(f, "conn %u\ntx %" PRIu64 "\nrx %" PRIu64 "\nt_last_rx %" PRIu64 "\n",
			c->id, c->tx, c->rx, c->t_last_rx);
		put_addr(f, "local", &s->local);
		put_addr(f, "remote", &s->remote);
		fprintf(f, "inq %u %u\noutq %u %u %u\nmss %u\nopts %u %u %u\ntimestamp %u\n",
			s->inq_seq, s->inq_len, s->outq_seq, s->outq_len, s->unsq_len, s->mss,
			s->opts, s->snd_wscale, s->rcv_wscale, s->timestamp);
		fprintf(f, "window %u %u %u %u %u %u\n", s->has_window, s->win.snd_wl1,
			s->win.snd_wnd, s->win.max_window, s->win.rcv_wnd, s->win.rcv_wup);
		fprintf(f, "bufs %u %u\n", s->sndbuf, s->rcvbuf);
		fprintf(f, "recvq %u\n", s->inq_len);
		fwrite(s->rq, 1, s->inq_len, f);
		fprintf(f, "\nsendq %u\n", s->outq_len);
		fwrite(s->sq, 1, s->outq_len, f);
		fputs("\nend\n", f);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		int e = errno;

		fclose(f);
		return -e;
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

/*
 * SIGUSR1: stop all I/O, save every socket, exit. The sockets stay in repair mode, so
 * closing them at exit sends neither FIN nor RST: the peers see nothing but silence
 * (and the daemon, which holds the job's traffic, would drop anything anyway).
 */
static void checkpoint(void)
{
	int i, r;

	t_ckpt_signal = now_us();
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];

		if (c->st != C_OPEN)
			die("checkpoint: conn id=%u is %s (%s)", c->id, cstate_names[c->st],
			    c->why);
		r = snap_save(c->fd, &c->snap);
		if (r)
			die("checkpoint: conn id=%u: %s", c->id, strerror(-r));
		if (c->pending)
			add_pending(&c->snap, c->pending + c->pending_off,
				    c->pending_len - c->pending_off);
	}
	r = state_write(opt.state_path);
	if (r)
		die("checkpoint: cannot write %s: %s", opt.state_path, strerror(-r));
	t_ckpt_saved = now_us();
	phase = "checkpointed";
	write_status();
	printf("checkpoint %d connection(s) in %.3f ms to %s\n", nconns,
	       (double)(t_ckpt_saved - t_ckpt_signal) / 1000.0, opt.state_path);
	for (i = 0; i < nconns; i++) {
		const struct tcp_snap *s = &conns[i]->snap;

		printf("  conn id=%u tx=%" PRIu64 " rx=%" PRIu64 " sendq=%u (unsent %u) recvq=%u "
		       "mss=%u opts=0x%x wscale=%u/%u\n", conns[i]->id, conns[i]->tx, conns[i]->rx,
		       s->outq_len, s->unsq_len, s->inq_len, s->mss, s->opts, s->snd_wscale,
		       s->rcv_wscale);
	}
	fflush(stdout);
	_exit(0);
}

/* ---- TCP_REPAIR restore ---------------------------------------------------------------- */

static bool get_addr(const char *v, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned fam, port;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	if (sscanf(v, "%u %46s %u", &fam, host, &port) != 3 || port > 65535)
		return false;
	memset(ss, 0, sizeof(*ss));
	if (fam == 4 && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return true;
	}
	if (fam == 6 && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return true;
	}
	return false;
}

static bool read_blob(FILE *f, uint32_t len, uint8_t **buf)
{
	*buf = malloc((size_t)len + 1);
	if (!*buf)
		return false;
	return fread(*buf, 1, len, f) == len && fgetc(f) == '\n';
}

/* Reads the state file into conns[]; false with a message on any malformed line. */
static bool state_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, key[32];
	size_t cap = 0;
	ssize_t n;
	struct conn *c = NULL;
	int lineno = 0, want = -1, off;
	bool ok = false;

	if (!f) {
		say("cannot open %s: %s", path, strerror(errno));
		return false;
	}
	if (getline(&line, &cap, f) < 0 || strncmp(line, STATE_MAGIC, strlen(STATE_MAGIC)) != 0) {
		say("%s: not a tcpmig state file", path);
		goto out;
	}
	lineno = 1;
	while ((n = getline(&line, &cap, f)) > 0) {
		const char *v;
		struct tcp_snap *s = c ? &c->snap : NULL;
		uint64_t u = 0;

		lineno++;
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		if (sscanf(line, "%31s %n", key, &off) != 1)
			goto bad;
		v = line + off;
		if (!strcmp(key, "t_signal") && parse_u64(v, &u)) {
			t_prev_signal = u;
		} else if (!strcmp(key, "t_saved") && parse_u64(v, &u)) {
			t_prev_saved = u;
		} else if (!strcmp(key, "rate") && parse_u64(v, &u)) {
			if (!opt.rate)
				opt.rate = u;
		} else if (!strcmp(key, "gap_us") && parse_u64(v, &u)) {
			opt.gap_us = u;
		} else if (!strcmp(key, "conns") && parse_u64(v, &u) && u <= MAX_CONNS) {
			want = (int)u;
		} else if (!strcmp(key, "conn") && parse_u64(v, &u) && u <= UINT32_MAX) {
			c = conn_new(-1);
			c->id = (uint32_t)u;
		} else if (!s) {
			goto bad;
		} else if (!strcmp(key, "tx") && parse_u64(v, &u)) {
			c->tx = u;
		} else if (!strcmp(key, "rx") && parse_u64(v, &u)) {
			c->rx = u;
		} else if (!strcmp(key, "t_last_rx") && parse_u64(v, &u)) {
			c->t_last_rx_saved = u;
		} else if (!strcmp(key, "local") && get_addr(v, &s->local)) {
		} else if (!strcmp(key, "remote") && get_addr(v, &s->remote)) {
		} else if (!strcmp(key, "inq") &&
			   sscanf(v, "%u %u", &s->inq_seq, &s->inq_len) == 2) {
		} else if (!strcmp(key, "outq") && sscanf(v, "%u %u %u", &s->outq_seq,
							   &s->outq_len, &s->unsq_len) == 3 &&
			   s->unsq_len <= s->outq_len) {
		} else if (!strcmp(key, "mss") && sscanf(v, "%u", &s->mss) == 1) {
		} else if (!strcmp(key, "opts") && sscanf(v, "%u %u %u", &s->opts, &s->snd_wscale,
							   &s->rcv_wscale) == 3) {
		} else if (!strcmp(key, "timestamp") && sscanf(v, "%u", &s->timestamp) == 1) {
		} else if (!strcmp(key, "window") &&
			   sscanf(v, "%u %u %u %u %u %u", &s->has_window, &s->win.snd_wl1,
				  &s->win.snd_wnd, &s->win.max_window, &s->win.rcv_wnd,
				  &s->win.rcv_wup) == 6) {
		} else if (!strcmp(key, "bufs") &&
			   sscanf(v, "%u %u", &s->sndbuf, &s->rcvbuf) == 2) {
		} else if (!strcmp(key, "recvq") && parse_u64(v, &u) && u == s->inq_len) {
			if (!read_blob(f, s->inq_len, &s->rq))
				goto bad;
		} else if (!strcmp(key, "sendq") && parse_u64(v, &u) && u == s->outq_len) {
			if (!read_blob(f, s->outq_len, &s->sq))
				goto bad;
		} else if (!strcmp(key, "end")) {
			if (!s->rq || !s->sq || !s->local.ss_family || !s->remote.ss_family)
				goto bad;
			c = NULL;
		} else {
			goto bad;
		}
	}
	if (want < 0 || want != nconns || c) {
		say("%s: truncated (%d of %d connections)", path, nconns, want);
		goto out;
	}
	ok = true;
	goto out;
bad:
	say("%s:%d: malformed line '%.60s'", path, lineno, line);
out:
	free(line);
	fclose(f);
	return ok;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static int bufopt(int fd, int name, uint32_t v, const char *what)
{
	int x = (int)v;

	if (setsockopt(fd, SOL_SOCKET, name, &x, sizeof(x)) < 0) {
		int e = errno;

		say("setsockopt %s %u: %s", what, v, strerror(e));
		return -e;
	}
	return 0;
}

/* Writes buf into the selected queue, halving the chunk when the kernel refuses a large
 * one (the receive queue is restored as one linear skb per call: libsoccr does the same). */
static int put_queue(int fd, const uint8_t *buf, uint32_t len)
{
	size_t max = len;

	while (len) {
		size_t chunk = len < max ? len : max;
		/* never wait: nothing can free buffer space while the socket is in repair */
		ssize_t n = send(fd, buf, chunk, MSG_DONTWAIT);

		if (n <= 0) {
			if (max > 1024 && (n == 0 || errno != EAGAIN)) {
				max >>= 1;
				continue;
			}
			say("restoring %u queued bytes: %s", len, n < 0 ? strerror(errno) : "0");
			return n < 0 ? -errno : -EIO;
		}
		buf += n;
		len -= (uint32_t)n;
	}
	return 0;
}

/*
 * The saved window, checked by the kernel against the restored socket: rcv_wup must not
 * be after rcv_nxt, snd_wl1 not after rcv_nxt + rcv_wnd, snd_wnd not above max_window.
 * A refusal is said with the values and rcv_nxt, then the window is brought inside those
 * bounds (as the running socket would have them) and set again: the stream's bytes are
 * checked end to end by the test whatever the window.
 */
static int set_window(int fd, const struct tcp_repair_window *w)
{
	struct tcp_repair_window c = *w;
	uint32_t rcv_nxt = 0;

	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, w, sizeof(*w)) == 0)
		return 0;
	if (errno != EINVAL)
		return sopt(fd, TCP_REPAIR_WINDOW, w, sizeof(*w), "TCP_REPAIR_WINDOW");
	if (sopt_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE recv") ||
	    gopt(fd, TCP_QUEUE_SEQ, &rcv_nxt, sizeof(rcv_nxt), "TCP_QUEUE_SEQ"))
		return -EINVAL;
	if ((int32_t)(c.rcv_wup - rcv_nxt) > 0)
		c.rcv_wup = rcv_nxt;
	if ((int32_t)(c.snd_wl1 - (rcv_nxt + c.rcv_wnd)) > 0)
		c.snd_wl1 = rcv_nxt;
	if (c.max_window < c.snd_wnd)
		c.max_window = c.snd_wnd;
	say("TCP_REPAIR_WINDOW refused snd_wl1 %u snd_wnd %u max_window %u rcv_wnd %u "
	    "rcv_wup %u with rcv_nxt %u: set as snd_wl1 %u max_window %u rcv_wup %u",
	    w->snd_wl1, w->snd_wnd, w->max_window, w->rcv_wnd, w->rcv_wup, rcv_nxt,
	    c.snd_wl1, c.max_window, c.rcv_wup);
	return sopt(fd, TCP_REPAIR_WINDOW, &c, sizeof(c), "TCP_REPAIR_WINDOW");
}

/*
 * libsoccr's restore order: bind, queue sequence numbers, connect (no SYN in repair
 * mode), options, timestamp, receive queue, the sent part of the send queue, window.
 * The socket is left in repair mode: restore_all turns repair off only once every socket
 * is rebuilt, so that a failure half-way closes them all silently, as the checkpoint did.
 * The unsent part of the send queue was never on the wire: libsoccr writes it as
 * ordinary data with repair off; we keep it as pending data the loop writes first.
 */
static int snap_restore(struct tcp_snap *s)
{
	struct tcp_repair_opt opts[4];
	int fd, r, k = 0;
	uint32_t sent = s->outq_len - s->unsq_len;

	fd = socket(s->local.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	r = sopt_int(fd, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR on");
	if (r)
		goto err;
	/*
	 * The old socket's buffer sizes (autotuned, or set), as CRIU restores them, but at
	 * least twice what the queues hold: a send in repair mode still waits for buffer
	 * space, nothing frees any before the job is live, and the restored skbs need not
	 * pack as tightly as the old ones. The kernel doubles what it is given.
	 */
	r = bufopt(fd, SO_SNDBUFFORCE, max_u32(s->sndbuf, 2 * s->outq_len + 65536) / 2,
		   "SO_SNDBUFFORCE");
	if (!r)
		r = bufopt(fd, SO_RCVBUFFORCE, max_u32(s->rcvbuf, 2 * s->inq_len + 65536) / 2,
			   "SO_RCVBUFFORCE");
	if (r)
		goto err;
	if (bind(fd, (struct sockaddr *)&s->local, ss_len(&s->local)) < 0) {
		r = -errno;
		say("bind: %s", strerror(errno));
		goto err;
	}
	r = sopt_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE recv");
	if (!r)
		r = sopt_int(fd, TCP_QUEUE_SEQ, (int)(s->inq_seq - s->inq_len), "recv seq");
	if (!r)
		r = sopt_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE send");
	if (!r)
		r = sopt_int(fd, TCP_QUEUE_SEQ, (int)(s->outq_seq - s->outq_len), "send seq");
	if (r)
		goto err;
	/*
	 * The MSS as the user's clamp before connect: connect in repair mode sizes the
	 * segments from the clamp it finds then, and the default (536) would stay the
	 * segment size until something resyncs it, TCP_REPAIR_OPTIONS below or not.
	 */
	r = sopt_int(fd, TCP_MAXSEG, (int)s->mss, "TCP_MAXSEG");
	if (r)
		goto err;
	if (connect(fd, (struct sockaddr *)&s->remote, ss_len(&s->remote)) < 0) {
		r = -errno;
		say("connect in repair mode: %s", strerror(errno));
		goto err;
	}
	if (s->opts & TCPI_OPT_SACK)
		opts[k++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (s->opts & TCPI_OPT_WSCALE)
		opts[k++] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
						     s->snd_wscale + (s->rcv_wscale << 16) };
	if (s->opts & TCPI_OPT_TIMESTAMPS)
		opts[k++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	opts[k++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, s->mss };
	r = sopt(fd, TCP_REPAIR_OPTIONS, opts, (socklen_t)(k * sizeof(opts[0])),
		 "TCP_REPAIR_OPTIONS");
	if (r)
		goto err;
	if (s->opts & TCPI_OPT_TIMESTAMPS) {
		r = sopt_int(fd, TCP_TIMESTAMP, (int)s->timestamp, "TCP_TIMESTAMP");
		if (r)
			goto err;
	}
	if (s->inq_len) {
		r = sopt_int(fd, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE recv");
		if (!r)
			r = put_queue(fd, s->rq, s->inq_len);
		if (r)
			goto err;
	}
	if (sent) {
		r = sopt_int(fd, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE send");
		if (!r)
			r = put_queue(fd, s->sq, sent);
		if (r)
			goto err;
	}
	if (s->has_window) {
		r = set_window(fd, &s->win);
		if (r)
			goto err;
	}
	return fd;
err:
	close(fd);
	return r;
}

static void restore_all(void)
{
	char l[80], rm[80], prev[4096];
	int i, fd;

	if (!state_read(opt.state_path))
		exit(3);
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];

		fd = snap_restore(&c->snap);
		if (fd < 0)
			die("restore: conn id=%u %s -> %s: %s", c->id,
			    ep_str(&c->snap.local, l, sizeof(l)),
			    ep_str(&c->snap.remote, rm, sizeof(rm)), strerror(-fd));
		c->fd = fd;
	}
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		struct tcp_snap *s = &c->snap;

		/* repair off sends a window probe: the peer answers with its ACK and window */
		if (sopt_int(c->fd, TCP_REPAIR, TCP_REPAIR_OFF, "TCP_REPAIR off"))
			die("restore: conn id=%u: cannot leave repair mode", c->id);
		set_nonblock(c->fd);
		start_stream(c);
		if (s->unsq_len) {
			c->pending = s->sq;
			c->pending_off = s->outq_len - s->unsq_len;
			c->pending_len = s->outq_len;
		} else {
			free(s->sq);
		}
		s->sq = NULL;
		free(s->rq);
		s->rq = NULL;
		/* the first byte received here closes the gap the move opened */
		c->t_last_rx = c->t_last_rx_saved;
	}
	t_live = now_us();
	/* the next checkpoint writes a new FILE: a test waits for it to appear */
	snprintf(prev, sizeof(prev), "%s.prev", opt.state_path);
	if (rename(opt.state_path, prev) < 0)
		say("cannot rename %s: %s", opt.state_path, strerror(errno));
	printf("restore %d connection(s) in %.3f ms (checkpoint took %.3f ms)\n", nconns,
	       (double)(t_live - t_start) / 1000.0,
	       (double)(t_prev_saved - t_prev_signal) / 1000.0);
	fflush(stdout);
}

/* ---- client set-up ----------------------------------------------------------------- */

static void connect_all(void)
{
	int i;

	for (i = 0; i < opt.nconns; i++) {
		const struct sockaddr_storage *dst = &opt.targets[i % opt.ntargets];
		uint64_t deadline = now_us() + 10000000u;
		uint8_t hello[HELLO_LEN] = { 'T', 'M', 'I', 'G' };
		struct conn *c;
		char ep[80];
		int fd;

		for (;;) {
			fd = socket(dst->ss_family, SOCK_STREAM, 0);
			if (fd < 0)
				die("socket: %s", strerror(errno));
			if (connect(fd, (const struct sockaddr *)dst, ss_len(dst)) == 0)
				break;
			if (now_us() > deadline)
				die("connect %s: %s", ep_str(dst, ep, sizeof(ep)), strerror(errno));
			close(fd);
			usleep(100000);
		}
		c = conn_new(fd);
		c->id = opt.id_base + (uint32_t)i;
		hello[4] = (uint8_t)(c->id >> 24);
		hello[5] = (uint8_t)(c->id >> 16);
		hello[6] = (uint8_t)(c->id >> 8);
		hello[7] = (uint8_t)c->id;
		if (send(fd, hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
			die("send hello to %s: %s", ep_str(dst, ep, sizeof(ep)), strerror(errno));
		set_nonblock(fd);
		start_stream(c);
	}
}

/* ---- the loop -------------------------------------------------------------------------- */

static void accept_new(void)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				say("accept: %s", strerror(errno));
			return;
		}
		conn_new(fd);
		accepted++;
	}
}

static bool all_done(void)
{
	int i;

	for (i = 0; i < nconns; i++)
		if (conns[i]->st != C_CLOSED && conns[i]->st != C_FAILED)
			return false;
	return true;
}

/* The client's deliberate end (SIGTERM): FIN on every connection, then read what the
 * server still sends until its FIN. */
static void begin_close(void)
{
	int i;

	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];

		if (c->st != C_OPEN)
			continue;
		if (c->pending) {
			c->fin_wanted = true;	/* do_write sends the FIN after the data */
			continue;
		}
		shutdown(c->fd, SHUT_WR);
		c->st = C_CLOSING;
	}
}

static int report(void)
{
	int i, bad = 0;

	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		bool ok = c->st != C_FAILED && c->st != C_HELLO;

		if (!ok)
			bad++;
		printf("conn id=%u rx=%" PRIu64 " tx=%" PRIu64 " state=%s%s%s\n", c->id, c->rx,
		       c->tx, cstate_names[c->st], c->why[0] ? " why=" : "", c->why);
	}
	printf("%s: %d connection(s), %d failed\n", opt.mode == MODE_SERVE ? "serve" :
	       opt.mode == MODE_CLIENT ? "client" : "restore", nconns, bad);
	fflush(stdout);
	return bad ? 1 : 0;
}

static int run(void)
{
	struct pollfd pfd[MAX_CONNS + 2];
	struct conn *pc[MAX_CONNS + 2];
	uint64_t next_status = 0, close_deadline = 0;
	sigset_t set;
	int sfd, i, n;
	bool closing = false;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	for (;;) {
		uint64_t t = now_us();
		int timeout = 100;

		if (t >= next_status) {
			write_status();
			next_status = t + 100000;
		}
		if (closing && (all_done() || t > close_deadline))
			break;
		if (opt.mode == MODE_SERVE && opt.nconns && accepted >= opt.nconns && all_done())
			break;
		n = 0;
		pfd[n] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pc[n++] = NULL;
		if (listen_fd >= 0 && !closing) {
			pfd[n] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
			pc[n++] = NULL;
		}
		for (i = 0; i < nconns; i++) {
			struct conn *c = conns[i];
			short ev = rx_paused && c->st == C_OPEN ? 0 : POLLIN;

			if (c->st == C_CLOSED || c->st == C_FAILED)
				continue;
			if (c->st == C_OPEN) {
				if (c->pending || budget(c, t))
					ev |= POLLOUT;
				else
					timeout = 2;
			}
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = ev };
			pc[n++] = c;
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGUSR1 && opt.mode != MODE_SERVE && !closing) {
					checkpoint();
				} else if (si.ssi_signo == SIGUSR2) {
					rx_paused = opt.mode != MODE_SERVE && !rx_paused;
				} else if (si.ssi_signo != SIGUSR1 && !closing) {
					closing = true;
					close_deadline = now_us() + 10000000u;
					phase = "closing";
					if (opt.mode == MODE_SERVE)
						close_deadline = 0;
					else
						begin_close();
				}
			}
		}
		t = now_us();
		for (i = 1; i < n; i++) {
			struct conn *c = pc[i];

			if (!c) {
				if (pfd[i].revents & POLLIN)
					accept_new();
				continue;
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (c->st == C_HELLO)
					read_hello(c);
				else
					do_read(c);
			}
			if (c->st == C_OPEN && (pfd[i].revents & POLLOUT))
				do_write(c, t);
		}
		/* a failed connection is closed at once so the peer learns it too */
		for (i = 0; i < nconns; i++) {
			if (conns[i]->st == C_FAILED && conns[i]->fd >= 0) {
				close(conns[i]->fd);
				conns[i]->fd = -1;
			}
		}
	}
	phase = "ended";
	write_status();
	return report();
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("Usage: tcpmig serve --port P [--bind IP] [--conns N] [--rate B/S] [--status FILE]\n"
	      "       tcpmig client --connect IP:PORT [--connect IP:PORT]... [--conns N]\n"
	      "                     [--id-base K] [--rate B/S] --state FILE [--status FILE]\n"
	      "       tcpmig restore --state FILE [--rate B/S] [--status FILE]\n"
	      "\n"
	      "A TCP stream test whose client end is checkpointed with TCP_REPAIR on SIGUSR1\n"
	      "(state saved to FILE, exit without FIN or RST) and restored elsewhere by\n"
	      "`restore`. Both directions carry deterministic streams, checked byte by byte.\n"
	      "\n"
	      "  --conns N      client: connections to open (spread over the --connect targets);\n"
	      "                 serve: exit once N connections were accepted and all ended\n"
	      "  --id-base K    client: connection ids K, K+1, ... (unique per server)\n"
	      "  --rate B/S     bytes per second per connection and direction (k/M suffixes;\n"
	      "                 0: unlimited; restore: the checkpointed client's by default)\n"
	      "  --status FILE  JSON progress, replaced every 100 ms\n"
	      "  --gap-ms MS    receive gaps longer than this are listed in the status (20)\n"
	      "  -v             log connection events\n"
	      "\n"
	      "SIGTERM ends the client cleanly (FIN, then the server's rest until its FIN).\n"
	      "SIGUSR2 makes the client stop reading, or start again, so that a checkpoint\n"
	      "finds data in the receive queues (a restore reads again).\n"
	      "Exit status: 0 all connections clean; 1 a mismatch, reset or premature EOF;\n"
	      "2 usage; 3 a system error (checkpoint/restore failed).\n", f);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "conns", required_argument, NULL, 'n' },
		{ "connect", required_argument, NULL, 'c' },
		{ "id-base", required_argument, NULL, 'i' },
		{ "rate", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 's' },
		{ "status", required_argument, NULL, 'S' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	sigset_t set;
	uint64_t u;
	int o;

	t_start = now_us();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "serve"))
		opt.mode = MODE_SERVE;
	else if (!strcmp(argv[1], "client"))
		opt.mode = MODE_CLIENT;
	else if (!strcmp(argv[1], "restore"))
		opt.mode = MODE_RESTORE;
	else {
		say("unknown mode '%s'", argv[1]);
		usage(stderr);
		return 2;
	}
	if (opt.mode == MODE_SERVE)
		opt.nconns = 0;
	optind = 2;
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (o) {
		case 'p':
			if (!parse_u64(optarg, &u) || !u || u > 65535)
				goto bad;
			opt.port = (int)u;
			break;
		case 'b':
			opt.bind_ip = optarg;
			break;
		case 'n':
			if (!parse_u64(optarg, &u) || u > MAX_CONNS)
				goto bad;
			opt.nconns = (int)u;
			break;
		case 'c':
			if (opt.ntargets >= MAX_TARGETS ||
			    !parse_ep(optarg, &opt.targets[opt.ntargets]))
				goto bad;
			opt.ntargets++;
			break;
		case 'i':
			if (!parse_u64(optarg, &u) || u > UINT32_MAX - MAX_CONNS)
				goto bad;
			opt.id_base = (uint32_t)u;
			break;
		case 'r':
			if (!parse_u64(optarg, &u))
				goto bad;
			opt.rate = u;
			break;
		case 's':
			opt.state_path = optarg;
			break;
		case 'S':
			opt.status_path = optarg;
			break;
		case 'g':
			if (!parse_u64(optarg, &u))
				goto bad;
			opt.gap_us = u * 1000;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		say("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (opt.mode == MODE_SERVE && !opt.port) {
		say("serve needs --port");
		return 2;
	}
	if (opt.mode == MODE_CLIENT && (!opt.ntargets || !opt.nconns)) {
		say("client needs --connect and --conns >= 1");
		return 2;
	}
	if (opt.mode != MODE_SERVE && !opt.state_path) {
		say("%s needs --state FILE", argv[1]);
		return 2;
	}

	/* before any socket exists, so a signal can never interrupt a half-done step */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opt.mode == MODE_SERVE) {
		struct sockaddr_storage ss;
		char ep[80];
		int one = 1;

		if (opt.bind_ip && !strchr(opt.bind_ip, ':'))
			snprintf(ep, sizeof(ep), "%s:%d", opt.bind_ip, opt.port);
		else
			snprintf(ep, sizeof(ep), "[%s]:%d", opt.bind_ip ? opt.bind_ip : "::",
				 opt.port);
		if (!parse_ep(ep, &ss)) {
			say("bad --bind '%s'", opt.bind_ip);
			return 2;
		}
		listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (listen_fd < 0)
			die("socket: %s", strerror(errno));
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(listen_fd, (struct sockaddr *)&ss, ss_len(&ss)) < 0 ||
		    listen(listen_fd, 128) < 0)
			die("listen on %s: %s", ep, strerror(errno));
	} else if (opt.mode == MODE_CLIENT) {
		connect_all();
	} else {
		restore_all();
	}
	phase = "running";
	return run();
bad:
	say("bad value '%s' for %s", optarg, argv[optind - 1]);
	return 2;
}
