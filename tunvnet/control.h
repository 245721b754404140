/* The control socket: a root-only Unix stream socket, one JSON request line in and one
 * JSON reply line out (tunvnet/ctlmsg.h). Clients are served without blocking the
 * daemon: a client that sends garbage gets an error reply, one that stops reading is
 * dropped once its unread replies pass a limit.
 *
 * A transport only: it knows no command. Each request line goes up to the handler
 * registered in struct control_events (command.c), with the id of its client; a reply
 * given later finds its client by that id (control_reply). */
#ifndef TUNVNET_CONTROL_H
#define TUNVNET_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct loop;
struct control;
struct stats;

struct control_events {
	/* One request line (without its newline) from client_id. Returns the reply line
	 * (malloc'd, '\n' included), or NULL with *deferred set when the reply comes later
	 * through control_reply(); the client's further requests wait until then. */
	char *(*request)(uint64_t client_id, const char *line, size_t len, bool *deferred,
			 void *arg);
	void *arg;
};

/* Binds the socket at path (refusing to steal one a live daemon is using) and serves it
 * on loop. *ev is copied. 0 or -errno (logged). */
int  control_start(struct loop *loop, const char *path, const struct control_events *ev,
		   struct control **out);
/* At most max_clients clients at once (default 64): a new one beyond closes the client
 * idle the longest, or is refused when none is idle; a client idle (no request being
 * served, nothing going out, no stream) for idle_s seconds (default 60) is closed. Each
 * is counted in st (LIMIT_CONTROL_*; st may be NULL). */
void control_set_limits(struct control *ctl, int max_clients, int idle_s, struct stats *st);
/* Closes every client (streams get CONTROL_STREAM_CLOSING), the socket, and frees ctl.
 * NULL is ignored. */
void control_stop(struct control *ctl);

/* Sends the reply of a request whose handler deferred it, to the client with this id,
 * and resumes reading that client's requests. Takes line (malloc'd); a client that is
 * gone by then (or ctl NULL) is no error. */
void control_reply(struct control *ctl, uint64_t client_id, char *line);

/* Streams (capture, events -f): a command handler takes its client's connection over.
 * The reply line the handler returns goes out first; then the connection carries what
 * the owner writes, through a ring of `limit` bytes flushed without blocking from the
 * event loop (before each sleep, then on EPOLLOUT). A write that does not fit fails
 * whole: the owner counts it (capture) or gives up (events); the daemon never waits for
 * a slow client. Input after the request is read and thrown away. */
struct control_stream;

enum control_stream_event {
	/* The client shut its sending side (or closed): the owner writes its last words
	 * and calls control_stream_end(), now or later. */
	CONTROL_STREAM_EOF,
	/* The stream is freed when the callback returns: the connection died, or the
	 * daemon stops (then what the callback writes is still flushed, as far as that goes
	 * without blocking). The owner must forget the stream. */
	CONTROL_STREAM_CLOSING,
};

typedef void (*control_stream_cb)(struct control_stream *s, enum control_stream_event ev,
				  void *arg);

/* Called by the handler of client_id's request, before it returns its reply. NULL with
 * errno set: no such client, or no memory for the ring. */
struct control_stream *control_stream_take(struct control *ctl, uint64_t client_id,
					   size_t limit, control_stream_cb cb, void *arg);
/* Appends all of iov or nothing: 0, or -ENOBUFS when it does not fit. */
int control_stream_writev(struct control_stream *s, const struct iovec *iov, int iovcnt);
/* Free bytes in the ring. */
size_t control_stream_room(const struct control_stream *s);
/* The owner lets go: what is buffered is still written, then the connection closes.
 * No callback follows; s must not be used again. */
void control_stream_end(struct control_stream *s);
/* As end, but what is still buffered is thrown away (a follower that fell behind). */
void control_stream_abort(struct control_stream *s);

#endif
