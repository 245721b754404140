/* The data path: packets from jobs' TUNs and from peers, switched locally or sent to the
 * node that hosts the destination VIP. */
#ifndef TUNVNET_FORWARD_H
#define TUNVNET_FORWARD_H

#include <stddef.h>
#include <stdint.h>

struct job;
struct peer;

/* Headroom kept in front of packets read from a TUN, so a frame header can be put in
 * front without a copy once the substrate takes scatter lists. */
#define FORWARD_HEADROOM 64
#define FORWARD_MAX_PACKET 65535

/* One packet the job's kernel wrote into its TUN. */
void forward_from_job(struct job *j, const uint8_t *pkt, size_t len);
/* One FRAME_DATA payload from an authenticated peer. */
void forward_from_peer(struct peer *p, const uint8_t *pkt, size_t len);

#endif
