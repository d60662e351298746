/*
 * bench/bench_store.c - files stored in the storage inventory (the test
 * server) over loopback through the daemon's storage client
 * (sinks/storage.h), with the daemon's worker threads reading the bytes.
 *
 * usage: bench_store URL CONCURRENCY FILE...
 * The files' MD5s are computed first, untimed (the daemon has them from
 * the artifact step); then every file is put under a new URI
 * (cadc:BENCH/RUN/NAME: HEAD 404, PUT with Digest, 201) with CONCURRENCY
 * puts at once, and one line reports files/s, MB/s, the p50/p99 latency
 * of a PUT (lib/stats' power-of-two buckets: upper bounds) and the p99 and
 * longest time the event loop was busy in one iteration.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "caom/artifact.h"
#include "caom/caom_xml.h"
#include "lib/curlev.h"
#include "lib/stats.h"
#include "lib/work.h"
#include "lib/xmalloc.h"
#include "sinks/storage.h"

struct item {
	const char		*path;
	char			 uri[256];
	struct artifact_facts	 facts;
	double			 start;
	double			 latency;
	int			 ok;
};

static struct ev_loop *loop;
static double busy_max, iter_start, cpu_max, cpu_start;
static int left;

/* The loop thread's own CPU time: a busy iteration that is not CPU was the thread
 * waiting for a core (two cores, shared with the server), not blocking. */
static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_prepare(struct ev_loop *l, ev_prepare *w, int revents)
{
	double busy = ev_time() - iter_start, cpu = thread_cpu() - cpu_start;

	if (iter_start > 0 && busy > busy_max)
		busy_max = busy;
	if (iter_start > 0 && cpu > cpu_max)
		cpu_max = cpu;
	if (iter_start > 0)
		stats_time(STATS_LOOP, busy);
}

static void
on_check(struct ev_loop *l, ev_check *w, int revents)
{
	iter_start = ev_time();
	cpu_start = thread_cpu();
}

static void
submit(void *ctx, storage_work_fn *fn, storage_work_fn *done, void *arg)
{
	work_submit(ctx, fn, done, arg);
}

static void
done(void *arg, enum storage_result r, const char *message, int64_t sent)
{
	struct item *it = arg;

	it->latency = ev_time() - it->start;
	it->ok = r == STORAGE_STORED;
	if (!it->ok)
		fprintf(stderr, "%s: %s: %s\n", it->path, storage_result_name(r), message);
	if (--left == 0)
		ev_break(loop, EVBREAK_ALL);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct storage_config cfg;
	struct storage_file f;
	struct storage *st;
	struct work *w;
	struct item *items;
	ev_prepare prep;
	ev_check chk;
	double t0, t1, *lat, bytes = 0;
	json_t *js, *put, *it;
	char *cause = NULL;
	const char *base;
	int i, n, conc, ok = 0;

	if (argc < 4 || (conc = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_store URL CONCURRENCY FILE...\n");
		return 2;
	}
	caom_xml_init();
	if (curlev_global_init() != 0)
		return 1;
	loop = ev_default_loop(0);
	n = argc - 3;
	items = xcalloc((size_t)n, sizeof *items);
	lat = xcalloc((size_t)n, sizeof *lat);
	for (i = 0; i < n; i++) {
		items[i].path = argv[i + 3];
		if (artifact_facts_read(items[i].path, &items[i].facts, &cause) != 0) {
			fprintf(stderr, "bench_store: %s\n", cause);
			return 1;
		}
		base = strrchr(items[i].path, '/') ? strrchr(items[i].path, '/') + 1 : items[i].path;
		snprintf(items[i].uri, sizeof items[i].uri, "cadc:BENCH/c%d-%ld/%s", conc,
		    (long)getpid(), base);
		bytes += (double)items[i].facts.length;
	}
	if ((w = work_new(loop, (unsigned)(conc < 8 ? conc : 8), &cause)) == NULL)
		return 1;
	memset(&cfg, 0, sizeof cfg);
	cfg.kind = STORAGE_SI;
	cfg.url = argv[1];
	cfg.big = (uint64_t)5 << 30;
	cfg.piece = (uint64_t)2 << 30;
	cfg.concurrency = (unsigned)conc;
	cfg.retry_attempts = 1;
	cfg.submit = submit;
	cfg.submit_ctx = w;
	if ((st = storage_new(loop, &cfg, &cause)) == NULL) {
		fprintf(stderr, "bench_store: %s\n", cause);
		return 1;
	}
	ev_prepare_init(&prep, on_prepare);
	ev_prepare_start(loop, &prep);
	ev_check_init(&chk, on_check);
	ev_check_start(loop, &chk);
	t0 = ev_time();
	left = n;
	for (i = 0; i < n; i++) {
		memset(&f, 0, sizeof f);
		f.path = items[i].path;
		f.uri = items[i].uri;
		f.md5 = items[i].facts.md5;
		f.size = items[i].facts.length;
		f.type = items[i].facts.type;
		items[i].start = ev_time();	/* queued now: latency includes the wait */
		storage_put(st, &f, NULL, done, &items[i]);
	}
	ev_run(loop, 0);
	t1 = ev_time();
	for (i = 0; i < n; i++) {
		lat[i] = items[i].latency;
		ok += items[i].ok;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	js = stats_json();
	put = json_object_get(json_object_get(js, "latency"), "store_put");
	it = json_object_get(json_object_get(js, "latency"), "loop_iteration");
	printf("ours  concurrency %2d: %d/%d stored, %8.1f files/s %8.1f MB/s, PUT p50 %.2f "
	    "p99 %.2f ms (upper bounds), loop iteration p99 %.2f max %.2f ms (CPU %.2f)\n",
	    conc, ok, n,
	    n / (t1 - t0), bytes / 1e6 / (t1 - t0),
	    json_real_value(json_object_get(put, "p50_ms")),
	    json_real_value(json_object_get(put, "p99_ms")),
	    json_real_value(json_object_get(it, "p99_ms")), busy_max * 1e3, cpu_max * 1e3);
	json_decref(js);
	work_free(w, NULL);
	storage_free(st);
	free(items);
	free(lat);
	caom_xml_cleanup();
	return ok == n ? 0 : 1;
}
