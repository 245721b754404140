#include "tunnel/tunnel.h"

#include <string.h>

/* Every substrate this build has, best first. The one place substrates are named. */
static const struct tunnel_ops *const substrates[] = {
	&tunnel_tcp_ops,
};

const struct tunnel_ops *tunnel_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(substrates) / sizeof(substrates[0]); i++)
		if (strcmp(substrates[i]->name, name) == 0)
			return substrates[i];
	return NULL;
}
