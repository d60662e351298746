/*
 * t/fuzz/fuzz_s3event.c - libFuzzer target for storage notifications: any
 * body is parsed or refused with a message, never a crash or a leak; every
 * decoded key is a string without NUL bytes.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sources/s3event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3event *ev;
	char *cause = NULL;
	size_t n, i;

	if (size > 65536)
		return 0;
	if (s3event_parse((const char *)data, size, &ev, &n, &cause) != 0) {
		if (cause == NULL)
			abort();	/* a refusal always says why */
		free(cause);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (ev[i].uri == NULL && (ev[i].bucket == NULL || ev[i].key == NULL))
			abort();
		(void)s3event_seq_cmp(ev[i].sequencer, "0");
	}
	s3event_free(ev, n);
	return 0;
}
