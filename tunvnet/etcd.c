#include "tunvnet/etcd.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunvnet/addr.h"
#include "tunvnet/daemon.h"
#include "tunvnet/etcdmsg.h"
#include "tunvnet/httpc.h"
#include "tunvnet/log.h"
#include "tunvnet/route.h"

enum phase { PH_IDLE, PH_LEASE, PH_REGISTER, PH_READ, PH_WATCH, PH_UP };

/* A txn in flight: this node's entries and the revisions it expects. */
struct pub {
	struct pub *next;
	struct etcd *s;
	struct httpc_req *rq;
	bool confirm;
	int tries;
	unsigned conn;           /* the connection it was sent on (struct etcd's conn) */
	bool unsure;             /* its txn failed unanswered: sent again on reconnecting */
	int resends;
	size_t have;             /* entries the read-back shows the store holds as ours */
	size_t n;
	struct route_entry *e;
	uint64_t *seen;
	bool lost;               /* the read-back named another node */
};

struct etcd {
	struct daemon *d;
	struct store_events ev;
	struct httpc *http;
	struct httpc_tls tls;
	const struct config_store *cfg;
	int cur;                 /* the endpoint in use */
	unsigned conn;           /* counts fail()s: a request sent before the last one
				  * failing says nothing of the connection now */
	enum phase phase;
	struct httpc_req *setup; /* the lease / register / read request */
	struct httpc_req *watch;
	struct httpc_req *keep;
	struct httpc_req *rereg; /* this node's key put again, deleted by someone else */
	int64_t reg_rev;         /* the revision of this node's last registration */
	int64_t lease;           /* 0: none yet, or lost */
	int64_t applied;         /* the last revision applied (a read's, or the watch's last
				  * event's: the watch goes on from the next) */
	/* What a txn's reply said of a key before the watch got there: the revision it
	 * reported (as store_rev) per VIP. An older event of that key, still on its way on
	 * the watch, is stale and skipped. Freed once the watch is past them all. */
	struct route_table *ahead;
	int64_t ahead_max;
	bool full_read;          /* the next (re)connect reads the prefix whole */
	struct route_table *seen_in_read; /* a full read's VIPs (what is not there is gone) */
	int64_t read_rev;        /* a full read's snapshot (its first page's revision) */
	char read_after[ETCDMSG_KEY_MAX + 1]; /* the last key of the page before */
	bool reachable;
	char why[STORE_WHY_MAX];
	char fingerprint[80];
	char dir[ETCDMSG_PREFIX_MAX + 2]; /* the prefix and a '/': what is read and watched */
	struct loop_timer retry, keepalive;
	struct pub *pubs;
};

static void connect_step(struct etcd *s);
static void read_page(struct etcd *s);
static void reregister(struct etcd *s);
static int pub_send(struct pub *p);
static void pub_end(struct pub *p, int err, const char *why);

static void url(const struct etcd *s, const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s", s->cfg->endpoints[s->cur], path);
}

static struct httpc_req *post(struct etcd *s, const char *path, char *body, long timeout_ms,
			      httpc_data_cb data, httpc_done_cb done, void *arg)
{
	char u[CONFIG_ETCD_URL_MAX + 32];
	struct httpc_req *rq;

	if (!body)
		return NULL;
	url(s, path, u, sizeof(u));
	rq = httpc_post(s->http, u, body, &s->tls, timeout_ms, data, done, arg);
	free(body);
	return rq;
}

/* Something failed: the store is unreachable until a connect succeeds again, on the
 * next endpoint. */
static void fail(struct etcd *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct etcd *s, const char *fmt, ...)
{
	char what[STORE_WHY_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (s->reachable)
		log_warnx("route store etcd (%s): %s", s->cfg->endpoints[s->cur], what);
	else
		log_debug("route store etcd (%s): %s", s->cfg->endpoints[s->cur], what);
	snprintf(s->why, sizeof(s->why), "route store etcd unreachable (%s: %s)",
		 s->cfg->endpoints[s->cur], what);
	s->reachable = false;
	s->phase = PH_IDLE;
	s->conn++;
	httpc_cancel(s->setup);
	httpc_cancel(s->watch);
	httpc_cancel(s->keep);  /* the connect checks the lease itself */
	httpc_cancel(s->rereg); /* and registers */
	s->setup = s->watch = s->keep = s->rereg = NULL;
	s->cur = (s->cur + 1) % s->cfg->nendpoints;
	if (!loop_timer_armed(&s->retry))
		loop_timer_arm(s->d->loop, &s->retry, ETCD_RETRY_MS);
}

/* --- what the store holds -> routing ------------------------------------------------- */

static void report(struct etcd *s, const struct route_entry *e)
{
	if (s->ev.entry)
		s->ev.entry(e, s->ev.arg);
}

/* A txn's reply reported what the store holds for v at revision rev, ahead of the watch. */
static void report_ahead(struct etcd *s, const struct route_entry *e, int64_t rev)
{
	struct route_entry a = { .vip = e->vip, .store_rev = (uint64_t)rev };

	report(s, e);
	if (!s->ahead && route_table_new(&s->ahead) < 0)
		return;
	route_set(s->ahead, &a);
	if (rev > s->ahead_max)
		s->ahead_max = rev;
}

/* An event of v at revision rev older than what a txn's reply reported. */
static bool behind(const struct etcd *s, const struct vip *v, int64_t rev)
{
	const struct route_entry *a = s->ahead ? route_get(s->ahead, v) : NULL;

	return a && rev > 0 && (uint64_t)rev < a->store_rev; /* (0: a revision not given) */
}

/* The watch got to revision rev. */
static void watched(struct etcd *s, int64_t rev)
{
	if (rev > s->applied)
		s->applied = rev;
	if (s->ahead && s->applied >= s->ahead_max) {
		route_table_free(s->ahead);
		s->ahead = NULL;
		s->ahead_max = 0;
	}
}

/* One key-value from a read, a watch event or a txn's read-back. */
static void on_kv(const struct etcd_kv *kv, void *arg)
{
	struct etcd *s = arg;
	struct route_entry e;
	const char *node;

	if (s->phase == PH_READ)
		snprintf(s->read_after, sizeof(s->read_after), "%s", kv->key);
	if (s->phase != PH_READ)
		watched(s, kv->mod_rev); /* (behind() below still sees what it must) */
	if (etcdmsg_vip_entry(s->cfg->prefix, kv, &e) == 0) {
		if (s->seen_in_read)
			route_update(s->seen_in_read, &e);
		if (behind(s, &e.vip, kv->mod_rev)) {
			char vb[VIP_STRLEN];

			log_debug("route store: %s at revision %lld is older than what this "
				  "node's txn was told: skipped", vip_fmt(&e.vip, vb),
				  (long long)kv->mod_rev);
		} else {
			report(s, &e);
		}
		return;
	}
	node = etcdmsg_node_of(s->cfg->prefix, kv->key);
	if (node && kv->deleted && strcmp(node, s->d->cfg.node) == 0) {
		/* Ours: its lease expired (the put fails, and a reconnect takes a new one),
		 * or a writer deleted it. Peers find this node by it: registered again. */
		if (kv->mod_rev <= s->reg_rev) {
			log_debug("route store: an older deletion of this node's registration "
				  "(revision %lld): already registered again",
				  (long long)kv->mod_rev);
		} else {
			log_warnx("route store: this node's registration %s was deleted: "
				  "registering again", kv->key);
			reregister(s);
		}
	} else if (node && kv->deleted) {
		log_info("node %s left the route store (lease expired or revoked): its VIPs "
			 "are withdrawn with it", node);
		if (s->ev.node)
			s->ev.node(node, NULL, s->ev.arg);
	} else if (node) {
		struct sockaddr_storage a;

		if (etcdmsg_node_addr(kv, &a) < 0) {
			log_ratelimited(log_warnx, "route store: node %s registered no usable "
					"address (%.80s)", node, kv->value);
			return;
		}
		log_debug("node %s is in the route store", node);
		if (s->ev.node && strcmp(node, s->d->cfg.node) != 0)
			s->ev.node(node, &a, s->ev.arg);
	} else
		log_ratelimited(log_warnx, "route store: ignoring key %.80s (not ours, or "
				"malformed)", kv->key);
}

struct gone_ctx {
	struct etcd *s;
	struct route_entry *v;
	size_t n, cap;
};

static void find_gone(const struct route_entry *e, void *arg)
{
	struct gone_ctx *g = arg;

	/* (an entry newer than the read's snapshot: a txn's reply told of it since) */
	if (e->withdrawn || e->store_rev == 0 || e->store_rev > (uint64_t)g->s->read_rev ||
	    route_get(g->s->seen_in_read, &e->vip))
		return;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		struct route_entry *nv = realloc(g->v, cap * sizeof(*nv));

		if (!nv)
			return;
		g->v = nv;
		g->cap = cap;
	}
	g->v[g->n] = *e;
	g->v[g->n].withdrawn = true;
	g->v[g->n].store_rev = 0;
	g->n++;
}

/* A full read ended: entries from the store that it no longer holds are gone. */
static void end_full_read(struct etcd *s)
{
	struct gone_ctx g = { s, NULL, 0, 0 };

	route_foreach(s->d->routes, find_gone, &g);
	for (size_t i = 0; i < g.n; i++)
		report(s, &g.v[i]);
	free(g.v);
	route_table_free(s->seen_in_read);
	s->seen_in_read = NULL;
}

/* --- connect: lease, register, read, watch ------------------------------------------- */

/* The store answers again: the txns left unanswered go out once more. */
static void resend_unsure(struct etcd *s)
{
	struct pub *p = s->pubs, *next;

	for (; p; p = next) {
		next = p->next;
		if (!p->unsure || p->rq)
			continue;
		p->unsure = false;
		p->tries = 0;
		if (pub_send(p) < 0)
			pub_end(p, -ENOMEM, "out of memory");
	}
}

static size_t on_watch_data(const char *buf, size_t len, void *arg)
{
	struct etcd *s = arg;
	size_t off = 0;

	while (off < len && s->watch) {
		struct etcd_reply r;
		size_t used;
		int err = etcdmsg_watch_next(buf + off, len - off, &used, &r, on_kv, s);

		if (used == 0)
			break;
		off += used;
		if (err < 0) {
			fail(s, "malformed watch message");
			break;
		}
		if (r.error[0]) {
			fail(s, "watch: %s", r.error);
			break;
		}
		if (r.compact_rev > 0) {
			log_info("route store: revision %lld was compacted (oldest kept %lld): "
				 "reading it all again", (long long)s->applied + 1,
				 (long long)r.compact_rev);
			s->full_read = true;
			fail(s, "watch revision compacted");
			break;
		}
		if (r.canceled) {
			fail(s, "watch canceled");
			break;
		}
		if (r.created && s->phase == PH_WATCH) {
			s->phase = PH_UP;
			s->reachable = true;
			s->why[0] = '\0';
			log_info("route store etcd (%s): watching %s/ from revision %lld",
				 s->cfg->endpoints[s->cur], s->cfg->prefix,
				 (long long)s->applied + 1);
			if (s->ev.reconnected)
				s->ev.reconnected(s->ev.arg);
			resend_unsure(s);
		}
	}
	return off;
}

static void on_watch_done(struct httpc_req *rq, int err, long status, const char *body,
			  size_t len, const char *why, void *arg)
{
	struct etcd *s = arg;

	s->watch = NULL;
	fail(s, "watch ended: %s", err < 0 ? why : "closed by the server");
}

static void start_watch(struct etcd *s)
{
	s->phase = PH_WATCH;
	s->watch = post(s, "/v3/watch", etcdmsg_watch(s->dir, s->applied + 1), 0,
			on_watch_data, on_watch_done, s);
	if (!s->watch)
		fail(s, "out of memory");
}

/* A unary reply: 0 and *r read (kv called), or fail()ed and -1. */
static int unary(struct etcd *s, const char *what, int err, long status, const char *body,
		 size_t len, const char *why, struct etcd_reply *r, etcdmsg_kv_cb kv)
{
	if (err < 0) {
		fail(s, "%s: %s", what, why);
		return -1;
	}
	if (etcdmsg_reply(body, len, r, kv, s) < 0) {
		fail(s, "%s: malformed reply (HTTP %ld)", what, status);
		return -1;
	}
	if (r->error[0] || status != 200) {
		fail(s, "%s: %s (HTTP %ld)", what, r->error[0] ? r->error : "refused", status);
		return -1;
	}
	return 0;
}

static void on_read(struct httpc_req *rq, int err, long status, const char *body, size_t len,
		    const char *why, void *arg)
{
	struct etcd *s = arg;
	struct etcd_reply r;

	s->setup = NULL;
	if (!s->seen_in_read && route_table_new(&s->seen_in_read) < 0) {
		fail(s, "out of memory");
		return;
	}
	if (unary(s, "reading the routes", err, status, body, len, why, &r, on_kv) < 0) {
		route_table_free(s->seen_in_read);
		s->seen_in_read = NULL;
		return;
	}
	if (s->read_rev == 0)
		s->read_rev = r.revision;
	if (r.more) {
		read_page(s);
		return;
	}
	end_full_read(s);
	watched(s, s->read_rev); /* (a snapshot is never older than what was applied) */
	s->full_read = false;
	start_watch(s);
}

/* The next page of a full read, at the first page's revision (a compaction meanwhile
 * fails it, and the read starts over). */
static void read_page(struct etcd *s)
{
	s->setup = post(s, "/v3/kv/range", etcdmsg_range_page(s->dir, s->read_after,
							       s->read_rev, ETCD_PAGE),
			ETCD_TIMEOUT_MS, NULL, on_read, s);
	if (!s->setup)
		fail(s, "out of memory");
}

static void on_register(struct httpc_req *rq, int err, long status, const char *body,
			size_t len, const char *why, void *arg)
{
	struct etcd *s = arg;
	struct etcd_reply r;

	s->setup = NULL;
	if (unary(s, "registering this node", err, status, body, len, why, &r, NULL) < 0)
		return;
	s->reg_rev = r.revision;
	if (s->full_read || s->applied == 0) {
		s->phase = PH_READ;
		s->read_rev = 0;
		s->read_after[0] = '\0';
		route_table_free(s->seen_in_read);
		s->seen_in_read = NULL;
		read_page(s);
		return;
	}
	start_watch(s);
}

/* This node's key, PREFIX/node/NAME = {addr, fingerprint}, put under the lease. */
static struct httpc_req *put_node(struct etcd *s, httpc_done_cb done)
{
	char key[ETCDMSG_KEY_MAX + 1], a[ADDR_STRLEN], *val;
	struct httpc_req *rq;

	snprintf(key, sizeof(key), "%s/node/%s", s->cfg->prefix, s->d->cfg.node);
	val = etcdmsg_node_value(addr_fmt(&s->d->cfg.listen, a), s->fingerprint);
	rq = val ? post(s, "/v3/kv/put", etcdmsg_put(key, val, s->lease), ETCD_TIMEOUT_MS, NULL,
			done, s) : NULL;
	free(val);
	return rq;
}

static void do_register(struct etcd *s)
{
	s->phase = PH_REGISTER;
	s->setup = put_node(s, on_register);
	if (!s->setup)
		fail(s, "out of memory");
}

static void on_reregister(struct httpc_req *rq, int err, long status, const char *body,
			  size_t len, const char *why, void *arg)
{
	struct etcd *s = arg;
	struct etcd_reply r;

	s->rereg = NULL;
	if (s->phase != PH_UP)
		return; /* a connect is under way and registers itself */
	if (unary(s, "registering this node again", err, status, body, len, why, &r,
		  NULL) == 0) {
		s->reg_rev = r.revision;
		log_info("route store: this node is registered again");
	}
}

static void reregister(struct etcd *s)
{
	if (s->phase != PH_UP || s->rereg)
		return; /* a connect registers anyway */
	s->rereg = put_node(s, on_reregister);
	if (!s->rereg)
		fail(s, "out of memory");
}

static void on_lease(struct httpc_req *rq, int err, long status, const char *body,
		     size_t len, const char *why, void *arg)
{
	struct etcd *s = arg;
	struct etcd_reply r;

	s->setup = NULL;
	if (unary(s, "lease", err, status, body, len, why, &r, NULL) < 0)
		return;
	if (r.lease_id == 0 || r.ttl <= 0) {
		if (s->lease)
			log_warnx("route store: lease %llx is gone (expired): a new one, and this "
				  "node's routes again", (unsigned long long)s->lease);
		s->lease = 0;
		s->phase = PH_LEASE;
		s->setup = post(s, "/v3/lease/grant", etcdmsg_lease_grant(s->cfg->lease_ttl_s),
				ETCD_TIMEOUT_MS, NULL, on_lease, s);
		if (!s->setup)
			fail(s, "out of memory");
		return;
	}
	s->lease = r.lease_id;
	do_register(s);
}

/* Step 1: a lease still alive is kept (a keepalive says so), else a new one. */
static void connect_step(struct etcd *s)
{
	s->phase = PH_LEASE;
	if (s->lease)
		s->setup = post(s, "/v3/lease/keepalive", etcdmsg_lease_keepalive(s->lease),
				ETCD_TIMEOUT_MS, NULL, on_lease, s);
	else
		s->setup = post(s, "/v3/lease/grant", etcdmsg_lease_grant(s->cfg->lease_ttl_s),
				ETCD_TIMEOUT_MS, NULL, on_lease, s);
	if (!s->setup)
		fail(s, "out of memory");
}

static void on_retry(struct loop_timer *t, void *arg)
{
	struct etcd *s = arg;

	if (s->phase == PH_IDLE)
		connect_step(s);
}

static void on_keep_done(struct httpc_req *rq, int err, long status, const char *body,
			 size_t len, const char *why, void *arg)
{
	struct etcd *s = arg;
	struct etcd_reply r;

	s->keep = NULL;
	if (s->phase != PH_UP)
		return; /* a connect is under way and checks the lease itself */
	if (unary(s, "lease keepalive", err, status, body, len, why, &r, NULL) < 0)
		return;
	if (r.ttl <= 0)
		fail(s, "lease %llx expired", (unsigned long long)s->lease);
}

static void on_keepalive(struct loop_timer *t, void *arg)
{
	struct etcd *s = arg;
	uint64_t every = (uint64_t)s->cfg->lease_ttl_s * 1000 / 3;

	loop_timer_arm(s->d->loop, &s->keepalive, every < 300 ? 300 : every);
	if (s->phase != PH_UP || s->keep)
		return;
	s->keep = post(s, "/v3/lease/keepalive", etcdmsg_lease_keepalive(s->lease),
		       ETCD_TIMEOUT_MS, NULL, on_keep_done, s);
}

/* --- publications -------------------------------------------------------------------- */

static void pub_free(struct pub *p)
{
	for (struct pub **pp = &p->s->pubs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	httpc_cancel(p->rq);
	free(p->e);
	free(p->seen);
	free(p);
}

static void pub_end(struct pub *p, int err, const char *why)
{
	struct etcd *s = p->s;

	if (p->confirm && s->ev.committed) {
		struct vip v[16];
		size_t n = p->n < 16 ? p->n : 16;

		for (size_t i = 0; i < n; i++)
			v[i] = p->e[i].vip;
		s->ev.committed(v, n, err, why, s->ev.arg);
	}
	pub_free(p);
}

/* A failed txn's read-back: the store's entry for one of our VIPs. */
static void on_readback(const struct etcd_kv *kv, void *arg)
{
	struct pub *p = arg;
	struct route_entry e;

	if (etcdmsg_vip_entry(p->s->cfg->prefix, kv, &e) < 0)
		return;
	for (size_t i = 0; i < p->n; i++) {
		if (!vip_equal(&p->e[i].vip, &e.vip))
			continue;
		if (strcmp(e.node, p->s->d->cfg.node) == 0) {
			p->seen[i] = e.store_rev; /* ours, only newer than we knew: again */
			if (!p->e[i].withdrawn && e.epoch == p->e[i].epoch)
				p->have++; /* unless it is this very entry */
		} else if (p->e[i].withdrawn) {
			/* Another node's key: ours is gone already, and a withdrawal deletes
			 * only this node's own key, whatever the epochs. */
			p->lost = true;
			report_ahead(p->s, &e, kv->mod_rev);
		} else if (e.epoch < p->e[i].epoch) {
			/* An older claim than ours whose key was only written again (its node
			 * re-published it after reconnecting): ours still supersedes it. */
			p->seen[i] = e.store_rev;
		} else {
			p->lost = true;
			report_ahead(p->s, &e, kv->mod_rev);
		}
	}
}

static void on_txn(struct httpc_req *rq, int err, long status, const char *body, size_t len,
		   const char *why, void *arg)
{
	struct pub *p = arg;
	struct etcd *s = p->s;
	struct etcd_reply r;
	char w[STORE_WHY_MAX];

	p->rq = NULL;
	if (err < 0 || etcdmsg_reply(body, len, &r, NULL, NULL) < 0 || r.error[0] ||
	    status != 200) {
		snprintf(w, sizeof(w), "route store etcd (%s): %s", s->cfg->endpoints[s->cur],
			 err < 0 ? why : r.error[0] ? r.error : "malformed txn reply");
		if (p->conn == s->conn)
			fail(s, "txn: %s", err < 0 ? why : r.error[0] ? r.error : "malformed reply");
		if (p->confirm && p->resends < ETCD_RESENDS) {
			/* Applied or not, nobody can say: the same txn once the store answers
			 * again (its compare-and-set and read-back tell which). Meanwhile the
			 * activation waits, as for a slow store. */
			char vb[VIP_STRLEN];

			log_warnx("route store: no answer to the txn for %s (%s): it may have been "
				  "applied; sent again once the store answers",
				  vip_fmt(&p->e[0].vip, vb), w);
			p->unsure = true;
			p->resends++;
			return;
		}
		pub_end(p, -ENOTCONN, w);
		return;
	}
	if (r.succeeded) {
		for (size_t i = 0; i < p->n; i++) {
			struct route_entry e = p->e[i];

			e.store_rev = e.withdrawn ? 0 : (uint64_t)r.revision;
			report_ahead(s, &e, r.revision);
		}
		pub_end(p, 0, "");
		return;
	}
	/* Lost: the read-back says to whom (reported as the truth), or that only our own
	 * expectation was stale (then once more). */
	p->lost = false;
	p->have = 0;
	for (size_t i = 0; i < p->n; i++)
		p->seen[i] = 0; /* no key, unless the read-back says otherwise */
	etcdmsg_reply(body, len, &r, on_readback, p);
	if (!p->lost && p->have == p->n) {
		/* The store holds every entry as this txn would put it: an earlier try (one
		 * unanswered, or this node's republication) applied it. */
		for (size_t i = 0; i < p->n; i++) {
			struct route_entry e = p->e[i];

			e.store_rev = p->seen[i];
			report_ahead(s, &e, (int64_t)p->seen[i]);
		}
		pub_end(p, 0, "");
		return;
	}
	if (p->lost || ++p->tries >= ETCD_CAS_TRIES) {
		pub_end(p, -ECANCELED, "another node holds the VIP in the route store");
		return;
	}
	if (pub_send(p) < 0)
		pub_end(p, -ENOMEM, "out of memory");
}

static int pub_send(struct pub *p)
{
	struct etcd *s = p->s;

	p->conn = s->conn;
	p->rq = post(s, "/v3/kv/txn", etcdmsg_txn_routes(s->cfg->prefix, p->e, p->seen, p->n,
							  s->lease),
		     ETCD_TIMEOUT_MS, NULL, on_txn, p);
	return p->rq ? 0 : -ENOMEM;
}

/* --- the ops ------------------------------------------------------------------------- */

static bool reachable(struct daemon *d, char *why, size_t len)
{
	struct etcd *s = d->etcd;

	if (s && s->reachable && s->lease)
		return true;
	snprintf(why, len, "%s", s && s->why[0] ? s->why
				 : "route store etcd not connected yet");
	return false;
}

static int publish(struct daemon *d, const struct route_entry *e, const uint64_t *seen,
		   size_t n, bool confirm)
{
	struct etcd *s = d->etcd;
	struct pub *p;

	if (!s || !s->reachable || !s->lease)
		return -ENOTCONN;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->s = s;
	p->n = n;
	p->confirm = confirm;
	p->e = malloc(n * sizeof(*p->e));
	p->seen = malloc(n * sizeof(*p->seen));
	if (!p->e || !p->seen) {
		free(p->e);
		free(p->seen);
		free(p);
		return -ENOMEM;
	}
	memcpy(p->e, e, n * sizeof(*e));
	memcpy(p->seen, seen, n * sizeof(*seen));
	p->next = s->pubs;
	s->pubs = p;
	if (pub_send(p) < 0) {
		pub_free(p);
		return -ENOMEM;
	}
	return 0;
}

/* SHA-256 of the node's certificate (DER), "sha256:hex". */
static void fingerprint(const char *file, char *out, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	FILE *f = fopen(file, "re");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	size_t off;

	snprintf(out, cap, "unknown");
	if (x && X509_digest(x, EVP_sha256(), md, &n) == 1) {
		off = (size_t)snprintf(out, cap, "sha256:");
		for (unsigned int i = 0; i < n && off + 3 <= cap; i++)
			off += (size_t)snprintf(out + off, cap - off, "%02x", md[i]);
	}
	X509_free(x);
	if (f)
		fclose(f);
}

static int start(struct daemon *d, const struct store_events *ev)
{
	struct etcd *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	err = httpc_new(d->loop, &s->http);
	if (err < 0) {
		free(s);
		return err;
	}
	s->d = d;
	s->ev = *ev;
	s->cfg = &d->cfg.store;
	s->tls = (struct httpc_tls){ s->cfg->ca_file, s->cfg->cert_file, s->cfg->key_file };
	s->full_read = true;
	snprintf(s->dir, sizeof(s->dir), "%s/", s->cfg->prefix);
	snprintf(s->why, sizeof(s->why), "route store etcd not connected yet (%s)",
		 s->cfg->endpoints[0]);
	fingerprint(d->cfg.cert_file, s->fingerprint, sizeof(s->fingerprint));
	loop_timer_init(&s->retry, on_retry, s);
	loop_timer_init(&s->keepalive, on_keepalive, s);
	d->etcd = s;
	connect_step(s);
	on_keepalive(&s->keepalive, s);
	return 0;
}

static void stop(struct daemon *d)
{
	struct etcd *s = d->etcd;

	if (!s)
		return;
	while (s->pubs)
		pub_free(s->pubs);
	loop_timer_stop(d->loop, &s->retry);
	loop_timer_stop(d->loop, &s->keepalive);
	httpc_free(s->http); /* setup, watch, keep: freed with it */
	route_table_free(s->seen_in_read);
	route_table_free(s->ahead);
	free(s);
	d->etcd = NULL;
}

const struct store_ops etcd_store = {
	.name = "etcd",
	.start = start,
	.stop = stop,
	.publish = publish,
	.reachable = reachable,
	.authoritative = true,
};
