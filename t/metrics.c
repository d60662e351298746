/*
 * t/metrics.c - the counters by collection and the Prometheus text format:
 * label values escaped, numbers written exactly, histograms cumulative with
 * exact bucket bounds and +Inf, every configured collection present.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "lib/stats.h"
#include "tap.h"

/* What fn wrote, as a string (malloc'ed). */
static char *
captured(void (*fn)(FILE *, void *), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		bail("open_memstream");
	fn(fp, arg);
	fclose(fp);
	return buf;
}

static void
write_samples(FILE *fp, void *arg)
{
	metrics_family(fp, "x_total", "counter", "a \\ help\nline");
	metrics_sample(fp, "x_total", 3, 1, "collection", "a\"b\\c\nd");
	metrics_sample(fp, "x_total", 0.25, 0);
	metrics_sample(fp, "x_total", 1796175233.119, 0);
	metrics_sample(fp, "x_total", INFINITY, 0);
	metrics_sample(fp, "x_total", NAN, 0);
}

static void
write_histogram(FILE *fp, void *arg)
{
	metrics_histogram(fp, "h_seconds", arg, "stage", "job");
}

static void
write_counters(FILE *fp, void *arg)
{
	metrics_write(fp, arg);
}

static void
test_format(void)
{
	char *s = captured(write_samples, NULL);

	is_string("# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\n"
	    "x_total{collection=\"a\\\"b\\\\c\\nd\"} 3\nx_total 0.25\nx_total 1796175233.119\n"
	    "x_total +Inf\nx_total NaN\n", s,
	    "HELP and label values escaped; integers exact, others in full, +Inf, NaN");
	free(s);
}

static void
test_histogram(void)
{
	struct stats_histogram h;
	char *s;

	stats_reset();
	stats_time(STATS_JOB, 0.000003);	/* 3 us: under 4 us */
	stats_time(STATS_JOB, 0.5);
	stats_time(STATS_JOB, 0.5);
	stats_histogram(STATS_JOB, &h);
	s = captured(write_histogram, &h);
	ok(strstr(s, "h_seconds_bucket{stage=\"job\",le=\"0.000002\"} 0\n") != NULL &&
	    strstr(s, "h_seconds_bucket{stage=\"job\",le=\"0.000004\"} 1\n") != NULL,
	    "buckets are cumulative, their bounds 2^i us written exactly");
	ok(strstr(s, "h_seconds_bucket{stage=\"job\",le=\"0.524288\"} 3\n") != NULL &&
	    strstr(s, "h_seconds_bucket{stage=\"job\",le=\"0.262144\"} 1\n") != NULL,
	    "a latency counts in the first bucket whose bound is above it");
	ok(strstr(s, "h_seconds_bucket{stage=\"job\",le=\"+Inf\"} 3\n") != NULL &&
	    strstr(s, "h_seconds_count{stage=\"job\"} 3\n") != NULL,
	    "+Inf is the count");
	ok(strstr(s, "h_seconds_sum{stage=\"job\"} 1.000003\n") != NULL, "the sum, in seconds");
	ok(strstr(s, "le=\"274877.906944\"") != NULL && strstr(s, "le=\"549755.813888\"") == NULL,
	    "the last finite bound is 2^38 us: the last bucket holds the rest");
	free(s);
}

static void
test_counters(void)
{
	static const char *const names[] = { "OMM", "DAO", NULL };
	char *s;

	metrics_reset();
	metrics_count(METRICS_FILES_SEEN, "OMM", 2);
	metrics_count(METRICS_FILES_SEEN, "OMM", 1);
	metrics_count(METRICS_FILES_SEEN, "GONE", 5);
	metrics_failure("DAO", METRICS_CLASS_NETWORK, 1);
	metrics_failure("DAO", METRICS_CLASS_NETWORK, 0);
	metrics_failure("DAO", METRICS_CLASS_NETWORK, 0);
	metrics_success("OMM", 100.5);
	metrics_success("OMM", 99);
	is_int(3, (long long)metrics_get(METRICS_FILES_SEEN, "OMM"), "counts add up");
	is_int(0, (long long)metrics_get(METRICS_FILES_SEEN, "NONE"), "an unknown collection: 0");
	is_double(100.5, metrics_last_success("OMM"), 0, "the last success is the latest");
	s = captured(write_counters, (void *)(uintptr_t)names);
	ok(strstr(s, "caom2ingest_files_seen_total{collection=\"DAO\"} 0\n"
	    "caom2ingest_files_seen_total{collection=\"GONE\"} 5\n"
	    "caom2ingest_files_seen_total{collection=\"OMM\"} 3\n") != NULL,
	    "every configured collection (at 0) and every counted one, sorted, once");
	ok(strstr(s, "caom2ingest_attempt_failures_total{collection=\"DAO\",class=\"network\","
	    "outcome=\"retry\"} 1\ncaom2ingest_attempt_failures_total{collection=\"DAO\","
	    "class=\"network\",outcome=\"failed\"} 2\n") != NULL,
	    "failures by class and outcome");
	ok(strstr(s, "# TYPE caom2ingest_last_success_timestamp_seconds gauge\n") != NULL &&
	    strstr(s, "caom2ingest_last_success_timestamp_seconds{collection=\"OMM\"} 100.5\n")
	    != NULL, "the last success, a gauge");
	free(s);
	metrics_reset();
}

int
main(void)
{
	plan(12);
	test_format();
	test_histogram();
	test_counters();
	return 0;
}
