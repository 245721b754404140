/* The one place substrates are named: above every substrate, which each implement
 * tunnel.h. */
#include "tunnel/substrate.h"

#include <string.h>

/* Every substrate this build has, best first. */
static const struct tunnel_ops *const substrates[] = {
	&tunnel_tcp_ops,
};

const struct tunnel_ops *substrate_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(substrates) / sizeof(substrates[0]); i++)
		if (strcmp(substrates[i]->name, name) == 0)
			return substrates[i];
	return NULL;
}
