/* A byte stream cut back into frames (the TCP substrate's input side, on its own so
 * that a fuzzer can feed it any stream in any pieces: tests/fuzz/fuzz_reasm.c).
 *
 * Bytes are read into the tail of one fixed buffer (reasm_tail, reasm_wrote); whole
 * frames are taken from the front (reasm_next) and handed over in place, without a copy;
 * after a round of reasm_next, reasm_compact moves an unfinished frame to the front only
 * when less than half the buffer is left behind it (a few times per megabyte). Frames
 * of up to cap / 2 bytes are cut, so a buffer for the substrate holds at least two
 * largest frames (REASM_MIN_CAP); there is then always room to read into while a frame
 * is unfinished. */
#ifndef TUNNEL_REASM_H
#define TUNNEL_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/frame.h"

#define REASM_FRAME_MAX (FRAME_HDR_LEN + FRAME_MAX_PAYLOAD)
#define REASM_MIN_CAP   (2 * REASM_FRAME_MAX)

struct reasm {
	uint8_t *buf;     /* cap bytes, the owner's */
	size_t cap;
	size_t off, len;  /* unread bytes are buf[off .. len) */
};

/* Where the next read goes, and how much fits there (> 0 once compacted). */
uint8_t *reasm_tail(struct reasm *r, size_t *room);
/* n bytes were read into the tail. */
void reasm_wrote(struct reasm *r, size_t n);
/* The next whole frame: 1 with *h and *payload (h->len bytes, valid until the next
 * reasm_compact); 0 when no whole frame is there yet; -EPROTONOSUPPORT, -EBADMSG or
 * -EMSGSIZE (frame_hdr_decode) when the stream is broken: *h says what was read. */
int reasm_next(struct reasm *r, struct frame_hdr *h, const uint8_t **payload);
/* Makes room behind an unfinished frame (see above). */
void reasm_compact(struct reasm *r);

#endif
