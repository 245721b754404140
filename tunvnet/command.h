/* What the daemon does for each control request: the handlers behind control.c. */
#ifndef TUNVNET_COMMAND_H
#define TUNVNET_COMMAND_H

#include <stddef.h>

struct daemon;

/* Runs one request line and returns the reply line (malloc'd, '\n' included), or NULL
 * when out of memory. */
char *command_run(struct daemon *d, const char *line, size_t len);

#endif
