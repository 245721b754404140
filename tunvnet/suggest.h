/* "Did you mean": the closest of a set of names to a misspelt one, by edit distance
 * (insertions, deletions, substitutions and swaps of two neighbours, each costing one),
 * for refusals that teach: unknown config keys and sections, unknown vnetctl commands.
 *
 *   struct suggest s;
 *   suggest_init(&s, word);
 *   for (each name) suggest_try(&s, name);
 *   if (suggest_result(&s)) ... "did you mean \"%s\"?"
 */
#ifndef TUNVNET_SUGGEST_H
#define TUNVNET_SUGGEST_H

#include <stddef.h>

#define SUGGEST_MAX_LEN 64 /* longer words and names are never suggested */

struct suggest {
	const char *word;
	const char *best;  /* the closest name so far (a pointer into the caller's table) */
	unsigned dist;
};

void suggest_init(struct suggest *s, const char *word);
void suggest_try(struct suggest *s, const char *name);
/* The closest name if it is close enough to be what was meant (at most one edit in
 * names up to 4 characters, two up to 8, three beyond), else NULL. */
const char *suggest_result(const struct suggest *s);
/* The edit distance of a and b (SUGGEST_MAX_LEN + 1 when either is longer). */
unsigned suggest_distance(const char *a, const char *b);

#endif
