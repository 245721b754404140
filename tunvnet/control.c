#include "tunvnet/control.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tunvnet/command.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"

#define MAX_CLIENTS 64
#define OBUF_MAX    (64 * 1024 * 1024)

struct client {
	struct client *next;
	struct control *ctl;
	uint64_t id;     /* for deferred replies: never reused */
	bool waiting;    /* a deferred reply is pending: read no further request */
	int fd;
	struct loop_io *io;
	bool discarding; /* the current line went past CTL_LINE_MAX: skip to its end */
	bool eof;
	size_t ilen;
	char ibuf[CTL_LINE_MAX];
	char *obuf;
	size_t ohead, olen;
};

struct control {
	struct daemon *d;
	uint64_t next_id;
	int fd;
	struct loop_io *io;
	struct client *clients;
	int nclients;
};

static void client_free(struct client *c)
{
	struct client **pp;

	for (pp = &c->ctl->clients; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	c->ctl->nclients--;
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
	if (c->ohead == c->olen) {
		c->ohead = c->olen = 0;
		if (c->eof && !c->waiting) {
			client_free(c);
			return false;
		}
	}
	loop_io_set(c->io, c->olen ? EPOLLOUT : c->waiting ? 0 : EPOLLIN);
	return true;
}

void control_reply(struct daemon *d, uint64_t client_id, char *line)
{
	struct client *c;

	for (c = d->ctl ? d->ctl->clients : NULL; c && c->id != client_id; c = c->next)
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

	for (size_t i = 0; i < c->ilen && !c->waiting; i++) {
		if (c->ibuf[i] != '\n')
			continue;
		if (c->discarding)
			c->discarding = false;
		else
			queue(c, command_run(c->ctl->d, c->id, c->ibuf + start, i - start,
					     &c->waiting));
		start = i + 1;
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

static void on_client(struct loop_io *io, uint32_t events, void *arg)
{
	struct client *c = arg;

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
			c->ilen += (size_t)n;
			handle_lines(c);
		}
		flush(c);
	}
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
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) < 0 || cr.uid != 0 ||
		    ctl->nclients >= MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->id = ++ctl->next_id;
		c->fd = fd;
		c->io = loop_io_add(ctl->d->loop, fd, EPOLLIN, on_client, c);
		if (!c->io) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->nclients++;
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

int control_start(struct daemon *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct control *ctl;
	int err;

	if (strlen(d->cfg.ctl_socket) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path %s is too long", d->cfg.ctl_socket);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, d->cfg.ctl_socket);
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->d = d;
	err = mkdir_parent(d->cfg.ctl_socket);
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
	if (err == 0 && !(ctl->io = loop_io_add(d->loop, ctl->fd, EPOLLIN, on_accept, ctl)))
		err = -errno;
	if (err < 0) {
		errno = -err;
		log_warn("control socket %s", sun.sun_path);
		close(ctl->fd);
		goto fail;
	}
	d->ctl = ctl;
	return 0;
fail:
	free(ctl);
	return err;
}

void control_stop(struct daemon *d)
{
	struct control *ctl = d->ctl;

	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	loop_io_del(ctl->io);
	close(ctl->fd);
	unlink(d->cfg.ctl_socket);
	free(ctl);
	d->ctl = NULL;
}
