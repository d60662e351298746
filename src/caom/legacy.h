/*
 * legacy.h - the legacy fits2caom2 configuration: a .config (CAOM key =
 * header keyword or name; the built-in one, legacy_default.h, when none is
 * given), a .default and an .override file (name = value, "?URI" and
 * "?URI#[N]" sections), and the blueprint (blueprint.h) they make for one
 * artifact, as the reference's update_blueprint does. Errors and warnings
 * are "FILE:LINE: message" lines.
 */
#ifndef CAOM2INGEST_LEGACY_H
#define CAOM2INGEST_LEGACY_H

#include <stddef.h>

struct blueprint;
struct legacy;

/* Read the three files (any may be NULL: config then means the built-in one). */
int legacy_load(const char *config, const char *defaults, const char *overrides,
    struct legacy **out, char **cause);
/* The same from memory (for tests and fuzzing); names are used in messages. */
int legacy_load_text(const char *config, size_t config_len, const char *defaults,
    size_t defaults_len, const char *overrides, size_t overrides_len, struct legacy **out,
    char **cause);
/* Free; NULL is accepted. */
void legacy_free(struct legacy *lg);
/*
 * The blueprint for one artifact URI: the default blueprint updated by the
 * configuration as the reference's update_blueprint does. Names that resolve
 * to nothing are appended to *warnings (FILE:LINE: ... lines, may be NULL).
 */
int legacy_blueprint(const struct legacy *lg, const char *uri, struct blueprint **out,
    char **warnings, char **cause);

#endif
