/* The UDP substrate's datagram parser and frame rebuilding (tunnel/udpwire.c): the input
 * is a sequence of datagrams, each behind a 2-byte length, fed to one link's rebuilder
 * as its socket would. Every frame that comes out is within bounds and as long as its
 * header says. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunnel/udpwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udpw_rasm r = { 0 };
	size_t off = 0;

	while (off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];
		struct udpw_hdr u;
		struct frame_hdr h;
		const uint8_t *p;
		int rc, d;

		off += 2;
		if (n > size - off)
			n = size - off;
		d = udpw_hdr_decode(data + off, n, &u);
		rc = udpw_rasm_add(&r, data + off, n, &h, &p);
		FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EBADMSG || rc == -ENOMEM);
		FUZZ_CHECK((rc == -EBADMSG) == (d < 0));
		if (d == 0) {
			FUZZ_CHECK(u.offset + u.piece <= u.h.len);
			FUZZ_CHECK(u.h.len <= FRAME_MAX_PAYLOAD);
		}
		if (rc == 1) {
			FUZZ_CHECK(h.len <= FRAME_MAX_PAYLOAD);
			FUZZ_CHECK(h.type >= 1 && h.type <= FRAME_TYPE_MAX);
			/* touch every byte: ASan catches a frame that is not all there */
			volatile uint8_t sum = 0;

			for (size_t i = 0; i < h.len; i++)
				sum = (uint8_t)(sum + p[i]);
			(void)sum;
		}
		off += n;
	}
	udpw_rasm_free(&r);
	return 0;
}
