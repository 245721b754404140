/* Network namespaces of jobs: "NAME" (under /run/netns) or a path such as
 * /proc/PID/ns/net. A namespace is identified by the (st_dev, st_ino) of its nsfs file,
 * so a name and a /proc path to the same namespace are the same job. */
#ifndef TUNVNET_NETNS_H
#define TUNVNET_NETNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct netns_id {
	dev_t dev;
	ino_t ino;
};

/* Opens the namespace. A spec without '/' is a name under /run/netns. Checks that the
 * file is a network namespace. Returns an O_CLOEXEC fd, or -errno (-ENOENT: no such
 * namespace; -EINVAL: not a network namespace). */
int netns_open(const char *spec, struct netns_id *id);

/* Whether spec names a namespace the machine's operator named: "NAME" or
 * "/run/netns/NAME" (`ip netns add`), not any other path (a peer's MIGRATE may name only
 * such a one). */
bool netns_is_named(const char *spec);

/* Runs fn(arg) with the calling thread switched into the namespace netns_fd, then
 * switches back. Returns fn's result, or -errno if the switch failed. */
int netns_run(int netns_fd, int (*fn)(void *arg), void *arg);

#endif
