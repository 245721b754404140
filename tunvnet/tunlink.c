/* A job's TUN as the kernel sees it (see tunlink.h). Each call opens a short-lived
 * rtnetlink socket inside the job's namespace (netns_run), as tun.c does. libnl has no
 * parser for the tun link kind, so the link is asked for with a raw RTM_GETLINK and its
 * IFLA_LINKINFO / IFLA_INFO_DATA / IFLA_TUN_NUM_QUEUES read with libnl's attribute
 * parser; addresses and routes come from libnl's caches. */
#include "tunvnet/tunlink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "tunvnet/netns.h"

static int sk_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return -ENOMEM;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return -EIO;
	}
	*out = sk;
	return 0;
}

/* --- the link ------------------------------------------------------------------------- */

struct probe_req {
	const char *ifname;
	struct tunlink_info *info;
};

static void parse_tun(struct nlattr *linkinfo, struct tunlink_info *info)
{
	struct nlattr *li[IFLA_INFO_MAX + 1], *td[IFLA_TUN_MAX + 1];

	if (nla_parse_nested(li, IFLA_INFO_MAX, linkinfo, NULL) < 0 || !li[IFLA_INFO_KIND])
		return;
	if (nla_len(li[IFLA_INFO_KIND]) < 3 ||
	    strncmp(nla_data(li[IFLA_INFO_KIND]), "tun", 3) != 0)
		return;
	info->is_tun = true;
	if (li[IFLA_INFO_DATA] &&
	    nla_parse_nested(td, IFLA_TUN_MAX, li[IFLA_INFO_DATA], NULL) == 0 &&
	    td[IFLA_TUN_NUM_QUEUES] && nla_len(td[IFLA_TUN_NUM_QUEUES]) >= 4)
		info->queues = nla_get_u32(td[IFLA_TUN_NUM_QUEUES]);
}

static int on_link(struct nl_msg *msg, void *arg)
{
	struct tunlink_info *info = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct nlattr *tb[IFLA_MAX + 1];
	struct ifinfomsg *ifi;

	if (h->nlmsg_type != RTM_NEWLINK || nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return NL_SKIP;
	ifi = nlmsg_data(h);
	info->exists = true;
	info->ifindex = ifi->ifi_index;
	if (tb[IFLA_IFALIAS])
		nla_strlcpy(info->alias, tb[IFLA_IFALIAS], sizeof(info->alias));
	if (tb[IFLA_LINKINFO])
		parse_tun(tb[IFLA_LINKINFO], info);
	return NL_OK;
}

static int probe_in_ns(void *arg)
{
	struct probe_req *req = arg;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_sock *sk;
	struct nl_msg *msg;
	int err;

	err = sk_open(&sk);
	if (err < 0)
		return err;
	nl_socket_disable_auto_ack(sk);
	msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
	if (!msg) {
		nl_socket_free(sk);
		return -ENOMEM;
	}
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, IFLA_IFNAME, req->ifname) < 0) {
		err = -EMSGSIZE;
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_link, req->info);
	err = nl_send_auto(sk, msg);
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	/* No such device answers with an error; that is "not there", not a failure. */
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		err = 0;
	err = err < 0 ? -EIO : 0;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return err;
}

int tunlink_probe(int netns_fd, const char *ifname, struct tunlink_info *info)
{
	struct probe_req req = { ifname, info };

	memset(info, 0, sizeof(*info));
	return netns_run(netns_fd, probe_in_ns, &req);
}

int tunlink_served_by(const char *spec, const char *ifname, char *by, size_t size)
{
	struct tunlink_info info;
	struct netns_id id;
	const char *node;
	int fd, err;

	fd = netns_open(spec, &id);
	if (fd < 0)
		return fd;
	err = tunlink_probe(fd, ifname, &info);
	close(fd);
	if (err < 0)
		return err;
	if (!info.exists || !info.is_tun || info.queues == 0)
		return 0;
	node = tunlink_mark_node(&info);
	snprintf(by, size, "%s", node ? node : "another process");
	return 1;
}

const char *tunlink_mark_node(const struct tunlink_info *info)
{
	size_t n = strlen(TUNLINK_MARK_PREFIX);

	if (strncmp(info->alias, TUNLINK_MARK_PREFIX, n) != 0 || !info->alias[n])
		return NULL;
	return info->alias + n;
}

struct mark_req {
	int ifindex;
	const char *node;
};

static int mark_in_ns(void *arg)
{
	struct mark_req *req = arg;
	struct rtnl_link *orig = NULL, *changes = NULL;
	char alias[TUNLINK_ALIAS_MAX];
	struct nl_sock *sk;
	int err;

	err = sk_open(&sk);
	if (err < 0)
		return err;
	snprintf(alias, sizeof(alias), TUNLINK_MARK_PREFIX "%s", req->node);
	if (rtnl_link_get_kernel(sk, req->ifindex, NULL, &orig) < 0) {
		err = -ENODEV;
		goto out;
	}
	changes = rtnl_link_alloc();
	if (!changes) {
		err = -ENOMEM;
		goto out;
	}
	rtnl_link_set_ifalias(changes, alias);
	err = rtnl_link_change(sk, orig, changes, 0) < 0 ? -EIO : 0;
out:
	if (changes)
		rtnl_link_put(changes);
	if (orig)
		rtnl_link_put(orig);
	nl_socket_free(sk);
	return err;
}

int tunlink_mark(int netns_fd, int ifindex, const char *node)
{
	struct mark_req req = { ifindex, node };

	return netns_run(netns_fd, mark_in_ns, &req);
}

/* --- addresses and default routes ------------------------------------------------------ */

struct addrs_req {
	int ifindex;
	const struct vip *vips;
	int nvips;
	struct tunlink_addrs *out;
};

static bool addr_is(struct rtnl_addr *a, const struct vip *v)
{
	struct nl_addr *local = rtnl_addr_get_local(a);

	return local && nl_addr_get_family(local) == v->family &&
	       nl_addr_get_len(local) == vip_len(v) &&
	       memcmp(nl_addr_get_binary_addr(local), v->a, vip_len(v)) == 0;
}

/* A default route of family in the main table through ifindex alone (tun.c adds it). */
static bool is_default_via(struct rtnl_route *r, int family, int ifindex)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);
	struct rtnl_nexthop *nh;

	if ((int)rtnl_route_get_family(r) != family || rtnl_route_get_table(r) != RT_TABLE_MAIN)
		return false;
	if (dst && nl_addr_get_prefixlen(dst) != 0)
		return false;
	if (rtnl_route_get_nnexthops(r) != 1)
		return false;
	nh = rtnl_route_nexthop_n(r, 0);
	return nh && rtnl_route_nh_get_ifindex(nh) == ifindex;
}

static int check_in_ns(void *arg)
{
	struct addrs_req *req = arg;
	struct nl_cache *addrs = NULL, *routes = NULL;
	bool has4 = false, has6 = false, def4 = false, def6 = false;
	struct nl_object *o;
	struct nl_sock *sk;
	int err;

	err = sk_open(&sk);
	if (err < 0)
		return err;
	if (rtnl_addr_alloc_cache(sk, &addrs) < 0 ||
	    rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes) < 0) {
		err = -EIO;
		goto out;
	}
	for (int i = 0; i < req->nvips; i++) {
		bool found = false;

		for (o = nl_cache_get_first(addrs); o && !found; o = nl_cache_get_next(o)) {
			struct rtnl_addr *a = (struct rtnl_addr *)o;

			found = rtnl_addr_get_ifindex(a) == req->ifindex &&
				addr_is(a, &req->vips[i]);
		}
		req->out->missing[i] = !found;
		if (req->vips[i].family == AF_INET)
			has4 = true;
		else
			has6 = true;
	}
	for (o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		def4 = def4 || is_default_via((struct rtnl_route *)o, AF_INET, req->ifindex);
		def6 = def6 || is_default_via((struct rtnl_route *)o, AF_INET6, req->ifindex);
	}
	req->out->no_default4 = has4 && !def4;
	req->out->no_default6 = has6 && !def6;
out:
	if (addrs)
		nl_cache_free(addrs);
	if (routes)
		nl_cache_free(routes);
	nl_socket_free(sk);
	return err;
}

int tunlink_check_addrs(int netns_fd, int ifindex, const struct vip *vips, int nvips,
			struct tunlink_addrs *out)
{
	struct addrs_req req = { ifindex, vips, nvips, out };

	memset(out, 0, sizeof(*out));
	if (nvips < 0 || (size_t)nvips > sizeof(out->missing) / sizeof(out->missing[0]))
		return -EINVAL;
	return netns_run(netns_fd, check_in_ns, &req);
}
