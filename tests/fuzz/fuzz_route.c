/* The route table (tunvnet/route.c) against a naive model: the input is a sequence of
 * operations (update, lookup, expire, count) on a few hundred VIPs of both families,
 * applied to the real table and to a plain array that decides by the rule in route.h
 * written out afresh. Every answer must agree; the table grows, shrinks and reorders
 * its probe runs on the way, which is where it could go wrong.
 *
 * One operation, from the input bytes:
 *   op & 3 == 0: update    u16 vip, u8 epoch, u8 node | withdrawn << 7, u8 time
 *   op & 3 == 1: lookup    u16 vip (route_lookup, route_get, route_next_epoch)
 *   op & 3 == 2: expire    u8 cutoff
 *   op & 3 == 3: walk      route_foreach, route_walk in slices, route_count and
 *                          route_size against the model */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/route.h"

#define NVIPS 1024 /* distinct VIPs: enough for several doublings of the table */

static const char *const nodes[] = { "a", "b", "n1", "n10", "n2", "zz" };
#define NNODES (sizeof(nodes) / sizeof(nodes[0]))

struct model {
	bool present;
	struct route_entry e;
};

static struct model model[NVIPS];

static void vip_of(unsigned i, struct vip *v)
{
	memset(v, 0, sizeof(*v));
	/* half IPv4, half IPv6; the IPv4 ones get junk past their 4 bytes, which the table
	 * must ignore */
	if (i & 1) {
		v->family = AF_INET;
		v->a[0] = 198;
		v->a[1] = 19;
		v->a[2] = (uint8_t)(i >> 8);
		v->a[3] = (uint8_t)i;
		v->a[9] = (uint8_t)(i * 7);
	} else {
		v->family = AF_INET6;
		v->a[0] = 0xfd;
		v->a[14] = (uint8_t)(i >> 8);
		v->a[15] = (uint8_t)i;
	}
}

/* route.h's rule, written out without route_wins */
static bool naive_wins(const struct route_entry *a, const struct route_entry *b)
{
	if (a->epoch != b->epoch)
		return a->epoch > b->epoch;
	if (strcmp(a->node, b->node) != 0)
		return strcmp(a->node, b->node) > 0;
	return a->withdrawn && !b->withdrawn;
}

static bool same(const struct route_entry *a, const struct route_entry *b)
{
	return a->epoch == b->epoch && strcmp(a->node, b->node) == 0 &&
	       a->withdrawn == b->withdrawn && a->changed_ms == b->changed_ms;
}

struct walk {
	size_t n;
	bool seen[NVIPS];
};

static void visit(const struct route_entry *e, void *arg)
{
	struct walk *w = arg;
	unsigned i = e->vip.family == AF_INET ? (unsigned)e->vip.a[2] << 8 | e->vip.a[3]
					       : (unsigned)e->vip.a[14] << 8 | e->vip.a[15];

	FUZZ_CHECK(i < NVIPS && model[i].present && !w->seen[i]);
	FUZZ_CHECK(same(e, &model[i].e));
	w->seen[i] = true;
	w->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_table *t;
	size_t off = 0;

	if (route_table_new(&t) != 0)
		abort();
	memset(model, 0, sizeof(model));
	while (off < size) {
		uint8_t op = data[off++];
		const struct route_entry *got;
		struct route_entry e;
		unsigned i;
		size_t live, k;
		int r;

		switch (op & 3) {
		case 0:
			if (size - off < 5)
				goto out;
			i = (unsigned)(data[off] << 8 | data[off + 1]) % NVIPS;
			memset(&e, 0, sizeof(e));
			vip_of(i, &e.vip);
			e.epoch = data[off + 2];
			snprintf(e.node, sizeof(e.node), "%s", nodes[(data[off + 3] & 0x7f) % NNODES]);
			e.withdrawn = data[off + 3] & 0x80;
			e.changed_ms = data[off + 4];
			off += 5;
			r = route_update(t, &e);
			if (!model[i].present || naive_wins(&e, &model[i].e)) {
				FUZZ_CHECK(r == 1);
				model[i].present = true;
				model[i].e = e;
			} else {
				FUZZ_CHECK(r == 0);
			}
			break;
		case 1:
			if (size - off < 2)
				goto out;
			i = (unsigned)(data[off] << 8 | data[off + 1]) % NVIPS;
			off += 2;
			vip_of(i, &e.vip);
			/* the same IPv4 address with other junk past it is the same VIP */
			if (e.vip.family == AF_INET)
				e.vip.a[12] = op;
			got = route_get(t, &e.vip);
			FUZZ_CHECK(!got == !model[i].present);
			if (got)
				FUZZ_CHECK(same(got, &model[i].e));
			got = route_lookup(t, &e.vip);
			FUZZ_CHECK(!got == (!model[i].present || model[i].e.withdrawn));
			FUZZ_CHECK(route_next_epoch(t, &e.vip) ==
				   (model[i].present ? model[i].e.epoch + 1 : 1));
			break;
		case 2:
			if (size - off < 1)
				goto out;
			k = 0;
			for (i = 0; i < NVIPS; i++)
				if (model[i].present && model[i].e.withdrawn &&
				    model[i].e.changed_ms < data[off]) {
					model[i].present = false;
					k++;
				}
			FUZZ_CHECK(route_expire(t, data[off]) == k);
			off++;
			break;
		default: {
			static struct walk w;

			memset(&w, 0, sizeof(w));
			route_foreach(t, visit, &w);
			live = k = 0;
			for (i = 0; i < NVIPS; i++) {
				k += model[i].present;
				live += model[i].present && !model[i].e.withdrawn;
			}
			FUZZ_CHECK(w.n == k);
			FUZZ_CHECK(route_count(t) == live);
			FUZZ_CHECK(route_size(t) == k);
			/* the same in slices of 1..8 slots (route_walk), on an unchanged table:
			 * every entry once */
			{
				size_t cur = 0, step = 1 + (k & 7);

				memset(&w, 0, sizeof(w));
				while (route_walk(t, &cur, step, visit, &w))
					;
				FUZZ_CHECK(w.n == k);
			}
			break;
		}
		}
	}
out:
	route_table_free(t);
	return 0;
}
