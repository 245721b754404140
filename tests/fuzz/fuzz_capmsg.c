/* Capture records (tunvnet/capmsg.c): the stream vnetctl reads from the daemon, record
 * after record. A PACKET record accepted must encode back (capmsg_packet_encode) to the
 * very bytes it came from; every record must lie within the input. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/capmsg.h"

static uint8_t out[CAPMSG_MAX + CAPMSG_HDR_LEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capmsg m;
	size_t off = 0;
	int r;

	while (off < size) {
		r = capmsg_decode(data + off, size - off, &m);
		FUZZ_CHECK(r >= 0 || r == -EBADMSG);
		if (r <= 0)
			break;
		FUZZ_CHECK((size_t)r <= size - off && (size_t)r >= CAPMSG_HDR_LEN);
		FUZZ_CHECK(m.body == data + off + CAPMSG_HDR_LEN);
		FUZZ_CHECK(m.body_len == (size_t)r - CAPMSG_HDR_LEN);
		if (m.type == CAPMSG_PACKET) {
			size_t nl = strlen(m.node);
			int n;

			FUZZ_CHECK(nl >= 1 && nl <= NODE_NAME_MAX && msg_name_valid(m.node));
			FUZZ_CHECK(m.data + m.caplen == data + off + (size_t)r);
			n = capmsg_packet_encode(out, sizeof(out), m.ts_usec, m.orig_len, m.dir,
						 m.node, m.data, m.caplen);
			FUZZ_CHECK(n == r && memcmp(out, data + off, (size_t)n) == 0);
		}
		off += (size_t)r;
	}
	return 0;
}
