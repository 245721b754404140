/* IPv4 and IPv6 parsing (tunvnet/packet.c): every packet a job writes into its TUN and
 * every DATA payload a peer sends is parsed here first. What it accepts must be
 * consistent with its own bytes, and the ICMP error built for it must itself parse, fit
 * its size limit and carry valid checksums. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/packet.h"

static uint8_t out[1280];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct packet_info pi, err;
	int r = packet_parse(data, size, &pi), n;
	bool v4;

	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	if (r != 0)
		return 0;
	v4 = (data[0] >> 4) == 4;
	FUZZ_CHECK(v4 || (data[0] >> 4) == 6);
	FUZZ_CHECK(pi.l3_len >= (v4 ? 20 : 40));
	FUZZ_CHECK(pi.l3_len <= pi.total_len && pi.total_len <= size);
	FUZZ_CHECK(pi.src.family == (v4 ? AF_INET : AF_INET6) && pi.dst.family == pi.src.family);
	FUZZ_CHECK(memcmp(pi.src.a, data + (v4 ? 12 : 8), v4 ? 4 : 16) == 0);
	FUZZ_CHECK(memcmp(pi.dst.a, data + (v4 ? 16 : 24), v4 ? 4 : 16) == 0);
	if (!packet_may_send_error(&pi))
		return 0;
	n = packet_icmp_unreach(data, size, &pi, out, sizeof(out));
	FUZZ_CHECK(n > 0 && (size_t)n <= (v4 ? 576u : 1280u));
	FUZZ_CHECK(packet_parse(out, (size_t)n, &err) == 0);
	FUZZ_CHECK((size_t)err.total_len == (size_t)n);
	FUZZ_CHECK(err.is_error && !packet_may_send_error(&err));
	/* from the unreachable destination back to the source */
	FUZZ_CHECK(memcmp(err.src.a, pi.dst.a, v4 ? 4 : 16) == 0 &&
		   memcmp(err.dst.a, pi.src.a, v4 ? 4 : 16) == 0);
	if (v4) { /* the IPv4 header's checksum and the ICMP message's */
		FUZZ_CHECK(packet_csum_fold(packet_csum_add(0, out, err.l3_len)) == 0);
		FUZZ_CHECK(packet_csum_fold(packet_csum_add(0, out + err.l3_len,
							    (size_t)n - err.l3_len)) == 0);
	}
	return 0;
}
