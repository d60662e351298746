/*
 * bench/bench_push.c - observations pushed to the test repository over
 * loopback through the repository client, at several concurrencies.
 *
 * usage: bench_push URL N CONCURRENCY...
 * For each concurrency C: N new observations (GET 404, then PUT), C in
 * flight at a time as the daemon's jobs keep them, reporting
 * observations/s, p50/p99 push latency, and the longest time the event loop
 * was busy in one iteration (it must never block).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "lib/curlev.h"
#include "sinks/repo.h"
#include "lib/xmalloc.h"

struct item {
	char		 obs[32];
	double		 start;
	double		 latency;
	int		 ok;
};

static struct ev_loop *loop;
static double busy_max, iter_start;
static int round_no;
static struct repo *cur_repo;
static struct item *cur_items;
static int cur_next, cur_n, cur_done;

static void submit_next(void);

static int
merge(void *arg, const char *existing, size_t len, char **out, size_t *outlen, char **cause)
{
	struct item *it = arg;
	struct caom_observation *o = caom_observation_new(CAOM_OBS_SIMPLE, "BENCH", it->obs);

	o->algorithm.name = xstrdup("exposure");
	checksum_compute(o);
	*out = caom_xml_write(o, outlen);
	caom_observation_free(o);
	return 0;
}

static void
done(void *arg, enum repo_result r, long status, const char *msg, long ra)
{
	struct item *it = arg;

	it->latency = ev_time() - it->start;
	it->ok = r == REPO_STORED;
	cur_done++;
	if (!it->ok)
		fprintf(stderr, "%s: %s\n", it->obs, msg);
	submit_next();
}

/* Keep the queue as the daemon's jobs do: one new push per finished one. */
static void
submit_next(void)
{
	struct item *it;

	if (cur_next >= cur_n)
		return;
	it = &cur_items[cur_next++];
	it->start = ev_time();
	repo_push(cur_repo, "BENCH", it->obs, merge, done, it);
}

static void
on_prepare(struct ev_loop *l, ev_prepare *w, int revents)
{
	double busy = ev_time() - iter_start;

	if (iter_start > 0 && busy > busy_max)
		busy_max = busy;
}

static void
on_check(struct ev_loop *l, ev_check *w, int revents)
{
	iter_start = ev_time();
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
run(const char *url, int n, int conc)
{
	struct repo_config cfg = { url, NULL, NULL, NULL, NULL, 30000, (unsigned)conc };
	struct item *items = xcalloc((size_t)n, sizeof *items);
	double *lat = xcalloc((size_t)n, sizeof *lat), t0, t1;
	struct repo *r;
	char *cause = NULL;
	int i, ok = 0;

	r = repo_new(loop, &cfg, &cause);
	for (i = 0; i < n; i++)
		snprintf(items[i].obs, sizeof items[i].obs, "r%d_o%d", round_no, i);
	cur_repo = r;
	cur_items = items;
	cur_next = cur_done = 0;
	cur_n = n;
	busy_max = 0;
	t0 = ev_time();
	for (i = 0; i < conc; i++)
		submit_next();
	while (cur_done < n)	/* each push's done comes once */
		ev_run(loop, EVRUN_ONCE);
	t1 = ev_time();
	for (i = 0; i < n; i++) {
		lat[i] = items[i].latency;
		ok += items[i].ok;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	printf("concurrency %2d: %d/%d stored, %7.0f observations/s (GET+PUT each), "
	    "latency p50 %.2f ms p99 %.2f ms, longest loop iteration %.2f ms\n", conc, ok, n,
	    n / (t1 - t0), lat[n / 2] * 1e3, lat[n * 99 / 100] * 1e3, busy_max * 1e3);
	repo_free(r);
	free(items);
	free(lat);
	round_no++;
}

int
main(int argc, char **argv)
{
	ev_prepare prep;
	ev_check chk;
	int i, n;

	if (argc < 4 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_push URL N CONCURRENCY...\n");
		return 2;
	}
	caom_xml_init();
	if (curlev_global_init() != 0) {
		fprintf(stderr, "bench_push: cannot initialise libcurl\n");
		return 1;
	}
	loop = ev_default_loop(0);
	ev_prepare_init(&prep, on_prepare);
	ev_prepare_start(loop, &prep);
	ev_check_init(&chk, on_check);
	ev_check_start(loop, &chk);
	for (i = 3; i < argc; i++)
		run(argv[1], n, atoi(argv[i]));
	caom_xml_cleanup();
	return 0;
}
