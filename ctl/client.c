/* vnetctl's side of the control socket, and what every command shares: argument
 * parsing, help and usage, one request and its reply, JSON output.
 *
 * One connection carries one request. The whole exchange runs against a single
 * deadline, so a daemon that is wedged (accepting nothing, or accepting and never
 * answering) costs the user CLIENT_TIMEOUT_MS, not forever. */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tunvnet/config.h"

#define MAX_EXTRA 16 /* own options of one command */

static const struct option common_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
};

static const char common_help[] =
	"-s, --socket SOCKET   the control socket of tunvnetd (default: $VNETCTL_SOCKET\n"
	"                      if set, else " CONFIG_DEFAULT_SOCKET ")\n"
	"-j, --json            print the daemon's result as JSON instead of text\n"
	"-h, --help            print this help and exit\n";

/* Prints text with every non-empty line indented by two blanks. */
static void indent(const char *text, FILE *out)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strchrnul(p, '\n');
		if (nl > p)
			fprintf(out, "  %.*s", (int)(nl - p), p);
		fputc('\n', out);
		p = *nl ? nl + 1 : nl;
	}
}

int client_help(const struct client_doc *d, FILE *out)
{
	fprintf(out, "Usage: vnetctl [-s SOCKET] [--json] %s\n\n", d->synopsis);
	indent(d->summary, out);
	fputs("\nOptions:\n", out);
	if (d->options)
		indent(d->options, out);
	indent(common_help, out);
	fputs("\nExit status:\n", out);
	fprintf(out, "  0  %s\n", d->exit_ok);
	if (d->exit_err)
		fprintf(out, "  1  %s\n", d->exit_err);
	else
		fputs("  1  tunvnetd answered with an error (its message is printed), or could\n"
		      "     not be reached, or did not answer within 10 seconds\n", out);
	fputs("  2  usage error: an unknown option, a missing or malformed argument\n", out);
	fputs("\nExample:\n", out);
	indent(d->example, out);
	return 0;
}

int client_usage(const struct client_doc *d, const char *fmt, ...)
{
	va_list ap;

	fputs("vnetctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: vnetctl [-s SOCKET] [--json] %s\n"
		"(see 'vnetctl %s --help')\n", d->synopsis, d->name);
	return VNETCTL_EXIT_USAGE;
}

int client_args(int argc, char **argv, struct ctl_opts *o, const struct client_doc *d,
		const struct option *extra, int (*on_opt)(int c, const char *arg, void *ctx),
		void *ctx)
{
	struct option all[MAX_EXTRA + 4];
	char shorts[3 * MAX_EXTRA + 16] = "-:";
	size_t n = 0, k = 2, i;
	struct sockaddr_un sa;
	const char *bad;
	int c, r;

	for (i = 0; extra && extra[i].name; i++) {
		if (n == MAX_EXTRA)
			return client_usage(d, "too many options for '%s'", d->name);
		all[n++] = extra[i];
		if (extra[i].val < 256) {
			shorts[k++] = (char)extra[i].val;
			if (extra[i].has_arg == required_argument)
				shorts[k++] = ':';
		}
	}
	for (i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
		all[n++] = common_opts[i];
	memset(&all[n], 0, sizeof(all[n]));
	strcpy(&shorts[k], "s:jh");

	/* Without positional arguments, a plain ':' start: getopt permutes and we refuse
	 * what is left. With them, '-' hands each one to on_opt (as c == 1) in order. */
	if (!d->positional) {
		memmove(shorts, shorts + 1, strlen(shorts));
	}
	/* optind 0 makes glibc start over: main() has already run getopt on another argv */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			return client_help(d, stdout);
		case ':':
			return client_usage(d, "option '%s' needs an argument", argv[optind - 1]);
		case '?':
			bad = argv[optind - 1];
			if (optopt && strncmp(bad, "--", 2) != 0)
				return client_usage(d, "unknown option '-%c'", optopt);
			return client_usage(d, "unknown or malformed option '%s'", bad);
		default:
			r = on_opt ? on_opt(c, optarg, ctx) : -1;
			if (r >= 0)
				return r;
		}
	}
	/* what follows "--" */
	for (; d->positional && optind < argc; optind++) {
		r = on_opt ? on_opt(1, argv[optind], ctx) : -1;
		if (r >= 0)
			return r;
	}
	if (optind < argc)
		return client_usage(d, "unexpected argument '%s'", argv[optind]);
	if (!o->socket || !*o->socket)
		return client_usage(d, "empty socket path");
	if (strlen(o->socket) >= sizeof(sa.sun_path))
		return client_usage(d, "socket path %s is longer than %zu bytes", o->socket,
				    sizeof(sa.sun_path) - 1);
	return -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now;
	int n;

	for (;;) {
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Says what a failed connect most likely means; these are the three a user meets. */
static const char *connect_hint(int err, const char *path)
{
	struct stat st;

	switch (err) {
	case ENOENT:
		return " (is tunvnetd running? use -s SOCKET)";
	case ECONNREFUSED:
		/* Linux says "refused" for a file that is no socket at all, too */
		if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			return " (this file is not a socket: use -s SOCKET)";
		return " (the socket exists but no tunvnetd is listening on it: is tunvnetd "
		       "running? use -s SOCKET)";
	case EACCES:
	case EPERM:
		return " (the control socket is root-only: run vnetctl as root)";
	case EAGAIN:
		return " (tunvnetd is not accepting connections: timed out)";
	default:
		return "";
	}
}

static int connect_to(const char *path, bool quiet)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_MS / 1000 };
	int fd, err;

	/* client_args has checked the length */
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "vnetctl: socket: %s\n", strerror(errno));
		return -1;
	}
	/* A blocking connect to a Unix socket waits while the listener's backlog is full;
	 * SO_SNDTIMEO bounds that wait (and reports EAGAIN when it runs out). */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		if (!quiet)
			fprintf(stderr, "vnetctl: cannot connect to %s: %s%s\n", path,
				strerror(err), connect_hint(err, path));
		close(fd);
		errno = err; /* for client_request */
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		fprintf(stderr, "vnetctl: fcntl: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, uint64_t deadline, const char *path)
{
	size_t off = 0;
	ssize_t n;
	int err;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			fprintf(stderr, "vnetctl: sending to tunvnetd on %s: %s\n", path,
				strerror(errno));
			return -1;
		}
		err = wait_fd(fd, POLLOUT, deadline);
		if (err == -ETIMEDOUT) {
			fprintf(stderr, "vnetctl: tunvnetd on %s did not take the request within "
				"%d s\n", path, CLIENT_TIMEOUT_MS / 1000);
			return -1;
		}
		if (err < 0) {
			fprintf(stderr, "vnetctl: poll: %s\n", strerror(-err));
			return -1;
		}
	}
	return 0;
}

/* Reads up to and including the first '\n' into *out (malloc'd): *outlen is the line's
 * length, *total what was read, the line and whatever came after it in the same reads
 * (the start of a stream), followed by a NUL. */
static int read_line(int fd, char **out, size_t *outlen, size_t *total, uint64_t deadline,
		     const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nl, *bigger;
	ssize_t n;
	int err;

	if (!buf)
		goto nomem;
	for (;;) {
		if (cap - len < 2) {
			if (cap >= CLIENT_REPLY_MAX) {
				fprintf(stderr, "vnetctl: reply from tunvnetd on %s is longer than "
					"%u bytes\n", path, CLIENT_REPLY_MAX);
				goto fail;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger)
				goto nomem;
			buf = bigger;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n > 0) {
			nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
			if (nl) {
				*outlen = (size_t)(nl - buf) + 1;
				*total = len;
				buf[len] = '\0';
				*out = buf;
				return 0;
			}
			continue;
		}
		if (n == 0) {
			fprintf(stderr, "vnetctl: tunvnetd on %s closed the connection %s\n", path,
				len ? "in the middle of its reply" : "without replying");
			goto fail;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			fprintf(stderr, "vnetctl: reading from tunvnetd on %s: %s\n", path,
				strerror(errno));
			goto fail;
		}
		err = wait_fd(fd, POLLIN, deadline);
		if (err == -ETIMEDOUT) {
			fprintf(stderr, "vnetctl: no reply from tunvnetd on %s within %d s\n", path,
				CLIENT_TIMEOUT_MS / 1000);
			goto fail;
		}
		if (err < 0) {
			fprintf(stderr, "vnetctl: poll: %s\n", strerror(-err));
			goto fail;
		}
	}
nomem:
	fprintf(stderr, "vnetctl: out of memory\n");
fail:
	free(buf);
	return -1;
}

int client_call(const struct ctl_opts *o, const struct ctl_request *req, json_t **result)
{
	uint64_t deadline = now_ms() + CLIENT_TIMEOUT_MS;
	char *line, *reply = NULL, *msg = NULL;
	int fd = -1, r = VNETCTL_EXIT_ERROR;
	enum ctl_err e;
	size_t len, total;

	*result = NULL;
	line = ctlmsg_request_encode(req);
	if (!line) {
		fprintf(stderr, "vnetctl: cannot encode the request: %s\n", strerror(errno));
		return VNETCTL_EXIT_ERROR;
	}
	fd = connect_to(o->socket, false);
	if (fd < 0)
		goto out;
	if (send_all(fd, line, strlen(line), deadline, o->socket) < 0)
		goto out;
	if (read_line(fd, &reply, &len, &total, deadline, o->socket) < 0)
		goto out;
	e = ctlmsg_reply_parse(reply, len, result, &msg);
	if (e != CTL_OK) {
		fprintf(stderr, "vnetctl: %s\n", msg && *msg ? msg : ctlmsg_strerror(e));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(reply);
	free(msg);
	return r;
}

int client_request(const char *path, const struct ctl_request *req, json_t **result,
		   char **msg)
{
	uint64_t deadline = now_ms() + CLIENT_TIMEOUT_MS;
	char *line, *reply = NULL;
	size_t len, total;
	int fd, r;

	*result = NULL;
	*msg = NULL;
	line = ctlmsg_request_encode(req);
	if (!line)
		return -ENOMEM;
	fd = connect_to(path, true);
	if (fd < 0) {
		r = -errno;
		if (asprintf(msg, "cannot connect to %s: %s%s", path, strerror(-r),
			     connect_hint(-r, path)) < 0)
			*msg = NULL;
		goto out;
	}
	if (send_all(fd, line, strlen(line), deadline, path) < 0 ||
	    read_line(fd, &reply, &len, &total, deadline, path) < 0) {
		r = -EIO;
		if (asprintf(msg, "no answer from tunvnetd on %s", path) < 0)
			*msg = NULL;
		goto out;
	}
	r = (int)ctlmsg_reply_parse(reply, len, result, msg);
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(reply);
	return r;
}

int client_print_json(const json_t *result)
{
	/* 16 digits: a timestamp keeps its microseconds, and 2.1 does not print as
	 * 2.1000000000000001 */
	if (json_dumpf(result, stdout,
		       JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(16)) < 0 ||
	    fputc('\n', stdout) == EOF) {
		fprintf(stderr, "vnetctl: cannot write the JSON result\n");
		return VNETCTL_EXIT_ERROR;
	}
	return 0;
}

int client_bad_result(const char *fmt, ...)
{
	va_list ap;

	fputs("vnetctl: unexpected reply from tunvnetd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return VNETCTL_EXIT_ERROR;
}

int client_run(int argc, char **argv, const struct ctl_opts *global,
	       const struct client_doc *d, enum ctl_cmd cmd, int (*print)(json_t *result))
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = cmd };
	struct ctl_opts o = *global;
	json_t *res;
	int r;

	r = client_args(argc, argv, &o, d, NULL, NULL, NULL);
	if (r >= 0)
		return r;
	r = client_call(&o, &req, &res);
	if (r)
		return r;
	r = o.json ? client_print_json(res) : print(res);
	json_decref(res);
	return r;
}

/* ---- streaming commands ---- */

int client_stream_open(const char *path, const struct ctl_request *req, const char *label,
		       unsigned flags, json_t **result, struct client_stream *s)
{
	uint64_t deadline = now_ms() + CLIENT_TIMEOUT_MS;
	char *line, *reply = NULL, *msg = NULL;
	int fd = -1, r = VNETCTL_EXIT_ERROR;
	size_t len, total;
	enum ctl_err e;

	*result = NULL;
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->path = path;
	line = ctlmsg_request_encode(req);
	if (!line) {
		fprintf(stderr, "vnetctl: cannot encode the request: %s\n", strerror(errno));
		return VNETCTL_EXIT_ERROR;
	}
	fd = connect_to(path, flags & CLIENT_QUIET_CONNECT);
	if (fd < 0)
		goto out;
	if (send_all(fd, line, strlen(line), deadline, path) < 0)
		goto out;
	if (read_line(fd, &reply, &len, &total, deadline, path) < 0)
		goto out;
	e = ctlmsg_reply_parse(reply, len, result, &msg);
	if (e != CTL_OK) {
		fprintf(stderr, "vnetctl: %s%s%s\n", label ? label : "", label ? ": " : "",
			msg && *msg ? msg : ctlmsg_strerror(e));
		goto out;
	}
	/* the reply's buffer becomes the stream's: what came after the line is kept */
	s->fd = fd;
	s->buf = (uint8_t *)reply;
	s->off = len;
	s->len = total;
	s->cap = total + 1;
	fd = -1;
	reply = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(reply);
	free(msg);
	return r;
}

int client_stream_read(struct client_stream *s, size_t max)
{
	size_t cap;
	uint8_t *bigger;
	ssize_t n;

	if (s->eof || s->fd < 0)
		return 0;
	/* consumed bytes go first, so the buffer only grows for what is still pending */
	if (s->off) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	if (s->cap - s->len < 4096) {
		if (s->len >= max)
			return -ENOBUFS;
		cap = s->cap < 65536 ? 65536 : s->cap * 2;
		bigger = realloc(s->buf, cap);
		if (!bigger)
			return -ENOMEM;
		s->buf = bigger;
		s->cap = cap;
	}
	for (;;) {
		n = recv(s->fd, s->buf + s->len, s->cap - s->len, 0);
		if (n > 0) {
			s->len += (size_t)n;
			return (int)n;
		}
		if (n == 0) {
			s->eof = true;
			return 0;
		}
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

void client_stream_consume(struct client_stream *s, size_t n)
{
	s->off += n <= s->len - s->off ? n : s->len - s->off;
}

void client_stream_close(struct client_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* Counted by the handler, read between polls: the handler runs only inside ppoll (the
 * signals are blocked everywhere else), so a signal can never slip in between the
 * check and the wait. A count, not a flag: a capture stops gracefully on the first
 * Ctrl-C and at once on the second. */
static volatile sig_atomic_t stop_signals;
static sig_atomic_t stop_seen;
static sigset_t poll_mask;

static void on_stop(int sig)
{
	stop_signals++;
}

int client_signals_catch(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t block;

	/* no SA_RESTART: ppoll must return */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &poll_mask) < 0)
		return -errno;
	sigdelset(&poll_mask, SIGINT);
	sigdelset(&poll_mask, SIGTERM);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	/* a reader that goes away (head, tcpdump -c) is an end, not a crash: EPIPE */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	return 0;
}

bool client_stopped(void)
{
	return stop_signals != 0;
}

int client_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	struct timespec ts, *tp = NULL;
	int r;

	if (stop_signals != stop_seen) {
		stop_seen = stop_signals;
		return -EINTR;
	}
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tp = &ts;
	}
	r = ppoll(fds, n, tp, &poll_mask);
	if (r >= 0)
		return r;
	if (errno != EINTR)
		return -errno;
	if (stop_signals != stop_seen) {
		stop_seen = stop_signals;
		return -EINTR;
	}
	return 0;
}

uint64_t client_now_ms(void)
{
	return now_ms();
}
