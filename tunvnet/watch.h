/* The daemon and the kernel agree: a periodic look at every job's namespace, TUN,
 * addresses and default routes (tunlink.c), so that what was changed behind the daemon's
 * back is noticed within WATCH_INTERVAL_MS:
 *
 *   an address or a default route of the job's TUN removed (ip addr del, ip route del):
 *       put back (tun_addr_add), counted in jobs_repaired, a job_repair event;
 *   the TUN deleted (ip link del), the namespace's name removed (ip netns del; but for
 *   a suspended job, whose namespace goes once it is checkpointed):
 *       the job is marked broken (job_mark_broken: jobs_broken, a job_broken event, state
 *       "broken" in `vnetctl jobs`); detach takes it away.
 *
 * A job being handed over to another daemon (migrate) is that daemon's to mend. A TUN
 * deleted is also noticed at once by the read that fails on it (job.c). */
#ifndef TUNVNET_WATCH_H
#define TUNVNET_WATCH_H

#define WATCH_INTERVAL_MS 1000

struct daemon;
struct job;

/* Starts the periodic check (d->watch). 0 or -ENOMEM. */
int  watch_init(struct daemon *d);
void watch_fini(struct daemon *d);
/* One check of j now (also what the timer does for each job). */
void watch_job(struct daemon *d, struct job *j);

#endif
