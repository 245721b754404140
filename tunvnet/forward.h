/* The data path: packets from jobs' TUNs and from peers, switched locally or sent to the
 * node that hosts the destination VIP. */
#ifndef TUNVNET_FORWARD_H
#define TUNVNET_FORWARD_H

#include <stddef.h>
#include <stdint.h>

struct job;
struct peer;

#define FORWARD_MAX_PACKET 65535

struct daemon;
struct vip;

/* Makes d->forward and registers forward_from_job() as where jobs' packets go
 * (job_set_events). 0 or -ENOMEM. */
int  forward_init(struct daemon *d);
void forward_fini(struct daemon *d);

/* One packet the job's kernel wrote into its TUN; with FRAME_F_VNET_HDR in flags (a TUN
 * with offloads) pkt starts with its virtio-net header, as a FRAME_DATA payload does.
 * Returns -ENOBUFS when it was dropped because the link to its node is backed up (the
 * caller should stop reading TUNs for a moment), 0 otherwise (sent, or dropped and
 * counted for another reason). */
int forward_from_job(struct job *j, uint16_t flags, const uint8_t *pkt, size_t len);
/* One FRAME_DATA payload (with its frame flags) from an authenticated peer. */
void forward_from_peer(struct peer *p, uint16_t flags, const uint8_t *pkt, size_t len);

/* After v moved away from this node: for the grace period (config forward_grace),
 * packets for v that still arrive here are sent on to the node v's route names now. */
void forward_pointer_add(struct daemon *d, const struct vip *v);
/* Sends a packet on to node, marked FRAME_F_FORWARDED (a held packet handed over, or a
 * straggler). 0 or -errno (counted as a drop). */
int forward_to_node(struct daemon *d, const char *node, const uint8_t *pkt, size_t len);

#endif
