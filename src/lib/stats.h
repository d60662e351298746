/*
 * stats.h - process-wide counters and latency histograms per stage, for
 * `caom2ingest stats`. Histograms have power-of-two microsecond buckets; a
 * percentile is interpolated within its bucket and clamped to the minimum and
 * maximum seen, so it is within a factor of two of the exact one and never
 * outside what was measured.
 */
#ifndef CAOM2INGEST_STATS_H
#define CAOM2INGEST_STATS_H

#include <stdint.h>

#include <jansson.h>

enum stats_counter {
	STATS_FILES_SETTLED,		/* files found complete */
	STATS_FILES_CLASSIFIED,		/* accepted into an observation */
	STATS_FILES_UNMATCHED,		/* matched no naming rule */
	STATS_FILES_UNCHANGED,		/* seen again, unchanged: nothing to do */
	STATS_JOBS_STARTED,
	STATS_OBS_STORED,
	STATS_OBS_RETRIED,		/* transient failures */
	STATS_OBS_FAILED,		/* permanent failures */
	STATS_INOTIFY_OVERFLOWS,	/* inotify queue overflows (each means a rescan) */
	STATS_FILES_STORED,		/* sent to storage and stored */
	STATS_FILES_PRESENT,		/* storage held them already (or only their type changed) */
	STATS_STORE_FAILED,		/* puts that failed (each attempt of a job) */
	STATS_STORE_BYTES,		/* file bytes sent to storage (also as a rate) */
	STATS_NCOUNTERS
};

enum stats_stage {
	STATS_SETTLE,			/* first look at a file -> complete */
	STATS_JOB,			/* a job's attempt: start -> outcome */
	STATS_LOOP,			/* one event-loop iteration's work (not its wait) */
	STATS_LAG,			/* an observation's first file landed -> stored */
	STATS_SCAN,			/* a full scan of the landing directories */
	STATS_STORE_PUT,		/* one upload to storage: a PUT, a segment, a part */
	STATS_STORE_FILE,		/* storing one file, asking first included */
	STATS_NSTAGES
};

#define STATS_BUCKETS	40	/* bucket i holds latencies < 2^i us; the last, the rest */

/* A copy of one stage's histogram. */
struct stats_histogram {
	uint64_t	 n;
	double		 sum;		/* seconds */
	double		 max;		/* seconds */
	uint64_t	 bucket[STATS_BUCKETS];
};

/* Count one event. */
void stats_count(enum stats_counter c);
/* Add n to a counter. */
void stats_add(enum stats_counter c, uint64_t n);
/* Record one latency of a stage in seconds. */
void stats_time(enum stats_stage s, double seconds);
/* Counters, per-stage count, p50, p90, p99 and max (ms), and the rate of
 * STATS_STORE_BYTES over the last 10 seconds ("rates": {"store_bytes_per_s"}), as a
 * JSON object. */
json_t *stats_json(void);
/* A counter's value and name. */
uint64_t stats_counter(enum stats_counter c);
const char *stats_counter_name(enum stats_counter c);
/* A stage's histogram, and its name. */
void stats_histogram(enum stats_stage s, struct stats_histogram *out);
const char *stats_stage_name(enum stats_stage s);
/* Zero everything (tests). */
void stats_reset(void);

#endif
