/* Each node's share of the route table: how many live route entries name it. The
 * receiving side of [limits] routes_per_peer (routing.c) asks it before applying a
 * peer's entry, and tells it every change of a live entry's node.
 *
 * An open hash on the node name; names stay once seen (there are at most as many as
 * nodes ever heard from, themselves bounded by [limits] peers). */
#ifndef TUNVNET_ROUTESHARE_H
#define TUNVNET_ROUTESHARE_H

#include <stddef.h>

struct routeshare;

int    routeshare_new(struct routeshare **out); /* 0 or -ENOMEM */
void   routeshare_free(struct routeshare *rs);  /* NULL is ignored */
/* Live entries naming node (0 for a name never seen). */
size_t routeshare_get(const struct routeshare *rs, const char *node);
/* Adds delta (+1 / -1) to node's count, never below 0. 0 or -ENOMEM (the count is then
 * not kept: a later check may let one more entry in). */
int    routeshare_add(struct routeshare *rs, const char *node, int delta);

#endif
