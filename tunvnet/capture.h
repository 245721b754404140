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

#include "tunvnet/events.h"
#include "tunvnet/msg.h"
#include "tunvnet/vip.h"

struct daemon;
struct control;
struct session;

enum capture_dir {
	CAPTURE_FROM_JOB,  /* read from a job's TUN */
	CAPTURE_TO_JOB,    /* written into a job's TUN (local switching or from a peer) */
	CAPTURE_TO_PEER,   /* queued to a peer */
	CAPTURE_FROM_PEER, /* received from a peer */
	CAPTURE_HELD,      /* held for a suspended / standby job */
};

/* The stream a capture writes to its client after the reply line
 * {"capturing": true, "linktype": 101, "snaplen": N, "node": NAME}: records of
 *   u32 type (BE), u32 length (BE) of the payload, payload:
 *   CAPMSG_PACKET: u64 ts_usec (BE, realtime), u32 orig_len (BE), u8 dir
 *       (enum capture_dir), u8 node_len, node name, the captured bytes (length - 14 -
 *       node_len of them, at most snaplen);
 *   CAPMSG_END: JSON {"packets": n, "dropped": n, "reason": "count" | "duration" |
 *       "client" | "moved" | "shutdown"}, the last record before the daemon closes;
 *   CAPMSG_NOTE: JSON, a control-plane event about what is captured (events.h),
 *       or {"vip", "moved_to", "node"} when the captured VIP left this node.
 * (tunvnet/capmsg.h defines the records; the daemon encodes and the client decodes them
 * there.)
 * Each packet is recorded once per node: where it enters the daemon (read from a job's
 * TUN, or received from a peer); with scope peer, as it goes to or comes from that
 * peer; with scope vip and "cluster", only on the node hosting the VIP (read from its
 * TUN or written into it), so that the streams of all nodes merged by time show every
 * packet of the VIP once, across a move. */
#define CAPTURE_LINKTYPE_RAW  101       /* pcap LINKTYPE_RAW: the packet is IPv4 or IPv6 */
#define CAPTURE_BUFFER        (8u << 20) /* a session's output ring */

/* A daemon's captures. While one runs, capture subscribes to the event bus: an event
 * goes as a NOTE to the captures it concerns (those of its VIP, of its peer node, and
 * those of scope all), and when the VIP of a capture leaves this node, its client is told
 * with a NOTE {"vip", "moved_to"}; a capture that does not follow the VIP across the
 * cluster then ends (END reason "moved"), one that does goes on (the VIP may come back;
 * the new node's stream has the packets meanwhile). */
struct captures {
	unsigned active;           /* sessions running: the data path's one branch */
	struct session *sessions;
	struct daemon *d;          /* loop, node name, events */
	struct events_sub sub;     /* subscribed while active */
};

int  capture_new(struct daemon *d, struct captures **out); /* 0 or -ENOMEM */
/* Frees c. Its sessions ended when the control socket closed (control_stop() first).
 * NULL is ignored. */
void capture_free(struct captures *c);

void capture_packet_slow(struct captures *c, enum capture_dir dir, const char *peer,
			 const uint8_t *pkt, size_t len, size_t wire_len);

/* pkt: the IP packet (a super-packet as the kernel handed it); wire_len: its real
 * length (len may be shorter if a caller only has the head); peer: the node it goes to
 * or comes from, NULL for none. */
static inline void capture_packet(struct captures *c, enum capture_dir dir, const char *peer,
				  const uint8_t *pkt, size_t len, size_t wire_len)
{
	if (__builtin_expect(c->active != 0, 0))
		capture_packet_slow(c, dir, peer, pkt, len, wire_len);
}

struct bpf_program;
struct ctl_request;

/* The capture command (control client client_id on ctl): the reply line; on success the
 * client's connection carries the capture's records from then on. A scope peer is
 * checked by the caller (command.c). */
char *capture_command(struct captures *c, struct control *ctl, uint64_t client_id,
		      const struct ctl_request *rq);

/* Pieces exposed for the unit tests. */
struct capture_scope {
	int scope;                /* CTL_SCOPE_* */
	bool cluster;
	struct vip vip;
	char peer[NODE_NAME_MAX + 1];
};
/* Whether a packet seen at dir belongs to the scope (the once-per-node rule above). */
bool capture_scope_match(const struct capture_scope *sc, enum capture_dir dir,
			 const char *peer, const uint8_t *pkt, size_t len);
/* Compiles expr for DLT_RAW into prog (to be pcap_freecode'd): 0, or -EINVAL with
 * libpcap's message in err. */
int capture_filter_compile(const char *expr, int snaplen, struct bpf_program *prog,
			   char *err, size_t errlen);

#endif
