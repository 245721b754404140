/* In-daemon capture: sessions started by `vnetctl capture`, each with a scope, a compiled
 * filter and a bounded output stream (tunvnet/control.h). The data path reaches
 * capture_packet_slow() only while a session runs; a packet is copied only into the
 * streams of the sessions whose scope and filter both take it. */
#include "tunvnet/capture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <pcap/pcap.h>

#include "tunvnet/capmsg.h"
#include "tunvnet/control.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/daemon.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"

/* Room kept free in a stream for the END record and a few notes: packets that would eat
 * into it are dropped, so the END always gets through. */
#define RESERVE 4096

struct session {
	struct session *next;
	struct captures *cap;
	struct daemon *d;
	struct control_stream *s;
	struct capture_scope sc;
	bool has_prog;
	struct bpf_program prog;
	uint32_t snaplen;
	uint64_t count;            /* 0: unlimited */
	uint64_t packets, dropped;
	struct loop_timer timer;   /* duration */
};

static bool addr_is(const uint8_t *pkt, size_t len, const struct vip *v, size_t src_off,
		    size_t dst_off, size_t alen)
{
	if (len < dst_off + alen)
		return false;
	return memcmp(pkt + src_off, v->a, alen) == 0 || memcmp(pkt + dst_off, v->a, alen) == 0;
}

/* src (want_src) or dst of the packet equal to v. */
static bool packet_has(const uint8_t *pkt, size_t len, const struct vip *v, bool want_src,
		       bool want_dst)
{
	size_t soff, doff, alen;

	if (len < 1)
		return false;
	if ((pkt[0] >> 4) == 4 && v->family == AF_INET) {
		soff = 12, doff = 16, alen = 4;
	} else if ((pkt[0] >> 4) == 6 && v->family == AF_INET6) {
		soff = 8, doff = 24, alen = 16;
	} else {
		return false;
	}
	if (len < doff + alen)
		return false;
	if (want_src && want_dst)
		return addr_is(pkt, len, v, soff, doff, alen);
	return memcmp(pkt + (want_src ? soff : doff), v->a, alen) == 0;
}

bool capture_scope_match(const struct capture_scope *sc, enum capture_dir dir,
			 const char *peer, const uint8_t *pkt, size_t len)
{
	bool ingress = dir == CAPTURE_FROM_JOB || dir == CAPTURE_FROM_PEER;

	switch (sc->scope) {
	case CTL_SCOPE_ALL:
		return ingress;
	case CTL_SCOPE_PEER:
		return (dir == CAPTURE_FROM_PEER || dir == CAPTURE_TO_PEER) && peer &&
		       strcmp(peer, sc->peer) == 0;
	case CTL_SCOPE_VIP:
		if (!sc->cluster)
			return ingress && packet_has(pkt, len, &sc->vip, true, true);
		/* On the node hosting the VIP, where its TUN is: each packet once cluster-wide,
		 * packets held during a move counted where they are finally delivered. */
		if (dir == CAPTURE_FROM_JOB)
			return packet_has(pkt, len, &sc->vip, true, false);
		if (dir == CAPTURE_TO_JOB)
			return packet_has(pkt, len, &sc->vip, false, true);
		return false;
	}
	return false;
}

int capture_filter_compile(const char *expr, int snaplen, struct bpf_program *prog,
			   char *err, size_t errlen)
{
	pcap_t *pc = pcap_open_dead(DLT_RAW, snaplen);
	int rc = 0;

	if (!pc) {
		snprintf(err, errlen, "libpcap: out of memory");
		return -ENOMEM;
	}
	if (pcap_compile(pc, prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "%s", pcap_geterr(pc));
		rc = -EINVAL;
	}
	pcap_close(pc);
	return rc;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int write_json(struct session *ss, enum capmsg_type type, json_t *o)
{
	char *txt = json_dumps(o, JSON_COMPACT);
	uint8_t hdr[CAPMSG_HDR_LEN];
	struct iovec iov[2];
	size_t n;
	int err;

	json_decref(o);
	if (!txt)
		return -ENOMEM;
	n = strlen(txt);
	capmsg_header(hdr, type, (uint32_t)n);
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(hdr) };
	iov[1] = (struct iovec){ .iov_base = txt, .iov_len = n };
	err = control_stream_writev(ss->s, iov, 2);
	free(txt);
	return err;
}

static void session_unlink(struct session *ss)
{
	struct captures *c = ss->cap;
	struct session **pp;

	for (pp = &c->sessions; *pp && *pp != ss; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = ss->next;
		if (--c->active == 0)
			events_unsubscribe(c->d->events, &c->sub);
	}
	loop_timer_stop(ss->d->loop, &ss->timer);
	if (ss->has_prog)
		pcap_freecode(&ss->prog);
	log_info("capture ended: %llu packets, %llu dropped",
		 (unsigned long long)ss->packets, (unsigned long long)ss->dropped);
	free(ss);
}

static void write_end(struct session *ss, const char *reason)
{
	write_json(ss, CAPMSG_END,
		   json_pack("{s:I, s:I, s:s}", "packets", (json_int_t)ss->packets, "dropped",
			     (json_int_t)ss->dropped, "reason", reason));
}

/* The capture is over: END, then the stream closes once it is written out. */
static void finish(struct session *ss, const char *reason)
{
	write_end(ss, reason);
	control_stream_end(ss->s);
	session_unlink(ss);
}

static void on_stream(struct control_stream *s, enum control_stream_event ev, void *arg)
{
	struct session *ss = arg;

	if (ev == CONTROL_STREAM_EOF) {
		finish(ss, "client");
		return;
	}
	write_end(ss, "shutdown"); /* reaches the client only when the daemon stops */
	session_unlink(ss);
}

static void on_duration(struct loop_timer *t, void *arg)
{
	finish(arg, "duration");
}

void capture_packet_slow(struct captures *c, enum capture_dir dir, const char *peer,
			 const uint8_t *pkt, size_t len, size_t wire_len)
{
	uint8_t hdr[CAPMSG_PACKET_HDR_MAX];
	struct session *ss, *next;
	struct pcap_pkthdr ph;
	uint64_t ts = 0;

	for (ss = c->sessions; ss; ss = next) {
		struct iovec iov[2];
		size_t caplen;
		int h;

		next = ss->next;
		if (!capture_scope_match(&ss->sc, dir, peer, pkt, len))
			continue;
		ph.caplen = (bpf_u_int32)len;
		ph.len = (bpf_u_int32)wire_len;
		if (ss->has_prog && !pcap_offline_filter(&ss->prog, &ph, pkt))
			continue;
		caplen = len < ss->snaplen ? len : ss->snaplen;
		if (!ts)
			ts = now_usec();
		h = capmsg_packet_header(hdr, sizeof(hdr), ts, (uint32_t)wire_len, dir,
					 ss->d->cfg.node, caplen);
		if (h < 0) { /* cannot happen: a valid node name, caplen <= snaplen */
			ss->dropped++;
			continue;
		}
		iov[0].iov_base = hdr;
		iov[0].iov_len = (size_t)h;
		iov[1].iov_base = (void *)pkt;
		iov[1].iov_len = caplen;
		if (control_stream_room(ss->s) < iov[0].iov_len + caplen + RESERVE ||
		    control_stream_writev(ss->s, iov, 2) < 0) {
			ss->dropped++;
			continue;
		}
		if (++ss->packets == ss->count)
			finish(ss, "count");
	}
}

/* An event as a NOTE to the captures it concerns. vip, node: "" when none. */
static void note(struct captures *c, const char *vip, const char *node, const char *json)
{
	struct session *ss, *next;
	char vb[VIP_STRLEN];

	for (ss = c->sessions; ss; ss = next) {
		json_t *o;

		next = ss->next;
		if (ss->sc.scope == CTL_SCOPE_VIP &&
		    (!vip || strcmp(vip, vip_fmt(&ss->sc.vip, vb)) != 0))
			continue;
		if (ss->sc.scope == CTL_SCOPE_PEER && (!node || strcmp(node, ss->sc.peer) != 0))
			continue;
		o = json_loads(json, 0, NULL);
		if (!o)
			continue;
		json_object_set_new(o, "node", json_string(ss->d->cfg.node));
		if (control_stream_room(ss->s) > RESERVE / 2)
			write_json(ss, CAPMSG_NOTE, o);
		else
			json_decref(o);
	}
}

/* A route changed: the captures of a VIP that left this node hear of it. */
static void route(struct captures *c, const char *vip, const char *old_node,
		  const char *new_node, bool withdrawn)
{
	struct session *ss, *next;
	char vb[VIP_STRLEN];

	for (ss = c->sessions; ss; ss = next) {
		next = ss->next;
		if (ss->sc.scope != CTL_SCOPE_VIP || withdrawn || !new_node[0] ||
		    strcmp(old_node, ss->d->cfg.node) != 0 ||
		    strcmp(new_node, ss->d->cfg.node) == 0 ||
		    strcmp(vip, vip_fmt(&ss->sc.vip, vb)) != 0)
			continue;
		write_json(ss, CAPMSG_NOTE,
			   json_pack("{s:s, s:s, s:s}", "vip", vip, "moved_to", new_node, "node",
				     ss->d->cfg.node));
		if (!ss->sc.cluster)
			finish(ss, "moved");
	}
}

/* The event bus's subscriber (while a capture runs). */
static void on_event(const struct event *e, const char *json, void *arg)
{
	struct captures *c = arg;

	note(c, e->vip, e->type == EVENT_ROUTE_CHANGE ? "" : e->node, json);
	if (e->type == EVENT_ROUTE_CHANGE)
		route(c, e->vip, e->old_node, e->new_node, e->withdrawn);
}

int capture_new(struct daemon *d, struct captures **out)
{
	struct captures *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->d = d;
	c->sub.event = on_event;
	c->sub.arg = c;
	*out = c;
	return 0;
}

void capture_free(struct captures *c)
{
	if (!c)
		return;
	/* Sessions end with their streams, in control_stop(), which comes first. */
	while (c->sessions)
		session_unlink(c->sessions);
	free(c);
}

char *capture_command(struct captures *c, struct control *ctl, uint64_t client_id,
		      const struct ctl_request *rq)
{
	struct daemon *d = c->d;
	struct session *ss;
	char err[PCAP_ERRBUF_SIZE + 64];
	int snaplen = rq->snaplen ? rq->snaplen : CTL_SNAPLEN_MAX;

	if (c->active >= (unsigned)d->cfg.limits.captures) {
		stats_limit(&d->stats, LIMIT_CAPTURES, 1);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "%d captures run already ([limits] "
					"captures)", (int)c->active);
	}
	if (snaplen < CTL_SNAPLEN_MIN || snaplen > CTL_SNAPLEN_MAX || rq->count < 0 ||
	    rq->duration_ms < 0)
		return ctlmsg_reply_err(CTL_ERR_BAD_REQUEST, "bad snaplen, count or duration");
	if (rq->scope == CTL_SCOPE_VIP && !rq->has_vip)
		return ctlmsg_reply_err(CTL_ERR_BAD_REQUEST, "scope vip needs a \"vip\"");
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "out of memory");
	ss->cap = c;
	ss->d = d;
	ss->sc.scope = rq->scope;
	ss->sc.cluster = rq->cluster;
	if (rq->has_vip)
		ss->sc.vip = rq->vip;
	snprintf(ss->sc.peer, sizeof(ss->sc.peer), "%s", rq->peer);
	ss->snaplen = (uint32_t)snaplen;
	ss->count = (uint64_t)rq->count;
	if (rq->filter[0]) {
		int e = capture_filter_compile(rq->filter, snaplen, &ss->prog, err, sizeof(err));

		if (e < 0) {
			free(ss);
			if (e == -ENOMEM)
				return ctlmsg_reply_err(CTL_ERR_SYSTEM, "%s", err);
			return ctlmsg_reply_err(CTL_ERR_BAD_FILTER, "%s", err);
		}
		ss->has_prog = true;
	}
	ss->s = control_stream_take(ctl, client_id, CAPTURE_BUFFER, on_stream, ss);
	if (!ss->s) {
		int e = errno;

		if (ss->has_prog)
			pcap_freecode(&ss->prog);
		free(ss);
		return ctlmsg_reply_err(CTL_ERR_SYSTEM, "cannot stream the capture: %s",
					strerror(e));
	}
	loop_timer_init(&ss->timer, on_duration, ss);
	if (rq->duration_ms > 0)
		loop_timer_arm(d->loop, &ss->timer, (uint64_t)rq->duration_ms);
	ss->next = c->sessions;
	c->sessions = ss;
	if (c->active++ == 0)
		events_subscribe(d->events, &c->sub);
	if (rq->scope == CTL_SCOPE_VIP)
		log_info("capture started: vip %s%s, filter \"%s\"", vip_fmt(&rq->vip, err),
			 rq->cluster ? " (cluster)" : "", rq->filter);
	else if (rq->scope == CTL_SCOPE_PEER)
		log_info("capture started: peer %s, filter \"%s\"", rq->peer, rq->filter);
	else
		log_info("capture started: all, filter \"%s\"", rq->filter);
	return ctlmsg_reply_ok(json_pack("{s:b, s:i, s:i, s:s}", "capturing", 1, "linktype",
					 CAPTURE_LINKTYPE_RAW, "snaplen", snaplen, "node",
					 d->cfg.node));
}
