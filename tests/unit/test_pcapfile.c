/* Capture files: written by ctl/pcapfile.c, read back with libpcap, the reader every
 * tool uses; plus the exact header bytes and write errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "ctl/vnetctl.h"

struct want {
	uint64_t ts_usec;
	size_t caplen;   /* as written */
	uint32_t orig_len;
	const char *comment;
};

static const struct want packets[] = {
	{ 1700000000123456ull, 60, 60, "n1 from-job" },
	{ 1700000000123999ull, 1500, 1500, "n2 to-job" },
	{ 1700000001000000ull, 100, 9000, "n1 held" }, /* cut by the daemon's snaplen */
	{ 1700000002000001ull, 3, 3, NULL },
};

static uint8_t data[2000];

/* Writes the packets (cut to snaplen by the writer where longer) into a memory file. */
static FILE *write_file(bool ng, uint32_t snaplen)
{
	struct pcapfile p;
	FILE *f = tmpfile();
	size_t i;

	assert_non_null(f);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(pcapfile_start(&p, f, ng, snaplen, 101), 0);
	for (i = 0; i < sizeof(packets) / sizeof(packets[0]); i++)
		assert_int_equal(pcapfile_write(&p, packets[i].ts_usec, data, packets[i].caplen,
						packets[i].orig_len, packets[i].comment), 0);
	assert_int_equal(p.packets, 4);
	assert_int_equal(pcapfile_finish(&p), 0);
	rewind(f);
	return f;
}

static void read_back(FILE *f, uint32_t snaplen)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	size_t i, caplen;
	pcap_t *pc;

	pc = pcap_fopen_offline(f, err);
	if (!pc)
		print_error("libpcap: %s\n", err);
	assert_non_null(pc);
	assert_int_equal(pcap_datalink(pc), DLT_RAW);
	assert_int_equal(pcap_snapshot(pc), snaplen);
	for (i = 0; i < sizeof(packets) / sizeof(packets[0]); i++) {
		assert_int_equal(pcap_next_ex(pc, &h, &bytes), 1);
		caplen = packets[i].caplen < snaplen ? packets[i].caplen : snaplen;
		assert_int_equal(h->ts.tv_sec, packets[i].ts_usec / 1000000);
		assert_int_equal(h->ts.tv_usec, packets[i].ts_usec % 1000000);
		assert_int_equal(h->caplen, caplen);
		assert_int_equal(h->len, packets[i].orig_len);
		assert_memory_equal(bytes, data, caplen);
	}
	assert_int_equal(pcap_next_ex(pc, &h, &bytes), PCAP_ERROR_BREAK);
	pcap_close(pc); /* closes f */
}

static void test_classic(void **state)
{
	read_back(write_file(false, 262144), 262144);
}

static void test_classic_snaplen(void **state)
{
	/* the writer cuts what is longer than the file says, keeping the real length */
	read_back(write_file(false, 64), 64);
}

static void test_pcapng(void **state)
{
	read_back(write_file(true, 262144), 262144);
	read_back(write_file(true, 1000), 1000);
}

/* The comments libpcap does not show: find them in the file, each in an option. */
static void test_pcapng_comments(void **state)
{
	FILE *f = write_file(true, 262144);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf), f);
	uint16_t code, len;
	char *hit;

	assert_true(n > 1500);
	hit = memmem(buf, n, "n2 to-job", 9);
	assert_non_null(hit);
	/* option code 1 (opt_comment), length 9, then the text padded to 12 */
	memcpy(&code, hit - 4, 2);
	memcpy(&len, hit - 2, 2);
	assert_int_equal(code, 1);
	assert_int_equal(len, 9);
	assert_memory_equal(hit + 9, "\0\0\0", 3);
	/* then opt_endofopt */
	assert_memory_equal(hit + 12, "\0\0\0\0", 4);
	assert_non_null(memmem(buf, n, "n1 held", 7));
	fclose(f);
}

static void test_classic_header_bytes(void **state)
{
	uint32_t magic, snap, link;
	uint16_t major, minor;
	uint8_t h[24];
	FILE *f = write_file(false, 65535);

	assert_int_equal(fread(h, 1, sizeof(h), f), sizeof(h));
	memcpy(&magic, h, 4);
	memcpy(&major, h + 4, 2);
	memcpy(&minor, h + 6, 2);
	memcpy(&snap, h + 16, 4);
	memcpy(&link, h + 20, 4);
	assert_int_equal(magic, 0xa1b2c3d4u);
	assert_int_equal(major, 2);
	assert_int_equal(minor, 4);
	assert_int_equal(snap, 65535);
	assert_int_equal(link, 101);
	assert_memory_equal(h + 8, "\0\0\0\0\0\0\0\0", 8);
	fclose(f);
}

/* Into a pipe, as `vnetctl capture -w - | tcpdump -r -`: each packet reaches the reader
 * when it is written, with the writer still open (classic and pcapng). */
static void test_pipe_live(void **state)
{
	for (int ng = 0; ng < 2; ng++) {
		char err[PCAP_ERRBUF_SIZE];
		struct pcap_pkthdr *h;
		const u_char *bytes;
		struct pcapfile p;
		FILE *w, *r;
		pcap_t *pc;
		int fds[2];

		assert_int_equal(pipe(fds), 0);
		w = fdopen(fds[1], "w");
		r = fdopen(fds[0], "r");
		assert_non_null(w);
		assert_non_null(r);
		assert_int_equal(pcapfile_start(&p, w, ng, 65535, 101), 0);
		assert_true(p.live);
		pc = pcap_fopen_offline(r, err);
		assert_non_null(pc);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(pcapfile_write(&p, 1000000 + (uint64_t)i, data, 40 + i, 40 + i,
							"n1 from-job"), 0);
			/* there already, not in w's buffer (nor in r's: it reads no further ahead
			 * than what the reader asked for, a record at a time) */
			assert_int_equal(poll(&(struct pollfd){ .fd = fds[0], .events = POLLIN }, 1,
					      0), 1);
			assert_int_equal(pcap_next_ex(pc, &h, &bytes), 1);
			assert_int_equal(h->caplen, 40 + i);
			assert_int_equal(h->ts.tv_usec, i);
		}
		assert_int_equal(pcapfile_finish(&p), 0);
		fclose(w);
		assert_int_equal(pcap_next_ex(pc, &h, &bytes), PCAP_ERROR_BREAK);
		pcap_close(pc);
	}
}

/* A link type a classic file cannot say is refused, not written as garbage. */
static void test_classic_linktype(void **state)
{
	struct pcapfile p;
	FILE *f = tmpfile();

	assert_non_null(f);
	assert_int_equal(pcapfile_start(&p, f, false, 65535, 50), -EINVAL);
	assert_int_equal(ftell(f), 0);
	/* LINKTYPE_IPV4 (228): the same number as its DLT */
	assert_int_equal(pcapfile_start(&p, f, false, 65535, 228), 0);
	fclose(f);
}

static void test_write_errors(void **state)
{
	struct pcapfile p;
	FILE *f = fopen("/dev/full", "w");
	int r;

	assert_non_null(f);
	/* the header is flushed at once: a full disk shows there */
	assert_int_equal(pcapfile_start(&p, f, false, 65535, 101), -ENOSPC);
	r = pcapfile_write(&p, 1, data, sizeof(data), sizeof(data), NULL);
	if (r == 0)
		r = pcapfile_finish(&p);
	assert_int_equal(r, -ENOSPC);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic),
		cmocka_unit_test(test_classic_snaplen),
		cmocka_unit_test(test_pcapng),
		cmocka_unit_test(test_pcapng_comments),
		cmocka_unit_test(test_classic_header_bytes),
		cmocka_unit_test(test_pipe_live),
		cmocka_unit_test(test_classic_linktype),
		cmocka_unit_test(test_write_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
