/* The daemon's counters in the Prometheus text exposition format (version 0.0.4), from
 * the result of the stats command: what `vnetctl stats --prometheus` prints and what the
 * daemon can serve over HTTP, the same text from the same code. */
#ifndef TUNVNET_PROM_H
#define TUNVNET_PROM_H

#include <jansson.h>

/* The content type to serve the text with. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Formats stats, an object {"node": name, "counters": {name: n}, "drops": {reason: n}}
 * with optional "jobs", "peers" and "substrates" objects ({name: {member: n}}), as
 * metric families with HELP and TYPE lines:
 *
 *   tunvnet_<counter>_total{node="n1"}                      counters
 *   tunvnet_drops_total{node="n1",reason="no_route"}        drops
 *   tunvnet_job_<member>_total{node="n1",job="job1"}        jobs (peer=, substrate=)
 *
 * Members of jobs, peers and substrates are counters, except real numbers, booleans
 * (0 or 1), names ending in _ms, _s or _seconds and the names up, peers_up,
 * held_packets and queued, which are gauges (an RTT, a state, a queue's length now); a
 * member that is an object of numbers ("drops": {reason: n}) is a counter family with
 * one more label (reason= for drops, key= otherwise); strings and arrays are left out.
 * Names are reduced to [a-zA-Z0-9_]; label values are escaped. Returns the text
 * (malloc'd, ends in '\n'; "" when there is nothing to say), or NULL with errno EINVAL
 * when stats is not such an object, ENOMEM when memory ran out. */
char *prom_format(const json_t *stats);

#endif
