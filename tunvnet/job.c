#include "tunvnet/job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "tunnel/frame.h"
#include "tunvnet/capture.h"
#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/stats.h"
#include "tunvnet/tun.h"
#include "tunvnet/tunlink.h"
#include "tunvnet/vnet.h"

#define READS_PER_WAKE 64
#define INDEX_BUCKETS  4096 /* power of two */
/* The longest packet a TUN hands over: with offloads, a 64 KiB super-packet (the kernel's
 * GSO limit for a TUN counts the whole skb, so an IPv6 one may reach 65536 bytes) behind
 * its virtio-net header; the slack makes a longer one show up as malformed, not cut. */
#define TUN_READ_MAX   (VNET_HDR_LEN + 65536 + 256)

/* Backpressure. When a link to a peer is backed up, a packet read from a TUN is dropped
 * (bounded queues), and with super-packets one drop loses 40-odd segments at once. So
 * after such a drop no TUN is read for PAUSE_MS: the packets wait in the TUN's queue, where
 * the kernel's TCP small queues hold the senders back, instead of being read and thrown
 * away while the link drains. */
#define PAUSE_MS 1

/* The local index VIP -> job: chained hash, one slot per VIP hosted on this node. */
struct slot {
	struct vip vip;
	struct job *job;
	struct slot *next;
};

/* The state all of a daemon's jobs share. */
struct job_ctx {
	struct daemon *d;
	struct job_events ev;
	/* The offloads the kernel took on the TUNs this daemon opened (one kernel, so one
	 * set): a super-packet of a kind our TUNs cannot take is segmented here instead. */
	unsigned tun_offloads;
	struct loop_timer resume_timer;
	bool paused;
	struct slot *index[INDEX_BUCKETS];
	/* UDP coalescing on the way into the TUNs (see gro_take() below). */
	struct vnet_gro gro;
	struct job *gro_job;
	bool gro_hooked;
	uint8_t gro_buf[VNET_GRO_BUF];
	/* Scratch, used within one call: a TUN read, a segmented super-packet. */
	uint8_t rbuf[JOB_HEADROOM + TUN_READ_MAX];
	uint8_t scratch[TUN_READ_MAX];
};

static void set_reading(struct job_ctx *x, bool on)
{
	for (struct job *j = x->d->jobs; j; j = j->next)
		if (j->io)
			loop_io_set(j->io, on ? EPOLLIN : 0);
	x->paused = !on;
}

static void on_resume(struct loop_timer *t, void *arg)
{
	set_reading(arg, true);
}

static void pause_reading(struct job_ctx *x)
{
	if (x->paused)
		return;
	set_reading(x, false);
	loop_timer_arm(x->d->loop, &x->resume_timer, PAUSE_MS);
}

static struct slot **bucket(struct job_ctx *x, const struct vip *v)
{
	return &x->index[vip_hash(v) & (INDEX_BUCKETS - 1)];
}

static int index_add(struct job_ctx *x, const struct vip *v, struct job *j)
{
	struct slot **b = bucket(x, v), *s = malloc(sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->vip = *v;
	s->job = j;
	s->next = *b;
	*b = s;
	return 0;
}

static void index_del(struct job_ctx *x, const struct vip *v)
{
	for (struct slot **p = bucket(x, v); *p; p = &(*p)->next) {
		if (vip_equal(&(*p)->vip, v)) {
			struct slot *s = *p;

			*p = s->next;
			free(s);
			return;
		}
	}
}

struct job *job_by_vip(struct daemon *d, const struct vip *v)
{
	for (struct slot *s = *bucket(d->jobctx, v); s; s = s->next)
		if (vip_equal(&s->vip, v))
			return s->job;
	return NULL;
}

bool job_has_vip(const struct job *j, const struct vip *v)
{
	for (int i = 0; i < j->nvips; i++)
		if (vip_equal(&j->vips[i], v))
			return true;
	return false;
}

size_t job_count(const struct daemon *d)
{
	size_t n = 0;

	for (const struct job *j = d->jobs; j; j = j->next)
		n++;
	return n;
}

static void drop(struct job *j, enum drop_reason r)
{
	stats_drop_at(&j->d->stats, r, j->drops, NULL);
}

/* With offloads each read is a virtio-net header and a packet of up to 64 KiB; the
 * header travels with the packet (FRAME_F_VNET_HDR) so the far TUN gets it whole. */
static void on_tun(struct loop_io *io, uint32_t events, void *arg)
{
	struct job *j = arg;
	struct job_ctx *x = j->d->jobctx;
	uint8_t *buf = x->rbuf;
	bool vnet = j->d->cfg.offload;
	uint16_t flags = vnet ? FRAME_F_VNET_HDR : 0;
	size_t hl = vnet ? VNET_HDR_LEN : 0;

	for (int i = 0; i < READS_PER_WAKE; i++) {
		ssize_t n = read(j->tun_fd, buf + JOB_HEADROOM, TUN_READ_MAX);

		if (n < 0) {
			/* A deleted device leaves the fd detached: every poll says so. */
			if (errno == EBADFD || errno == ENODEV)
				job_mark_broken(j, "its TUN " TUN_IFNAME " was deleted");
			else if (errno != EAGAIN && errno != EINTR)
				log_ratelimited(log_warn, "job %s: read from TUN", j->netns);
			return;
		}
		if ((size_t)n <= hl) {
			drop(j, DROP_MALFORMED);
			continue;
		}
		j->rx_packets++;
		j->rx_bytes += (uint64_t)n - hl;
		stats_add(&j->d->stats, STAT_TUN_RX_PACKETS, 1);
		stats_add(&j->d->stats, STAT_TUN_RX_BYTES, (uint64_t)n - hl);
		if (x->ev.packet &&
		    x->ev.packet(j, flags, buf + JOB_HEADROOM, (size_t)n, x->ev.arg) == -ENOBUFS) {
			pause_reading(x);
			return;
		}
	}
}

const char *job_state_name(enum job_state s)
{
	switch (s) {
	case JOB_ACTIVE: return "active";
	case JOB_SUSPENDED: return "suspended";
	case JOB_STANDBY: return "standby";
	}
	return "?";
}

/* Queues one plain packet (no vnet header) for a job that is not ACTIVE. */
static int hold(struct job *j, uint16_t flags, const uint8_t *pkt, size_t len)
{
	struct held_packet *hp;

	if (j->nheld >= (size_t)j->d->cfg.limits.hold_packets ||
	    j->held_bytes + len > (size_t)j->d->cfg.limits.hold_bytes ||
	    !(hp = malloc(sizeof(*hp) + len))) {
		drop(j, DROP_HOLD_FULL);
		return -ENOBUFS;
	}
	capture_packet(j->d->capture, CAPTURE_HELD, NULL, pkt, len, len);
	hp->next = NULL;
	hp->flags = flags;
	hp->len = len;
	memcpy(hp->data, pkt, len);
	*j->held_tail = hp;
	j->held_tail = &hp->next;
	j->nheld++;
	j->held_bytes += len;
	stats_add(&j->d->stats, STAT_HELD_PACKETS, 1);
	return 0;
}

struct seg_ctx {
	struct job *j;
	uint16_t flags;
	bool held;
};

static int put_segment(const uint8_t *pkt, size_t len, void *arg)
{
	struct seg_ctx *c = arg;

	if (c->held)
		return hold(c->j, c->flags, pkt, len);
	return job_write(c->j, pkt, len);
}

/* A packet with a vnet header that this job's TUN cannot take as it is: the TUN has no
 * header (offload off), or the kernel lacks the offload (USO before Linux 6.2), or it is
 * to be held (held packets are plain, so that they can be handed to any node). Cut into
 * plain, fully checksummed packets: the only copy on the data path, and only here. */
static int segment(struct job *j, const struct vnet_hdr *h, const uint8_t *ip, size_t len,
		   uint16_t flags, bool held)
{
	struct job_ctx *x = j->d->jobctx;
	struct seg_ctx c = { j, (uint16_t)(flags & ~FRAME_F_VNET_HDR), held };
	int n = vnet_segment(h, ip, len, (size_t)j->d->cfg.mtu, x->scratch, sizeof(x->scratch),
			     put_segment, &c);

	if (n == -EINVAL || n == -EBADMSG || n == -ENOSPC)
		drop(j, DROP_MALFORMED);
	return n < 0 ? n : 0;
}

/* Whether this daemon's TUNs take the super-packet h describes as it is. */
static bool tun_takes(const struct job *j, const struct vnet_info *vi)
{
	unsigned tun_offloads = j->d->jobctx->tun_offloads;

	if (!j->d->cfg.offload)
		return false;
	switch (vi->gso) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return tun_offloads & TUN_F_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return tun_offloads & TUN_F_TSO6;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		return tun_offloads & (vi->family == AF_INET ? TUN_F_USO4 : TUN_F_USO6);
	default:
		return true;
	}
}

/* Writes a vnet header and its packet as they are, into a TUN with offloads. */
static int put_whole(struct job *j, const uint8_t *pkt, size_t len)
{
	size_t iplen = len - VNET_HDR_LEN;
	ssize_t n = write(j->tun_fd, pkt, len);

	if (n < 0) {
		drop(j, DROP_TUN_WRITE);
		return -errno;
	}
	j->tx_packets++;
	j->tx_bytes += iplen;
	stats_add(&j->d->stats, STAT_TUN_TX_PACKETS, 1);
	stats_add(&j->d->stats, STAT_TUN_TX_BYTES, iplen);
	return 0;
}

/* UDP coalescing on the way into the TUNs (vnet_gro_*): datagrams of one flow that come
 * back to back (one socket read brings many frames) go into the job's TUN as one UDP_L4
 * super-packet, one write and one trip through the job's stack instead of one each. One
 * flow is pending at a time. It is written before the loop sleeps and before anything
 * else is written to its job, so nothing overtakes it; a job that stopped being ACTIVE
 * meanwhile gets its datagrams held instead. Only with USO, which the kernel needs to
 * take a UDP super-packet. */
static void gro_flush(struct job_ctx *x)
{
	struct job *j = x->gro_job;
	struct vnet_hdr h;
	size_t len;

	if (!j)
		return;
	x->gro_job = NULL;
	len = vnet_gro_finish(&x->gro);
	if (j->state == JOB_ACTIVE) {
		put_whole(j, x->gro_buf, len);
		return;
	}
	vnet_hdr_get(x->gro_buf, &h);
	segment(j, &h, x->gro_buf + VNET_HDR_LEN, len - VNET_HDR_LEN, 0, true);
}

static void on_before_sleep(void *arg)
{
	gro_flush(arg);
}

static bool gro_usable(const struct job *j)
{
	struct job_ctx *x = j->d->jobctx;

	return x->gro_hooked && j->d->cfg.offload &&
	       (x->tun_offloads & (TUN_F_USO4 | TUN_F_USO6)) == (TUN_F_USO4 | TUN_F_USO6);
}

/* Takes the packet into the pending flow. false: the caller writes it itself. */
static bool gro_take(struct job *j, const struct vnet_hdr *h, const uint8_t *ip, size_t len)
{
	struct job_ctx *x = j->d->jobctx;
	int r;

	if (x->gro_job && x->gro_job != j)
		gro_flush(x);
	r = vnet_gro_add(&x->gro, h, ip, len);
	if (r == 0) {
		gro_flush(x);
		r = vnet_gro_add(&x->gro, h, ip, len);
	}
	if (r != 1) {
		gro_flush(x); /* what is pending for j goes first */
		return false;
	}
	x->gro_job = j;
	capture_packet(j->d->capture, CAPTURE_TO_JOB, NULL, ip, len, len);
	return true;
}

int job_deliver(struct job *j, uint16_t flags, const uint8_t *pkt, size_t len)
{
	static const struct vnet_hdr none;
	struct vnet_info vi;
	struct vnet_hdr h;
	const uint8_t *ip = pkt;
	size_t iplen = len;
	int n;
	/* Held: the job is not active here, or it was just activated and this packet
	 * did not come through the old node's hand-over, which is still to arrive. */
	bool held = j->state != JOB_ACTIVE ||
		    (j->await_from[0] && !(flags & FRAME_F_FORWARDED));

	if (!(flags & FRAME_F_VNET_HDR)) {
		if (held)
			return hold(j, flags, pkt, len);
		if (gro_usable(j) && gro_take(j, &none, pkt, len))
			return 0;
		return job_write(j, pkt, len);
	}
	/* A header from a peer is checked before the kernel or vnet_segment() sees it. */
	if (len < VNET_HDR_LEN) {
		drop(j, DROP_MALFORMED);
		return -EBADMSG;
	}
	vnet_hdr_get(pkt, &h);
	ip += VNET_HDR_LEN;
	iplen -= VNET_HDR_LEN;
	if ((n = vnet_check(&h, ip, iplen, (size_t)j->d->cfg.mtu, &vi)) < 0) {
		drop(j, n == -EINVAL ? DROP_BAD_VNET_HDR : DROP_MALFORMED);
		return -EBADMSG;
	}
	if (held && vnet_hdr_is_plain(&h))
		return hold(j, flags & ~FRAME_F_VNET_HDR, ip, iplen);
	if (held)
		return segment(j, &h, ip, iplen, flags, true);
	if (gro_usable(j) && gro_take(j, &h, ip, iplen))
		return 0;
	if (vnet_hdr_is_plain(&h))
		return job_write(j, ip, iplen);
	if (!tun_takes(j, &vi))
		return segment(j, &h, ip, iplen, flags, false);
	capture_packet(j->d->capture, CAPTURE_TO_JOB, NULL, ip, iplen, iplen);
	return put_whole(j, pkt, len); /* header and packet in one write, as they came */
}

size_t job_flush_held(struct job *j)
{
	size_t n = 0;

	while (j->held) {
		struct held_packet *hp = j->held;

		j->held = hp->next;
		job_write(j, hp->data, hp->len);
		free(hp);
		n++;
	}
	j->held_tail = &j->held;
	j->nheld = j->held_bytes = 0;
	return n;
}

/* The destination of a held packet (IPv4 or IPv6, checked when it was held). */
static bool held_to(const struct held_packet *hp, const struct vip *v)
{
	if (hp->len >= 20 && (hp->data[0] >> 4) == 4 && v->family == AF_INET)
		return memcmp(hp->data + 16, v->a, 4) == 0;
	if (hp->len >= 40 && (hp->data[0] >> 4) == 6 && v->family == AF_INET6)
		return memcmp(hp->data + 24, v->a, 16) == 0;
	return false;
}

size_t job_take_held(struct job *j, const struct vip *v,
		     void (*cb)(const struct held_packet *hp, void *arg), void *arg)
{
	struct held_packet **pp = &j->held;
	size_t n = 0;

	while (*pp) {
		struct held_packet *hp = *pp;

		if (!held_to(hp, v)) {
			pp = &hp->next;
			continue;
		}
		*pp = hp->next;
		j->nheld--;
		j->held_bytes -= hp->len;
		cb(hp, arg);
		free(hp);
		n++;
	}
	j->held_tail = pp;
	return n;
}

static void free_held(struct job *j)
{
	while (j->held) {
		struct held_packet *hp = j->held;

		j->held = hp->next;
		free(hp);
	}
	j->held_tail = &j->held;
	j->nheld = j->held_bytes = 0;
}

int job_write(struct job *j, const uint8_t *pkt, size_t len)
{
	static const uint8_t none[VNET_HDR_LEN]; /* a header that asks for nothing */
	ssize_t n;

	if (j->d->jobctx->gro_job == j)
		gro_flush(j->d->jobctx); /* what came first goes first */
	capture_packet(j->d->capture, CAPTURE_TO_JOB, NULL, pkt, len, len);
	if (j->d->cfg.offload) {
		struct iovec iov[2] = { { (void *)none, sizeof(none) }, { (void *)pkt, len } };

		n = writev(j->tun_fd, iov, 2);
	} else {
		n = write(j->tun_fd, pkt, len);
	}
	if (n < 0) {
		drop(j, DROP_TUN_WRITE);
		return -errno;
	}
	j->tx_packets++;
	j->tx_bytes += len;
	stats_add(&j->d->stats, STAT_TUN_TX_PACKETS, 1);
	stats_add(&j->d->stats, STAT_TUN_TX_BYTES, len);
	return 0;
}

void job_mark_broken(struct job *j, const char *why)
{
	char vb[VIP_STRLEN] = "";

	if (j->broken)
		return;
	j->broken = true;
	snprintf(j->problem, sizeof(j->problem), "%s", why);
	loop_io_del(j->io);
	j->io = NULL;
	stats_add(&j->d->stats, STAT_JOB_BROKEN, 1);
	log_warnx("job %s broken: %s", j->netns, why);
	if (j->nvips)
		vip_fmt(&j->vips[0], vb);
	events_job(j->d->events, EVENT_JOB_BROKEN, vb, j->problem);
}

static struct job *find_ns(struct daemon *d, const struct netns_id *id)
{
	for (struct job *j = d->jobs; j; j = j->next)
		if (j->nsid.dev == id->dev && j->nsid.ino == id->ino)
			return j;
	return NULL;
}

struct job *job_by_netns(struct daemon *d, const char *spec)
{
	struct netns_id id;
	struct job *j;
	int fd;

	for (j = d->jobs; j; j = j->next)
		if (strcmp(j->netns, spec) == 0)
			return j;
	fd = netns_open(spec, &id);
	if (fd < 0)
		return NULL;
	close(fd);
	return find_ns(d, &id);
}

/* The daemon's own namespace, or the host's (init's). */
static bool is_node_ns(const struct netns_id *id)
{
	static const char *const own[] = { "/proc/self/ns/net", "/proc/1/ns/net" };

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		struct netns_id o;
		int fd = netns_open(own[i], &o);

		if (fd < 0)
			continue;
		close(fd);
		if (o.dev == id->dev && o.ino == id->ino)
			return true;
	}
	return false;
}

int job_open(struct daemon *d, const char *spec, struct job **out)
{
	struct job_ctx *x = d->jobctx;
	struct netns_id id;
	struct job *j;
	int nsfd, err;

	nsfd = netns_open(spec, &id);
	if (nsfd < 0)
		return nsfd;
	if (is_node_ns(&id)) {
		/* A TUN and a default route there would take over the node's own traffic. */
		close(nsfd);
		return -EPERM;
	}
	j = find_ns(d, &id);
	if (j) {
		close(nsfd);
		*out = j;
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		err = -ENOMEM;
		goto fail;
	}
	j->d = d;
	j->held_tail = &j->held;
	j->nsid = id;
	j->netns_fd = nsfd;
	snprintf(j->netns, sizeof(j->netns), "%s", spec);
	j->tun_fd = tun_open(nsfd, TUN_IFNAME, d->cfg.mtu, d->cfg.offload ? TUN_OFFLOAD : 0,
			     &x->tun_offloads, &j->ifindex);
	if (j->tun_fd < 0) {
		err = j->tun_fd;
		goto fail;
	}
	/* Without the hook nothing would write a pending flow: no coalescing then. */
	if (!x->gro_hooked && loop_before_sleep(d->loop, on_before_sleep, x) == 0)
		x->gro_hooked = true;
	j->io = loop_io_add(d->loop, j->tun_fd, x->paused ? 0 : EPOLLIN, on_tun, j);
	if (!j->io) {
		err = -errno;
		tun_destroy(j->tun_fd);
		goto fail;
	}
	j->next = d->jobs;
	d->jobs = j;
	*out = j;
	/* Who serves this TUN, for another daemon that finds it (tunlink.h). */
	tunlink_mark(nsfd, j->ifindex, d->cfg.node);
	log_info("job %s: TUN %s up (mtu %d, offloads %s)", spec, TUN_IFNAME, d->cfg.mtu,
		 !d->cfg.offload ? "off" : x->tun_offloads & TUN_F_USO4 ? "csum tso uso" : "csum tso");
	return 0;
fail:
	free(j);
	close(nsfd);
	return err;
}

int job_add_vip(struct job *j, const struct vip *v)
{
	int err;

	if (job_has_vip(j, v))
		return 0;
	if (j->nvips == JOB_MAX_VIPS)
		return -E2BIG;
	err = tun_addr_add(j->netns_fd, j->ifindex, v);
	if (err < 0)
		return err;
	err = index_add(j->d->jobctx, v, j);
	if (err < 0) {
		tun_addr_del(j->netns_fd, j->ifindex, v);
		return err;
	}
	j->vips[j->nvips++] = *v;
	return 0;
}

static void job_free(struct job *j, bool destroy)
{
	struct job_ctx *x = j->d->jobctx;
	struct job **p;

	if (x->gro_job == j)
		gro_flush(x);

	for (p = &j->d->jobs; *p && *p != j; p = &(*p)->next)
		;
	if (*p)
		*p = j->next;
	for (int i = 0; i < j->nvips; i++)
		index_del(x, &j->vips[i]);
	loop_io_del(j->io);
	free_held(j);
	if (destroy)
		tun_destroy(j->tun_fd);
	else
		close(j->tun_fd);
	close(j->netns_fd);
	free(j);
}

int job_del_vip(struct job *j, const struct vip *v, bool *gone)
{
	int i, err;

	*gone = false;
	for (i = 0; i < j->nvips && !vip_equal(&j->vips[i], v); i++)
		;
	if (i == j->nvips)
		return -ENOENT;
	if (j->nvips == 1) {
		/* The last VIP: the TUN goes, and its addresses and routes with it. */
		log_info("job %s: last VIP removed, TUN %s", j->netns,
			 j->handing_over ? "left to the daemon that serves it too" : "destroyed");
		job_free(j, !j->handing_over);
		*gone = true;
		return 0;
	}
	err = j->handing_over ? 0 : tun_addr_del(j->netns_fd, j->ifindex, v);
	index_del(j->d->jobctx, v);
	j->vips[i] = j->vips[--j->nvips];
	return err;
}

void job_release_vip(struct job *j, const struct vip *v, bool *gone)
{
	int i;

	*gone = false;
	for (i = 0; i < j->nvips && !vip_equal(&j->vips[i], v); i++)
		;
	if (i == j->nvips)
		return;
	if (j->nvips == 1) {
		log_info("job %s: last VIP moved away, TUN %s", j->netns,
			 j->handing_over ? "handed over" : "destroyed");
		job_free(j, !j->handing_over);
		*gone = true;
		return;
	}
	if (!j->handing_over)
		tun_addr_del(j->netns_fd, j->ifindex, v);
	index_del(j->d->jobctx, v);
	j->vips[i] = j->vips[--j->nvips];
}

void job_drop_if_empty(struct job *j)
{
	if (j->nvips == 0)
		job_free(j, !j->handing_over);
}

void job_close_all(struct daemon *d)
{
	struct job_ctx *x = d->jobctx;

	if (!x)
		return;
	if (x->paused) {
		loop_timer_stop(d->loop, &x->resume_timer);
		x->paused = false;
	}
	while (d->jobs)
		job_free(d->jobs, false);
}

int job_init(struct daemon *d)
{
	struct job_ctx *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->d = d;
	x->gro.buf = x->gro_buf;
	loop_timer_init(&x->resume_timer, on_resume, x);
	d->jobctx = x;
	return 0;
}

void job_fini(struct daemon *d)
{
	struct job_ctx *x = d->jobctx;

	if (!x)
		return;
	job_close_all(d);
	loop_timer_stop(d->loop, &x->resume_timer);
	if (x->gro_hooked)
		loop_before_sleep_del(d->loop, on_before_sleep, x);
	free(x);
	d->jobctx = NULL;
}

void job_set_events(struct daemon *d, const struct job_events *ev)
{
	d->jobctx->ev = *ev;
}

json_t *job_list_json(struct daemon *d)
{
	json_t *arr = json_array();

	for (struct job *j = d->jobs; j; j = j->next) {
		json_t *vips = json_array();
		char buf[VIP_STRLEN];

		for (int i = 0; i < j->nvips; i++)
			json_array_append_new(vips, json_string(vip_fmt(&j->vips[i], buf)));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
			"netns", j->netns, "ifname", TUN_IFNAME, "vips", vips,
			"state", j->broken ? "broken" : job_state_name(j->state),
			"problem", j->problem, "held", (json_int_t)j->nheld,
			"rx_packets", (json_int_t)j->rx_packets,
			"tx_packets", (json_int_t)j->tx_packets,
			"rx_bytes", (json_int_t)j->rx_bytes,
			"tx_bytes", (json_int_t)j->tx_bytes));
	}
	return arr;
}
