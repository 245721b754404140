/* What the daemon does for each control request: one {name, handler} table and the
 * handlers behind it. The control socket (control.c) is only the transport: node.c
 * registers command_run() as its request handler. Also here, above every module it
 * reads: the JSON of the stats (shared with /metrics) and the events followers. */
#ifndef TUNVNET_COMMAND_H
#define TUNVNET_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct daemon;

/* d->command. 0 or -ENOMEM. command_fini after control_stop (followers end with their
 * streams). */
int  command_init(struct daemon *d);
void command_fini(struct daemon *d);

/* Runs one request line from client_id and returns the reply line (malloc'd, '\n'
 * included). *deferred is set (and NULL returned) when the handler answers later, by
 * client id (move_events.reply); the client's further requests wait until then. */
char *command_run(struct daemon *d, uint64_t client_id, const char *line, size_t len,
		  bool *deferred);

/* The stats command's result, also what /metrics exports: {"node",
 * "counters": {name: n}, "drops": {reason: n}, "jobs": {netns: {...}}, "peers":
 * {node: {...}}, "substrates": {name: {...}}} (per object: packets, bytes, drops by
 * reason). A new reference, NULL when out of memory. */
json_t *command_stats_json(struct daemon *d);

#endif
