/* The control socket: a root-only Unix stream socket, one JSON request line in and one
 * JSON reply line out (tunvnet/ctlmsg.h). Clients are served without blocking the
 * daemon: a client that sends garbage gets an error reply, one that stops reading is
 * dropped once its unread replies pass a limit. */
#ifndef TUNVNET_CONTROL_H
#define TUNVNET_CONTROL_H

struct daemon;

#include <stdint.h>

/* Binds the socket (refusing to steal one a live daemon is using). 0 or -errno. */
int  control_start(struct daemon *d);
void control_stop(struct daemon *d);

/* Sends the reply of a request whose handler deferred it (command_run returned NULL),
 * to the client with this id, and resumes reading that client's requests. Takes line
 * (malloc'd); a client that is gone by then is no error. */
void control_reply(struct daemon *d, uint64_t client_id, char *line);

#endif
