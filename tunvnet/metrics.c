/* GET /metrics, served by libmicrohttpd (as Prometheus' own C client does) from the
 * daemon's event loop: MHD runs without threads of its own (MHD_USE_EPOLL, external
 * polling), its epoll fd sits in our loop, MHD_run() is called when it is readable and
 * when the timeout MHD asks for expires. HTTP parsing, keep-alive, per-connection memory
 * bounds and idle timeouts are MHD's.
 *
 * Connection flow:
 *   1. our listening socket accepts (so that we choose who gets a slot, below);
 *   2. we wait for the first line of the first request, and refuse it (400) if it holds a
 *      NUL: MHD takes a line that starts with one for an empty line and skips it, so
 *      "\0GET /metrics ..." would vanish and its client wait for the timeout;
 *   3. MHD_add_connection() hands the socket, its bytes still unread, to MHD, which owns
 *      it from then on;
 *   4. MHD tells us when a connection starts and closes (on_notify), when a request
 *      arrives (on_request: answered at once from memory) and when its response is done
 *      (on_completed). Between a request and its completion a connection is busy; at
 *      any other time (before its first request, between keep-alive requests, or
 *      trickling in a request head) it is idle.
 *
 * Limits ([limits] in the config): at most metrics_connections at once and
 * metrics_per_address from one client address. A new connection that finds its
 * address's or the whole endpoint's slots taken evicts the oldest idle connection that
 * holds one (so idle connections cannot lock a scraper out); when every slot is busy, it
 * is refused. Both are counted (metrics_evicted, metrics_refused). An idle connection
 * is closed after metrics_timeout seconds. Eviction shuts the socket down; MHD sees the
 * end of the stream and closes it itself (the fd stays MHD's). */
#include "tunvnet/metrics.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "tunvnet/addr.h"
#include "tunvnet/command.h"
#include "tunvnet/daemon.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/prom.h"
#include "tunvnet/stats.h"

/* MHD's memory per connection: request head and response head. A longer request head
 * is answered 431 by MHD. */
#define CONN_MEMORY  4096
/* Connections accepted per readiness of the listening socket. MHD's own limits are set
 * this much above ours: an evicted connection holds its MHD slot until the next
 * MHD_run(), which comes after each batch. */
#define ACCEPT_BATCH 16
#define BACKLOG      64
/* Bytes of a new connection looked at for its first line; a longer line goes to MHD,
 * which answers 414 or 431. */
#define FIRST_PEEK   1024

static const char text_plain[] = "text/plain; charset=utf-8";

static const char bad_request[] = "HTTP/1.1 400 Bad Request\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "Content-Length: 12\r\nConnection: close\r\n\r\nbad request\n";

/* One connection: ours until its first line has come (io and timer set), then MHD's. */
struct mconn {
	struct mconn *next;
	struct metrics *m;
	int fd;                        /* MHD's: then only ever shut down, for an eviction */
	struct sockaddr_storage peer;
	uint64_t since_ms;             /* accepted; the oldest idle is evicted first */
	struct loop_io *io;            /* before MHD has it: waiting for the first line */
	struct loop_timer timer;       /* the same: metrics_timeout */
	bool busy;                     /* a request is being answered */
	bool evicted;                  /* shut down, MHD still to notice: holds no slot */
};

struct metrics {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	int fd;                   /* listening socket */
	struct loop_io *listen_io;
	struct loop_io *mhd_io;   /* MHD's epoll fd */
	struct loop_timer timer;  /* MHD's timeout */
	struct mconn *conns;      /* every connection, ours and MHD's */
	struct mconn *adding;     /* being handed to MHD: on_notify takes it */
};

/* Runs MHD, then arms the timer for when MHD next wants to run. */
static void run(struct metrics *m)
{
	MHD_UNSIGNED_LONG_LONG to;

	MHD_run(m->mhd);
	if (MHD_get_timeout(m->mhd, &to) == MHD_YES)
		loop_timer_arm(m->d->loop, &m->timer, to);
	else
		loop_timer_stop(m->d->loop, &m->timer);
}

static void on_mhd(struct loop_io *io, uint32_t events, void *arg)
{
	run(arg);
}

static void on_timer(struct loop_timer *t, void *arg)
{
	run(arg);
}

static void unlink_conn(struct metrics *m, struct mconn *c)
{
	struct mconn **pp;

	for (pp = &m->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
}

/* Closes a connection MHD does not have yet. */
static void fresh_free(struct mconn *c)
{
	unlink_conn(c->m, c);
	loop_timer_stop(c->m->d->loop, &c->timer);
	loop_io_del(c->io);
	close(c->fd);
	free(c);
}

/* Ends a connection to make room: ours is closed, MHD's shut down (MHD closes it). */
static void evict(struct mconn *c)
{
	stats_add(&c->m->d->stats, STAT_METRICS_EVICTED, 1);
	if (c->io) {
		fresh_free(c);
		return;
	}
	c->evicted = true;
	shutdown(c->fd, SHUT_RDWR);
}

/* Frees a slot for a newcomer from addr: returns false when it must be refused. */
static bool make_room(struct metrics *m, const struct sockaddr_storage *addr)
{
	const struct config_limits *lim = &m->d->cfg.limits;
	struct mconn *c, *oldest_here = NULL, *oldest = NULL;
	int n = 0, here = 0;

	for (c = m->conns; c; c = c->next) {
		if (c->evicted)
			continue;
		n++;
		if (addr_same_host(&c->peer, addr)) {
			here++;
			if (!c->busy && (!oldest_here || c->since_ms <= oldest_here->since_ms))
				oldest_here = c;
		}
		if (!c->busy && (!oldest || c->since_ms <= oldest->since_ms))
			oldest = c;
	}
	if (here >= lim->metrics_per_addr)
		c = oldest_here;
	else if (n >= lim->metrics_conns)
		c = oldest;
	else
		return true;
	if (!c) {
		stats_add(&m->d->stats, STAT_METRICS_REFUSED, 1);
		return false;
	}
	evict(c);
	return true;
}

static void fresh_timeout(struct loop_timer *t, void *arg)
{
	fresh_free(arg);
}

/* Answers 400 to a request whose first line holds a NUL, and closes. What the client
 * sent is read first: closing with unread bytes would reset the connection and could
 * destroy the answer in flight. */
static void refuse_bad(struct mconn *c)
{
	char junk[4096];
	int i;

	/* what is there, not what a client keeps sending */
	for (i = 0; i < 4 && recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0; i++)
		;
	send(c->fd, bad_request, sizeof(bad_request) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	fresh_free(c);
}

/* The first bytes of a new connection: is its first line whole, and free of NUL? */
static void on_first(struct loop_io *io, uint32_t events, void *arg)
{
	struct mconn *c = arg;
	struct metrics *m = c->m;
	char buf[FIRST_PEEK];
	const char *lf, *nul;
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fresh_free(c);
		return;
	}
	lf = memchr(buf, '\n', (size_t)n);
	nul = memchr(buf, '\0', lf ? (size_t)(lf - buf) : (size_t)n);
	if (nul) {
		refuse_bad(c);
		return;
	}
	if (!lf && (size_t)n < sizeof(buf))
		return; /* more to come */
	loop_timer_stop(m->d->loop, &c->timer);
	loop_io_del(c->io);
	c->io = NULL;
	unlink_conn(m, c);
	/* MHD owns fd from here on, and closes it if it cannot take it; on_notify links c
	 * again (MHD calls it from inside MHD_add_connection). */
	m->adding = c;
	if (MHD_add_connection(m->mhd, c->fd, (const struct sockaddr *)&c->peer,
			       c->peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							      : sizeof(struct sockaddr_in)) != MHD_YES)
		stats_add(&m->d->stats, STAT_METRICS_REFUSED, 1);
	if (m->adding) { /* not taken */
		m->adding = NULL;
		free(c);
	}
	run(m);
}

static void on_accept(struct loop_io *io, uint32_t events, void *arg)
{
	struct metrics *m = arg;
	struct mconn *c;
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage a;
		socklen_t alen = sizeof(a);
		int fd = accept4(m->fd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;
		if (!make_room(m, &a) || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->m = m;
		c->fd = fd;
		c->peer = a;
		c->since_ms = loop_now(m->d->loop);
		/* Edge-triggered: on_first only peeks, so the bytes stay and a level-triggered
		 * fd would wake the loop for ever while a first line trickles in. */
		c->io = loop_io_add(m->d->loop, fd, EPOLLIN | EPOLLET, on_first, c);
		if (!c->io) {
			close(fd);
			free(c);
			continue;
		}
		loop_timer_init(&c->timer, fresh_timeout, c);
		loop_timer_arm(m->d->loop, &c->timer,
			       (uint64_t)m->d->cfg.limits.metrics_timeout_s * 1000);
		c->next = m->conns;
		m->conns = c;
	}
	run(m); /* MHD reaps what make_room shut down */
}

static void on_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	struct metrics *m = cls;
	struct mconn *c;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		/* Only what we add: MHD has no listening socket of its own. Without c (a
		 * later MHD calling back at another moment) the connection still times out,
		 * it just cannot be evicted. */
		c = m->adding;
		m->adding = NULL;
		if (!c)
			return;
		c->next = m->conns;
		m->conns = c;
		*socket_context = c;
		return;
	}
	c = *socket_context;
	if (!c)
		return;
	unlink_conn(m, c);
	free(c);
	*socket_context = NULL;
}

static struct mconn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
			      char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return answer(conn, status, text_plain, (char *)text, strlen(text),
		      MHD_RESPMEM_PERSISTENT);
}

/* Every request: GET (or HEAD) /metrics gets the stats in the exposition format; other
 * paths 404, other methods 405. A scraper may add a query string (?name[]=...), which
 * MHD takes off the url: the whole set is served. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct metrics *m = cls;
	struct mconn *c = conn_of(conn);
	json_t *st;
	char *text;

	if (c)
		c->busy = true;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (strcmp(url, "/metrics") != 0)
		return plain(conn, MHD_HTTP_NOT_FOUND, "not found; try /metrics\n");
	st = command_stats_json(m->d);
	text = st ? prom_format(st) : NULL;
	json_decref(st);
	if (!text)
		return plain(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return answer(conn, MHD_HTTP_OK, PROM_CONTENT_TYPE, text, strlen(text),
		      MHD_RESPMEM_MUST_FREE);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct mconn *c = conn_of(conn);

	if (c)
		c->busy = false;
}

/* MHD's complaints: about clients, so debug only. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("metrics: %s", msg);
}

static int listen_on(const struct sockaddr_storage *a)
{
	int one = 1, fd, err;

	fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, addr_len(a)) < 0 || listen(fd, BACKLOG) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void free_metrics(struct metrics *m)
{
	if (m->mhd)
		MHD_stop_daemon(m->mhd); /* closes its connections: on_notify frees ours */
	loop_io_del(m->mhd_io);
	loop_io_del(m->listen_io);
	loop_timer_stop(m->d->loop, &m->timer);
	if (m->fd >= 0)
		close(m->fd);
	while (m->conns) /* what is left is ours: MHD's went with MHD */
		fresh_free(m->conns);
	free(m);
}

int metrics_start(struct daemon *d)
{
	const struct sockaddr_storage *a = &d->cfg.metrics_listen;
	const struct config_limits *lim = &d->cfg.limits;
	const union MHD_DaemonInfo *info;
	char ab[ADDR_STRLEN];
	struct metrics *m;
	int err;

	if (!d->cfg.has_metrics || d->metrics)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->d = d;
	loop_timer_init(&m->timer, on_timer, m);
	m->fd = listen_on(a);
	if (m->fd < 0) {
		err = m->fd;
		goto fail;
	}
	m->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, m,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(lim->metrics_conns + ACCEPT_BATCH),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(lim->metrics_per_addr + ACCEPT_BATCH),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)lim->metrics_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_NOTIFY_CONNECTION, on_notify, m,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
		MHD_OPTION_EXTERNAL_LOGGER, on_log, m,
		MHD_OPTION_END);
	if (!m->mhd) {
		err = -EINVAL;
		goto fail;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		err = -EINVAL;
		goto fail;
	}
	m->mhd_io = loop_io_add(d->loop, info->epoll_fd, EPOLLIN, on_mhd, m);
	m->listen_io = m->mhd_io ? loop_io_add(d->loop, m->fd, EPOLLIN, on_accept, m) : NULL;
	if (!m->listen_io) {
		err = -errno;
		goto fail;
	}
	d->metrics = m;
	log_info("metrics on http://%s/metrics", addr_fmt(a, ab));
	return 0;
fail:
	free_metrics(m);
	errno = -err;
	log_warn("metrics_listen %s", addr_fmt(a, ab));
	return err;
}

void metrics_stop(struct daemon *d)
{
	if (!d->metrics)
		return;
	free_metrics(d->metrics);
	d->metrics = NULL;
}
