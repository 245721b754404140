/* Jobs: one per network namespace, holding one TUN and the VIPs on it. The daemon owns
 * the TUN fd; the packets the job's kernel writes into it go to forward.c. */
#ifndef TUNVNET_JOB_H
#define TUNVNET_JOB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tunvnet/netns.h"
#include "tunvnet/vip.h"

#define JOB_MAX_VIPS 8

struct daemon;
struct loop_io;

struct job {
	struct job *next;
	struct daemon *d;
	char netns[PATH_MAX];   /* as the user named it */
	struct netns_id nsid;
	int netns_fd;
	int tun_fd;
	int ifindex;
	struct loop_io *io;
	struct vip vips[JOB_MAX_VIPS];
	int nvips;
	uint64_t rx_packets, rx_bytes; /* read from the TUN (sent by the job) */
	uint64_t tx_packets, tx_bytes; /* written into the TUN (received by the job) */
};

/* The job of namespace spec, made (TUN created in it) if there is none yet.
 * 0 or -errno (-ENOENT: no such namespace, -EINVAL: not a network namespace). */
int job_open(struct daemon *d, const char *spec, struct job **out);
/* Puts vip on the job's TUN and in the local index. 0, -E2BIG (too many), -errno. */
int job_add_vip(struct job *j, const struct vip *v);
/* Takes vip off; when it was the job's last, the TUN is destroyed and the job freed
 * (*gone set). 0 or -errno. */
int job_del_vip(struct job *j, const struct vip *v, bool *gone);
/* Destroys j if it holds no VIP (an attach that failed half-way). */
void job_drop_if_empty(struct job *j);
/* Frees every job; their persistent TUNs stay (a restarted daemon re-adopts them). */
void job_close_all(struct daemon *d);

struct job *job_by_vip(struct daemon *d, const struct vip *v);
bool job_has_vip(const struct job *j, const struct vip *v);
size_t job_count(const struct daemon *d);

/* Writes one packet into the job's TUN, counting it. 0 or -errno (counted as a drop). */
int job_write(struct job *j, const uint8_t *pkt, size_t len);

json_t *job_list_json(struct daemon *d);

#endif
