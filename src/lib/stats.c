/*
 * stats.c - process-wide counters and latency histograms.
 *
 * Global on purpose: these are the process's own metrics, touched from every
 * stage of the one event loop, and read only by the stats command.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "lib/stats.h"

#define STATS_BUCKETS	40	/* bucket i holds latencies < 2^i us */
#define STATS_RATE_SLOTS 16	/* one per second */
#define STATS_RATE_SPAN	10	/* seconds averaged */

struct stats_hist {
	uint64_t	 n;
	uint64_t	 bucket[STATS_BUCKETS];
	double		 min;		/* seconds */
	double		 max;
	double		 sum;
};

static uint64_t		 stats_counters[STATS_NCOUNTERS];
static struct stats_hist stats_hists[STATS_NSTAGES];

/* Bytes stored, per second of the monotonic clock, for the rate. */
static struct {
	int64_t		 second[STATS_RATE_SLOTS];
	uint64_t	 bytes[STATS_RATE_SLOTS];
} stats_rate;

static const char *const stats_counter_names[STATS_NCOUNTERS] = {
	[STATS_FILES_SETTLED] = "files_settled",
	[STATS_FILES_CLASSIFIED] = "files_classified",
	[STATS_FILES_UNMATCHED] = "files_unmatched",
	[STATS_FILES_UNCHANGED] = "files_unchanged",
	[STATS_JOBS_STARTED] = "jobs_started",
	[STATS_OBS_STORED] = "observations_stored",
	[STATS_OBS_RETRIED] = "observations_retried",
	[STATS_OBS_FAILED] = "observations_failed",
	[STATS_INOTIFY_OVERFLOWS] = "inotify_overflows",
	[STATS_FILES_STORED] = "files_stored",
	[STATS_FILES_PRESENT] = "files_already_stored",
	[STATS_STORE_FAILED] = "store_failures",
	[STATS_STORE_BYTES] = "store_bytes",
};

static const char *const stats_stage_names[STATS_NSTAGES] = {
	[STATS_SETTLE] = "settle",
	[STATS_JOB] = "job",
	[STATS_LOOP] = "loop_iteration",
	[STATS_LAG] = "ingest_lag",
	[STATS_SCAN] = "scan",
	[STATS_STORE_PUT] = "store_put",
	[STATS_STORE_FILE] = "store_file",
};

static int64_t
stats_second(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static void
stats_rate_add(uint64_t n)
{
	int64_t now = stats_second();
	size_t i = (size_t)(now % STATS_RATE_SLOTS);

	if (stats_rate.second[i] != now) {
		stats_rate.second[i] = now;
		stats_rate.bytes[i] = 0;
	}
	stats_rate.bytes[i] += n;
}

/* Bytes per second over the last STATS_RATE_SPAN whole seconds. */
static double
stats_rate_get(void)
{
	int64_t now = stats_second(), s;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < STATS_RATE_SLOTS; i++) {
		s = stats_rate.second[i];
		if (s < now && s >= now - STATS_RATE_SPAN)
			sum += stats_rate.bytes[i];
	}
	return (double)sum / STATS_RATE_SPAN;
}

void
stats_count(enum stats_counter c)
{
	stats_counters[c]++;
}

void
stats_add(enum stats_counter c, uint64_t n)
{
	stats_counters[c] += n;
	if (c == STATS_STORE_BYTES)
		stats_rate_add(n);
}

void
stats_time(enum stats_stage s, double seconds)
{
	struct stats_hist *h = &stats_hists[s];
	double us = seconds * 1e6;
	int i = 0;

	while (i < STATS_BUCKETS - 1 && us >= (double)((uint64_t)1 << i))
		i++;
	h->bucket[i]++;
	if (h->n == 0 || seconds < h->min)
		h->min = seconds;
	h->n++;
	h->sum += seconds;
	if (seconds > h->max)
		h->max = seconds;
}

/*
 * The q-quantile (ms): the bucket that holds it, [2^(i-1), 2^i) us, is taken as
 * evenly filled and the value interpolated within it by rank (as Prometheus'
 * histogram_quantile does), then clamped to what was seen, so that no
 * percentile is below the minimum or above the maximum.
 */
static double
stats_quantile(const struct stats_hist *h, double q)
{
	double want = (double)h->n * q, lo, hi, us;
	uint64_t seen = 0;
	int i;

	for (i = 0; i < STATS_BUCKETS - 1; i++) {
		if (h->bucket[i] > 0 && (double)(seen + h->bucket[i]) >= want)
			break;
		seen += h->bucket[i];
	}
	lo = i == 0 ? 0. : (double)((uint64_t)1 << (i - 1));
	hi = (double)((uint64_t)1 << i);
	us = h->bucket[i] == 0 ? hi : lo + (hi - lo) * (want - (double)seen) /
	    (double)h->bucket[i];
	if (us < h->min * 1e6)
		us = h->min * 1e6;
	if (us > h->max * 1e6)
		us = h->max * 1e6;
	return us / 1e3;
}

json_t *
stats_json(void)
{
	json_t *o = json_object(), *c = json_object(), *l = json_object();
	const struct stats_hist *h;
	int i;

	for (i = 0; i < STATS_NCOUNTERS; i++)
		json_object_set_new(c, stats_counter_names[i], json_integer((json_int_t)stats_counters[i]));
	for (i = 0; i < STATS_NSTAGES; i++) {
		h = &stats_hists[i];
		json_object_set_new(l, stats_stage_names[i], json_pack("{s:I, s:f, s:f, s:f, s:f}",
		    "count", (json_int_t)h->n, "p50_ms", h->n ? stats_quantile(h, 0.5) : 0.,
		    "p90_ms", h->n ? stats_quantile(h, 0.9) : 0., "p99_ms",
		    h->n ? stats_quantile(h, 0.99) : 0., "max_ms", h->max * 1e3));
	}
	json_object_set_new(o, "counters", c);
	json_object_set_new(o, "latency", l);
	json_object_set_new(o, "rates", json_pack("{s:f}", "store_bytes_per_s",
	    stats_rate_get()));
	return o;
}

uint64_t
stats_counter(enum stats_counter c)
{
	return stats_counters[c];
}

const char *
stats_counter_name(enum stats_counter c)
{
	return stats_counter_names[c];
}

void
stats_histogram(enum stats_stage s, struct stats_histogram *out)
{
	const struct stats_hist *h = &stats_hists[s];

	out->n = h->n;
	out->sum = h->sum;
	out->max = h->max;
	memcpy(out->bucket, h->bucket, sizeof out->bucket);
}

const char *
stats_stage_name(enum stats_stage s)
{
	return stats_stage_names[s];
}

void
stats_reset(void)
{
	memset(stats_counters, 0, sizeof stats_counters);
	memset(stats_hists, 0, sizeof stats_hists);
}
