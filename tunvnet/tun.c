/* A job's TUN device. Everything that names the device or its addresses happens inside
 * the job's namespace (netns_run): the TUN is created in the namespace of the thread that
 * opens /dev/net/tun, and a netlink socket talks to the namespace it was created in, so
 * each operation opens its own short-lived socket there. */
#include "tunvnet/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>

#include "tunvnet/netns.h"
#include "tunvnet/vnet.h"

/* libnl folds errno values into its own NLE_* codes (nl_syserr2nlerr); this undoes that
 * as far as it can, so callers see the -errno the rest of the daemon speaks. */
static int nlerr(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return 0;
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
	case NLE_IMMUTABLE:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
	case NLE_MSG_TRUNC:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
	case NLE_AF_MISMATCH:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_SEQ_MISMATCH:
	case NLE_MSG_TOOSHORT:
	case NLE_MSGTYPE_NOSUPPORT:
	case NLE_PARSE_ERR:
		return -EPROTO;
	case NLE_DUMP_INTR:
		return -EINTR;
	default:
		return -EIO;
	}
}

static int nl_open(struct nl_sock **out)
{
	struct nl_sock *sk;
	int err;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(sk);
		return nlerr(err);
	}
	*out = sk;
	return 0;
}

/* --- tun_create --- */

struct create_req {
	const char *ifname;
	int mtu;
	unsigned opts;     /* TUN_OFFLOAD */
	int fd;            /* out */
	int ifindex;       /* out */
	unsigned offloads; /* out: TUN_F_* the kernel took */
};

/* The virtio-net header and the offloads, on a fresh or an adopted device alike: both are
 * properties of the device, not of the fd, and an adopted device keeps whatever its last
 * user set. Without TUN_OFFLOAD every offload is switched off explicitly: a device still
 * doing TSO would hand 64 KiB packets to an fd that has no header to describe them. */
static int offload_setup(int fd, unsigned opts, unsigned *offloads)
{
	const unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	int sz = VNET_HDR_LEN;

	*offloads = 0;
	if (!(opts & TUN_OFFLOAD))
		return ioctl(fd, TUNSETOFFLOAD, 0) < 0 ? -errno : 0;
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return -errno;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	{
		/* Frames carry the header little-endian (vnet.h): make the TUN speak it too. */
		int le = 1;

		if (ioctl(fd, TUNSETVNETLE, &le) < 0)
			return -errno;
	}
#endif
	/* UDP segmentation offload came with Linux 6.2: without it, only TCP; without
	 * that, plain packets behind a header that asks for nothing (job.c then cuts what
	 * peers send in software). */
	if (ioctl(fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) == 0)
		*offloads = tso | TUN_F_USO4 | TUN_F_USO6;
	else if (ioctl(fd, TUNSETOFFLOAD, tso) == 0)
		*offloads = tso;
	else if (ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		return -errno;
	return 0;
}

static int link_apply(struct nl_sock *sk, struct rtnl_link *orig, struct rtnl_link *changes)
{
	return nlerr(rtnl_link_change(sk, orig, changes, 0));
}

/* A multi-queue TUN has 256 transmit queues, and bringing it up would give each a default
 * qdisc (pfifo_fast: a 500-slot ring, so about 1 MiB of kernel memory per TUN and tens of
 * ms per attach once a node holds hundreds of jobs). The TUN has rings of its own per
 * queue and never stops its queues, so a root "noqueue" (what virtual devices such as
 * veth and WireGuard get) loses nothing. It must be there before the link goes up; a
 * kernel without noqueue as a root qdisc keeps the default. */
static void link_noqueue(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	if (rtnl_tc_set_kind(TC_CAST(q), "noqueue") == 0)
		rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
}

/* Turning IPv6 address generation off must come before the link goes up: the kernel adds
 * the fe80:: address (and starts router solicitation) the moment it is up, and in one
 * RTM_NEWLINK it applies the flags before IFLA_AF_SPEC. */
static int link_configure(struct nl_sock *sk, const char *ifname, int mtu, int *ifindex)
{
	struct rtnl_link *orig = NULL, *changes = NULL;
	int err;

	err = nlerr(rtnl_link_get_kernel(sk, 0, ifname, &orig));
	if (err < 0)
		return err;
	changes = rtnl_link_alloc();
	if (!changes) {
		err = -ENOMEM;
		goto out;
	}
	err = nlerr(rtnl_link_inet6_set_addr_gen_mode(changes, IN6_ADDR_GEN_MODE_NONE));
	if (err < 0)
		goto out;
	err = link_apply(sk, orig, changes);
	/* No IPv6 on this kernel or device: then there is no link-local address either. */
	if (err < 0 && err != -EAFNOSUPPORT)
		goto out;
	rtnl_link_put(changes);

	changes = rtnl_link_alloc();
	if (!changes) {
		err = -ENOMEM;
		goto out;
	}
	if (mtu > 0)
		rtnl_link_set_mtu(changes, (unsigned int)mtu);
	rtnl_link_set_flags(changes, IFF_UP);
	if (!(rtnl_link_get_flags(orig) & IFF_UP))
		link_noqueue(sk, rtnl_link_get_ifindex(orig));
	err = link_apply(sk, orig, changes);
	if (err < 0)
		goto out;
	*ifindex = rtnl_link_get_ifindex(orig);
out:
	if (changes)
		rtnl_link_put(changes);
	rtnl_link_put(orig);
	return err;
}

/* A fresh namespace has lo down, and jobs expect 127.0.0.1 and ::1 to work. */
static int lo_up(struct nl_sock *sk)
{
	struct rtnl_link *orig = NULL, *changes;
	int err;

	err = nlerr(rtnl_link_get_kernel(sk, 0, "lo", &orig));
	if (err < 0)
		return err;
	if (rtnl_link_get_flags(orig) & IFF_UP) {
		rtnl_link_put(orig);
		return 0;
	}
	changes = rtnl_link_alloc();
	if (!changes) {
		rtnl_link_put(orig);
		return -ENOMEM;
	}
	rtnl_link_set_flags(changes, IFF_UP);
	err = link_apply(sk, orig, changes);
	rtnl_link_put(changes);
	rtnl_link_put(orig);
	return err;
}

static int create_in_ns(void *arg)
{
	struct create_req *req = arg;
	struct nl_sock *sk = NULL;
	struct ifreq ifr;
	bool adopted;
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	/* Multi-queue, so that a second daemon can attach a queue of its own for a
	 * make-before-break hand-over on one machine (vnetctl migrate). */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
	if (req->opts & TUN_OFFLOAD)
		ifr.ifr_flags |= IFF_VNET_HDR;
	memcpy(ifr.ifr_name, req->ifname, strlen(req->ifname));
	/* On a persistent device of that name this attaches to it instead of creating. */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		goto fail;
	}
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		err = -errno;
		goto fail;
	}
	adopted = ifr.ifr_flags & IFF_PERSIST;
	if (!adopted && ioctl(fd, TUNSETPERSIST, 1) < 0) {
		err = -errno;
		goto fail;
	}
	err = offload_setup(fd, req->opts, &req->offloads);
	if (err < 0)
		goto unpersist;
	err = nl_open(&sk);
	if (err < 0)
		goto unpersist;
	err = link_configure(sk, ifr.ifr_name, req->mtu, &req->ifindex);
	if (err < 0)
		goto unpersist;
	err = lo_up(sk);
	if (err < 0)
		goto unpersist;
	nl_socket_free(sk);
	req->fd = fd;
	return 0;

unpersist:
	/* A device we made goes away with the fd; one we adopted stays as it was. */
	if (!adopted)
		ioctl(fd, TUNSETPERSIST, 0);
fail:
	if (sk)
		nl_socket_free(sk);
	close(fd);
	return err;
}

int tun_open(int netns_fd, const char *ifname, int mtu, unsigned opts, unsigned *offloads,
	     int *ifindex)
{
	struct create_req req = { .ifname = ifname, .mtu = mtu, .opts = opts, .fd = -1 };
	int err;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '%') ||
	    (opts & ~TUN_OFFLOAD))
		return -EINVAL;
	err = netns_run(netns_fd, create_in_ns, &req);
	if (err < 0)
		return err;
	if (ifindex)
		*ifindex = req.ifindex;
	if (offloads)
		*offloads = req.offloads;
	return req.fd;
}

int tun_create(int netns_fd, const char *ifname, int mtu, int *ifindex)
{
	return tun_open(netns_fd, ifname, mtu, 0, NULL, ifindex);
}

void tun_destroy(int fd)
{
	if (fd < 0)
		return;
	ioctl(fd, TUNSETPERSIST, 0);
	close(fd);
}

/* --- addresses and default routes --- */

struct addr_req {
	int ifindex;
	const struct vip *vip;
};

static int full_len(int family)
{
	return family == AF_INET ? 32 : 128;
}

static int vip_check(int ifindex, const struct vip *vip)
{
	if (ifindex <= 0 || !vip)
		return -EINVAL;
	if (vip->family != AF_INET && vip->family != AF_INET6)
		return -EAFNOSUPPORT;
	return 0;
}

/* nl_addr of `bytes` (4 or 16 of them, by family) with the given prefix length. */
static struct nl_addr *mkaddr(int family, const uint8_t *bytes, int plen)
{
	struct nl_addr *a;

	a = nl_addr_build(family, bytes, family == AF_INET ? 4 : 16);
	if (a)
		nl_addr_set_prefixlen(a, plen);
	return a;
}

static int addr_template(const struct addr_req *req, struct rtnl_addr **out)
{
	int family = req->vip->family, plen = full_len(family);
	struct rtnl_addr *a;
	struct nl_addr *local;
	int err;

	a = rtnl_addr_alloc();
	if (!a)
		return -ENOMEM;
	local = mkaddr(family, req->vip->a, plen);
	if (!local) {
		rtnl_addr_put(a);
		return -ENOMEM;
	}
	rtnl_addr_set_ifindex(a, req->ifindex);
	rtnl_addr_set_family(a, family);
	err = nlerr(rtnl_addr_set_local(a, local));
	nl_addr_put(local);
	if (err < 0) {
		rtnl_addr_put(a);
		return err;
	}
	rtnl_addr_set_prefixlen(a, plen);
	*out = a;
	return 0;
}

/* A default route of `family` in the main table whose only next hop is ifindex. */
static bool is_our_default(struct rtnl_route *r, int family, int ifindex)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);
	struct rtnl_nexthop *nh;

	if (rtnl_route_get_family(r) != family || rtnl_route_get_table(r) != RT_TABLE_MAIN ||
	    rtnl_route_get_type(r) != RTN_UNICAST)
		return false;
	if (dst && nl_addr_get_prefixlen(dst) != 0)
		return false;
	if (rtnl_route_get_nnexthops(r) != 1)
		return false;
	nh = rtnl_route_nexthop_n(r, 0);
	return nh && rtnl_route_nh_get_ifindex(nh) == ifindex;
}

/* Finds our default route(s); with del, deletes each. *found says whether there was one. */
static int default_scan(struct nl_sock *sk, int family, int ifindex, bool del, bool *found)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int err;

	*found = false;
	err = nlerr(rtnl_route_alloc_cache(sk, family, 0, &cache));
	if (err < 0)
		return err;
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_route *r = (struct rtnl_route *)obj;

		if (!is_our_default(r, family, ifindex))
			continue;
		*found = true;
		if (!del)
			break;
		err = nlerr(rtnl_route_delete(sk, r, 0));
		if (err == -ENOENT)
			err = 0;
		if (err < 0)
			break;
	}
	nl_cache_free(cache);
	return err;
}

/* No gateway: the TUN is point-to-point, everything not local goes to the daemon. IPv4
 * takes no preferred source: the kernel picks the device's own primary address, which is
 * the first VIP on it, and a prefsrc would make the route vanish with that one VIP. */
static int default_add(struct nl_sock *sk, int family, int ifindex)
{
	static const uint8_t zero[16];
	struct rtnl_route *r;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst;
	int err;

	r = rtnl_route_alloc();
	if (!r)
		return -ENOMEM;
	rtnl_route_set_family(r, family);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_type(r, RTN_UNICAST);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_scope(r, family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
	dst = mkaddr(family, zero, 0);
	if (!dst) {
		err = -ENOMEM;
		goto out;
	}
	err = nlerr(rtnl_route_set_dst(r, dst));
	nl_addr_put(dst);
	if (err < 0)
		goto out;
	nh = rtnl_route_nh_alloc();
	if (!nh) {
		err = -ENOMEM;
		goto out;
	}
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh); /* r owns nh now */
	/* No NLM_F_EXCL: a default route via another device (the job's own uplink) must
	 * not make ours fail; an identical one of ours answers EEXIST. */
	err = nlerr(rtnl_route_add(sk, r, 0));
	if (err == -EEXIST)
		err = 0;
out:
	rtnl_route_put(r);
	return err;
}

static int addr_add_in_ns(void *arg)
{
	struct addr_req *req = arg;
	int family = req->vip->family;
	struct nl_sock *sk = NULL;
	struct rtnl_addr *a = NULL;
	bool found;
	int err;

	err = nl_open(&sk);
	if (err < 0)
		return err;
	err = addr_template(req, &a);
	if (err < 0)
		goto out;
	/* The daemon forwards at once: an address in DAD would refuse to be a source. */
	if (family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	err = nlerr(rtnl_addr_add(sk, a, NLM_F_REPLACE));
	if (err == -EEXIST)
		err = 0;
	if (err < 0)
		goto out;
	err = default_scan(sk, family, req->ifindex, false, &found);
	if (err == 0 && !found)
		err = default_add(sk, family, req->ifindex);
out:
	if (a)
		rtnl_addr_put(a);
	nl_socket_free(sk);
	return err;
}

int tun_addr_add(int netns_fd, int ifindex, const struct vip *vip)
{
	struct addr_req req = { .ifindex = ifindex, .vip = vip };
	int err = vip_check(ifindex, vip);

	return err < 0 ? err : netns_run(netns_fd, addr_add_in_ns, &req);
}

/* Whether ifindex still has an address of family that could be a source for the default
 * route; link- and host-scoped ones (fe80::) do not count. */
static int family_has_addr(struct nl_sock *sk, int family, int ifindex, bool *has)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int err;

	*has = false;
	err = nlerr(rtnl_addr_alloc_cache(sk, &cache));
	if (err < 0)
		return err;
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *a = (struct rtnl_addr *)obj;

		if (rtnl_addr_get_family(a) == family && rtnl_addr_get_ifindex(a) == ifindex &&
		    rtnl_addr_get_scope(a) < RT_SCOPE_LINK) {
			*has = true;
			break;
		}
	}
	nl_cache_free(cache);
	return 0;
}

static int addr_del_in_ns(void *arg)
{
	struct addr_req *req = arg;
	int family = req->vip->family;
	struct nl_sock *sk = NULL;
	struct rtnl_addr *a = NULL;
	bool has, found;
	int err;

	err = nl_open(&sk);
	if (err < 0)
		return err;
	err = addr_template(req, &a);
	if (err < 0)
		goto out;
	err = nlerr(rtnl_addr_delete(sk, a, 0));
	if (err == -EADDRNOTAVAIL || err == -ENOENT)
		err = 0;
	if (err < 0)
		goto out;
	err = family_has_addr(sk, family, req->ifindex, &has);
	/* IPv4 flushes a device's routes with its last address itself; IPv6 does not. */
	if (err == 0 && !has)
		err = default_scan(sk, family, req->ifindex, true, &found);
out:
	if (a)
		rtnl_addr_put(a);
	nl_socket_free(sk);
	return err;
}

int tun_addr_del(int netns_fd, int ifindex, const struct vip *vip)
{
	struct addr_req req = { .ifindex = ifindex, .vip = vip };
	int err = vip_check(ifindex, vip);

	return err < 0 ? err : netns_run(netns_fd, addr_del_in_ns, &req);
}
