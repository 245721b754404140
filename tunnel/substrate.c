/* The one place substrates are named: above every substrate, which each implement
 * tunnel.h. */
#include "tunnel/substrate.h"

#include <string.h>

/* Every substrate this build has, by wire number. */
static const struct tunnel_ops *const substrates[SUBSTRATE_MAX] = {
	[SUBSTRATE_TCP] = &tunnel_tcp_ops,
	[SUBSTRATE_UDP] = &tunnel_udp_ops,
	[SUBSTRATE_VERBS] = &tunnel_verbs_ops,
};

static const char *const names[SUBSTRATE_MAX] = {
	[SUBSTRATE_TCP] = "tcp",
	[SUBSTRATE_UDP] = "udp",
	[SUBSTRATE_VERBS] = "verbs",
};

const struct tunnel_ops *substrate_lookup(const char *name)
{
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		if (substrates[i] && strcmp(substrates[i]->name, name) == 0)
			return substrates[i];
	return NULL;
}

const struct tunnel_ops *substrate_get(int id)
{
	return id >= 0 && id < SUBSTRATE_MAX ? substrates[id] : NULL;
}

int substrate_id(const struct tunnel_ops *ops)
{
	for (int i = 0; i < SUBSTRATE_MAX; i++)
		if (substrates[i] == ops)
			return i;
	return -1;
}

const char *substrate_name(int id)
{
	return id >= 0 && id < SUBSTRATE_MAX && names[id] ? names[id] : "?";
}
