#include "tunvnet/control.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "tunvnet/ctlmsg.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/stats.h"

#define MAX_CLIENTS 64    /* until control_set_limits */
#define IDLE_MS     60000 /* ditto */
#define OBUF_MAX    (64 * 1024 * 1024)

struct client {
	struct client *next;
	struct control *ctl;
	uint64_t id;     /* for deferred replies: never reused */
	bool waiting;    /* a deferred reply is pending: read no further request */
	uint64_t last_ms; /* accepted, or last read a request or wrote a reply */
	int fd;
	struct loop_io *io;
	bool discarding; /* the current line went past CTL_LINE_MAX: skip to its end */
	bool eof;
	size_t ilen;
	char ibuf[CTL_LINE_MAX];
	char *obuf;
	size_t ohead, olen;
	struct control_stream *stream; /* set once a streaming command owns the connection */
};

struct control {
	struct loop *loop;
	char path[PATH_MAX];
	struct control_events ev;
	uint64_t next_id;
	int fd;
	struct loop_io *io;
	struct client *clients;
	int nclients;
	int nstreams;
	int max_clients;         /* [limits] control_clients */
	uint64_t idle_ms;        /* [limits] control_idle_timeout */
	struct stats *stats;     /* where evictions and refusals are counted (or NULL) */
	struct loop_timer idle_timer;
};

/* A stream's bytes wait in a ring of fixed size, so a slow reader costs at most that
 * much memory and a write that does not fit is refused at once. */
struct control_stream {
	struct client *c;
	control_stream_cb cb; /* NULL once the owner let go */
	void *arg;
	uint8_t *ring;
	size_t cap, head, len;
	uint32_t ev;          /* the events the io is set to */
	bool dirty;           /* written since the last flush */
	bool blocked;         /* the socket is full: wait for EPOLLOUT */
	bool ending;          /* the owner let go: close once the ring is empty */
	bool rd_eof;          /* the client shut its side: read no more */
};

static void stream_free(struct client *c)
{
	struct control_stream *s = c->stream;
	control_stream_cb cb = s->cb;

	s->cb = NULL;
	if (cb)
		cb(s, CONTROL_STREAM_CLOSING, s->arg);
	c->ctl->nstreams--;
	c->stream = NULL;
	free(s->ring);
	free(s);
}

static void client_free(struct client *c)
{
	struct client **pp;

	for (pp = &c->ctl->clients; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	c->ctl->nclients--;
	if (c->stream)
		stream_free(c);
	loop_io_del(c->io);
	close(c->fd);
	free(c->obuf);
	free(c);
}

static void queue(struct client *c, char *line)
{
	size_t n;
	char *b;

	if (!line)
		return;
	n = strlen(line);
	if (c->olen - c->ohead + n > OBUF_MAX) {
		free(line);
		c->eof = true; /* it does not read its replies: stop serving it */
		return;
	}
	b = realloc(c->obuf, c->olen + n);
	if (!b) {
		free(line);
		return;
	}
	memcpy(b + c->olen, line, n);
	c->obuf = b;
	c->olen += n;
	free(line);
}

/* Writes the ring out as far as the socket takes it: 0 (empty), -EAGAIN, or -errno. */
static int ring_out(struct control_stream *s)
{
	while (s->len) {
		size_t first = s->cap - s->head < s->len ? s->cap - s->head : s->len;
		struct iovec iov[2] = {
			{ .iov_base = s->ring + s->head, .iov_len = first },
			{ .iov_base = s->ring, .iov_len = s->len - first },
		};
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = first < s->len ? 2 : 1 };
		ssize_t n = sendmsg(s->c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -EAGAIN : -errno;
		}
		s->head = (s->head + (size_t)n) % s->cap;
		s->len -= (size_t)n;
	}
	s->head = 0;
	return 0;
}

/* The part of flush() for a stream: the reply line first, then the ring. */
static bool stream_flush(struct client *c)
{
	struct control_stream *s = c->stream;
	int err = c->ohead < c->olen ? -EAGAIN : ring_out(s);
	uint32_t ev;

	s->dirty = false;
	if ((err < 0 && err != -EAGAIN) || (err == 0 && s->ending)) {
		client_free(c);
		return false;
	}
	s->blocked = err == -EAGAIN;
	ev = (s->blocked ? EPOLLOUT : 0) | (s->rd_eof ? 0 : EPOLLIN);
	if (ev != s->ev && loop_io_set(c->io, ev) == 0)
		s->ev = ev;
	return true;
}

/* Writes what it can; false when the client is gone. */
static void handle_lines(struct client *c);

static bool flush(struct client *c)
{
	while (c->ohead < c->olen) {
		ssize_t n = write(c->fd, c->obuf + c->ohead, c->olen - c->ohead);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			client_free(c);
			return false;
		}
		c->ohead += (size_t)n;
	}
	if (c->stream)
		return stream_flush(c);
	if (c->ohead == c->olen) {
		if (c->olen)
			c->last_ms = loop_now(c->ctl->loop);
		c->ohead = c->olen = 0;
		if (c->eof && !c->waiting) {
			client_free(c);
			return false;
		}
	}
	loop_io_set(c->io, c->olen ? EPOLLOUT : c->waiting ? 0 : EPOLLIN);
	return true;
}

void control_reply(struct control *ctl, uint64_t client_id, char *line)
{
	struct client *c;

	for (c = ctl ? ctl->clients : NULL; c && c->id != client_id; c = c->next)
		;
	if (!c) {
		free(line);
		return;
	}
	c->waiting = false;
	queue(c, line);
	handle_lines(c); /* requests that arrived meanwhile */
	flush(c);
}

static void handle_lines(struct client *c)
{
	size_t start = 0;

	for (size_t i = 0; i < c->ilen && !c->waiting && !c->stream; i++) {
		if (c->ibuf[i] != '\n')
			continue;
		if (c->discarding)
			c->discarding = false;
		else
			queue(c, c->ctl->ev.request(c->id, c->ibuf + start, i - start,
						    &c->waiting, c->ctl->ev.arg));
		start = i + 1;
	}
	if (c->stream) {
		c->ilen = 0; /* the connection carries the stream now */
		return;
	}
	memmove(c->ibuf, c->ibuf + start, c->ilen - start);
	c->ilen -= start;
	if (c->ilen == sizeof(c->ibuf) && !c->waiting) {
		/* No newline within CTL_LINE_MAX bytes: answer once, drop the rest of it. */
		if (!c->discarding)
			queue(c, ctlmsg_reply_err(CTL_ERR_TOO_LONG,
				"request longer than %d bytes", CTL_LINE_MAX));
		c->discarding = true;
		c->ilen = 0;
	}
}

/* A stream client: its input is only watched for the end of it. */
static void on_stream(struct client *c, uint32_t events)
{
	struct control_stream *s = c->stream;
	char junk[4096];

	if (events & EPOLLERR) {
		client_free(c);
		return;
	}
	if (events & EPOLLOUT)
		s->blocked = false;
	if ((events & (EPOLLIN | EPOLLHUP)) && !s->rd_eof) {
		for (int i = 0; i < 16; i++) {
			ssize_t n = read(c->fd, junk, sizeof(junk));

			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			s->rd_eof = true;
			break;
		}
		if (s->rd_eof && s->cb)
			s->cb(s, CONTROL_STREAM_EOF, s->arg);
	}
	if (events & EPOLLHUP) {
		client_free(c); /* both directions are shut: nothing more can reach it */
		return;
	}
	flush(c);
}

static void on_client(struct loop_io *io, uint32_t events, void *arg)
{
	struct client *c = arg;

	if (c->stream) {
		on_stream(c, events);
		return;
	}
	if (c->waiting && (events & (EPOLLHUP | EPOLLERR))) {
		client_free(c); /* gone before its deferred reply: nobody to tell */
		return;
	}
	if (events & EPOLLOUT) {
		if (!flush(c))
			return;
		if (c->olen)
			return; /* read more only once the replies are out */
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(c->fd, c->ibuf + c->ilen, sizeof(c->ibuf) - c->ilen);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			c->eof = true;
		} else {
			c->last_ms = loop_now(c->ctl->loop);
			c->ilen += (size_t)n;
			handle_lines(c);
		}
		flush(c);
	}
}

/* Idle: no request being served, no reply or stream going out. */
static bool idle(const struct client *c)
{
	return !c->waiting && !c->stream && c->ohead == c->olen;
}

static void count(struct control *ctl, enum limit_reason r)
{
	if (ctl->stats)
		stats_limit(ctl->stats, r, 1);
}

/* Every slot is taken: the client idle the longest makes room, or nobody. */
static bool evict_oldest_idle(struct control *ctl)
{
	struct client *old = NULL;

	for (struct client *c = ctl->clients; c; c = c->next)
		if (idle(c) && (!old || c->last_ms < old->last_ms ||
				(c->last_ms == old->last_ms && c->id < old->id)))
			old = c;
	if (!old)
		return false;
	count(ctl, LIMIT_CONTROL_EVICTED);
	client_free(old);
	return true;
}

/* Closes clients idle for idle_ms; runs while any client is connected. */
static void on_idle_timer(struct loop_timer *t, void *arg)
{
	struct control *ctl = arg;
	uint64_t now = loop_now(ctl->loop), next = ctl->idle_ms;
	struct client *c, *nx;

	for (c = ctl->clients; c; c = nx) {
		nx = c->next;
		if (!idle(c))
			continue;
		if (now - c->last_ms >= ctl->idle_ms) {
			count(ctl, LIMIT_CONTROL_IDLE);
			client_free(c);
		} else if (c->last_ms + ctl->idle_ms - now < next) {
			next = c->last_ms + ctl->idle_ms - now;
		}
	}
	if (ctl->clients)
		loop_timer_arm(ctl->loop, &ctl->idle_timer, next);
}

void control_set_limits(struct control *ctl, int max_clients, int idle_s, struct stats *st)
{
	ctl->max_clients = max_clients;
	ctl->idle_ms = (uint64_t)idle_s * 1000;
	ctl->stats = st;
	if (ctl->clients)
		loop_timer_arm(ctl->loop, &ctl->idle_timer, 0);
}

static void on_accept(struct loop_io *io, uint32_t events, void *arg)
{
	struct control *ctl = arg;

	for (;;) {
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cr;
		socklen_t sl = sizeof(cr);
		struct client *c;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) < 0 || cr.uid != 0) {
			close(fd);
			continue;
		}
		if (ctl->nclients >= ctl->max_clients && !evict_oldest_idle(ctl)) {
			count(ctl, LIMIT_CONTROL_REFUSED);
			close(fd);
			continue;
		}
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->id = ++ctl->next_id;
		c->last_ms = loop_now(ctl->loop);
		c->fd = fd;
		c->io = loop_io_add(ctl->loop, fd, EPOLLIN, on_client, c);
		if (!c->io) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->nclients++;
		if (!loop_timer_armed(&ctl->idle_timer))
			loop_timer_arm(ctl->loop, &ctl->idle_timer, ctl->idle_ms);
	}
}

struct control_stream *control_stream_take(struct control *ctl, uint64_t client_id,
					   size_t limit, control_stream_cb cb, void *arg)
{
	struct control_stream *s;
	struct client *c;

	for (c = ctl ? ctl->clients : NULL; c && c->id != client_id; c = c->next)
		;
	if (!c || c->stream || limit == 0) {
		errno = c ? EBUSY : ENOENT;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->ring = malloc(limit))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->c = c;
	s->cb = cb;
	s->arg = arg;
	s->cap = limit;
	s->ev = EPOLLIN;
	c->stream = s;
	c->ctl->nstreams++;
	return s;
}

int control_stream_writev(struct control_stream *s, const struct iovec *iov, int iovcnt)
{
	size_t total = 0, tail;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total > s->cap - s->len)
		return -ENOBUFS;
	tail = (s->head + s->len) % s->cap;
	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		while (n) {
			size_t k = s->cap - tail < n ? s->cap - tail : n;

			memcpy(s->ring + tail, p, k);
			tail = (tail + k) % s->cap;
			p += k;
			n -= k;
		}
	}
	s->len += total;
	s->dirty = true;
	return 0;
}

size_t control_stream_room(const struct control_stream *s)
{
	return s->cap - s->len;
}

void control_stream_end(struct control_stream *s)
{
	s->cb = NULL;
	s->ending = true;
	s->dirty = true; /* the next before-sleep flush closes it once the ring is out */
}

void control_stream_abort(struct control_stream *s)
{
	s->len = 0;
	s->head = 0;
	control_stream_end(s);
}

/* Streams are flushed once per loop turn, not per write: a capture appends many packets
 * in one turn and they go out in a few system calls. */
static void before_sleep(void *arg)
{
	struct control *ctl = arg;
	struct client *c, *next;

	if (!ctl->nstreams)
		return;
	for (c = ctl->clients; c; c = next) {
		next = c->next;
		if (c->stream && c->stream->dirty && !c->stream->blocked)
			flush(c);
	}
}

/* A socket file left by a daemon that died is removed; one a daemon answers on is not. */
static int claim_path(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		err = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sun->sun_path);
	close(fd);
	return err;
}

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int control_start(struct loop *loop, const char *path, const struct control_events *ev,
		  struct control **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct control *ctl;
	int err;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->loop = loop;
	ctl->ev = *ev;
	ctl->fd = -1;
	ctl->max_clients = MAX_CLIENTS;
	ctl->idle_ms = IDLE_MS;
	loop_timer_init(&ctl->idle_timer, on_idle_timer, ctl);
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	err = mkdir_parent(path);
	if (err == 0)
		err = claim_path(&sun);
	if (err == -EADDRINUSE) {
		log_warnx("control socket %s is in use by a running tunvnetd", sun.sun_path);
		goto fail;
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		err = -errno;
		goto fail;
	}
	/* Root only: the mode is set before anyone can connect (umask), then checked. */
	{
		mode_t old = umask(0177);

		err = bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
		umask(old);
	}
	if (err == 0 && listen(ctl->fd, 16) < 0)
		err = -errno;
	if (err == 0 && !(ctl->io = loop_io_add(loop, ctl->fd, EPOLLIN, on_accept, ctl)))
		err = -errno;
	if (err == 0)
		err = loop_before_sleep(loop, before_sleep, ctl);
	if (err < 0) {
		errno = -err;
		log_warn("control socket %s", sun.sun_path);
		loop_io_del(ctl->io);
		close(ctl->fd);
		goto fail;
	}
	*out = ctl;
	return 0;
fail:
	free(ctl);
	return err;
}

void control_stop(struct control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients) {
		struct client *c = ctl->clients;
		struct control_stream *s = c->stream;

		if (s && s->cb) {
			/* The owner's last words (a capture's END) go out if the socket takes
			 * them now; the daemon does not wait. */
			control_stream_cb cb = s->cb;

			s->cb = NULL;
			cb(s, CONTROL_STREAM_CLOSING, s->arg);
			if (c->ohead == c->olen)
				ring_out(s);
		}
		client_free(c);
	}
	loop_timer_stop(ctl->loop, &ctl->idle_timer);
	loop_before_sleep_del(ctl->loop, before_sleep, ctl);
	loop_io_del(ctl->io);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}
