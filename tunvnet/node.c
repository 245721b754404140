#include "tunvnet/node.h"

#include <errno.h>

#include "tunnel/frame.h"
#include "tunvnet/daemon.h"
#include "tunvnet/forward.h"
#include "tunvnet/move.h"
#include "tunvnet/routing.h"

static int on_data(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		   size_t len)
{
	forward_from_peer(p, flags, b, len);
	return 0;
}

static int on_routes(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		     size_t len)
{
	return routing_receive(d, p, flags, b, len);
}

static int on_migrate(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		      size_t len)
{
	return move_on_migrate(d, p, b, len);
}

static int on_migrate_done(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
			   size_t len)
{
	return move_on_migrate_done(d, p, b, len);
}

/* The frames of an up peer that this layer takes, and who takes each. */
static const struct {
	uint8_t type;
	int (*fn)(struct daemon *d, struct peer *p, uint16_t flags, const uint8_t *b,
		  size_t len);
} frames[] = {
	{ FRAME_DATA, on_data },
	{ FRAME_ROUTES, on_routes },
	{ FRAME_MIGRATE, on_migrate },
	{ FRAME_MIGRATE_DONE, on_migrate_done },
};

static int on_frame(struct peer *p, uint8_t type, uint16_t flags, const uint8_t *payload,
		    size_t len, void *arg)
{
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		if (frames[i].type == type)
			return frames[i].fn(arg, p, flags, payload, len);
	return -EBADMSG;
}

/* A peer that comes up gets this node's own routes. */
static void on_up(struct peer *p, void *arg)
{
	routing_send_table(arg, p);
}

static void on_down(struct peer *p, const char *why, void *arg)
{
	move_peer_down(arg, p);
}

const struct peer_events node_peer_events = {
	.up = on_up,
	.down = on_down,
	.frame = on_frame,
};
