/*
 * t/fuzz/fuzz_legacy.c - libFuzzer target for the legacy fits2caom2 files:
 * the input is split at its first two NUL bytes into .config, .default and
 * .override (missing parts are empty), loaded, and turned into blueprints
 * for one artifact URI and for none; a refusal must say why. Never a crash
 * or a leak.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caom/blueprint.h"
#include "caom/legacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The blueprint for uri; abort when a refusal gives no reason. */
static void
fuzz_blueprint(const struct legacy *lg, const char *uri)
{
	struct blueprint *bp = NULL;
	char *warnings = NULL, *cause = NULL, *dump;

	if (legacy_blueprint(lg, uri, &bp, &warnings, &cause) == 0) {
		if (bp == NULL)
			abort();
		dump = blueprint_dump(bp);
		free(dump);
		blueprint_free(bp);
	} else {
		if (cause == NULL || bp != NULL)
			abort();
		free(cause);
	}
	free(warnings);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *part[3] = { "", "", "" }, *p = (const char *)data, *end = p + size, *nul;
	size_t len[3] = { 0, 0, 0 };
	struct legacy *lg = NULL;
	char *cause = NULL;
	int i;

	for (i = 0; i < 3 && p <= end; i++) {
		nul = i < 2 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		part[i] = p;
		len[i] = (size_t)((nul != NULL ? nul : end) - p);
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	if (legacy_load_text(part[0], len[0], part[1], len[1], part[2], len[2], &lg,
	    &cause) != 0) {
		if (cause == NULL || lg != NULL)
			abort();
		free(cause);
		return 0;
	}
	fuzz_blueprint(lg, "ad:X/f.fits");
	fuzz_blueprint(lg, NULL);
	legacy_free(lg);
	return 0;
}
