#include "tunvnet/suggest.h"

#include <string.h>

/* Optimal string alignment distance, one row pair at a time on the stack. */
unsigned suggest_distance(const char *a, const char *b)
{
	unsigned prev2[SUGGEST_MAX_LEN + 1], prev[SUGGEST_MAX_LEN + 1], cur[SUGGEST_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return SUGGEST_MAX_LEN + 1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (unsigned)j;
	memset(prev2, 0, sizeof(prev2));
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
		memcpy(prev2, prev, sizeof(prev));
		memcpy(prev, cur, sizeof(cur));
	}
	return prev[lb];
}

void suggest_init(struct suggest *s, const char *word)
{
	s->word = word;
	s->best = NULL;
	s->dist = SUGGEST_MAX_LEN + 1;
}

void suggest_try(struct suggest *s, const char *name)
{
	unsigned d = suggest_distance(s->word, name);

	if (d < s->dist) {
		s->dist = d;
		s->best = name;
	}
}

const char *suggest_result(const struct suggest *s)
{
	size_t n = strlen(s->word);
	unsigned max = n <= 4 ? 1 : n <= 8 ? 2 : 3;

	return s->best && s->dist > 0 && s->dist <= max ? s->best : NULL;
}
