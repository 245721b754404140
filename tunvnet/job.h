/* Jobs: one per network namespace, holding one TUN and the VIPs on it. The daemon owns
 * the TUN fd; the packets the job's kernel writes into it go to forward.c.
 *
 * A job is ACTIVE (packets flow), SUSPENDED (being checkpointed here: nothing is written
 * into its TUN, packets for it are held, and of what it sends only TCP RST and FIN are
 * dropped, so its dying kernel state never ends a connection) or STANDBY (prepared for a restore here, not announced:
 * packets for it are held, what it sends goes out). Held packets wait in a bounded FIFO
 * ([limits] hold_packets and hold_bytes; beyond them they are dropped and counted) until the job becomes ACTIVE
 * here, or until its VIP moves and they are handed to the new node. */
#ifndef TUNVNET_JOB_H
#define TUNVNET_JOB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tunvnet/netns.h"
#include "tunvnet/stats.h"
#include "tunvnet/vip.h"

/* Headroom kept in front of packets read from a TUN, so a frame header can be put in
 * front without a copy once the substrate takes scatter lists. */
#define JOB_HEADROOM 64
#define JOB_MAX_VIPS 8

struct daemon;
struct loop_io;
struct job;

/* What a job reports upward (registered by forward.c with job_set_events()). */
struct job_events {
	/* One packet the job's kernel wrote into its TUN; with FRAME_F_VNET_HDR in flags
	 * (a TUN with offloads) pkt starts with its virtio-net header, as a FRAME_DATA
	 * payload does. pkt has JOB_HEADROOM bytes free in front of it. Returns -ENOBUFS
	 * when it was dropped because the link to its node is backed up: then no TUN is
	 * read for a moment (backpressure). */
	int (*packet)(struct job *j, uint16_t flags, uint8_t *pkt, size_t len, void *arg);
	void *arg;
};

enum job_state { JOB_ACTIVE, JOB_SUSPENDED, JOB_STANDBY };

struct held_packet {
	struct held_packet *next;
	uint16_t flags;  /* FRAME_DATA flags it came with */
	size_t len;
	uint8_t data[];
};

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
	enum job_state state;
	bool handing_over;  /* migrate: another daemon holds a queue of this TUN now: on
			     * release, close ours and leave the device and addresses */
	struct held_packet *held, **held_tail;
	size_t nheld, held_bytes;
	uint64_t drops[DROP_REASON_MAX]; /* by reason, stats_drop_at() */
	/* Just activated here: until the old node (await_from) has handed over what it
	 * held, packets that did not come through that hand-over are held back, so that
	 * a flow is not reordered by the move. "" when not waiting. */
	char await_from[32];
	/* The node this job's VIPs came from in its last move, and until when that node may
	 * still send on packets for it (FRAME_F_FORWARDED: held ones, stragglers) whose
	 * sources are not its own (forward.c checks every peer's sources). */
	char moved_from[32];
	uint64_t moved_until_ms;
	/* The kernel and the daemon disagree in a way the daemon cannot mend (its TUN was
	 * deleted, its namespace's name removed): nothing is read from the TUN any more,
	 * `vnetctl jobs` says "broken" and why. Detach it (or it goes with its last VIP). */
	bool broken;
	char problem[192];     /* why broken, or a warning on a working job; "" if none */
};

/* The jobs' shared state in d->jobctx (VIP index, offloads, coalescing, pause): made by
 * job_init, freed by job_fini after job_close_all. 0 or -ENOMEM. */
int  job_init(struct daemon *d);
void job_fini(struct daemon *d);
/* Registers where packets read from TUNs go (*ev is copied). */
void job_set_events(struct daemon *d, const struct job_events *ev);

/* The job of namespace spec, made (TUN created in it) if there is none yet.
 * 0 or -errno (-ENOENT: no such namespace, -EINVAL: not a network namespace, -EPERM:
 * the daemon's own or the host's namespace, never a job's). */
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
/* The job of namespace spec (a name or a path to the same namespace), or NULL. */
struct job *job_by_netns(struct daemon *d, const char *spec);
/* Marks j broken (see struct job) with why: stops reading its TUN, logs, counts
 * (jobs_broken) and reports a job_broken event. Once per job. */
void job_mark_broken(struct job *j, const char *why);
bool job_has_vip(const struct job *j, const struct vip *v);
size_t job_count(const struct daemon *d);

/* Writes one plain IP packet into the job's TUN, counting it. 0 or -errno (counted as
 * a drop). */
int job_write(struct job *j, const uint8_t *pkt, size_t len);
/* Writes the FRAME_DATA payload pkt (with FRAME_F_VNET_HDR in flags: a virtio-net header,
 * checked here, then a packet or super-packet) if the job is ACTIVE, else holds it. A
 * super-packet the TUN cannot take (offload off) is segmented in software; held packets
 * are always plain (segmented too), so that they can go to a TUN or a node of any kind.
 * 0, -EBADMSG (a bad header, counted), or -ENOBUFS when the hold queue is full
 * (counted). */
int job_deliver(struct job *j, uint16_t flags, const uint8_t *pkt, size_t len);
/* Writes every held packet into the TUN (the job became ACTIVE). Returns how many. */
size_t job_flush_held(struct job *j);
/* Takes the held packets addressed to v out of the queue, passing each to cb. */
size_t job_take_held(struct job *j, const struct vip *v,
		     void (*cb)(const struct held_packet *hp, void *arg), void *arg);

/* The VIP v moved to another node: takes it off this job (addresses untouched if the
 * job is handing_over) and frees the job with its last VIP. *gone set then. */
void job_release_vip(struct job *j, const struct vip *v, bool *gone);
const char *job_state_name(enum job_state s);

json_t *job_list_json(struct daemon *d);

#endif
