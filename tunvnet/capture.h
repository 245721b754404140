/* In-daemon packet capture (vnetctl capture). The data path calls capture_packet() on
 * every packet it forwards; with no capture running that costs one predictable branch.
 * Filters are tcpdump expressions compiled by libpcap for DLT_RAW and run here, so a
 * packet no capture wants is never copied. A capture's packets go to its control client
 * through a bounded buffer: a client that reads too slowly loses packets (counted and
 * reported when the capture ends), it never slows forwarding. */
#ifndef TUNVNET_CAPTURE_H
#define TUNVNET_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct job;
struct peer;

enum capture_dir {
	CAPTURE_FROM_JOB,  /* read from a job's TUN */
	CAPTURE_TO_JOB,    /* written into a job's TUN (local switching or from a peer) */
	CAPTURE_TO_PEER,   /* queued to a peer */
	CAPTURE_FROM_PEER, /* received from a peer */
	CAPTURE_HELD,      /* held for a suspended / standby job */
};

/* Non-zero while at least one capture runs. Written only by capture.c. */
extern unsigned capture_active;

void capture_packet_slow(enum capture_dir dir, const struct job *j, const struct peer *p,
			 const uint8_t *pkt, size_t len, size_t wire_len);

/* pkt: the IP packet (a super-packet as the kernel handed it); wire_len: its real
 * length (len may be shorter if a caller only has the head). */
static inline void capture_packet(enum capture_dir dir, const struct job *j,
				  const struct peer *p, const uint8_t *pkt, size_t len,
				  size_t wire_len)
{
	if (__builtin_expect(capture_active != 0, 0))
		capture_packet_slow(dir, j, p, pkt, len, wire_len);
}

#endif
