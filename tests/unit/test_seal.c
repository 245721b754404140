/* Sealed frames: round trip, tampering, replay and reorder, the datagram window, and
 * key rotation without a pause. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/seal.h"

static const uint8_t KA[SEAL_KEY_BYTES] = { 1, 2, 3 };
static const uint8_t KB[SEAL_KEY_BYTES] = { 9, 8, 7 };

struct pair {
	struct seal a, b; /* a sends with KA, b receives with KA */
};

static void pair_init(struct pair *p, bool stream)
{
	assert_int_equal(seal_init(&p->a, KA, KB, stream), 0);
	assert_int_equal(seal_init(&p->b, KB, KA, stream), 0);
}

static void pair_free(struct pair *p)
{
	seal_free(&p->a);
	seal_free(&p->b);
}

static int seal_msg(struct seal *s, const char *msg, uint8_t *out)
{
	return seal_frame(s, 5, 0x20, (const uint8_t *)msg, strlen(msg), out, 256);
}

static void roundtrip(void **state)
{
	struct pair p;
	uint8_t c[256], m[256];
	int n;

	pair_init(&p, true);
	n = seal_msg(&p.a, "hello, n2", c);
	assert_int_equal(n, 9 + SEAL_OVERHEAD);
	assert_null(memmem(c, (size_t)n, "hello", 5)); /* encrypted */
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, (size_t)n, m, sizeof(m)), 9);
	assert_memory_equal(m, "hello, n2", 9);
	/* the other direction has its own key */
	n = seal_msg(&p.b, "back", c);
	assert_int_equal(seal_open(&p.a, 5, 0x20, c, (size_t)n, m, sizeof(m)), 4);
	/* a frame sealed for one direction does not open in the same direction */
	n = seal_msg(&p.a, "x", c);
	assert_int_equal(seal_open(&p.a, 5, 0x20, c, (size_t)n, m, sizeof(m)), -EBADMSG);
	pair_free(&p);
}

static void tampering(void **state)
{
	struct pair p;
	uint8_t c[256], m[256];
	int n;

	pair_init(&p, false);
	n = seal_msg(&p.a, "payload bytes", c);
	for (int i = 0; i < n; i++) {
		uint8_t t[256];

		memcpy(t, c, (size_t)n);
		t[i] ^= 0x01;
		/* a flipped counter byte may look stale rather than forged: both refuse */
		assert_true(seal_open(&p.b, 5, 0x20, t, (size_t)n, m, sizeof(m)) < 0);
	}
	/* header fields are authenticated: type and flags */
	assert_int_equal(seal_open(&p.b, 4, 0x20, c, (size_t)n, m, sizeof(m)), -EBADMSG);
	assert_int_equal(seal_open(&p.b, 5, 0x30, c, (size_t)n, m, sizeof(m)), -EBADMSG);
	/* truncated */
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, (size_t)n - 1, m, sizeof(m)), -EBADMSG);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, SEAL_OVERHEAD - 1, m, sizeof(m)), -EBADMSG);
	/* the original still opens after all that */
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, (size_t)n, m, sizeof(m)), 13);
	pair_free(&p);
}

static void stream_replay_reorder(void **state)
{
	struct pair p;
	uint8_t c1[256], c2[256], c3[256], m[256];
	int n1, n2, n3;

	pair_init(&p, true);
	n1 = seal_msg(&p.a, "one", c1);
	n2 = seal_msg(&p.a, "two", c2);
	n3 = seal_msg(&p.a, "three", c3);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c1, (size_t)n1, m, sizeof(m)), 3);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c2, (size_t)n2, m, sizeof(m)), 3);
	/* an older frame after a newer one: refused on a stream */
	assert_int_equal(seal_open(&p.b, 5, 0x20, c1, (size_t)n1, m, sizeof(m)), -EALREADY);
	/* replay */
	assert_int_equal(seal_open(&p.b, 5, 0x20, c2, (size_t)n2, m, sizeof(m)), -EALREADY);
	pair_free(&p);

	/* in order, one by one: fine; a frame removed from the stream: refused */
	pair_init(&p, true);
	n1 = seal_msg(&p.a, "one", c1);
	n2 = seal_msg(&p.a, "two", c2);
	n3 = seal_msg(&p.a, "three", c3);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c1, (size_t)n1, m, sizeof(m)), 3);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c3, (size_t)n3, m, sizeof(m)), -EALREADY);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c2, (size_t)n2, m, sizeof(m)), 3);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c3, (size_t)n3, m, sizeof(m)), 5);
	pair_free(&p);

	/* a frame the sender's queue refused gives its counter back: no gap */
	pair_init(&p, true);
	n1 = seal_msg(&p.a, "one", c1);
	seal_msg(&p.a, "lost", c2);
	seal_cancel(&p.a, 4);
	n3 = seal_msg(&p.a, "three", c3);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c1, (size_t)n1, m, sizeof(m)), 3);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c3, (size_t)n3, m, sizeof(m)), 5);
	pair_free(&p);
}

static void datagram_window(void **state)
{
	struct pair p;
	static uint8_t c[SEAL_WINDOW + 10][64];
	static int n[SEAL_WINDOW + 10];
	uint8_t m[256];

	pair_init(&p, false);
	for (int i = 0; i < SEAL_WINDOW + 10; i++)
		n[i] = seal_frame(&p.a, 5, 0, (const uint8_t *)"d", 1, c[i], sizeof(c[i]));
	/* out of order within the window: each accepted once */
	assert_int_equal(seal_open(&p.b, 5, 0, c[5], (size_t)n[5], m, sizeof(m)), 1);
	assert_int_equal(seal_open(&p.b, 5, 0, c[3], (size_t)n[3], m, sizeof(m)), 1);
	assert_int_equal(seal_open(&p.b, 5, 0, c[4], (size_t)n[4], m, sizeof(m)), 1);
	assert_int_equal(seal_open(&p.b, 5, 0, c[3], (size_t)n[3], m, sizeof(m)), -EALREADY);
	assert_int_equal(seal_open(&p.b, 5, 0, c[5], (size_t)n[5], m, sizeof(m)), -EALREADY);
	/* far ahead: what falls out of the window is refused, what is inside still works */
	assert_int_equal(seal_open(&p.b, 5, 0, c[SEAL_WINDOW + 9], (size_t)n[SEAL_WINDOW + 9],
				   m, sizeof(m)), 1);
	assert_int_equal(seal_open(&p.b, 5, 0, c[6], (size_t)n[6], m, sizeof(m)), -EALREADY);
	assert_int_equal(seal_open(&p.b, 5, 0, c[20], (size_t)n[20], m, sizeof(m)), 1);
	assert_int_equal(seal_open(&p.b, 5, 0, c[20], (size_t)n[20], m, sizeof(m)), -EALREADY);
	assert_int_equal(seal_open(&p.b, 5, 0, c[SEAL_WINDOW + 8], (size_t)n[SEAL_WINDOW + 8],
				   m, sizeof(m)), 1);
	pair_free(&p);
}

/* Random order against a naive set: the window accepts exactly the fresh counters. */
static void datagram_vs_naive(void **state)
{
	enum { N = 3 * SEAL_WINDOW };
	static uint8_t c[N][48];
	static int n[N];
	static bool seen[N];
	uint8_t m[64];
	struct pair p;
	uint64_t top = 0;
	bool any = false;

	srandom(7);
	pair_init(&p, false);
	for (int i = 0; i < N; i++)
		n[i] = seal_frame(&p.a, 5, 0, (const uint8_t *)"r", 1, c[i], sizeof(c[i]));
	for (int k = 0; k < 4 * N; k++) {
		/* mostly forward, sometimes back, sometimes a repeat */
		int i = (int)(k / 4 + (random() % 64) - 32);
		bool want;
		int rc;

		if (i < 0 || i >= N)
			continue;
		want = !seen[i] && (!any || (uint64_t)i > top || top - (uint64_t)i < SEAL_WINDOW);
		rc = seal_open(&p.b, 5, 0, c[i], (size_t)n[i], m, sizeof(m));
		assert_int_equal(rc == 1, want);
		if (rc == 1) {
			seen[i] = true;
			if (!any || (uint64_t)i > top)
				top = (uint64_t)i;
			any = true;
		}
	}
	pair_free(&p);
}

static void rotation(void **state)
{
	struct pair p;
	uint8_t c[256], old[256], m[256];
	int n, nold;

	pair_init(&p, false);
	nold = seal_msg(&p.a, "gen0", old);
	seal_rekey_tx(&p.a);
	n = seal_msg(&p.a, "gen1", c);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, (size_t)n, m, sizeof(m)), 4);
	/* a datagram of the previous generation still in flight opens */
	assert_int_equal(seal_open(&p.b, 5, 0x20, old, (size_t)nold, m, sizeof(m)), 4);
	/* two generations on, the oldest key is gone */
	nold = seal_msg(&p.a, "gen1b", old);
	seal_rekey_tx(&p.a);
	n = seal_msg(&p.a, "gen2", c);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, (size_t)n, m, sizeof(m)), 4);
	seal_rekey_tx(&p.a);
	n = seal_msg(&p.a, "gen3", c);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, (size_t)n, m, sizeof(m)), 4);
	assert_int_equal(seal_open(&p.b, 5, 0x20, old, (size_t)nold, m, sizeof(m)), -EBADMSG);
	/* a generation skipped is refused (no key can be guessed ahead) */
	seal_rekey_tx(&p.a);
	seal_rekey_tx(&p.a);
	n = seal_msg(&p.a, "gen5", c);
	assert_int_equal(seal_open(&p.b, 5, 0x20, c, (size_t)n, m, sizeof(m)), -EBADMSG);
	assert_true(p.b.rekeys == 3);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(tampering),
		cmocka_unit_test(stream_replay_reorder),
		cmocka_unit_test(datagram_window),
		cmocka_unit_test(datagram_vs_naive),
		cmocka_unit_test(rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
