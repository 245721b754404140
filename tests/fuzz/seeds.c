/* The seed corpora of the fuzz harnesses, written by the real encoders where there are
 * some: `make fuzz-seeds` (tests/fuzz/seeds DIR) writes DIR/TARGET/NAME for every
 * harness. A few valid inputs each, so that the fuzzers start past the first length
 * checks; they find the invalid ones themselves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include "tests/fuzz/msg_targets.h"
#include "tunnel/frame.h"
#include "tunnel/udpwire.h"
#include "tunnel/verbs.h"
#include "tunvnet/addr.h"
#include "tunvnet/capmsg.h"
#include "tunvnet/ctlmsg.h"
#include "tunvnet/msg.h"
#include "tunvnet/packet.h"
#include "tunvnet/statefile.h"
#include "tunvnet/vnet.h"

static const char *root;
static uint8_t buf[FRAME_MAX_PAYLOAD + 64];

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) == EOF) {
		perror(path);
		exit(1);
	}
}

static void must(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "seeds: %s: %s\n", what, strerror(-r));
		exit(1);
	}
}

/* ---- frame headers ---- */

static void frames(void)
{
	static const struct {
		uint8_t type;
		uint16_t flags;
		uint32_t len;
	} f[] = {
		{ FRAME_HELLO, 0, 71 },
		{ FRAME_ROUTES, FRAME_F_FULL_TABLE | FRAME_F_ACK_REQ, 4000 },
		{ FRAME_DATA, FRAME_F_VNET_HDR, 65546 },
		{ FRAME_PING, 0, 8 },
		{ FRAME_MIGRATE_DONE, 0, FRAME_MAX_PAYLOAD },
	};
	uint8_t h[FRAME_HDR_LEN];
	char name[32];

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		frame_hdr_encode(h, f[i].type, f[i].flags, f[i].len);
		snprintf(name, sizeof(name), "%s", frame_type_name(f[i].type));
		put("frame", name, h, sizeof(h));
	}
}

/* ---- UDP datagrams: each behind a 2-byte length, as fuzz_udp.c reads them ---- */

static size_t dgram(uint8_t *out, uint8_t type, uint32_t len, uint32_t fn, uint32_t off,
		    size_t piece)
{
	size_t n = UDPW_HDR_LEN + piece;

	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	udpw_hdr_encode(out + 2, type, 0, len, fn, off);
	memset(out + 2 + UDPW_HDR_LEN, 0xab, piece);
	return n + 2;
}

static void udp(void)
{
	size_t n = 0;

	n = dgram(buf, FRAME_PING, 18, 0, 0, 18);
	put("udp", "one-piece", buf, n);
	n = 0;
	for (uint32_t off = 0; off < 4000; off += 1456)
		n += dgram(buf + n, FRAME_DATA, 4000, 1, off, 4000 - off < 1456 ? 4000 - off : 1456);
	put("udp", "three-pieces", buf, n);
	n = dgram(buf, FRAME_DATA, 4000, 2, 0, 1456);
	n += dgram(buf + n, FRAME_DATA, 4000, 3, 1456, 1456);
	put("udp", "gap", buf, n);
}

/* ---- peer message bodies: the harness's selector byte, then the body ---- */

static void msg_put(unsigned target, const char *name, int len)
{
	must(len, name);
	memmove(buf + 1, buf, (size_t)len);
	buf[0] = (uint8_t)target;
	put("msg", name, buf, (size_t)len + 1);
}

static struct sockaddr_storage sa(const char *s)
{
	struct sockaddr_storage a;

	if (addr_parse(s, 7000, &a) != 0) {
		fprintf(stderr, "seeds: bad address %s\n", s);
		exit(1);
	}
	return a;
}

static struct vip vp(const char *s)
{
	struct vip v;

	if (vip_parse(s, &v) != 0) {
		fprintf(stderr, "seeds: bad VIP %s\n", s);
		exit(1);
	}
	return v;
}

static void msgs(void)
{
	static struct msg_hello h;
	static struct msg_migrate m;
	static struct msg_migrate_done md;
	static struct msg_link_open lo;
	static struct msg_link_ok lk;
	struct msg_member mem[3];
	struct route_entry r[4];

	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "n1");
	h.flags = MSG_HELLO_SEALED;
	h.substrates = 1;
	h.listen = sa("198.18.0.1:7000");
	msg_put(MSG_TARGET_hello, "hello-v4", msg_hello_encode(&h, buf, sizeof(buf)));
	h.listen = sa("[fd00::1]:7001");
	msg_put(MSG_TARGET_hello, "hello-v6", msg_hello_encode(&h, buf, sizeof(buf)));
	memset(&h.listen, 0, sizeof(h.listen));
	msg_put(MSG_TARGET_hello, "hello-nolisten", msg_hello_encode(&h, buf, sizeof(buf)));

	memset(&lo, 0, sizeof(lo));
	snprintf(lo.name, sizeof(lo.name), "n2");
	lo.link = 1;
	lo.flags = MSG_HELLO_SEALED;
	memset(lo.mac, 0x3c, sizeof(lo.mac));
	msg_put(MSG_TARGET_link_open, "link-open", msg_link_open_encode(&lo, buf, sizeof(buf)));
	memset(&lk, 0, sizeof(lk));
	lk.link = 7;
	memset(lk.mac, 0xc3, sizeof(lk.mac));
	msg_put(MSG_TARGET_link_ok, "link-ok", msg_link_ok_encode(&lk, buf, sizeof(buf)));
	{
		static struct msg_substrate sm = { .substrate = 2, .link = 1, .len = 4,
						   .blob = "blob" };

		msg_put(MSG_TARGET_substrate, "substrate",
			msg_substrate_encode(&sm, buf, sizeof(buf)));
	}

	memset(&m, 0, sizeof(m));
	m.op = 42;
	snprintf(m.netns, sizeof(m.netns), "/var/run/netns/job1");
	m.vips[0] = vp("198.19.1.10");
	m.vips[1] = vp("fd00:19:1::10");
	m.nvips = 2;
	msg_put(MSG_TARGET_migrate, "migrate", msg_migrate_encode(&m, buf, sizeof(buf)));

	memset(&md, 0, sizeof(md));
	md.op = 42;
	md.status = 0;
	md.epoch = 7;
	msg_put(MSG_TARGET_migrate_done, "migrate_done-ok",
		msg_migrate_done_encode(&md, buf, sizeof(buf)));
	md.status = 8;
	snprintf(md.msg, sizeof(md.msg), "198.19.1.10 is already hosted by n2");
	msg_put(MSG_TARGET_migrate_done, "migrate_done-err",
		msg_migrate_done_encode(&md, buf, sizeof(buf)));

	memset(mem, 0, sizeof(mem));
	snprintf(mem[0].name, sizeof(mem[0].name), "n1");
	mem[0].addr = sa("198.18.0.1:7000");
	snprintf(mem[1].name, sizeof(mem[1].name), "n2.example_B-x");
	mem[1].addr = sa("[fd00::2]:7000");
	snprintf(mem[2].name, sizeof(mem[2].name), "n3");
	msg_put(MSG_TARGET_peers, "peers", msg_peers_encode(mem, 3, buf, sizeof(buf)));

	memset(r, 0, sizeof(r));
	r[0].vip = vp("198.19.1.10");
	r[0].epoch = 1;
	snprintf(r[0].node, sizeof(r[0].node), "n1");
	r[1].vip = vp("fd00:19:1::10");
	r[1].epoch = 3;
	snprintf(r[1].node, sizeof(r[1].node), "n1");
	r[2].vip = vp("198.19.2.10");
	r[2].epoch = 0xffffffffffULL;
	r[2].withdrawn = true;
	snprintf(r[2].node, sizeof(r[2].node), "n2");
	r[3].vip = vp("198.19.2.11");
	r[3].epoch = 2;
	snprintf(r[3].node, sizeof(r[3].node), "n2");
	msg_put(MSG_TARGET_routes, "routes", msg_routes_encode(r, 4, buf, sizeof(buf)));
	msg_put(MSG_TARGET_routes, "routes-empty", msg_routes_encode(r, 0, buf, sizeof(buf)));
}

/* ---- control requests ---- */

static void ctl(void)
{
	struct ctl_request q;
	char *line;

	memset(&q, 0, sizeof(q));
	q.cmd = CTL_CMD_ATTACH;
	snprintf(q.netns, sizeof(q.netns), "job1");
	q.has_vip = true;
	q.vip = vp("198.19.1.10");
	q.standby = true;
	line = ctlmsg_request_encode(&q);
	put("ctlmsg", "attach", line, strlen(line));
	free(line);

	memset(&q, 0, sizeof(q));
	q.cmd = CTL_CMD_CAPTURE;
	q.scope = CTL_SCOPE_VIP;
	q.has_vip = true;
	q.vip = vp("fd00:19:1::10");
	q.cluster = true;
	snprintf(q.filter, sizeof(q.filter), "tcp port 5201");
	q.count = 10;
	q.duration_ms = 5000;
	q.snaplen = 128;
	line = ctlmsg_request_encode(&q);
	put("ctlmsg", "capture", line, strlen(line));
	free(line);

	memset(&q, 0, sizeof(q));
	q.cmd = CTL_CMD_MIGRATE;
	q.has_vip = true;
	q.vip = vp("198.19.1.10");
	snprintf(q.to, sizeof(q.to), "n2");
	line = ctlmsg_request_encode(&q);
	put("ctlmsg", "migrate", line, strlen(line));
	free(line);

	memset(&q, 0, sizeof(q));
	q.cmd = CTL_CMD_EVENTS;
	q.follow = true;
	line = ctlmsg_request_encode(&q);
	put("ctlmsg", "events", line, strlen(line));
	free(line);

	line = ctlmsg_reply_err(CTL_ERR_VIP_IN_USE, "198.19.1.10 is already hosted by %s", "n1");
	put("ctlmsg", "reply-err", line, strlen(line));
	free(line);
}

/* ---- config files ---- */

static void configs(void)
{
	static const char full[] =
		"; a node with everything set\n"
		"[node]\n"
		"name = n1\n"
		"listen = 198.18.0.1:7000\n"
		"key_file = cluster.key\n"
		"state_dir = /var/lib/tunvnet\n"
		"control_socket = /run/tunvnet/tunvnetd.sock\n"
		"mtu = 9000\n"
		"forward_grace = 2000\n"
		"offload = off\n"
		"metrics_listen = [fd00::1]:9100\n"
		"\n"
		"[pool]\n"
		"ipv4 = 198.19.1.0/24\n"
		"ipv6 = fd00:19:1::/64\n"
		"\n"
		"[peers]\n"
		"seed = 198.18.0.2:7000\n"
		"seed = [fd00::3]\n"
		"\n"
		"[limits]\n"
		"metrics_connections = 32\n"
		"metrics_per_address = 4\n"
		"metrics_timeout = 5\n";
	static const char minimal[] = "[node]\nname=n1\nlisten=198.18.0.1\nkey_file=cluster.key\n"
				      "[pool]\nipv6=fd00:19::/48";
	static const char odd[] = "\xef\xbb\xbf[ node ] ; comment\r\n  name: n1 ; inline\r\n"
				  "listen = 198.18.0.1\r\nkey_file = cluster.key\r\n# x\r\n"
				  "[pool]\r\nipv4 = 198.19.0.0/16\r\n";

	char hdr[120];

	/* issue 11: a section header with a comment, 119 bytes, last and without a newline,
	 * filled getline's first buffer and was rewritten one byte past it */
	snprintf(hdr, sizeof(hdr), "[node] ; %0110d", 0);
	put("config", "section-comment-119", hdr, 119);
	put("config", "full", full, sizeof(full) - 1);
	put("config", "minimal", minimal, sizeof(minimal) - 1);
	put("config", "odd", odd, sizeof(odd) - 1);
}

/* ---- IP packets ---- */

static void be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An IPv4 or IPv6 packet of proto with payload bytes after a transport header (TCP 20 +
 * topt bytes of options, UDP 8, ICMP 8); IPv4 opts option bytes, IPv6 opts bytes of one
 * destination-options header. The transport checksum holds the pseudo-header sum, as
 * the kernel leaves it for NEEDS_CSUM. Returns the length. */
static size_t ip(uint8_t *b, bool v6, uint8_t proto, size_t opts, size_t topt, size_t payload)
{
	size_t hl = v6 ? 40 + opts : 20 + opts, th, total, i;
	uint32_t s;

	memset(b, 0, hl + 60 + payload);
	if (!v6) {
		b[0] = (uint8_t)(0x40 | hl / 4);
		be16(b + 4, 0x1234);
		be16(b + 6, 0x4000);
		b[8] = 64;
		b[9] = proto;
		memcpy(b + 12, "\xc6\x13\x01\x0a\xc6\x13\x02\x0a", 8);
		memset(b + 20, 1, opts);
	} else {
		b[0] = 0x60;
		b[6] = opts ? 60 : proto;
		b[7] = 64;
		memcpy(b + 8, "\xfd\0\0\x19\0\1\0\0\0\0\0\0\0\0\0\x10", 16);
		memcpy(b + 24, "\xfd\0\0\x19\0\2\0\0\0\0\0\0\0\0\0\x10", 16);
		if (opts) {
			b[40] = proto;
			b[41] = (uint8_t)(opts / 8 - 1);
			b[42] = 1;
			b[43] = (uint8_t)(opts - 4);
		}
	}
	th = proto == IPPROTO_TCP ? 20 + topt : 8;
	total = hl + th + payload;
	be16(b + hl, 40000);
	be16(b + hl + 2, 5201);
	if (proto == IPPROTO_TCP) {
		be16(b + hl + 4, 0x1111);
		b[hl + 12] = (uint8_t)(th / 4 << 4);
		b[hl + 13] = 0x18; /* ACK PSH */
		be16(b + hl + 14, 512);
		memset(b + hl + 20, 1, topt);
	} else if (proto == IPPROTO_UDP) {
		be16(b + hl + 4, (unsigned)(th + payload));
	} else {
		b[hl] = v6 ? 128 : 8; /* echo request */
		b[hl + 1] = 0;
	}
	for (i = 0; i < payload; i++)
		b[hl + th + i] = (uint8_t)(i * 7);
	if (!v6) {
		be16(b + 2, (unsigned)total);
		be16(b + 10, packet_csum_fold(packet_csum_add(0, b, hl)));
	} else {
		be16(b + 4, (unsigned)(total - 40));
	}
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		uint8_t ph[40] = { 0 };
		size_t l4 = total - hl;

		if (!v6) {
			memcpy(ph, b + 12, 8);
			ph[9] = proto;
			be16(ph + 10, (unsigned)l4);
		} else {
			memcpy(ph, b + 8, 32);
			be16(ph + 34, (unsigned)l4);
			ph[39] = proto;
		}
		s = packet_csum_add(0, ph, v6 ? 40 : 12);
		be16(b + hl + (proto == IPPROTO_TCP ? 16 : 6), (uint16_t)~packet_csum_fold(s));
	}
	return total;
}

static void packets(void)
{
	static uint8_t p[70000];

	put("packet", "tcp4", p, ip(p, false, IPPROTO_TCP, 0, 12, 100));
	put("packet", "udp4-options", p, ip(p, false, IPPROTO_UDP, 8, 0, 30));
	put("packet", "icmp4", p, ip(p, false, IPPROTO_ICMP, 0, 0, 56));
	put("packet", "tcp6", p, ip(p, true, IPPROTO_TCP, 0, 0, 200));
	put("packet", "udp6-dstopts", p, ip(p, true, IPPROTO_UDP, 16, 0, 20));
	put("packet", "icmp6", p, ip(p, true, IPPROTO_ICMPV6, 0, 0, 56));
}

/* ---- super-packets: mode byte 0, u16 mtu, vnet header, packet ---- */

static void vnet_one(const char *name, unsigned mtu, const struct vnet_hdr *h, size_t len,
		     const uint8_t *pkt)
{
	static uint8_t b[70000 + 16];

	b[0] = 0;
	be16(b + 1, mtu);
	vnet_hdr_put(b + 3, h);
	memcpy(b + 3 + VNET_HDR_LEN, pkt, len);
	put("vnet", name, b, 3 + VNET_HDR_LEN + len);
}

static void vnets(void)
{
	static uint8_t p[70000], b[70000];
	struct vnet_hdr h;
	size_t len, off;

	len = ip(p, false, IPPROTO_TCP, 0, 12, 4000);
	h = (struct vnet_hdr){ VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 52, 1448,
			       20, 16 };
	vnet_one("tso4", 1500, &h, len, p);
	/* issue 11: gso_size 1 made one packet per payload byte */
	h.gso_size = 1;
	vnet_one("tso4-gso1", 1500, &h, len, p);
	len = ip(p, true, IPPROTO_TCP, 8, 0, 3000);
	h = (struct vnet_hdr){ VIRTIO_NET_HDR_F_NEEDS_CSUM,
			       VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN, 68, 1000, 48,
			       16 };
	vnet_one("tso6-ecn", 1500, &h, len, p);
	len = ip(p, false, IPPROTO_UDP, 0, 0, 2000);
	h = (struct vnet_hdr){ VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4, 28, 500,
			       20, 6 };
	vnet_one("uso4", 1500, &h, len, p);
	len = ip(p, true, IPPROTO_UDP, 0, 0, 300);
	h = (struct vnet_hdr){ VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 40, 6 };
	vnet_one("csum6", 1500, &h, len, p);
	len = ip(p, false, IPPROTO_ICMP, 0, 0, 56);
	h = (struct vnet_hdr){ VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0 };
	vnet_one("plain4", 1500, &h, len, p);

	/* mode 1: datagrams of one flow for coalescing, each u16 length, header, bytes */
	b[0] = 1;
	off = 1;
	for (int i = 0; i < 3; i++) {
		len = ip(p, false, IPPROTO_UDP, 0, 0, i == 2 ? 40 : 100);
		h = (struct vnet_hdr){ VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 20, 6 };
		be16(b + off, (unsigned)len);
		vnet_hdr_put(b + off + 2, &h);
		memcpy(b + off + 2 + VNET_HDR_LEN, p, len);
		off += 2 + VNET_HDR_LEN + len;
	}
	put("vnet", "gro4", b, off);
}

/* ---- capture records ---- */

static void capmsgs(void)
{
	static const char end[] = "{\"packets\": 2, \"dropped\": 0, \"reason\": \"count\"}";
	static uint8_t p[2000];
	size_t len = ip(p, false, IPPROTO_TCP, 0, 0, 20), off = 0;
	int n;

	n = capmsg_packet_encode(buf, sizeof(buf), 1700000000123456ull, (uint32_t)len, 1, "n1",
				 p, len);
	must(n, "capmsg");
	off = (size_t)n;
	n = capmsg_packet_encode(buf + off, sizeof(buf) - off, 1700000000123999ull, 9000, 2,
				 "node-2.x_y", p, 40);
	must(n, "capmsg");
	off += (size_t)n;
	n = capmsg_text_encode(buf + off, sizeof(buf) - off, CAPMSG_END, end, sizeof(end) - 1);
	must(n, "capmsg");
	off += (size_t)n;
	put("capmsg", "stream", buf, off);
	put("capmsg", "one-packet", buf, (size_t)capmsg_packet_encode(buf, sizeof(buf), 1, 64, 0,
								    "n1", p, 64));
}

/* ---- route table operations (the format is in fuzz_route.c) ---- */

static void routes(void)
{
	uint8_t b[4096];
	size_t n = 0;

	/* announce 300 VIPs, walk, then withdraw and expire some */
	for (unsigned i = 0; i < 300; i++) {
		b[n++] = 0;
		be16(b + n, i);
		b[n + 2] = (uint8_t)(1 + i % 3);
		b[n + 3] = (uint8_t)(i % 6);
		b[n + 4] = 10;
		n += 5;
	}
	b[n++] = 3;
	for (unsigned i = 0; i < 300; i += 7) {
		b[n++] = 0;
		be16(b + n, i);
		b[n + 2] = 9;
		b[n + 3] = 0x80 | 2;
		b[n + 4] = (uint8_t)i;
		n += 5;
		b[n++] = 1;
		be16(b + n, i);
		n += 2;
	}
	b[n++] = 2;
	b[n++] = 150;
	b[n++] = 3;
	put("route", "grow-withdraw-expire", b, n);
}

/* verbs: selector byte 0 then a parameters blob, 1 then a message (one frame) */
static void verbs(void)
{
	struct verbs_params p = { .peer = { .qp = { .qpn = 0x1234, .psn = 0x42, .lid = 3,
						    .mtu = 4096 },
					    .recv_depth = 32, .msg_max = 66112 },
				  .emulated = true };
	int n;

	buf[0] = 0;
	n = verbs_params_encode(&p, buf + 1, sizeof(buf) - 1);
	must(n, "verbs_params_encode");
	put("verbs", "params", buf, (size_t)n + 1);
	buf[0] = 1;
	frame_hdr_encode(buf + 1, FRAME_DATA, 0, 20);
	memset(buf + 1 + FRAME_HDR_LEN, 0x45, 20);
	put("verbs", "message", buf, 1 + FRAME_HDR_LEN + 20);
	frame_hdr_encode(buf + 1, FRAME_PING, 0, 0);
	put("verbs", "ping", buf, 1 + FRAME_HDR_LEN);
/* State files as a daemon writes them (statefile_format), and an empty one. */
static void states(void)
{
	struct statefile_job jobs[2];
	struct statefile_route routes[3];
	struct statefile_peer peers[1];
	struct statefile sf = { .node = "n1", .jobs = jobs, .njobs = 2, .routes = routes,
				.nroutes = 3, .peers = peers, .npeers = 1 };
	char *txt;

	memset(jobs, 0, sizeof(jobs));
	memset(routes, 0, sizeof(routes));
	snprintf(jobs[0].netns, sizeof(jobs[0].netns), "tv-j1");
	jobs[0].ns_dev = 4;
	jobs[0].ns_ino = 4026532999ULL;
	vip_parse("198.19.1.10", &jobs[0].vips[0]);
	vip_parse("fd00:19:1::a", &jobs[0].vips[1]);
	jobs[0].nvips = 2;
	snprintf(jobs[1].netns, sizeof(jobs[1].netns), "/proc/77/ns/net");
	jobs[1].ns_dev = 4;
	jobs[1].ns_ino = 4026533001ULL;
	jobs[1].state = JOB_STANDBY;
	jobs[1].handing_over = true;
	vip_parse("198.19.2.10", &jobs[1].vips[0]);
	jobs[1].nvips = 1;
	routes[0].vip = jobs[0].vips[0];
	routes[0].epoch = 3;
	routes[1].vip = jobs[0].vips[1];
	routes[1].epoch = 1;
	vip_parse("198.19.1.99", &routes[2].vip);
	routes[2].epoch = 9;
	routes[2].withdrawn = true;
	memset(peers, 0, sizeof(peers));
	snprintf(peers[0].name, sizeof(peers[0].name), "n2");
	addr_parse("198.18.0.2:7000", 0, &peers[0].addr);
	txt = statefile_format(&sf);
	if (!txt)
		exit(1);
	put("state", "two-jobs", txt, strlen(txt));
	free(txt);
	sf.njobs = sf.nroutes = sf.npeers = 0;
	txt = statefile_format(&sf);
	if (!txt)
		exit(1);
	put("state", "empty", txt, strlen(txt));
	free(txt);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) < 0 && errno != EEXIST) {
		perror(root);
		return 1;
	}
	frames();
	udp();
	msgs();
	ctl();
	configs();
	packets();
	vnets();
	capmsgs();
	routes();
	verbs();
	states();
	return 0;
}
