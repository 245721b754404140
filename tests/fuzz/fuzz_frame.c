/* The frame header (tunnel/frame.c): the first 8 bytes of everything a peer sends. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunnel/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_hdr h;
	uint8_t again[FRAME_HDR_LEN];
	int r = frame_hdr_decode(data, size, &h);

	FUZZ_CHECK(r == 0 || r == -EAGAIN || r == -EPROTONOSUPPORT || r == -EBADMSG ||
		   r == -EMSGSIZE);
	FUZZ_CHECK((r == -EAGAIN) == (size < FRAME_HDR_LEN));
	FUZZ_CHECK(frame_type_name(size ? data[0] : 0) != NULL);
	if (r != 0)
		return 0;
	FUZZ_CHECK(h.version == FRAME_VERSION);
	FUZZ_CHECK(h.len <= FRAME_MAX_PAYLOAD);
	FUZZ_CHECK(h.type >= 1 && h.type <= FRAME_TYPE_MAX);
	FUZZ_CHECK(strcmp(frame_type_name(h.type), "?") != 0);
	/* what was accepted encodes back to the same bytes */
	frame_hdr_encode(again, h.type, h.flags, h.len);
	FUZZ_CHECK(memcmp(again, data, FRAME_HDR_LEN) == 0);
	return 0;
}
