/* The UDP substrate: frames in datagrams sized to the underlay's path MTU.
 *
 * A datagram carries one frame, or one piece of a frame too big for one datagram (a
 * 64 KiB super-packet):
 *
 *   0              8                12               16
 *   +--------------+----------------+----------------+------------------------
 *   | frame header | frame number   | offset         | payload bytes [offset ..
 *   | (frame.h)    | u32, per link  | u32            |   offset + piece)
 *   +--------------+----------------+----------------+------------------------
 *
 * The frame header's length is the whole payload's; the pieces of one frame are all the
 * same size but the last, so they leave as ONE send with UDP_SEGMENT (the kernel, or
 * the NIC, cuts them) and arrive coalesced by UDP_GRO, read with recvmmsg: the far end
 * rebuilds the frame and its TUN gets the super-packet whole. Small frames of the same
 * size queued together go out as one segmented send too, and all of a link's sends of
 * a loop turn in one sendmmsg. Nothing is retransmitted: a frame missing a piece is
 * dropped (the job's TCP recovers; the chooser sees the loss in its probes). Frames are
 * sealed per frame by the peer layer (tunvnet/link.c, datagram mode: a replay window,
 * so reordering costs nothing); a datagram that fails to open is dropped there, the
 * link kept.
 *
 * Path MTU: a dialed link's socket is connected with IP_MTU_DISCOVER = IP_PMTUDISC_DO
 * (DF set, never fragmented) and reads the route's MTU with IP_MTU; an accepted link
 * asks the same of a socket connected to its peer for a moment. set_mtu (the config's
 * udp_mtu) replaces the discovered value. A send refused with EMSGSIZE (a smaller path
 * MTU learned from ICMP) reads IP_MTU again and sends smaller datagrams from then on.
 *
 * Links: the dialer connects its own socket (an ephemeral port) to the peer's listen
 * address, and reads its datagrams there; an ICMP unreachable reported on that socket
 * (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH) closes the link (closed()). The listener
 * has one socket on the listen address (the TCP listener's port number) and tells
 * links apart by the sender's address. A stranger costs nothing: a datagram from an
 * unknown address is looked at only if it is a whole LINK_OPEN frame; a link is made
 * for it and the owner (accepted(), then the frame) proves or refuses it at once. */
#include "tunnel/tunnel.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tunnel/udpwire.h"
#include "tunnel/wire.h"
#include "tunvnet/loop.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define TX_BUF        (1024 * 1024) /* queued datagrams per link */
#define TX_MSGS       64            /* sends (each possibly segmented) per sendmmsg */
#define GSO_MAX_SEGS  64            /* the kernel's UDP_MAX_SEGMENTS (older kernels) */
#define GSO_MAX_BYTES 64000         /* UDP payload of one segmented send, < 65507 */
#define RX_BATCH      8             /* coalesced datagrams per recvmmsg */
#define RX_BUF        65536         /* one coalesced datagram at most */
#define READS_PER_WAKE 8
#define SOCK_BUF      (4 * 1024 * 1024)
#define HASH_SIZE     256
#define MTU_DEFAULT   1500

struct tx_msg {
	size_t off, len;  /* in the link's tx buffer */
	uint16_t seg;     /* datagram size: len is a multiple but for the last one */
	uint16_t nsegs;
};

struct tunnel {
	struct loop *loop;
	struct tunnel_link *dirty;     /* links with queued datagrams */
	struct tunnel_link *hash[HASH_SIZE]; /* accepted links by remote address */
	int mtu;                       /* 0: discover */
	bool no_gso;                   /* the kernel refused UDP_SEGMENT: one send each */
	uint8_t *rx;                   /* RX_BATCH x RX_BUF */
	struct tunnel_link *freeing;   /* links closed inside a callback */
};

struct tunnel_listener {
	struct tunnel *t;
	struct loop_io *io;
	int fd;
	void (*accepted)(struct tunnel_link *lk, const struct sockaddr_storage *from, void *arg);
	void *arg;
};

struct tunnel_link {
	struct tunnel *t;
	struct tunnel_listener *ls;    /* accepted: the listener whose socket we share */
	struct loop_io *io;            /* dialed: our own socket's */
	int fd;
	struct sockaddr_storage remote;
	socklen_t rlen;
	const struct tunnel_events *ev;
	void *arg;
	struct loop_timer ready;       /* dialed: ready() from the loop, not from connect() */
	bool in_cb, closed, failed, dirty, hashed;
	size_t dgram;                  /* UDP payload bytes per datagram */
	uint32_t tx_frame;             /* the next frame number */
	/* what is queued */
	uint8_t *tx;
	size_t txlen;
	struct tx_msg msgs[TX_MSGS];
	int nmsgs;
	struct udpw_rasm rasm;         /* the frame being rebuilt */
	struct tunnel_link *next_dirty, *next_hash, *next_free;
};

static uint32_t addr_hash(const struct sockaddr_storage *a)
{
	const uint8_t *b = (const uint8_t *)a;
	size_t n = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					    : sizeof(struct sockaddr_in);
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		if (a->ss_family == AF_INET6 && (i >= 4 && i < 8))
			continue; /* flowinfo */
		h = (h ^ b[i]) * 16777619u;
	}
	return h % HASH_SIZE;
}

static bool addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static socklen_t addr_len(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					: sizeof(struct sockaddr_in);
}

/* UDP payload bytes per datagram for a path MTU. */
static size_t dgram_for(int family, int mtu)
{
	int ip = family == AF_INET6 ? 40 : 20;

	if (mtu < 576)
		mtu = 576;
	return (size_t)(mtu - ip - 8);
}

/* The path MTU towards to: the configured one, else the route's. */
static int path_mtu(struct tunnel *t, int fd, const struct sockaddr_storage *to)
{
	int mtu = 0, s = fd;
	socklen_t sl = sizeof(mtu);
	int lvl = to->ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int opt = to->ss_family == AF_INET6 ? IPV6_MTU : IP_MTU;

	if (t->mtu > 0)
		return t->mtu;
	if (s < 0) {
		s = socket(to->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return MTU_DEFAULT;
		if (connect(s, (const struct sockaddr *)to, addr_len(to)) < 0) {
			close(s);
			return MTU_DEFAULT;
		}
	}
	if (getsockopt(s, lvl, opt, &mtu, &sl) < 0 || mtu <= 0)
		mtu = MTU_DEFAULT;
	if (s != fd)
		close(s);
	return mtu;
}

static void sock_setup(int fd, int family)
{
	int one = 1, buf = SOCK_BUF;
	int pmtu = IP_PMTUDISC_DO;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)); /* older kernels: without */
	if (family == AF_INET6) {
		int p6 = IPV6_PMTUDISC_DO;

		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &p6, sizeof(p6));
	} else {
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	}
}

/* --- links' life ----------------------------------------------------------------- */

static void unhash(struct tunnel_link *lk)
{
	struct tunnel_link **pp;

	if (!lk->hashed)
		return;
	for (pp = &lk->t->hash[addr_hash(&lk->remote)]; *pp; pp = &(*pp)->next_hash) {
		if (*pp == lk) {
			*pp = lk->next_hash;
			break;
		}
	}
	lk->hashed = false;
}

static void undirty(struct tunnel_link *lk)
{
	struct tunnel_link **pp;

	if (!lk->dirty)
		return;
	for (pp = &lk->t->dirty; *pp; pp = &(*pp)->next_dirty) {
		if (*pp == lk) {
			*pp = lk->next_dirty;
			break;
		}
	}
	lk->dirty = false;
}

static void link_free(struct tunnel_link *lk)
{
	unhash(lk);
	undirty(lk);
	loop_timer_stop(lk->t->loop, &lk->ready);
	if (lk->io)
		loop_io_del(lk->io);
	if (!lk->ls && lk->fd >= 0)
		close(lk->fd);
	free(lk->tx);
	udpw_rasm_free(&lk->rasm);
	free(lk);
}

static void fail(struct tunnel_link *lk, int err, const char *why)
{
	if (lk->failed || lk->closed)
		return;
	lk->failed = true;
	if (lk->io) {
		loop_io_del(lk->io);
		lk->io = NULL;
	}
	lk->in_cb = true;
	if (lk->ev && lk->ev->closed)
		lk->ev->closed(lk, err, why, lk->arg);
	lk->in_cb = false;
	if (lk->closed)
		link_free(lk);
}

static void on_ready_timer(struct loop_timer *tm, void *arg);

static struct tunnel_link *link_alloc(struct tunnel *t, int fd,
				      const struct sockaddr_storage *to)
{
	struct tunnel_link *lk = calloc(1, sizeof(*lk));

	if (!lk)
		return NULL;
	lk->t = t;
	lk->fd = fd;
	lk->remote = *to;
	lk->rlen = addr_len(to);
	lk->dgram = dgram_for(to->ss_family, MTU_DEFAULT);
	loop_timer_init(&lk->ready, on_ready_timer, lk);
	return lk;
}

/* --- sending ---------------------------------------------------------------------- */

/* Sends what is queued: one sendmmsg of up to TX_MSGS sends, each cut by the kernel
 * into datagrams of msgs[i].seg bytes. What the socket does not take is dropped (a
 * full socket buffer is congestion: the jobs' TCP backs off). 0 or -errno for a link
 * that failed. */
static int flush_link(struct tunnel_link *lk)
{
	struct mmsghdr mm[TX_MSGS];
	struct iovec iov[TX_MSGS];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm[TX_MSGS];
	int n = lk->nmsgs, done = 0, err = 0;

	if (n == 0)
		return 0;
	memset(mm, 0, sizeof(mm[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &mm[i].msg_hdr;

		iov[i].iov_base = lk->tx + lk->msgs[i].off;
		iov[i].iov_len = lk->msgs[i].len;
		m->msg_iov = &iov[i];
		m->msg_iovlen = 1;
		if (lk->ls) {
			m->msg_name = &lk->remote;
			m->msg_namelen = lk->rlen;
		}
		if (lk->msgs[i].nsegs > 1) {
			struct cmsghdr *c;

			memset(&cm[i], 0, sizeof(cm[i]));
			m->msg_control = cm[i].buf;
			m->msg_controllen = sizeof(cm[i].buf);
			c = CMSG_FIRSTHDR(m);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			memcpy(CMSG_DATA(c), &lk->msgs[i].seg, sizeof(uint16_t));
		}
	}
	while (done < n) {
		int r = sendmmsg(lk->fd, mm + done, (unsigned)(n - done), MSG_DONTWAIT);

		if (r > 0) {
			done += r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EMSGSIZE) {
			/* the path MTU shrank: smaller datagrams from now on; this one is lost */
			lk->dgram = dgram_for(lk->remote.ss_family,
					      path_mtu(lk->t, lk->ls ? -1 : lk->fd, &lk->remote));
			done++;
			continue;
		}
		if ((errno == EIO || errno == EINVAL) && lk->msgs[done].nsegs > 1 &&
		    !lk->t->no_gso) {
			lk->t->no_gso = true; /* no UDP_SEGMENT here: one datagram per send */
			done++;
			continue;
		}
		if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) {
			if (!lk->ls)
				err = -errno;
			done++;
			continue;
		}
		break; /* EAGAIN, ENOBUFS: dropped */
	}
	lk->nmsgs = 0;
	lk->txlen = 0;
	return err;
}

static void flush_dirty(void *arg)
{
	struct tunnel *t = arg;

	while (t->dirty) {
		struct tunnel_link *lk = t->dirty;
		int err;

		t->dirty = lk->next_dirty;
		lk->dirty = false;
		if (lk->closed || lk->failed)
			continue;
		err = flush_link(lk);
		if (err < 0)
			fail(lk, err, "the peer's address is unreachable");
	}
	while (t->freeing) {
		struct tunnel_link *lk = t->freeing;

		t->freeing = lk->next_free;
		link_free(lk);
	}
}

static void mark_dirty(struct tunnel_link *lk)
{
	if (lk->dirty)
		return;
	lk->dirty = true;
	lk->next_dirty = lk->t->dirty;
	lk->t->dirty = lk;
}

/* Room for one more send of len bytes; flushes first when the queue is full. */
static int tx_room(struct tunnel_link *lk, size_t len)
{
	int err = 0;

	if (!lk->tx) {
		lk->tx = malloc(TX_BUF);
		if (!lk->tx)
			return -ENOBUFS;
	}
	if (lk->nmsgs == TX_MSGS || lk->txlen + len > TX_BUF)
		err = flush_link(lk);
	return err;
}

/* Appends one datagram to the queue, joining the last send when it has the same size
 * (or is the shorter last piece). */
static int tx_datagram(struct tunnel_link *lk, const uint8_t hdr[UDPW_HDR_LEN],
		       const uint8_t *piece, size_t plen)
{
	size_t len = UDPW_HDR_LEN + plen;
	struct tx_msg *m;
	int err = tx_room(lk, len);

	if (err < 0)
		return err;
	m = lk->nmsgs ? &lk->msgs[lk->nmsgs - 1] : NULL;
	/* A send takes datagrams of m->seg bytes, the last one possibly shorter; a
	 * datagram joins it only while it is not closed by a shorter one. */
	if (!m || lk->t->no_gso || m->len % m->seg != 0 || len > m->seg ||
	    m->nsegs >= GSO_MAX_SEGS || m->len + len > GSO_MAX_BYTES ||
	    m->off + m->len != lk->txlen) {
		m = &lk->msgs[lk->nmsgs++];
		m->off = lk->txlen;
		m->len = 0;
		m->seg = (uint16_t)len;
		m->nsegs = 0;
	}
	memcpy(lk->tx + lk->txlen, hdr, UDPW_HDR_LEN);
	memcpy(lk->tx + lk->txlen + UDPW_HDR_LEN, piece, plen);
	lk->txlen += len;
	m->len += len;
	m->nsegs++;
	return 0;
}

static int udp_send(struct tunnel_link *lk, uint8_t type, uint16_t flags, const void *payload,
		    size_t len)
{
	size_t piece = lk->dgram - UDPW_HDR_LEN, off = 0;
	uint8_t hdr[UDPW_HDR_LEN];
	uint32_t fn;
	int err;

	if (lk->failed || lk->closed)
		return -ENOTCONN;
	if (len > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	fn = lk->tx_frame++;
	do {
		size_t n = len - off < piece ? len - off : piece;

		udpw_hdr_encode(hdr, type, flags, (uint32_t)len, fn, (uint32_t)off);
		err = tx_datagram(lk, hdr, (const uint8_t *)payload + off, n);
		if (err < 0)
			return err == -ENOBUFS ? -ENOBUFS : err;
		off += n;
	} while (off < len);
	mark_dirty(lk);
	return 0;
}

static void udp_flush(struct tunnel_link *lk)
{
	int err;

	if (lk->closed || lk->failed)
		return;
	err = flush_link(lk);
	if (err < 0)
		fail(lk, err, "the peer's address is unreachable");
}

/* --- receiving -------------------------------------------------------------------- */

/* One frame to the owner. false when the link is gone. */
static bool deliver(struct tunnel_link *lk, const struct frame_hdr *h, const uint8_t *payload)
{
	lk->in_cb = true;
	if (lk->ev && lk->ev->frame)
		lk->ev->frame(lk, h, payload, lk->arg);
	lk->in_cb = false;
	return !lk->closed && !lk->failed;
}

/* One datagram of lk. false when the link is gone. */
static bool on_datagram(struct tunnel_link *lk, const uint8_t *b, size_t len)
{
	struct frame_hdr h;
	const uint8_t *payload;

	if (udpw_rasm_add(&lk->rasm, b, len, &h, &payload) <= 0)
		return true; /* more to come, or dropped */
	return deliver(lk, &h, payload);
}

/* A coalesced buffer (UDP_GRO: datagrams of seg bytes, the last shorter) or one
 * datagram (seg 0). */
static bool on_buffer(struct tunnel_link *lk, const uint8_t *b, size_t len, size_t seg)
{
	if (seg == 0 || seg >= len)
		return on_datagram(lk, b, len);
	for (size_t off = 0; off < len; off += seg)
		if (!on_datagram(lk, b + off, len - off < seg ? len - off : seg))
			return false;
	return true;
}

static size_t gro_size(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int v;

			memcpy(&v, CMSG_DATA(c), sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

/* A datagram from an unknown address on the listener's socket: a link only for a whole
 * LINK_OPEN, which the owner proves (or refuses) at once. */
static void stranger(struct tunnel_listener *ls, const struct sockaddr_storage *from,
		     const uint8_t *b, size_t len, size_t seg)
{
	struct tunnel *t = ls->t;
	struct tunnel_link *lk;
	struct udpw_hdr u;

	if (seg && seg < len)
		len = seg; /* only the first datagram could be a LINK_OPEN */
	if (udpw_hdr_decode(b, len, &u) < 0 || u.h.type != FRAME_LINK_OPEN || u.offset != 0 ||
	    u.piece != u.h.len)
		return;
	lk = link_alloc(t, ls->fd, from);
	if (!lk)
		return;
	lk->ls = ls;
	lk->dgram = dgram_for(from->ss_family, path_mtu(t, -1, from));
	lk->next_hash = t->hash[addr_hash(from)];
	t->hash[addr_hash(from)] = lk;
	lk->hashed = true;
	lk->in_cb = true;
	ls->accepted(lk, from, ls->arg);
	lk->in_cb = false;
	if (lk->closed) {
		link_free(lk);
		return;
	}
	lk->in_cb = true;
	if (lk->ev && lk->ev->ready)
		lk->ev->ready(lk, lk->arg);
	lk->in_cb = false;
	if (lk->closed) {
		link_free(lk);
		return;
	}
	if (!deliver(lk, &u.h, b + UDPW_HDR_LEN) && lk->closed)
		link_free(lk);
}

static struct tunnel_link *lookup(struct tunnel *t, const struct sockaddr_storage *from)
{
	for (struct tunnel_link *lk = t->hash[addr_hash(from)]; lk; lk = lk->next_hash)
		if (addr_eq(&lk->remote, from))
			return lk;
	return NULL;
}

/* Reads a batch from fd; each buffer goes to its link (dialed: lk; listener: by the
 * sender's address). Returns the number of buffers read, 0 when none, -errno. */
static int read_batch(struct tunnel *t, int fd, struct tunnel_link *own,
		      struct tunnel_listener *ls)
{
	struct mmsghdr mm[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage from[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm[RX_BATCH];
	int n;

	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < RX_BATCH; i++) {
		iov[i].iov_base = t->rx + (size_t)i * RX_BUF;
		iov[i].iov_len = RX_BUF;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &from[i];
		mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		mm[i].msg_hdr.msg_control = cm[i].buf;
		mm[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
	}
	n = recvmmsg(fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;
		size_t len = mm[i].msg_len, seg = gro_size(&mm[i].msg_hdr);
		struct tunnel_link *lk = own;

		if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		if (ls) {
			lk = lookup(t, &from[i]);
			if (!lk) {
				stranger(ls, &from[i], b, len, seg);
				continue;
			}
		}
		if (lk->closed || lk->failed)
			continue;
		if (!on_buffer(lk, b, len, seg)) {
			if (lk == own)
				return -ESHUTDOWN; /* our link is gone: stop reading */
			if (lk->closed && !lk->in_cb) {
				lk->next_free = t->freeing;
				t->freeing = lk;
				unhash(lk);
			}
		}
	}
	return n;
}

static void on_link_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct tunnel_link *lk = arg;
	struct tunnel *t = lk->t;

	for (int i = 0; i < READS_PER_WAKE; i++) {
		int n = read_batch(t, lk->fd, lk, NULL);

		if (n == -ESHUTDOWN) {
			if (lk->closed)
				link_free(lk);
			return;
		}
		if (n == -ECONNREFUSED || n == -EHOSTUNREACH || n == -ENETUNREACH) {
			fail(lk, n, "the peer's address is unreachable (ICMP)");
			return;
		}
		if (n < RX_BATCH)
			return;
	}
}

static void on_listen_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct tunnel_listener *ls = arg;

	for (int i = 0; i < READS_PER_WAKE; i++)
		if (read_batch(ls->t, ls->fd, NULL, ls) < RX_BATCH)
			break;
}

/* --- the ops ---------------------------------------------------------------------- */

static void on_ready_timer(struct loop_timer *tm, void *arg)
{
	struct tunnel_link *lk = arg;

	lk->in_cb = true;
	if (lk->ev && lk->ev->ready)
		lk->ev->ready(lk, lk->arg);
	lk->in_cb = false;
	if (lk->closed)
		link_free(lk);
}

static int udp_connect(struct tunnel *t, const struct sockaddr_storage *to, struct tls_ctx *tls,
		       struct tunnel_link **out)
{
	struct tunnel_link *lk;
	int fd, err;

	if (tls)
		return -EPROTONOSUPPORT; /* control links are TCP with TLS */
	fd = socket(to->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sock_setup(fd, to->ss_family);
	if (connect(fd, (const struct sockaddr *)to, addr_len(to)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	lk = link_alloc(t, fd, to);
	if (!lk) {
		close(fd);
		return -ENOMEM;
	}
	lk->dgram = dgram_for(to->ss_family, path_mtu(t, fd, to));
	lk->io = loop_io_add(t->loop, fd, EPOLLIN, on_link_io, lk);
	if (!lk->io) {
		link_free(lk);
		return -ENOMEM;
	}
	loop_timer_arm(t->loop, &lk->ready, 0);
	*out = lk;
	return 0;
}

static int udp_adopt(struct tunnel *t, int fd, struct tls_ctx *tls, bool tls_server,
		     struct tunnel_link **out)
{
	return -EOPNOTSUPP;
}

static int udp_listen(struct tunnel *t, const struct sockaddr_storage *addr, struct tls_ctx *tls,
		      void (*accepted)(struct tunnel_link *lk,
				       const struct sockaddr_storage *from, void *arg),
		      void *arg, struct tunnel_listener **out)
{
	struct tunnel_listener *ls = calloc(1, sizeof(*ls));
	int one = 1, err;

	if (!ls)
		return -ENOMEM;
	ls->t = t;
	ls->accepted = accepted;
	ls->arg = arg;
	ls->fd = socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls->fd < 0) {
		err = -errno;
		free(ls);
		return err;
	}
	setsockopt(ls->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss_family == AF_INET6)
		setsockopt(ls->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	sock_setup(ls->fd, addr->ss_family);
	if (bind(ls->fd, (const struct sockaddr *)addr, addr_len(addr)) < 0) {
		err = -errno;
		close(ls->fd);
		free(ls);
		return err;
	}
	ls->io = loop_io_add(t->loop, ls->fd, EPOLLIN, on_listen_io, ls);
	if (!ls->io) {
		close(ls->fd);
		free(ls);
		return -ENOMEM;
	}
	*out = ls;
	return 0;
}

static void udp_listener_close(struct tunnel_listener *ls)
{
	struct tunnel *t = ls->t;

	/* links still using its socket lose it: they fail when next used */
	for (int i = 0; i < HASH_SIZE; i++)
		for (struct tunnel_link *lk = t->hash[i]; lk; lk = lk->next_hash)
			if (lk->ls == ls) {
				lk->fd = -1;
				lk->failed = true;
			}
	loop_io_del(ls->io);
	close(ls->fd);
	free(ls);
}

static void udp_set_events(struct tunnel_link *lk, const struct tunnel_events *ev, void *arg)
{
	lk->ev = ev;
	lk->arg = arg;
}

static void udp_close(struct tunnel_link *lk)
{
	lk->closed = true;
	unhash(lk);
	undirty(lk);
	if (!lk->in_cb)
		link_free(lk);
}

static size_t udp_queued(const struct tunnel_link *lk)
{
	return lk->txlen;
}

static SSL *udp_tls(const struct tunnel_link *lk)
{
	return NULL;
}

static void udp_remote(const struct tunnel_link *lk, struct sockaddr_storage *out)
{
	*out = lk->remote;
}

static void udp_set_mtu(struct tunnel *t, int mtu)
{
	t->mtu = mtu;
}

static int udp_open(struct loop *l, struct tunnel **out)
{
	struct tunnel *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->rx = malloc((size_t)RX_BATCH * RX_BUF);
	if (!t->rx) {
		free(t);
		return -ENOMEM;
	}
	err = loop_before_sleep(l, flush_dirty, t);
	if (err < 0) {
		free(t->rx);
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

static void udp_free(struct tunnel *t)
{
	if (!t)
		return;
	loop_before_sleep_del(t->loop, flush_dirty, t);
	while (t->freeing) {
		struct tunnel_link *lk = t->freeing;

		t->freeing = lk->next_free;
		link_free(lk);
	}
	free(t->rx);
	free(t);
}

const struct tunnel_ops tunnel_udp_ops = {
	.name = "udp",
	.caps = { .max_payload = FRAME_MAX_PAYLOAD, .reliable = false, .ordered = false },
	.open = udp_open,
	.free = udp_free,
	.listen = udp_listen,
	.listener_close = udp_listener_close,
	.connect = udp_connect,
	.adopt = udp_adopt,
	.set_events = udp_set_events,
	.send = udp_send,
	.flush = udp_flush,
	.close = udp_close,
	.queued = udp_queued,
	.tls = udp_tls,
	.remote = udp_remote,
	.set_mtu = udp_set_mtu,
};
