/* The TCP substrate: frames back to back on a TCP stream.
 *
 * Writes are batched: send() appends the frame to the link's output buffer and the
 * buffer is written once per loop turn (a before-sleep hook), or at once when it grows
 * past FLUSH_AT. A large frame (a super-packet) is not copied: it is written at once,
 * behind what is queued, in one writev (send_direct). Reads take as much as the socket
 * has, then hand every whole frame to the owner (tunnel/reasm.h cuts the stream). A link is
 * freed only outside its own callbacks (in_cb), so an owner may close it from within a
 * frame callback.
 *
 * TLS (the control link): the same framing inside a TLS 1.3 stream. Every write then goes
 * through the output buffer and SSL_write, every read through SSL_read; what OpenSSL has
 * decrypted but not handed over yet is drained before the loop sleeps again, since epoll
 * cannot see it. An accepted link is neither until its client speaks: a first byte of
 * 0x16 (a TLS handshake record) makes it a TLS server, anything else a plain link. */
#include "tunnel/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

#include "tunnel/reasm.h"
#include "tunnel/tls.h"
#include "tunvnet/loop.h"

#define IBUF_SIZE      (512 * 1024)       /* >= REASM_MIN_CAP */
#define OBUF_DATA_MAX  (2 * 1024 * 1024)  /* DATA frames beyond this are dropped */
#define OBUF_HARD_MAX  (64 * 1024 * 1024) /* control frames beyond this: link is stuck */
#define FLUSH_AT       (256 * 1024)
#define DIRECT_MIN     (16 * 1024)        /* frames from this size are not copied */
#define SOCK_BUF       (4 * 1024 * 1024)
#define READS_PER_WAKE 16
#define TLS_READS_PER_WAKE 4   /* TLS records (16 KiB): control frames cost more to apply */
#define USER_TIMEOUT_MS 10000
#define ACCEPT_PAUSE_MS 100                /* out of fds: accept again after this */
#define TLS_RECORD      0x16               /* the first byte of a TLS handshake */

struct tunnel {
	struct loop *loop;
	struct tunnel_link *dirty; /* links with queued output, flushed before sleeping */
};

struct tunnel_link {
	struct tunnel *t;
	struct loop *loop;
	struct loop_io *io;
	int fd;
	bool connecting;
	bool sniffing;   /* accepted, TLS or plain not known yet: nothing read so far */
	bool handshaking; /* TLS handshake under way */
	struct tls_ctx *tls; /* an accepted link's context, for the sniff */
	SSL *ssl;        /* TLS links: the session */
	bool in_cb;      /* inside an owner callback: free later */
	bool closed;     /* owner called close() */
	bool failed;     /* closed() was reported */
	bool dirty;      /* on the flush list */
	bool want_out;   /* EPOLLOUT armed */
	int werr;        /* a write failed inside send(): reported from the flush hook */
	const struct tunnel_events *ev;
	void *arg;
	struct reasm in;  /* unread frames (in.buf: IBUF_SIZE, allocated at the first read) */
	uint8_t *obuf;
	size_t ohead, olen, ocap;
	uint64_t rx_plain; /* bytes read without TLS (TLS: the socket BIO counts) */
	struct tunnel_link *next_dirty;
};

struct tunnel_listener {
	struct tunnel *t;
	struct loop *loop;
	struct loop_io *io;
	struct loop_timer pause;
	struct tls_ctx *tls;
	int fd;
	void (*accepted)(struct tunnel_link *lk, const struct sockaddr_storage *from, void *arg);
	void *arg;
};

static void link_free(struct tunnel_link *lk)
{
	loop_io_del(lk->io);
	SSL_free(lk->ssl);
	close(lk->fd);
	free(lk->in.buf);
	free(lk->obuf);
	free(lk);
}

/* Reports a failure once; the owner will call close(). */
static void fail(struct tunnel_link *lk, int err, const char *why)
{
	if (lk->failed || lk->closed)
		return;
	lk->failed = true;
	loop_io_del(lk->io);
	lk->io = NULL;
	lk->in_cb = true;
	if (lk->ev && lk->ev->closed)
		lk->ev->closed(lk, err, why, lk->arg);
	lk->in_cb = false;
	if (lk->closed && !lk->dirty)
		link_free(lk);
}

static void set_out(struct tunnel_link *lk, bool on)
{
	if (lk->want_out == on || !lk->io)
		return;
	lk->want_out = on;
	loop_io_set(lk->io, EPOLLIN | (on ? EPOLLOUT : 0));
}

/* Writes what is queued. 0, or -errno when the link failed. */
static int flush_link(struct tunnel_link *lk)
{
	while (lk->ohead < lk->olen) {
		ssize_t n;

		if (lk->ssl) {
			int r = SSL_write(lk->ssl, lk->obuf + lk->ohead,
					  (int)(lk->olen - lk->ohead > INT32_MAX ? INT32_MAX
										 : lk->olen - lk->ohead));

			if (r <= 0) {
				int e = SSL_get_error(lk->ssl, r);

				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					break; /* EPOLLOUT below; a WANT_READ retries after a read */
				return -EPIPE;
			}
			lk->ohead += (size_t)r;
			continue;
		}
		n = write(lk->fd, lk->obuf + lk->ohead, lk->olen - lk->ohead);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		lk->ohead += (size_t)n;
	}
	if (lk->ohead == lk->olen) {
		lk->ohead = lk->olen = 0;
	} else if (lk->ohead > lk->ocap / 2) {
		memmove(lk->obuf, lk->obuf + lk->ohead, lk->olen - lk->ohead);
		lk->olen -= lk->ohead;
		lk->ohead = 0;
	}
	set_out(lk, lk->olen > 0);
	return 0;
}

static void flush_dirty(void *arg)
{
	struct tunnel *t = arg;

	while (t->dirty) {
		struct tunnel_link *lk = t->dirty;
		int err;

		t->dirty = lk->next_dirty;
		lk->dirty = false;
		if (lk->closed) {
			link_free(lk);
			continue;
		}
		if (lk->failed || lk->connecting || lk->sniffing || lk->handshaking)
			continue;
		err = lk->werr ? lk->werr : flush_link(lk);
		if (err < 0)
			fail(lk, err, "write failed");
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

/* Hands every whole frame read to the owner. false when the link is gone. */
static bool deliver(struct tunnel_link *lk)
{
	bool alive = true;

	lk->in_cb = true;
	while (!lk->closed && !lk->failed) {
		struct frame_hdr h;
		const uint8_t *payload;
		int err = reasm_next(&lk->in, &h, &payload);
		char why[96];

		if (err == 0)
			break;
		if (err < 0) {
			if (err == -EPROTONOSUPPORT)
				snprintf(why, sizeof(why), "frame version %u, expected %d",
					 h.version, FRAME_VERSION);
			else if (err == -EBADMSG)
				snprintf(why, sizeof(why), "unknown frame type %u", h.type);
			else
				snprintf(why, sizeof(why), "frame length %u exceeds %d", h.len,
					 FRAME_MAX_PAYLOAD);
			lk->in_cb = false;
			fail(lk, -EPROTO, why);
			return false;
		}
		if (lk->ev && lk->ev->frame)
			lk->ev->frame(lk, &h, payload, lk->arg);
	}
	lk->in_cb = false;
	if (lk->closed) {
		if (!lk->dirty)
			link_free(lk);
		return false;
	}
	if (lk->failed)
		alive = false;
	reasm_compact(&lk->in);
	return alive;
}

/* Calls the owner's ready(); false when the owner closed the link from there. */
static bool report_ready(struct tunnel_link *lk)
{
	lk->in_cb = true;
	if (lk->ev && lk->ev->ready)
		lk->ev->ready(lk, lk->arg);
	lk->in_cb = false;
	if (lk->closed) {
		if (!lk->dirty)
			link_free(lk);
		return false;
	}
	return true;
}

/* One step of the TLS handshake. false when the link failed or is gone. */
static bool handshake(struct tunnel_link *lk)
{
	int r = SSL_do_handshake(lk->ssl), e;
	char why[TLS_WHY_MAX];

	if (r == 1) {
		lk->handshaking = false;
		lk->want_out = true; /* so that set_out() re-arms for input only */
		if (!report_ready(lk))
			return false;
		set_out(lk, lk->olen > 0);
		return true;
	}
	e = SSL_get_error(lk->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		set_out(lk, false);
		return true;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		set_out(lk, true);
		return true;
	}
	{
		/* before tls_error(), which empties OpenSSL's error queue */
		bool refused = tls_failed_verify(lk->ssl);

		if (e == SSL_ERROR_SYSCALL && r == 0)
			snprintf(why, sizeof(why), "closed during the TLS handshake");
		else
			tls_error(lk->ssl, why, sizeof(why));
		fail(lk, refused ? -EKEYREJECTED : -EPROTO, why);
	}
	return false;
}

static bool start_tls(struct tunnel_link *lk, struct tls_ctx *tls, bool server)
{
	lk->ssl = tls_ssl_new(tls, lk->fd, server);
	if (!lk->ssl) {
		fail(lk, -ENOMEM, "cannot start TLS");
		return false;
	}
	lk->handshaking = true;
	return handshake(lk);
}

/* An accepted link's first byte says what it is. false when it failed or is gone. */
static bool sniff(struct tunnel_link *lk)
{
	uint8_t b;
	ssize_t n = recv(lk->fd, &b, 1, MSG_PEEK);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return true;
		fail(lk, -errno, "read failed");
		return false;
	}
	if (n == 0) {
		fail(lk, -ECONNRESET, "closed by peer");
		return false;
	}
	lk->sniffing = false;
	if (b == TLS_RECORD && lk->tls)
		return start_tls(lk, lk->tls, true);
	return report_ready(lk);
}

/* Reads once into ibuf: >0 bytes, 0 nothing more now, <0 the link failed (reported). */
static ssize_t link_read(struct tunnel_link *lk)
{
	uint8_t *tail;
	size_t room;
	ssize_t n;

	if (!lk->in.buf) {
		if (!(lk->in.buf = malloc(IBUF_SIZE))) {
			fail(lk, -ENOMEM, "out of memory");
			return -1;
		}
		lk->in.cap = IBUF_SIZE;
	}
	tail = reasm_tail(&lk->in, &room);
	if (lk->ssl) {
		int r = SSL_read(lk->ssl, tail, (int)room), e;
		char why[TLS_WHY_MAX];

		if (r > 0)
			return r;
		e = SSL_get_error(lk->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return 0;
		if (e == SSL_ERROR_WANT_WRITE) {
			set_out(lk, true);
			return 0;
		}
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && r == 0)) {
			fail(lk, -ECONNRESET, "closed by peer");
		} else {
			bool refused = tls_failed_verify(lk->ssl);

			tls_error(lk->ssl, why, sizeof(why));
			fail(lk, refused ? -EKEYREJECTED : -EPROTO, why);
		}
		return -1;
	}
	do
		n = read(lk->fd, tail, room);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN)
			return 0;
		fail(lk, -errno, "read failed");
		return -1;
	}
	if (n == 0) {
		fail(lk, -ECONNRESET, "closed by peer");
		return -1;
	}
	lk->rx_plain += (uint64_t)n;
	return n;
}

static void on_io(struct loop_io *io, uint32_t events, void *arg)
{
	struct tunnel_link *lk = arg;

	if (lk->connecting) {
		int err = 0;
		socklen_t sl = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(lk->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			fail(lk, -err, "connect failed");
			return;
		}
		lk->connecting = false;
		if (lk->handshaking) {
			handshake(lk);
			return;
		}
		lk->want_out = true; /* so set_out() below re-arms for input only */
		if (!report_ready(lk))
			return;
		set_out(lk, lk->olen > 0);
		return;
	}
	if (lk->sniffing) {
		sniff(lk);
		return;
	}
	if (lk->handshaking) {
		handshake(lk);
		return;
	}
	if (events & EPOLLOUT) {
		int err = flush_link(lk);

		if (err < 0) {
			fail(lk, err, "write failed");
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/* A TLS link also drains what OpenSSL decrypted already: epoll cannot see it. */
		int reads = lk->ssl ? TLS_READS_PER_WAKE : READS_PER_WAKE;

		for (int i = 0; i < reads || (lk->ssl && SSL_pending(lk->ssl) > 0); i++) {
			ssize_t n = link_read(lk);

			if (n < 0)
				return; /* failed: the owner may have freed the link */
			if (n == 0)
				break;
			reasm_wrote(&lk->in, (size_t)n);
			if (!deliver(lk))
				return;
		}
		/* A TLS write that wanted to read first can go on now. */
		if (lk->ssl && lk->olen > lk->ohead && !lk->failed && !lk->closed) {
			int err = flush_link(lk);

			if (err < 0)
				fail(lk, err, "write failed");
		}
	}
}

static int sock_setup(int fd)
{
	int one = 1, tmo = USER_TIMEOUT_MS, buf = SOCK_BUF;

	/* Fixed, large socket buffers: a link carries 64 KiB super-packets of several
	 * streams, and autotuning grows the buffers only after the first drops of the
	 * bounded queue above. The kernel caps the size (net.core.[rw]mem_max); a refusal
	 * leaves autotuning in place. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &tmo, sizeof(tmo)) < 0)
		return -errno;
	return 0;
}

static struct tunnel_link *link_new(struct tunnel *t, int fd, bool connecting)
{
	struct tunnel_link *lk = calloc(1, sizeof(*lk));

	if (!lk)
		return NULL;
	/* The input buffer comes with the first read of a frame link: a stranger that
	 * connects and says nothing costs only this struct. */
	lk->t = t;
	lk->loop = t->loop;
	lk->fd = fd;
	lk->connecting = connecting;
	lk->io = loop_io_add(t->loop, fd, connecting ? EPOLLOUT : EPOLLIN, on_io, lk);
	if (!lk->io) {
		free(lk);
		return NULL;
	}
	return lk;
}

static int tcp_connect(struct tunnel *t, const struct sockaddr_storage *to, struct tls_ctx *tls,
		       struct tunnel_link **out)
{
	socklen_t len = to->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						 : sizeof(struct sockaddr_in6);
	struct tunnel_link *lk;
	int fd, err;

	fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = sock_setup(fd);
	if (err < 0)
		goto fail;
	if (connect(fd, (const struct sockaddr *)to, len) < 0 && errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	lk = link_new(t, fd, true);
	if (!lk) {
		err = -ENOMEM;
		goto fail;
	}
	if (tls) {
		lk->ssl = tls_ssl_new(tls, fd, false);
		if (!lk->ssl) {
			loop_io_del(lk->io);
			free(lk);
			err = -ENOMEM;
			goto fail;
		}
		lk->handshaking = true; /* starts once connected */
	}
	*out = lk;
	return 0;
fail:
	close(fd);
	return err;
}

static int tcp_adopt(struct tunnel *t, int fd, struct tls_ctx *tls, bool tls_server,
		     struct tunnel_link **out)
{
	struct tunnel_link *lk;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	lk = link_new(t, fd, true); /* "connected" on the first EPOLLOUT: ready follows */
	if (!lk)
		return -ENOMEM;
	if (tls) {
		lk->ssl = tls_ssl_new(tls, fd, tls_server);
		if (!lk->ssl) {
			loop_io_del(lk->io);
			free(lk);
			return -ENOMEM;
		}
		lk->handshaking = true;
	}
	*out = lk;
	return 0;
}

static void on_accept_resume(struct loop_timer *tm, void *arg)
{
	struct tunnel_listener *ls = arg;

	loop_io_set(ls->io, EPOLLIN);
}

static void on_accept(struct loop_io *io, uint32_t events, void *arg)
{
	struct tunnel_listener *ls = arg;

	for (;;) {
		struct sockaddr_storage from;
		socklen_t sl = sizeof(from);
		struct tunnel_link *lk;
		int fd = accept4(ls->fd, (struct sockaddr *)&from, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			/* Out of descriptors or memory: the pending connection stays in the
			 * backlog and the listener stays readable, so accepting again at once
			 * would spin. Pause instead. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				loop_io_set(ls->io, 0);
				loop_timer_arm(ls->loop, &ls->pause, ACCEPT_PAUSE_MS);
			}
			return; /* EAGAIN, or a transient error: try again on the next event */
		}
		if (sock_setup(fd) < 0 || !(lk = link_new(ls->t, fd, false))) {
			close(fd);
			continue;
		}
		lk->sniffing = true;
		lk->tls = ls->tls;
		ls->accepted(lk, &from, ls->arg);
	}
}

static int tcp_listen(struct tunnel *t, const struct sockaddr_storage *addr, struct tls_ctx *tls,
		      void (*accepted)(struct tunnel_link *lk, const struct sockaddr_storage *from,
				       void *arg),
		      void *arg, struct tunnel_listener **out)
{
	socklen_t len = addr->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						   : sizeof(struct sockaddr_in6);
	struct tunnel_listener *ls;
	int one = 1, err;

	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ls->fd < 0) {
		err = -errno;
		free(ls);
		return err;
	}
	if (setsockopt(ls->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls->fd, (const struct sockaddr *)addr, len) < 0 || listen(ls->fd, 128) < 0) {
		err = -errno;
		goto fail;
	}
	ls->t = t;
	ls->loop = t->loop;
	ls->tls = tls;
	ls->accepted = accepted;
	ls->arg = arg;
	loop_timer_init(&ls->pause, on_accept_resume, ls);
	ls->io = loop_io_add(t->loop, ls->fd, EPOLLIN, on_accept, ls);
	if (!ls->io) {
		err = -errno;
		goto fail;
	}
	*out = ls;
	return 0;
fail:
	close(ls->fd);
	free(ls);
	return err;
}

static void tcp_listener_close(struct tunnel_listener *ls)
{
	if (!ls)
		return;
	loop_timer_stop(ls->loop, &ls->pause);
	loop_io_del(ls->io);
	close(ls->fd);
	free(ls);
}

static void tcp_set_events(struct tunnel_link *lk, const struct tunnel_events *ev, void *arg)
{
	lk->ev = ev;
	lk->arg = arg;
}

/* Appends a and b to the output buffer, growing it. 0 or -ENOBUFS. */
static int obuf_append(struct tunnel_link *lk, const void *a, size_t alen, const void *b,
		       size_t blen)
{
	size_t pending = lk->olen - lk->ohead, need = alen + blen;

	if (lk->olen + need > lk->ocap) {
		if (lk->ohead > 0) {
			memmove(lk->obuf, lk->obuf + lk->ohead, pending);
			lk->olen = pending;
			lk->ohead = 0;
		}
		if (lk->olen + need > lk->ocap) {
			size_t cap = lk->ocap ? lk->ocap : 64 * 1024;
			uint8_t *nb;

			while (cap < lk->olen + need)
				cap *= 2;
			nb = realloc(lk->obuf, cap);
			if (!nb)
				return -ENOBUFS;
			lk->obuf = nb;
			lk->ocap = cap;
		}
	}
	if (alen)
		memcpy(lk->obuf + lk->olen, a, alen);
	if (blen)
		memcpy(lk->obuf + lk->olen + alen, b, blen);
	lk->olen += need;
	return 0;
}

/* A large frame (a super-packet) goes to the socket straight from the caller's buffer,
 * behind whatever is queued, in one writev: it is copied into the output buffer only as
 * far as the socket did not take it. Small frames are still gathered and written once
 * per loop turn. Never reports a failure (see tcp_send). */
static int send_direct(struct tunnel_link *lk, const uint8_t *hdr, const void *payload,
		       size_t len)
{
	size_t pending = lk->olen - lk->ohead, done, total = FRAME_HDR_LEN + len;
	struct iovec iov[3];
	int n = 0;
	ssize_t w;

	if (pending)
		iov[n++] = (struct iovec){ lk->obuf + lk->ohead, pending };
	iov[n++] = (struct iovec){ (void *)hdr, FRAME_HDR_LEN };
	iov[n++] = (struct iovec){ (void *)payload, len };
	do
		w = writev(lk->fd, iov, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN) {
		lk->werr = -errno;
		mark_dirty(lk);
		return 0;
	}
	done = w < 0 ? 0 : (size_t)w;
	if (done >= pending) {
		lk->ohead = lk->olen = 0;
		done -= pending;
	} else {
		lk->ohead += done;
		done = 0;
	}
	if (done < total) {
		size_t hl = done < FRAME_HDR_LEN ? FRAME_HDR_LEN - done : 0;
		int err = obuf_append(lk, hdr + (FRAME_HDR_LEN - hl), hl,
				      (const uint8_t *)payload + (done - (FRAME_HDR_LEN - hl)),
				      len - (done - (FRAME_HDR_LEN - hl)));

		if (err < 0) {
			/* Part of the frame is on the wire: the stream cannot be resumed. */
			lk->werr = err;
			mark_dirty(lk);
			return 0;
		}
	}
	if (lk->olen > lk->ohead)
		mark_dirty(lk);
	return 0;
}

static int tcp_send(struct tunnel_link *lk, uint8_t type, uint16_t flags, const void *payload,
		    size_t len)
{
	size_t pending = lk->olen - lk->ohead, need = FRAME_HDR_LEN + len;
	uint8_t hdr[FRAME_HDR_LEN];
	int err;

	if (lk->closed || lk->failed || lk->werr)
		return -ENOTCONN;
	if (len > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (pending + need > (type == FRAME_DATA ? OBUF_DATA_MAX : OBUF_HARD_MAX))
		return -ENOBUFS;
	frame_hdr_encode(hdr, type, flags, (uint32_t)len);
	if (!lk->connecting && !lk->ssl && !lk->sniffing && len >= DIRECT_MIN)
		return send_direct(lk, hdr, payload, len);
	err = obuf_append(lk, hdr, FRAME_HDR_LEN, payload, len);
	if (err < 0)
		return err;
	if (lk->connecting || lk->sniffing || lk->handshaking)
		return 0;
	/* Never report a failure from here: the caller is in the middle of its own work.
	 * The flush hook reports it. */
	if (lk->olen - lk->ohead >= FLUSH_AT && !lk->werr)
		lk->werr = flush_link(lk);
	if (lk->olen > lk->ohead || lk->werr)
		mark_dirty(lk);
	return 0;
}

static void tcp_flush(struct tunnel_link *lk)
{
	if (lk->closed || lk->failed || lk->connecting || lk->sniffing || lk->handshaking ||
	    lk->werr)
		return;
	lk->werr = flush_link(lk);
	if (lk->werr)
		mark_dirty(lk);
}

static void tcp_close(struct tunnel_link *lk)
{
	if (!lk || lk->closed)
		return;
	lk->closed = true;
	loop_io_del(lk->io);
	lk->io = NULL;
	/* Freed by whoever holds it last: the callback in progress, or the flush list. */
	if (!lk->in_cb && !lk->dirty)
		link_free(lk);
}

static size_t tcp_queued(const struct tunnel_link *lk)
{
	return lk->olen - lk->ohead;
}

static SSL *tcp_tls(const struct tunnel_link *lk)
{
	return lk->handshaking ? NULL : lk->ssl;
}

static void tcp_remote(const struct tunnel_link *lk, struct sockaddr_storage *out)
{
	socklen_t sl = sizeof(*out);

	memset(out, 0, sizeof(*out));
	if (getpeername(lk->fd, (struct sockaddr *)out, &sl) < 0)
		out->ss_family = AF_UNSPEC;
}

static int tcp_open(struct loop *l, struct tunnel **out)
{
	struct tunnel *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->loop = l;
	err = loop_before_sleep(l, flush_dirty, t);
	if (err < 0) {
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

/* Links closed but still on the flush list are freed here. */
static void tcp_free(struct tunnel *t)
{
	if (!t)
		return;
	loop_before_sleep_del(t->loop, flush_dirty, t);
	while (t->dirty) {
		struct tunnel_link *lk = t->dirty;

		t->dirty = lk->next_dirty;
		lk->dirty = false;
		if (lk->closed)
			link_free(lk);
	}
	free(t);
}

static uint64_t tcp_rx_bytes(const struct tunnel_link *lk)
{
	uint64_t n = lk->rx_plain;
	int unread = 0;

	if (lk->ssl)
		n += BIO_number_read(SSL_get_rbio(lk->ssl));
	if (ioctl(lk->fd, FIONREAD, &unread) == 0 && unread > 0)
		n += (uint64_t)unread;
	return n;
}

const struct tunnel_ops tunnel_tcp_ops = {
	.name = "tcp",
	.caps = { .max_payload = FRAME_MAX_PAYLOAD, .reliable = true, .ordered = true },
	.open = tcp_open,
	.free = tcp_free,
	.listen = tcp_listen,
	.listener_close = tcp_listener_close,
	.connect = tcp_connect,
	.adopt = tcp_adopt,
	.set_events = tcp_set_events,
	.send = tcp_send,
	.flush = tcp_flush,
	.close = tcp_close,
	.queued = tcp_queued,
	.tls = tcp_tls,
	.remote = tcp_remote,
	.rx_bytes = tcp_rx_bytes,
};
