/* bench_route — micro-benchmark of route_lookup() on a large table (make bench).
 *
 *   bench_route [N]      N routes (default 1,000,000), IPv4 and IPv6 tables in turn
 *
 * Each table gets N distinct random VIPs; then every VIP is looked up once to warm the
 * caches, and then PASSES more times in a random order unrelated to the insertion order
 * (the keys are laid out in lookup order, so reading them costs no miss of its own). The
 * result is the median pass, in ns per lookup of this thread's CPU time (not wall time:
 * on a shared machine the time others run meanwhile is not the lookup's; what they do
 * to the caches still counts). Prints one JSON object:
 *   {"routes": N, "insert_ns": ..., "lookup_ns_v4": ..., "lookup_ns_v6": ..., "entry_bytes": ...}
 * Exits 1 if any lookup misses (the table lost a route), 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tunvnet/route.h"

#define PASSES 5

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: fast, and good enough to scatter addresses */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void random_vip(int family, struct vip *v)
{
	uint64_t a = rnd(), b = rnd();

	memset(v, 0, sizeof(*v));
	v->family = (uint8_t)family;
	if (family == AF_INET) {
		memcpy(v->a, &a, 4);
		v->a[0] = (uint8_t)(1 + v->a[0] % 223); /* unicast-looking */
	} else {
		v->a[0] = 0xfd;
		memcpy(v->a + 1, &a, 7);
		memcpy(v->a + 8, &b, 8);
	}
}

/* Fills t with n distinct VIPs of family; keys[] gets them in a random lookup order.
 * Returns ns per insertion, or -1. */
static double fill(struct route_table *t, int family, size_t n, struct vip *keys)
{
	struct route_entry e;
	size_t i = 0;
	double t0;

	memset(&e, 0, sizeof(e));
	e.epoch = 1;
	snprintf(e.node, sizeof(e.node), "n2");
	t0 = now_ns();
	while (i < n) {
		random_vip(family, &e.vip);
		if (route_get(t, &e.vip))
			continue; /* a repeat: draw again, the table must hold n routes */
		snprintf(e.node, sizeof(e.node), "n%zu", 1 + i % 32);
		if (route_update(t, &e) != 1)
			return -1;
		keys[i++] = e.vip;
	}
	t0 = (now_ns() - t0) / (double)n;
	for (i = n - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j = (size_t)(rnd() % (i + 1));
		struct vip tmp = keys[i];

		keys[i] = keys[j];
		keys[j] = tmp;
	}
	return t0;
}

/* Median ns per lookup over PASSES passes, after one warm-up pass. *misses counts
 * lookups that found nothing. */
static double lookups(const struct route_table *t, const struct vip *keys, size_t n,
		      size_t *misses, uint64_t *check)
{
	double pass[PASSES];

	for (int p = -1; p < PASSES; p++) {
		double t0 = now_ns();

		for (size_t i = 0; i < n; i++) {
			const struct route_entry *e = route_lookup(t, &keys[i]);

			if (!e)
				(*misses)++;
			else
				*check += e->epoch; /* keeps the lookups from being optimised out */
		}
		if (p >= 0)
			pass[p] = (now_ns() - t0) / (double)n;
	}
	qsort(pass, PASSES, sizeof(pass[0]), cmp_double);
	return pass[PASSES / 2];
}

int main(int argc, char **argv)
{
	size_t n = 1000000, misses = 0;
	double ins4, ins6, ns[2];
	uint64_t check = 0;
	struct vip *keys;
	int families[2] = { AF_INET, AF_INET6 };

	if (argc > 2 || (argc == 2 && (n = strtoul(argv[1], NULL, 10)) == 0)) {
		fprintf(stderr, "usage: bench_route [ROUTES]\n");
		return 2;
	}
	keys = calloc(n, sizeof(*keys));
	if (!keys) {
		perror("bench_route");
		return 1;
	}
	for (int f = 0; f < 2; f++) {
		struct route_table *t;
		double ins;

		if (route_table_new(&t) < 0) {
			perror("bench_route");
			return 1;
		}
		ins = fill(t, families[f], n, keys);
		if (ins < 0 || route_count(t) != n) {
			fprintf(stderr, "bench_route: the table did not take %zu routes\n", n);
			return 1;
		}
		if (f == 0)
			ins4 = ins;
		else
			ins6 = ins;
		ns[f] = lookups(t, keys, n, &misses, &check);
		route_table_free(t);
	}
	free(keys);
	printf("{\"routes\": %zu, \"insert_ns\": %.1f, \"lookup_ns_v4\": %.1f, "
	       "\"lookup_ns_v6\": %.1f, \"entry_bytes\": %zu, \"check\": %llu}\n",
	       n, (ins4 + ins6) / 2, ns[0], ns[1], sizeof(struct route_entry),
	       (unsigned long long)check);
	if (misses) {
		fprintf(stderr, "bench_route: %zu lookups missed\n", misses);
		return 1;
	}
	return 0;
}
