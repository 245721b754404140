/* The peer message bodies fuzz_msg.c feeds, shared with the seed generator (seeds.c):
 * an input's first byte picks one by its place here (modulo their number). A new message
 * type is one line, added at the end (so that the checked-in seeds keep their meaning):
 * BODY for a struct with msg_NAME_encode / msg_NAME_decode, LIST for an array of entries
 * decoded with a maximum count. */
#ifndef TESTS_FUZZ_MSG_TARGETS_H
#define TESTS_FUZZ_MSG_TARGETS_H

#include "tunvnet/msg.h"

#define MSG_BODIES(X)                                                                     \
	X(BODY, hello, struct msg_hello)                                                  \
	X(BODY, migrate, struct msg_migrate)                                              \
	X(BODY, migrate_done, struct msg_migrate_done)                                    \
	X(LIST, peers, struct msg_member)                                                 \
	X(LIST, routes, struct route_entry)                                               \
	X(BODY, link_open, struct msg_link_open)                                          \
	X(BODY, link_ok, struct msg_link_ok)                                              \
	X(BODY, substrate, struct msg_substrate)

#define MSG_TARGET_ENUM(kind, name, type) MSG_TARGET_##name,
enum { MSG_BODIES(MSG_TARGET_ENUM) MSG_TARGETS };

#endif
