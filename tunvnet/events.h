/* The event bus and a bounded ring of recent control-plane events with timestamps
 * (vnetctl events): peers up and down, refused handshakes, route changes, suspend /
 * standby / activate / release, and drops by reason (aggregated: at most one event per
 * reason per second, with the count). The oldest events are overwritten.
 *
 * Subscribers (capture, the control socket's followers) register a struct events_sub
 * and get each new event with its JSON text; the bus calls nobody else. With no
 * subscriber, no JSON is made. */
#ifndef TUNVNET_EVENTS_H
#define TUNVNET_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tunvnet/msg.h"
#include "tunvnet/stats.h"
#include "tunvnet/vip.h"

struct loop;
struct events;

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
	EVENT_JOB_BROKEN,     /* the kernel and the daemon disagree and it cannot be mended */
	EVENT_JOB_REPAIR,     /* an address or route removed by hand was put back */
	EVENT_DROP,           /* reason, count */
	EVENT_LIMIT,          /* limit, count: a [limits] bound refused or evicted these */
	EVENT_SUBSTRATE_SWITCH, /* a peer's DATA moved: from, to, why */
	EVENT_TYPE_MAX
};

/* One event as the ring keeps it (fixed size: adding one allocates nothing, so the data
 * path may add drops). Fields a type does not use are "" / 0. */
struct event {
	double ts;                 /* realtime, seconds */
	enum event_type type;
	char node[NODE_NAME_MAX + 1];
	char detail[96];
	char vip[VIP_STRLEN];
	char old_node[NODE_NAME_MAX + 1], new_node[NODE_NAME_MAX + 1];
	uint64_t old_epoch, new_epoch;
	bool withdrawn;
	enum drop_reason reason;
	enum limit_reason limit;
	uint64_t count;
};

/* A subscriber, owned by whoever subscribes (the bus allocates nothing for it). event()
 * gets the record and its JSON object as compact text (no newline); it may unsubscribe
 * itself, but no other subscriber. */
struct events_sub {
	struct events_sub *next;
	void (*event)(const struct event *e, const char *json, void *arg);
	void *arg;
};

#define EVENTS_MAX 1024 /* events the ring keeps */

/* A new bus on loop (its timer flushes aggregated drops). 0 or -ENOMEM. */
int  events_new(struct loop *loop, struct events **out);
/* Unsubscribes everyone and frees the bus. NULL is ignored. */
void events_free(struct events *ev);
/* The hook to register with stats_set_events(): each drop aggregates here. */
void events_stats_hook(struct events *ev, struct stats_events *out);

void events_subscribe(struct events *ev, struct events_sub *s);
void events_unsubscribe(struct events *ev, struct events_sub *s);
size_t events_subscribers(const struct events *ev);

/* node: the peer's name or "" ; detail: free text ("" if none). */
void events_peer(struct events *ev, enum event_type t, const char *node, const char *detail);
/* A route changed: old_node "" when there was none. */
void events_route(struct events *ev, const char *vip, const char *old_node,
		  uint64_t old_epoch, const char *new_node, uint64_t new_epoch, int withdrawn);
/* A job event about one VIP. */
void events_job(struct events *ev, enum event_type t, const char *vip, const char *detail);
/* Called with each drop; cheap: aggregates per reason per second. */
void events_drop(struct events *ev, enum drop_reason r);
/* n refusals because a [limits] bound was reached, aggregated like drops. */
void events_limit(struct events *ev, enum limit_reason r, uint64_t n);

/* The ring as a JSON array, oldest first, pending drop counts included. */
json_t *events_list_json(struct events *ev);
size_t events_count(const struct events *ev);
const char *events_type_name(enum event_type t);     /* "peer_up", ... */
/* One event as a JSON object (a new reference, NULL when out of memory). */
json_t *events_to_json(const struct event *e);

#endif
