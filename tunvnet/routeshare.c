/* Each node's share of the route table: an open hash on the node name, linear probing,
 * doubled past 1/2 full. Nothing is ever deleted (a count may fall to 0). */
#include "tunvnet/routeshare.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "tunvnet/route.h"

#define MIN_SLOTS 16

struct slot {
	char name[ROUTE_NODE_MAX + 1]; /* "" : free */
	size_t n;
};

struct routeshare {
	struct slot *s;
	size_t mask, used;
};

static uint64_t hash(const char *name)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (size_t i = 0; i < ROUTE_NODE_MAX && name[i]; i++)
		h = (h ^ (uint8_t)name[i]) * 1099511628211ULL;
	return h;
}

static struct slot *find(const struct routeshare *rs, const char *name)
{
	size_t i = (size_t)hash(name) & rs->mask;

	for (;; i = (i + 1) & rs->mask)
		if (!rs->s[i].name[0] || strncmp(rs->s[i].name, name, ROUTE_NODE_MAX) == 0)
			return &rs->s[i];
}

int routeshare_new(struct routeshare **out)
{
	struct routeshare *rs = calloc(1, sizeof(*rs));

	*out = NULL;
	if (!rs || !(rs->s = calloc(MIN_SLOTS, sizeof(*rs->s)))) {
		free(rs);
		return -ENOMEM;
	}
	rs->mask = MIN_SLOTS - 1;
	*out = rs;
	return 0;
}

void routeshare_free(struct routeshare *rs)
{
	if (!rs)
		return;
	free(rs->s);
	free(rs);
}

size_t routeshare_get(const struct routeshare *rs, const char *node)
{
	const struct slot *s = find(rs, node);

	return s->name[0] ? s->n : 0;
}

static int grow(struct routeshare *rs)
{
	struct slot *old = rs->s;
	size_t oldn = rs->mask + 1;

	rs->s = calloc(oldn * 2, sizeof(*rs->s));
	if (!rs->s) {
		rs->s = old;
		return -ENOMEM;
	}
	rs->mask = oldn * 2 - 1;
	for (size_t i = 0; i < oldn; i++)
		if (old[i].name[0])
			*find(rs, old[i].name) = old[i];
	free(old);
	return 0;
}

int routeshare_add(struct routeshare *rs, const char *node, int delta)
{
	struct slot *s;

	if (!node[0])
		return 0;
	s = find(rs, node);
	if (!s->name[0]) {
		if (delta <= 0)
			return 0;
		if ((rs->used + 1) * 2 > rs->mask + 1) {
			if (grow(rs) < 0)
				return -ENOMEM;
			s = find(rs, node);
		}
		strncpy(s->name, node, ROUTE_NODE_MAX);
		s->name[ROUTE_NODE_MAX] = '\0';
		rs->used++;
	}
	if (delta < 0 && s->n < (size_t)-delta)
		s->n = 0;
	else
		s->n += (size_t)(ssize_t)delta;
	return 0;
}
