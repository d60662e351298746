/*
 * t/fuzz/fuzz_control.c - libFuzzer target for the control protocol's
 * request parser: any line is parsed or refused with a message, never a
 * crash or a leak.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = NULL;
	char *line, *error = NULL;
	json_t *req = NULL;

	if (size > CONTROL_MAX_LINE)
		return 0;
	line = malloc(size + 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (control_parse_request(line, &req, &name, &error) == 0) {
		if (name == NULL || req == NULL)
			abort();
		json_decref(req);
	} else {
		if (error == NULL || req != NULL)
			abort();
		free(error);
	}
	free(line);
	return 0;
}
