/* Every peer message body decoder in tunvnet/msg.c. The first input byte picks the
 * decoder, the rest is the body. What a decoder accepts must encode again (the encoder
 * refuses nothing the decoder let in), and to the very bytes it came from: the layouts
 * have one encoding each, so a difference is a decoder that let something odd through.
 *
 * A new message type is one line in msg_targets.h. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/msg_targets.h"
#include "tunnel/frame.h"
#include "tunvnet/msg.h"

#define LIST_MAX 8192 /* more than a frame can hold of the smallest entry */

static uint8_t out[FRAME_MAX_PAYLOAD];

/* decode, encode, compare */
#define BODY(name, type)                                                               \
	static void run_##name(const uint8_t *d, size_t n)                                \
	{                                                                                 \
		static type m;                                                            \
		int r;                                                                    \
                                                                                          \
		memset(&m, 0xa5, sizeof(m)); /* the decoder must set what it returns */   \
		r = msg_##name##_decode(d, n, &m);                                        \
		FUZZ_CHECK(r == 0 || r == -EBADMSG);                                      \
		if (r != 0)                                                               \
			return;                                                           \
		r = msg_##name##_encode(&m, out, sizeof(out));                            \
		FUZZ_CHECK(r >= 0);                                                       \
		FUZZ_CHECK((size_t)r == n && memcmp(out, d, n) == 0);                     \
	}

#define LIST(name, type)                                                               \
	static void run_##name(const uint8_t *d, size_t n)                                \
	{                                                                                 \
		static type v[LIST_MAX];                                                  \
		size_t count = 0;                                                         \
		int r;                                                                    \
                                                                                          \
		r = msg_##name##_decode(d, n, v, LIST_MAX, &count);                       \
		FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG);                       \
		if (r != 0)                                                               \
			return;                                                           \
		FUZZ_CHECK(count <= LIST_MAX);                                            \
		r = msg_##name##_encode(v, count, out, sizeof(out));                      \
		FUZZ_CHECK(r >= 0);                                                       \
		FUZZ_CHECK((size_t)r == n && memcmp(out, d, n) == 0);                     \
	}

#define DEFINE(kind, name, type) kind(name, type)
MSG_BODIES(DEFINE)

#define ENTRY(kind, name, type) [MSG_TARGET_##name] = run_##name,

static void (*const run[MSG_TARGETS])(const uint8_t *d, size_t n) = { MSG_BODIES(ENTRY) };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > FRAME_MAX_PAYLOAD)
		return 0;
	run[data[0] % MSG_TARGETS](data + 1, size - 1);
	return 0;
}
