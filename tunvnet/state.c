/* Restart survival (state.h): the state file written as things change, and read at
 * start. */
#include "tunvnet/state.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/job.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/netns.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"
#include "tunvnet/routing.h"
#include "tunvnet/statefile.h"
#include "tunvnet/tun.h"

#define RETRY_MS      1000 /* after a failed write */
#define SLOW_WRITE_MS 50   /* a write that held the loop longer is logged */

struct state {
	struct daemon *d;
	int dirfd;
	char path[PATH_MAX], tmp[PATH_MAX];
	struct events_sub sub;
	bool tracking, hooked;
	bool dirty;
	uint64_t retry_at_ms;
	uint64_t writes; /* files written (tests, logs) */
	/* The last run's peers, read by state_restore, dialled once the peer layer runs */
	struct statefile_peer *peers;
	size_t npeers;
};

/* --- writing ---------------------------------------------------------------------- */

struct snap {
	struct daemon *d;
	struct statefile *sf;
	size_t cap;
	bool nomem;
};

static void add_route(const struct route_entry *e, void *arg)
{
	struct snap *s = arg;
	struct statefile_route *r;

	if (s->nomem || strcmp(e->node, s->d->cfg.node) != 0)
		return;
	if (s->sf->nroutes == s->cap) {
		size_t n = s->cap ? s->cap * 2 : 64;
		struct statefile_route *nr = realloc(s->sf->routes, n * sizeof(*nr));

		if (!nr) {
			s->nomem = true;
			return;
		}
		s->sf->routes = nr;
		s->cap = n;
	}
	r = &s->sf->routes[s->sf->nroutes++];
	r->vip = e->vip;
	r->epoch = e->epoch;
	r->withdrawn = e->withdrawn;
}

/* The daemon's state as the file says it. 0 or -ENOMEM. */
static int snapshot(struct daemon *d, struct statefile *sf)
{
	struct snap s = { d, sf, 0, false };
	size_t i = 0;

	memset(sf, 0, sizeof(*sf));
	snprintf(sf->node, sizeof(sf->node), "%s", d->cfg.node);
	sf->jobs = calloc(job_count(d) + 1, sizeof(*sf->jobs));
	if (!sf->jobs)
		return -ENOMEM;
	for (struct job *j = d->jobs; j; j = j->next) {
		struct statefile_job *o = &sf->jobs[i];

		if (j->nvips == 0)
			continue; /* an attach half-way: nothing to take up again */
		snprintf(o->netns, sizeof(o->netns), "%s", j->netns);
		o->ns_dev = (uint64_t)j->nsid.dev;
		o->ns_ino = (uint64_t)j->nsid.ino;
		o->state = j->state;
		o->handing_over = j->handing_over;
		memcpy(o->vips, j->vips, sizeof(o->vips));
		o->nvips = j->nvips;
		i++;
	}
	sf->njobs = i;
	sf->peers = calloc(peer_count_known(d) + 1, sizeof(*sf->peers));
	if (!sf->peers) {
		statefile_free(sf);
		return -ENOMEM;
	}
	for (struct peer *p = d->peers; p; p = p->next) {
		if (!p->ever_up || !p->addr_known || sf->npeers == STATEFILE_MAX_PEERS)
			continue;
		snprintf(sf->peers[sf->npeers].name, sizeof(sf->peers[0].name), "%s", p->name);
		sf->peers[sf->npeers++].addr = p->addr;
	}
	route_foreach(d->routes, add_route, &s);
	if (s.nomem) {
		statefile_free(sf);
		return -ENOMEM;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The whole file replaced at once: a crash leaves the old file or the new one. */
static int write_file(struct state *st, const char *txt)
{
	int fd, err;

	fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, txt, strlen(txt));
	if (err == 0)
		err = write_all(fd, "\n", 1);
	if (err == 0 && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(st->tmp, st->path) < 0)
		err = -errno;
	if (err < 0) {
		unlink(st->tmp);
		return err;
	}
	if (fsync(st->dirfd) < 0) /* the rename itself */
		return -errno;
	return 0;
}

void state_flush(struct daemon *d)
{
	struct state *st = d->state;
	struct statefile sf;
	char *txt = NULL;
	int err;

	uint64_t t0;

	if (!st || !st->dirty)
		return;
	t0 = loop_clock_ms();
	err = snapshot(d, &sf);
	if (err == 0) {
		txt = statefile_format(&sf);
		statefile_free(&sf);
		err = txt ? write_file(st, txt) : -ENOMEM;
		free(txt);
	}
	if (err < 0) {
		errno = -err;
		log_ratelimited(log_warn, "cannot write the state file %s (retrying)", st->path);
		st->retry_at_ms = loop_now(d->loop) + RETRY_MS;
		return;
	}
	st->dirty = false;
	st->writes++;
	/* The loop waited for this: say so when it was long (a slow disk, a huge file). */
	if (loop_clock_ms() - t0 > SLOW_WRITE_MS)
		log_ratelimited(log_warnx, "writing the state file %s took %llu ms", st->path,
				(unsigned long long)(loop_clock_ms() - t0));
}

static void on_before_sleep(void *arg)
{
	struct state *st = arg;

	if (st->dirty && loop_now(st->d->loop) >= st->retry_at_ms)
		state_flush(st->d);
}

/* Jobs coming and going, changing state or VIPs; this node's own routes changing. */
static void on_event(const struct event *e, const char *json, void *arg)
{
	struct state *st = arg;
	const char *self = st->d->cfg.node;

	switch (e->type) {
	case EVENT_JOB_ATTACH:
	case EVENT_JOB_DETACH:
	case EVENT_JOB_SUSPEND:
	case EVENT_JOB_RESUME:
	case EVENT_JOB_STANDBY:
	case EVENT_JOB_ACTIVATE:
	case EVENT_JOB_RELEASE:
	case EVENT_PEER_UP:
		st->dirty = true;
		break;
	case EVENT_ROUTE_CHANGE:
		if (strcmp(e->old_node, self) == 0 || strcmp(e->new_node, self) == 0)
			st->dirty = true;
		break;
	default:
		break;
	}
}

/* --- reading ---------------------------------------------------------------------- */

/* Renames a file the daemon cannot use to state.json.bad-TIME (-N when that is taken),
 * says so, and starts a fresh file in its place. */
static void set_aside(struct state *st, const char *why)
{
	char aside[PATH_MAX + 64], ts[20];
	time_t now = time(NULL);
	struct tm tm;
	int err = -EEXIST;

	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));
	for (int n = 0; n < 100 && err == -EEXIST; n++) {
		if (n == 0)
			snprintf(aside, sizeof(aside), "%s.bad-%s", st->path, ts);
		else
			snprintf(aside, sizeof(aside), "%s.bad-%s-%d", st->path, ts, n);
		err = renameat2(AT_FDCWD, st->path, AT_FDCWD, aside, RENAME_NOREPLACE) < 0
			      ? -errno : 0;
	}
	if (err < 0) {
		errno = -err;
		log_warn("state file %s is unusable (%s) and cannot be set aside", st->path, why);
		return;
	}
	log_warnx("state file %s is unusable (%s): set aside as %s; starting without the jobs "
		  "it named", st->path, why, aside);
	st->dirty = true;
	state_flush(st->d);
}

static int read_file(const char *path, char **buf, size_t *len)
{
	struct stat sb;
	ssize_t n;
	int fd, err = 0;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > STATEFILE_MAX_BYTES) {
		err = -EFBIG;
		goto out;
	}
	*buf = malloc((size_t)sb.st_size + 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	n = pread(fd, *buf, (size_t)sb.st_size, 0);
	if (n < 0) {
		err = -errno;
		free(*buf);
		*buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	close(fd);
	return err;
}

static int has_tun(void *arg)
{
	return if_nametoindex(TUN_IFNAME) ? 0 : -ENODEV;
}

/* Takes one job up again; 0, or -errno with why filled (the job is dropped). */
static int adopt(struct daemon *d, const struct statefile_job *sj, char *why, size_t wl)
{
	struct netns_id id;
	struct job *j;
	int fd, err, added = 0;

	fd = netns_open(sj->netns, &id);
	if (fd < 0) {
		snprintf(why, wl, "its namespace is gone (%s)", strerror(-fd));
		return fd;
	}
	if ((uint64_t)id.dev != sj->ns_dev || (uint64_t)id.ino != sj->ns_ino) {
		close(fd);
		snprintf(why, wl, "the namespace of that name is another one now (made again)");
		return -ESTALE;
	}
	err = netns_run(fd, has_tun, NULL);
	close(fd);
	if (err < 0) {
		snprintf(why, wl, "its TUN %s is gone from the namespace", TUN_IFNAME);
		return err;
	}
	err = job_open(d, sj->netns, &j);
	if (err < 0) {
		snprintf(why, wl, "cannot attach to its TUN: %s", strerror(-err));
		return err;
	}
	for (int i = 0; i < sj->nvips; i++) {
		char vb[VIP_STRLEN];

		if (job_by_vip(d, &sj->vips[i])) {
			log_warnx("job %s: %s is already another job's: not taken up", sj->netns,
				  vip_fmt(&sj->vips[i], vb));
			continue;
		}
		err = job_add_vip(j, &sj->vips[i]);
		if (err < 0) {
			log_warnx("job %s: cannot put %s back: %s", sj->netns,
				  vip_fmt(&sj->vips[i], vb), strerror(-err));
			continue;
		}
		added++;
	}
	if (added == 0) {
		job_drop_if_empty(j);
		snprintf(why, wl, "none of its VIPs could be put back");
		return -ENOENT;
	}
	j->state = sj->state;
	j->handing_over = sj->handing_over;
	log_info("job %s: taken up again after the restart: TUN %s, %d VIP(s), %s", sj->netns,
		 TUN_IFNAME, j->nvips, job_state_name(j->state));
	return 0;
}

/* The file's route entries go back in the table as they were, except that a VIP no job
 * hosts any more is withdrawn at its epoch. A VIP of an active job with no entry (a
 * write lost with the crash) is announced afresh. */
static void restore_routes(struct daemon *d, const struct statefile *sf)
{
	uint64_t now = loop_now(d->loop);
	char vb[VIP_STRLEN];

	for (size_t i = 0; i < sf->nroutes; i++) {
		const struct statefile_route *r = &sf->routes[i];
		struct job *j = job_by_vip(d, &r->vip);
		struct route_entry e = { .vip = r->vip, .epoch = r->epoch,
					 .withdrawn = r->withdrawn, .changed_ms = now };

		snprintf(e.node, sizeof(e.node), "%s", d->cfg.node);
		if (!e.withdrawn && (!j || j->state == JOB_STANDBY)) {
			log_info("route %s (epoch %llu): no job hosts it now: withdrawn",
				 vip_fmt(&r->vip, vb), (unsigned long long)r->epoch);
			e.withdrawn = true;
		}
		route_update(d->routes, &e);
	}
	for (struct job *j = d->jobs; j; j = j->next) {
		if (j->state == JOB_STANDBY)
			continue;
		for (int k = 0; k < j->nvips; k++) {
			uint64_t epoch;

			if (route_lookup(d->routes, &j->vips[k]))
				continue;
			routing_announce(d, &j->vips[k], 1, &epoch, false);
			log_info("route %s: not in the state file: announced at epoch %llu",
				 vip_fmt(&j->vips[k], vb), (unsigned long long)epoch);
		}
	}
}

int state_restore(struct daemon *d)
{
	struct state *st = d->state;
	struct statefile sf;
	char *buf, why[256];
	size_t len = 0, kept = 0;
	int err;

	if (!st)
		return 0;
	err = read_file(st->path, &buf, &len);
	if (err == -ENOENT)
		return 0; /* a first start */
	if (err == -ENOMEM)
		return err;
	if (err < 0) {
		snprintf(why, sizeof(why), "%s", strerror(-err));
		set_aside(st, why);
		return 0;
	}
	err = statefile_parse(buf, len, &sf, why, sizeof(why));
	free(buf);
	if (err == -ENOMEM)
		return err;
	if (err < 0) {
		set_aside(st, why);
		return 0;
	}
	if (strcmp(sf.node, d->cfg.node) != 0) {
		snprintf(why, sizeof(why), "it is node %s's, this is %s", sf.node, d->cfg.node);
		statefile_free(&sf);
		set_aside(st, why);
		return 0;
	}
	for (size_t i = 0; i < sf.njobs; i++) {
		char vb[VIP_STRLEN];

		if (adopt(d, &sf.jobs[i], why, sizeof(why)) == 0) {
			kept++;
			continue;
		}
		log_warnx("job %s (%s%s): dropped: %s", sf.jobs[i].netns,
			  vip_fmt(&sf.jobs[i].vips[0], vb), sf.jobs[i].nvips > 1 ? ", ..." : "",
			  why);
	}
	restore_routes(d, &sf);
	log_info("state file %s: %zu of %zu job(s) taken up again, %zu route(s) of this node, "
		 "%zu peer(s) to dial", st->path, kept, sf.njobs, sf.nroutes, sf.npeers);
	st->peers = sf.peers; /* for state_dial_peers */
	st->npeers = sf.npeers;
	sf.peers = NULL;
	statefile_free(&sf);
	st->dirty = true; /* what was dropped is forgotten in the file too */
	state_flush(d);
	return 0;
}

void state_dial_peers(struct daemon *d)
{
	struct state *st = d->state;

	if (!st)
		return;
	for (size_t i = 0; i < st->npeers; i++)
		peer_hint(d, st->peers[i].name, &st->peers[i].addr);
	free(st->peers);
	st->peers = NULL;
	st->npeers = 0;
}

/* --- life ------------------------------------------------------------------------- */

int state_init(struct daemon *d)
{
	struct state *st;
	int n;

	if (!d->cfg.state_dir[0])
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->d = d;
	n = snprintf(st->path, sizeof(st->path), "%s/%s", d->cfg.state_dir, STATE_FILE);
	if (n < 0 || (size_t)n >= sizeof(st->path) - 4 ||
	    snprintf(st->tmp, sizeof(st->tmp), "%s.tmp", st->path) < 0) {
		free(st);
		return -ENAMETOOLONG;
	}
	st->dirfd = open(d->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		n = -errno;
		free(st);
		return n;
	}
	if (loop_before_sleep(d->loop, on_before_sleep, st) < 0) {
		close(st->dirfd);
		free(st);
		return -ENOMEM;
	}
	st->hooked = true;
	st->sub.event = on_event;
	st->sub.arg = st;
	events_subscribe(d->events, &st->sub);
	st->tracking = true;
	d->state = st;
	return 0;
}

void state_stop(struct daemon *d)
{
	struct state *st = d->state;

	if (!st || !st->tracking)
		return;
	state_flush(d);
	events_unsubscribe(d->events, &st->sub);
	st->tracking = false;
	st->dirty = false;
}

void state_fini(struct daemon *d)
{
	struct state *st = d->state;

	if (!st)
		return;
	state_stop(d);
	if (st->hooked)
		loop_before_sleep_del(d->loop, on_before_sleep, st);
	close(st->dirfd);
	free(st->peers);
	free(st);
	d->state = NULL;
}
