/* Peers: identity, links, membership, strangers (peer.h says what each means).
 *
 * A connection's life:
 *
 *   accepted / dialed  -> pending (counted against the stranger limits, deadline armed)
 *   ready, TLS         -> control link: the certificate's name is known; send HELLO
 *     HELLO received   -> bound: p->ctl, the peer is up (peer_events.up)
 *   ready, plain       -> a data link: the dialer sends LINK_OPEN, the listener waits
 *     LINK_OPEN proved -> bound to its peer's session, LINK_OK sent, sealing on
 *     LINK_OK proved   -> bound (the dialer's side), sealing on
 *   any failure        -> closed; a refused peer is counted and logged once per address
 */
#include "tunvnet/peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunnel/frame.h"
#include "tunnel/substrate.h"
#include "tunnel/tls.h"
#include "tunnel/tunnel.h"
#include "tunnel/wire.h"
#include "tunvnet/addr.h"
#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/link.h"
#include "tunvnet/log.h"
#include "tunvnet/stats.h"

#define MAX_MEMBERS      1024
#define REFUSED_LOG_MAX  256
#define GC_MS            10000

/* Counters of this layer, by name in `vnetctl stats --json` ("peers_*"). */
enum peer_counter {
	PC_REFUSED_CERT,      /* TLS refused a certificate (unknown CA, expired, revoked) */
	PC_REFUSED_HELLO,     /* HELLO named another node, or disagreed on protection */
	PC_REFUSED_LINK,      /* a data link's LINK_OPEN / LINK_OK did not prove */
	PC_LIMITED,           /* a connection refused at once: too many pending */
	PC_HANDSHAKE_TIMEOUT, /* a connection that never finished its handshake */
	PC_REJECTED_FRAMES,   /* sealed frames that failed to open: forged or altered */
	PC_REPLAYED_FRAMES,   /* sealed frames replayed or out of order */
	PC_HINTS_DROPPED,     /* PEERS entries not kept: too many peers known */
	PC_HINTS_FORGOTTEN,   /* hinted peers never proven, dropped after a while */
	PC_DATA_LINKS_UP,
	PC_DATAGRAMS_REJECTED, /* datagrams that failed to open: dropped, the link kept */
	PC_MEMBERS_HEARD,     /* entries of PEERS frames received (membership's cost) */
	PC_MEMBERS_SYNCED,    /* of the entries sent, those of the periodic members_sync */
	PC_DEMAND_DIALS,      /* links on demand: dials because frames waited for a link */
	PC_IDLE_CLOSED,       /* links on demand: links closed after link_idle unused */
	PC_WAIT_DROPS,        /* links on demand: frames dropped, no link within the wait */
	PC_MAX
};

static const char *const pc_names[PC_MAX] = {
	"refused_certificate", "refused_hello", "refused_link", "pending_limited",
	"handshake_timeouts", "rejected_frames", "replayed_frames", "hints_dropped",
	"hints_forgotten", "data_links_up", "datagrams_rejected", "members_heard",
	"members_synced", "demand_dials", "idle_closed", "wait_drops",
};

/* A seed address from the config; dialed while no peer up listens there. */
struct seed {
	struct sockaddr_storage addr;
	struct peer_link *dial;
	struct loop_timer retry;
	uint32_t backoff_ms;
	bool is_self;
	struct daemon *d;
};

/* This daemon's instance of one substrate. */
struct set_sub {
	struct daemon *d;
	const struct tunnel_ops *ops; /* NULL: not in this build */
	struct tunnel *t;             /* NULL: unavailable (why says why) */
	struct tunnel_listener *listener;
	char why[64];
};

struct peer_set {
	struct daemon *d;
	const struct peer_events *ev;
	void *arg;
	struct tls_ctx *tls;
	struct tunnel *tcp;           /* = sub[SUBSTRATE_TCP].t: control links */
	struct set_sub sub[SUBSTRATE_MAX];
	struct tunnel_listener *listener; /* tcp's: control links and tcp data links */
	int policy;                   /* the daemon's: PEER_POLICY_AUTO or a substrate */
	struct peer_link *pending;    /* links not bound to a peer yet */
	int npending;
	struct seed *seeds;
	int nseeds;
	/* Remote addresses whose refusal was logged already: log once, count always. */
	struct sockaddr_storage refused[REFUSED_LOG_MAX];
	int nrefused;
	/* Dials to hinted addresses: a token bucket. */
	double hint_tokens;
	uint64_t hint_ms;
	struct loop_timer gc;
	struct loop_timer sync;       /* on_members_sync */
	size_t nheld, held_bytes;     /* frames held over every peer ([limits] hold_*) */
	uint64_t c[PC_MAX];
	uint8_t out[FRAME_MAX_PAYLOAD]; /* sealing scratch */
	uint8_t in[FRAME_MAX_PAYLOAD];  /* opening scratch */
	struct msg_member members[MAX_MEMBERS];
};

static const struct tunnel_events link_events;

static void link_close(struct peer_link *l, const char *why);
static void seed_schedule(struct seed *s);
static void peer_schedule(struct peer *p);
static void data_schedule(struct peer_sub *ps);
static struct peer_link *link_new(struct daemon *d, const struct tunnel_ops *ops,
				  struct tunnel_link *lk, enum link_role role, bool initiator,
				  const struct sockaddr_storage *remote);

static struct peer_set *ps_of(const struct daemon *d)
{
	return d->pset;
}

static const char *link_desc(const struct peer_link *l, char buf[ADDR_STRLEN + NODE_NAME_MAX + 4])
{
	char a[ADDR_STRLEN];

	if (l->bound && l->peer)
		return l->peer->name;
	if (l->name[0])
		snprintf(buf, ADDR_STRLEN + NODE_NAME_MAX + 4, "%s (%s)", l->name,
			 addr_fmt(&l->remote, a));
	else
		snprintf(buf, ADDR_STRLEN + NODE_NAME_MAX + 4, "%s", addr_fmt(&l->remote, a));
	return buf;
}

struct peer *peer_find(struct daemon *d, const char *name)
{
	for (struct peer *p = d->peers; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

bool peer_is_up(const struct peer *p)
{
	return p->ctl != NULL;
}

size_t peer_count_up(const struct daemon *d)
{
	size_t n = 0;

	for (const struct peer *p = d->peers; p; p = p->next)
		n += p->ctl != NULL;
	return n;
}

size_t peer_count_known(const struct daemon *d)
{
	size_t n = 0;

	for (const struct peer *p = d->peers; p; p = p->next)
		n++;
	return n;
}

static SSL *ctl_ssl(const struct peer *p)
{
	return p->ctl ? p->ctl->ops->tls(p->ctl->lk) : NULL;
}

/* --- sending ------------------------------------------------------------------------ */

static int demand_wait(struct peer *p, uint8_t type, uint32_t flags, const void *buf,
		       size_t len);

static bool on_demand(const struct daemon *d)
{
	return d->cfg.store.on_demand;
}

bool peer_can_send(const struct peer *p)
{
	return p->ctl || (on_demand(p->d) && p->addr.ss_family != AF_UNSPEC);
}

/* Frames that say something to the peer's daemon or its jobs (not the keepalive, the
 * membership or a data link's set-up) keep a link made on demand open. */
static bool keeps_open(uint8_t type)
{
	return type != FRAME_PING && type != FRAME_PONG && type != FRAME_PEERS &&
	       type != FRAME_SUBSTRATE;
}

int peer_send_ctl(struct peer *p, uint8_t type, uint16_t flags, const void *buf, size_t len)
{
	int err;

	if (!p->ctl)
		return demand_wait(p, type, flags, buf, len);
	if (keeps_open(type))
		p->used_ms = loop_now(p->d->loop);
	if (p->ctl_overflow)
		return -ENOBUFS; /* nothing after a lost frame: the link is being reset */
	err = link_send(p->ctl, type, flags, buf, len, ps_of(p->d)->out);
	if (err == 0) {
		p->tx_frames++;
	} else if (err == -ENOBUFS) {
		/* A control frame lost would leave the peer's tables diverging from ours:
		 * refuse everything after it and reset the link (from the keepalive timer,
		 * not from within the sender's loop); the new session resyncs the tables. */
		p->ctl_overflow = true;
		loop_timer_arm(p->d->loop, &p->keepalive, 0);
	}
	return err;
}

void peer_flush(struct peer *p)
{
	if (p->ctl)
		p->ctl->ops->flush(p->ctl->lk);
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		if (p->sub[i].link)
			p->sub[i].link->ops->flush(p->sub[i].link->lk);
}

int peer_data_links(const struct peer *p)
{
	int n = 0;

	for (int i = 0; i < SUBSTRATE_MAX; i++)
		n += p->sub[i].link != NULL;
	return n;
}

struct peer_held {
	struct peer_held *next;
	uint8_t type;                 /* FRAME_DATA, or a control frame waiting for a link */
	uint32_t flags;
	size_t len;
	uint8_t data[];
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int send_data_on(struct peer *p, struct peer_link *l, uint32_t flags, const void *pkt,
			size_t len);
static struct peer_link *data_link(const struct peer *p, uint32_t flags);

/* Probes on a data link (PING/PONG bodies there; the control link's PING is only the
 * u64 below):
 *   PING: u64 sender's microseconds, u32 probe number, u32 train number, u8 index in
 *         the train, u8 kind (PROBE_*), zero padding (a train's probes are
 *         CHOOSER_TRAIN_BYTES long)
 *   PONG: the PING's first PROBE_LEN bytes */
#define PROBE_LEN   18
#define PROBE_PLAIN 0
#define PROBE_TRAIN 1
#define PROBE_DRAIN 2

static uint32_t send_probe(struct peer *p, int id, uint8_t kind, uint32_t train, uint8_t idx,
			   size_t size)
{
	struct peer_link *l = p->sub[id].link;
	uint8_t buf[CHOOSER_TRAIN_BYTES];
	uint32_t seq = 0;
	size_t off = 0;

	if (!l)
		return 0;
	if (kind != PROBE_TRAIN)
		seq = chooser_probe_sent(&p->ch, id, loop_now(p->d->loop));
	memset(buf, 0, size);
	put_be64(buf, size, &off, now_us());
	put_be32(buf, size, &off, seq);
	put_be32(buf, size, &off, train);
	put_u8(buf, size, &off, idx);
	put_u8(buf, size, &off, kind);
	link_send(l, FRAME_PING, 0, buf, size, ps_of(p->d)->out);
	return seq;
}

/* The oldest frame held for p, taken off its queue (the caller frees it), or NULL. */
static struct peer_held *held_pop(struct peer *p)
{
	struct peer_set *ps = ps_of(p->d);
	struct peer_held *h = p->held;

	if (!h)
		return NULL;
	p->held = h->next;
	if (!p->held)
		p->held_tail = &p->held;
	p->nheld--;
	p->held_bytes -= h->len;
	ps->nheld--;
	ps->held_bytes -= h->len;
	return h;
}

/* Drops what is held for p, each DATA frame counted (why: a drop reason). */
static void held_free(struct peer *p, enum drop_reason why)
{
	struct peer_held *h;

	while ((h = held_pop(p))) {
		p->held_drops++;
		p->drops++;
		if (h->type == FRAME_DATA)
			stats_drop_at(&p->d->stats, why, NULL, p->drops_by);
		free(h);
	}
}

static void switch_event(struct peer *p, int from, int to, const char *why)
{
	char detail[160];

	snprintf(detail, sizeof(detail), "%s -> %s: %s",
		 from >= 0 ? substrate_name(from) : "control link",
		 to >= 0 ? substrate_name(to) : "control link", why);
	log_info("peer %s: data %s", p->name, detail);
	events_peer(p->d->events, EVENT_SUBSTRATE_SWITCH, p->name, detail);
	if (to >= 0)
		p->switches[to]++;
}

/* The switch takes effect: DATA held meanwhile goes out first, in order, on the new
 * link. */
static void drain_done(struct peer *p)
{
	struct peer_held *h;

	loop_timer_stop(p->d->loop, &p->drain);
	if (p->drain_to == -2)
		return;
	p->active = p->drain_to;
	p->drain_to = -2;
	while ((h = held_pop(p))) {
		send_data_on(p, data_link(p, h->flags), h->flags, h->data, h->len);
		free(h);
	}
}

static void on_drain_timeout(struct loop_timer *t, void *arg)
{
	drain_done(arg);
}

/* The policy in force for p: its own (vnetctl substrate PEER), the config's for it, the
 * daemon's. */
static int policy_of(const struct peer *p)
{
	const struct config *cfg = &p->d->cfg;
	int pol;

	if (p->policy != PEER_POLICY_DEFAULT)
		return p->policy;
	for (int i = 0; i < cfg->npolicies; i++)
		if (strcmp(cfg->policies[i].peer, p->name) == 0 &&
		    (pol = peer_policy_parse(cfg->policies[i].policy)) != -EINVAL)
			return pol;
	return ps_of(p->d)->policy;
}

/* Asks the chooser and moves DATA when its answer changed. A planned move (the old link
 * still works) drains the old link first; a failover moves at once. */
static void peer_choose(struct peer *p)
{
	uint64_t now = loop_now(p->d->loop);
	int want = chooser_pick(&p->ch, policy_of(p), now), old = p->active;
	char why[CHOOSER_WHY_MAX], how[CHOOSER_WHY_MAX + 32];
	bool old_ok;

	if (p->drain_to != -2) {
		if (want == p->drain_to)
			return; /* under way */
		drain_done(p); /* the choice changed again: finish the first */
		old = p->active;
	}
	if (want == old)
		return;
	old_ok = old >= 0 && p->sub[old].link &&
		 chooser_usable(&p->ch, old, now, why, sizeof(why));
	if (old >= 0 && !old_ok) {
		if (!p->sub[old].link)
			snprintf(why, sizeof(why), "no data link");
		snprintf(how, sizeof(how), "failover: %s %s", substrate_name(old), why);
		p->failovers++;
		p->sub[old].failovers++;
	} else {
		chooser_explain(&p->ch, want, policy_of(p), now, why, sizeof(why));
		snprintf(how, sizeof(how), "%s", want >= 0 ? why : "no data link up");
	}
	switch_event(p, old, want, how);
	if (old_ok && want >= 0) {
		/* drain: a probe on the old link; DATA waits for its answer */
		p->drain_to = want;
		p->drain_seq = send_probe(p, old, PROBE_DRAIN, 0, 0, PROBE_LEN);
		p->sub[old].link->ops->flush(p->sub[old].link->lk);
		loop_timer_arm(p->d->loop, &p->drain, PEER_DRAIN_MS);
		return;
	}
	p->active = want;
}

/* Every CHOOSER_PROBE_MS while the peer is up: a probe on every data link, a train
 * every CHOOSER_TRAIN_MS, then the choice. */
static void on_probe(struct loop_timer *t, void *arg)
{
	struct peer *p = arg;
	bool pinned = policy_of(p) >= 0, train;
	uint32_t every = pinned ? PEER_PINNED_PROBE_MS : CHOOSER_PROBE_MS;

	if (!p->ctl)
		return;
	/* A pinned policy needs no failover: its probes only keep `vnetctl peers`
	 * current, at a rate that costs nothing in a large cluster. */
	train = ++p->probe_ticks % ((pinned ? 10 * PEER_PINNED_PROBE_MS : CHOOSER_TRAIN_MS) /
				    every) == 0;
	if (train)
		p->train_no++;
	for (int id = 0; id < SUBSTRATE_MAX; id++) {
		if (!p->sub[id].link)
			continue;
		send_probe(p, id, PROBE_PLAIN, 0, 0, PROBE_LEN);
		for (int i = 0; train && i < CHOOSER_TRAIN_LEN; i++) {
			send_probe(p, id, PROBE_TRAIN, p->train_no, (uint8_t)i,
				   CHOOSER_TRAIN_BYTES);
			/* each probe its own send: a shaper sees packets, not one GSO batch
			 * it lets through whole (a send or a flush that fails closes the
			 * link) */
			if (!p->sub[id].link)
				break;
			p->sub[id].link->ops->flush(p->sub[id].link->lk);
		}
	}
	peer_choose(p);
	loop_timer_arm(p->d->loop, &p->probe, every);
}

/* A PONG on a data link: a probe's, a train's or a drain's answer. */
static void on_probe_answer(struct peer *p, struct peer_link *l, const uint8_t *b, size_t len)
{
	uint64_t sent, now = now_us();
	uint32_t seq, train;
	uint8_t idx, kind;
	size_t off = 0;
	int id = substrate_id(l->ops);

	if (!get_be64(b, len, &off, &sent) || !get_be32(b, len, &off, &seq) ||
	    !get_be32(b, len, &off, &train) || !get_u8(b, len, &off, &idx) ||
	    !get_u8(b, len, &off, &kind) || sent > now)
		return;
	if (kind == PROBE_TRAIN) {
		if (train == p->train_no && idx == CHOOSER_TRAIN_LEN - 1)
			chooser_train(&p->ch, id, CHOOSER_TRAIN_LEN * CHOOSER_TRAIN_BYTES,
				      now - sent);
		return;
	}
	chooser_probe_answered(&p->ch, id, seq, loop_now(p->d->loop), now - sent);
	if (kind == PROBE_DRAIN && p->drain_to != -2 && seq == p->drain_seq &&
	    p->active == id)
		drain_done(p);
}

void peer_set_policy(struct peer *p, int policy)
{
	p->policy = policy;
	peer_choose(p);
	if (p->ctl) /* at the new policy's rate from now */
		loop_timer_arm(p->d->loop, &p->probe, CHOOSER_PROBE_MS);
}

void peer_set_default_policy(struct daemon *d, int policy)
{
	ps_of(d)->policy = policy;
	for (struct peer *p = d->peers; p; p = p->next) {
		if (!p->ctl)
			continue;
		peer_choose(p);
		loop_timer_arm(d->loop, &p->probe, CHOOSER_PROBE_MS);
	}
}

/* The link DATA takes now: the active substrate's data link, else TCP's, else the
 * control link. */
static struct peer_link *data_link(const struct peer *p, uint32_t flags)
{
	if (flags & PEER_SEND_ORDERED)
		return p->ctl;
	if (p->active >= 0 && p->sub[p->active].link)
		return p->sub[p->active].link;
	if (p->sub[SUBSTRATE_TCP].link)
		return p->sub[SUBSTRATE_TCP].link;
	return p->ctl;
}

/* Holds a frame: DATA while a switch drains the old link, any frame while a link made on
 * demand comes up. Bounded per peer and, over every peer, by [limits] hold_packets and
 * hold_bytes. */
static int hold(struct peer *p, uint8_t type, uint32_t flags, const void *pkt, size_t len)
{
	struct peer_set *ps = ps_of(p->d);
	const struct config_limits *lim = &p->d->cfg.limits;
	struct peer_held *h;

	if (p->nheld >= PEER_HELD_MAX || p->held_bytes + len > PEER_HELD_BYTES ||
	    ps->nheld >= (size_t)lim->hold_packets ||
	    ps->held_bytes + len > (size_t)lim->hold_bytes ||
	    !(h = malloc(sizeof(*h) + len))) {
		p->held_drops++;
		p->drops++;
		return -ENOBUFS;
	}
	h->next = NULL;
	h->type = type;
	h->flags = flags;
	h->len = len;
	memcpy(h->data, pkt, len);
	*p->held_tail = h;
	p->held_tail = &h->next;
	p->nheld++;
	p->held_bytes += len;
	ps->nheld++;
	ps->held_bytes += len;
	return 0;
}

int peer_send_data(struct peer *p, uint32_t flags, const void *pkt, size_t len)
{
	if (!p->ctl)
		return demand_wait(p, FRAME_DATA, flags, pkt, len);
	p->used_ms = loop_now(p->d->loop);
	if (p->drain_to != -2 && !(flags & PEER_SEND_ORDERED))
		return hold(p, FRAME_DATA, flags, pkt, len);
	return send_data_on(p, data_link(p, flags), flags, pkt, len);
}

static int send_data_on(struct peer *p, struct peer_link *l, uint32_t flags, const void *pkt,
			size_t len)
{
	int err;

	if (!l)
		return -ENOTCONN;
	err = link_send(l, FRAME_DATA, (uint16_t)(flags & 0xffff), pkt, len, ps_of(p->d)->out);
	if (err == 0) {
		struct peer_sub *sb = &p->sub[substrate_id(l->ops)];

		sb->tx_packets++;
		sb->tx_bytes += len;
		p->tx_frames++;
	} else {
		p->drops++;
	}
	return err;
}

static void send_hello(struct peer_link *l)
{
	struct daemon *d = l->d;
	struct msg_hello h;
	uint8_t buf[128];
	int n;

	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", d->cfg.node);
	h.listen = d->cfg.listen;
	h.flags = d->cfg.sealed ? MSG_HELLO_SEALED : 0;
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		if (ps_of(d)->sub[i].t)
			h.substrates |= 1u << i;
	n = msg_hello_encode(&h, buf, sizeof(buf));
	if (n > 0)
		link_send(l, FRAME_HELLO, 0, buf, (size_t)n, ps_of(d)->out);
}

/* Membership spreads as hints (PEERS frames; a receiver takes each entry as a hint):
 *   - a peer that comes up and is news to us (unknown, or not named by anyone since it
 *     was last up: a newcomer, or a node back from a restart) gets our whole list, and
 *     every other peer up gets its one entry, so the nodes that must dial it learn it;
 *   - a peer we had heard of from another gets nothing: whoever told us told everyone;
 *   - about every PEER_MEMBERS_SYNC_MS one peer up, picked at random, gets the whole
 *     list: a hint lost with a link heals.
 * Each join costs O(N) entries on the wire, not a whole list to every peer at every
 * link up (O(N^2) per join, O(N^3) for a cluster starting at once). */

/* Encodes ourselves and every peer up whose address is known (only: just that peer)
 * into ps->in; the length, or -EMSGSIZE. */
static int members_encode(struct daemon *d, const struct peer *only)
{
	struct peer_set *ps = ps_of(d);
	struct msg_member *m = ps->members;
	size_t n = 0;
	int len;

	if (!only) {
		memset(&m[0], 0, sizeof(m[0]));
		snprintf(m[n].name, sizeof(m[n].name), "%s", d->cfg.node);
		m[n++].addr = d->cfg.listen;
	}
	for (const struct peer *p = only ? only : d->peers; p && n < MAX_MEMBERS;
	     p = only ? NULL : p->next) {
		if (!p->ctl || !p->addr_known || p->addr.ss_family == AF_UNSPEC)
			continue;
		memset(&m[n], 0, sizeof(m[n]));
		snprintf(m[n].name, sizeof(m[n].name), "%s", p->name);
		m[n++].addr = p->addr;
	}
	if (n == 0)
		return 0;
	len = msg_peers_encode(m, n, ps->in, sizeof(ps->in));
	if (len < 0)
		log_ratelimited(log_warnx, "member list does not fit in a frame (%zu members)", n);
	return len;
}

/* Our whole list to one peer; the number of entries sent. */
static size_t members_send(struct peer *to)
{
	int len = members_encode(to->d, NULL);
	size_t off = 0;
	uint16_t n = 0;

	if (len > 0 && peer_send_ctl(to, FRAME_PEERS, 0, ps_of(to->d)->in, (size_t)len) == 0)
		get_be16(ps_of(to->d)->in, (size_t)len, &off, &n);
	return n;
}

/* p is up and news to us: our list to it, it to every other peer up. */
static void members_announce(struct peer *p)
{
	struct daemon *d = p->d;
	int len;

	members_send(p);
	len = members_encode(d, p);
	for (struct peer *q = d->peers; len > 0 && q; q = q->next)
		if (q->ctl && q != p)
			peer_send_ctl(q, FRAME_PEERS, 0, ps_of(d)->in, (size_t)len);
}

/* Every PEER_MEMBERS_SYNC_MS on average (jittered: nodes started together do not
 * sync together), one peer up, at random, gets our whole list. */
static void on_members_sync(struct loop_timer *t, void *arg)
{
	struct daemon *d = arg;
	struct peer_set *ps = ps_of(d);
	size_t up = on_demand(d) ? 0 : peer_count_up(d), k = up ? (size_t)random() % up : 0;

	for (struct peer *p = d->peers; up && p; p = p->next)
		if (p->ctl && k-- == 0) {
			ps->c[PC_MEMBERS_SYNCED] += members_send(p);
			break;
		}
	loop_timer_arm(d->loop, t, PEER_MEMBERS_SYNC_MS / 2 +
		       (uint64_t)random() % PEER_MEMBERS_SYNC_MS);
}

/* --- links on demand ([store] links = on_demand) ------------------------------------
 *
 * The route store lists the nodes (peer_directory); a link is made to one only when a
 * frame is sent to it, by whichever side sends first. The frames wait, in order, on the
 * peer's held queue (bounded as hold() says) for at most PEER_DEMAND_WAIT_MS from the
 * first; the link up, they go out before anything sent after them. A link that carried
 * nothing for [store] link_idle either way is closed by the side that notices first;
 * its end says nothing about the node (the store's lease does: liveness.c). */

static void peer_dial(struct peer *p);
static struct peer *peer_new(struct daemon *d, const char *name);
static void peer_free(struct peer *p);

/* -ENOTCONN when no link will come; 0 when the frame waits for one. */
static int demand_wait(struct peer *p, uint8_t type, uint32_t flags, const void *buf,
		       size_t len)
{
	struct daemon *d = p->d;
	int err;

	if (!peer_can_send(p))
		return -ENOTCONN;
	err = hold(p, type, flags, buf, len);
	if (err < 0)
		return err;
	if (!loop_timer_armed(&p->wait)) {
		loop_timer_arm(d->loop, &p->wait, PEER_DEMAND_WAIT_MS);
		if (!p->dial && !loop_timer_armed(&p->retry)) {
			ps_of(d)->c[PC_DEMAND_DIALS]++;
			peer_dial(p);
		}
	}
	return 0;
}

/* No link within PEER_DEMAND_WAIT_MS: what waited is dropped (DATA as no_link). */
static void on_wait_timeout(struct loop_timer *t, void *arg)
{
	struct peer *p = arg;

	if (p->ctl || !p->nheld)
		return;
	ps_of(p->d)->c[PC_WAIT_DROPS] += p->nheld;
	log_ratelimited(log_info, "peer %s: no link within %d ms: %zu frame(s) that waited "
			"for it dropped", p->name, PEER_DEMAND_WAIT_MS, p->nheld);
	held_free(p, DROP_NO_LINK);
	loop_timer_stop(p->d->loop, &p->retry);
}

/* The link is up: what waited for it goes out first, in order. */
static void demand_flush(struct peer *p)
{
	struct peer_held *h;

	loop_timer_stop(p->d->loop, &p->wait);
	while (p->ctl && p->drain_to == -2 && (h = held_pop(p))) {
		if (h->type == FRAME_DATA)
			peer_send_data(p, h->flags, h->data, h->len);
		else
			peer_send_ctl(p, h->type, (uint16_t)h->flags, h->data, h->len);
		free(h);
	}
}

/* Called every PEER_KEEPALIVE_MS while p is up: true when its link was closed idle. */
static bool demand_idle(struct peer *p, uint64_t now)
{
	uint64_t idle_ms = (uint64_t)p->d->cfg.store.link_idle_s * 1000;
	char why[64];

	if (!on_demand(p->d) || idle_ms == 0 || p->nheld || now - p->used_ms < idle_ms)
		return false;
	ps_of(p->d)->c[PC_IDLE_CLOSED]++;
	snprintf(why, sizeof(why), "idle for %d s (links on demand)",
		 p->d->cfg.store.link_idle_s);
	link_close(p->ctl, why);
	return true;
}

void peer_directory(struct daemon *d, const char *name, const struct sockaddr_storage *addr)
{
	struct peer *p = peer_find(d, name);
	char a[ADDR_STRLEN];

	if (!d->pset || strcmp(name, d->cfg.node) == 0)
		return;
	if (!addr) {
		if (!p)
			return;
		p->listed = false;
		if (!p->ctl && !p->dial && !p->nheld) {
			log_info("peer %s forgotten: the route store no longer lists it", name);
			peer_free(p);
		}
		return;
	}
	if (!p) {
		if (peer_count_known(d) >= (size_t)d->cfg.limits.peers) {
			stats_limit(&d->stats, LIMIT_PEERS, 1);
			log_ratelimited(log_warnx, "route store lists node %s: not kept, %d "
					"peers known already ([limits] peers)", name,
					d->cfg.limits.peers);
			return;
		}
		p = peer_new(d, name);
		if (!p)
			return;
	}
	p->listed = true;
	if (!p->ctl && !p->dial && !addr_equal(&p->addr, addr)) {
		log_debug("peer %s at %s (route store)", name, addr_fmt(addr, a));
		p->addr = *addr;
		p->addr_known = true;
	}
	if (!on_demand(d))
		peer_dial(p); /* full links: the lower name dials, as with a seed */
}

/* --- peers --------------------------------------------------------------------------- */

static void on_retry(struct loop_timer *t, void *arg);
static void on_data_retry(struct loop_timer *t, void *arg);
static void on_substrate(struct peer *p, const uint8_t *buf, size_t len);
static void on_keepalive(struct loop_timer *t, void *arg);
static void on_rekey(struct loop_timer *t, void *arg);

static struct peer *peer_new(struct daemon *d, const char *name)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->d = d;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->addr.ss_family = AF_UNSPEC;
	p->rtt_ms = -1;
	p->since_ms = p->learned_ms = loop_now(d->loop);
	p->backoff_ms = PEER_BACKOFF_MIN_MS;
	p->policy = PEER_POLICY_DEFAULT;
	p->active = -1;
	p->drain_to = -2;
	p->held_tail = &p->held;
	chooser_init(&p->ch, d->cfg.udp_loss_max);
	loop_timer_init(&p->probe, on_probe, p);
	loop_timer_init(&p->drain, on_drain_timeout, p);
	loop_timer_init(&p->wait, on_wait_timeout, p);
	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		p->sub[i].p = p;
		p->sub[i].id = i;
		p->sub[i].backoff_ms = PEER_BACKOFF_MIN_MS;
		loop_timer_init(&p->sub[i].retry, on_data_retry, &p->sub[i]);
	}
	loop_timer_init(&p->retry, on_retry, p);
	loop_timer_init(&p->keepalive, on_keepalive, p);
	loop_timer_init(&p->rekey, on_rekey, p);
	p->next = d->peers;
	d->peers = p;
	return p;
}

static void peer_free(struct peer *p)
{
	struct daemon *d = p->d;

	loop_timer_stop(d->loop, &p->retry);
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		loop_timer_stop(d->loop, &p->sub[i].retry);
	loop_timer_stop(d->loop, &p->keepalive);
	loop_timer_stop(d->loop, &p->rekey);
	loop_timer_stop(d->loop, &p->probe);
	loop_timer_stop(d->loop, &p->drain);
	loop_timer_stop(d->loop, &p->wait);
	held_free(p, DROP_NO_LINK);
	for (struct peer **pp = &d->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	free(p);
}

/* We dial a named peer when our name is lower; the other side waits for us. With links
 * on demand, whichever side has frames waiting for the link dials. */
static bool we_dial(const struct peer *p)
{
	if (p->addr.ss_family == AF_UNSPEC)
		return false;
	if (on_demand(p->d))
		return p->nheld > 0 && loop_timer_armed(&p->wait);
	return strcmp(p->d->cfg.node, p->name) < 0;
}


/* A dial to an address only a hint gave us takes a token; false: wait for one. */
static bool hint_token(struct peer_set *ps, uint64_t now)
{
	double burst = PEER_HINT_DIALS_PER_S;

	ps->hint_tokens += (double)(now - ps->hint_ms) * PEER_HINT_DIALS_PER_S / 1000.0;
	if (ps->hint_tokens > burst)
		ps->hint_tokens = burst;
	ps->hint_ms = now;
	if (ps->hint_tokens < 1.0)
		return false;
	ps->hint_tokens -= 1.0;
	return true;
}

static void peer_dial(struct peer *p)
{
	struct daemon *d = p->d;
	struct peer_set *ps = ps_of(d);
	struct tunnel_link *lk;
	struct peer_link *l;
	int err;

	if (p->ctl || p->dial || !we_dial(p))
		return;
	if (!p->addr_known && !hint_token(ps, loop_now(d->loop))) {
		/* Wait for the bucket: about one token's time, with jitter. */
		loop_timer_arm(d->loop, &p->retry,
			       1000 / PEER_HINT_DIALS_PER_S + (uint64_t)(random() % 1000));
		return;
	}
	err = d->substrate->connect(ps->tcp, &p->addr, ps->tls, &lk);
	if (err < 0) {
		peer_schedule(p);
		return;
	}
	l = link_new(d, d->substrate, lk, LINK_CONTROL, true, &p->addr);
	if (!l) {
		d->substrate->close(lk);
		peer_schedule(p);
		return;
	}
	l->peer = p;
	p->dial = l;
}

static void on_retry(struct loop_timer *t, void *arg)
{
	peer_dial(arg);
}

/* Next attempt after the current backoff (with jitter), which then doubles. */
static uint32_t next_backoff(uint32_t *backoff)
{
	uint32_t b = *backoff, delay = b / 2 + (uint32_t)(random() % (b / 2 + 1));

	*backoff = b * 2 > PEER_BACKOFF_MAX_MS ? PEER_BACKOFF_MAX_MS : b * 2;
	return delay;
}

static void peer_schedule(struct peer *p)
{
	if (!we_dial(p) || p->ctl || p->dial)
		return;
	loop_timer_arm(p->d->loop, &p->retry, next_backoff(&p->backoff_ms));
}

/* Whether both ends have substrate id and this one can use it. */
static bool sub_common(const struct peer *p, int id)
{
	return ps_of(p->d)->sub[id].t && (p->substrates & (1u << id));
}

/* The side that dialed the control link opens a data link on every substrate both ends
 * have, to the address it dialed (the peer listens on every substrate at that address).
 * A substrate whose links are made from parameters (tunnel.h) sends its blob in a
 * SUBSTRATE frame on the control link and waits for the answer. */
static void data_dial(struct peer_sub *sb)
{
	struct peer *p = sb->p;
	struct daemon *d = p->d;
	struct set_sub *ss = &ps_of(d)->sub[sb->id];
	struct tunnel_link *lk;
	struct peer_link *l;

	if (!p->ctl || !p->ctl->initiator || sb->dial || sb->link || !sub_common(p, sb->id) ||
	    p->ctl->remote.ss_family == AF_UNSPEC)
		return;
	if (ss->ops->connect(ss->t, &p->ctl->remote, NULL, &lk) < 0) {
		data_schedule(sb);
		return;
	}
	l = link_new(d, ss->ops, lk, LINK_DATA, true, &p->ctl->remote);
	if (!l) {
		ss->ops->close(lk);
		data_schedule(sb);
		return;
	}
	l->peer = p;
	l->id = ++p->link_next;
	sb->dial = l;
	if (ss->ops->params) {
		struct msg_substrate m;
		uint8_t out[MSG_SUBSTRATE_BLOB_MAX + 16];
		int n;

		m.substrate = (uint8_t)sb->id;
		m.link = l->id;
		n = ss->ops->params(lk, m.blob, sizeof(m.blob));
		if (n < 0) {
			link_close(l, "no parameters for the data link");
			return;
		}
		m.len = (size_t)n;
		n = msg_substrate_encode(&m, out, sizeof(out));
		if (n < 0 || peer_send_ctl(p, FRAME_SUBSTRATE, 0, out, (size_t)n) < 0)
			link_close(l, "cannot send the data link's parameters");
	}
}

static void data_dial_all(struct peer *p)
{
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		data_dial(&p->sub[i]);
}

static void on_data_retry(struct loop_timer *t, void *arg)
{
	data_dial(arg);
}

static void data_schedule(struct peer_sub *sb)
{
	struct peer *p = sb->p;

	if (!p->ctl || !p->ctl->initiator || sb->dial || !sub_common(p, sb->id))
		return;
	loop_timer_arm(p->d->loop, &sb->retry, next_backoff(&sb->backoff_ms));
}

/* SUBSTRATE on the control link: the dialer's parameters for a data link (we are the
 * listener: make our end and answer), or the listener's answer (we dialed: hand them to
 * our end). */
static void on_substrate(struct peer *p, const uint8_t *buf, size_t len)
{
	struct daemon *d = p->d;
	struct peer_set *ps = ps_of(d);
	struct msg_substrate *m = (struct msg_substrate *)ps->in; /* scratch, big enough */
	struct set_sub *ss;
	struct peer_sub *sb;
	struct tunnel_link *lk;
	struct peer_link *l;
	uint8_t out[MSG_SUBSTRATE_BLOB_MAX + 16];
	int n;

	_Static_assert(sizeof(struct msg_substrate) <= sizeof(ps->in), "scratch");
	if (msg_substrate_decode(buf, len, m) < 0 || m->substrate >= SUBSTRATE_MAX) {
		stats_add(&d->stats, STAT_PROTOCOL_ERRORS, 1);
		link_close(p->ctl, "malformed SUBSTRATE");
		return;
	}
	sb = &p->sub[m->substrate];
	ss = &ps->sub[m->substrate];
	if (!sub_common(p, m->substrate) || !ss->ops->params) {
		log_ratelimited(log_warnx, "peer %s: SUBSTRATE for %s, which we cannot use",
				p->name, substrate_name(m->substrate));
		return;
	}
	if (p->ctl->initiator) {
		/* the answer to our data_dial() */
		if (!sb->dial || sb->dial->id != m->link)
			return; /* an attempt we gave up already */
		if (ss->ops->set_params(sb->dial->lk, m->blob, m->len) < 0)
			link_close(sb->dial, "the peer's parameters were refused");
		return;
	}
	/* The listener's end: one attempt per substrate at a time, for a rising number. */
	if (sb->dial)
		link_close(sb->dial, "replaced by a newer attempt");
	if (m->link <= sb->link_last_in ||
	    ss->ops->accept_params(ss->t, m->blob, m->len, &lk) < 0)
		return;
	l = link_new(d, ss->ops, lk, LINK_DATA, false, &p->ctl->remote);
	if (!l) {
		ss->ops->close(lk);
		return;
	}
	sb->dial = l;
	l->peer = p; /* not bound: LINK_OPEN still has to prove it */
	l->id = m->link;
	n = ss->ops->params(lk, m->blob, sizeof(m->blob));
	if (n < 0) {
		link_close(l, "no parameters for the data link");
		return;
	}
	m->len = (size_t)n;
	n = msg_substrate_encode(m, out, sizeof(out));
	if (n < 0 || peer_send_ctl(p, FRAME_SUBSTRATE, 0, out, (size_t)n) < 0)
		link_close(l, "cannot answer SUBSTRATE");
}

static void on_keepalive(struct loop_timer *t, void *arg)
{
	struct peer *p = arg;
	uint64_t now = loop_now(p->d->loop);
	uint8_t buf[8];
	size_t off = 0;

	if (!p->ctl)
		return;
	if (p->ctl_overflow) {
		stats_limit(&p->d->stats, LIMIT_CTL_QUEUE, 1);
		link_close(p->ctl, "control queue full: link reset, tables resync");
		return;
	}
	if (now - p->last_rx_ms > (uint64_t)p->d->cfg.peer_timeout_s * 1000) {
		link_close(p->ctl, "keepalive timeout");
		return;
	}
	if (demand_idle(p, now))
		return;
	put_be64(buf, sizeof(buf), &off, now);
	peer_send_ctl(p, FRAME_PING, 0, buf, sizeof(buf));
	loop_timer_arm(p->d->loop, &p->keepalive, PEER_KEEPALIVE_MS);
}

/* Data keys move to their next generation every rekey_interval, in the sending
 * direction; the receiver follows without a pause (tunnel/seal.h). */
static void on_rekey(struct loop_timer *t, void *arg)
{
	struct peer *p = arg;

	for (int i = 0; i < SUBSTRATE_MAX; i++)
		if (p->sub[i].link && p->sub[i].link->sealed)
			seal_rekey_tx(&p->sub[i].link->seal);
	if (p->ctl)
		loop_timer_arm(p->d->loop, &p->rekey, (uint64_t)p->d->cfg.rekey_s * 1000);
}

/* A hint: another node says a member is at an address. */
static void learn(struct daemon *d, const struct msg_member *m)
{
	struct peer *p;

	if (strcmp(m->name, d->cfg.node) == 0)
		return;
	p = peer_find(d, m->name);
	if (!p) {
		if (peer_count_known(d) >= (size_t)d->cfg.limits.peers) {
			ps_of(d)->c[PC_HINTS_DROPPED]++;
			stats_limit(&d->stats, LIMIT_PEERS, 1);
			return;
		}
		p = peer_new(d, m->name);
		if (!p)
			return;
		log_debug("hint: peer %s", m->name);
	}
	if (!p->ctl)
		p->hinted = true;
	/* A hint never replaces an address that was configured or proven. */
	if (!p->addr_known && m->addr.ss_family != AF_UNSPEC && !p->ctl && !p->dial)
		p->addr = m->addr;
	if (!p->ctl && !p->dial && !loop_timer_armed(&p->retry))
		peer_dial(p);
}

void peer_hint(struct daemon *d, const char *name, const struct sockaddr_storage *addr)
{
	struct msg_member m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.addr = *addr;
	learn(d, &m);
}


static bool at_seed(struct daemon *d, const struct peer *p);

/* How often peers are looked over: GC_MS, or twice per peer_forget when that is shorter. */
static uint64_t gc_ms(const struct daemon *d)
{
	uint64_t half = (uint64_t)d->cfg.limits.peer_forget_s * 500;

	return half < GC_MS ? half : GC_MS;
}

/* Forgets peers that stay unreachable for peer_forget: hinted ones never proven, and
 * ones that were up but have been down that long. A peer at a seed's address (the
 * operator configured it) is kept. */
static void on_gc(struct loop_timer *t, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = loop_now(d->loop), forget = (uint64_t)d->cfg.limits.peer_forget_s * 1000;
	struct peer *next;

	for (struct peer *p = d->peers; p; p = next) {
		next = p->next;
		if (p->ctl || p->dial || p->listed || p->nheld || (!p->ever_up && p->addr_known) ||
		    now - (p->ever_up ? p->since_ms : p->learned_ms) < forget || at_seed(d, p))
			continue;
		ps_of(d)->c[PC_HINTS_FORGOTTEN]++;
		log_info("forgetting peer %s: %s for %d s", p->name,
			 p->ever_up ? "down" : "never proven", d->cfg.limits.peer_forget_s);
		peer_free(p);
	}
	loop_timer_arm(d->loop, t, gc_ms(d));
}

/* --- seeds --------------------------------------------------------------------------- */

static bool at_seed(struct daemon *d, const struct peer *p)
{
	struct peer_set *ps = ps_of(d);

	for (int i = 0; p->addr_known && i < ps->nseeds; i++)
		if (addr_equal(&p->addr, &ps->seeds[i].addr))
			return true;
	return false;
}

static bool seed_reached(const struct seed *s)
{
	if (s->is_self)
		return true;
	for (struct peer *p = s->d->peers; p; p = p->next)
		if (p->ctl && addr_equal(&p->addr, &s->addr))
			return true;
	return false;
}

static void seed_dial(struct seed *s)
{
	struct daemon *d = s->d;
	struct tunnel_link *lk;
	struct peer_link *l;

	if (s->dial || seed_reached(s) || on_demand(d))
		return;
	if (d->substrate->connect(ps_of(d)->tcp, &s->addr, ps_of(d)->tls, &lk) < 0) {
		seed_schedule(s);
		return;
	}
	l = link_new(d, d->substrate, lk, LINK_CONTROL, true, &s->addr);
	if (!l) {
		d->substrate->close(lk);
		seed_schedule(s);
		return;
	}
	l->seed = s;
	s->dial = l;
}

static void on_seed_retry(struct loop_timer *t, void *arg)
{
	seed_dial(arg);
}

static void seed_schedule(struct seed *s)
{
	if (s->dial || seed_reached(s))
		return;
	loop_timer_arm(s->d->loop, &s->retry, next_backoff(&s->backoff_ms));
}

/* When a peer goes down, the seeds at its address start dialing again. */
static void seeds_kick(struct daemon *d)
{
	struct peer_set *ps = ps_of(d);

	for (int i = 0; i < ps->nseeds; i++)
		if (!ps->seeds[i].dial && !loop_timer_armed(&ps->seeds[i].retry))
			seed_schedule(&ps->seeds[i]);
}

static int seeds_set(struct daemon *d, const struct config *cfg)
{
	struct peer_set *ps = ps_of(d);
	struct seed *ns = calloc((size_t)cfg->nseeds + 1, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (int i = 0; i < cfg->nseeds; i++) {
		ns[i].d = d;
		ns[i].addr = cfg->seeds[i];
		ns[i].backoff_ms = PEER_BACKOFF_MIN_MS;
		loop_timer_init(&ns[i].retry, on_seed_retry, &ns[i]);
	}
	for (int i = 0; i < ps->nseeds; i++) {
		loop_timer_stop(d->loop, &ps->seeds[i].retry);
		if (ps->seeds[i].dial) {
			ps->seeds[i].dial->seed = NULL; /* the attempt goes on, unowned */
			ps->seeds[i].dial = NULL;
		}
	}
	free(ps->seeds);
	ps->seeds = ns;
	ps->nseeds = cfg->nseeds;
	for (int i = 0; i < ps->nseeds; i++)
		seed_dial(&ps->seeds[i]);
	return 0;
}

void peer_reload(struct daemon *d, const struct config *nc)
{
	struct peer_set *ps = ps_of(d);
	char a[ADDR_STRLEN], why[TLS_WHY_MAX];

	if (seeds_set(d, nc) < 0) {
		log_warnx("reload: out of memory, seeds unchanged");
	} else {
		d->cfg.nseeds = nc->nseeds;
		memcpy(d->cfg.seeds, nc->seeds, sizeof(d->cfg.seeds));
		for (int i = 0; i < ps->nseeds; i++)
			log_info("seed %s", addr_fmt(&ps->seeds[i].addr, a));
	}
	if (!nc->crl_file[0])
		return;
	if (tls_ctx_reload_crl(ps->tls, nc->crl_file, why, sizeof(why)) < 0) {
		log_warnx("reload: %s; keeping the revocation list in use", why);
		return;
	}
	snprintf(d->cfg.crl_file, sizeof(d->cfg.crl_file), "%s", nc->crl_file);
	log_info("revocation list %s re-read", nc->crl_file);
	for (struct peer *p = d->peers; p; p = p->next) {
		SSL *s = ctl_ssl(p);

		if (s && tls_recheck(ps->tls, s, why, sizeof(why)) < 0) {
			log_warnx("peer %s: %s: dropping it", p->name, why);
			ps->c[PC_REFUSED_CERT]++;
			stats_add(&d->stats, STAT_HANDSHAKE_REFUSED, 1);
			link_close(p->ctl, "certificate no longer valid");
		}
	}
}

/* --- links ---------------------------------------------------------------------------- */

static void pending_unlist(struct peer_link *l)
{
	struct peer_set *ps = ps_of(l->d);

	for (struct peer_link **pp = &ps->pending; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			ps->npending--;
			return;
		}
	}
}

static void data_unlist(struct peer *p, struct peer_link *l)
{
	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		if (p->sub[i].link == l) {
			p->sub[i].link = NULL;
			p->sub[i].downs++;
			chooser_link(&p->ch, i, false, false, loop_now(p->d->loop));
			if (p->active == i && p->drain_to != -2)
				drain_done(p); /* the link drained is gone */
		}
	}
	if (p->ctl)
		peer_choose(p);
}

/* The peer's session is over: its data links go with it (their keys came from it). */
static void peer_down(struct peer *p, const char *why)
{
	struct daemon *d = p->d;
	struct peer_set *ps = ps_of(d);

	log_info("peer %s down: %s", p->name, why);
	stats_add(&d->stats, STAT_LINK_DOWNS, 1);
	events_peer(d->events, EVENT_PEER_DOWN, p->name, why);
	p->ctl = NULL;
	p->ctl_overflow = false;
	p->since_ms = loop_now(d->loop);
	loop_timer_stop(d->loop, &p->keepalive);
	loop_timer_stop(d->loop, &p->rekey);
	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		loop_timer_stop(d->loop, &p->sub[i].retry);
		if (p->sub[i].link)
			link_close(p->sub[i].link, "its control link is down");
		if (p->sub[i].dial)
			link_close(p->sub[i].dial, "its control link is down");
	}
	p->active = -1;
	loop_timer_stop(d->loop, &p->probe);
	loop_timer_stop(d->loop, &p->drain);
	held_free(p, DROP_NO_LINK);
	p->drain_to = -2;
	if (ps->ev && ps->ev->down)
		ps->ev->down(p, why, ps->arg);
}

/* Closes l and updates whoever pointed at it. */
static void link_close(struct peer_link *l, const char *why)
{
	struct daemon *d = l->d;
	struct peer *p = l->peer;
	char desc[ADDR_STRLEN + NODE_NAME_MAX + 4];

	if (p && p->ctl == l) {
		peer_down(p, why);
	} else if (p && l->role == LINK_DATA && l->bound) {
		data_unlist(p, l);
		log_info("peer %s: data link %llu down: %s", p->name, (unsigned long long)l->id,
			 why);
	} else {
		log_debug("link %s closed: %s", link_desc(l, desc), why);
	}
	if (p && p->dial == l)
		p->dial = NULL;
	for (int i = 0; p && i < SUBSTRATE_MAX; i++)
		if (p->sub[i].dial == l)
			p->sub[i].dial = NULL;
	if (l->seed && l->seed->dial == l)
		l->seed->dial = NULL;
	if (!l->bound)
		pending_unlist(l);
	loop_timer_stop(d->loop, &l->timeout);
	loop_timer_stop(d->loop, &l->resend);
	/* What we queued goes out first (a goodbye frame, the last data). */
	l->ops->flush(l->lk);
	l->ops->close(l->lk);
	if (l->seed)
		seed_schedule(l->seed);
	if (p && l->role == LINK_CONTROL) {
		peer_schedule(p);
		if (!p->ctl)
			seeds_kick(d);
	}
	if (p && l->role == LINK_DATA && p->ctl)
		data_schedule(&p->sub[substrate_id(l->ops)]);
	if (l->sealed)
		seal_free(&l->seal);
	free(l);
}

static void on_relink(struct loop_timer *t, void *arg);

/* The handshake deadline counts the time the remote keeps silent: a link whose remote
 * sent something since the last look (maybe faster than a busy loop read it) gets
 * another PEER_HANDSHAKE_MS, up to PEER_HANDSHAKE_MAX_MS in all. A stranger that says
 * nothing still goes after PEER_HANDSHAKE_MS; one that trickles holds its pending slot
 * (limits: pending_handshakes, pending_per_address) at most PEER_HANDSHAKE_MAX_MS. */
static void on_handshake_timeout(struct loop_timer *t, void *arg)
{
	struct peer_link *l = arg;
	uint64_t now = loop_now(l->d->loop);
	uint64_t rx = l->ops->rx_bytes ? l->ops->rx_bytes(l->lk) : 0;
	char desc[ADDR_STRLEN + NODE_NAME_MAX + 4];
	const char *stage;

	if (rx > l->hs_rx && now - l->hs_start_ms + PEER_HANDSHAKE_MS <= PEER_HANDSHAKE_MAX_MS) {
		l->hs_rx = rx;
		loop_timer_arm(l->d->loop, t, PEER_HANDSHAKE_MS);
		return;
	}
	ps_of(l->d)->c[PC_HANDSHAKE_TIMEOUT]++;
	if (!l->ready)
		stage = l->initiator ? "connecting or TLS" : "TLS or the first byte";
	else if (l->role == LINK_CONTROL)
		stage = "waiting for HELLO";
	else
		stage = l->initiator ? "waiting for LINK_OK" : "waiting for LINK_OPEN";
	log_ratelimited(log_info, "link %s (%s, %s): handshake timed out after %llu ms, "
			"%llu bytes received (counted in handshake_timeouts)",
			link_desc(l, desc), l->initiator ? "dialed" : "accepted", stage,
			(unsigned long long)(now - l->hs_start_ms), (unsigned long long)rx);
	link_close(l, "handshake timed out");
}

static struct peer_link *link_new(struct daemon *d, const struct tunnel_ops *ops,
				  struct tunnel_link *lk, enum link_role role, bool initiator,
				  const struct sockaddr_storage *remote)
{
	struct peer_set *ps = ps_of(d);
	struct peer_link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->d = d;
	l->ops = ops;
	l->lk = lk;
	l->role = role;
	l->initiator = initiator;
	if (remote)
		l->remote = *remote;
	else
		l->remote.ss_family = AF_UNSPEC;
	loop_timer_init(&l->timeout, on_handshake_timeout, l);
	loop_timer_init(&l->resend, on_relink, l);
	l->hs_start_ms = loop_now(d->loop);
	loop_timer_arm(d->loop, &l->timeout, PEER_HANDSHAKE_MS);
	l->next = ps->pending;
	ps->pending = l;
	ps->npending++;
	ops->set_events(lk, &link_events, l);
	return l;
}

/* Counts and closes a link whose peer we will not have; logged once per address. */
static void refuse(struct peer_link *l, enum peer_counter why_counter, const char *why)
{
	struct peer_set *ps = ps_of(l->d);
	char desc[ADDR_STRLEN + NODE_NAME_MAX + 4];
	int i;

	ps->c[why_counter]++;
	stats_add(&l->d->stats, STAT_HANDSHAKE_REFUSED, 1);
	{
		char a[ADDR_STRLEN], detail[TLS_WHY_MAX + ADDR_STRLEN + 4];

		snprintf(detail, sizeof(detail), "%s: %s", addr_fmt(&l->remote, a), why);
		events_peer(l->d->events, EVENT_HANDSHAKE_REFUSED, l->name, detail);
	}
	for (i = 0; i < ps->nrefused && !addr_same_host(&ps->refused[i], &l->remote); i++)
		;
	if (i == ps->nrefused) {
		log_warnx("refused %s: %s (logged once per address; counted in "
			  "handshake_refused)", link_desc(l, desc), why);
		if (ps->nrefused < REFUSED_LOG_MAX)
			ps->refused[ps->nrefused++] = l->remote;
	}
	link_close(l, why);
}

/* The name of the node that dialed l: both sides compute the same. */
static const char *dialer(const struct peer_link *l)
{
	return l->initiator ? l->d->cfg.node : l->name;
}

static void bind_pending(struct peer_link *l, struct peer *p)
{
	if (p->dial == l)
		p->dial = NULL;
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		if (p->sub[i].dial == l)
			p->sub[i].dial = NULL;
	if (l->seed && l->seed->dial == l)
		l->seed->dial = NULL;
	l->seed = NULL;
	pending_unlist(l);
	loop_timer_stop(l->d->loop, &l->timeout);
	loop_timer_stop(l->d->loop, &l->resend);
	l->peer = p;
	l->bound = true;
}

/* A control link whose peer proved its name (certificate) and said HELLO: the peer is up. */
static void ctl_bind(struct peer_link *l, const struct msg_hello *h)
{
	struct daemon *d = l->d;
	struct peer_set *ps = ps_of(d);
	struct peer *p;
	char a[ADDR_STRLEN], why[128];
	bool news;

	if (strcmp(h->name, l->name) != 0) {
		snprintf(why, sizeof(why), "HELLO says \"%s\" but the certificate names \"%s\"",
			 h->name, l->name);
		refuse(l, PC_REFUSED_HELLO, why);
		return;
	}
	if (strcmp(l->name, d->cfg.node) == 0) {
		if (l->seed)
			l->seed->is_self = true;
		link_close(l, "connected to ourselves");
		return;
	}
	if (!(h->flags & MSG_HELLO_SEALED) != !d->cfg.sealed) {
		snprintf(why, sizeof(why), "data_protection differs: %s here, %s there",
			 d->cfg.sealed ? "sealed" : "none",
			 h->flags & MSG_HELLO_SEALED ? "sealed" : "none");
		refuse(l, PC_REFUSED_HELLO, why);
		return;
	}
	if (l->peer && strcmp(l->peer->name, l->name) != 0) {
		/* We dialed one name and reached another: that address is not the first
		 * one's. A hinted address was wrong: forget it. */
		struct peer *old = l->peer;

		old->dial = NULL;
		if (!old->addr_known)
			old->addr.ss_family = AF_UNSPEC;
		l->peer = NULL;
		peer_schedule(old);
	}
	p = peer_find(d, l->name);
	news = !p || !p->hinted; /* up, it dialed again: restarted */
	if (!p) {
		if (peer_count_known(d) >= (size_t)d->cfg.limits.peers) {
			stats_limit(&d->stats, LIMIT_PEERS, 1);
			link_close(l, "too many peers known");
			return;
		}
		p = peer_new(d, l->name);
		if (!p) {
			link_close(l, "out of memory");
			return;
		}
	}
	/* Its own word about itself, over its own authenticated link. */
	if (h->listen.ss_family != AF_UNSPEC) {
		p->addr = h->listen;
		p->addr_known = true;
	} else if (l->initiator && l->remote.ss_family != AF_UNSPEC) {
		p->addr = l->remote;
		p->addr_known = true;
	}
	if (p->ctl) {
		/* Two links to one peer: keep the one dialed by the lower name. */
		if (strcmp(dialer(l), dialer(p->ctl)) >= 0) {
			link_close(l, "duplicate link");
			return;
		}
		link_close(p->ctl, "replaced by a link dialed by the lower name");
	}
	bind_pending(l, p);
	p->ctl = l;
	p->ever_up = true;
	p->hinted = false;
	p->since_ms = p->last_rx_ms = p->used_ms = loop_now(d->loop);
	p->backoff_ms = PEER_BACKOFF_MIN_MS;
	p->substrates = h->substrates;
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		p->sub[i].backoff_ms = PEER_BACKOFF_MIN_MS;
	p->link_next = 0;
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		p->sub[i].link_last_in = 0;
	loop_timer_stop(d->loop, &p->retry);
	loop_timer_arm(d->loop, &p->keepalive, PEER_KEEPALIVE_MS);
	loop_timer_arm(d->loop, &p->rekey, (uint64_t)d->cfg.rekey_s * 1000);
	loop_timer_arm(d->loop, &p->probe, CHOOSER_PROBE_MS);
	stats_add(&d->stats, STAT_LINK_UPS, 1);
	log_info("peer %s up (%s, %s, TLS)", p->name, addr_fmt(&l->remote, a),
		 l->initiator ? "dialed" : "accepted");
	{
		char detail[ADDR_STRLEN + 16];

		snprintf(detail, sizeof(detail), "%s, %s", a, l->initiator ? "dialed" : "accepted");
		events_peer(d->events, EVENT_PEER_UP, p->name, detail);
	}
	if (news && !on_demand(d))
		members_announce(p);
	if (ps->ev && ps->ev->up)
		ps->ev->up(p, ps->arg);
	demand_flush(p);
	data_dial_all(p);
}

static void data_up(struct peer *p, struct peer_link *l)
{
	struct peer_set *ps = ps_of(p->d);

	struct peer_sub *sb = &p->sub[substrate_id(l->ops)];

	bind_pending(l, p);
	if (sb->link) /* the older goes */
		link_close(sb->link, "replaced by a newer data link");
	sb->link = l;
	sb->backoff_ms = PEER_BACKOFF_MIN_MS;
	sb->ups++;
	chooser_link(&p->ch, sb->id, true, !l->ops->caps.reliable, loop_now(p->d->loop));
	ps->c[PC_DATA_LINKS_UP]++;
	peer_choose(p);
	log_info("peer %s: data link %llu up (%s, %s)", p->name, (unsigned long long)l->id,
		 l->ops->name, l->sealed ? "sealed" : "not sealed");
}

/* LINK_OK for link l (we are its listener), proved with session s. 0 or -errno. */
static int send_link_ok(struct peer_link *l, SSL *s, const struct msg_link_open *m)
{
	struct msg_link_ok ok;
	uint8_t out[64];
	int n;

	ok.link = m->link;
	if (link_proof(s, true, m->name, l->d->cfg.node, m->link, m->substrate, m->flags,
		       ok.mac) < 0 ||
	    (n = msg_link_ok_encode(&ok, out, sizeof(out))) < 0)
		return -EIO;
	return l->ops->send(l->lk, FRAME_LINK_OK, 0, out, (size_t)n);
}

/* A datagram link already bound got its LINK_OPEN again: our LINK_OK was lost. Only
 * the same link's proof is answered, never a new one. */
static void relink_ok(struct peer_link *l, const uint8_t *buf, size_t len)
{
	struct msg_link_open m;
	SSL *s = ctl_ssl(l->peer);

	if (!s || msg_link_open_decode(buf, len, &m) < 0 || m.link != l->id ||
	    strcmp(m.name, l->peer->name) != 0 ||
	    !link_proof_ok(s, false, m.name, l->d->cfg.node, m.link, m.substrate, m.flags,
			   m.mac))
		return;
	send_link_ok(l, s, &m);
}

/* The listener's side of a data link: LINK_OPEN must prove the peer's session. */
static void on_link_open(struct peer_link *l, const uint8_t *buf, size_t len)
{
	struct daemon *d = l->d;
	struct msg_link_open m;
	struct peer *p;
	SSL *s;

	if (msg_link_open_decode(buf, len, &m) < 0) {
		refuse(l, PC_REFUSED_LINK, "malformed LINK_OPEN");
		return;
	}
	snprintf(l->name, sizeof(l->name), "%s", m.name);
	p = peer_find(d, m.name);
	s = p ? ctl_ssl(p) : NULL;
	if (!s) {
		refuse(l, PC_REFUSED_LINK, "LINK_OPEN for a node with no session here");
		return;
	}
	if (m.substrate != substrate_id(l->ops) || !(m.flags & MSG_HELLO_SEALED) != !d->cfg.sealed ||
	    m.link <= p->sub[m.substrate].link_last_in ||
	    !link_proof_ok(s, false, m.name, d->cfg.node, m.link, m.substrate, m.flags, m.mac)) {
		refuse(l, PC_REFUSED_LINK, "LINK_OPEN does not prove the peer's session");
		return;
	}
	if (l->ops->params && (!l->peer || l->peer != p || l->id != m.link)) {
		refuse(l, PC_REFUSED_LINK, "LINK_OPEN for another link than its parameters");
		return;
	}
	p->sub[m.substrate].link_last_in = m.link;
	l->id = m.link;
	if (send_link_ok(l, s, &m) < 0 || (d->cfg.sealed && link_seal_keys(l, s) < 0)) {
		link_close(l, "cannot answer LINK_OPEN");
		return;
	}
	data_up(p, l);
}

/* The dialer's side: LINK_OK must prove the same session back. */
static void on_link_ok(struct peer_link *l, const uint8_t *buf, size_t len)
{
	struct daemon *d = l->d;
	struct peer *p = l->peer;
	uint8_t flags = d->cfg.sealed ? MSG_HELLO_SEALED : 0;
	struct msg_link_ok m;
	SSL *s = p ? ctl_ssl(p) : NULL;

	if (!s || msg_link_ok_decode(buf, len, &m) < 0 || m.link != l->id ||
	    !link_proof_ok(s, true, d->cfg.node, p->name, l->id, (uint8_t)substrate_id(l->ops),
			   flags, m.mac)) {
		refuse(l, PC_REFUSED_LINK, "LINK_OK does not prove the peer's session");
		return;
	}
	if (d->cfg.sealed && link_seal_keys(l, s) < 0) {
		link_close(l, "cannot key the data link");
		return;
	}
	data_up(p, l);
}

static void on_peers(struct peer *p, const uint8_t *buf, size_t len)
{
	struct peer_set *ps = ps_of(p->d);
	size_t n;

	if (msg_peers_decode(buf, len, ps->members, MAX_MEMBERS, &n) < 0) {
		stats_add(&p->d->stats, STAT_PROTOCOL_ERRORS, 1);
		link_close(p->ctl, "malformed PEERS");
		return;
	}
	ps->c[PC_MEMBERS_HEARD] += n;
	if (on_demand(p->d))
		return; /* the route store lists the nodes */
	for (size_t i = 0; i < n; i++)
		learn(p->d, &ps->members[i]);
}

static void protocol_error(struct peer_link *l, const char *what)
{
	char why[96], desc[ADDR_STRLEN + NODE_NAME_MAX + 4];

	stats_add(&l->d->stats, STAT_PROTOCOL_ERRORS, 1);
	snprintf(why, sizeof(why), "%s", what);
	log_warnx("link %s: %s, closing", link_desc(l, desc), why);
	link_close(l, why);
}

/* A frame on a link not bound yet: only its handshake's frames. */
static void on_handshake_frame(struct peer_link *l, const struct frame_hdr *h,
			       const uint8_t *payload)
{
	char why[64];

	if (l->role == LINK_CONTROL && h->type == FRAME_HELLO && !l->got_hello) {
		struct msg_hello m;

		l->got_hello = true;
		if (msg_hello_decode(payload, h->len, &m) < 0) {
			stats_add(&l->d->stats, STAT_PROTOCOL_ERRORS, 1);
			refuse(l, PC_REFUSED_HELLO, "malformed HELLO");
			return;
		}
		ctl_bind(l, &m);
		return;
	}
	if (l->role == LINK_DATA && !l->initiator && h->type == FRAME_LINK_OPEN &&
	    !(l->ops->params && !l->peer)) {
		on_link_open(l, payload, h->len);
		return;
	}
	if (l->role == LINK_DATA && l->initiator && h->type == FRAME_LINK_OK) {
		on_link_ok(l, payload, h->len);
		return;
	}
	stats_add(&l->d->stats, STAT_PROTOCOL_ERRORS, 1);
	snprintf(why, sizeof(why), "%s frame before the handshake finished",
		 frame_type_name(h->type));
	refuse(l, l->role == LINK_DATA ? PC_REFUSED_LINK : PC_REFUSED_HELLO, why);
}

static void on_frame(struct tunnel_link *lk, const struct frame_hdr *h, const uint8_t *payload,
		     void *arg)
{
	struct peer_link *l = arg;
	struct peer *p = l->peer;
	struct peer_set *ps = ps_of(l->d);
	const uint8_t *body;
	size_t len;
	char why[96];
	int err;

	if (!l->bound) {
		on_handshake_frame(l, h, payload);
		return;
	}
	if (h->type == FRAME_LINK_OPEN && !l->initiator && !l->ops->caps.reliable) {
		/* our LINK_OK was lost: the dialer asks again */
		relink_ok(l, payload, h->len);
		return;
	}
	if (h->type == FRAME_LINK_OK && l->initiator && !l->ops->caps.reliable)
		return; /* an answer to a LINK_OPEN sent again */
	err = link_open(l, h, payload, ps->in, &body, &len);
	if (err < 0 && !l->ops->caps.reliable) {
		/* A datagram anyone could have sent (a spoofed source, a replay): dropped
		 * and counted, the link kept. */
		ps->c[err == -EALREADY ? PC_REPLAYED_FRAMES : PC_DATAGRAMS_REJECTED]++;
		p->rejected++;
		return;
	}
	if (err < 0) {
		/* Forged, altered, replayed or reordered: the link cannot be trusted from
		 * here on; a new one is made (the control link re-dials, the data link is
		 * opened again). Routes and jobs do not notice. */
		ps->c[err == -EALREADY ? PC_REPLAYED_FRAMES : PC_REJECTED_FRAMES]++;
		p->rejected++;
		snprintf(why, sizeof(why), "a %s frame %s", frame_type_name(h->type),
			 err == -EALREADY ? "was replayed or reordered" : "failed authentication");
		log_ratelimited(log_warnx, "peer %s: %s, closing the link", p->name, why);
		link_close(l, why);
		return;
	}
	l->rx_frames++;
	p->rx_frames++;
	p->last_rx_ms = loop_now(l->d->loop);
	if (l != p->ctl)
		chooser_rx(&p->ch, substrate_id(l->ops), p->last_rx_ms);
	if (keeps_open(h->type))
		p->used_ms = p->last_rx_ms;
	switch (h->type) {
	case FRAME_DATA:
		p->sub[substrate_id(l->ops)].rx_packets++;
		p->sub[substrate_id(l->ops)].rx_bytes += len;
		if (ps->ev && ps->ev->frame)
			ps->ev->frame(p, h->type, h->flags & ~FRAME_F_SEALED, body, len, ps->arg);
		return;
	case FRAME_PING:
		/* a data link's probe: only its head comes back (a train's padding not) */
		link_send(l, FRAME_PONG, 0, body, l != p->ctl && len > PROBE_LEN ? PROBE_LEN : len,
			  ps->out);
		return;
	case FRAME_PONG: {
		if (l != p->ctl) {
			on_probe_answer(p, l, body, len);
			return;
		}
		uint64_t ts, now = loop_now(l->d->loop);
		size_t off = 0;

		if (l == p->ctl && get_be64(body, len, &off, &ts) && ts <= now)
			p->rtt_ms = (int64_t)(now - ts);
		return;
	}
	case FRAME_SUBSTRATE:
		if (l != p->ctl)
			break;
		on_substrate(p, body, len);
		return;
	case FRAME_PEERS:
	case FRAME_ROUTES:
	case FRAME_MIGRATE:
	case FRAME_MIGRATE_DONE:
		if (l != p->ctl)
			break; /* control frames come on the control link only */
		if (h->type == FRAME_PEERS) {
			on_peers(p, body, len);
			return;
		}
		if (ps->ev && ps->ev->frame &&
		    ps->ev->frame(p, h->type, h->flags & ~FRAME_F_SEALED, body, len,
				  ps->arg) < 0) {
			snprintf(why, sizeof(why), "malformed %s", frame_type_name(h->type));
			protocol_error(l, why);
		}
		return;
	default:
		break;
	}
	snprintf(why, sizeof(why), "unexpected %s frame on a %s link", frame_type_name(h->type),
		 l->role == LINK_CONTROL ? "control" : "data");
	protocol_error(l, why);
}

/* The dialer's first frame on a data link. On a substrate that may lose it, it is sent
 * again every PEER_RELINK_MS until LINK_OK or the handshake deadline. */
static int send_link_open(struct peer_link *l)
{
	struct peer *p = l->peer;
	struct msg_link_open m;
	uint8_t out[128];
	SSL *cs = p ? ctl_ssl(p) : NULL;
	int n;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", l->d->cfg.node);
	m.link = l->id;
	m.substrate = (uint8_t)substrate_id(l->ops);
	m.flags = l->d->cfg.sealed ? MSG_HELLO_SEALED : 0;
	if (!cs || link_proof(cs, false, m.name, p->name, m.link, m.substrate, m.flags,
			      m.mac) < 0 ||
	    (n = msg_link_open_encode(&m, out, sizeof(out))) < 0 ||
	    l->ops->send(l->lk, FRAME_LINK_OPEN, 0, out, (size_t)n) < 0)
		return -EIO;
	l->ops->flush(l->lk);
	if (!l->ops->caps.reliable)
		loop_timer_arm(l->d->loop, &l->resend, PEER_RELINK_MS);
	return 0;
}

static void on_relink(struct loop_timer *t, void *arg)
{
	struct peer_link *l = arg;

	if (!l->bound && send_link_open(l) < 0)
		link_close(l, "cannot open the data link");
}

static void on_ready(struct tunnel_link *lk, void *arg)
{
	struct peer_link *l = arg;
	SSL *s = l->ops->tls(lk);

	l->ready = true;
	if (!l->initiator)
		l->ops->remote(lk, &l->remote);
	if (s) {
		/* A control link: TLS verified the certificate against the CA. */
		l->role = LINK_CONTROL;
		if (tls_peer_name(s, l->name, sizeof(l->name)) < 0) {
			refuse(l, PC_REFUSED_CERT, "the certificate names no valid node");
			return;
		}
		send_hello(l);
		return;
	}
	if (l->role == LINK_CONTROL && l->initiator) {
		link_close(l, "no TLS on a control link");
		return;
	}
	l->role = LINK_DATA;
	if (l->initiator && send_link_open(l) < 0)
		link_close(l, "cannot open the data link");
}

static void on_closed(struct tunnel_link *lk, int err, const char *why, void *arg)
{
	struct peer_link *l = arg;
	char msg[TLS_WHY_MAX + 64];

	if (err == -EKEYREJECTED) {
		snprintf(msg, sizeof(msg), "TLS: %s", why);
		refuse(l, PC_REFUSED_CERT, msg);
		return;
	}
	if (err == -EPROTO) {
		char desc[ADDR_STRLEN + NODE_NAME_MAX + 4];

		stats_add(&l->d->stats, STAT_PROTOCOL_ERRORS, 1);
		log_ratelimited(log_warnx, "link %s: protocol error: %s, closing",
				link_desc(l, desc), why);
	}
	snprintf(msg, sizeof(msg), "%s: %s", why, strerror(-err));
	link_close(l, msg);
}

static const struct tunnel_events link_events = {
	.ready = on_ready,
	.frame = on_frame,
	.closed = on_closed,
};

static int pending_from(struct peer_set *ps, const struct sockaddr_storage *from)
{
	int n = 0;

	for (struct peer_link *l = ps->pending; l; l = l->next)
		n += !l->initiator && addr_same_host(&l->remote, from);
	return n;
}

static void on_accepted(struct tunnel_link *lk, const struct sockaddr_storage *from, void *arg)
{
	struct set_sub *ss = arg;
	struct daemon *d = ss->d;
	struct peer_set *ps = ps_of(d);

	/* A stranger costs a struct and, for TLS, the handshake: at most this many. */
	if (ps->npending >= d->cfg.limits.pending ||
	    pending_from(ps, from) >= d->cfg.limits.pending_per_addr) {
		ps->c[PC_LIMITED]++;
		stats_limit(&d->stats, ps->npending >= d->cfg.limits.pending
			    ? LIMIT_PENDING : LIMIT_PENDING_PER_ADDRESS, 1);
		ss->ops->close(lk);
		return;
	}
	/* tcp: the first byte tells the role (TLS: control) */
	if (!link_new(d, ss->ops, lk, LINK_DATA, false, from))
		ss->ops->close(lk);
}

/* Opens every substrate but tcp (peer_start opened that one): one that cannot open or
 * listen is unavailable, with the reason `vnetctl peers` shows. */
static void subs_open(struct daemon *d)
{
	struct peer_set *ps = ps_of(d);
	char a[ADDR_STRLEN];
	int err;

	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		struct set_sub *ss = &ps->sub[i];

		ss->d = d;
		ss->ops = substrate_get(i);
		if (i == SUBSTRATE_TCP)
			continue;
		if (!ss->ops) {
			snprintf(ss->why, sizeof(ss->why), "not in this build");
			continue;
		}
		err = ss->ops->open(d->loop, &ss->t);
		if (err < 0) {
			snprintf(ss->why, sizeof(ss->why), "%s", strerror(-err));
			ss->t = NULL;
			continue;
		}
		if (ss->ops->set_mtu && d->cfg.udp_mtu > 0 && i == SUBSTRATE_UDP)
			ss->ops->set_mtu(ss->t, d->cfg.udp_mtu);
		if (ss->ops->usable && !ss->ops->usable(ss->t, ss->why, sizeof(ss->why))) {
			ss->ops->free(ss->t);
			ss->t = NULL;
			continue;
		}
		if (ss->ops->listen && d->cfg.listen.ss_family != AF_UNSPEC) {
			err = ss->ops->listen(ss->t, &d->cfg.listen, NULL, on_accepted, ss,
					      &ss->listener);
			if (err < 0) {
				snprintf(ss->why, sizeof(ss->why), "cannot listen: %s",
					 strerror(-err));
				log_warnx("%s: listen on %s: %s; not using it", ss->ops->name,
					  addr_fmt(&d->cfg.listen, a), strerror(-err));
				ss->ops->free(ss->t);
				ss->t = NULL;
				continue;
			}
		}
		log_info("substrate %s ready", ss->ops->name);
	}
}

int peer_policy_parse(const char *name)
{
	if (strcmp(name, "auto") == 0)
		return PEER_POLICY_AUTO;
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		if (strcmp(substrate_name(i), name) == 0)
			return i;
	return -EINVAL;
}

const char *peer_policy_name(int policy)
{
	if (policy == PEER_POLICY_AUTO)
		return "auto";
	if (policy == PEER_POLICY_DEFAULT)
		return "default";
	return substrate_name(policy);
}

int peer_adopt_fd(struct daemon *d, int fd, bool tls_server)
{
	struct peer_set *ps = ps_of(d);
	struct tunnel_link *lk;
	int err;

	err = d->substrate->adopt(ps->tcp, fd, ps->tls, tls_server, &lk);
	if (err < 0)
		return err;
	if (!link_new(d, d->substrate, lk, LINK_CONTROL, !tls_server, NULL)) {
		d->substrate->close(lk);
		return -ENOMEM;
	}
	return 0;
}

int peer_start(struct daemon *d, const struct peer_events *ev, void *arg)
{
	struct peer_set *ps = calloc(1, sizeof(*ps));
	struct tls_cred cr = { d->cfg.ca_file, d->cfg.cert_file, d->cfg.key_file,
			       d->cfg.crl_file, d->cfg.node };
	char a[ADDR_STRLEN], why[TLS_WHY_MAX];
	int err;

	if (!ps)
		return -ENOMEM;
	d->pset = ps;
	ps->d = d;
	ps->ev = ev;
	ps->arg = arg;
	ps->hint_tokens = PEER_HINT_DIALS_PER_S;
	ps->hint_ms = loop_now(d->loop);
	loop_timer_init(&ps->gc, on_gc, d);
	loop_timer_init(&ps->sync, on_members_sync, d);
	err = tls_ctx_new(&cr, &ps->tls, why, sizeof(why));
	if (err < 0) {
		log_warnx("%s", why);
		goto fail;
	}
	err = d->substrate->open(d->loop, &ps->tcp);
	if (err < 0)
		goto fail;
	ps->sub[SUBSTRATE_TCP].t = ps->tcp;
	ps->policy = peer_policy_parse(d->cfg.substrate);
	if (ps->policy == -EINVAL)
		ps->policy = SUBSTRATE_TCP;
	subs_open(d);
	if (d->cfg.listen.ss_family != AF_UNSPEC) {
		err = d->substrate->listen(ps->tcp, &d->cfg.listen, ps->tls, on_accepted,
					   &ps->sub[SUBSTRATE_TCP], &ps->listener);
		if (err < 0) {
			errno = -err;
			log_warn("listen on %s", addr_fmt(&d->cfg.listen, a));
			goto fail;
		}
		log_info("listening on %s (%s, TLS 1.3 control links, data %s)",
			 addr_fmt(&d->cfg.listen, a), d->substrate->name,
			 d->cfg.sealed ? "sealed" : "not sealed");
	}
	loop_timer_arm(d->loop, &ps->gc, gc_ms(d));
	loop_timer_arm(d->loop, &ps->sync, PEER_MEMBERS_SYNC_MS / 2 +
		       (uint64_t)random() % PEER_MEMBERS_SYNC_MS);
	err = seeds_set(d, &d->cfg);
	if (err < 0)
		goto fail;
	if (on_demand(d))
		log_info("links on demand (idle ones closed after %d s)%s: the route store lists "
			 "the nodes", d->cfg.store.link_idle_s, d->cfg.nseeds ?
			 ", seeds not dialed" : "");
	return 0;
fail:
	peer_stop(d);
	return err;
}

void peer_stop(struct daemon *d)
{
	struct peer_set *ps = ps_of(d);

	if (!ps)
		return;
	while (ps->pending)
		link_close(ps->pending, "shutting down");
	while (d->peers) {
		struct peer *p = d->peers;

		if (p->ctl)
			link_close(p->ctl, "shutting down");
		if (p->dial)
			link_close(p->dial, "shutting down");
		peer_free(p);
	}
	for (int i = 0; i < ps->nseeds; i++)
		loop_timer_stop(d->loop, &ps->seeds[i].retry);
	free(ps->seeds);
	loop_timer_stop(d->loop, &ps->gc);
	loop_timer_stop(d->loop, &ps->sync);
	if (ps->listener)
		d->substrate->listener_close(ps->listener);
	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		struct set_sub *ss = &ps->sub[i];

		if (i == SUBSTRATE_TCP || !ss->t)
			continue;
		if (ss->listener)
			ss->ops->listener_close(ss->listener);
		ss->ops->free(ss->t);
	}
	if (ps->tcp)
		d->substrate->free(ps->tcp);
	tls_ctx_free(ps->tls);
	free(ps);
	d->pset = NULL;
}

static const char *state_name(const struct peer *p)
{
	if (p->ctl)
		return "up";
	if (p->dial)
		return "connecting";
	if (on_demand(p->d))
		return p->nheld ? "backoff" : "idle";
	return we_dial(p) ? "backoff" : "down";
}

static json_t *links_json(const struct peer *p)
{
	json_t *arr = json_array();

	if (p->ctl)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I}", "role",
			"control", "substrate", p->ctl->ops->name, "protection", "tls",
			"tx_frames", (json_int_t)p->ctl->tx_frames,
			"rx_frames", (json_int_t)p->ctl->rx_frames));
	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		const struct peer_link *l = p->sub[i].link;

		if (!l)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "role",
			"data", "substrate", l->ops->name, "protection",
			l->sealed ? "sealed" : "none", "link", (json_int_t)l->id,
			"tx_frames", (json_int_t)l->tx_frames,
			"rx_frames", (json_int_t)l->rx_frames,
			"rekeys", (json_int_t)(l->sealed ? l->seal.rekeys : 0)));
	}
	return arr;
}

/* Each substrate as p sees it: in use, up, or why not. */
static json_t *subs_json(const struct peer *p)
{
	const struct peer_set *ps = ps_of(p->d);
	uint64_t now = loop_now(p->d->loop);
	json_t *arr = json_array();

	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		const struct peer_sub *sb = &p->sub[i];
		const struct chooser_sub *cs = &p->ch.s[i];
		const char *state;
		char why[CHOOSER_WHY_MAX + 32];
		int res = 0, ans = 0, loss;
		json_t *o;

		why[0] = '\0';
		if (!ps->sub[i].t) {
			state = "unavailable";
			snprintf(why, sizeof(why), "%s on %s", ps->sub[i].why, p->d->cfg.node);
		} else if (p->ctl && !(p->substrates & (1u << i))) {
			state = "unavailable";
			snprintf(why, sizeof(why), "not on %s", p->name);
		} else {
			if (p->active == i)
				state = "in use";
			else if (sb->link)
				state = "standby";
			else if (sb->dial)
				state = "connecting";
			else
				state = "down";
			chooser_explain(&p->ch, i, policy_of(p), now, why, sizeof(why));
		}
		loss = chooser_loss(&p->ch, i, now, &res, &ans);
		o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
			substrate_name(i), "state", state, "why", why,
			"ups", (json_int_t)sb->ups, "downs", (json_int_t)sb->downs,
			"switches_to", (json_int_t)p->switches[i],
			"probes", (json_int_t)res, "answered", (json_int_t)ans,
			"loss_pct", (json_int_t)loss);
		json_object_set_new(o, "rtt_us", json_integer(cs->rtt_us < 0 ? -1
						: (json_int_t)cs->rtt_us));
		json_object_set_new(o, "rate_mbps", json_integer(cs->rate_bps < 0 ? -1
						: (json_int_t)(cs->rate_bps / 1e6)));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *peer_list_json(struct daemon *d)
{
	struct peer_set *ps = ps_of(d);
	json_t *arr = json_array();
	uint64_t now = loop_now(d->loop);
	char a[ADDR_STRLEN];

	for (struct peer *p = d->peers; p; p = p->next) {
		const struct peer_link *dl = p->ctl ? data_link(p, 0) : NULL;

		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			"node", p->name,
			"address", p->addr.ss_family == AF_UNSPEC ? "" : addr_fmt(&p->addr, a),
			"state", state_name(p),
			"substrate", dl ? dl->ops->name : d->substrate->name,
			"since_s", (json_int_t)((now - p->since_ms) / 1000),
			"rtt_ms", (json_int_t)p->rtt_ms,
			"tx_frames", (json_int_t)p->tx_frames,
			"rx_frames", (json_int_t)p->rx_frames,
			"drops", (json_int_t)p->drops,
			"rejected_frames", (json_int_t)p->rejected,
			"links", links_json(p)));
		json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "policy",
				    json_string(peer_policy_name(policy_of(p))));
		json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "substrates",
				    subs_json(p));
		json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "failovers",
				    json_integer((json_int_t)p->failovers));
	}
	for (int i = 0; ps && !on_demand(d) && i < ps->nseeds; i++) {
		if (ps->seeds[i].is_self || seed_reached(&ps->seeds[i]))
			continue;
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:[]}",
			"node", "", "address", addr_fmt(&ps->seeds[i].addr, a),
			"state", ps->seeds[i].dial ? "connecting" : "backoff",
			"substrate", d->substrate->name, "since_s", (json_int_t)0,
			"rtt_ms", (json_int_t)-1, "tx_frames", (json_int_t)0,
			"rx_frames", (json_int_t)0, "drops", (json_int_t)0,
			"rejected_frames", (json_int_t)0, "links"));
	}
	return arr;
}

json_t *peer_substrates_json(struct daemon *d)
{
	json_t *o = json_object();

	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		uint64_t v[10] = { 0 };

		for (struct peer *p = d->peers; p; p = p->next) {
			const struct peer_sub *sb = &p->sub[i];

			v[0] += sb->link != NULL || (i == SUBSTRATE_TCP && p->ctl);
			v[1] += p->ctl && (p->active == i || (i == SUBSTRATE_TCP && p->active < 0));
			v[2] += p->switches[i];
			v[3] += sb->failovers;
			v[4] += sb->ups;
			v[5] += sb->downs;
			v[6] += sb->tx_packets;
			v[7] += sb->tx_bytes;
			v[8] += sb->rx_packets;
			v[9] += sb->rx_bytes;
		}
		json_object_set_new(o, substrate_name(i), json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"peers_up", (json_int_t)v[0], "in_use", (json_int_t)v[1],
			"switches_to", (json_int_t)v[2], "failovers", (json_int_t)v[3],
			"links_up", (json_int_t)v[4], "links_down", (json_int_t)v[5],
			"tx_packets", (json_int_t)v[6], "tx_bytes", (json_int_t)v[7],
			"rx_packets", (json_int_t)v[8], "rx_bytes", (json_int_t)v[9]));
	}
	return o;
}

json_t *peer_counters_json(struct daemon *d)
{
	struct peer_set *ps = ps_of(d);
	json_t *o = json_object();

	for (int i = 0; i < PC_MAX; i++)
		json_object_set_new(o, pc_names[i], json_integer(ps ? (json_int_t)ps->c[i] : 0));
	json_object_set_new(o, "pending", json_integer(ps ? ps->npending : 0));
	json_object_set_new(o, "known", json_integer((json_int_t)peer_count_known(d)));
	return o;
}
