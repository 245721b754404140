#include "tunvnet/job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunvnet/capture.h"
#include "tunvnet/daemon.h"
#include "tunvnet/forward.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/stats.h"
#include "tunvnet/tun.h"

#define READS_PER_WAKE 64
#define INDEX_BUCKETS  4096 /* power of two */

/* The local index VIP -> job: chained hash, one slot per VIP hosted on this node. */
struct slot {
	struct vip vip;
	struct job *job;
	struct slot *next;
};

static struct slot *index_buckets[INDEX_BUCKETS];

static struct slot **bucket(const struct vip *v)
{
	return &index_buckets[vip_hash(v) & (INDEX_BUCKETS - 1)];
}

static int index_add(const struct vip *v, struct job *j)
{
	struct slot **b = bucket(v), *s = malloc(sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->vip = *v;
	s->job = j;
	s->next = *b;
	*b = s;
	return 0;
}

static void index_del(const struct vip *v)
{
	for (struct slot **p = bucket(v); *p; p = &(*p)->next) {
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
	for (struct slot *s = *bucket(v); s; s = s->next)
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

static void on_tun(struct loop_io *io, uint32_t events, void *arg)
{
	static uint8_t buf[FORWARD_HEADROOM + FORWARD_MAX_PACKET];
	struct job *j = arg;

	for (int i = 0; i < READS_PER_WAKE; i++) {
		ssize_t n = read(j->tun_fd, buf + FORWARD_HEADROOM, FORWARD_MAX_PACKET);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_ratelimited(log_warn, "job %s: read from TUN", j->netns);
			return;
		}
		j->rx_packets++;
		j->rx_bytes += (uint64_t)n;
		stats_add(STAT_TUN_RX_PACKETS, 1);
		stats_add(STAT_TUN_RX_BYTES, (uint64_t)n);
		forward_from_job(j, buf + FORWARD_HEADROOM, (size_t)n);
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

int job_deliver(struct job *j, uint16_t flags, const uint8_t *pkt, size_t len)
{
	struct held_packet *hp;

	if (j->state == JOB_ACTIVE)
		return job_write(j, pkt, len);
	if (j->nheld >= JOB_HOLD_MAX_PACKETS || j->held_bytes + len > JOB_HOLD_MAX_BYTES ||
	    !(hp = malloc(sizeof(*hp) + len))) {
		stats_drop(DROP_HOLD_FULL);
		return -ENOBUFS;
	}
	capture_packet(CAPTURE_HELD, j, NULL, pkt, len, len);
	hp->next = NULL;
	hp->flags = flags;
	hp->len = len;
	memcpy(hp->data, pkt, len);
	*j->held_tail = hp;
	j->held_tail = &hp->next;
	j->nheld++;
	j->held_bytes += len;
	stats_add(STAT_HELD_PACKETS, 1);
	return 0;
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
	ssize_t n;

	capture_packet(CAPTURE_TO_JOB, j, NULL, pkt, len, len);
	n = write(j->tun_fd, pkt, len);
	if (n < 0) {
		stats_drop(DROP_TUN_WRITE);
		return -errno;
	}
	j->tx_packets++;
	j->tx_bytes += len;
	stats_add(STAT_TUN_TX_PACKETS, 1);
	stats_add(STAT_TUN_TX_BYTES, len);
	return 0;
}

static struct job *find_ns(struct daemon *d, const struct netns_id *id)
{
	for (struct job *j = d->jobs; j; j = j->next)
		if (j->nsid.dev == id->dev && j->nsid.ino == id->ino)
			return j;
	return NULL;
}

int job_open(struct daemon *d, const char *spec, struct job **out)
{
	struct netns_id id;
	struct job *j;
	int nsfd, err;

	nsfd = netns_open(spec, &id);
	if (nsfd < 0)
		return nsfd;
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
	j->tun_fd = tun_create(nsfd, TUN_IFNAME, d->cfg.mtu, &j->ifindex);
	if (j->tun_fd < 0) {
		err = j->tun_fd;
		goto fail;
	}
	j->io = loop_io_add(d->loop, j->tun_fd, EPOLLIN, on_tun, j);
	if (!j->io) {
		err = -errno;
		tun_destroy(j->tun_fd);
		goto fail;
	}
	j->next = d->jobs;
	d->jobs = j;
	*out = j;
	log_info("job %s: TUN %s up (mtu %d)", spec, TUN_IFNAME, d->cfg.mtu);
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
	err = index_add(v, j);
	if (err < 0) {
		tun_addr_del(j->netns_fd, j->ifindex, v);
		return err;
	}
	j->vips[j->nvips++] = *v;
	return 0;
}

static void job_free(struct job *j, bool destroy)
{
	struct job **p;

	for (p = &j->d->jobs; *p && *p != j; p = &(*p)->next)
		;
	if (*p)
		*p = j->next;
	for (int i = 0; i < j->nvips; i++)
		index_del(&j->vips[i]);
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
		log_info("job %s: last VIP removed, TUN destroyed", j->netns);
		job_free(j, true);
		*gone = true;
		return 0;
	}
	err = tun_addr_del(j->netns_fd, j->ifindex, v);
	index_del(v);
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
	index_del(v);
	j->vips[i] = j->vips[--j->nvips];
}

void job_drop_if_empty(struct job *j)
{
	if (j->nvips == 0)
		job_free(j, !j->handing_over);
}

void job_close_all(struct daemon *d)
{
	while (d->jobs)
		job_free(d->jobs, false);
}

json_t *job_list_json(struct daemon *d)
{
	json_t *arr = json_array();

	for (struct job *j = d->jobs; j; j = j->next) {
		json_t *vips = json_array();
		char buf[VIP_STRLEN];

		for (int i = 0; i < j->nvips; i++)
			json_array_append_new(vips, json_string(vip_fmt(&j->vips[i], buf)));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I}",
			"netns", j->netns, "ifname", TUN_IFNAME, "vips", vips,
			"state", job_state_name(j->state), "held", (json_int_t)j->nheld,
			"rx_packets", (json_int_t)j->rx_packets,
			"tx_packets", (json_int_t)j->tx_packets,
			"rx_bytes", (json_int_t)j->rx_bytes,
			"tx_bytes", (json_int_t)j->tx_bytes));
	}
	return arr;
}
