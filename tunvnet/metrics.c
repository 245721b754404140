/* GET /metrics: one request per connection, answered whole from memory. */
#include "tunvnet/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tunvnet/addr.h"
#include "tunvnet/daemon.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/prom.h"
#include "tunvnet/command.h"

#define REQ_MAX     4096  /* request line and headers; longer ones get 431 */
#define CONN_MAX    16    /* a scraper needs one; more are refused */
#define CONN_TIMEOUT_MS 10000
#define LINGER_MS   2000  /* reading what the client still sends, after the response */

struct mconn {
	struct mconn *next;
	struct metrics *m;
	int fd;
	struct loop_io *io;
	struct loop_timer timer;
	size_t ilen;
	char ibuf[REQ_MAX];
	char *obuf;
	size_t ohead, olen;
	bool lingering;   /* response sent and our side shut: waiting for the client's EOF */
};

struct metrics {
	struct daemon *d;
	int fd;
	struct loop_io *io;
	struct mconn *conns;
	int nconns;
};

static struct metrics *metrics;

static void conn_free(struct mconn *c)
{
	struct mconn **pp;

	for (pp = &c->m->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	c->m->nconns--;
	loop_timer_stop(c->m->d->loop, &c->timer);
	loop_io_del(c->io);
	close(c->fd);
	free(c->obuf);
	free(c);
}

static void on_timeout(struct loop_timer *t, void *arg)
{
	conn_free(arg);
}

static void respond(struct mconn *c, const char *status, const char *type, const char *body,
		    bool head)
{
	size_t blen = strlen(body);
	int n;

	n = asprintf(&c->obuf,
		     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s",
		     status, type, blen, head ? "" : body);
	if (n < 0) {
		c->obuf = NULL;
		c->olen = 0;
		return;
	}
	c->olen = (size_t)n;
	loop_io_set(c->io, EPOLLOUT);
}

/* The request line of a complete request head: method and path decide the answer. */
static void handle(struct mconn *c)
{
	char method[8] = "", path[256] = "";
	bool head;

	if (sscanf(c->ibuf, "%7s %255s", method, path) != 2) {
		respond(c, "400 Bad Request", "text/plain", "bad request\n", false);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		respond(c, "405 Method Not Allowed", "text/plain", "only GET\n", false);
		return;
	}
	/* a scraper may add a query string (?name[]=...): the whole set is served */
	path[strcspn(path, "?")] = '\0';
	if (strcmp(path, "/metrics") == 0) {
		json_t *st = command_stats_json(c->m->d);
		char *text = st ? prom_format(st) : NULL;

		json_decref(st);
		if (text)
			respond(c, "200 OK", PROM_CONTENT_TYPE, text, head);
		else
			respond(c, "500 Internal Server Error", "text/plain", "out of memory\n",
				head);
		free(text);
		return;
	}
	respond(c, "404 Not Found", "text/plain", "not found; try /metrics\n", head);
}

static void on_conn(struct loop_io *io, uint32_t events, void *arg)
{
	struct mconn *c = arg;
	ssize_t n;

	if (c->lingering) {
		char junk[4096];

		n = read(c->fd, junk, sizeof(junk));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_free(c);
		return;
	}
	if (c->obuf) {
		while (c->ohead < c->olen) {
			n = send(c->fd, c->obuf + c->ohead, c->olen - c->ohead, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n < 0) {
				conn_free(c);
				return;
			}
			c->ohead += (size_t)n;
		}
		/* HTTP/1.0: the response ends with the connection. Closing with unread
		 * request bytes would reset it and could destroy the response in flight, so
		 * our side is shut first and the rest read until the client closes. */
		shutdown(c->fd, SHUT_WR);
		c->lingering = true;
		loop_io_set(c->io, EPOLLIN);
		loop_timer_arm(c->m->d->loop, &c->timer, LINGER_MS);
		return;
	}
	n = read(c->fd, c->ibuf + c->ilen, sizeof(c->ibuf) - 1 - c->ilen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c);
		return;
	}
	c->ilen += (size_t)n;
	c->ibuf[c->ilen] = '\0';
	if (strstr(c->ibuf, "\r\n\r\n") || strstr(c->ibuf, "\n\n"))
		handle(c);
	else if (c->ilen == sizeof(c->ibuf) - 1)
		respond(c, "431 Request Header Fields Too Large", "text/plain",
			"request too large\n", false);
	if (!c->obuf && c->olen == 0 && c->ilen == sizeof(c->ibuf) - 1)
		conn_free(c); /* not even an error reply could be made */
}

static void on_accept(struct loop_io *io, uint32_t events, void *arg)
{
	struct metrics *m = arg;

	for (;;) {
		int fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct mconn *c;

		if (fd < 0)
			return;
		if (m->nconns >= CONN_MAX || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->m = m;
		c->fd = fd;
		c->io = loop_io_add(m->d->loop, fd, EPOLLIN, on_conn, c);
		if (!c->io) {
			close(fd);
			free(c);
			continue;
		}
		loop_timer_init(&c->timer, on_timeout, c);
		loop_timer_arm(m->d->loop, &c->timer, CONN_TIMEOUT_MS);
		c->next = m->conns;
		m->conns = c;
		m->nconns++;
	}
}

int metrics_start(struct daemon *d)
{
	const struct sockaddr_storage *a = &d->cfg.metrics_listen;
	char ab[ADDR_STRLEN];
	struct metrics *m;
	int one = 1, err = 0;

	if (!d->cfg.has_metrics || metrics)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->d = d;
	m->fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0) {
		err = -errno;
		free(m);
		goto fail;
	}
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->fd, (const struct sockaddr *)a, addr_len(a)) < 0 || listen(m->fd, 16) < 0 ||
	    !(m->io = loop_io_add(d->loop, m->fd, EPOLLIN, on_accept, m))) {
		err = -errno;
		close(m->fd);
		free(m);
		goto fail;
	}
	metrics = m;
	log_info("metrics on http://%s/metrics", addr_fmt(a, ab));
	return 0;
fail:
	errno = -err;
	log_warn("metrics_listen %s", addr_fmt(a, ab));
	return err;
}

void metrics_stop(struct daemon *d)
{
	struct metrics *m = metrics;

	if (!m || m->d != d)
		return;
	while (m->conns)
		conn_free(m->conns);
	loop_io_del(m->io);
	close(m->fd);
	free(m);
	metrics = NULL;
}
