/* Dead nodes (liveness.h): one timer, armed for the earliest deadline of a peer that is
 * down and not yet declared dead. Nothing is kept per peer: a peer is dead when it is
 * down and its last frame is older than peer_timeout, and marking its routes twice
 * changes nothing the second time. */
#include "tunvnet/liveness.h"

#include <errno.h>
#include <stdlib.h>

#include "tunvnet/daemon.h"
#include "tunvnet/log.h"
#include "tunvnet/loop.h"
#include "tunvnet/peer.h"
#include "tunvnet/route.h"

struct liveness {
	struct daemon *d;
	struct loop_timer timer;
};

static uint64_t timeout_ms(const struct daemon *d)
{
	return (uint64_t)d->cfg.peer_timeout_s * 1000;
}

/* Declares dead every down peer past its deadline; re-arms for the next one. */
static void on_timer(struct loop_timer *t, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = loop_now(d->loop), next = UINT64_MAX;

	for (struct peer *p = d->peers; p; p = p->next) {
		uint64_t due = p->last_rx_ms + timeout_ms(d);
		size_t n;

		if (peer_is_up(p) || !p->ever_up)
			continue;
		if (due > now) {
			if (due < next)
				next = due;
			continue;
		}
		n = route_set_unreachable(d->routes, p->name, true);
		if (n > 0)
			log_warnx("peer %s: nothing heard for %llu ms (peer_timeout %d s): "
				  "declared dead, its %zu route(s) unreachable", p->name,
				  (unsigned long long)(now - p->last_rx_ms), d->cfg.peer_timeout_s,
				  n);
	}
	if (next != UINT64_MAX)
		loop_timer_arm(d->loop, t, next - now);
}

void liveness_peer_down(struct daemon *d, struct peer *p)
{
	struct liveness *lv = d->liveness;
	uint64_t now = loop_now(d->loop), due = p->last_rx_ms + timeout_ms(d);
	uint64_t delay = due > now ? due - now : 0;

	/* With links on demand a link ends when it is idle: its node's lease in the route
	 * store says whether the node lives (etcd.c), not its link. */
	if (d->cfg.store.on_demand)
		return;
	if (!lv)
		return;
	if (!loop_timer_armed(&lv->timer) || lv->timer.when_ms > now + delay)
		loop_timer_arm(d->loop, &lv->timer, delay);
}

void liveness_peer_up(struct daemon *d, struct peer *p)
{
	size_t n = route_set_unreachable(d->routes, p->name, false);

	if (n > 0)
		log_info("peer %s is back: its %zu route(s) reachable again", p->name, n);
}

int liveness_init(struct daemon *d)
{
	struct liveness *lv = calloc(1, sizeof(*lv));

	if (!lv)
		return -ENOMEM;
	lv->d = d;
	loop_timer_init(&lv->timer, on_timer, d);
	d->liveness = lv;
	return 0;
}

void liveness_fini(struct daemon *d)
{
	if (!d->liveness)
		return;
	loop_timer_stop(d->loop, &d->liveness->timer);
	free(d->liveness);
	d->liveness = NULL;
}
