/* Capture files for tcpdump, wireshark and anything else built on libpcap.
 *
 * Classic pcap is the default: every reader takes it, and it streams (tcpdump -r - shows
 * each packet as it arrives). libpcap writes it (pcap_dump_fopen / pcap_dump), as it
 * does for tcpdump -w. pcapng adds a comment per packet, which we fill with the node that
 * captured it and the direction: what a cluster-wide capture would lose in a classic
 * file. libpcap cannot write pcapng, so that one is ours, written in host byte order as
 * libpcap writes the classic one; the readers tell the order from the magic numbers. */
#include "ctl/vnetctl.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <pcap/pcap.h>

#define LINKTYPE_RAW    101 /* what the daemon's captures are: raw IPv4 / IPv6 */
#define PCAPNG_SHB      0x0a0d0d0au
#define PCAPNG_BOM      0x1a2b3c4du
#define PCAPNG_IDB      1u
#define PCAPNG_EPB      6u
#define OPT_COMMENT     1u
#define COMMENT_MAX     1024 /* longer comments are cut */

/* A write error as -errno: EPIPE (the reader went away) must stay recognisable. */
static int werr(void)
{
	return errno ? -errno : -EIO;
}

/* Host-order fields into a byte buffer, without casting a struct over it. */
static void p16(uint8_t *b, size_t *off, uint16_t v)
{
	memcpy(b + *off, &v, 2);
	*off += 2;
}

static void p32(uint8_t *b, size_t *off, uint32_t v)
{
	memcpy(b + *off, &v, 4);
	*off += 4;
}

static int out(struct pcapfile *p, const void *b, size_t n)
{
	errno = 0;
	if (n && fwrite(b, 1, n, p->f) != n)
		return werr();
	return 0;
}

/* The classic header through libpcap. It takes DLT_ values and maps them to the file's
 * LINKTYPE_ itself: those from 104 up are the same number, raw IP is not. */
static int start_classic(struct pcapfile *p, FILE *f, uint32_t snaplen, uint16_t linktype)
{
	int dlt = linktype == LINKTYPE_RAW ? DLT_RAW : linktype;
	pcap_t *pc;

	if (linktype != LINKTYPE_RAW && linktype < 104)
		return -EINVAL;
	pc = pcap_open_dead_with_tstamp_precision(dlt, (int)snaplen,
						  PCAP_TSTAMP_PRECISION_MICRO);
	if (!pc)
		return -ENOMEM;
	errno = 0;
	p->dump = pcap_dump_fopen(pc, f);
	/* The dumper is f itself: nothing in it refers to pc any more. */
	pcap_close(pc);
	if (!p->dump)
		return werr();
	return 0;
}

int pcapfile_start(struct pcapfile *p, FILE *f, bool ng, uint32_t snaplen, uint16_t linktype)
{
	struct stat st;
	uint8_t b[64];
	size_t off = 0;
	int r;

	memset(p, 0, sizeof(*p));
	p->f = f;
	p->ng = ng;
	p->snaplen = snaplen;
	/* a reader at the other end of a pipe gets each packet as it comes */
	p->live = fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode);
	if (!ng) {
		r = start_classic(p, f, snaplen, linktype);
	} else {
		/* section header: no options, length unknown (-1) */
		p32(b, &off, PCAPNG_SHB);
		p32(b, &off, 28);
		p32(b, &off, PCAPNG_BOM);
		p16(b, &off, 1);
		p16(b, &off, 0);
		p32(b, &off, 0xffffffffu);
		p32(b, &off, 0xffffffffu);
		p32(b, &off, 28);
		/* one interface; its default time resolution is the microsecond */
		p32(b, &off, PCAPNG_IDB);
		p32(b, &off, 20);
		p16(b, &off, linktype);
		p16(b, &off, 0);
		p32(b, &off, snaplen);
		p32(b, &off, 20);
		r = out(p, b, off);
	}
	errno = 0;
	if (r == 0 && fflush(f) == EOF)
		r = werr();
	return r;
}

static int write_classic(struct pcapfile *p, uint64_t ts_usec, const uint8_t *data,
			 size_t caplen, uint32_t orig_len)
{
	struct pcap_pkthdr h = {
		.ts = { .tv_sec = (time_t)(ts_usec / 1000000),
			.tv_usec = (suseconds_t)(ts_usec % 1000000) },
		.caplen = (bpf_u_int32)caplen,
		.len = orig_len,
	};

	/* pcap_dump says nothing of errors: the stream's error flag does, for this write
	 * once an earlier error (already reported) is cleared */
	clearerr(p->f);
	errno = 0;
	pcap_dump((u_char *)p->dump, &h, data);
	return ferror(p->f) ? werr() : 0;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static int write_ng(struct pcapfile *p, uint64_t ts_usec, const uint8_t *data, size_t caplen,
		    uint32_t orig_len, const char *comment)
{
	static const uint8_t zero[4];
	size_t clen = comment ? strnlen(comment, COMMENT_MAX) : 0;
	size_t opts = clen ? 4 + pad4(clen) + 4 : 0, total, off = 0;
	uint8_t b[32];
	int r;

	total = 28 + pad4(caplen) + opts + 4;
	p32(b, &off, PCAPNG_EPB);
	p32(b, &off, (uint32_t)total);
	p32(b, &off, 0); /* interface */
	p32(b, &off, (uint32_t)(ts_usec >> 32));
	p32(b, &off, (uint32_t)ts_usec);
	p32(b, &off, (uint32_t)caplen);
	p32(b, &off, orig_len);
	if ((r = out(p, b, off)) || (r = out(p, data, caplen)) ||
	    (r = out(p, zero, pad4(caplen) - caplen)))
		return r;
	if (clen) {
		off = 0;
		p16(b, &off, OPT_COMMENT);
		p16(b, &off, (uint16_t)clen);
		if ((r = out(p, b, off)) || (r = out(p, comment, clen)) ||
		    (r = out(p, zero, pad4(clen) - clen)) || (r = out(p, zero, 4)))
			return r;
	}
	off = 0;
	p32(b, &off, (uint32_t)total);
	return out(p, b, off);
}

int pcapfile_write(struct pcapfile *p, uint64_t ts_usec, const uint8_t *data, size_t caplen,
		   uint32_t orig_len, const char *comment)
{
	int r;

	/* readers refuse a record longer than the file's snaplen */
	if (caplen > p->snaplen)
		caplen = p->snaplen;
	if (orig_len < caplen)
		orig_len = (uint32_t)caplen;
	r = p->ng ? write_ng(p, ts_usec, data, caplen, orig_len, comment) :
		    write_classic(p, ts_usec, data, caplen, orig_len);
	errno = 0;
	if (r == 0 && p->live && fflush(p->f) == EOF)
		r = werr();
	if (r == 0)
		p->packets++;
	return r;
}

int pcapfile_finish(struct pcapfile *p)
{
	errno = 0;
	if (fflush(p->f) == EOF || ferror(p->f))
		return werr();
	return 0;
}
