/* Fault injection into the emulated fabric (fabric_emu.c), for tests: a test process (or
 * tests/tools/verbs-emu-fault) changes the shared state of device DIR/NAME and rings its
 * asynchronous event fd, as a port going down or a send failing would on hardware. */
#ifndef TUNNEL_FABRIC_EMU_H
#define TUNNEL_FABRIC_EMU_H

#include <stdint.h>

enum fabric_emu_fault {
	FABRIC_EMU_PORT_DOWN,  /* the port goes down: IBV_EVENT_PORT_ERR, sends fail */
	FABRIC_EMU_PORT_UP,
	FABRIC_EMU_FAIL_SENDS, /* the next n sends complete with RETRY_EXC */
};

/* 0 or -errno (-ENOENT: no such device). */
int fabric_emu_fault(const char *device, enum fabric_emu_fault what, uint32_t n);

#endif
