/* The chooser's rule: preference, loss threshold, blocked paths, failover time,
 * hysteresis on the way back, the hold after a switch, trains, pinned policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tunvnet/chooser.h"

#define T SUBSTRATE_TCP
#define U SUBSTRATE_UDP
#define V SUBSTRATE_VERBS

/* Runs the clock from *now to until, probing every link up every CHOOSER_PROBE_MS; a
 * probe on id is answered after rtt ms unless drop(id, n) says it is lost. Picks after
 * every tick; returns the last pick. */
struct sim {
	struct chooser c;
	uint64_t now;
	int policy;
	int drop_pct[SUBSTRATE_MAX]; /* every k-th probe lost, approximately pct% */
	bool blocked[SUBSTRATE_MAX];
	uint32_t n[SUBSTRATE_MAX];
	int first_switch_to;         /* watch for a switch to this substrate */
	uint64_t switch_ms;
};

static bool lost(struct sim *s, int id)
{
	uint32_t k = s->n[id]++;

	if (s->blocked[id])
		return true;
	/* deterministic: pct of every 100 probes, spread out */
	return s->drop_pct[id] && (k * 37u) % 100u < (uint32_t)s->drop_pct[id];
}

static int run(struct sim *s, uint64_t until)
{
	int pick = s->c.active;

	while (s->now < until) {
		for (int id = 0; id < SUBSTRATE_MAX; id++) {
			uint32_t seq;

			if (!s->c.s[id].up)
				continue;
			seq = chooser_probe_sent(&s->c, id, s->now);
			if (!lost(s, id)) {
				chooser_rx(&s->c, id, s->now + 1);
				chooser_probe_answered(&s->c, id, seq, s->now + 1, 300);
			}
		}
		s->now += CHOOSER_PROBE_MS;
		pick = chooser_pick(&s->c, s->policy, s->now);
		if (pick == s->first_switch_to && !s->switch_ms)
			s->switch_ms = s->now;
	}
	return pick;
}

static void sim_init(struct sim *s, bool verbs)
{
	memset(s, 0, sizeof(*s));
	chooser_init(&s->c, 2);
	s->now = 1000;
	s->policy = -1;
	s->first_switch_to = -1;
	chooser_link(&s->c, T, true, false, s->now);
	chooser_link(&s->c, U, true, true, s->now);
	if (verbs)
		chooser_link(&s->c, V, true, false, s->now);
}

static void test_prefers_verbs_then_udp(void **state)
{
	struct sim s;

	sim_init(&s, true);
	assert_int_equal(run(&s, 2000), V);
	sim_init(&s, false);
	assert_int_equal(run(&s, 2000), U);
}

static void test_nothing_measured_is_tcp(void **state)
{
	struct chooser c;

	chooser_init(&c, 2);
	assert_int_equal(chooser_pick(&c, -1, 10), -1); /* no data link: the control link */
	chooser_link(&c, T, true, false, 10);
	chooser_link(&c, U, true, true, 10);
	assert_int_equal(chooser_pick(&c, -1, 20), T); /* udp not measured yet */
}

static void test_failover_and_back(void **state)
{
	struct sim s;
	char why[CHOOSER_WHY_MAX];
	uint64_t blocked_at;

	sim_init(&s, false);
	assert_int_equal(run(&s, 3000), U);
	s.blocked[U] = true;
	blocked_at = s.now;
	s.first_switch_to = T;
	assert_int_equal(run(&s, s.now + 2000), T);
	assert_true(s.switch_ms - blocked_at < 1000); /* failover under a second */
	assert_false(chooser_usable(&s.c, U, s.now, why, sizeof(why)));
	assert_non_null(strstr(why, "blocked, 0 of"));
	/* unblocked: not at once (recovery and the hold), but within the hold time */
	s.blocked[U] = false;
	s.first_switch_to = U;
	s.switch_ms = 0;
	assert_int_equal(run(&s, s.now + 1000), T);
	assert_int_equal(run(&s, s.now + CHOOSER_HOLD_MS + CHOOSER_RECOVER_MS), U);
	assert_true(s.switch_ms > 0);
}

static void test_loss_threshold(void **state)
{
	struct sim s;
	char why[CHOOSER_WHY_MAX];

	sim_init(&s, false);
	s.drop_pct[U] = 5;
	/* the hold after the first pick runs out; loss is over the threshold of 2% */
	assert_int_equal(run(&s, 1000 + CHOOSER_HOLD_MS + 11000), T);
	assert_false(chooser_usable(&s.c, U, s.now, why, sizeof(why)));
	assert_non_null(strstr(why, "loses "));
	/* 1% is under it */
	sim_init(&s, false);
	s.drop_pct[U] = 1;
	assert_int_equal(run(&s, 1000 + CHOOSER_HOLD_MS + 11000), U);
	/* loss on tcp (a stream) never counts */
	sim_init(&s, false);
	s.blocked[U] = true;
	s.drop_pct[T] = 5;
	assert_int_equal(run(&s, 5000), T);
}

static void test_no_flapping(void **state)
{
	struct sim s;
	int switches = 0, last;

	sim_init(&s, false);
	last = run(&s, 2000);
	/* udp goes up and down every 800 ms: the choice changes far less often */
	for (int i = 0; i < 20; i++) {
		s.blocked[U] = !s.blocked[U];
		int p = run(&s, s.now + 800);

		if (p != last)
			switches++;
		last = p;
	}
	assert_true(switches <= 2);
}

static void test_train_rate(void **state)
{
	struct sim s;

	sim_init(&s, false);
	assert_int_equal(run(&s, 2000), U);
	/* udp carried 16 x 1200 bytes in 15.36 ms more than a lone probe's 300 us: about
	 * 10 Mbit/s; tcp as fast as a lone probe */
	for (int i = 0; i < CHOOSER_TRAINS; i++) {
		chooser_train(&s.c, U, CHOOSER_TRAIN_LEN * CHOOSER_TRAIN_BYTES,
			      300 + 15360 + (i ? 5000 : 0)); /* the best of them counts */
		chooser_train(&s.c, T, CHOOSER_TRAIN_LEN * CHOOSER_TRAIN_BYTES, 320);
	}
	assert_true(s.c.s[U].rate_bps > 9e6 && s.c.s[U].rate_bps < 11e6);
	assert_true(s.c.s[T].rate_bps == CHOOSER_RATE_CAP);
	/* held first, then tcp, the faster by far */
	assert_int_equal(run(&s, 2000 + CHOOSER_HOLD_MS), T);
	/* both fast: a tie goes to udp */
	chooser_train(&s.c, U, CHOOSER_TRAIN_LEN * CHOOSER_TRAIN_BYTES, 310);
	assert_int_equal(run(&s, s.now + CHOOSER_HOLD_MS + 100), U);
}

static void test_pinned_policy(void **state)
{
	struct sim s;
	char why[CHOOSER_WHY_MAX];

	sim_init(&s, false);
	s.policy = T;
	assert_int_equal(run(&s, 2000), T);
	chooser_explain(&s.c, U, s.policy, s.now, why, sizeof(why));
	assert_string_equal(why, "policy tcp");
	s.policy = U;
	s.blocked[U] = true; /* pinned means pinned: even blocked */
	assert_int_equal(run(&s, 4000), U);
	chooser_link(&s.c, U, false, true, s.now);
	assert_int_equal(chooser_pick(&s.c, U, s.now), T); /* no udp link: fallback */
	chooser_explain(&s.c, T, U, s.now, why, sizeof(why));
	assert_string_equal(why, "fallback: policy udp has no data link");
}

static void test_link_error(void **state)
{
	struct sim s;

	sim_init(&s, false);
	assert_int_equal(run(&s, 2000), U);
	chooser_error(&s.c, U, s.now);
	assert_int_equal(chooser_pick(&s.c, -1, s.now), T); /* at once */
}

static void test_probe_answers_checked(void **state)
{
	struct chooser c;
	int res, ans;

	chooser_init(&c, 2);
	chooser_link(&c, U, true, true, 100);
	uint32_t a = chooser_probe_sent(&c, U, 100);

	chooser_probe_answered(&c, U, a + 5, 101, 300);  /* never sent */
	chooser_probe_answered(&c, U, a, 101, 300);
	chooser_probe_answered(&c, U, a, 102, 300);      /* twice */
	assert_int_equal(chooser_loss(&c, U, 102, &res, &ans), 0);
	assert_int_equal(res, 1);
	assert_int_equal(ans, 1);
	chooser_probe_sent(&c, U, 200);
	assert_int_equal(chooser_loss(&c, U, 200 + CHOOSER_LOST_MS, &res, &ans), 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefers_verbs_then_udp),
		cmocka_unit_test(test_nothing_measured_is_tcp),
		cmocka_unit_test(test_failover_and_back),
		cmocka_unit_test(test_loss_threshold),
		cmocka_unit_test(test_no_flapping),
		cmocka_unit_test(test_train_rate),
		cmocka_unit_test(test_pinned_policy),
		cmocka_unit_test(test_link_error),
		cmocka_unit_test(test_probe_answers_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
