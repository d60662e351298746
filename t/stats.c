/*
 * t/stats.c - latency percentiles: interpolated within their power-of-two
 * bucket and never outside the minimum and maximum measured (a P50 above the
 * maximum was what an operator saw: 65.5 ms with a maximum of 44.9 ms).
 */
#include "config.h"

#include <stdio.h>

#include "lib/stats.h"
#include "tap.h"

static double
field(json_t *o, const char *stage, const char *key)
{
	return json_real_value(json_object_get(json_object_get(json_object_get(o, "latency"),
	    stage), key));
}

/* The percentiles of stage in order, none beyond the extremes (min given by the test). */
static void
ordered(json_t *o, const char *stage, double min_ms, const char *what)
{
	double p50 = field(o, stage, "p50_ms"), p90 = field(o, stage, "p90_ms");
	double p99 = field(o, stage, "p99_ms"), max = field(o, stage, "max_ms");

	ok(min_ms <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
	    "%s: min <= P50 <= P90 <= P99 <= max", what);
	if (!(min_ms <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max))
		diag("min %g P50 %g P90 %g P99 %g max %g", min_ms, p50, p90, p99, max);
}

int
main(void)
{
	json_t *o;
	int i;

	plan(12);

	/* all alike: every percentile is the one value */
	for (i = 0; i < 10; i++)
		stats_time(STATS_JOB, 0.0449);
	o = stats_json();
	is_double(field(o, "job", "max_ms"), 44.9, 1e-9, "max 44.9 ms");
	is_double(field(o, "job", "p50_ms"), 44.9, 1e-9, "P50 of ten 44.9 ms is 44.9, not 65.5");
	is_double(field(o, "job", "p99_ms"), 44.9, 1e-9, "P99 too");
	json_decref(o);
	stats_reset();

	/* 1 to 100 ms evenly: within the bucket, near the exact percentile */
	for (i = 1; i <= 100; i++)
		stats_time(STATS_SETTLE, i / 1e3);
	o = stats_json();
	ordered(o, "settle", 1., "1..100 ms");
	ok(field(o, "settle", "p50_ms") > 40 && field(o, "settle", "p50_ms") < 60,
	    "P50 of 1..100 ms is near 50 (%g)", field(o, "settle", "p50_ms"));
	ok(field(o, "settle", "p90_ms") > 80 && field(o, "settle", "p90_ms") <= 100,
	    "P90 is near 90 (%g)", field(o, "settle", "p90_ms"));
	is_double(field(o, "settle", "max_ms"), 100., 1e-9, "max 100 ms");
	json_decref(o);
	stats_reset();

	/* a long tail: the tail's percentile lands in its bucket, below the max */
	for (i = 0; i < 98; i++)
		stats_time(STATS_LOOP, 0.0001);
	stats_time(STATS_LOOP, 0.5);
	stats_time(STATS_LOOP, 0.7);
	o = stats_json();
	ordered(o, "loop_iteration", 0.1, "98 x 0.1 ms, 500 ms, 700 ms");
	is_double(field(o, "loop_iteration", "p50_ms"), 0.1, 1e-9, "P50 is the common 0.1 ms");
	ok(field(o, "loop_iteration", "p99_ms") >= 500 &&
	    field(o, "loop_iteration", "p99_ms") <= 700, "P99 is in the tail, at most its max (%g)",
	    field(o, "loop_iteration", "p99_ms"));
	json_decref(o);

	/* nothing measured: zeros */
	o = stats_json();
	is_double(field(o, "job", "p50_ms"), 0., 0., "no measurement: P50 0");
	json_decref(o);
	stats_reset();
	o = stats_json();
	is_double(field(o, "settle", "max_ms"), 0., 0., "after a reset: max 0");
	json_decref(o);
	return 0;
}
