/* What the daemon does for each control request: the handlers behind control.c. */
#ifndef TUNVNET_COMMAND_H
#define TUNVNET_COMMAND_H

#include <stddef.h>

struct daemon;

#include <stdbool.h>
#include <stdint.h>

/* Runs one request line from client_id and returns the reply line (malloc'd, '\n'
 * included). *deferred is set (and NULL returned) when the handler answers later with
 * control_reply(); the client's further requests wait until then. */
char *command_run(struct daemon *d, uint64_t client_id, const char *line, size_t len,
		  bool *deferred);

#endif
