/* The route table: an open-addressing hash on the VIP with linear probing.
 *
 * Entries live inline in one power-of-two array of slots (no per-entry allocation, one
 * cache-line-ish probe per step); a slot is free when its vip.family is 0, which no valid
 * VIP has. The table holds at most one entry per VIP: the winner of every update seen for
 * it (route_wins), live or tombstone. Deletion (only tombstone expiry deletes) uses
 * backward shift, so the array never holds deletion markers and a probe always stops at
 * the first free slot. The array doubles when it would pass LOAD_NUM/LOAD_DEN occupied
 * slots and halves after expiry leaves it under a quarter of that, so the two never
 * chase each other.
 *
 * Lookup speed. At 1M routes the array is 160 MiB and nearly every lookup misses the
 * cache; what a lookup then costs is how many of them the CPU runs at once, which is set
 * by how few instructions, cache lines and mispredicted branches each takes
 * (bench_route). Measured on a loaded 2-core VM (DRAM about 300 ns away): reading a
 * second slot costs more than an occasional mispredicted branch, and a compact key array
 * beside the entries (its line, then the entry's: two dependent misses) was slower than
 * one slot. So a lookup compares its home slot without a branch and takes one branch
 * that says "found at home", prefetching the next slot for when it is not; the probe
 * (find) is out of line. Insertion is home-first: a new VIP whose home slot holds an
 * entry displaced from an earlier home takes that slot, and the displaced entry moves on
 * along its run, so that as many VIPs sit in their home slot as can (at 1M routes, load
 * 0.48: 79.6 %, the most possible, (1 - e^-load) / load, against 76.2 % first come first
 * served).
 *
 * The hash is our own rather than vip_hash(): it is inlined in the lookup and needs no
 * seed, because VIPs come from authenticated peers and a peer able to pick colliding
 * VIPs could do worse by announcing garbage. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "tunvnet/route.h"

#define MIN_SLOTS 16
#define LOAD_NUM  7
#define LOAD_DEN  10
#define HUGE_BYTES ((size_t)2 << 20)

struct route_table {
	struct route_entry *slot;
	size_t mask; /* number of slots - 1 */
	size_t used; /* occupied slots, tombstones included */
	size_t live; /* occupied slots that are not tombstones */
};

static bool valid(const struct vip *v)
{
	return v->family == AF_INET || v->family == AF_INET6;
}

static inline __attribute__((always_inline)) uint64_t fmix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* An IPv4 VIP is hashed and compared on its 4 address bytes only, so that stray bytes in
 * a[4..15] cannot make two copies of one address into two routes. An IPv6 VIP's high
 * word goes through a folded multiply (the 128-bit product's halves xored: every bit of
 * it reaches every bit of the result) rather than a second finaliser: fewer instructions.
 * The final fmix spreads structured VIPs (198.19.0.1, .2 ..., fd00:19::1, ::2 ...) like
 * random ones: about 80 % of them sit in their home slot at 1M routes, whatever the
 * pattern (the cheaper multiplicative hashes tried left under 20 % of some at home). */
static inline __attribute__((always_inline)) uint64_t hash(const struct vip *v)
{
	uint64_t lo, hi;
	unsigned __int128 p;
	uint32_t w;

	if (v->family == AF_INET) {
		memcpy(&w, v->a, 4);
		return fmix(w ^ ((uint64_t)AF_INET << 32));
	}
	memcpy(&lo, v->a, 8);
	memcpy(&hi, v->a + 8, 8);
	p = (unsigned __int128)(hi ^ v->family ^ 0x9e3779b97f4a7c15ULL) * 0x2545f4914f6cdd1dULL;
	return fmix(lo ^ (uint64_t)p ^ (uint64_t)(p >> 64));
}

static inline __attribute__((always_inline)) size_t home(const struct route_table *t,
							  const struct vip *v)
{
	return (size_t)hash(v) & t->mask;
}

/* The address words of v that count: 4 bytes of an IPv4 VIP, 16 of an IPv6 one. */
static inline __attribute__((always_inline)) void
words(const struct vip *v, uint64_t *lo, uint64_t *hi)
{
	static const uint8_t four[8] = { 0xff, 0xff, 0xff, 0xff };

	if (v->family == AF_INET6) {
		*lo = *hi = ~(uint64_t)0;
	} else {
		memcpy(lo, four, 8); /* the first 4 bytes, whatever the byte order */
		*hi = 0;
	}
}

/* Zero when slot s holds v (lo and hi from words(v)); nonzero for a free slot. No
 * branch: the lookup's only branch is on its result. */
static inline __attribute__((always_inline)) uint64_t
differs(const struct route_entry *s, const struct vip *v, uint64_t lo, uint64_t hi)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, s->vip.a, 8);
	memcpy(&a1, s->vip.a + 8, 8);
	memcpy(&b0, v->a, 8);
	memcpy(&b1, v->a + 8, 8);
	return ((a0 ^ b0) & lo) | ((a1 ^ b1) & hi) | (uint64_t)(s->vip.family ^ v->family);
}

static bool is_free(const struct route_entry *s)
{
	return s->vip.family == 0;
}

/* Index of v's slot when *found, else of the free slot where v would go. The table always
 * has a free slot (load < 1), so the probe ends. */
static size_t find(const struct route_table *t, const struct vip *v, bool *found)
{
	size_t i = home(t, v);
	uint64_t lo, hi;

	words(v, &lo, &hi);
	for (;; i = (i + 1) & t->mask) {
		const struct route_entry *s = &t->slot[i];

		if (is_free(s)) {
			*found = false;
			return i;
		}
		if (!differs(s, v, lo, hi)) {
			*found = true;
			return i;
		}
	}
}

/* Stores e, whose VIP the table does not hold, home-first (above); the table has a free
 * slot. Returns e's slot. Every entry stays reachable from its home without crossing a
 * free slot: the one displaced moves further along the same run. */
static struct route_entry *place(struct route_table *t, const struct route_entry *e)
{
	size_t h = home(t, &e->vip), i;
	struct route_entry *s = &t->slot[h];
	bool found;

	/* s's entry came from an earlier home: it goes to its run's first free slot */
	if (!is_free(s) && home(t, &s->vip) != h) {
		for (i = h; !is_free(&t->slot[i]); i = (i + 1) & t->mask)
			;
		t->slot[i] = *s;
		*s = *e;
		return s;
	}
	s = &t->slot[find(t, &e->vip, &found)];
	*s = *e;
	return s;
}

/* A zeroed slot array. A large one (1M routes: about 160 MiB) is aligned to 2 MiB and
 * asked for in huge pages: a random lookup then misses the cache once, not the TLB as
 * well (bench_route: 1M routes). */
static struct route_entry *alloc_slots(size_t n)
{
	size_t bytes = n * sizeof(struct route_entry);
	void *p;

	if (bytes < HUGE_BYTES)
		return calloc(n, sizeof(struct route_entry));
	if (posix_memalign(&p, HUGE_BYTES, bytes) != 0)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE); /* advice: without it, plain pages */
	memset(p, 0, bytes);
	return p;
}

static int resize(struct route_table *t, size_t nslots)
{
	struct route_entry *old = t->slot;
	size_t oldn = t->mask + 1, i;

	t->slot = alloc_slots(nslots);
	if (!t->slot) {
		t->slot = old;
		return -ENOMEM;
	}
	t->mask = nslots - 1;
	for (i = 0; i < oldn; i++)
		if (!is_free(&old[i]))
			place(t, &old[i]);
	free(old);
	return 0;
}

/* Empties slot i, which holds a tombstone (nothing else is ever deleted, so live stays),
 * and pulls later members of its probe run back so that every entry stays reachable from
 * its home slot without crossing a free slot. */
static void del(struct route_table *t, size_t i)
{
	size_t j = i;

	t->used--;
	for (;;) {
		size_t h;

		j = (j + 1) & t->mask;
		if (is_free(&t->slot[j]))
			break;
		h = home(t, &t->slot[j].vip);
		/* The entry at j may fill the hole at i only if its home is not in (i, j]
		 * cyclically, i.e. its distance from home is at least the distance i..j. */
		if (((j - h) & t->mask) >= ((j - i) & t->mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	memset(&t->slot[i], 0, sizeof(t->slot[i]));
}

int route_table_new(struct route_table **out)
{
	struct route_table *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->slot = calloc(MIN_SLOTS, sizeof(*t->slot));
	if (!t->slot) {
		free(t);
		return -ENOMEM;
	}
	t->mask = MIN_SLOTS - 1;
	*out = t;
	return 0;
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->slot);
	free(t);
}

bool route_wins(const struct route_entry *a, const struct route_entry *b)
{
	int c;

	if (a->epoch != b->epoch)
		return a->epoch > b->epoch;
	/* Bounded so an unterminated name cannot read past the field; equal to strcmp for
	 * the terminated names route_update stores. */
	c = strncmp(a->node, b->node, sizeof(a->node));
	if (c != 0)
		return c > 0;
	return a->withdrawn && !b->withdrawn;
}

static int put(struct route_table *t, const struct route_entry *e, bool force)
{
	struct route_entry *s;
	bool found;
	size_t i;

	if (!valid(&e->vip))
		return -EINVAL;
	i = find(t, &e->vip, &found);
	if (found) {
		s = &t->slot[i];
		if (force ? s->epoch == e->epoch && s->withdrawn == e->withdrawn &&
			    s->store_rev == e->store_rev &&
			    strncmp(s->node, e->node, sizeof(s->node)) == 0
			  : !route_wins(e, s))
			return 0;
		t->live += (size_t)!e->withdrawn - (size_t)!s->withdrawn;
		*s = *e;
	} else {
		/* Grow first: a failure leaves the table as it was. */
		if ((t->used + 1) * LOAD_DEN > (t->mask + 1) * LOAD_NUM) {
			size_t n = (t->mask + 1) * 2;
			int r;

			if (n > SIZE_MAX / sizeof(*t->slot))
				return -ENOMEM;
			r = resize(t, n);
			if (r < 0)
				return r;
		}
		s = place(t, e);
		t->used++;
		if (!e->withdrawn)
			t->live++;
	}
	s->node[ROUTE_NODE_MAX] = '\0';
	return 1;
}

int route_update(struct route_table *t, const struct route_entry *e)
{
	return put(t, e, false);
}

int route_set(struct route_table *t, const struct route_entry *e)
{
	return put(t, e, true);
}

/* v's entry when it is not in its home slot: the probe, out of the lookup's way. */
static __attribute__((noinline)) const struct route_entry *
get_slow(const struct route_table *t, const struct vip *v)
{
	bool found;
	size_t i = find(t, v, &found);

	return found ? &t->slot[i] : NULL;
}

/* v's entry (v valid): its home slot, compared without a branch, then one branch that
 * goes the same way for most lookups (the comment at the top). */
static inline __attribute__((always_inline)) const struct route_entry *
get(const struct route_table *t, const struct vip *v)
{
	size_t i = home(t, v);
	const struct route_entry *s = &t->slot[i];
	uint64_t lo, hi;

	words(v, &lo, &hi);
	/* The next slot, where the probe goes when v is not at home: on its way meanwhile. */
	__builtin_prefetch(&t->slot[(i + 1) & t->mask]);
	if (__builtin_expect(!differs(s, v, lo, hi), 1))
		return s;
	return get_slow(t, v);
}

const struct route_entry *route_get(const struct route_table *t, const struct vip *v)
{
	return valid(v) ? get(t, v) : NULL;
}

const struct route_entry *route_lookup(const struct route_table *t, const struct vip *v)
{
	const struct route_entry *e;

	if (!valid(v))
		return NULL;
	e = get(t, v);
	return e && !e->withdrawn ? e : NULL;
}

uint64_t route_next_epoch(const struct route_table *t, const struct vip *v)
{
	const struct route_entry *e = route_get(t, v);

	/* The stored entry carries the highest epoch seen: a higher epoch always wins. */
	if (!e)
		return 1;
	return e->epoch == UINT64_MAX ? UINT64_MAX : e->epoch + 1;
}

void route_foreach(const struct route_table *t,
		   void (*cb)(const struct route_entry *e, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i <= t->mask; i++)
		if (!is_free(&t->slot[i]))
			cb(&t->slot[i], arg);
}

bool route_walk(const struct route_table *t, size_t *cursor, size_t nslots,
		void (*cb)(const struct route_entry *e, void *arg), void *arg)
{
	size_t i = *cursor, end = i + nslots;

	if (end > t->mask + 1 || end < i)
		end = t->mask + 1;
	for (; i < end; i++)
		if (!is_free(&t->slot[i]))
			cb(&t->slot[i], arg);
	*cursor = i;
	return i <= t->mask;
}

size_t route_count(const struct route_table *t)
{
	return t->live;
}

size_t route_size(const struct route_table *t)
{
	return t->used;
}

size_t route_expire(struct route_table *t, uint64_t cutoff_ms)
{
	size_t start, n, i, removed = 0;
	size_t nslots = t->mask + 1;

	/* Start the sweep just after a free slot: no probe run then wraps past the end of
	 * the sweep, so del() only ever moves not-yet-visited entries into the current slot,
	 * which is why the slot is tested again after each deletion. */
	for (start = 0; !is_free(&t->slot[start]); start++)
		;
	for (n = 1; n <= t->mask; n++) {
		struct route_entry *s;

		i = (start + n) & t->mask;
		s = &t->slot[i];
		while (!is_free(s) && s->withdrawn && s->changed_ms < cutoff_ms) {
			del(t, i);
			removed++;
		}
	}
	/* Give memory back after a mass expiry; on failure the larger array stays valid. */
	while (nslots > MIN_SLOTS && t->used * LOAD_DEN * 4 < nslots * LOAD_NUM)
		nslots /= 2;
	if (nslots != t->mask + 1)
		resize(t, nslots);
	return removed;
}

size_t route_set_unreachable(struct route_table *t, const char *node, bool on)
{
	size_t i, n = 0;

	for (i = 0; i <= t->mask; i++) {
		struct route_entry *s = &t->slot[i];

		if (is_free(s) || s->withdrawn || s->unreachable == on ||
		    strncmp(s->node, node, sizeof(s->node)) != 0)
			continue;
		s->unreachable = on;
		n++;
	}
	return n;
}

const char *route_state_name(const struct route_entry *e)
{
	return e->withdrawn ? "withdrawn" : e->unreachable ? "unreachable" : "up";
}
