/* Peers: the other nodes' daemons. A peer is an identity with several links.
 *
 * Identity. A peer is exactly the node name its certificate carries (tunnel/tls.h): the
 * control link is TLS 1.3 with mutual certificate authentication against the cluster CA.
 * After the handshake each side sends HELLO (its listen address, whether its data links
 * are sealed, its substrates) inside TLS; a HELLO that names another node than the
 * certificate, or disagrees on data protection, is refused. The peer is "up" once both
 * HELLOs crossed: ROUTES, PEERS, MIGRATE and DATA are accepted from then on, never before.
 *
 * Links. Besides the control link a peer has data links (link.h), each over a substrate,
 * opened by the side that dialed the control link: a plain connection to the same port
 * whose first frame, LINK_OPEN, proves with a key from the control session's TLS exporter
 * that it belongs to this session (a rising link number makes a replayed LINK_OPEN
 * useless); LINK_OK proves the same back. Every frame after that is sealed with keys
 * from the same exporter (unless data_protection = none). A data link dies with its
 * control link. DATA goes on a data link when one is up, else on the control link; frames
 * that must stay in order with control frames (a move's hand-over, a VIP's first packets
 * after it moved) go on the control link (PEER_SEND_ORDERED): nothing assumes two links
 * are ordered with respect to each other.
 *
 * Membership. Nodes start from seed addresses (config) and learn others from PEERS lists.
 * What PEERS says is a hint: a learned address is dialled (at a bounded rate), but the
 * name it was given for counts only once that node's certificate proves it, and a hint
 * never replaces an address that was configured or proven. A node dials a named peer
 * only if its own name is lower, and a seed only while no peer up has the seed's address.
 * When both sides dialed anyway, each keeps the link dialed by the lower name. A link
 * dies when nothing was received for peer_timeout (config; keepalive PINGs every second); a
 * dialing side retries with exponential backoff. A peer unreachable for [limits]
 * peer_forget (a hint never proven, or a peer down that long) is forgotten, unless it is
 * at a seed's address; at most [limits] peers are known.
 *
 * Strangers. Until its handshake completes, a connection holds a small struct and (for
 * TLS) OpenSSL's handshake state, nothing else; there are at most [limits]
 * pending_handshakes of them, pending_per_address per remote address, each with a
 * PEER_HANDSHAKE_MS deadline;
 * nothing is said to a stranger beyond what TLS itself sends.
 *
 * This layer reports upward through struct peer_events; it calls nothing above it. */
#ifndef TUNVNET_PEER_H
#define TUNVNET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "tunnel/substrate.h"
#include "tunvnet/chooser.h"
#include "tunvnet/config.h"
#include "tunvnet/loop.h"
#include "tunvnet/msg.h"
#include "tunvnet/stats.h"

#define PEER_KEEPALIVE_MS     1000
#define PEER_HANDSHAKE_MS     3000  /* a handshake's remote silent this long: closed */
#define PEER_HANDSHAKE_MAX_MS 20000 /* ... and one answering slowly, after this in all */
#define PEER_MEMBERS_SYNC_MS  60000 /* our member list to one peer up: lost hints heal */
#define PEER_RELINK_MS        250   /* LINK_OPEN sent again on a datagram substrate */
#define PEER_PINNED_PROBE_MS  1000  /* probes under a pinned policy (auto: chooser.h) */
#define PEER_DRAIN_MS         200   /* a planned switch waits at most this for the old link */
#define PEER_HELD_MAX         1024  /* DATA frames held during a switch */
#define PEER_HELD_BYTES       (8u << 20)
#define PEER_BACKOFF_MIN_MS   100
#define PEER_BACKOFF_MAX_MS   5000
#define PEER_HINT_DIALS_PER_S 20    /* dials to addresses only a hint gave us */
#define PEER_DEMAND_WAIT_MS   5000  /* links on demand: frames wait this long for a link */
#define PEER_POLICY_AUTO      (-1) /* peer.policy: the chooser picks; else a substrate id */
#define PEER_POLICY_DEFAULT   (-2) /* peer.policy: the daemon's global policy */

/* peer_send_data flags beside the FRAME_F_* ones (never on the wire) */
#define PEER_SEND_ORDERED 0x80000000u /* keep in order with control frames: control link */

struct daemon;
struct peer;
struct peer_link;
struct peer_set;
struct tls_ctx;

/* What the layer above hears. Frames are those of an up peer: ROUTES, DATA, MIGRATE,
 * MIGRATE_DONE (the peer layer handles its own: HELLO, LINK_*, PEERS, PING, PONG). A
 * frame handler returns 0, or -EBADMSG for a malformed body: the link is then closed
 * and counted as a protocol error. */
struct peer_events {
	void (*up)(struct peer *p, void *arg);
	void (*down)(struct peer *p, const char *why, void *arg);
	int  (*frame)(struct peer *p, uint8_t type, uint16_t flags, const uint8_t *payload,
		      size_t len, void *arg);
};

struct peer_held;

/* One substrate of a peer: its data link and the attempt to make one. The dialer of the
 * control link dials a data link on every substrate both ends have and can use; which
 * one carries DATA is peer.active. */
struct peer_sub {
	struct peer *p;
	int id;                       /* enum substrate_id */
	struct peer_link *link;       /* the data link up on it, or NULL */
	struct peer_link *dial;       /* an attempt under way (either end), or NULL */
	struct loop_timer retry;
	uint32_t backoff_ms;
	uint64_t link_last_in;        /* the highest link number accepted on it (this
				       * session): per substrate, since links on different
				       * substrates race (their proofs name the substrate) */
	uint64_t ups, downs;          /* data links up and lost on it */
	uint64_t failovers;           /* switches away from it because it failed */
	/* DATA on it (tcp: the control link's too) */
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
};

struct peer {
	struct peer *next;
	struct daemon *d;
	char name[NODE_NAME_MAX + 1];
	struct sockaddr_storage addr; /* where it listens (AF_UNSPEC: unknown) */
	bool addr_known;              /* configured (a seed reached it) or proven (its HELLO) */
	struct peer_link *ctl;        /* the authenticated control link, or NULL: down */
	struct peer_link *dial;       /* our outgoing control link attempt, or NULL */
	uint32_t substrates;          /* its HELLO: bit i, it has substrate i */
	struct peer_sub sub[SUBSTRATE_MAX];
	int policy;                   /* PEER_POLICY_DEFAULT, _AUTO or a substrate id */
	int active;                   /* the substrate DATA goes on; -1: the control link */
	struct chooser ch;            /* measurements and the rule (chooser.h) */
	struct loop_timer probe;      /* probes, trains, the choice: every CHOOSER_PROBE_MS */
	uint32_t probe_ticks, train_no;
	/* A planned switch drains the old link first: DATA is held (in order, bounded)
	 * until the old link's drain probe is answered, so nothing sent on the new link
	 * overtakes what is still on the old one. */
	int drain_to;                 /* -1: no switch under way */
	uint32_t drain_seq;
	struct loop_timer drain;      /* gives up waiting after PEER_DRAIN_MS */
	struct peer_held *held;       /* FIFO of DATA held meanwhile */
	struct peer_held **held_tail;
	size_t nheld, held_bytes;
	uint64_t switches[SUBSTRATE_MAX]; /* switches to each substrate */
	uint64_t failovers;           /* of them, because the one in use failed */
	uint64_t held_drops;
	/* Links on demand (peer.c): frames wait on held for a link until the wait timer. */
	struct loop_timer wait;
	uint64_t used_ms;             /* a frame other than keepalives, either way */
	bool listed;                  /* the route store lists it (kept while down) */
	uint64_t link_next;           /* the next data link number we dial (this session) */
	struct loop_timer retry, keepalive, rekey;
	uint32_t backoff_ms;
	uint64_t last_rx_ms;
	uint64_t since_ms;            /* when it last went up or down */
	uint64_t learned_ms;          /* when a hint made it (for forgetting) */
	bool ever_up;
	bool hinted;                  /* another peer named it since it was last up */
	bool ctl_overflow;            /* a control frame was refused: link reset pending */
	int64_t rtt_ms;               /* -1: not measured yet */
	uint64_t tx_frames, rx_frames, drops;
	/* DATA only (the IP packets), for stats and the Prometheus export */
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t drops_by[DROP_REASON_MAX]; /* stats_drop_at() */
	uint64_t rejected;            /* frames that failed to open (forged, replayed) */
};

/* Loads the credential, listens on the configured address and starts dialing the seeds;
 * ev reports upward. 0 or -errno (logged). */
int  peer_start(struct daemon *d, const struct peer_events *ev, void *arg);
/* Closes every link and frees every peer. */
void peer_stop(struct daemon *d);
/* SIGHUP: the seed list from nc, and the revocation list re-read: a peer whose
 * certificate is now revoked is dropped. */
void peer_reload(struct daemon *d, const struct config *nc);

/* A hint from this node's own memory (the state file of its last run): name was at addr.
 * Dialled as any hint is: only its certificate makes it that node. */
void peer_hint(struct daemon *d, const char *name, const struct sockaddr_storage *addr);

struct peer *peer_find(struct daemon *d, const char *name);
bool peer_is_up(const struct peer *p);
/* Up, or (links on demand) a link can be made: frames sent to it go out or wait. */
bool peer_can_send(const struct peer *p);
/* The route store's directory (store.h): node listens at addr; NULL: it is gone. With
 * links on demand the store is the only membership (seeds and PEERS are not used). */
void peer_directory(struct daemon *d, const char *node, const struct sockaddr_storage *addr);
size_t peer_count_up(const struct daemon *d);
size_t peer_count_known(const struct daemon *d);

/* Queues one DATA frame (FRAME_F_* flags, PEER_SEND_ORDERED) to p. 0, -ENOTCONN (no
 * link), -ENOBUFS (the link is backed up). With links on demand a frame to a peer
 * without a link waits for one (0), at most PEER_DEMAND_WAIT_MS; so does a control
 * frame sent with peer_send_ctl. */
int peer_send_data(struct peer *p, uint32_t flags, const void *pkt, size_t len);
/* Queues one control frame to p, on its control link. */
int peer_send_ctl(struct peer *p, uint8_t type, uint16_t flags, const void *buf, size_t len);
/* Writes what is queued to p now (someone waits for it). */
void peer_flush(struct peer *p);

/* Takes a connected stream socket as a link (tests: two daemons over a socketpair);
 * tls_server says which end runs the TLS server. 0 or -errno. */
int peer_adopt_fd(struct daemon *d, int fd, bool tls_server);

/* "auto", "tcp", "udp", "verbs" -> PEER_POLICY_AUTO or a substrate id; -EINVAL. */
int peer_policy_parse(const char *name);
const char *peer_policy_name(int policy);

/* Sets p's own policy (PEER_POLICY_DEFAULT: back to the config's) and applies it. */
void peer_set_policy(struct peer *p, int policy);
/* Sets the daemon's policy (PEER_POLICY_AUTO or a substrate) and applies it. */
void peer_set_default_policy(struct daemon *d, int policy);

/* The data links up to p (tests). */
int peer_data_links(const struct peer *p);

json_t *peer_list_json(struct daemon *d);
/* Per substrate, summed over the peers: {name: {peers_up (its data link up), in_use,
 * switches_to, failovers (away from it), links_up, links_down, tx_packets, tx_bytes,
 * rx_packets, rx_bytes}} for `vnetctl stats` and Prometheus. A new reference. */
json_t *peer_substrates_json(struct daemon *d);
/* The peer layer's own counters as {name: n} (handshakes refused and why, frames that
 * failed to open, links, hints). A new reference. */
json_t *peer_counters_json(struct daemon *d);

#endif
