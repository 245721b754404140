/* The control socket: a root-only Unix stream socket, one JSON request line in and one
 * JSON reply line out (tunvnet/ctlmsg.h). Clients are served without blocking the
 * daemon: a client that sends garbage gets an error reply, one that stops reading is
 * dropped once its unread replies pass a limit. */
#ifndef TUNVNET_CONTROL_H
#define TUNVNET_CONTROL_H

struct daemon;

/* Binds the socket (refusing to steal one a live daemon is using). 0 or -errno. */
int  control_start(struct daemon *d);
void control_stop(struct daemon *d);

#endif
