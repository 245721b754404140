/* A bounded ring of recent control-plane events with timestamps (vnetctl events): peers
 * up and down, refused handshakes, route changes, suspend / standby / activate / release,
 * and drops by reason (aggregated: at most one event per reason per second, with the
 * count). The oldest events are overwritten. Followers (events -f) get each new event as
 * it is added. */
#ifndef TUNVNET_EVENTS_H
#define TUNVNET_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tunvnet/stats.h"

struct daemon;

enum event_type {
	EVENT_PEER_UP,
	EVENT_PEER_DOWN,
	EVENT_HANDSHAKE_REFUSED,
	EVENT_ROUTE_CHANGE,   /* vip, old node/epoch -> new node/epoch */
	EVENT_JOB_ATTACH,
	EVENT_JOB_DETACH,
	EVENT_JOB_SUSPEND,
	EVENT_JOB_RESUME,
	EVENT_JOB_STANDBY,
	EVENT_JOB_ACTIVATE,
	EVENT_JOB_RELEASE,    /* the VIP moved away: held packets handed over */
	EVENT_DROP,           /* reason, count */
	EVENT_TYPE_MAX
};

/* node: the peer's name or "" ; detail: free text ("" if none). */
void events_peer(enum event_type t, const char *node, const char *detail);
/* A route changed: old_node "" when there was none. */
void events_route(const char *vip, const char *old_node, uint64_t old_epoch,
		  const char *new_node, uint64_t new_epoch, int withdrawn);
/* A job event about one VIP. */
void events_job(enum event_type t, const char *vip, const char *detail);
/* Called with each drop; cheap: aggregates per reason per second. */
void events_drop(enum drop_reason r);

#define EVENTS_MAX 1024 /* events the ring keeps */

struct ctl_request;

/* Binds the drop aggregation's timer to d's loop (control_start); events_stop undoes it.
 * Before, drops still aggregate, and come out with the next drop or listing. */
void events_start(struct daemon *d);
void events_stop(struct daemon *d);
/* The events command (control client client_id): without follow, the reply lists the
 * ring, oldest first; with follow, the client's connection then carries one JSON object
 * per line per new event, and a follower that falls 1 MiB behind is cut off. */
char *events_command(struct daemon *d, uint64_t client_id, const struct ctl_request *rq);
/* The ring as a JSON array, oldest first, pending drop counts included. */
json_t *events_list_json(void);
size_t events_count(void);
const char *events_type_name(enum event_type t);     /* "peer_up", ... */

#endif
