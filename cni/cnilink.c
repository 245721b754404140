/* Interface names inside a container's namespace (cnilink.h). tunvnet-cni is a short-lived,
 * single-threaded process: it enters the namespace with setns(2) and comes back. */
#include "cni/cnilink.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

struct op {
	const char *name; /* cnilink_ifindex */
	int ifindex;      /* cnilink_altname */
	const char *alt;
	int add;
	int result;
};

/* Runs fn in the namespace at nspath and comes back; -errno if it cannot get there. */
static int in_netns(const char *nspath, void (*fn)(struct op *), struct op *op)
{
	int self, ns, err = 0;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	ns = open(nspath, O_RDONLY | O_CLOEXEC);
	if (ns < 0) {
		err = -errno;
		close(self);
		return err;
	}
	if (setns(ns, CLONE_NEWNET) < 0) {
		err = errno == EINVAL ? -ENOTSUP : -errno; /* EINVAL: not a network namespace */
		goto out;
	}
	fn(op);
	/* The rest of the run (state files, the next request) must not happen inside the
	 * container's namespace: if we cannot get out, nothing sensible can go on. */
	if (setns(self, CLONE_NEWNET) < 0)
		_exit(70);
out:
	close(ns);
	close(self);
	return err;
}

static void do_ifindex(struct op *op)
{
	unsigned idx = if_nametoindex(op->name);

	op->result = idx ? (int)idx : (errno == ENODEV || errno == ENXIO ? 0 : -errno);
}

static void do_altname(struct op *op)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = op->ifindex };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *m = NULL;
	struct nlattr *list;
	int err;

	op->result = -ENOMEM;
	if (!sk)
		return;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		op->result = -EIO;
		goto out;
	}
	m = nlmsg_alloc_simple(op->add ? RTM_NEWLINKPROP : RTM_DELLINKPROP,
			       NLM_F_REQUEST | (op->add ? NLM_F_CREATE | NLM_F_EXCL : 0));
	if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    !(list = nla_nest_start(m, IFLA_PROP_LIST)) ||
	    nla_put_string(m, IFLA_ALT_IFNAME, op->alt) < 0)
		goto out;
	nla_nest_end(m, list);
	err = nl_send_sync(sk, m); /* sends, waits for the ack, frees m */
	m = NULL;
	if (err == -NLE_EXIST)
		op->result = -EEXIST;
	else if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		op->result = -ENOENT;
	else if (err == -NLE_OPNOTSUPP)
		op->result = -EOPNOTSUPP;
	else
		op->result = err < 0 ? -EIO : 0;
out:
	nlmsg_free(m);
	nl_socket_free(sk);
}

int cnilink_ifindex(const char *nspath, const char *name)
{
	struct op op = { .name = name };
	int err = in_netns(nspath, do_ifindex, &op);

	return err < 0 ? err : op.result;
}

int cnilink_altname(const char *nspath, int ifindex, const char *alt, int add)
{
	struct op op = { .ifindex = ifindex, .alt = alt, .add = add };
	int err = in_netns(nspath, do_altname, &op);

	return err < 0 ? err : op.result;
}
