/* The event loop: timers fire in order and can be re-armed or stopped, an io deleted by
 * another io's callback in the same batch is not called, signals arrive as events, and
 * before-sleep hooks run every turn. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "tunvnet/loop.h"

static struct loop *L;
static int order[16], norder;

static void record(struct loop_timer *t, void *arg)
{
	order[norder++] = (int)(intptr_t)arg;
	if (norder == 4)
		loop_stop(L);
}

static void test_timers_fire_in_order(void **state)
{
	struct loop_timer t[5];
	uint64_t start;

	assert_int_equal(loop_new(&L), 0);
	norder = 0;
	for (int i = 0; i < 5; i++)
		loop_timer_init(&t[i], record, (void *)(intptr_t)i);
	loop_timer_arm(L, &t[0], 40);
	loop_timer_arm(L, &t[1], 10);
	loop_timer_arm(L, &t[2], 30);
	loop_timer_arm(L, &t[3], 20);
	loop_timer_arm(L, &t[4], 15);
	loop_timer_stop(L, &t[4]);      /* stopped: never fires */
	assert_false(loop_timer_armed(&t[4]));
	loop_timer_arm(L, &t[2], 5);    /* re-armed earlier */
	start = loop_clock_ms();
	assert_int_equal(loop_run(L), 0);
	assert_int_equal(norder, 4);
	assert_int_equal(order[0], 2);
	assert_int_equal(order[1], 1);
	assert_int_equal(order[2], 3);
	assert_int_equal(order[3], 0);
	assert_true(loop_clock_ms() - start >= 40);
	loop_free(L);
}

/* Many timers armed and stopped at random keep the heap a heap. */
static void test_timer_heap_random(void **state)
{
	enum { N = 200 };
	struct loop_timer t[N];
	uint64_t last = 0;

	assert_int_equal(loop_new(&L), 0);
	srandom(7);
	for (int i = 0; i < N; i++) {
		loop_timer_init(&t[i], record, NULL);
		loop_timer_arm(L, &t[i], (uint64_t)(random() % 100000));
	}
	for (int i = 0; i < N; i += 3)
		loop_timer_stop(L, &t[i]);
	for (int i = 1; i < N; i += 7)
		loop_timer_arm(L, &t[i], (uint64_t)(random() % 100000));
	/* Drain by stopping the earliest each time: it must never go back in time. */
	for (;;) {
		struct loop_timer *min = NULL;

		for (int i = 0; i < N; i++)
			if (loop_timer_armed(&t[i]) && (!min || t[i].when_ms < min->when_ms))
				min = &t[i];
		if (!min)
			break;
		assert_true(min->when_ms >= last);
		/* The heap's root (index 0) holds the earliest deadline. */
		for (int i = 0; i < N; i++)
			if (loop_timer_armed(&t[i]) && t[i].heap_idx == 0)
				assert_true(t[i].when_ms == min->when_ms);
		last = min->when_ms;
		loop_timer_stop(L, min);
	}
	loop_free(L);
}

static int pipes[2][2];
static struct loop_io *ios[2];
static int calls[2];

static void on_pipe(struct loop_io *io, uint32_t ev, void *arg)
{
	int i = (int)(intptr_t)arg;
	char c;

	calls[i]++;
	(void)!read(pipes[i][0], &c, 1);
	loop_io_del(ios[1 - i]); /* whichever runs first deletes the other */
	ios[1 - i] = NULL;
	loop_stop(L);
}

static void test_delete_other_in_same_batch(void **state)
{
	assert_int_equal(loop_new(&L), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		ios[i] = loop_io_add(L, pipes[i][0], EPOLLIN, on_pipe, (void *)(intptr_t)i);
		assert_non_null(ios[i]);
		assert_int_equal(write(pipes[i][1], "x", 1), 1);
	}
	calls[0] = calls[1] = 0;
	assert_int_equal(loop_run(L), 0);
	/* Both were ready in one batch; exactly one callback ran. */
	assert_int_equal(calls[0] + calls[1], 1);
	loop_io_del(ios[0]);
	loop_io_del(ios[1]);
	for (int i = 0; i < 2; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	loop_free(L);
}

static int got_signal, hooks;

static void on_sig(int signo, void *arg)
{
	got_signal = signo;
	loop_stop(L);
}

static void hook(void *arg)
{
	hooks++;
}

static void test_signal_is_an_event(void **state)
{
	assert_int_equal(loop_new(&L), 0);
	assert_int_equal(loop_signal_add(L, SIGUSR1, on_sig, NULL), 0);
	assert_int_equal(loop_before_sleep(L, hook, NULL), 0);
	got_signal = hooks = 0;
	kill(getpid(), SIGUSR1); /* blocked: waits in the signalfd */
	assert_int_equal(loop_run(L), 0);
	assert_int_equal(got_signal, SIGUSR1);
	assert_true(hooks >= 1);
	loop_free(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_timer_heap_random),
		cmocka_unit_test(test_delete_other_in_same_batch),
		cmocka_unit_test(test_signal_is_an_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
