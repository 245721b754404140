/* Dead nodes. A peer from which nothing has been heard for peer_timeout (config) is
 * declared dead: its link is gone (peer.c closes a link silent that long, or it closed
 * when the far daemon died), and every live route to it is marked unreachable
 * (route_set_unreachable), so that packets for its VIPs get an ICMP / ICMPv6 "host
 * unreachable" at their senders' nodes (forward.c) instead of silence. When it comes
 * back its routes are live again; a VIP that moved meanwhile was replaced by the newer
 * epoch of its new node and stays there (the route table's rule).
 *
 * The clock is the peer's last frame received, not the moment the link closed: a daemon
 * restarted within peer_timeout is never declared dead, so its jobs' connections see a
 * stall, not errors. */
#ifndef TUNVNET_LIVENESS_H
#define TUNVNET_LIVENESS_H

struct daemon;
struct peer;

/* Makes d->liveness. 0 or -ENOMEM. */
int  liveness_init(struct daemon *d);
void liveness_fini(struct daemon *d);

/* The peer layer's up and down reports (wired in node.c). */
void liveness_peer_up(struct daemon *d, struct peer *p);
void liveness_peer_down(struct daemon *d, struct peer *p);

#endif
