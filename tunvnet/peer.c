#include "tunvnet/peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/auth.h"
#include "tunnel/frame.h"
#include "tunnel/tunnel.h"
#include "tunnel/wire.h"
#include "tunvnet/addr.h"
#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/forward.h"
#include "tunvnet/log.h"
#include "tunvnet/move.h"
#include "tunvnet/routing.h"
#include "tunvnet/stats.h"

#define MAX_MEMBERS      1024
#define REFUSED_LOG_MAX  256

/* A link to some node, from connect or accept. Untrusted until verified. */
struct conn {
	struct conn *next;          /* in d->conns until bound to a peer */
	struct daemon *d;
	struct tunnel_link *link;
	struct peer *peer;          /* the peer dialed, or bound; NULL for an unbound accept */
	struct seed *seed;          /* the seed dialed, or NULL */
	bool initiator;
	bool got_hello, verified;
	struct auth_state auth;
	struct sockaddr_storage remote;
	struct sockaddr_storage hello_listen;
	char name[NODE_NAME_MAX + 1];
	struct loop_timer timeout;
};

/* A seed address from the config; dialed while no peer up listens there. */
struct seed {
	struct sockaddr_storage addr;
	struct conn *dial;
	struct loop_timer retry;
	uint32_t backoff_ms;
	bool is_self;
	struct daemon *d;
};

static struct seed *seeds;
static int nseeds;

/* Remote addresses whose refusal was logged already: log once, count always. */
static struct sockaddr_storage refused[REFUSED_LOG_MAX];
static int nrefused;

static void conn_close(struct conn *c, const char *why);
static void seed_schedule(struct seed *s);
static void peer_schedule(struct peer *p);

static const struct tunnel_events conn_events;

static const char *conn_desc(const struct conn *c, char buf[ADDR_STRLEN + NODE_NAME_MAX + 4])
{
	char a[ADDR_STRLEN];

	if (c->peer && c->peer->name[0])
		return c->peer->name;
	if (c->name[0])
		snprintf(buf, ADDR_STRLEN + NODE_NAME_MAX + 4, "%s (%s)", c->name,
			 addr_fmt(&c->remote, a));
	else
		snprintf(buf, ADDR_STRLEN + NODE_NAME_MAX + 4, "%s", addr_fmt(&c->remote, a));
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
	return p->up != NULL;
}

size_t peer_count_up(const struct daemon *d)
{
	size_t n = 0;

	for (const struct peer *p = d->peers; p; p = p->next)
		n += p->up != NULL;
	return n;
}

size_t peer_count_known(const struct daemon *d)
{
	size_t n = 0;

	for (const struct peer *p = d->peers; p; p = p->next)
		n++;
	return n;
}

static bool addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* --- sending ------------------------------------------------------------------------ */

int peer_send_ctl(struct peer *p, uint8_t type, uint16_t flags, const void *buf, size_t len)
{
	int err;

	if (!p->up)
		return -ENOTCONN;
	err = p->d->substrate->send(p->up->link, type, flags, buf, len);
	if (err == 0)
		p->tx_frames++;
	return err;
}

void peer_flush(struct peer *p)
{
	if (p->up)
		p->d->substrate->flush(p->up->link);
}

int peer_send_data(struct peer *p, uint16_t flags, const void *pkt, size_t len)
{
	int err;

	if (!p->up)
		return -ENOTCONN;
	err = p->d->substrate->send(p->up->link, FRAME_DATA, flags, pkt, len);
	if (err == 0) {
		p->tx_frames++;
		p->tx_packets++;
		p->tx_bytes += len;
	} else {
		p->drops++;
	}
	return err;
}

static int conn_send(struct conn *c, uint8_t type, const void *buf, size_t len)
{
	return c->d->substrate->send(c->link, type, 0, buf, len);
}

static void send_hello(struct conn *c)
{
	struct msg_hello h;
	uint8_t buf[256];
	int n;

	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", c->d->cfg.node);
	memcpy(h.nonce, c->auth.my_nonce, sizeof(h.nonce));
	h.listen = c->d->cfg.listen;
	n = msg_hello_encode(&h, buf, sizeof(buf));
	if (n > 0)
		conn_send(c, FRAME_HELLO, buf, (size_t)n);
}

/* Every peer up, and ourselves: what a newcomer needs to complete the mesh. */
static void broadcast_members(struct daemon *d)
{
	static struct msg_member m[MAX_MEMBERS];
	static uint8_t buf[FRAME_MAX_PAYLOAD];
	size_t n = 0;
	int len;

	memset(&m[0], 0, sizeof(m[0]));
	snprintf(m[n].name, sizeof(m[n].name), "%s", d->cfg.node);
	m[n++].addr = d->cfg.listen;
	for (struct peer *p = d->peers; p && n < MAX_MEMBERS; p = p->next) {
		if (!p->up || p->addr.ss_family == AF_UNSPEC)
			continue;
		memset(&m[n], 0, sizeof(m[n]));
		snprintf(m[n].name, sizeof(m[n].name), "%s", p->name);
		m[n++].addr = p->addr;
	}
	len = msg_peers_encode(m, n, buf, sizeof(buf));
	if (len < 0) {
		log_warnx("member list does not fit in a frame (%zu members)", n);
		return;
	}
	for (struct peer *p = d->peers; p; p = p->next)
		if (p->up)
			peer_send_ctl(p, FRAME_PEERS, 0, buf, (size_t)len);
}

/* --- peers --------------------------------------------------------------------------- */

static void on_retry(struct loop_timer *t, void *arg);
static void on_keepalive(struct loop_timer *t, void *arg);

static struct peer *peer_new(struct daemon *d, const char *name)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->d = d;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->addr.ss_family = AF_UNSPEC;
	p->rtt_ms = -1;
	p->since_ms = loop_now(d->loop);
	p->backoff_ms = PEER_BACKOFF_MIN_MS;
	loop_timer_init(&p->retry, on_retry, p);
	loop_timer_init(&p->keepalive, on_keepalive, p);
	p->next = d->peers;
	d->peers = p;
	return p;
}

/* We dial a named peer when our name is lower; the other side waits for us. */
static bool we_dial(const struct peer *p)
{
	return p->addr.ss_family != AF_UNSPEC && strcmp(p->d->cfg.node, p->name) < 0;
}

static struct conn *conn_new(struct daemon *d, struct tunnel_link *lk, bool initiator,
			     const struct sockaddr_storage *remote);

static void peer_dial(struct peer *p)
{
	struct tunnel_link *lk;
	struct conn *c;
	int err;

	if (p->up || p->dial || !we_dial(p))
		return;
	err = p->d->substrate->connect(p->d->loop, &p->addr, &lk);
	if (err < 0) {
		peer_schedule(p);
		return;
	}
	c = conn_new(p->d, lk, true, &p->addr);
	if (!c) {
		p->d->substrate->close(lk);
		peer_schedule(p);
		return;
	}
	c->peer = p;
	p->dial = c;
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
	if (!we_dial(p) || p->up || p->dial)
		return;
	loop_timer_arm(p->d->loop, &p->retry, next_backoff(&p->backoff_ms));
}

static void on_keepalive(struct loop_timer *t, void *arg)
{
	struct peer *p = arg;
	uint64_t now = loop_now(p->d->loop);
	uint8_t buf[8];
	size_t off = 0;

	if (!p->up)
		return;
	if (now - p->last_rx_ms > PEER_DEAD_MS) {
		conn_close(p->up, "keepalive timeout");
		return;
	}
	put_be64(buf, sizeof(buf), &off, now);
	peer_send_ctl(p, FRAME_PING, 0, buf, sizeof(buf));
	loop_timer_arm(p->d->loop, &p->keepalive, PEER_KEEPALIVE_MS);
}

/* Records what another node told us about a member. */
static void learn(struct daemon *d, const struct msg_member *m)
{
	struct peer *p;

	if (strcmp(m->name, d->cfg.node) == 0)
		return;
	p = peer_find(d, m->name);
	if (!p) {
		p = peer_new(d, m->name);
		if (!p)
			return;
		log_info("learned peer %s", m->name);
	}
	if (m->addr.ss_family != AF_UNSPEC && !addr_equal(&p->addr, &m->addr))
		p->addr = m->addr;
	if (!p->up && !p->dial && !loop_timer_armed(&p->retry))
		peer_dial(p);
}

/* --- seeds --------------------------------------------------------------------------- */

static bool seed_reached(const struct seed *s)
{
	if (s->is_self)
		return true;
	for (struct peer *p = s->d->peers; p; p = p->next)
		if (p->up && addr_equal(&p->addr, &s->addr))
			return true;
	return false;
}

static void seed_dial(struct seed *s)
{
	struct tunnel_link *lk;
	struct conn *c;

	if (s->dial || seed_reached(s))
		return;
	if (s->d->substrate->connect(s->d->loop, &s->addr, &lk) < 0) {
		seed_schedule(s);
		return;
	}
	c = conn_new(s->d, lk, true, &s->addr);
	if (!c) {
		s->d->substrate->close(lk);
		seed_schedule(s);
		return;
	}
	c->seed = s;
	s->dial = c;
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
	for (int i = 0; i < nseeds; i++)
		if (!seeds[i].dial && !loop_timer_armed(&seeds[i].retry))
			seed_schedule(&seeds[i]);
}

static int seeds_set(struct daemon *d, const struct config *cfg)
{
	struct seed *ns = calloc((size_t)cfg->nseeds + 1, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (int i = 0; i < cfg->nseeds; i++) {
		ns[i].d = d;
		ns[i].addr = cfg->seeds[i];
		ns[i].backoff_ms = PEER_BACKOFF_MIN_MS;
		loop_timer_init(&ns[i].retry, on_seed_retry, &ns[i]);
	}
	for (int i = 0; i < nseeds; i++) {
		loop_timer_stop(d->loop, &seeds[i].retry);
		if (seeds[i].dial) {
			seeds[i].dial->seed = NULL; /* the attempt goes on, unowned */
			seeds[i].dial = NULL;
		}
	}
	free(seeds);
	seeds = ns;
	nseeds = cfg->nseeds;
	for (int i = 0; i < nseeds; i++)
		seed_dial(&seeds[i]);
	return 0;
}

void peer_reload_seeds(struct daemon *d, const struct config *nc)
{
	char a[ADDR_STRLEN];

	if (seeds_set(d, nc) < 0) {
		log_warnx("reload: out of memory, seeds unchanged");
		return;
	}
	d->cfg.nseeds = nc->nseeds;
	memcpy(d->cfg.seeds, nc->seeds, sizeof(d->cfg.seeds));
	for (int i = 0; i < nseeds; i++)
		log_info("seed %s", addr_fmt(&seeds[i].addr, a));
}

/* --- links ---------------------------------------------------------------------------- */

static void conn_unlist(struct conn *c)
{
	for (struct conn **pp = &c->d->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			return;
		}
	}
}

/* Closes c and updates whoever pointed at it. */
static void conn_close(struct conn *c, const char *why)
{
	struct daemon *d = c->d;
	struct peer *p = c->peer;
	char desc[ADDR_STRLEN + NODE_NAME_MAX + 4];

	if (p && p->up == c) {
		log_info("peer %s down: %s", p->name, why);
		stats_add(&d->stats, STAT_LINK_DOWNS, 1);
		events_peer(d->events, EVENT_PEER_DOWN, p->name, why);
		p->up = NULL;
		p->since_ms = loop_now(d->loop);
		loop_timer_stop(d->loop, &p->keepalive);
		move_peer_down(d, p);
	} else {
		log_debug("link %s closed: %s", conn_desc(c, desc), why);
	}
	if (p && p->dial == c)
		p->dial = NULL;
	if (c->seed && c->seed->dial == c)
		c->seed->dial = NULL;
	conn_unlist(c);
	loop_timer_stop(d->loop, &c->timeout);
	/* What we queued goes out first: a peer we refuse still gets our AUTH, so that it
	 * can judge (and count) the refusal on its side too. */
	d->substrate->flush(c->link);
	d->substrate->close(c->link);
	if (c->seed)
		seed_schedule(c->seed);
	if (p)
		peer_schedule(p);
	if (p && !p->up)
		seeds_kick(d);
	auth_clear(&c->auth);
	free(c);
}

static void on_handshake_timeout(struct loop_timer *t, void *arg)
{
	conn_close(arg, "handshake timed out");
}

static struct conn *conn_new(struct daemon *d, struct tunnel_link *lk, bool initiator,
			     const struct sockaddr_storage *remote)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->d = d;
	c->link = lk;
	c->initiator = initiator;
	c->remote = *remote;
	auth_init(&c->auth, d->cfg.key, d->cfg.node, initiator);
	loop_timer_init(&c->timeout, on_handshake_timeout, c);
	loop_timer_arm(d->loop, &c->timeout, PEER_HANDSHAKE_MS);
	c->next = d->conns;
	d->conns = c;
	d->substrate->set_events(lk, &conn_events, c);
	if (!initiator)
		send_hello(c);
	return c;
}

static void refuse(struct conn *c, const char *why)
{
	char desc[ADDR_STRLEN + NODE_NAME_MAX + 4];
	int i;

	stats_add(&c->d->stats, STAT_HANDSHAKE_REFUSED, 1);
	{
		char a[ADDR_STRLEN], detail[96];

		snprintf(detail, sizeof(detail), "%s: %s", addr_fmt(&c->remote, a), why);
		events_peer(c->d->events, EVENT_HANDSHAKE_REFUSED, c->name, detail);
	}
	for (i = 0; i < nrefused && !addr_same_host(&refused[i], &c->remote); i++)
		;
	if (i == nrefused) {
		log_warnx("refused %s: %s (logged once per address; counted in "
			  "handshake_refused)", conn_desc(c, desc), why);
		if (nrefused < REFUSED_LOG_MAX)
			refused[nrefused++] = c->remote;
	}
	conn_close(c, why);
}

/* The name of the node that dialed c: both sides compute the same. */
static const char *dialer(const struct conn *c)
{
	return c->initiator ? c->d->cfg.node : c->name;
}

/* c has proved the key: bind it to its peer and bring the peer up. */
static void conn_bind(struct conn *c)
{
	struct daemon *d = c->d;
	struct peer *p;
	char a[ADDR_STRLEN];

	if (strcmp(c->name, d->cfg.node) == 0) {
		if (c->seed)
			c->seed->is_self = true;
		conn_close(c, "connected to ourselves");
		return;
	}
	if (c->peer && strcmp(c->peer->name, c->name) != 0) {
		/* We dialed one name and reached another: the address moved. */
		struct peer *old = c->peer;

		old->dial = NULL;
		c->peer = NULL;
		peer_schedule(old);
	}
	p = peer_find(d, c->name);
	if (!p && !(p = peer_new(d, c->name))) {
		conn_close(c, "out of memory");
		return;
	}
	if (c->hello_listen.ss_family != AF_UNSPEC)
		p->addr = c->hello_listen;
	if (p->up) {
		/* Two links to one peer: keep the one dialed by the lower name. */
		if (strcmp(dialer(c), dialer(p->up)) >= 0) {
			conn_close(c, "duplicate link");
			return;
		}
		conn_close(p->up, "replaced by a link dialed by the lower name");
	}
	if (p->dial == c)
		p->dial = NULL;
	if (c->seed && c->seed->dial == c)
		c->seed->dial = NULL;
	c->seed = NULL;
	conn_unlist(c);
	loop_timer_stop(d->loop, &c->timeout);
	c->peer = p;
	p->up = c;
	p->since_ms = p->last_rx_ms = loop_now(d->loop);
	p->backoff_ms = PEER_BACKOFF_MIN_MS;
	loop_timer_stop(d->loop, &p->retry);
	loop_timer_arm(d->loop, &p->keepalive, PEER_KEEPALIVE_MS);
	stats_add(&d->stats, STAT_LINK_UPS, 1);
	log_info("peer %s up (%s, %s)", p->name, addr_fmt(&c->remote, a),
		 c->initiator ? "dialed" : "accepted");
	{
		char detail[ADDR_STRLEN + 16];

		snprintf(detail, sizeof(detail), "%s, %s", a, c->initiator ? "dialed" : "accepted");
		events_peer(d->events, EVENT_PEER_UP, p->name, detail);
	}
	broadcast_members(d);
	routing_send_table(d, p);
}

static void on_hello(struct conn *c, const uint8_t *buf, size_t len)
{
	struct msg_hello h;

	if (c->got_hello) {
		conn_close(c, "second HELLO");
		return;
	}
	if (msg_hello_decode(buf, len, &h) < 0) {
		stats_add(&c->d->stats, STAT_PROTOCOL_ERRORS, 1);
		conn_close(c, "malformed HELLO");
		return;
	}
	c->got_hello = true;
	snprintf(c->name, sizeof(c->name), "%s", h.name);
	c->hello_listen = h.listen;
	auth_set_peer(&c->auth, h.nonce, h.name);
	{
		uint8_t mac[AUTH_MAC_BYTES];

		auth_proof(&c->auth, mac);
		conn_send(c, FRAME_AUTH, mac, sizeof(mac));
	}
}

static void on_auth(struct conn *c, const uint8_t *buf, size_t len)
{
	if (!c->got_hello || len != AUTH_MAC_BYTES) {
		stats_add(&c->d->stats, STAT_PROTOCOL_ERRORS, 1);
		conn_close(c, !c->got_hello ? "AUTH before HELLO" : "malformed AUTH");
		return;
	}
	if (!auth_verify(&c->auth, buf)) {
		refuse(c, "wrong cluster key (AUTH proof does not verify)");
		return;
	}
	c->verified = true;
	conn_bind(c);
}

static void on_peers(struct peer *p, const uint8_t *buf, size_t len)
{
	static struct msg_member m[MAX_MEMBERS];
	size_t n;

	if (msg_peers_decode(buf, len, m, MAX_MEMBERS, &n) < 0) {
		stats_add(&p->d->stats, STAT_PROTOCOL_ERRORS, 1);
		conn_close(p->up, "malformed PEERS");
		return;
	}
	for (size_t i = 0; i < n; i++)
		learn(p->d, &m[i]);
}

static void on_frame(struct tunnel_link *lk, const struct frame_hdr *h, const uint8_t *payload,
		     void *arg)
{
	struct conn *c = arg;
	struct peer *p = c->verified ? c->peer : NULL;
	char why[64];

	if (!p) {
		switch (h->type) {
		case FRAME_HELLO:
			on_hello(c, payload, h->len);
			return;
		case FRAME_AUTH:
			on_auth(c, payload, h->len);
			return;
		default:
			stats_add(&c->d->stats, STAT_PROTOCOL_ERRORS, 1);
			snprintf(why, sizeof(why), "%s frame before authentication",
				 frame_type_name(h->type));
			refuse(c, why);
			return;
		}
	}
	p->rx_frames++;
	p->last_rx_ms = loop_now(c->d->loop);
	switch (h->type) {
	case FRAME_DATA:
		p->rx_packets++;
		p->rx_bytes += h->len;
		forward_from_peer(p, h->flags, payload, h->len);
		break;
	case FRAME_ROUTES:
		if (routing_receive(c->d, p, h->flags, payload, h->len) < 0) {
			stats_add(&c->d->stats, STAT_PROTOCOL_ERRORS, 1);
			conn_close(c, "malformed ROUTES");
		}
		break;
	case FRAME_PEERS:
		on_peers(p, payload, h->len);
		break;
	case FRAME_MIGRATE:
	case FRAME_MIGRATE_DONE:
		if ((h->type == FRAME_MIGRATE ? move_on_migrate : move_on_migrate_done)(
			    c->d, p, payload, h->len) < 0) {
			stats_add(&c->d->stats, STAT_PROTOCOL_ERRORS, 1);
			conn_close(c, "malformed MIGRATE");
		}
		break;
	case FRAME_PING:
		peer_send_ctl(p, FRAME_PONG, 0, payload, h->len);
		break;
	case FRAME_PONG: {
		uint64_t ts;
		size_t off = 0;

		if (get_be64(payload, h->len, &off, &ts) && ts <= loop_now(c->d->loop))
			p->rtt_ms = (int64_t)(loop_now(c->d->loop) - ts);
		break;
	}
	default:
		stats_add(&c->d->stats, STAT_PROTOCOL_ERRORS, 1);
		snprintf(why, sizeof(why), "unexpected %s frame", frame_type_name(h->type));
		log_warnx("peer %s: %s, closing the link", p->name, why);
		conn_close(c, why);
	}
}

static void on_connected(struct tunnel_link *lk, void *arg)
{
	send_hello(arg);
}

static void on_closed(struct tunnel_link *lk, int err, const char *why, void *arg)
{
	struct conn *c = arg;
	char msg[128];

	if (err == -EPROTO) {
		/* A frame we cannot parse: say which peer sent it, once per event. */
		char desc[ADDR_STRLEN + NODE_NAME_MAX + 4];

		stats_add(&c->d->stats, STAT_PROTOCOL_ERRORS, 1);
		log_warnx("link %s: protocol error: %s, closing", conn_desc(c, desc), why);
	}
	snprintf(msg, sizeof(msg), "%s: %s", why, strerror(-err));
	conn_close(c, msg);
}

static const struct tunnel_events conn_events = {
	.connected = on_connected,
	.frame = on_frame,
	.closed = on_closed,
};

static void on_accepted(struct tunnel_link *lk, const struct sockaddr_storage *from, void *arg)
{
	struct daemon *d = arg;

	if (!conn_new(d, lk, false, from))
		d->substrate->close(lk);
}

int peer_start(struct daemon *d)
{
	char a[ADDR_STRLEN];
	int err;

	err = d->substrate->listen(d->loop, &d->cfg.listen, on_accepted, d, &d->listener);
	if (err < 0) {
		errno = -err;
		log_warn("listen on %s", addr_fmt(&d->cfg.listen, a));
		return err;
	}
	log_info("listening on %s (%s)", addr_fmt(&d->cfg.listen, a), d->substrate->name);
	return seeds_set(d, &d->cfg);
}

void peer_stop(struct daemon *d)
{
	while (d->conns)
		conn_close(d->conns, "shutting down");
	while (d->peers) {
		struct peer *p = d->peers;

		if (p->up)
			conn_close(p->up, "shutting down");
		if (p->dial)
			conn_close(p->dial, "shutting down");
		loop_timer_stop(d->loop, &p->retry);
		loop_timer_stop(d->loop, &p->keepalive);
		d->peers = p->next;
		free(p);
	}
	for (int i = 0; i < nseeds; i++)
		loop_timer_stop(d->loop, &seeds[i].retry);
	free(seeds);
	seeds = NULL;
	nseeds = 0;
	d->substrate->listener_close(d->listener);
	d->listener = NULL;
}

static const char *state_name(const struct peer *p)
{
	if (p->up)
		return "up";
	if (p->dial)
		return "connecting";
	return we_dial(p) ? "backoff" : "down";
}

json_t *peer_list_json(struct daemon *d)
{
	json_t *arr = json_array();
	uint64_t now = loop_now(d->loop);
	char a[ADDR_STRLEN];

	for (struct peer *p = d->peers; p; p = p->next)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
			"node", p->name,
			"address", p->addr.ss_family == AF_UNSPEC ? "" : addr_fmt(&p->addr, a),
			"state", state_name(p), "substrate", d->substrate->name,
			"since_s", (json_int_t)((now - p->since_ms) / 1000),
			"rtt_ms", (json_int_t)p->rtt_ms,
			"tx_frames", (json_int_t)p->tx_frames,
			"rx_frames", (json_int_t)p->rx_frames,
			"drops", (json_int_t)p->drops));
	for (int i = 0; i < nseeds; i++) {
		if (seeds[i].is_self || seed_reached(&seeds[i]))
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
			"node", "", "address", addr_fmt(&seeds[i].addr, a),
			"state", seeds[i].dial ? "connecting" : "backoff",
			"substrate", d->substrate->name, "since_s", (json_int_t)0,
			"rtt_ms", (json_int_t)-1, "tx_frames", (json_int_t)0,
			"rx_frames", (json_int_t)0, "drops", (json_int_t)0));
	}
	return arr;
}
