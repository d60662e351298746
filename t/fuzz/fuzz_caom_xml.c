/*
 * t/fuzz/fuzz_caom_xml.c - libFuzzer target for the CAOM XML reader.
 *
 * Any input must be refused with a message or read into a model; a model read
 * must be written, read back and verify against the checksums computed before
 * writing (the writer and reader agree on every value).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Isrc \
 *       t/fuzz/fuzz_caom_xml.c src/caom.c src/caom_xml.c src/checksum.c \
 *       src/xmalloc.c $(pkg-config --cflags --libs libxml-2.0 libcrypto) -lm \
 *       -o fuzz_caom_xml
 *   ./fuzz_caom_xml -max_total_time=60 corpus/
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void
fuzz_ignore(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	caom_xml_init();
	xmlSetGenericErrorFunc(NULL, fuzz_ignore);
	return 0;
}

/* Write obs, read it back and check the round trip; abort on any difference. */
static void
fuzz_round_trip(struct caom_observation *obs)
{
	struct caom_observation *back = NULL;
	char *text, *again, *cause = NULL;
	size_t len;

	checksum_compute(obs);
	text = caom_xml_write(obs, &len);
	if (caom_xml_read_memory("written", text, len, &back, &cause) == -1) {
		fprintf(stderr, "written document does not read back: %s\n%s\n", cause, text);
		abort();
	}
	if (checksum_verify(back, NULL, NULL, NULL) != 0) {
		fprintf(stderr, "round trip changed a value:\n%s\n", text);
		abort();
	}
	again = caom_xml_write(back, NULL);
	if (strcmp(text, again) != 0)
		abort();
	free(again);
	free(text);
	caom_observation_free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct caom_observation *obs = NULL;
	char *cause = NULL;

	if (caom_xml_read_memory("fuzz", (const char *)data, size, &obs, &cause) == -1) {
		if (cause == NULL)
			abort();	/* every refusal says why */
		free(cause);
		return 0;
	}
	fuzz_round_trip(obs);
	caom_observation_free(obs);
	return 0;
}
