/* vnetctl capture: packets as the daemons see them, to a pcap file or as text.
 *
 * The daemon filters and copies the packets; the client only receives the record stream
 * (tunvnet/capmsg.h) and writes it out. A capture with --cluster opens one stream per
 * daemon it can reach and merges them by timestamp into one output, so that a capture of
 * a VIP goes on across a migration: the old node's packets until it hands over, the new
 * node's after.
 *
 * Merging live streams: each stream is in time order by itself, so the next packet to
 * write is the oldest head among the streams. It is safe to write once every stream
 * that is still open has a packet queued (none can bring an older one). An idle stream
 * would hold everything back, so a packet waits at most HOLD_MS for the others; with a
 * single stream nothing ever waits. */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tunvnet/capmsg.h"
#include "tunvnet/capture.h"
#include "tunvnet/msg.h"
#include "tunvnet/packet.h"

#define MAX_SOURCES   64
#define HOLD_MS       200   /* longest a packet waits for the other streams */
#define QUEUE_MAX     4096  /* packets queued in all; beyond, the oldest head goes out */
#define STOP_GRACE_MS 2000  /* after asking the daemons to stop: wait this long for END */
#define STREAM_MAX    (CAPMSG_HDR_LEN + CAPMSG_MAX)
#define LINKTYPE_RAW  101

enum { OPT_VIP = 256, OPT_CLUSTER, OPT_PEER, OPT_ALL, OPT_DURATION, OPT_SNAPLEN, OPT_PCAPNG };

static const struct option opts[] = {
	{ "vip", required_argument, NULL, OPT_VIP },
	{ "cluster", no_argument, NULL, OPT_CLUSTER },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "write", required_argument, NULL, 'w' },
	{ "count", required_argument, NULL, 'c' },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
	{ "pcapng", no_argument, NULL, OPT_PCAPNG },
	{ "cluster-socket", required_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

static const struct client_doc doc = {
	.name = "capture",
	.synopsis = "capture [--vip IP [--cluster [-S SOCKET]...] | --peer NODE | --all]\n"
		    "                [-w FILE|-w -] [--pcapng] [-c COUNT] [--duration S]\n"
		    "                [--snaplen N] [FILTER EXPRESSION...]",
	.positional = true,
	.summary =
		"Captures the packets this node's tunvnetd forwards: those of one VIP\n"
		"(--vip), those exchanged with one peer (--peer), or all of them (--all, the\n"
		"default). Each packet is recorded once per node; its direction says where\n"
		"the daemon saw it: with --vip or --all where it entered the node, read from\n"
		"a job's TUN (from-job) or received from a peer (from-peer); with --peer as\n"
		"it was sent to the peer (to-peer) or received from it (from-peer); with\n"
		"--vip --cluster at the job's TUN on the node hosting it (from-job, to-job).\n"
		"\n"
		"The FILTER EXPRESSION is a tcpdump expression (pcap-filter(7)), its words\n"
		"joined by blanks, applied by the daemon to the raw IP packets: 'tcp port 80',\n"
		"'icmp or icmp6', 'host 198.19.2.10 and not udp'.\n"
		"\n"
		"With -w FILE, writes a pcap file (or pcapng with --pcapng) for tcpdump -r or\n"
		"wireshark; with -w -, writes it to standard output, flushed as packets come,\n"
		"so that 'vnetctl capture -w - | tcpdump -n -r -' shows them live. Without -w,\n"
		"prints one line per packet: local time, node, direction, source > destination,\n"
		"protocol and length (with --json, one JSON object per line instead).\n"
		"\n"
		"With --cluster, follows a VIP across the cluster: asks every daemon it can\n"
		"reach (the sockets given with -S, else every *.sock that answers in the\n"
		"directory of the control socket, /run/tunvnet by default) and merges their\n"
		"packets by time into one output. A capture that way goes on while the job\n"
		"migrates; the nodes' notes (\"moved to n2\") are printed on standard error.\n"
		"\n"
		"The capture ends after COUNT packets, after S seconds, when interrupted\n"
		"(Ctrl-C, SIGTERM: the file is finished properly) or when the reader of\n"
		"standard output goes away. Then it prints on standard error how many packets\n"
		"it captured and how many the daemon dropped because they were not read fast\n"
		"enough (a capture never slows the traffic down).",
	.options =
		"--vip IP              packets from or to this VIP (hosted here or not)\n"
		"--cluster             with --vip: capture on every node, merged by time\n"
		"-S, --cluster-socket SOCKET\n"
		"                      with --cluster: a node's control socket to ask\n"
		"                      (repeatable; default: every *.sock that answers)\n"
		"--peer NODE           packets sent to or received from this peer\n"
		"--all                 every packet the daemon forwards (the default)\n"
		"-w, --write FILE      write a pcap file; '-' for standard output\n"
		"--pcapng              with -w: write pcapng, with the capturing node and the\n"
		"                      direction as each packet's comment\n"
		"-c, --count COUNT     stop after COUNT packets\n"
		"--duration S          stop after S seconds (a decimal number)\n"
		"--snaplen N           keep at most the first N bytes of each packet\n"
		"                      (64 to 262144; default: whole packets)\n",
	.exit_ok = "the capture ended: COUNT packets, the duration, an interrupt, the\n"
		   "     reader of the output went away, or a daemon ended it (a VIP that\n"
		   "     moved away, when not following it with --cluster)",
	.exit_err = "tunvnetd refused the capture (a bad filter, an unknown VIP or peer) or\n"
		    "     could not be reached, the output could not be written, or a stream\n"
		    "     broke off without its end record",
	.example = "$ vnetctl capture --vip 198.19.1.10 -c 3 tcp\n"
		   "12:03:17.881204 n1 from-job 198.19.1.10.43210 > 198.19.2.10.80: TCP [S] "
		   "length 60\n"
		   "12:03:17.881391 n1 to-job 198.19.2.10.80 > 198.19.1.10.43210: TCP [S.] "
		   "length 60\n"
		   "12:03:17.881420 n1 from-job 198.19.1.10.43210 > 198.19.2.10.80: TCP [.] "
		   "length 52\n"
		   "3 packets captured, 0 dropped (reader too slow)\n"
		   "$ vnetctl capture --vip 198.19.1.10 --cluster -w - | tcpdump -n -r -",
};

struct args {
	const char *vip, *peer, *file, *count, *duration, *snaplen;
	bool cluster, all, ng;
	const char *sockets[MAX_SOURCES];
	int nsockets;
	char filter[sizeof(((struct ctl_request *)0)->filter)];
	size_t flen;
	bool filter_long;
};

/* One packet waiting to be written. */
struct pkt {
	struct pkt *next;
	uint64_t ts_usec;
	uint64_t arrived_ms; /* client_now_ms() when it came */
	uint32_t orig_len;
	uint8_t dir;
	char node[NODE_NAME_MAX + 1];
	size_t caplen;
	uint8_t data[];
};

/* One daemon's capture stream. */
struct source {
	struct client_stream s;
	char label[128];         /* for messages: the node, else the socket or "tunvnetd" */
	struct pkt *head, *tail; /* in arrival order, which is time order */
	bool ended;              /* END seen, or the stream is gone */
	bool got_end;
	bool shut;               /* we have closed our writing side */
	uint64_t dropped;
};

struct capture {
	struct source src[MAX_SOURCES];
	int n;
	FILE *out;               /* the pcap file, or stdout */
	bool pcap, live, json;
	struct pcapfile pf;
	uint64_t count;          /* 0: no limit */
	uint64_t written;
	size_t queued;
	uint64_t deadline;       /* client_now_ms() at which to stop; 0: none */
	uint64_t stop_at;        /* while stopping: when to give up waiting for END */
	bool stopping, out_gone;
	int err;                 /* exit status so far */
};

/* ---- arguments ---- */

static int set_once(const char **slot, const char *arg, const char *name)
{
	if (*slot)
		return client_usage(&doc, "option '%s' given twice", name);
	*slot = arg;
	return -1;
}

static int on_opt(int c, const char *arg, void *ctx)
{
	struct args *a = ctx;
	size_t n;

	switch (c) {
	case 1: /* a word of the filter expression */
		n = strlen(arg);
		if (a->flen + (a->flen ? 1 : 0) + n >= sizeof(a->filter)) {
			a->filter_long = true;
			return -1;
		}
		if (a->flen)
			a->filter[a->flen++] = ' ';
		memcpy(a->filter + a->flen, arg, n + 1);
		a->flen += n;
		return -1;
	case OPT_VIP:
		return set_once(&a->vip, arg, "--vip");
	case OPT_PEER:
		return set_once(&a->peer, arg, "--peer");
	case 'w':
		return set_once(&a->file, arg, "-w");
	case 'c':
		return set_once(&a->count, arg, "-c");
	case OPT_DURATION:
		return set_once(&a->duration, arg, "--duration");
	case OPT_SNAPLEN:
		return set_once(&a->snaplen, arg, "--snaplen");
	case OPT_CLUSTER:
		a->cluster = true;
		return -1;
	case OPT_ALL:
		a->all = true;
		return -1;
	case OPT_PCAPNG:
		a->ng = true;
		return -1;
	case 'S':
		if (a->nsockets == MAX_SOURCES)
			return client_usage(&doc, "more than %d sockets", MAX_SOURCES);
		if (!*arg)
			return client_usage(&doc, "-S: empty socket path");
		a->sockets[a->nsockets++] = arg;
		return -1;
	}
	return client_usage(&doc, "unexpected option");
}

/* A whole decimal number in [min, max]. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int check(const struct args *a, const struct ctl_opts *o, struct ctl_request *req)
{
	double secs;
	char *end;
	long v;

	if (!!a->vip + !!a->peer + a->all > 1)
		return client_usage(&doc, "--vip, --peer and --all exclude each other");
	if (a->cluster && !a->vip)
		return client_usage(&doc, "--cluster needs --vip IP (the VIP to follow)");
	if (a->nsockets && !a->cluster)
		return client_usage(&doc, "-S needs --cluster (without it, use -s SOCKET)");
	if (a->ng && !a->file)
		return client_usage(&doc, "--pcapng needs -w FILE");
	if (a->file && o->json)
		return client_usage(&doc, "-w and --json exclude each other");
	if (a->file && !*a->file)
		return client_usage(&doc, "-w: empty file name");
	if (a->filter_long)
		return client_usage(&doc, "the filter expression is longer than %zu bytes",
				    sizeof(a->filter) - 1);
	if (a->vip) {
		if (vip_parse(a->vip, &req->vip) < 0)
			return client_usage(&doc, "--vip: \"%s\" is not an IPv4 or IPv6 address",
					    a->vip);
		req->has_vip = true;
		req->scope = CTL_SCOPE_VIP;
		req->cluster = a->cluster;
	}
	if (a->peer) {
		if (!msg_name_valid(a->peer))
			return client_usage(&doc, "--peer: \"%s\" is not a node name (1 to %d of "
					    "A-Z a-z 0-9 . _ -)", a->peer, NODE_NAME_MAX);
		strcpy(req->peer, a->peer);
		req->scope = CTL_SCOPE_PEER;
	}
	if (a->count) {
		if (!parse_long(a->count, 1, LONG_MAX, &v))
			return client_usage(&doc, "-c: \"%s\" is not a count of packets "
					    "(1 or more)", a->count);
		req->count = v;
	}
	if (a->duration) {
		errno = 0;
		secs = strtod(a->duration, &end);
		if (errno || end == a->duration || *end || !isfinite(secs) || secs <= 0 ||
		    secs > 1e9)
			return client_usage(&doc, "--duration: \"%s\" is not a number of seconds "
					    "above 0", a->duration);
		/* rounded up: a duration is never cut short */
		req->duration_ms = (long)(secs * 1000);
		if (req->duration_ms < secs * 1000)
			req->duration_ms++;
	}
	if (a->snaplen) {
		if (!parse_long(a->snaplen, CTL_SNAPLEN_MIN, CTL_SNAPLEN_MAX, &v))
			return client_usage(&doc, "--snaplen: \"%s\" is not between %d and %d",
					    a->snaplen, CTL_SNAPLEN_MIN, CTL_SNAPLEN_MAX);
		req->snaplen = (int)v;
	}
	memcpy(req->filter, a->filter, a->flen + 1);
	return -1;
}

/* ---- packets as text ---- */

static const char *dir_name(uint8_t dir)
{
	switch (dir) {
	case CAPTURE_FROM_JOB:
		return "from-job";
	case CAPTURE_TO_JOB:
		return "to-job";
	case CAPTURE_TO_PEER:
		return "to-peer";
	case CAPTURE_FROM_PEER:
		return "from-peer";
	case CAPTURE_HELD:
		return "held";
	}
	return "dir?";
}

struct summary {
	struct vip src, dst;
	uint8_t proto;
	size_t l4; /* offset of the transport header */
};

/* packet_parse wants the whole packet; one cut short by the snaplen still has its fixed
 * header, which is all a summary line needs. */
static bool summarize(const uint8_t *d, size_t n, struct summary *s)
{
	struct packet_info pi;

	if (packet_parse(d, n, &pi) == 0) {
		s->src = pi.src;
		s->dst = pi.dst;
		s->proto = pi.proto;
		s->l4 = pi.l3_len;
		return true;
	}
	if (n >= 20 && d[0] >> 4 == 4 && (d[0] & 15) >= 5) {
		vip_from_bytes(&s->src, AF_INET, d + 12);
		vip_from_bytes(&s->dst, AF_INET, d + 16);
		s->proto = d[9];
		s->l4 = (size_t)(d[0] & 15) * 4;
		return true;
	}
	if (n >= 40 && d[0] >> 4 == 6) {
		vip_from_bytes(&s->src, AF_INET6, d + 8);
		vip_from_bytes(&s->dst, AF_INET6, d + 24);
		s->proto = d[6];
		s->l4 = 40;
		return true;
	}
	return false;
}

static const char *icmp_name(bool v6, uint8_t type)
{
	switch (type | (v6 ? 0x100 : 0)) {
	case 0:
	case 0x100 | 129:
		return "echo reply";
	case 8:
	case 0x100 | 128:
		return "echo request";
	case 3:
	case 0x100 | 1:
		return "unreachable";
	case 11:
	case 0x100 | 3:
		return "time exceeded";
	case 0x100 | 2:
		return "packet too big";
	case 0x100 | 135:
		return "neighbor solicitation";
	case 0x100 | 136:
		return "neighbor advertisement";
	}
	return NULL;
}

/* "198.19.1.10.43210 > 198.19.2.10.80: TCP [S.]" */
static void describe(FILE *f, const uint8_t *d, size_t n)
{
	char a[VIP_STRLEN], b[VIP_STRLEN], flags[8];
	const uint8_t *t;
	struct summary s;
	const char *name;
	bool ports;
	size_t k = 0;

	if (!summarize(d, n, &s)) {
		fputs("not an IP packet:", f);
		return;
	}
	vip_fmt(&s.src, a);
	vip_fmt(&s.dst, b);
	t = d + s.l4;
	ports = (s.proto == IPPROTO_TCP || s.proto == IPPROTO_UDP) && n >= s.l4 + 4;
	if (ports)
		fprintf(f, "%s.%d > %s.%d: ", a, t[0] << 8 | t[1], b, t[2] << 8 | t[3]);
	else
		fprintf(f, "%s > %s: ", a, b);
	switch (s.proto) {
	case IPPROTO_TCP:
		fputs("TCP", f);
		if (n < s.l4 + 14)
			break;
		if (t[13] & 0x02)
			flags[k++] = 'S';
		if (t[13] & 0x01)
			flags[k++] = 'F';
		if (t[13] & 0x08)
			flags[k++] = 'P';
		if (t[13] & 0x04)
			flags[k++] = 'R';
		if (t[13] & 0x20)
			flags[k++] = 'U';
		if (t[13] & 0x10)
			flags[k++] = '.';
		flags[k] = '\0';
		fprintf(f, " [%s]", k ? flags : "none");
		break;
	case IPPROTO_UDP:
		fputs("UDP", f);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		fputs(s.proto == IPPROTO_ICMP ? "ICMP" : "ICMP6", f);
		if (n < s.l4 + 2)
			break;
		name = icmp_name(s.proto == IPPROTO_ICMPV6, t[0]);
		if (name)
			fprintf(f, " %s", name);
		else
			fprintf(f, " type %u code %u", t[0], t[1]);
		break;
	default:
		fprintf(f, "protocol %u", s.proto);
	}
}

static void print_text(const struct pkt *p)
{
	time_t sec = (time_t)(p->ts_usec / 1000000);
	char tbuf[32];
	struct tm tm;

	if (!localtime_r(&sec, &tm) || !strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm))
		snprintf(tbuf, sizeof(tbuf), "--:--:--");
	printf("%s.%06u %s %s ", tbuf, (unsigned)(p->ts_usec % 1000000), p->node,
	       dir_name(p->dir));
	describe(stdout, p->data, p->caplen);
	printf(" length %u\n", p->orig_len);
}

static int print_json(const struct pkt *p)
{
	char a[VIP_STRLEN], b[VIP_STRLEN];
	struct summary s;
	json_t *o;
	int r;

	o = json_pack("{s:f, s:s, s:s, s:I, s:I}", "ts", (double)p->ts_usec / 1e6, "node",
		      p->node, "dir", dir_name(p->dir), "length", (json_int_t)p->orig_len,
		      "caplen", (json_int_t)p->caplen);
	if (!o)
		return -ENOMEM;
	if (summarize(p->data, p->caplen, &s)) {
		json_object_set_new(o, "src", json_string(vip_fmt(&s.src, a)));
		json_object_set_new(o, "dst", json_string(vip_fmt(&s.dst, b)));
		json_object_set_new(o, "proto", json_integer(s.proto));
	}
	r = json_dumpf(o, stdout, JSON_COMPACT) < 0 || fputc('\n', stdout) == EOF;
	json_decref(o);
	return r ? -EIO : 0;
}

/* ---- output ---- */

static void begin_stop(struct capture *c);

/* Writes one packet; a reader that has gone ends the capture, quietly. */
static void write_pkt(struct capture *c, const struct pkt *p)
{
	char comment[64];
	int r = 0;

	if (c->out_gone || (c->count && c->written >= c->count))
		return;
	errno = 0;
	if (c->pcap) {
		snprintf(comment, sizeof(comment), "%s %s", p->node, dir_name(p->dir));
		r = pcapfile_write(&c->pf, p->ts_usec, p->data, p->caplen, p->orig_len, comment);
	} else if (c->json) {
		r = print_json(p);
	} else {
		print_text(p);
		r = ferror(stdout) ? -EIO : 0;
	}
	if (r == 0) {
		c->written++;
		if (c->count && c->written >= c->count)
			begin_stop(c);
		return;
	}
	if (errno == EPIPE) {
		c->out_gone = true;
	} else {
		fprintf(stderr, "vnetctl: writing the capture failed: %s\n",
			strerror(errno ? errno : EIO));
		c->out_gone = true;
		c->err = VNETCTL_EXIT_ERROR;
	}
	begin_stop(c);
}

/* Whether the oldest queued packet may go out now (see the top of the file). */
static bool ready(const struct capture *c, const struct pkt *oldest, bool force)
{
	int i;

	if (force || c->queued > QUEUE_MAX || oldest->arrived_ms + HOLD_MS <= client_now_ms())
		return true;
	for (i = 0; i < c->n; i++)
		if (!c->src[i].ended && !c->src[i].head)
			return false;
	return true;
}

/* Writes the queued packets that are ready, oldest first, then hands them to a live
 * reader. force: all of them (the end). */
static void emit(struct capture *c, bool force)
{
	struct source *best;
	struct pkt *p;
	bool any = false;
	int i;

	for (;;) {
		best = NULL;
		for (i = 0; i < c->n; i++)
			if (c->src[i].head &&
			    (!best || c->src[i].head->ts_usec < best->head->ts_usec))
				best = &c->src[i];
		if (!best || !ready(c, best->head, force))
			break;
		p = best->head;
		best->head = p->next;
		if (!best->head)
			best->tail = NULL;
		c->queued--;
		write_pkt(c, p);
		free(p);
		any = true;
	}
	if (any && c->live && !c->out_gone && fflush(c->out) == EOF) {
		if (errno != EPIPE) {
			fprintf(stderr, "vnetctl: writing the capture failed: %s\n",
				strerror(errno));
			c->err = VNETCTL_EXIT_ERROR;
		}
		c->out_gone = true;
		begin_stop(c);
	}
}

/* ---- the streams ---- */

/* Asks every daemon to end its capture: it answers a half-closed connection with END. */
static void begin_stop(struct capture *c)
{
	int i;

	if (c->stopping)
		return;
	c->stopping = true;
	c->stop_at = client_now_ms() + STOP_GRACE_MS;
	for (i = 0; i < c->n; i++)
		if (!c->src[i].ended && !c->src[i].shut) {
			shutdown(c->src[i].s.fd, SHUT_WR);
			c->src[i].shut = true;
		}
}

static void end_source(struct capture *c, struct source *s)
{
	s->ended = true;
	/* what it sent is still queued: the merge writes it */
	if (s->s.fd >= 0) {
		close(s->s.fd);
		s->s.fd = -1;
	}
}

static json_t *record_json(const struct capmsg *m)
{
	json_t *o = json_loadb((const char *)m->body, m->body_len, JSON_REJECT_DUPLICATES, NULL);

	if (json_is_object(o))
		return o;
	json_decref(o);
	return NULL;
}

/* A note is a control-plane event about what is captured (a move, most often): shown
 * as `vnetctl events` shows it, or as its JSON when it is something else. */
static void on_note(struct source *s, const struct capmsg *m)
{
	char buf[256], type[64], *text;
	json_t *o = record_json(m);
	const json_t *to = json_object_get(o, "moved_to");

	if (json_is_string(to)) {
		fprintf(stderr, "vnetctl: %s: the VIP moved to %s\n", s->label,
			table_safe(json_string_value(to), buf, sizeof(buf)));
	} else if (json_is_string(json_object_get(o, "type"))) {
		/* the node that saw the event is the label already */
		json_object_del(o, "node");
		text = events_describe(o);
		fprintf(stderr, "vnetctl: %s: %s %s\n", s->label,
			table_safe(json_string_value(json_object_get(o, "type")), type,
				   sizeof(type)),
			text ? table_safe(text, buf, sizeof(buf)) : "(out of memory)");
		free(text);
	} else {
		text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		fprintf(stderr, "vnetctl: %s: note: %s\n", s->label,
			text ? table_safe(text, buf, sizeof(buf)) : "(not a JSON object)");
		free(text);
	}
	json_decref(o);
}

static void on_end(struct capture *c, struct source *s, const struct capmsg *m)
{
	static const char *const normal[] = { "count", "duration", "client", "moved" };
	json_t *o = record_json(m);
	const json_t *reason = json_object_get(o, "reason");
	const json_t *dropped = json_object_get(o, "dropped");
	char buf[256];
	size_t i;

	s->got_end = true;
	if (json_is_integer(dropped) && json_integer_value(dropped) > 0)
		s->dropped = (uint64_t)json_integer_value(dropped);
	if (json_is_string(reason)) {
		for (i = 0; i < sizeof(normal) / sizeof(normal[0]); i++)
			if (strcmp(json_string_value(reason), normal[i]) == 0)
				break;
		/* a VIP that moved ends a capture that does not follow it: say so */
		if (i == sizeof(normal) / sizeof(normal[0]) ||
		    (strcmp(normal[i], "moved") == 0 && c->n == 1))
			fprintf(stderr, "vnetctl: %s: capture ended: %s\n", s->label,
				table_safe(json_string_value(reason), buf, sizeof(buf)));
	}
	json_decref(o);
	end_source(c, s);
}

static int on_packet(struct capture *c, struct source *s, const struct capmsg *m)
{
	struct pkt *p = malloc(sizeof(*p) + m->caplen);

	if (!p) {
		fprintf(stderr, "vnetctl: out of memory\n");
		return -ENOMEM;
	}
	p->next = NULL;
	p->ts_usec = m->ts_usec;
	p->arrived_ms = client_now_ms();
	p->orig_len = m->orig_len;
	p->dir = m->dir;
	memcpy(p->node, m->node, sizeof(p->node));
	p->caplen = m->caplen;
	memcpy(p->data, m->data, m->caplen);
	if (s->tail)
		s->tail->next = p;
	else
		s->head = p;
	s->tail = p;
	c->queued++;
	return 0;
}

/* Takes every whole record out of s's buffer. */
static int records(struct capture *c, struct source *s)
{
	struct capmsg m;
	int n, r;

	while (!s->ended) {
		n = capmsg_decode(s->s.buf + s->s.off, s->s.len - s->s.off, &m);
		if (n == 0)
			return 0;
		if (n < 0) {
			fprintf(stderr, "vnetctl: %s: malformed capture record\n", s->label);
			end_source(c, s);
			return VNETCTL_EXIT_ERROR;
		}
		r = 0;
		if (m.type == CAPMSG_PACKET)
			r = on_packet(c, s, &m);
		else if (m.type == CAPMSG_NOTE)
			on_note(s, &m);
		else if (m.type == CAPMSG_END)
			on_end(c, s, &m);
		client_stream_consume(&s->s, (size_t)n);
		if (r)
			return VNETCTL_EXIT_ERROR;
	}
	return 0;
}

static void on_readable(struct capture *c, struct source *s)
{
	int r = client_stream_read(&s->s, STREAM_MAX);

	if (r == -EAGAIN)
		return;
	if (r < 0) {
		fprintf(stderr, "vnetctl: %s: reading the capture: %s\n", s->label, strerror(-r));
		end_source(c, s);
		c->err = VNETCTL_EXIT_ERROR;
		return;
	}
	if (records(c, s))
		c->err = VNETCTL_EXIT_ERROR;
	if (s->s.eof && !s->ended) {
		/* after our own stop, a daemon that just closes has said all it will */
		if (!c->stopping) {
			fprintf(stderr, "vnetctl: %s: the capture stream broke off without its end "
				"record\n", s->label);
			c->err = VNETCTL_EXIT_ERROR;
		}
		end_source(c, s);
	}
}

static int next_timeout(const struct capture *c)
{
	uint64_t now = client_now_ms(), at = UINT64_MAX;
	int i;

	for (i = 0; i < c->n; i++)
		if (c->src[i].head && c->src[i].head->arrived_ms + HOLD_MS < at)
			at = c->src[i].head->arrived_ms + HOLD_MS;
	if (c->deadline && !c->stopping && c->deadline < at)
		at = c->deadline;
	if (c->stopping && c->stop_at < at)
		at = c->stop_at;
	if (at == UINT64_MAX)
		return -1;
	return at <= now ? 0 : (int)(at - now > 60000 ? 60000 : at - now);
}

static void loop(struct capture *c)
{
	struct pollfd fds[MAX_SOURCES];
	int map[MAX_SOURCES];
	int i, k, r;

	for (;;) {
		emit(c, false);
		for (i = 0, k = 0; i < c->n; i++) {
			if (c->src[i].ended)
				continue;
			fds[k] = (struct pollfd){ .fd = c->src[i].s.fd, .events = POLLIN };
			map[k++] = i;
		}
		if (k == 0)
			return;
		if (c->deadline && !c->stopping && client_now_ms() >= c->deadline)
			begin_stop(c);
		if (c->stopping && client_now_ms() >= c->stop_at)
			return;
		r = client_poll(fds, (nfds_t)k, next_timeout(c));
		if (r == -EINTR) {
			/* the first interrupt asks for the end records, the second does not wait */
			if (c->stopping)
				return;
			begin_stop(c);
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "vnetctl: poll: %s\n", strerror(-r));
			c->err = VNETCTL_EXIT_ERROR;
			return;
		}
		for (i = 0; i < k; i++)
			if (fds[i].revents)
				on_readable(c, &c->src[map[i]]);
	}
}

/* ---- setting up ---- */

/* The daemons to ask with --cluster and no -S: every socket in the directory of the
 * control socket. */
static int find_sockets(const char *socket, glob_t *g)
{
	char pattern[PATH_MAX];
	const char *slash = strrchr(socket, '/');
	int n;

	if (slash)
		n = snprintf(pattern, sizeof(pattern), "%.*s/*.sock", (int)(slash - socket),
			     socket);
	else
		n = snprintf(pattern, sizeof(pattern), "*.sock");
	if (n < 0 || (size_t)n >= sizeof(pattern))
		return -ENAMETOOLONG;
	switch (glob(pattern, 0, NULL, g)) {
	case 0:
		return 0;
	case GLOB_NOMATCH:
		g->gl_pathc = 0;
		return 0;
	default:
		return -EIO;
	}
}

static int open_one(struct capture *c, const char *path, const char *label, unsigned flags,
		    const struct ctl_request *req, long *linktype)
{
	struct source *s = &c->src[c->n];
	const json_t *lt, *node;
	json_t *res;

	if (client_stream_open(path, req, label, flags, &res, &s->s))
		return -1;
	lt = json_object_get(res, "linktype");
	if (!json_is_true(json_object_get(res, "capturing")) ||
	    (lt && !json_is_integer(lt))) {
		json_decref(res);
		client_stream_close(&s->s);
		client_bad_result("capture: the reply is not {\"capturing\": true, "
				  "\"linktype\": N}");
		return -1;
	}
	/* one file has one link type: raw IP is what every daemon speaks today */
	if (*linktype >= 0 && lt && json_integer_value(lt) != *linktype) {
		fprintf(stderr, "vnetctl: %s: link type %" JSON_INTEGER_FORMAT " differs from "
			"the other nodes' %ld: not capturing there\n", label ? label : path,
			json_integer_value(lt), *linktype);
		json_decref(res);
		client_stream_close(&s->s);
		return -1;
	}
	*linktype = lt ? (long)json_integer_value(lt) : LINKTYPE_RAW;
	/* a daemon that names itself is named in the messages, else its socket */
	node = json_object_get(res, "node");
	if (json_is_string(node) && msg_name_valid(json_string_value(node)))
		snprintf(s->label, sizeof(s->label), "%s", json_string_value(node));
	else
		snprintf(s->label, sizeof(s->label), "%s", label ? label : "tunvnetd");
	json_decref(res);
	c->n++;
	return 0;
}

static int open_sources(struct capture *c, const struct args *a, const struct ctl_opts *o,
			const struct ctl_request *req, long *linktype)
{
	glob_t g = { 0 };
	size_t i;
	int r;

	if (!a->cluster)
		return open_one(c, o->socket, NULL, 0, req, linktype) ? VNETCTL_EXIT_ERROR : 0;
	if (a->nsockets) {
		for (i = 0; i < (size_t)a->nsockets; i++)
			open_one(c, a->sockets[i], a->sockets[i], 0, req, linktype);
	} else {
		r = find_sockets(o->socket, &g);
		if (r < 0) {
			fprintf(stderr, "vnetctl: cannot list the control sockets next to %s: %s\n",
				o->socket, strerror(-r));
			return VNETCTL_EXIT_ERROR;
		}
		for (i = 0; i < g.gl_pathc && c->n < MAX_SOURCES; i++)
			open_one(c, g.gl_pathv[i], g.gl_pathv[i], CLIENT_QUIET_CONNECT, req,
				 linktype);
		if (c->n == 0 && g.gl_pathc == 0)
			fprintf(stderr, "vnetctl: no control socket next to %s\n", o->socket);
		globfree(&g);
	}
	if (c->n == 0) {
		fprintf(stderr, "vnetctl: no tunvnetd accepted the capture\n");
		return VNETCTL_EXIT_ERROR;
	}
	return 0;
}

static int open_output(struct capture *c, const struct args *a, uint32_t snaplen,
		       long linktype)
{
	struct stat st;
	int r;

	c->out = stdout;
	c->pcap = a->file != NULL;
	if (a->file && strcmp(a->file, "-") != 0) {
		c->out = fopen(a->file, "we");
		if (!c->out) {
			fprintf(stderr, "vnetctl: cannot write %s: %s\n", a->file, strerror(errno));
			c->out = NULL;
			return VNETCTL_EXIT_ERROR;
		}
	}
	/* a file on disk is flushed at the end; a pipe or a terminal after every batch */
	c->live = fstat(fileno(c->out), &st) < 0 || !S_ISREG(st.st_mode);
	if (!c->pcap)
		return 0;
	r = pcapfile_start(&c->pf, c->out, a->ng, snaplen, (uint16_t)linktype);
	if (r == -EPIPE) {
		c->out_gone = true;
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "vnetctl: writing %s: %s\n", a->file, strerror(-r));
		return VNETCTL_EXIT_ERROR;
	}
	return 0;
}

static int finish(struct capture *c, const struct args *a)
{
	uint64_t dropped = 0;
	struct pkt *p;
	int i, r = c->err;

	/* what is still queued came before the end: it belongs in the file */
	emit(c, true);
	for (i = 0; i < c->n; i++) {
		dropped += c->src[i].dropped;
		while ((p = c->src[i].head)) {
			c->src[i].head = p->next;
			free(p);
		}
		client_stream_close(&c->src[i].s);
	}
	if (c->out && c->pcap && !c->out_gone && pcapfile_finish(&c->pf) < 0 && errno != EPIPE) {
		fprintf(stderr, "vnetctl: writing %s: %s\n", a->file, strerror(errno));
		r = VNETCTL_EXIT_ERROR;
	}
	if (c->out && c->out != stdout && fclose(c->out) == EOF && !c->out_gone) {
		fprintf(stderr, "vnetctl: writing %s: %s\n", a->file, strerror(errno));
		r = VNETCTL_EXIT_ERROR;
	}
	if (c->out_gone && c->out == stdout) {
		/* nobody reads it any more: what is buffered cannot reach anyone either */
		__fpurge(stdout);
		clearerr(stdout);
	}
	fprintf(stderr, "%" PRIu64 " packet%s captured, %" PRIu64 " dropped (reader too slow)\n",
		c->written, c->written == 1 ? "" : "s", dropped);
	return r;
}

int cmd_capture(int argc, char **argv, const struct ctl_opts *global)
{
	struct ctl_request req = { .version = CTL_VERSION, .cmd = CTL_CMD_CAPTURE };
	struct ctl_opts o = *global;
	struct args a = { 0 };
	struct capture *c;
	long linktype = -1;
	int r, i;

	r = client_args(argc, argv, &o, &doc, opts, on_opt, &a);
	if (r >= 0)
		return r;
	r = check(&a, &o, &req);
	if (r >= 0)
		return r;
	if (client_signals_catch() < 0) {
		fprintf(stderr, "vnetctl: cannot catch signals: %s\n", strerror(errno));
		return VNETCTL_EXIT_ERROR;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fprintf(stderr, "vnetctl: out of memory\n");
		return VNETCTL_EXIT_ERROR;
	}
	c->json = o.json;
	c->count = (uint64_t)req.count;
	r = open_sources(c, &a, &o, &req, &linktype);
	if (r)
		goto out;
	/* the daemons stop by themselves at the duration; this is in case one does not */
	if (req.duration_ms)
		c->deadline = client_now_ms() + (uint64_t)req.duration_ms + STOP_GRACE_MS;
	r = open_output(c, &a, req.snaplen ? (uint32_t)req.snaplen : CTL_SNAPLEN_MAX, linktype);
	if (r) {
		/* nowhere to write: end the captures we started, politely */
		c->out_gone = true;
		begin_stop(c);
	} else {
		loop(c);
	}
	c->err = c->err ?: r;
	r = finish(c, &a);
out:
	for (i = 0; i < c->n; i++)
		client_stream_close(&c->src[i].s);
	free(c);
	return r;
}
