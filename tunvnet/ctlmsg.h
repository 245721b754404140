/* The control protocol between vnetctl (or any client) and tunvnetd: one JSON object per
 * line each way over a root-only Unix stream socket. Encoders and decoders of both sides
 * live here, compiled into both programs.
 *
 * Request:  {"version": 1, "cmd": "attach", "netns": "job1", "vip": "198.19.1.10"}
 *           optional members by command: "netns" (string), "vip" (string),
 *           "family" (4 or 6: which pool an attach without "vip" draws from),
 *           "standby" (bool, attach only), "to" (node name, migrate only),
 *           capture: "scope" ("vip"|"peer"|"all"), "vip" or "peer" (node name),
 *           "cluster" (bool), "filter" (string, tcpdump syntax), "count" (integer >= 0,
 *           0: unlimited), "duration_ms" (integer >= 0, 0: unlimited), "snaplen" (int);
 *           events: "follow" (bool); routes: "stream" (bool).
 * Reply:    {"version": 1, "ok": true, "result": ...}
 *           {"version": 1, "ok": false, "error": "VIP_IN_USE",
 *            "message": "198.19.1.10 is already hosted by n1"}
 *
 * Results (the daemon's side; vnetctl prints them as tables or passes them through):
 *   status: {"node","listen","uptime_s","peers_up","peers_known","jobs","routes","pool4","pool6","mtu"}
 *   peers:  [{"node","address","state","substrate","since_s","rtt_ms","tx_frames","rx_frames","drops"}]
 *   routes: [{"vip","node","epoch","local"}] (refused with TOO_LONG beyond
 *           ROUTES_REPLY_MAX entries); with "stream": {"streaming": true, "routes": n}, then
 *           lines each a JSON array of such objects, then {"end": true, "count": n}
 *   jobs:   [{"netns","ifname","vips":[...],"rx_packets","tx_packets","rx_bytes","tx_bytes"}]
 *   attach: {"vip","netns","ifname","epoch"}
 *   detach: {"vip","tun_removed"}
 *   stats:  {"node","counters":{name: n},"drops":{reason: n}}
 *   attach --standby: {"vip","netns","ifname","epoch": 0,"standby": true}
 *   suspend: {"vip","netns"}            resume: {"vip","released": n packets written}
 *   activate: {"vip","epoch","previous_node","converged_ms"} (after every peer up has
 *           confirmed the route; an error if another node won the VIP)
 *   migrate: {"vip","from","to","epoch","ms"}
 *   jobs entries also carry "state": "active" | "suspended" | "standby"
 *   substrate: {"peer" (absent for the daemon's), "policy", "in_use"}
 * Streaming commands (capture, events with follow) answer with one reply line and then
 * keep the connection for their stream, as capture.h / events.h describe.
 */
#ifndef TUNVNET_CTLMSG_H
#define TUNVNET_CTLMSG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tunvnet/vip.h"

#define CTL_VERSION  1
#define CTL_LINE_MAX 65536 /* longest request line accepted, newline included */
/* A capture's snaplen: 0 (the default) or in this range; the top is libpcap's limit. */
#define CTL_SNAPLEN_MIN 64
#define CTL_SNAPLEN_MAX 262144

enum ctl_cmd {
	CTL_CMD_STATUS,
	CTL_CMD_PEERS,
	CTL_CMD_ROUTES,
	CTL_CMD_JOBS,
	CTL_CMD_ATTACH,
	CTL_CMD_DETACH,
	CTL_CMD_STATS,
	CTL_CMD_SUSPEND,   /* vip */
	CTL_CMD_RESUME,    /* vip */
	CTL_CMD_ACTIVATE,  /* vip */
	CTL_CMD_MIGRATE,   /* vip, to */
	CTL_CMD_CAPTURE,   /* scope, vip | peer, cluster, filter, count, duration_ms, snaplen */
	CTL_CMD_EVENTS,    /* follow */
	CTL_CMD_SUBSTRATE, /* policy, peer (absent: the daemon's policy) */
	CTL_CMD_MAX
};

/* Result codes: one table, one strerror. The wire carries the name ("VIP_IN_USE"). */
enum ctl_err {
	CTL_OK = 0,
	CTL_ERR_BAD_JSON,       /* the line is not a JSON object */
	CTL_ERR_BAD_REQUEST,    /* a member is missing or has the wrong type */
	CTL_ERR_VERSION,        /* unsupported protocol version */
	CTL_ERR_UNKNOWN_CMD,
	CTL_ERR_TOO_LONG,       /* request line longer than CTL_LINE_MAX */
	CTL_ERR_BAD_VIP,        /* not an IPv4 / IPv6 host address */
	CTL_ERR_NOT_IN_POOL,    /* outside this node's VIP pool */
	CTL_ERR_VIP_IN_USE,     /* hosted already (the message names the node) */
	CTL_ERR_NO_SUCH_VIP,    /* not hosted on this node */
	CTL_ERR_NO_SUCH_NETNS,
	CTL_ERR_POOL_EXHAUSTED,
	CTL_ERR_SYSTEM,         /* a system call failed; the message says which */
	CTL_ERR_BAD_STATE,      /* e.g. resume of a job that is not suspended */
	CTL_ERR_NO_SUCH_PEER,   /* migrate --to / capture --peer of an unknown or down node */
	CTL_ERR_CONFLICT,       /* another node won the VIP (simultaneous activation) */
	CTL_ERR_TIMEOUT,        /* the operation did not complete in time */
	CTL_ERR_BAD_FILTER,     /* libpcap refused the filter expression (its message) */
	CTL_ERR_MAX
};

struct ctl_request {
	int version;
	enum ctl_cmd cmd;
	char netns[PATH_MAX]; /* "" when absent */
	bool has_vip;
	struct vip vip;
	int family;           /* 0 (absent), 4 or 6 */
	bool standby;         /* attach --standby */
	char to[32];          /* migrate: target node name */
	/* capture */
	enum { CTL_SCOPE_ALL, CTL_SCOPE_VIP, CTL_SCOPE_PEER } scope;
	char peer[32];        /* capture scope peer: node name */
	bool cluster;         /* capture across the cluster, following the VIP */
	char filter[1024];    /* tcpdump expression, "" for all */
	long count;           /* packets, 0: unlimited */
	long duration_ms;     /* 0: unlimited */
	int snaplen;          /* 0: default (65535 + room for a super-packet) */
	/* events */
	bool follow;
	/* routes */
	bool stream;
	/* substrate: "auto", "tcp", "udp", "verbs", or "default" with a peer (back to the
	 * config's) */
	char policy[16];
};

const char *ctlmsg_cmd_name(enum ctl_cmd c);          /* "attach" */
int ctlmsg_cmd_lookup(const char *name);               /* enum ctl_cmd or -1 */
const char *ctlmsg_err_name(enum ctl_err e);           /* "VIP_IN_USE" */
enum ctl_err ctlmsg_err_lookup(const char *name);      /* unknown names: CTL_ERR_MAX */
const char *ctlmsg_strerror(enum ctl_err e);           /* "VIP is already hosted" */

/* Parses one request line (without or with its trailing newline). On error returns the
 * code and writes a message naming the bad value into why. Checks, per command, that the
 * members it needs are there (attach: netns; detach: vip) and of the right type. */
enum ctl_err ctlmsg_request_parse(const char *line, size_t len, struct ctl_request *req,
				  char *why, size_t whylen);
/* The same checks on a JSON value already decoded. The wire parser's decoder refuses
 * "\u0000"; a value made otherwise (json_stringn) may hold a NUL, which this refuses. */
enum ctl_err ctlmsg_request_from_json(json_t *o, struct ctl_request *req, char *why,
				      size_t whylen);
/* The request as one line, '\n' included; malloc'd, NULL on ENOMEM. */
char *ctlmsg_request_encode(const struct ctl_request *req);

/* Reply lines, '\n' included, malloc'd. reply_ok steals result (may be NULL: null). */
char *ctlmsg_reply_ok(json_t *result);
char *ctlmsg_reply_err(enum ctl_err e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a reply line. On "ok": returns CTL_OK and *result (a new reference the caller
 * must json_decref). Otherwise returns the error code and *message (malloc'd). A reply
 * that is not valid returns CTL_ERR_BAD_JSON with a message saying so. */
enum ctl_err ctlmsg_reply_parse(const char *line, size_t len, json_t **result,
				char **message);

#endif
