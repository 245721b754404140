/* The chooser's rule and measurements (chooser.h says what they are). */
#include "tunvnet/chooser.h"

#include <stdio.h>
#include <string.h>

void chooser_init(struct chooser *c, int loss_max_pct)
{
	memset(c, 0, sizeof(*c));
	c->active = -1;
	c->loss_max = loss_max_pct;
	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		c->s[i].rtt_us = -1;
		c->s[i].rtt_min_us = -1;
		c->s[i].rate_bps = -1;
	}
}

static bool valid(int id)
{
	return id >= 0 && id < SUBSTRATE_MAX;
}

void chooser_link(struct chooser *c, int id, bool up, bool datagram, uint64_t now)
{
	struct chooser_sub *s;
	uint64_t failures;

	if (!valid(id))
		return;
	s = &c->s[id];
	failures = s->failures + (!up && s->up);
	memset(s, 0, sizeof(*s));
	s->rtt_us = -1;
	s->rtt_min_us = -1;
	s->rate_bps = -1;
	s->failures = failures;
	s->up = up;
	s->datagram = datagram;
	if (up) {
		s->up_ms = now;
		s->last_rx_ms = now;
	}
}

void chooser_error(struct chooser *c, int id, uint64_t now)
{
	if (!valid(id))
		return;
	c->s[id].error_ms = now ? now : 1;
	c->s[id].healthy_ms = 0;
}

/* Something arrived after an outage: the probes lost in it said "blocked", not
 * "lossy"; loss is measured afresh from here. */
static void outage_over(struct chooser_sub *s, uint64_t now)
{
	if (now > s->last_rx_ms + CHOOSER_FAIL_MS)
		s->nsent = 0;
}

void chooser_rx(struct chooser *c, int id, uint64_t now)
{
	if (valid(id) && c->s[id].up) {
		outage_over(&c->s[id], now);
		c->s[id].last_rx_ms = now;
	}
}

uint32_t chooser_probe_sent(struct chooser *c, int id, uint64_t now)
{
	struct chooser_sub *s;
	uint32_t seq, k;

	if (!valid(id))
		return 0;
	s = &c->s[id];
	seq = s->next_seq++;
	k = seq % CHOOSER_WINDOW;
	s->sent_ms[k] = now ? now : 1;
	s->answered[k] = false;
	if (s->nsent < CHOOSER_WINDOW)
		s->nsent++;
	return seq;
}

void chooser_probe_answered(struct chooser *c, int id, uint32_t seq, uint64_t now,
			    uint64_t rtt_us)
{
	struct chooser_sub *s;
	uint32_t k;

	if (!valid(id))
		return;
	s = &c->s[id];
	/* only probes still in the window, and each once */
	if (seq >= s->next_seq || s->next_seq - seq > s->nsent)
		return;
	k = seq % CHOOSER_WINDOW;
	if (s->answered[k] || !s->sent_ms[k] || now < s->sent_ms[k])
		return;
	if (now > s->last_rx_ms + CHOOSER_FAIL_MS) {
		outage_over(s, now);
		s->last_rx_ms = now;
		return;
	}
	s->answered[k] = true;
	s->last_rx_ms = now;
	s->rtt_us = s->rtt_us < 0 ? (double)rtt_us : 0.875 * s->rtt_us + 0.125 * (double)rtt_us;
	if (s->rtt_min_us < 0 || (double)rtt_us < s->rtt_min_us)
		s->rtt_min_us = (double)rtt_us;
}

void chooser_train(struct chooser *c, int id, uint32_t bytes, uint64_t elapsed_us)
{
	struct chooser_sub *s;
	double base, r;

	if (!valid(id))
		return;
	s = &c->s[id];
	base = s->rtt_min_us < 0 ? 0 : s->rtt_min_us;
	/* under 50 us more than a lone probe: faster than we can tell */
	r = (double)elapsed_us > base + 50 ? (double)bytes * 8.0 * 1e6 / ((double)elapsed_us - base)
					   : CHOOSER_RATE_CAP;
	s->rates[s->ntrains++ % CHOOSER_TRAINS] = r > CHOOSER_RATE_CAP ? CHOOSER_RATE_CAP : r;
	s->rate_bps = 0;
	for (uint32_t i = 0; i < CHOOSER_TRAINS && i < s->ntrains; i++)
		if (s->rates[i] > s->rate_bps)
			s->rate_bps = s->rates[i];
}

int chooser_loss(const struct chooser *c, int id, uint64_t now, int *resolved, int *answered)
{
	const struct chooser_sub *s;
	int res = 0, ans = 0;

	if (!valid(id))
		return -1;
	s = &c->s[id];
	for (uint32_t i = 0; i < s->nsent; i++) {
		uint32_t k = (s->next_seq - 1 - i) % CHOOSER_WINDOW;

		if (s->answered[k]) {
			res++;
			ans++;
		} else if (now >= s->sent_ms[k] + CHOOSER_LOST_MS) {
			res++;
		}
	}
	if (resolved)
		*resolved = res;
	if (answered)
		*answered = ans;
	return res ? (res - ans) * 100 / res : -1;
}

/* Healthy now, before hysteresis: up, answering, not losing too much. */
static bool healthy(const struct chooser *c, int id, uint64_t now, char *why, size_t cap)
{
	const struct chooser_sub *s = &c->s[id];
	int res, ans, loss;

	if (!s->up) {
		snprintf(why, cap, "no data link");
		return false;
	}
	if (s->error_ms && s->error_ms >= s->last_rx_ms) {
		snprintf(why, cap, "failed: link error");
		return false;
	}
	loss = chooser_loss(c, id, now, &res, &ans);
	if (now > s->last_rx_ms + CHOOSER_FAIL_MS && s->nsent > 0) {
		int since = 0;

		for (uint32_t i = 0; i < s->nsent; i++)
			since += s->sent_ms[(s->next_seq - 1 - i) % CHOOSER_WINDOW] >
				 s->last_rx_ms;
		snprintf(why, cap, "blocked, 0 of %d probes answered (nothing for %llu ms)",
			 since, (unsigned long long)(now - s->last_rx_ms));
		return false;
	}
	if (ans == 0) {
		snprintf(why, cap, res ? "blocked, 0 of %d probes answered" : "not measured yet",
			 res);
		return false;
	}
	if (s->datagram && loss > c->loss_max) {
		snprintf(why, cap, "loses %d%% of probes (%d of %d answered), more than %d%%",
			 loss, ans, res, c->loss_max);
		return false;
	}
	return true;
}

bool chooser_usable(const struct chooser *c, int id, uint64_t now, char *why, size_t cap)
{
	const struct chooser_sub *s;

	if (!valid(id)) {
		snprintf(why, cap, "unknown");
		return false;
	}
	s = &c->s[id];
	if (!healthy(c, id, now, why, cap))
		return false;
	/* back after a failure: healthy for a while first, unless it is in use */
	if (c->active != id && s->healthy_ms && now < s->healthy_ms + CHOOSER_RECOVER_MS &&
	    (s->failures || s->error_ms)) {
		snprintf(why, cap, "recovering (healthy for %llu ms)",
			 (unsigned long long)(now - s->healthy_ms));
		return false;
	}
	return true;
}

static double rate_of(const struct chooser_sub *s)
{
	return s->rate_bps < 0 ? CHOOSER_RATE_CAP : s->rate_bps;
}

/* The best by the rule among usable substrates, or -1. */
static int best(const struct chooser *c, uint64_t now)
{
	char why[CHOOSER_WHY_MAX];
	bool u = chooser_usable(c, SUBSTRATE_UDP, now, why, sizeof(why));
	bool t = chooser_usable(c, SUBSTRATE_TCP, now, why, sizeof(why));

	if (chooser_usable(c, SUBSTRATE_VERBS, now, why, sizeof(why)))
		return SUBSTRATE_VERBS;
	if (u && t)
		return rate_of(&c->s[SUBSTRATE_TCP]) * 100 >
				       rate_of(&c->s[SUBSTRATE_UDP]) * (100 + CHOOSER_FASTER_PCT)
			       ? SUBSTRATE_TCP
			       : SUBSTRATE_UDP;
	if (u)
		return SUBSTRATE_UDP;
	if (t)
		return SUBSTRATE_TCP;
	return -1;
}

static void track_health(struct chooser *c, uint64_t now)
{
	char why[CHOOSER_WHY_MAX];

	for (int i = 0; i < SUBSTRATE_MAX; i++) {
		struct chooser_sub *s = &c->s[i];
		bool h = healthy(c, i, now, why, sizeof(why));

		if (h && !s->healthy_ms)
			s->healthy_ms = now ? now : 1;
		else if (!h && s->healthy_ms) {
			s->healthy_ms = 0;
			if (s->up && s->nsent)
				s->failures++;
		}
	}
}

int chooser_pick(struct chooser *c, int policy, uint64_t now)
{
	char why[CHOOSER_WHY_MAX];
	int want;

	track_health(c, now);
	if (valid(policy)) {
		want = c->s[policy].up ? policy : -1;
	} else {
		want = best(c, now);
		/* a healthy one in use stays until the hold time passed */
		if (want != c->active && valid(c->active) &&
		    chooser_usable(c, c->active, now, why, sizeof(why)) &&
		    now < c->switched_ms + CHOOSER_HOLD_MS)
			want = c->active;
	}
	if (want < 0 && c->s[SUBSTRATE_TCP].up)
		want = SUBSTRATE_TCP;
	if (want != c->active) {
		c->active = want;
		c->switched_ms = now;
	}
	return want;
}

void chooser_explain(const struct chooser *c, int id, int policy, uint64_t now, char *why,
		     size_t cap)
{
	char u[CHOOSER_WHY_MAX];

	if (!valid(id)) {
		snprintf(why, cap, "unknown");
		return;
	}
	if (valid(policy)) {
		if (id == policy)
			snprintf(why, cap, c->s[id].up ? "policy %s" : "policy %s, but no data link",
				 substrate_name(policy));
		else if (id == c->active)
			snprintf(why, cap, "fallback: policy %s has no data link",
				 substrate_name(policy));
		else
			snprintf(why, cap, "policy %s", substrate_name(policy));
		return;
	}
	if (!chooser_usable(c, id, now, u, sizeof(u))) {
		snprintf(why, cap, "%s%s", u, id == c->active ? " (nothing better up)" : "");
		return;
	}
	if (id == c->active) {
		snprintf(why, cap, id == SUBSTRATE_VERBS ? "preferred" : "usable, the best now");
		return;
	}
	if (c->active == SUBSTRATE_VERBS)
		snprintf(why, cap, "usable; verbs preferred");
	else if (c->active >= 0 && id == best(c, now))
		snprintf(why, cap, "usable, better; held %d ms after a switch", CHOOSER_HOLD_MS);
	else if (id == SUBSTRATE_TCP)
		snprintf(why, cap, "usable; udp not slower by more than %d%%", CHOOSER_FASTER_PCT);
	else
		snprintf(why, cap, "usable; slower than %s", substrate_name(c->active));
}
