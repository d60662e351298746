/*
 * t/fuzz/fuzz_blueprint.c - libFuzzer target for the blueprint text format:
 * any input is loaded (and dumped) or refused with FILE:LINE messages,
 * never a crash or a leak.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "caom/blueprint.h"
#include "caom/blueprint_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blueprint *bp = blueprint_new();
	char *cause = NULL, *dump;

	if (blueprint_load_text(bp, "fuzz", (const char *)data, size, &cause) == 0) {
		dump = blueprint_dump(bp);
		if (dump == NULL)
			abort();
		free(dump);
	} else {
		if (cause == NULL)
			abort();	/* every refusal says why */
		free(cause);
	}
	blueprint_free(bp);
	return 0;
}
