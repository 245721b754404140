/* The state file (tunvnet/statefile.c through statefile_parse): what a restarted daemon
 * reads first, from a disk that a crash, a full file system or a careless edit may have
 * left in any shape. Whatever it accepts must print (statefile_format) to a file it
 * accepts again, which prints the same; whatever it refuses comes with a reason and
 * leaves nothing allocated. */
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tunvnet/statefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct statefile sf, again;
	char why[256] = "", *txt, *txt2;
	int err;

	err = statefile_parse((const char *)data, size, &sf, why, sizeof(why));
	if (err < 0) {
		FUZZ_CHECK(why[0] != '\0');
		FUZZ_CHECK(!sf.jobs && !sf.routes);
		return 0;
	}
	txt = statefile_format(&sf);
	FUZZ_CHECK(txt != NULL);
	FUZZ_CHECK(statefile_parse(txt, strlen(txt), &again, why, sizeof(why)) == 0);
	FUZZ_CHECK(again.njobs == sf.njobs && again.nroutes == sf.nroutes);
	txt2 = statefile_format(&again);
	FUZZ_CHECK(txt2 != NULL && strcmp(txt, txt2) == 0);
	free(txt);
	free(txt2);
	statefile_free(&sf);
	statefile_free(&again);
	return 0;
}
