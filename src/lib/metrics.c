/*
 * metrics.c - counters by collection and the Prometheus text format.
 *
 * The format is written here rather than with a client library: Debian has
 * no C Prometheus client in its archive (prometheus-client-c is not
 * packaged), and what the endpoint needs is a few lines of escaping and
 * number formatting (the format's rules:
 * https://prometheus.io/docs/instrumenting/exposition_formats/).
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

struct metrics_coll {
	uint64_t	 counter[METRICS_NCOUNTERS];
	uint64_t	 failures[METRICS_NCLASSES][2];	/* [class][retry] */
	double		 last_success;
};

static struct strmap *metrics_colls;	/* collection -> struct metrics_coll */

static const struct {
	const char	*name;
	const char	*help;
} metrics_counters[METRICS_NCOUNTERS] = {
	[METRICS_FILES_SEEN] = { "caom2ingest_files_seen_total",
	    "Files noticed in the landing directories (an inotify event or a scan)" },
	[METRICS_FILES_SETTLED] = { "caom2ingest_files_settled_total",
	    "Files found complete (renamed into place, or quiet for the settle period)" },
	[METRICS_FILES_CLASSIFIED] = { "caom2ingest_files_classified_total",
	    "New or changed files a naming rule assigned to an observation" },
	[METRICS_FILES_UNMATCHED] = { "caom2ingest_files_unmatched_total",
	    "Files that matched no naming rule" },
	[METRICS_FILES_UNCHANGED] = { "caom2ingest_files_unchanged_total",
	    "Files seen again as the state store records them (nothing to do)" },
	[METRICS_FILES_EXCLUDED] = { "caom2ingest_files_excluded_total",
	    "Files left out by the collection's include and exclude globs" },
	[METRICS_ATTEMPTS] = { "caom2ingest_attempts_total",
	    "Attempts at storing an observation started" },
	[METRICS_OBS_STORED] = { "caom2ingest_observations_stored_total",
	    "Observations stored in the sink (or found unchanged there)" },
	[METRICS_FILE_BYTES] = { "caom2ingest_stored_file_bytes_total",
	    "Bytes of the files of the observations stored" },
	[METRICS_DOCUMENT_BYTES] = { "caom2ingest_stored_document_bytes_total",
	    "Bytes of CAOM-2 documents written to the sink" },
};

static const char *const metrics_classes[METRICS_NCLASSES] = {
	[METRICS_CLASS_FILE] = "file",
	[METRICS_CLASS_MAPPING] = "mapping",
	[METRICS_CLASS_SINK] = "sink",
	[METRICS_CLASS_NETWORK] = "network",
	[METRICS_CLASS_STATE] = "state",
};

static struct metrics_coll *
metrics_coll(const char *collection, int create)
{
	struct metrics_coll *m;

	if (metrics_colls == NULL) {
		if (!create)
			return NULL;
		metrics_colls = strmap_new();
	}
	if ((m = strmap_get(metrics_colls, collection)) == NULL && create) {
		m = xcalloc(1, sizeof *m);
		strmap_put(metrics_colls, collection, m);
	}
	return m;
}

void
metrics_count(enum metrics_counter c, const char *collection, uint64_t n)
{
	if (collection != NULL)
		metrics_coll(collection, 1)->counter[c] += n;
}

void
metrics_failure(const char *collection, enum metrics_class cl, int retry)
{
	if (collection != NULL)
		metrics_coll(collection, 1)->failures[cl][retry != 0]++;
}

void
metrics_success(const char *collection, double when)
{
	struct metrics_coll *m;

	if (collection != NULL && (m = metrics_coll(collection, 1))->last_success < when)
		m->last_success = when;
}

uint64_t
metrics_get(enum metrics_counter c, const char *collection)
{
	const struct metrics_coll *m = metrics_coll(collection, 0);

	return m != NULL ? m->counter[c] : 0;
}

uint64_t
metrics_failures(const char *collection, enum metrics_class cl, int retry)
{
	const struct metrics_coll *m = metrics_coll(collection, 0);

	return m != NULL ? m->failures[cl][retry != 0] : 0;
}

double
metrics_last_success(const char *collection)
{
	const struct metrics_coll *m = metrics_coll(collection, 0);

	return m != NULL ? m->last_success : 0;
}

const char *
metrics_class_name(enum metrics_class cl)
{
	return metrics_classes[cl];
}

static void
metrics_free_one(const char *key, void *value, void *arg)
{
	free(value);
}

void
metrics_reset(void)
{
	if (metrics_colls != NULL)
		strmap_each(metrics_colls, metrics_free_one, NULL);
	strmap_free(metrics_colls);
	metrics_colls = NULL;
}

/* A label value with \, " and newline escaped, as the format wants. */
static void
metrics_escaped(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
}

/* A HELP text escapes \ and newline only. */
void
metrics_family(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s ", name);
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			fputs("\\\\", fp);
		else if (*help == '\n')
			fputs("\\n", fp);
		else
			fputc(*help, fp);
	}
	fprintf(fp, "\n# TYPE %s %s\n", name, type);
}

static void
metrics_number(FILE *fp, double v)
{
	if (isnan(v))
		fputs("NaN", fp);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", fp);
	else if (v == floor(v) && fabs(v) < 9007199254740992.)	/* 2^53: exact */
		fprintf(fp, "%.0f", v);
	else
		fprintf(fp, "%.15g", v);
}

static void
metrics_vsample(FILE *fp, const char *name, double value, int nlabels, va_list ap)
{
	const char *k, *v;
	int i;

	fputs(name, fp);
	for (i = 0; i < nlabels; i++) {
		k = va_arg(ap, const char *);
		v = va_arg(ap, const char *);
		fprintf(fp, "%s%s=\"", i == 0 ? "{" : ",", k);
		metrics_escaped(fp, v != NULL ? v : "");
		fputc('"', fp);
	}
	fputs(nlabels > 0 ? "} " : " ", fp);
	metrics_number(fp, value);
	fputc('\n', fp);
}

void
metrics_sample(FILE *fp, const char *name, double value, int nlabels, ...)
{
	va_list ap;

	va_start(ap, nlabels);
	metrics_vsample(fp, name, value, nlabels, ap);
	va_end(ap);
}

/* The upper bound of bucket i, 2^i us, in seconds written exactly ("0.000512"). */
static void
metrics_le(char *buf, size_t size, int i)
{
	uint64_t us = (uint64_t)1 << i;
	size_t n;

	snprintf(buf, size, "%llu.%06llu", (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));
	for (n = strlen(buf); buf[n - 1] == '0'; n--)
		buf[n - 1] = '\0';
	if (buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

/*
 * stats.h's bucket i counts latencies under 2^i us, so the buckets up to i
 * cumulated are the count at le = 2^i us (a latency of exactly 2^i us is
 * counted one bucket up: the format's le is inclusive). The last bucket
 * also holds everything longer: it is +Inf only.
 */
void
metrics_histogram(FILE *fp, const char *name, const struct stats_histogram *h,
    const char *label, const char *value)
{
	char *bucket = xasprintf("%s_bucket", name), *sum = xasprintf("%s_sum", name),
	    *count = xasprintf("%s_count", name), le[32];
	uint64_t cum = 0;
	int i;

	for (i = 0; i < STATS_BUCKETS - 1; i++) {
		cum += h->bucket[i];
		metrics_le(le, sizeof le, i);
		if (label != NULL)
			metrics_sample(fp, bucket, (double)cum, 2, label, value, "le", le);
		else
			metrics_sample(fp, bucket, (double)cum, 1, "le", le);
	}
	if (label != NULL) {
		metrics_sample(fp, bucket, (double)h->n, 2, label, value, "le", "+Inf");
		metrics_sample(fp, sum, h->sum, 1, label, value);
		metrics_sample(fp, count, (double)h->n, 1, label, value);
	} else {
		metrics_sample(fp, bucket, (double)h->n, 1, "le", "+Inf");
		metrics_sample(fp, sum, h->sum, 0);
		metrics_sample(fp, count, (double)h->n, 0);
	}
	free(bucket);
	free(sum);
	free(count);
}

static int
metrics_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
metrics_collect(const char *key, void *value, void *arg)
{
	const char ***next = arg;

	*(*next)++ = key;
}

/* The configured names and the counted ones, sorted, each once (a NULL-terminated
 * array of borrowed strings). */
static const char **
metrics_names(const char *const *names, size_t *n)
{
	size_t nc = metrics_colls != NULL ? strmap_count(metrics_colls) : 0, i, j, k = 0;
	const char **v, **next;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		k++;
	v = xcalloc(k + nc + 1, sizeof *v);
	for (i = 0; i < k; i++)
		v[i] = names[i];
	next = v + k;
	if (metrics_colls != NULL)
		strmap_each(metrics_colls, metrics_collect, &next);
	qsort(v, k + nc, sizeof *v, metrics_cmp);
	for (i = j = 0; i < k + nc; i++) {
		if (j == 0 || strcmp(v[j - 1], v[i]) != 0)
			v[j++] = v[i];
	}
	v[j] = NULL;
	*n = j;
	return v;
}

void
metrics_write(FILE *fp, const char *const *names)
{
	size_t n, i;
	const char **v = metrics_names(names, &n);
	int c, cl, retry;

	for (c = 0; c < METRICS_NCOUNTERS; c++) {
		metrics_family(fp, metrics_counters[c].name, "counter", metrics_counters[c].help);
		for (i = 0; i < n; i++)
			metrics_sample(fp, metrics_counters[c].name,
			    (double)metrics_get((enum metrics_counter)c, v[i]), 1, "collection",
			    v[i]);
	}
	metrics_family(fp, "caom2ingest_attempt_failures_total", "counter",
	    "Failed attempts at storing an observation, by reason class and outcome (retry: "
	    "tried again later; failed: for good)");
	for (i = 0; i < n; i++)
		for (cl = 0; cl < METRICS_NCLASSES; cl++)
			for (retry = 1; retry >= 0; retry--)
				metrics_sample(fp, "caom2ingest_attempt_failures_total",
				    (double)metrics_failures(v[i], (enum metrics_class)cl, retry),
				    3, "collection", v[i], "class", metrics_classes[cl], "outcome",
				    retry ? "retry" : "failed");
	metrics_family(fp, "caom2ingest_last_success_timestamp_seconds", "gauge",
	    "When an observation of the collection was last stored (0: not since the start)");
	for (i = 0; i < n; i++)
		metrics_sample(fp, "caom2ingest_last_success_timestamp_seconds",
		    metrics_last_success(v[i]), 1, "collection", v[i]);
	free(v);
}
