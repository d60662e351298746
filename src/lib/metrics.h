/*
 * metrics.h - the process's counters by collection, for the Prometheus
 * endpoint: files seen, settled, classified, unmatched, unchanged and
 * excluded; attempts, observations stored and their bytes; failed attempts
 * by reason class; the time of the last success. And the writer of the
 * Prometheus text exposition format (version 0.0.4) the endpoint speaks.
 *
 * Process-wide on purpose, as stats.h: counted by the stages on the loop's
 * thread, kept across configuration reloads (a Prometheus counter only
 * resets when the process does), read by the endpoint.
 */
#ifndef CAOM2INGEST_METRICS_H
#define CAOM2INGEST_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "lib/stats.h"

enum metrics_counter {
	METRICS_FILES_SEEN,		/* noticed: an event, or a scan */
	METRICS_FILES_SETTLED,		/* found complete */
	METRICS_FILES_CLASSIFIED,	/* new or changed, assigned to an observation */
	METRICS_FILES_UNMATCHED,	/* matched no naming rule */
	METRICS_FILES_UNCHANGED,	/* seen again as recorded */
	METRICS_FILES_EXCLUDED,		/* left out by the collection's globs */
	METRICS_ATTEMPTS,		/* attempts at an observation started */
	METRICS_OBS_STORED,		/* observations stored (or found unchanged) */
	METRICS_FILE_BYTES,		/* bytes of the files of the observations stored */
	METRICS_DOCUMENT_BYTES,		/* bytes of CAOM-2 documents written */
	METRICS_NCOUNTERS
};

/* Why an attempt failed. */
enum metrics_class {
	METRICS_CLASS_FILE,		/* a file could not be read */
	METRICS_CLASS_MAPPING,		/* headers or blueprint could not be mapped */
	METRICS_CLASS_SINK,		/* the sink refused or failed (an HTTP status, a write) */
	METRICS_CLASS_NETWORK,		/* no answer from the repository (connection, timeout) */
	METRICS_CLASS_STATE,		/* the state store failed */
	METRICS_NCLASSES
};

/* Add n to a counter of a collection. */
void metrics_count(enum metrics_counter c, const char *collection, uint64_t n);
/* A failed attempt of a collection's observation: its class, retried or not. */
void metrics_failure(const char *collection, enum metrics_class cl, int retry);
/* An observation of collection was stored at when (seconds since the epoch). */
void metrics_success(const char *collection, double when);
/* A counter's value (0 for an unknown collection). */
uint64_t metrics_get(enum metrics_counter c, const char *collection);
/* Failed attempts of a collection by class, retried or not. */
uint64_t metrics_failures(const char *collection, enum metrics_class cl, int retry);
/* The last success of a collection (0: none since the start). */
double metrics_last_success(const char *collection);
/* The name of a reason class ("file", "mapping", ...). */
const char *metrics_class_name(enum metrics_class cl);
/* Write every family of these counters, for every collection in names (NULL-terminated:
 * the configured ones, at 0 until counted) and every one counted. */
void metrics_write(FILE *fp, const char *const *names);
/* Forget everything (tests). */
void metrics_reset(void);

/* The exposition format. A family's # HELP and # TYPE lines. */
void metrics_family(FILE *fp, const char *name, const char *type, const char *help);
/* A sample: name{label="value",...} value; nlabels pairs of (const char *) name, value
 * follow (values are escaped here). */
void metrics_sample(FILE *fp, const char *name, double value, int nlabels, ...);
/* A histogram of stats.h's buckets (seconds): name_bucket{label,le} (cumulative, up to
 * +Inf), name_sum, name_count; label may be NULL. */
void metrics_histogram(FILE *fp, const char *name, const struct stats_histogram *h,
    const char *label, const char *value);

#endif
