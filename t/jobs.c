/*
 * t/jobs.c - observation jobs with a fake worker: concurrency, one job per
 * observation, re-runs, retries with backoff, giving up, permanent
 * failures, pause and resume, delayed submissions.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "store/jobs.h"
#include "tap.h"
#include "lib/xmalloc.h"

#define MAXREC 256

static struct ev_loop *loop;
static unsigned running, max_running;
static int fail_first;		/* transient failures before success */
static int permanent;
static int runs;

struct record {
	char		 obs[32];
	enum jobs_outcome outcome;
	unsigned	 attempts;
	int64_t		 retry_at;
	ev_tstamp	 when;
};
static struct record recs[MAXREC];
static int nrecs;

struct pending {
	ev_timer	 t;
	struct jobs_job	*job;
};

static void
on_work_done(struct ev_loop *l, ev_timer *w, int revents)
{
	struct pending *p = (struct pending *)w;
	enum jobs_outcome o = JOBS_OK;

	running--;
	if (permanent)
		o = JOBS_PERMANENT;
	else if (runs <= fail_first)	/* fail_first is for a lone job: runs is its attempt */
		o = JOBS_TRANSIENT;
	jobs_finish(p->job, o, o == JOBS_OK ? NULL : "503 Service Unavailable");
	free(p);
}

static void
run(void *arg, struct jobs_job *job)
{
	struct pending *p = xcalloc(1, sizeof *p);

	runs++;
	if (++running > max_running)
		max_running = running;
	p->job = job;
	ev_timer_init(&p->t, on_work_done, 0.02, 0.);
	ev_timer_start(loop, &p->t);
}

static void
record(void *arg, const char *coll, const char *obs, enum jobs_outcome outcome,
    const char *error, unsigned attempts, int64_t retry_at)
{
	if (nrecs < MAXREC) {
		snprintf(recs[nrecs].obs, sizeof recs[nrecs].obs, "%s", obs);
		recs[nrecs].outcome = outcome;
		recs[nrecs].attempts = attempts;
		recs[nrecs].retry_at = retry_at;
		recs[nrecs++].when = ev_time();
	}
}

static void
spin(double secs)
{
	ev_tstamp end = ev_time() + secs;

	while (ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

static void
reset(void)
{
	nrecs = runs = 0;
	running = max_running = 0;
	fail_first = permanent = 0;
}

static void
test_concurrency(struct jobs *j)
{
	char obs[16];
	int i, ok_all = 1;

	reset();
	for (i = 0; i < 6; i++) {
		snprintf(obs, sizeof obs, "O%d", i);
		jobs_submit(j, "C", obs);
	}
	jobs_submit(j, "C", "O0");	/* already queued: no second job */
	spin(0.3);
	is_int(2, max_running, "never more than the concurrency (2) at once");
	is_int(6, runs, "six observations, six runs");
	for (i = 0; i < nrecs; i++)
		ok_all &= recs[i].outcome == JOBS_OK && recs[i].retry_at == 0;
	ok(nrecs == 6 && ok_all, "each recorded done once");
}

static void
test_again(struct jobs *j)
{
	reset();
	jobs_submit(j, "C", "A");
	spin(0.005);
	jobs_submit(j, "C", "A");	/* while it runs */
	spin(0.2);
	is_int(2, runs, "submitted while running: runs once more afterwards");
	is_int(2, nrecs, "both runs recorded");
}

static void
test_retries(struct jobs *j)
{
	double d1, d2;

	reset();
	fail_first = 2;
	jobs_submit(j, "C", "R");
	spin(0.8);
	is_int(3, runs, "two transient failures, then success: three attempts");
	ok(nrecs == 3 && recs[0].outcome == JOBS_TRANSIENT && recs[0].retry_at > 0,
	    "a transient failure is recorded with a retry time");
	ok(nrecs == 3 && recs[2].outcome == JOBS_OK && recs[2].attempts == 3,
	    "the success is recorded with its attempt count");
	/* the delays as scheduled (retry time less the time it was recorded),
	 * not as run: a loaded machine stretches the runs, not the schedule */
	d1 = nrecs == 3 ? recs[0].retry_at / 1e3 - recs[0].when : 0;
	d2 = nrecs == 3 ? recs[1].retry_at / 1e3 - recs[1].when : 0;
	ok(nrecs == 3 && d2 > d1 && d1 > 0, "the backoff grows (%.3f s then %.3f s)", d1, d2);
}

static void
test_give_up(struct jobs *j)
{
	reset();
	fail_first = 100;
	jobs_submit(j, "C", "G");
	spin(1.0);
	is_int(3, runs, "retry_attempts = 3: three attempts");
	ok(nrecs == 3 && recs[2].outcome == JOBS_TRANSIENT && recs[2].retry_at == 0,
	    "then it gives up (no retry time)");
	reset();
	permanent = 1;
	jobs_submit(j, "C", "P");
	spin(0.2);
	ok(runs == 1 && nrecs == 1 && recs[0].outcome == JOBS_PERMANENT,
	    "a permanent failure is not retried");
}

static void
test_pause(struct jobs *j)
{
	unsigned q, r, w;

	reset();
	jobs_pause(j, "C", 1);
	ok(jobs_paused(j, "C") && !jobs_paused(j, "D"), "one collection paused");
	jobs_submit(j, "C", "X");
	jobs_submit(j, "D", "Y");
	spin(0.1);
	is_int(1, runs, "the other collection still runs");
	jobs_counts(j, &q, &r, &w);
	is_int(1, q, "the paused one stays queued");
	jobs_pause(j, "C", 0);
	spin(0.1);
	is_int(2, runs, "and runs on resume");
	jobs_pause(j, NULL, 1);
	jobs_submit(j, "D", "Z");
	spin(0.1);
	is_int(2, runs, "pausing everything stops new runs");
	jobs_pause(j, NULL, 0);
	spin(0.1);
	is_int(3, runs, "until resumed");
}

static void
test_submit_at(struct jobs *j)
{
	struct timespec ts;
	int64_t now;

	reset();
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	jobs_submit_at(j, "C", "L", now + 150, 2);
	spin(0.08);
	is_int(0, runs, "a delayed job waits");
	spin(0.25);
	is_int(1, runs, "and runs at its time");
	ok(nrecs == 1 && recs[0].attempts == 3, "counting the attempts already made");
}

int
main(void)
{
	static const struct jobs_config cfg = { 2, 50, 1000, 3 };
	static const struct jobs_ops ops = { run, record };
	struct jobs *j;

	plan(21);
	loop = ev_default_loop(0);
	j = jobs_new(loop, &cfg, &ops, NULL);
	test_concurrency(j);
	test_again(j);
	test_retries(j);
	test_give_up(j);
	test_pause(j);
	test_submit_at(j);
	jobs_free(j);
	jobs_free(NULL);
	return 0;
}
