/* verbs-emu-fault DEVICE port-down|port-up|fail-sends N — injects a fault into an
 * emulated verbs device (tunnel/fabric_emu.h) that a test daemon runs on
 * (TUNVNET_TEST_VERBS_EMU=DEVICE): its port goes down or up, or its next N sends complete
 * in error. Tests only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/fabric_emu.h"

int main(int argc, char **argv)
{
	enum fabric_emu_fault what;
	uint32_t n = 0;
	int err;

	if (argc < 3)
		goto usage;
	if (strcmp(argv[2], "port-down") == 0 && argc == 3)
		what = FABRIC_EMU_PORT_DOWN;
	else if (strcmp(argv[2], "port-up") == 0 && argc == 3)
		what = FABRIC_EMU_PORT_UP;
	else if (strcmp(argv[2], "fail-sends") == 0 && argc == 4)
		what = FABRIC_EMU_FAIL_SENDS, n = (uint32_t)strtoul(argv[3], NULL, 10);
	else
		goto usage;
	err = fabric_emu_fault(argv[1], what, n);
	if (err < 0) {
		fprintf(stderr, "verbs-emu-fault: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: verbs-emu-fault DIR/NAME port-down|port-up|fail-sends N\n");
	return 2;
}
