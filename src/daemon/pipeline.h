/*
 * pipeline.h - the ingestion pipeline of one configuration, from a file
 * landing to its observation stored; the daemon holds one and the control
 * commands ask it:
 *
 *   watch (inotify trees, or polled ones, and their scans on scan_threads
 *   threads that leave out the files the state store already knows as
 *   they are) -> settle (the quiet period, ignored names; a FITS file
 *   without its END card yet settles again) -> classify (the collection's
 *   naming rules) -> state (the SQLite store it opens: every file and
 *   observation) -> group (a rule's expect: hold the observation until its
 *   files are in or its wait has passed) -> ingest (the jobs that map and
 *   store each observation, ingest.h).
 *
 * Storage notifications (objects.h: buckets, the webhook, AMQP queues) are
 * part of it: their objects are fetched into each collection's spool,
 * which is watched like a landing directory. It also answers for the
 * commands: counts, lists and one observation from the store, reingest
 * and retry, pause and resume, the jobs and fetches in flight, and it tells
 * an observer (tickets.c) what became of each file and attempt.
 *
 * Built from a configuration and torn down whole on a reload: everything
 * durable is in the state store, and the start-up rescan finds again
 * whatever was settling.
 */
#ifndef CAOM2INGEST_PIPELINE_H
#define CAOM2INGEST_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "store/state.h"

struct conf;
struct ev_loop;
struct pipeline;

/* What became of a complete file. */
enum pipeline_file {
	PIPELINE_FILE_NEW,		/* new or changed: its observation is queued (or held) */
	PIPELINE_FILE_UNCHANGED,	/* seen before as it is */
	PIPELINE_FILE_UNMATCHED,	/* no naming rule matched */
	PIPELINE_FILE_EXCLUDED		/* excluded by the collection's globs */
};

/* Told what happens, for those who wait for work to be done (tickets.c). */
struct pipeline_observer {
	/* count complete files (1, or a scan's known files, all
	 * PIPELINE_FILE_UNCHANGED with collection NULL) with their settle
	 * sequence number (see settle.h); the collection, and for
	 * PIPELINE_FILE_NEW the observation queued. */
	void	(*file)(void *arg, uint64_t seq, enum pipeline_file what, unsigned long count,
		    const char *collection, const char *observation);
	/* An attempt at an observation started. */
	void	(*started)(void *arg, const char *collection, const char *observation);
	/* It ended: STATE_DONE, STATE_RETRY or STATE_FAILED (for good), with the error. */
	void	(*ended)(void *arg, const char *collection, const char *observation,
		    enum state_status status, const char *error);
	void	 *arg;
};

/* Build the pipeline for cfg on loop (opens the state store); NULL with *cause. */
struct pipeline *pipeline_new(struct ev_loop *loop, const struct conf *cfg, char **cause);
/* Scan every landing directory and start the rescan timers. */
void pipeline_start(struct pipeline *p);
/* Report files and attempts to o (copied; NULL: nobody). */
void pipeline_observe(struct pipeline *p, const struct pipeline_observer *o);
/* Start a full rescan now; every file it found has a settle sequence number below
 * the one returned. */
uint64_t pipeline_rescan(struct pipeline *p);
/* The settle sequence number the next file will get (see settle_mark). */
uint64_t pipeline_settle_mark(const struct pipeline *p);
/* The lowest settle sequence number still waiting (see settle_oldest). */
uint64_t pipeline_settle_oldest(const struct pipeline *p);
/* Write statements the state store ran (a change means the store changed). */
uint64_t pipeline_state_writes(const struct pipeline *p);
/* Counts by status from the state store; 0 or -1. */
int pipeline_counts(struct pipeline *p, struct state_counts *c);
/* The names list --state takes: the statuses, then the life-cycle states. */
#define PIPELINE_STATE_NAMES "pending, running, retry, done, failed; landed, settling, " \
	"classified, waiting, storing, mapping, pushing"
/* List observations from the state store, newest first, in a status or a life-cycle state
 * (NULL: any) and a collection (NULL: any). 0, or -1 with *cause (an unknown name...). */
int pipeline_state_list(struct pipeline *p, const char *state, const char *collection,
    long limit, void (*fn)(void *, const struct state_obs *), void *arg, char **cause);
/* What `show` tells of an observation. */
struct pipeline_show {
	struct state_obs	 obs;
	struct state_file	*files;
	size_t			 nfiles;
	struct state_event	*history;	/* oldest first */
	size_t			 nhistory;
};
/* One observation, its files and history: 0, 1 unknown, -1 with *cause. */
int pipeline_state_show(struct pipeline *p, const char *collection, const char *observation,
    struct pipeline_show *out, char **cause);
/* Free what pipeline_state_show filled. */
void pipeline_show_clear(struct pipeline_show *s);
/* Write the life-cycle events recorded so far to the state store now. */
void pipeline_flush_history(struct pipeline *p);
/* The last full scan of the landing directories. */
struct pipeline_scan {
	double		 at;		/* when it ended (0: none yet) */
	double		 seconds;	/* how long it took */
	unsigned long	 files;		/* files it found */
	unsigned long	 unchanged;	/* of which as recorded */
};
const struct pipeline_scan *pipeline_last_scan(const struct pipeline *p);
/* Re-ingest an observation (force: even if unchanged): 0, 1 unknown, -1 with *cause. */
int pipeline_reingest(struct pipeline *p, const char *collection, const char *observation,
    int force, char **cause);
/* Re-ingest the observation of a landed file; its IDs go to *collection and *observation. */
int pipeline_reingest_file(struct pipeline *p, const char *path, int force,
    char **collection, char **observation, char **cause);
/* Send every failed observation back to pending, telling fn (when not NULL) about
 * each; returns how many, or -1 with *cause. */
long pipeline_retry_failed(struct pipeline *p, int force,
    void (*fn)(void *arg, const char *collection, const char *observation), void *arg,
    char **cause);
/* Pause or resume ingestion of a configured collection (NULL: all); 0, or -1 unknown. */
int pipeline_pause(struct pipeline *p, const char *collection, int paused);
/* True when the collection (NULL: everything) is paused. */
int pipeline_paused(const struct pipeline *p, const char *collection);
/* Files waiting for their quiet period. */
size_t pipeline_settling(const struct pipeline *p);
/* Jobs queued, running and waiting for a retry. */
void pipeline_jobs(const struct pipeline *p, unsigned *queued, unsigned *running,
    unsigned *waiting);
/* Storage notifications: objects by status, fetches queued, running and waiting for a
 * retry, bucket listings running, and the webhook's port (0: none). */
struct pipeline_objects {
	long		 counts[STATE_UNMATCHED + 1];
	unsigned	 queued, running, waiting, listing;
	int		 webhook_port;
};
/* Fill *out (with counts: also the counts, from the state store): 0, or -1 when no
 * collection takes objects. */
int pipeline_objects(struct pipeline *p, struct pipeline_objects *out, int counts);
/* Stop and free; NULL is accepted. */
void pipeline_free(struct pipeline *p);

#endif
