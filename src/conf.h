/*
 * conf.h - the YAML configuration file (caom2ingest.yml(5)) into a struct.
 *
 * Keys are described by a table (name, type, range, default, help); unknown
 * keys, wrong types and bad values are errors that name the file, line and
 * key. All errors of a file are reported, not just the first. Relative paths
 * are resolved against the directory of the configuration file.
 */
#ifndef CAOM2INGEST_CONF_H
#define CAOM2INGEST_CONF_H

#include <stdint.h>

#include "log.h"

#define CONF_DEFAULT_PATH	SYSCONFDIR "/caom2ingest/caom2ingest.yml"

struct conf {
	char		*path;		/* the file read, or NULL for built-in defaults */
	int		 log_target;	/* enum log_target */
	int		 log_level;	/* LOG_ERR .. LOG_DEBUG */
	char		*state_dir;	/* durable state (SQLite, directory sink) */
};

/* A configuration holding the built-in defaults. */
struct conf *conf_new(void);
/* Free a configuration; NULL is accepted. */
void conf_free(struct conf *cfg);
/* Load path over the defaults. 0, or -1 with *errors (one "FILE:LINE: ..." per line). */
int conf_load(const char *path, struct conf **out, char **errors);
/* Parse a duration such as 250ms, 2s, 5m, 1h, 1d (bare numbers are seconds); 0 or -1. */
int conf_parse_duration(const char *text, uint64_t *ms);

#endif
