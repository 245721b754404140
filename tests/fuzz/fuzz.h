/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c): each exports
 * LLVMFuzzerTestOneInput, feeds the bytes to one parser a stranger reaches, and checks
 * what the parser accepted (a round trip through its encoder, or a naive model).
 * A broken property is a finding like a crash: FUZZ_CHECK aborts, libFuzzer writes the
 * input out. */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__,     \
				#cond);                                                           \
			abort();                                                          \
		}                                                                         \
	} while (0)

#endif
