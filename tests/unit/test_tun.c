/* netns.c and tun.c against the real kernel. main() moves the process into a private
 * network namespace first, so every device, address and route made here vanishes with
 * the process and the root namespace is never touched. Needs root; skips otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <cmocka.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet6.h>

#include "tunvnet/netns.h"
#include "tunvnet/tun.h"

#define MTU 1400

static bool ready;       /* root, and inside our own network namespace */
static int home = -1;    /* that namespace */
static int cur_fd = -1;  /* the TUN a test holds, for teardown after a failed assertion */

#define NEED_NS()                                                               \
	do {                                                                    \
		if (!ready)                                                     \
			skip();                                                 \
	} while (0)

static struct vip mkvip(const char *s)
{
	struct vip v;

	memset(&v, 0, sizeof(v));
	if (strchr(s, ':')) {
		v.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, s, v.a), 1);
	} else {
		v.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, s, v.a), 1);
	}
	return v;
}

static int self_ns(struct netns_id *id)
{
	int fd = netns_open("/proc/thread-self/ns/net", id);

	assert_true(fd >= 0);
	return fd;
}

/* --- looking at the current namespace --- */

static bool link_flags(const char *ifname, short *flags, int *mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	assert_true(s >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
	if (ok)
		*flags = ifr.ifr_flags;
	if (ok && mtu) {
		ok = ioctl(s, SIOCGIFMTU, &ifr) == 0;
		*mtu = ifr.ifr_mtu;
	}
	close(s);
	return ok;
}

/* Number of addresses of family on ifname; with want, only those equal to it. */
static int count_addrs(const char *ifname, int family, const struct vip *want)
{
	struct ifaddrs *ifa, *p;
	int n = 0;

	assert_int_equal(getifaddrs(&ifa), 0);
	for (p = ifa; p; p = p->ifa_next) {
		const void *bytes;

		if (!p->ifa_addr || p->ifa_addr->sa_family != family ||
		    strcmp(p->ifa_name, ifname) != 0)
			continue;
		if (family == AF_INET)
			bytes = &((struct sockaddr_in *)p->ifa_addr)->sin_addr;
		else
			bytes = &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr;
		if (!want || memcmp(bytes, want->a, family == AF_INET ? 4 : 16) == 0)
			n++;
	}
	freeifaddrs(ifa);
	return n;
}

/* Flags of an IPv6 address as /proc/net/if_inet6 shows them, or -1 if it is not there. */
static int inet6_flags(const struct vip *v)
{
	char hex[33], line[256], addr[64], dev[IFNAMSIZ];
	unsigned int idx, plen, scope, flags;
	FILE *f = fopen("/proc/net/if_inet6", "r");
	int ret = -1;

	assert_non_null(f);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", v->a[i]);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %x %x %x %x %15s", addr, &idx, &plen, &scope, &flags,
			   dev) == 6 && strcmp(addr, hex) == 0)
			ret = (int)flags;
	}
	fclose(f);
	return ret;
}

/* Default routes of the main table via ifname, from /proc (IPv4: the main table only). */
static int default_routes(int family, const char *ifname)
{
	char line[512], a[64], b[64], c[64], d[64], e[64], g[64], h[64], dev[64];
	unsigned int flags, plen;
	int n = 0;
	FILE *f;

	if (family == AF_INET) {
		f = fopen("/proc/net/route", "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			char dst[64], gw[64], mask[64];
			unsigned int ref, use, metric;

			if (sscanf(line, "%63s %63s %63s %x %u %u %u %63s", dev, dst, gw, &flags,
				   &ref, &use, &metric, mask) == 8 &&
			    strcmp(dev, ifname) == 0 && strcmp(dst, "00000000") == 0 &&
			    strcmp(mask, "00000000") == 0)
				n++;
		}
	} else {
		f = fopen("/proc/net/ipv6_route", "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%63s %x %63s %63s %63s %63s %63s %63s %x %63s", a, &plen,
				   b, c, d, e, g, h, &flags, dev) == 10 &&
			    strcmp(dev, ifname) == 0 && plen == 0 &&
			    strspn(a, "0") == 32)
				n++;
		}
	}
	fclose(f);
	return n;
}

/* --- packets --- */

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t k = 0; k + 1 < len; k += 2)
		sum += (uint32_t)(p[k] << 8 | p[k + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A UDP datagram from src:sport to dst:dport as a raw IP packet; returns its length. */
static size_t build_udp(uint8_t *pkt, const struct vip *src, uint16_t sport,
			const struct vip *dst, uint16_t dport, const char *payload)
{
	size_t plen = strlen(payload), ulen = 8 + plen, alen = src->family == AF_INET ? 4 : 16;
	size_t hl = src->family == AF_INET ? 20 : 40;
	uint8_t *udp = pkt + hl, pseudo[4];
	uint32_t sum;

	memset(pkt, 0, hl + ulen);
	if (src->family == AF_INET) {
		pkt[0] = 0x45;
		put16(pkt + 2, (uint16_t)(hl + ulen));
		pkt[8] = 64;
		pkt[9] = IPPROTO_UDP;
		memcpy(pkt + 12, src->a, 4);
		memcpy(pkt + 16, dst->a, 4);
		put16(pkt + 10, csum_fold(csum_add(0, pkt, 20)));
	} else {
		pkt[0] = 0x60;
		put16(pkt + 4, (uint16_t)ulen);
		pkt[6] = IPPROTO_UDP;
		pkt[7] = 64;
		memcpy(pkt + 8, src->a, 16);
		memcpy(pkt + 24, dst->a, 16);
	}
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)ulen);
	memcpy(udp + 8, payload, plen);
	sum = csum_add(0, src->a, alen);
	sum = csum_add(sum, dst->a, alen);
	pseudo[0] = 0;
	pseudo[1] = IPPROTO_UDP;
	put16(pseudo + 2, (uint16_t)ulen);
	sum = csum_add(sum, pseudo, 4);
	sum = csum_add(sum, udp, ulen);
	put16(udp + 6, csum_fold(sum) ? csum_fold(sum) : 0xffff);
	return hl + ulen;
}

/* Reads packets from the TUN until a UDP one to dst:dport shows up (the kernel may send
 * others, such as MLD reports); checks its source and payload. */
static void expect_udp_from_tun(int fd, const struct vip *src, const struct vip *dst,
				uint16_t dport, const char *payload)
{
	bool v4 = src->family == AF_INET;
	size_t hl = v4 ? 20 : 40, alen = v4 ? 4 : 16;
	uint8_t pkt[2048];

	for (int tries = 0; tries < 20; tries++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, 10000), 1);
		n = read(fd, pkt, sizeof(pkt));
		assert_true(n > 0);
		if ((pkt[0] >> 4) != (v4 ? 4 : 6) || (size_t)n < hl + 8)
			continue;
		if (pkt[v4 ? 9 : 6] != IPPROTO_UDP ||
		    memcmp(pkt + (v4 ? 16 : 24), dst->a, alen) != 0 ||
		    get16(pkt + hl + 2) != dport)
			continue;
		if (v4)
			assert_int_equal(pkt[0], 0x45);
		assert_memory_equal(pkt + (v4 ? 12 : 8), src->a, alen);
		assert_int_equal((size_t)n, hl + 8 + strlen(payload));
		assert_memory_equal(pkt + hl + 8, payload, strlen(payload));
		return;
	}
	fail_msg("no UDP packet to the expected destination came out of the TUN");
}

static void sockaddr_of(const struct vip *v, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (v->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, v->a, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, v->a, 16);
		*len = sizeof(*sin6);
	}
}

/* The kernel installs an address's local route from a work item after adding the address
 * (IPv6 even with NODAD): until then a packet to it is dropped (Ip6InAddrErrors), which a
 * loaded machine showed. Waits for that route, up to 10 s. */
static void wait_local_route(const struct vip *v)
{
	char cmd[96], addr[INET6_ADDRSTRLEN], line[256];

	assert_non_null(inet_ntop(v->family, v->a, addr, sizeof(addr)));
	snprintf(cmd, sizeof(cmd), "ip route get %s 2>/dev/null", addr);
	for (int i = 0; i < 1000; i++) {
		FILE *f = popen(cmd, "r");
		bool local = f && fgets(line, sizeof(line), f) && strncmp(line, "local ", 6) == 0;

		if (f)
			pclose(f);
		if (local)
			return;
		usleep(10000);
	}
	fail_msg("no local route for %s after 10 s", addr);
}

/* The kernel routes to `far` out of the TUN with the VIP as source, both ways. */
static void check_data_path(int fd, const struct vip *vip, const struct vip *far)
{
	struct sockaddr_storage ss, got;
	socklen_t len, glen = sizeof(got);
	uint8_t pkt[256], buf[64];
	uint16_t port;
	size_t n;
	int s;

	s = socket(vip->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	sockaddr_of(far, 9, &ss, &len);
	assert_int_equal(connect(s, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&got, &glen), 0);
	if (vip->family == AF_INET) {
		assert_memory_equal(&((struct sockaddr_in *)&got)->sin_addr, vip->a, 4);
		port = ntohs(((struct sockaddr_in *)&got)->sin_port);
	} else {
		assert_memory_equal(&((struct sockaddr_in6 *)&got)->sin6_addr, vip->a, 16);
		port = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
	}
	assert_int_equal(send(s, "ping", 4, 0), 4);
	expect_udp_from_tun(fd, vip, far, 9, "ping");
	wait_local_route(vip);

	/* And back: from far:9 to the socket's port. The socket is connected to far:9, so
	 * this also shows the source came through intact. */
	n = build_udp(pkt, far, 9, vip, port, "pong!");
	assert_int_equal(write(fd, pkt, n), (ssize_t)n);
	{
		struct pollfd pfd = { .fd = s, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 10000), 1);
	}
	assert_int_equal(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 5);
	assert_memory_equal(buf, "pong!", 5);
	close(s);
}

/* --- tests --- */

static void test_netns_open_self(void **state)
{
	struct netns_id a, b;
	struct stat st;
	int fa, fb;

	NEED_NS();
	fa = netns_open("/proc/self/ns/net", &a);
	assert_true(fa >= 0);
	fb = netns_open("/proc/self/ns/net", &b);
	assert_true(fb >= 0);
	assert_int_not_equal(fa, fb);
	assert_true(a.dev == b.dev && a.ino == b.ino);
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_true(a.dev == st.st_dev && a.ino == st.st_ino);
	assert_true(fcntl(fa, F_GETFD) & FD_CLOEXEC);
	/* Another namespace type of the same process is not the same thing. */
	assert_int_equal(stat("/proc/self/ns/uts", &st), 0);
	assert_false(a.ino == st.st_ino);
	close(fa);
	close(fb);
}

static void test_netns_open_errors(void **state)
{
	char path[] = "/tmp/test_tun_XXXXXX";
	struct netns_id id;
	int fd;

	NEED_NS();
	assert_int_equal(netns_open("no-such-ns-xyz", &id), -ENOENT);
	assert_int_equal(netns_open("/no/such/path", &id), -ENOENT);
	assert_int_equal(netns_open("", &id), -EINVAL);
	assert_int_equal(netns_open("..", &id), -EINVAL);
	assert_int_equal(netns_open("a..b", &id), -EINVAL);
	assert_int_equal(netns_open("/proc/self/ns/uts", &id), -EINVAL);
	assert_int_equal(netns_open("/", &id), -EINVAL);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(netns_open(path, &id), -EINVAL);
	unlink(path);
	/* a FIFO (no writer): refused at once, not a hang in open() (issue 11) */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(netns_open(path, &id), -EINVAL);
	unlink(path);
}

/* What a peer's MIGRATE may name: a namespace the machine's operator named. */
static void test_netns_is_named(void **state)
{
	assert_true(netns_is_named("job1"));
	assert_true(netns_is_named("/run/netns/job1"));
	assert_false(netns_is_named("/proc/1/ns/net"));
	assert_false(netns_is_named("/run/netns/../netns/job1"));
	assert_false(netns_is_named("/run/netns/a/b"));
	assert_false(netns_is_named("/run/netns/"));
	assert_false(netns_is_named("/tmp/fifo"));
	assert_false(netns_is_named(".."));
	assert_false(netns_is_named(""));
	assert_false(netns_is_named(NULL));
}

static void test_tun_create(void **state)
{
	int ns, fd, ifindex = 0, mtu = 0, fl;
	struct nl_sock *sk;
	struct rtnl_link *link;
	uint8_t mode = 0xff;
	short flags = 0;

	NEED_NS();
	ns = self_ns(NULL);
	assert_int_equal(tun_create(ns, "", MTU, &ifindex), -EINVAL);
	assert_int_equal(tun_create(ns, "name-far-too-long-for-ifnamsiz", MTU, &ifindex),
			 -EINVAL);
	fd = cur_fd = tun_create(ns, TUN_IFNAME, MTU, &ifindex);
	assert_true(fd >= 0);
	assert_int_equal(ifindex, (int)if_nametoindex(TUN_IFNAME));
	fl = fcntl(fd, F_GETFL);
	assert_true(fl & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	assert_true(link_flags(TUN_IFNAME, &flags, &mtu));
	assert_true(flags & IFF_UP);
	assert_int_equal(mtu, MTU);
	assert_true(link_flags("lo", &flags, NULL));
	assert_true(flags & IFF_UP);
	/* Up and with carrier, yet no fe80:: address: generation is off. */
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, NULL), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, NULL), 0);
	sk = nl_socket_alloc();
	assert_non_null(sk);
	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	assert_int_equal(rtnl_link_get_kernel(sk, ifindex, NULL, &link), 0);
	assert_int_equal(rtnl_link_inet6_get_addr_gen_mode(link, &mode), 0);
	assert_int_equal(mode, IN6_ADDR_GEN_MODE_NONE);
	rtnl_link_put(link);
	nl_socket_free(sk);
	/* lo works as a job expects. */
	assert_int_equal(count_addrs("lo", AF_INET, NULL), 1);

	cur_fd = -1;
	tun_destroy(fd);
	assert_int_equal(if_nametoindex(TUN_IFNAME), 0);
	close(ns);
}

static void test_addr_and_routes(void **state)
{
	struct vip v4 = mkvip("198.19.1.10"), v6 = mkvip("fd00:19::10");
	struct vip v6b = mkvip("fd00:19::11"), other = mkvip("198.19.1.11");
	struct vip bad = v4;
	int ns, fd, ifindex;

	NEED_NS();
	ns = self_ns(NULL);
	fd = cur_fd = tun_create(ns, TUN_IFNAME, MTU, &ifindex);
	assert_true(fd >= 0);
	bad.family = AF_UNIX;
	assert_int_equal(tun_addr_add(ns, ifindex, &bad), -EAFNOSUPPORT);
	assert_int_equal(tun_addr_add(ns, 0, &v4), -EINVAL);

	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 0);
	assert_int_equal(default_routes(AF_INET6, TUN_IFNAME), 0);
	assert_int_equal(tun_addr_add(ns, ifindex, &v4), 0);
	assert_int_equal(tun_addr_add(ns, ifindex, &v6), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, &v4), 1);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, &v6), 1);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, NULL), 1);
	assert_true(inet6_flags(&v6) >= 0);
	assert_true(inet6_flags(&v6) & IFA_F_NODAD);
	assert_false(inet6_flags(&v6) & IFA_F_TENTATIVE);
	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 1);
	assert_int_equal(default_routes(AF_INET6, TUN_IFNAME), 1);

	/* Twice is fine and changes nothing. */
	assert_int_equal(tun_addr_add(ns, ifindex, &v4), 0);
	assert_int_equal(tun_addr_add(ns, ifindex, &v6), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, NULL), 1);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, NULL), 1);
	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 1);
	assert_int_equal(default_routes(AF_INET6, TUN_IFNAME), 1);

	{
		struct vip far4 = mkvip("198.19.9.9"), far6 = mkvip("fd00:19::9");

		check_data_path(fd, &v4, &far4);
		check_data_path(fd, &v6, &far6);
	}

	/* Removing an address that is not there is fine. */
	assert_int_equal(tun_addr_del(ns, ifindex, &other), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, &v4), 1);
	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 1);

	/* The v6 route stays while a v6 address is left, and goes with the last one. */
	assert_int_equal(tun_addr_add(ns, ifindex, &v6b), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, NULL), 2);
	assert_int_equal(default_routes(AF_INET6, TUN_IFNAME), 1);
	assert_int_equal(tun_addr_del(ns, ifindex, &v6), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, &v6), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, &v6b), 1);
	assert_int_equal(default_routes(AF_INET6, TUN_IFNAME), 1);
	assert_int_equal(tun_addr_del(ns, ifindex, &v6b), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET6, NULL), 0);
	assert_int_equal(default_routes(AF_INET6, TUN_IFNAME), 0);
	/* The v4 side is untouched by all that. */
	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 1);
	assert_int_equal(tun_addr_del(ns, ifindex, &v4), 0);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, NULL), 0);
	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 0);
	assert_int_equal(tun_addr_del(ns, ifindex, &v4), 0);

	cur_fd = -1;
	tun_destroy(fd);
	assert_int_equal(if_nametoindex(TUN_IFNAME), 0);
	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 0);
	close(ns);
}

static void test_readopt_persistent(void **state)
{
	struct vip v4 = mkvip("198.19.1.20");
	int ns, fd, ifindex, ifindex2;
	short flags;

	NEED_NS();
	ns = self_ns(NULL);
	fd = cur_fd = tun_create(ns, TUN_IFNAME, MTU, &ifindex);
	assert_true(fd >= 0);
	assert_int_equal(tun_addr_add(ns, ifindex, &v4), 0);
	/* A daemon that dies (or restarts) closes the fd without destroying. */
	cur_fd = -1;
	close(fd);
	assert_int_equal(if_nametoindex(TUN_IFNAME), (unsigned int)ifindex);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, &v4), 1);

	fd = cur_fd = tun_create(ns, TUN_IFNAME, MTU, &ifindex2);
	assert_true(fd >= 0);
	assert_int_equal(ifindex2, ifindex);
	assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, &v4), 1);
	assert_true(link_flags(TUN_IFNAME, &flags, NULL));
	assert_true(flags & IFF_UP);
	assert_int_equal(tun_addr_add(ns, ifindex2, &v4), 0);
	assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 1);
	{
		struct vip far = mkvip("198.19.9.9");

		check_data_path(fd, &v4, &far);
	}
	/* Multi-queue: a second create while attached attaches a second queue of the same
	 * device (how `vnetctl migrate` hands a job over, make-before-break); closing it
	 * leaves the device and the first queue alone. */
	{
		struct vip far = mkvip("198.19.9.9");
		int fd2 = tun_create(ns, TUN_IFNAME, MTU, &ifindex2);

		assert_true(fd2 >= 0);
		assert_int_equal(ifindex2, ifindex);
		close(fd2);
		assert_int_equal(if_nametoindex(TUN_IFNAME), (unsigned int)ifindex);
		check_data_path(fd, &v4, &far); /* the first queue still carries traffic */
	}

	cur_fd = -1;
	tun_destroy(fd);
	assert_int_equal(if_nametoindex(TUN_IFNAME), 0);
	close(ns);
}

static int ret42(void *arg)
{
	*(int *)arg += 1;
	return 42;
}

static int ifindex_here(void *arg)
{
	unsigned int idx = if_nametoindex(arg);

	return idx ? (int)idx : -ENODEV;
}

static void test_netns_run_other(void **state)
{
	struct netns_id ida, idb, now;
	int a, b, fd, ifindex, calls = 0, here;
	char path[] = "/tmp/test_tun_XXXXXX";

	NEED_NS();
	a = self_ns(&ida);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	b = self_ns(&idb);
	assert_false(ida.ino == idb.ino && ida.dev == idb.dev);

	assert_int_equal(netns_run(a, ret42, &calls), 42);
	assert_int_equal(calls, 1);
	close(self_ns(&now));
	assert_true(now.dev == idb.dev && now.ino == idb.ino);

	/* A file that is not a namespace: refused, fn not run, still in B. */
	here = mkstemp(path);
	assert_true(here >= 0);
	unlink(path);
	assert_true(netns_run(here, ret42, &calls) < 0);
	assert_int_equal(calls, 1);
	close(here);
	close(self_ns(&now));
	assert_true(now.dev == idb.dev && now.ino == idb.ino);

	/* A TUN made in A from B lives in A only. */
	fd = cur_fd = tun_create(a, TUN_IFNAME, MTU, &ifindex);
	assert_true(fd >= 0);
	assert_int_equal(if_nametoindex(TUN_IFNAME), 0);
	assert_int_equal(netns_run(a, ifindex_here, (void *)TUN_IFNAME), ifindex);
	assert_int_equal(netns_run(b, ifindex_here, (void *)TUN_IFNAME), -ENODEV);
	{
		struct vip v4 = mkvip("198.19.1.30");

		assert_int_equal(tun_addr_add(a, ifindex, &v4), 0);
		assert_int_equal(count_addrs(TUN_IFNAME, AF_INET, NULL), 0);
		assert_int_equal(default_routes(AF_INET, TUN_IFNAME), 0);
	}
	close(self_ns(&now));
	assert_true(now.dev == idb.dev && now.ino == idb.ino);
	cur_fd = -1;
	tun_destroy(fd);
	assert_int_equal(netns_run(a, ifindex_here, (void *)TUN_IFNAME), -ENODEV);

	/* Back to A (home), so that the tests after this one see the namespace they expect. */
	assert_int_equal(setns(a, CLONE_NEWNET), 0);
	close(a);
	close(b);
}

/* After a failed assertion: give the next test a clean namespace. A TUN left persistent
 * without its fd goes too, by re-adopting and destroying it. */
static int teardown(void **state)
{
	int ifindex, fd;

	if (!ready)
		return 0;
	if (cur_fd >= 0)
		tun_destroy(cur_fd);
	cur_fd = -1;
	if (setns(home, CLONE_NEWNET) < 0)
		return -1;
	if (if_nametoindex(TUN_IFNAME)) {
		fd = tun_create(home, TUN_IFNAME, MTU, &ifindex);
		if (fd >= 0)
			tun_destroy(fd);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_netns_open_self, teardown),
		cmocka_unit_test_teardown(test_netns_open_errors, teardown),
		cmocka_unit_test(test_netns_is_named),
		cmocka_unit_test_teardown(test_tun_create, teardown),
		cmocka_unit_test_teardown(test_addr_and_routes, teardown),
		cmocka_unit_test_teardown(test_readopt_persistent, teardown),
		cmocka_unit_test_teardown(test_netns_run_other, teardown),
	};

	/* Before anything else: all that follows lives and dies in a namespace of ours. */
	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0) {
		home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		ready = home >= 0;
	}
	else
		fprintf(stderr, "test_tun: not root or no unshare(CLONE_NEWNET): skipping\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
