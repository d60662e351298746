/*
 * log.h - structured logging to journald, or readable lines on stderr.
 *
 * Records go to the journal (with PRIORITY, MESSAGE, CODE_FILE, CODE_LINE,
 * CODE_FUNC, SYSLOG_IDENTIFIER and any extra fields such as COLLECTION,
 * OBSERVATION_ID, FILE) when the target is journal, or when it is auto and
 * stderr is connected to the journal (JOURNAL_STREAM). Otherwise one line per
 * record goes to stderr. log_warn* variants append strerror(errno); the
 * *x variants do not.
 */
#ifndef CAOM2INGEST_LOG_H
#define CAOM2INGEST_LOG_H

#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO,
	LOG_TARGET_JOURNAL,
	LOG_TARGET_STDERR
};

/* An extra structured field; lists end with a {NULL, NULL} entry. */
struct log_field {
	const char	*name;	/* upper case, [A-Z0-9_] */
	const char	*value;	/* NULL fields are skipped */
};

/* A field list literal: LOG_FIELDS({"FILE", path}, {"OBSERVATION_ID", id}). */
#define LOG_FIELDS(...) ((const struct log_field[]){ __VA_ARGS__, { NULL, NULL } })

/* Set the identifier, maximum priority logged and target. */
void log_init(const char *ident, int level, enum log_target target);
/* Change the maximum priority logged (LOG_ERR .. LOG_DEBUG). */
void log_set_level(int level);
/* Change the target. */
void log_set_target(enum log_target target);
/* True when records currently go to the journal. */
int log_to_journal(void);
/* Parse a level name (debug, info, notice, warning, error); 0 or -1. */
int log_level_from_name(const char *name, int *level);
/* The name of a level. */
const char *log_level_name(int level);

/* Emit one record; errnum != 0 appends ": strerror(errnum)". */
void log_emit(int prio, const char *file, int line, const char *func, int errnum,
    const struct log_field *fields, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#define log_at(prio, err, fields, ...) \
	log_emit((prio), __FILE__, __LINE__, __func__, (err), (fields), __VA_ARGS__)
#define log_warn(...)	log_at(LOG_WARNING, errno, NULL, __VA_ARGS__)
#define log_warnx(...)	log_at(LOG_WARNING, 0, NULL, __VA_ARGS__)
#define log_errx(...)	log_at(LOG_ERR, 0, NULL, __VA_ARGS__)
#define log_err(...)	log_at(LOG_ERR, errno, NULL, __VA_ARGS__)
#define log_notice(...)	log_at(LOG_NOTICE, 0, NULL, __VA_ARGS__)
#define log_info(...)	log_at(LOG_INFO, 0, NULL, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_DEBUG, 0, NULL, __VA_ARGS__)

/* Log at LOG_CRIT with strerror(errno) and exit(exitcode); start-up and main only. */
#define fatal(exitcode, ...) do { \
	log_at(LOG_CRIT, errno, NULL, __VA_ARGS__); exit(exitcode); } while (0)
/* Log at LOG_CRIT and exit(exitcode); start-up and main only. */
#define fatalx(exitcode, ...) do { \
	log_at(LOG_CRIT, 0, NULL, __VA_ARGS__); exit(exitcode); } while (0)

#endif
