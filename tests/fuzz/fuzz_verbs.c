/* What a peer hands the verbs substrate (tunnel/verbs.c): its parameters blob (from a
 * SUBSTRATE frame on the control link) and each verbs message (one frame, header and
 * payload). The first byte picks the parser: even, the blob; odd, a message. */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunnel/verbs.h"

static void params(const uint8_t *data, size_t size)
{
	struct verbs_params p;
	uint8_t again[VERBS_PARAMS_LEN];
	int r = verbs_params_decode(data, size, &p);

	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	FUZZ_CHECK(r != 0 || size == VERBS_PARAMS_LEN);
	if (r != 0)
		return;
	FUZZ_CHECK(p.peer.qp.qpn <= 0xffffff && p.peer.qp.psn <= 0xffffff);
	FUZZ_CHECK(p.peer.recv_depth > VERBS_CTRL_SLOTS && p.peer.recv_depth <= 65536);
	FUZZ_CHECK(p.peer.qp.mtu >= 256 && p.peer.qp.mtu <= 4096);
	/* what was accepted encodes back to the same bytes */
	FUZZ_CHECK(verbs_params_encode(&p, again, sizeof(again)) == VERBS_PARAMS_LEN);
	FUZZ_CHECK(memcmp(again, data, VERBS_PARAMS_LEN) == 0);
}

static void message(const uint8_t *data, size_t size)
{
	struct frame_hdr h;
	const uint8_t *payload = NULL;
	int r = verbs_msg_parse(data, size, &h, &payload);

	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EPROTONOSUPPORT || r == -EBADMSG ||
		   r == -EMSGSIZE);
	if (r != 0)
		return;
	/* exactly one whole frame, the payload right behind its header */
	FUZZ_CHECK(size == FRAME_HDR_LEN + (size_t)h.len);
	FUZZ_CHECK(payload == data + FRAME_HDR_LEN);
	FUZZ_CHECK(h.version == FRAME_VERSION && h.len <= FRAME_MAX_PAYLOAD);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		message(data + 1, size - 1);
	else
		params(data + 1, size - 1);
	return 0;
}
