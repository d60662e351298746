/*
 * blueprint_load.h - the blueprint text format (caom2utils
 * ObsBlueprint.load_from_file): "KEY = VALUE" lines, "# comments" and
 * "extension N:" lines after which Chunk keys are HDU N's, read over a
 * blueprint (blueprint.h). Every bad line is reported as "FILE:LINE:
 * message", and axis problems as "FILE: message", all of them at once.
 */
#ifndef CAOM2INGEST_BLUEPRINT_LOAD_H
#define CAOM2INGEST_BLUEPRINT_LOAD_H

#include <stddef.h>

struct blueprint;

/* Load a blueprint text file over bp (normally blueprint_new()); 0, or -1 with
 * *cause listing every error. */
int blueprint_load(struct blueprint *bp, const char *path, char **cause);
/* The same from memory; name is used in messages. */
int blueprint_load_text(struct blueprint *bp, const char *name, const char *text, size_t len,
    char **cause);

#endif
