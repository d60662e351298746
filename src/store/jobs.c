/*
 * jobs.c - observation jobs: queue, concurrency, retries, pause.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <ev.h>

#include "store/jobs.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

enum jobs_where {
	JOBS_QUEUED,
	JOBS_RUNNING,
	JOBS_WAITING		/* for a retry timer */
};

struct jobs_job {
	struct jobs		*jobs;
	char			*key;		/* "collection\nobservation" */
	char			*collection;
	char			*observation;
	enum jobs_where		 where;
	unsigned		 attempts;	/* attempts started */
	int			 again;		/* submitted while running */
	ev_timer		 timer;
	TAILQ_ENTRY(jobs_job)	 entry;		/* in queue while JOBS_QUEUED */
};

TAILQ_HEAD(jobs_queue, jobs_job);

struct jobs {
	struct ev_loop		*loop;
	struct jobs_config	 cfg;
	struct jobs_ops		 ops;
	void			*arg;
	struct strmap		*all;		/* key -> job */
	struct jobs_queue	 queue;
	struct strmap		*paused;	/* collection -> non-NULL */
	int			 paused_all;
	unsigned		 running;
	unsigned		 waiting;
	ev_idle			 kick;		/* dispatch from the loop, not from callers */
};

int64_t
jobs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
jobs_key(const char *collection, const char *observation)
{
	return xasprintf("%s\n%s", collection, observation);
}

static void
jobs_kick(struct jobs *j)
{
	if (!ev_is_active(&j->kick))
		ev_idle_start(j->loop, &j->kick);
}

static void
jobs_release(struct jobs *j, struct jobs_job *job)
{
	ev_timer_stop(j->loop, &job->timer);
	strmap_del(j->all, job->key);
	free(job->key);
	free(job->collection);
	free(job->observation);
	free(job);
}

static void
jobs_enqueue(struct jobs *j, struct jobs_job *job)
{
	job->where = JOBS_QUEUED;
	TAILQ_INSERT_TAIL(&j->queue, job, entry);
	jobs_kick(j);
}

/* The first queued job whose collection is not paused, or NULL. */
static struct jobs_job *
jobs_next(struct jobs *j)
{
	struct jobs_job *job;

	if (j->paused_all)
		return NULL;
	TAILQ_FOREACH(job, &j->queue, entry) {
		if (strmap_get(j->paused, job->collection) == NULL)
			return job;
	}
	return NULL;
}

static void
jobs_on_kick(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct jobs *j = w->data;
	struct jobs_job *job;

	ev_idle_stop(loop, w);
	while (j->running < j->cfg.concurrency && (job = jobs_next(j)) != NULL) {
		TAILQ_REMOVE(&j->queue, job, entry);
		job->where = JOBS_RUNNING;
		job->attempts++;
		j->running++;
		j->ops.run(j->arg, job);
	}
}

static void
jobs_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jobs_job *job = w->data;

	job->jobs->waiting--;
	jobs_enqueue(job->jobs, job);
}

/* Delay before attempt n + 1: initial * 2^(n-1), capped, with +-20% jitter. */
static uint64_t
jobs_backoff(const struct jobs_config *cfg, unsigned attempts)
{
	double d = (double)cfg->retry_initial_ms;
	unsigned i;

	for (i = 1; i < attempts && d < (double)cfg->retry_max_ms; i++)
		d *= 2;
	if (d > (double)cfg->retry_max_ms)
		d = (double)cfg->retry_max_ms;
	d *= 0.8 + 0.4 * ((double)rand() / RAND_MAX);
	return (uint64_t)d;
}

static void
jobs_wait(struct jobs *j, struct jobs_job *job, double delay_s)
{
	job->where = JOBS_WAITING;
	j->waiting++;
	ev_timer_set(&job->timer, delay_s > 0 ? delay_s : 0., 0.);
	ev_timer_start(j->loop, &job->timer);
}

static struct jobs_job *
jobs_get(struct jobs *j, const char *collection, const char *observation)
{
	char *key = jobs_key(collection, observation);
	struct jobs_job *job = strmap_get(j->all, key);

	if (job == NULL) {
		job = xcalloc(1, sizeof *job);
		job->jobs = j;
		job->key = key;
		job->collection = xstrdup(collection);
		job->observation = xstrdup(observation);
		ev_init(&job->timer, jobs_on_retry);
		job->timer.data = job;
		strmap_put(j->all, key, job);
		job->where = JOBS_WAITING;	/* placed by the caller */
		j->waiting++;
		return job;
	}
	free(key);
	return job;
}

void
jobs_submit(struct jobs *j, const char *collection, const char *observation)
{
	struct jobs_job *job = jobs_get(j, collection, observation);

	if (job->where == JOBS_RUNNING) {
		job->again = 1;
		return;
	}
	if (job->where == JOBS_WAITING) {	/* new, or waiting for a retry: go now */
		ev_timer_stop(j->loop, &job->timer);
		j->waiting--;
		job->attempts = 0;
		jobs_enqueue(j, job);
	}
}

void
jobs_submit_at(struct jobs *j, const char *collection, const char *observation,
    int64_t at_ms, unsigned attempts)
{
	struct jobs_job *job = jobs_get(j, collection, observation);

	if (job->where != JOBS_WAITING)
		return;		/* already queued or running */
	ev_timer_stop(j->loop, &job->timer);
	j->waiting--;
	job->attempts = attempts;
	jobs_wait(j, job, (double)(at_ms - jobs_now_ms()) / 1e3);
}

void
jobs_finish(struct jobs_job *job, enum jobs_outcome outcome, const char *error)
{
	struct jobs *j = job->jobs;
	uint64_t delay;

	j->running--;
	jobs_kick(j);
	if (job->again) {	/* its files changed while it ran: run it again now */
		if (outcome == JOBS_OK)
			j->ops.record(j->arg, job->collection, job->observation, outcome, error,
			    job->attempts, 0);
		job->again = 0;
		job->attempts = 0;
		jobs_enqueue(j, job);
		return;
	}
	if (outcome == JOBS_TRANSIENT && job->attempts < j->cfg.retry_attempts) {
		delay = jobs_backoff(&j->cfg, job->attempts);
		j->ops.record(j->arg, job->collection, job->observation, outcome, error,
		    job->attempts, jobs_now_ms() + (int64_t)delay);
		jobs_wait(j, job, (double)delay / 1e3);
		return;
	}
	j->ops.record(j->arg, job->collection, job->observation, outcome, error, job->attempts, 0);
	jobs_release(j, job);
}

const char *
jobs_job_collection(const struct jobs_job *job)
{
	return job->collection;
}

const char *
jobs_job_observation(const struct jobs_job *job)
{
	return job->observation;
}

unsigned
jobs_job_attempt(const struct jobs_job *job)
{
	return job->attempts;
}

struct jobs *
jobs_new(struct ev_loop *loop, const struct jobs_config *cfg, const struct jobs_ops *ops,
    void *arg)
{
	struct jobs *j = xcalloc(1, sizeof *j);

	j->loop = loop;
	j->cfg = *cfg;
	if (j->cfg.concurrency == 0)
		j->cfg.concurrency = 1;
	if (j->cfg.retry_attempts == 0)
		j->cfg.retry_attempts = 1;
	j->ops = *ops;
	j->arg = arg;
	j->all = strmap_new();
	j->paused = strmap_new();
	TAILQ_INIT(&j->queue);
	ev_idle_init(&j->kick, jobs_on_kick);
	j->kick.data = j;
	return j;
}

static void
jobs_free_one(const char *key, void *value, void *arg)
{
	struct jobs_job *job = value;

	ev_timer_stop(job->jobs->loop, &job->timer);
	free(job->key);
	free(job->collection);
	free(job->observation);
	free(job);
}

void
jobs_free(struct jobs *j)
{
	if (j == NULL)
		return;
	ev_idle_stop(j->loop, &j->kick);
	strmap_each(j->all, jobs_free_one, NULL);
	strmap_free(j->all);
	strmap_free(j->paused);
	free(j);
}

void
jobs_pause(struct jobs *j, const char *collection, int paused)
{
	static int mark = 1;

	if (collection == NULL)
		j->paused_all = paused;
	else if (paused)
		strmap_put(j->paused, collection, &mark);
	else
		strmap_del(j->paused, collection);
	if (!paused)
		jobs_kick(j);
}

int
jobs_paused(const struct jobs *j, const char *collection)
{
	if (collection == NULL)
		return j->paused_all;
	return j->paused_all || strmap_get(j->paused, collection) != NULL;
}

void
jobs_counts(const struct jobs *j, unsigned *queued, unsigned *running, unsigned *waiting)
{
	struct jobs_job *job;
	unsigned n = 0;

	TAILQ_FOREACH(job, &j->queue, entry)
		n++;
	*queued = n;
	*running = j->running;
	*waiting = j->waiting;
}
