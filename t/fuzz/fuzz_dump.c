/*
 * t/fuzz/fuzz_dump.c - libFuzzer target for the header-dump reader: any
 * input is read into HDUs or refused with a message, never a crash or a
 * leak.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "caom/fits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fits_file *f = NULL;
	char *cause = NULL;
	size_t i;

	if (fits_read_dump("fuzz", (const char *)data, size, &f, &cause) == -1) {
		if (cause == NULL || f != NULL)
			abort();	/* every refusal says why */
		free(cause);
		return 0;
	}
	if (f == NULL)
		abort();
	for (i = 0; i < f->nhdus; i++) {
		/* exercise the lookups on what was read */
		(void)fits_hdu_value(&f->hdus[i], "NAXIS");
		(void)fits_hdu_has_data(&f->hdus[i]);
	}
	fits_file_free(f);
	return 0;
}
