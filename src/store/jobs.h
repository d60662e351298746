/*
 * jobs.h - observation jobs: one at a time per observation, a bounded number
 * at once, retries with exponential backoff and jitter, pause and resume per
 * collection.
 *
 * The owner supplies run (start the work of a job; it may finish later,
 * asynchronously, by calling jobs_finish) and record (told how each attempt
 * ended: done, a retry at a time, or failed for good). A job submitted while
 * it runs is run once more after it finishes (its files changed meanwhile).
 */
#ifndef CAOM2INGEST_JOBS_H
#define CAOM2INGEST_JOBS_H

#include <stdint.h>

struct ev_loop;
struct jobs;
struct jobs_job;

enum jobs_outcome {
	JOBS_OK,
	JOBS_TRANSIENT,		/* try again later (connection, timeout, 5xx) */
	JOBS_PERMANENT		/* do not retry (bad input, 4xx) */
};

struct jobs_config {
	unsigned	 concurrency;	/* jobs running at once, >= 1 */
	uint64_t	 retry_initial_ms;
	uint64_t	 retry_max_ms;
	unsigned	 retry_attempts;	/* attempts before giving up, >= 1 */
};

struct jobs_ops {
	/* Start job; call jobs_finish(job, ...) exactly once, now or later. */
	void	(*run)(void *arg, struct jobs_job *job);
	/* An attempt ended: outcome, error (or NULL), attempts so far, and the
	 * wall-clock time of the retry in ms (0: no retry: done or failed). */
	void	(*record)(void *arg, const char *collection, const char *observation,
		    enum jobs_outcome outcome, const char *error, unsigned attempts,
		    int64_t retry_at_ms);
};

/* A scheduler on loop. */
struct jobs *jobs_new(struct ev_loop *loop, const struct jobs_config *cfg,
    const struct jobs_ops *ops, void *arg);
/* Free; jobs still running are forgotten (their finish must not come). NULL is accepted. */
void jobs_free(struct jobs *j);
/* Wall-clock time in ms (the unit of jobs_submit_at). */
int64_t jobs_now_ms(void);
/* Queue an observation (no-op if queued; run again after if running). */
void jobs_submit(struct jobs *j, const char *collection, const char *observation);
/* Queue an observation to start at a wall-clock time in ms, with attempts already made. */
void jobs_submit_at(struct jobs *j, const char *collection, const char *observation,
    int64_t at_ms, unsigned attempts);
/* Report the end of an attempt of a running job. */
void jobs_finish(struct jobs_job *job, enum jobs_outcome outcome, const char *error);
/* The collection and observation of a job. */
const char *jobs_job_collection(const struct jobs_job *job);
const char *jobs_job_observation(const struct jobs_job *job);
/* Attempt number of a running job (1 for the first). */
unsigned jobs_job_attempt(const struct jobs_job *job);
/* Pause or resume one collection (NULL: all). Running jobs finish. */
void jobs_pause(struct jobs *j, const char *collection, int paused);
/* True when the collection (or, for NULL, everything) is paused. */
int jobs_paused(const struct jobs *j, const char *collection);
/* Numbers of jobs queued, running and waiting for a retry. */
void jobs_counts(const struct jobs *j, unsigned *queued, unsigned *running, unsigned *waiting);

#endif
