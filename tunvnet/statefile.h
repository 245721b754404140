/* The state file's format: what a daemon must not forget across a restart (state.h), as
 * JSON (jansson), parsed into plain structs and printed back. Pure: no file, no daemon,
 * so that unit tests and the fuzzer (tests/fuzz/fuzz_state.c) drive it directly.
 *
 *   { "version": 1, "node": "n1",
 *     "jobs": [ { "netns": "tv-j1", "nsid": [DEV, INO], "state": "active",
 *                 "handing_over": false, "vips": ["198.19.1.10", "fd00:19:1::a"] } ],
 *     "routes": [ { "vip": "198.19.1.10", "epoch": 3, "withdrawn": false } ],
 *     "peers": [ { "name": "n2", "addr": "198.18.0.2:7000" } ] }
 *
 * jobs: the jobs attached here (namespace as the user named it, the namespace's identity
 * when it was attached, state, whether a migrate was handing its TUN over, VIPs). routes:
 * this node's own route entries, tombstones included, so that a restarted node announces
 * each VIP with the epoch it had and never goes backwards. peers: the nodes that were up
 * with the address they proved, dialled again at start (as hints: their certificates
 * decide) so that a node without seeds finds its peers at once. The TUN is always TUN_IFNAME
 * in the job's namespace. Anything malformed, out of range or beyond the bounds below
 * makes the whole file invalid (it is set aside, never half-applied). */
#ifndef TUNVNET_STATEFILE_H
#define TUNVNET_STATEFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunvnet/job.h"
#include "tunvnet/msg.h"
#include "tunvnet/vip.h"

#define STATEFILE_VERSION    1
#define STATEFILE_MAX_JOBS   65536
#define STATEFILE_MAX_ROUTES (1u << 20)
#define STATEFILE_MAX_PEERS  1024 /* PEER_KNOWN_MAX */
#define STATEFILE_MAX_BYTES  (256u << 20) /* a file larger than this is not read */

struct statefile_job {
	char netns[PATH_MAX];
	uint64_t ns_dev, ns_ino;
	enum job_state state;
	bool handing_over;
	struct vip vips[JOB_MAX_VIPS];
	int nvips;
};

struct statefile_route {
	struct vip vip;
	uint64_t epoch;    /* 1 .. 2^63-1 */
	bool withdrawn;
};

struct statefile_peer {
	char name[NODE_NAME_MAX + 1];
	struct sockaddr_storage addr;
};

struct statefile {
	char node[NODE_NAME_MAX + 1];
	struct statefile_job *jobs;
	size_t njobs;
	struct statefile_route *routes;
	size_t nroutes;
	struct statefile_peer *peers;
	size_t npeers;
};

/* Parses len bytes. 0 with *sf filled (free with statefile_free), or -EINVAL with a
 * reason in why (malformed JSON, a missing or wrong member, a bound passed), -ENOMEM. */
int  statefile_parse(const char *buf, size_t len, struct statefile *sf, char *why,
		     size_t whylen);
/* The JSON text of sf, NUL-terminated, malloc'd; NULL when out of memory. */
char *statefile_format(const struct statefile *sf);
void statefile_free(struct statefile *sf);

#endif
