/* What the kernel says about a job's TUN, read through rtnetlink inside the job's
 * namespace: whether the device is there, how many queues (file descriptors) are attached
 * to it, whose it is (the mark a daemon leaves in the link's alias), and whether its VIPs
 * and default routes are still in place. tun.c makes and configures the device; this file
 * only looks (and leaves the mark), so that the daemon can agree with the kernel:
 *
 *   - before serving a TUN: one another daemon serves (queues attached, its mark) is
 *     refused unless it is a migrate hand-over: two daemons on one TUN fight over it;
 *   - on releasing a VIP: addresses of a TUN another daemon holds a queue of stay put;
 *   - periodically (watch.c): a TUN deleted, an address or a route removed by hand. */
#ifndef TUNVNET_TUNLINK_H
#define TUNVNET_TUNLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>

#include "tunvnet/vip.h"

#define TUNLINK_MARK_PREFIX "tunvnetd " /* alias: "tunvnetd NODE" */
#define TUNLINK_ALIAS_MAX 128

struct tunlink_info {
	bool exists;
	bool is_tun;
	int ifindex;
	unsigned queues;                 /* IFLA_TUN_NUM_QUEUES: fds attached now */
	char alias[TUNLINK_ALIAS_MAX];   /* "" when none */
};

/* The device ifname in netns_fd. 0 with info->exists false if there is none; -errno. */
int tunlink_probe(int netns_fd, const char *ifname, struct tunlink_info *info);

/* Whether the TUN ifname in the namespace spec is served now: a queue attached to it (a
 * daemon holds it open). 1 with by = the node of its mark (or "another process"), 0 when
 * there is no such TUN or nobody holds it (a persistent one left behind may be
 * re-adopted), -errno when the namespace cannot be opened. */
int tunlink_served_by(const char *spec, const char *ifname, char *by, size_t size);

/* The node named in a daemon's mark ("tunvnetd n1" -> "n1"), or NULL. */
const char *tunlink_mark_node(const struct tunlink_info *info);

/* Leaves "tunvnetd NODE" in the alias of ifindex: the daemon now serving it. 0 or -errno. */
int tunlink_mark(int netns_fd, int ifindex, const char *node);

/* What of a job's addressing is missing on ifindex: missing[i] for vips[i] not on it, and
 * per family (no_default4 / no_default6) whether the job has a VIP of that family but the
 * namespace no default route through the TUN. 0 or -errno. */
struct tunlink_addrs {
	bool missing[16];
	bool no_default4, no_default6;
};
int tunlink_check_addrs(int netns_fd, int ifindex, const struct vip *vips, int nvips,
			struct tunlink_addrs *out);

#endif
