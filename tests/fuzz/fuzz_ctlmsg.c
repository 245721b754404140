/* The control request parser (tunvnet/ctlmsg.c): one line from a local client. What it
 * accepts must encode (ctlmsg_request_encode) to a line that parses to the same request.
 * The reply parser, the client's side of the same protocol, gets the bytes too. */
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/ctlmsg.h"

static struct ctl_request req, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	char why[256], *enc, *msg = NULL;
	json_t *result = NULL;
	enum ctl_err e;

	if (size > CTL_LINE_MAX + 16)
		return 0;
	e = ctlmsg_request_parse(line, size, &req, why, sizeof(why));
	FUZZ_CHECK((unsigned)e < CTL_ERR_MAX);
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	if (e == CTL_OK) {
		FUZZ_CHECK((unsigned)req.cmd < CTL_CMD_MAX);
		enc = ctlmsg_request_encode(&req);
		FUZZ_CHECK(enc != NULL);
		e = ctlmsg_request_parse(enc, strlen(enc), &again, why, sizeof(why));
		if (e != CTL_OK)
			fprintf(stderr, "re-parse of %s failed: %s\n", enc, why);
		FUZZ_CHECK(e == CTL_OK);
		FUZZ_CHECK(memcmp(&req, &again, sizeof(req)) == 0);
		free(enc);
	}
	e = ctlmsg_reply_parse(line, size, &result, &msg);
	FUZZ_CHECK((unsigned)e <= CTL_ERR_MAX);
	FUZZ_CHECK(e != CTL_OK || msg == NULL);
	json_decref(result);
	free(msg);
	return 0;
}
