/* The TCP substrate's stream reassembly (tunnel/reasm.c): any byte stream, cut into any
 * pieces, must come out as exactly the frames a plain parse of the whole stream finds,
 * with the same headers and payload bytes, in order, and stop at the same error; the
 * buffer must always have room to read into while a frame is unfinished.
 *
 * Input: byte 0 picks the buffer's size (small, so that compaction happens often),
 * byte 1 seeds the piece sizes, the rest is the stream. Frames longer than half the
 * buffer are beyond what such a buffer cuts: the stream is taken up to the first. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunnel/reasm.h"

#define MAX_FRAMES 4096

struct model_frame {
	size_t off; /* of the header in the stream */
	struct frame_hdr h;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[64 + 255 * 32];
	static struct model_frame want[MAX_FRAMES];
	const uint8_t *stream;
	size_t n, nwant = 0, off = 0, fed = 0, got = 0, end;
	struct reasm r;
	uint32_t rng;
	int model_err = 0;

	if (size < 2)
		return 0;
	r = (struct reasm){ .buf = buf, .cap = 64 + (size_t)data[0] * 32 };
	rng = data[1] * 2654435761u + 1;
	stream = data + 2;
	n = size - 2;

	/* The model: the whole stream parsed at once. */
	while (nwant < MAX_FRAMES) {
		struct frame_hdr h;
		int e = frame_hdr_decode(stream + off, n - off, &h);

		if (e == -EAGAIN)
			break;
		if (e < 0) {
			model_err = e;
			break;
		}
		if (FRAME_HDR_LEN + (size_t)h.len > r.cap / 2)
			break; /* beyond this buffer: stop the stream here */
		if (n - off - FRAME_HDR_LEN < h.len)
			break;
		want[nwant++] = (struct model_frame){ off, h };
		off += FRAME_HDR_LEN + h.len;
	}
	/* What is fed: up to the model's stop, plus the unfinished rest when it fits. */
	end = off;
	if (!model_err && nwant < MAX_FRAMES)
		end = n - off <= r.cap / 2 ? n : off;
	if (model_err)
		end = n;

	/* The same stream in pieces of 1.. bytes, as reads would bring it. */
	while (fed < end) {
		uint8_t *tail;
		size_t room, piece;
		int e;

		tail = reasm_tail(&r, &room);
		FUZZ_CHECK(room > 0);
		rng = rng * 1103515245u + 12345u;
		piece = 1 + (rng >> 16) % (rng & 0x100 ? 7 : 700);
		if (piece > room)
			piece = room;
		if (piece > end - fed)
			piece = end - fed;
		memcpy(tail, stream + fed, piece);
		reasm_wrote(&r, piece);
		fed += piece;
		for (;;) {
			struct frame_hdr h;
			const uint8_t *payload;

			e = reasm_next(&r, &h, &payload);
			if (e <= 0)
				break;
			FUZZ_CHECK(got < nwant);
			FUZZ_CHECK(h.type == want[got].h.type && h.flags == want[got].h.flags &&
				   h.len == want[got].h.len);
			FUZZ_CHECK(memcmp(payload, stream + want[got].off + FRAME_HDR_LEN,
					  h.len) == 0);
			got++;
		}
		if (e < 0) {
			/* a broken stream: where and why the model broke */
			FUZZ_CHECK(got == nwant && e == model_err);
			return 0;
		}
		reasm_compact(&r);
	}
	FUZZ_CHECK(got == nwant);
	FUZZ_CHECK(!model_err || end == off); /* an error needs its 8 bytes, fed above */
	return 0;
}
