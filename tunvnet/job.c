#include "tunvnet/job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int job_write(struct job *j, const uint8_t *pkt, size_t len)
{
	ssize_t n = write(j->tun_fd, pkt, len);

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

void job_drop_if_empty(struct job *j)
{
	if (j->nvips == 0)
		job_free(j, true);
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
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:I}",
			"netns", j->netns, "ifname", TUN_IFNAME, "vips", vips,
			"rx_packets", (json_int_t)j->rx_packets,
			"tx_packets", (json_int_t)j->tx_packets,
			"rx_bytes", (json_int_t)j->rx_bytes,
			"tx_bytes", (json_int_t)j->tx_bytes));
	}
	return arr;
}
