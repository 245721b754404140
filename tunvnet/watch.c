#include "tunvnet/watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunvnet/daemon.h"
#include "tunvnet/events.h"
#include "tunvnet/job.h"
#include "tunvnet/log.h"
#include "tunvnet/netns.h"
#include "tunvnet/tun.h"
#include "tunvnet/tunlink.h"

struct watch {
	struct daemon *d;
	struct loop_timer timer;
};

/* Whether the name the job was attached by still leads to its namespace. A path under
 * /proc (a process's namespace) goes with the process; a name, with `ip netns del`. */
static bool netns_still_named(const struct job *j)
{
	struct netns_id id;
	int fd = netns_open(j->netns, &id);

	if (fd < 0)
		return fd != -ENOENT;  /* only "gone" counts: not a passing error */
	close(fd);
	return id.dev == j->nsid.dev && id.ino == j->nsid.ino;
}

static void repair(struct daemon *d, struct job *j, struct tunlink_addrs *a)
{
	char what[96] = "", vb[VIP_STRLEN];
	size_t n = 0;
	int err = 0;

	for (int i = 0; i < j->nvips; i++) {
		bool route = j->vips[i].family == AF_INET ? a->no_default4 : a->no_default6;

		if (!a->missing[i] && !route)
			continue;
		/* Puts the address back, and the family's default route if it is missing. */
		err = tun_addr_add(j->netns_fd, j->ifindex, &j->vips[i]);
		if (err < 0)
			break;
		n += (size_t)snprintf(what + n, n < sizeof(what) ? sizeof(what) - n : 0, "%s%s%s",
				      n ? ", " : "", a->missing[i] ? "" : "default route of ",
				      vip_fmt(&j->vips[i], vb));
		if (n >= sizeof(what))
			n = sizeof(what) - 1;
		if (!a->missing[i]) {
			/* the route is back for the family: do not add it twice */
			if (j->vips[i].family == AF_INET)
				a->no_default4 = false;
			else
				a->no_default6 = false;
		}
	}
	if (err < 0) {
		log_warnx("job %s: cannot put back what was removed from its TUN: %s", j->netns,
			  strerror(-err));
		return;
	}
	if (!n)
		return;
	stats_add(&d->stats, STAT_JOB_REPAIRS, 1);
	log_warnx("job %s: put back on its TUN what was removed behind tunvnetd's back: %s",
		  j->netns, what);
	events_job(d->events, EVENT_JOB_REPAIR, vip_fmt(&j->vips[0], vb), what);
}

void watch_job(struct daemon *d, struct job *j)
{
	struct tunlink_info info;
	struct tunlink_addrs a;
	char why[96];

	if (j->broken || j->handing_over || j->nvips == 0)
		return;
	/* A suspended job's namespace goes once its checkpoint is taken (the restore is
	 * elsewhere): that is the move, not damage; our fd keeps it and its TUN alive. */
	if (j->state != JOB_SUSPENDED && !netns_still_named(j)) {
		snprintf(why, sizeof(why), "its namespace %.60s is gone", j->netns);
		job_mark_broken(j, why);
		return;
	}
	if (tunlink_probe(j->netns_fd, TUN_IFNAME, &info) < 0)
		return;
	if (!info.exists || info.ifindex != j->ifindex) {
		job_mark_broken(j, "its TUN " TUN_IFNAME " was deleted");
		return;
	}
	if (tunlink_check_addrs(j->netns_fd, j->ifindex, j->vips, j->nvips, &a) == 0)
		repair(d, j, &a);
}

static void on_tick(struct loop_timer *t, void *arg)
{
	struct watch *w = arg;
	struct job *j, *next;

	for (j = w->d->jobs; j; j = next) {
		next = j->next;
		watch_job(w->d, j);
	}
	loop_timer_arm(w->d->loop, &w->timer, WATCH_INTERVAL_MS);
}

int watch_init(struct daemon *d)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->d = d;
	loop_timer_init(&w->timer, on_tick, w);
	loop_timer_arm(d->loop, &w->timer, WATCH_INTERVAL_MS);
	d->watch = w;
	return 0;
}

void watch_fini(struct daemon *d)
{
	if (!d->watch)
		return;
	loop_timer_stop(d->loop, &d->watch->timer);
	free(d->watch);
	d->watch = NULL;
}
