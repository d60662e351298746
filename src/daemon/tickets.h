/*
 * tickets.h - waiting for the work a control command queued.
 *
 * A command that queues work (reingest, rescan) may open a ticket. A
 * reingest ticket tracks the observations the command queued; a rescan
 * ticket the files its scan found (those with a settle sequence number
 * below the mark, see settle.h) and the observations those files queue.
 * Each observation is followed from the first attempt that starts after it
 * was queued to a final state: done (stored), or failed for good. Retries
 * are not final; the outcome of an attempt that started before the
 * observation was queued is not counted. A ticket is complete when every
 * file it waits for has left the settler and every observation is final.
 *
 * Waiters are told the progress (at most every TICKETS_PROGRESS_S seconds,
 * when something changed) and then the outcome. A waiter that goes away is
 * removed with tickets_unwait; the work goes on. Complete tickets are kept
 * TICKETS_KEEP_S seconds for late waiters, and at most TICKETS_MAX tickets
 * are kept (the oldest without a waiter is forgotten first).
 */
#ifndef CAOM2INGEST_TICKETS_H
#define CAOM2INGEST_TICKETS_H

#include <stdint.h>

#include <jansson.h>

#include "daemon/pipeline.h"
#include "store/state.h"

#define TICKETS_MAX		256
#define TICKETS_KEEP_S		600.
#define TICKETS_PROGRESS_S	0.25
#define TICKETS_FAILURES_MAX	1000	/* failures listed in an outcome */

struct ev_loop;
struct tickets;
struct tickets_waiter;

enum tickets_kind {
	TICKETS_REINGEST,
	TICKETS_RESCAN
};

enum tickets_event {
	TICKETS_PROGRESS,	/* msg: {"progress": {...}}; may be refused (return -1) */
	TICKETS_OUTCOME,	/* msg: {"ticket": N, "outcome": {...}}; the last call */
	TICKETS_STOPPED		/* msg: {"error": "..."}; the last call */
};

/* Tell a waiter; return -1 to refuse a progress message for now (it is offered later). */
typedef int tickets_notify_fn(void *arg, enum tickets_event ev, json_t *msg);

struct tickets_ops {
	/* The lowest settle sequence number still waiting (pipeline_settle_oldest). */
	uint64_t	(*settle_oldest)(void *arg);
	void		 *arg;
};

/* The tickets of a daemon on loop. */
struct tickets *tickets_new(struct ev_loop *loop, const struct tickets_ops *ops);
/* Free; waiters are dropped without a word (see tickets_stop). NULL is accepted. */
void tickets_free(struct tickets *t);
/* Open a ticket; its number, > 0. A rescan ticket counts every file that completes
 * until it is sealed (open it before the scan: a scan may complete files at once). */
unsigned tickets_open(struct tickets *t, enum tickets_kind kind);
/* Follow an observation just queued for ticket id (again: the next attempt counts). */
void tickets_track(struct tickets *t, unsigned id, const char *collection,
    const char *observation);
/* The opener has tracked everything: the ticket may complete from now on; a rescan
 * ticket waits for the files below mark (pipeline_rescan's). */
void tickets_seal(struct tickets *t, unsigned id, uint64_t mark);

/* count complete files (pipeline_observer.file). */
void tickets_file(struct tickets *t, uint64_t seq, enum pipeline_file what, unsigned long count,
    const char *collection, const char *observation);
/* An attempt started (pipeline_observer.started). */
void tickets_started(struct tickets *t, const char *collection, const char *observation);
/* An attempt ended (pipeline_observer.ended). */
void tickets_ended(struct tickets *t, const char *collection, const char *observation,
    enum state_status status, const char *error);
/* The pipeline was rebuilt (reload): rescan tickets still waiting for files now wait
 * for the files below mark: UINT64_MAX before the new pipeline's start-up scan (every
 * file it completes counts), then the mark after it. */
void tickets_rebase(struct tickets *t, uint64_t mark);

/*
 * Wait for ticket id: 1 with *w (fn is told the progress, then the outcome),
 * 0 with *outcome (owned by the caller) when it is complete already, -1 when
 * there is no such ticket (never opened, or forgotten).
 */
int tickets_wait(struct tickets *t, unsigned id, tickets_notify_fn *fn, void *arg,
    struct tickets_waiter **w, json_t **outcome);
/* Stop waiting (the waiter went away); not after its last call. */
void tickets_unwait(struct tickets_waiter *w);
/* End every wait with TICKETS_STOPPED and the reason. */
void tickets_stop(struct tickets *t, const char *why);
/* Tickets kept, and waiters. */
void tickets_counts(struct tickets *t, unsigned *kept, unsigned *waiters);

#endif
