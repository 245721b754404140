/* vnetctl, the command-line client of tunvnetd's control socket.
 *
 * ctl/vnetctl.c holds main() and the dispatch table; each command lives in its own file
 * (status.c, peers.c, routes.c, jobs.c, attach.c with detach, move.c with suspend, resume,
 * activate and migrate, stats.c, events.c, capture.c, gc.c) and follows the same steps: parse
 * its arguments with client_args(), check them, send one request with client_call(), then
 * print the result as a table (table.c) or as JSON. The streaming commands (events -f,
 * capture) keep the connection after the reply with client_stream_open(). Everything here
 * except main() is in libtunvnet.a. */
#ifndef CTL_VNETCTL_H
#define CTL_VNETCTL_H

#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "tunvnet/ctlmsg.h"

/* Exit statuses: 0 success, 1 an error reply or no daemon, 2 a usage error. */
#define VNETCTL_EXIT_ERROR 1
#define VNETCTL_EXIT_USAGE 2

/* Options every command takes, before or after its name. */
struct ctl_opts {
	const char *socket; /* the control socket's path */
	bool json;          /* print the result as JSON instead of a table */
};

/* Command entry points. argv[0] is the command's name, the rest its arguments; the
 * return value is vnetctl's exit status. */
int cmd_status(int argc, char **argv, const struct ctl_opts *o);
int cmd_peers(int argc, char **argv, const struct ctl_opts *o);
int cmd_routes(int argc, char **argv, const struct ctl_opts *o);
int cmd_jobs(int argc, char **argv, const struct ctl_opts *o);
int cmd_attach(int argc, char **argv, const struct ctl_opts *o);
int cmd_detach(int argc, char **argv, const struct ctl_opts *o);
int cmd_stats(int argc, char **argv, const struct ctl_opts *o);
int cmd_suspend(int argc, char **argv, const struct ctl_opts *o);
int cmd_resume(int argc, char **argv, const struct ctl_opts *o);
int cmd_activate(int argc, char **argv, const struct ctl_opts *o);
int cmd_migrate(int argc, char **argv, const struct ctl_opts *o);
int cmd_events(int argc, char **argv, const struct ctl_opts *o);
int cmd_capture(int argc, char **argv, const struct ctl_opts *o);
int cmd_gc(int argc, char **argv, const struct ctl_opts *o);
int cmd_substrate(int argc, char **argv, const struct ctl_opts *o);

/* ---- ctl/client.c: arguments, help, the request and its reply ---- */

#define CLIENT_TIMEOUT_MS 10000        /* connect, send and the whole reply */
#define CLIENT_REPLY_MAX  (64u << 20)  /* a reply line longer than this is refused */

/* What `vnetctl COMMAND --help` prints, man-page style. Every field but options may not
 * be NULL; each multi-line text is indented by two spaces where it is printed. */
struct client_doc {
	const char *name;     /* "attach" */
	const char *synopsis; /* "attach --netns NAME|PATH [--vip IP | --family 4|6]" */
	const char *summary;  /* what it does, a paragraph or more */
	const char *options;  /* the command's own options, "--vip IP  ..." lines; or NULL */
	const char *exit_ok;  /* what exit status 0 means for it */
	const char *example;  /* a command line and its output */
	const char *exit_err; /* what exit status 1 means, when it is not the usual; or NULL */
	bool positional;      /* takes positional arguments (see client_args) */
};

/* Parses a command's arguments: its own options (extra, terminated by a zeroed entry;
 * `val` is the short option letter, or 256 and up for a long-only option) handed to
 * on_opt, and the common -s/--socket, -j/--json and -h/--help, updating o. on_opt
 * returns -1 to go on or an exit status to stop with. Positional arguments are refused,
 * unless d->positional: then on_opt gets each of them, in order, as c == 1 (options and
 * positional arguments may mix; those after "--" are all positional). Returns -1 when
 * the command should run, otherwise the exit status (0 after --help, 2 after a usage
 * error, which is printed with the synopsis). */
int client_args(int argc, char **argv, struct ctl_opts *o, const struct client_doc *d,
		const struct option *extra, int (*on_opt)(int c, const char *arg, void *ctx),
		void *ctx);

/* "vnetctl: <message>" and the command's synopsis to stderr; returns 2. */
int client_usage(const struct client_doc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The full help to out; returns 0. */
int client_help(const struct client_doc *d, FILE *out);

/* Sends req to the daemon at o->socket and waits for its reply (CLIENT_TIMEOUT_MS).
 * Returns 0 with *result (a reference the caller must json_decref), or prints why not
 * ("vnetctl: ...") and returns 1: the daemon cannot be reached, did not answer, or
 * answered with an error. */
int client_call(const struct ctl_opts *o, const struct ctl_request *req, json_t **result);

/* client_call for programs that report errors their own way (vnetctl gc, tunvnet-cni):
 * prints nothing (but for a failure in the middle of an exchange). Returns 0 with
 * *result (json_decref it); a positive enum ctl_err, the daemon's refusal, with its
 * message in *msg; or -errno when the daemon could not be reached or did not answer,
 * with a message saying so in *msg. *msg is malloc'd or NULL; free it. */
int client_request(const char *path, const struct ctl_request *req, json_t **result,
		   char **msg);

/* All of a command that takes no options of its own: client_args, client_call, then
 * the result as JSON or through print (which returns the exit status). */
int client_run(int argc, char **argv, const struct ctl_opts *global,
	       const struct client_doc *d, enum ctl_cmd cmd, int (*print)(json_t *result));

/* The result as indented JSON and a newline on stdout; returns 0 (1 if it cannot). */
int client_print_json(const json_t *result);

/* "vnetctl: unexpected reply from tunvnetd: <what>" on stderr; returns 1. */
int client_bad_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- ctl/client.c: streaming commands (events -f, capture) ---- */

/* The connection of a streaming command, kept after the daemon's reply line. No
 * timeout applies to it: a capture or a follower may wait for hours. */
struct client_stream {
	int fd;           /* non-blocking; -1 when closed */
	const char *path; /* the socket, for messages */
	uint8_t *buf;     /* received, not consumed yet: buf[off .. len) */
	size_t off, len, cap;
	bool eof;         /* the daemon closed its side */
};

#define CLIENT_QUIET_CONNECT 1u /* say nothing when no daemon listens on the socket */

/* Sends req to the daemon at path and reads its reply line as client_call does (with its
 * timeout); on an ok reply keeps the connection in s (bytes that came after the line
 * included) and returns 0 with *result (the caller must json_decref it). Otherwise
 * prints why ("vnetctl: LABEL: message" when label is not NULL) and returns 1. */
int client_stream_open(const char *path, const struct ctl_request *req, const char *label,
		       unsigned flags, json_t **result, struct client_stream *s);
/* Reads what the socket holds now into s's buffer, growing it up to max pending bytes:
 * returns the bytes added, 0 at the end of the stream (s->eof is set), -EAGAIN when
 * nothing is there, -ENOBUFS when max bytes are pending, or -errno. */
int client_stream_read(struct client_stream *s, size_t max);
/* Drops n bytes from the front of the pending ones. */
void client_stream_consume(struct client_stream *s, size_t n);
void client_stream_close(struct client_stream *s);

/* SIGINT and SIGTERM end a stream, not vnetctl: after client_signals_catch() they are
 * blocked except inside client_poll(), which returns -EINTR once for each that came
 * (client_stopped() then says so for good). SIGPIPE is ignored, so a reader that goes
 * away is EPIPE. */
int client_signals_catch(void);
/* poll() with timeout_ms (-1: none); 0 also when another signal interrupted it. */
int client_poll(struct pollfd *fds, nfds_t n, int timeout_ms);
bool client_stopped(void);
uint64_t client_now_ms(void); /* CLOCK_MONOTONIC */

/* ---- ctl/events.c ---- */

/* The DETAILS text of an event object (what `vnetctl events` prints after the time and
 * the type): "198.19.1.10: n1 epoch 2 -> n2 epoch 3". Malloc'd, NULL on ENOMEM. The
 * text is the daemon's: clean it (table_safe) before it reaches a terminal. */
char *events_describe(const json_t *ev);

/* ---- ctl/pcapfile.c: capture files, as tcpdump and wireshark read them ---- */

struct pcap_dumper;

/* A classic pcap file (microsecond timestamps, written by libpcap) or a pcapng file with
 * one interface. */
struct pcapfile {
	FILE *f;
	struct pcap_dumper *dump; /* classic: libpcap's writer, over f */
	bool ng;
	bool live;         /* f is a pipe or a terminal: each packet is flushed */
	uint32_t snaplen;  /* longer packets are cut to this, their real length kept */
	uint64_t packets;  /* written so far */
};

/* Writes the file header(s) to f and flushes them, so a live reader can start. linktype:
 * a LINKTYPE_ value (101: raw IP; classic files take 101 and those from 104 up). Returns
 * 0 or -errno (-EIO when the write failed, -EINVAL for a link type libpcap cannot
 * write). Packets go through f's buffer, flushed after each one when f is not a
 * regular file (a live reader). */
int pcapfile_start(struct pcapfile *p, FILE *f, bool ng, uint32_t snaplen, uint16_t linktype);
/* One packet: data holds its first caplen bytes, orig_len is its real length. comment
 * (pcapng only; NULL for none) is stored with it. 0 or -errno. */
int pcapfile_write(struct pcapfile *p, uint64_t ts_usec, const uint8_t *data, size_t caplen,
		   uint32_t orig_len, const char *comment);
/* Flushes; 0 or -errno. Does not close f. */
int pcapfile_finish(struct pcapfile *p);

/* ---- ctl/table.c: aligned text for humans ---- */

/* A table of text cells, printed with every column as wide as its widest cell and two
 * blanks between columns. Cells are copied; control characters in them print as '?',
 * so a daemon-supplied name cannot drive the terminal. */
struct table {
	int ncols;
	int ncells;         /* cells so far, header row included */
	int cap;
	char **cells;       /* row-major */
	uint32_t right;     /* bit i: column i is right-aligned (numbers) */
	bool header;        /* the first row is a header */
	int err;            /* the first failure (-ENOMEM) of an add; later adds do nothing */
};

/* headers: ncols names (ncols <= 32), or NULL for a table without header row. right has
 * a bit per right-aligned column. Returns t->err: the table must be freed (table_free or
 * table_output) even when this fails. */
int  table_init(struct table *t, int ncols, const char *const *headers, uint32_t right);
/* Appends the next cell, left to right, top to bottom. 0 or -ENOMEM, also kept in t->err:
 * callers add a whole table, then check t->err once. */
int  table_add(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A row of its own, printed as it is and left out of the column widths (a section
 * heading). Only between complete rows: -EINVAL otherwise. */
int  table_add_span(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A cell from a JSON value: string as is, numbers in decimal, booleans yes/no,
 * absent, null or "" as "-". */
int  table_add_json(struct table *t, const json_t *v);
/* A cell from seconds, "45s", "12m05s", "3h02m", "4d03h" ("-" unless an integer). */
int  table_add_duration(struct table *t, const json_t *v);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);
/* The end of every command's table: prints t to stdout (or "vnetctl: out of memory" to
 * stderr if an add failed) and frees it. Returns the exit status, 0 or 1. */
int  table_output(struct table *t);

/* One column of a list result (an array of objects): its header, the member each row
 * object holds it in, and how to show it. */
enum table_fmt {
	TABLE_JSON,     /* as table_add_json */
	TABLE_DURATION, /* seconds, as table_add_duration */
	TABLE_MS,       /* milliseconds, "0.42ms"; "-" if negative (not measured) */
	TABLE_LIST,     /* an array, its items joined by ',' */
};

struct table_col {
	const char *header;
	const char *key;
	enum table_fmt fmt;
	bool right;
};

/* Prints rows, an array of objects, as a table with one line per object; what names the
 * list in the message when rows is not such an array. Returns the exit status. */
int  table_rows(const json_t *rows, const struct table_col *cols, int ncols, const char *what);

/* Writes a duration of s seconds as table_add_duration does. */
const char *table_duration(uint64_t s, char *buf, size_t size);
/* s, or "-" for NULL, with control characters replaced by '?', for text outside tables. */
const char *table_safe(const char *s, char *buf, size_t size);

#endif
