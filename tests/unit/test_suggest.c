/* "Did you mean": the edit distance against a naive recursive one on random words, and
 * the suggestions the CLI and the config parser make. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tunvnet/suggest.h"

/* Optimal string alignment distance, straight from its definition. */
static unsigned naive(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned best;

	if (la == 0)
		return (unsigned)lb;
	if (lb == 0)
		return (unsigned)la;
	best = naive(a, la - 1, b, lb) + 1;
	if (naive(a, la, b, lb - 1) + 1 < best)
		best = naive(a, la, b, lb - 1) + 1;
	if (naive(a, la - 1, b, lb - 1) + (a[la - 1] != b[lb - 1]) < best)
		best = naive(a, la - 1, b, lb - 1) + (a[la - 1] != b[lb - 1]);
	if (la > 1 && lb > 1 && a[la - 1] == b[lb - 2] && a[la - 2] == b[lb - 1] &&
	    naive(a, la - 2, b, lb - 2) + 1 < best)
		best = naive(a, la - 2, b, lb - 2) + 1;
	return best;
}

static void test_distance_random(void **state)
{
	char a[8], b[8];

	srand(13);
	for (int n = 0; n < 2000; n++) {
		size_t la = (size_t)rand() % 6, lb = (size_t)rand() % 6;

		for (size_t i = 0; i < la; i++)
			a[i] = (char)('a' + rand() % 3);
		for (size_t i = 0; i < lb; i++)
			b[i] = (char)('a' + rand() % 3);
		a[la] = b[lb] = '\0';
		assert_int_equal(suggest_distance(a, b), naive(a, la, b, lb));
	}
}

static const char *best_of(const char *word)
{
	static const char *const cmds[] = { "status", "peers", "routes", "jobs", "attach",
		"detach", "suspend", "resume", "activate", "migrate", "stats", "events",
		"capture", "gc", "help" };
	struct suggest s;

	suggest_init(&s, word);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		suggest_try(&s, cmds[i]);
	return suggest_result(&s);
}

static void test_suggestions(void **state)
{
	assert_string_equal(best_of("atach"), "attach");
	assert_string_equal(best_of("migarte"), "migrate");
	assert_string_equal(best_of("actvate"), "activate");
	assert_string_equal(best_of("stat"), "stats");
	assert_string_equal(best_of("job"), "jobs");
	assert_null(best_of("xyzzy"));
	assert_null(best_of("jobs"));  /* a right name is not "meant" as another */
	assert_null(best_of(""));
	{
		char longword[SUGGEST_MAX_LEN + 8];

		memset(longword, 'a', sizeof(longword) - 1);
		longword[sizeof(longword) - 1] = '\0';
		assert_null(best_of(longword));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance_random),
		cmocka_unit_test(test_suggestions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
