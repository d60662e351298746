/*
 * t/tickets.c - waiting for queued work: an attempt that started before the
 * observation was queued does not count, retries are not final, a rescan
 * ticket waits for the files below its mark and the observations they
 * queue, waiters get progress (offered again when refused) and the outcome,
 * a waiter can go away, stopping ends every wait, old tickets are forgotten.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "lib/log.h"
#include "tap.h"
#include "daemon/tickets.h"
#include "lib/xmalloc.h"

static struct ev_loop *loop;
static uint64_t oldest;		/* what the "settler" says */

struct seen {
	int		 progress;	/* progress messages taken */
	int		 refused;	/* offered while busy */
	int		 busy;		/* refuse progress */
	int		 outcomes;
	int		 stopped;
	json_t		*last;		/* the last message */
};

static uint64_t
settle_oldest(void *arg)
{
	return oldest;
}

static int
notify(void *arg, enum tickets_event ev, json_t *msg)
{
	struct seen *s = arg;

	if (ev == TICKETS_PROGRESS && s->busy) {
		s->refused++;
		return -1;
	}
	if (ev == TICKETS_PROGRESS)
		s->progress++;
	else if (ev == TICKETS_OUTCOME)
		s->outcomes++;
	else
		s->stopped++;
	json_decref(s->last);
	s->last = json_incref(msg);
	return 0;
}

static void
run_for(double secs)
{
	ev_tstamp end = ev_time() + secs;

	while (ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(2000);
	}
}

/* Run the loop until *counter reaches at least n, or secs pass. */
static void
run_while(const int *counter, int n, double secs)
{
	ev_tstamp end = ev_time() + secs;

	while (*counter < n && ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(2000);
	}
}

static long long
num(json_t *o, const char *path1, const char *key)
{
	return (long long)json_integer_value(json_object_get(json_object_get(o, path1), key));
}

static void
test_reingest(struct tickets *t)
{
	struct tickets_waiter *w;
	struct seen s = { 0 };
	json_t *out, *f;
	unsigned id;

	id = tickets_open(t, TICKETS_REINGEST);
	ok(id > 0, "a ticket has a number");
	tickets_track(t, id, "OMM", "A");
	tickets_track(t, id, "OMM", "B");
	tickets_seal(t, id, 0);
	is_int(1, tickets_wait(t, id, notify, &s, &w, &out), "an open ticket can be waited for");
	tickets_ended(t, "OMM", "A", STATE_DONE, NULL);	/* an attempt from before */
	tickets_started(t, "OMM", "A");
	tickets_ended(t, "OMM", "A", STATE_DONE, NULL);
	tickets_started(t, "OMM", "B");
	tickets_ended(t, "OMM", "B", STATE_RETRY, "HTTP 503");
	is_int(0, s.outcomes, "a retry is not final");
	run_while(&s.progress, 1, 5.0);	/* the next tick; a loaded machine may take longer */
	ok(s.progress >= 1, "the waiter is told the progress");
	is_int(1, num(s.last, "progress", "done"), "one done");
	is_int(1, num(s.last, "progress", "retry"), "one waiting for a retry");
	tickets_started(t, "OMM", "B");
	tickets_ended(t, "OMM", "B", STATE_FAILED, "HTTP 400: bad");
	is_int(1, s.outcomes, "the outcome once both are final");
	is_int(2, num(s.last, "outcome", "total"), "two observations");
	is_int(1, num(s.last, "outcome", "done"), "one done (the attempt from before did not count)");
	is_int(1, num(s.last, "outcome", "failed"), "one failed");
	f = json_array_get(json_object_get(json_object_get(s.last, "outcome"), "failures"), 0);
	is_string("B", json_string_value(json_object_get(f, "observation")),
	    "the failure names the observation");
	is_string("HTTP 400: bad", json_string_value(json_object_get(f, "error")),
	    "and its last error");
	is_int(0, tickets_wait(t, id, notify, &s, &w, &out), "a complete ticket answers at once");
	is_int(1, num(out, "outcome", "failed"), "with the same outcome");
	json_decref(out);
	is_int(-1, tickets_wait(t, 9999, notify, &s, &w, &out), "an unknown ticket");
	json_decref(s.last);
}

static void
test_empty(struct tickets *t)
{
	struct tickets_waiter *w;
	struct seen s = { 0 };
	json_t *out;
	unsigned id;

	id = tickets_open(t, TICKETS_REINGEST);
	tickets_seal(t, id, 0);
	is_int(0, tickets_wait(t, id, notify, &s, &w, &out),
	    "a ticket with nothing queued is complete when sealed");
	is_int(0, num(out, "outcome", "total"), "with nothing in it");
	json_decref(out);
}

static void
test_rescan(struct tickets *t)
{
	struct tickets_waiter *w;
	struct seen s = { 0 };
	json_t *out;
	unsigned id;

	oldest = 5;
	id = tickets_open(t, TICKETS_RESCAN);
	tickets_file(t, 1, PIPELINE_FILE_EXCLUDED, 1, "OMM", NULL);	/* during the scan */
	tickets_seal(t, id, 10);
	tickets_wait(t, id, notify, &s, &w, &out);
	tickets_file(t, 3, PIPELINE_FILE_NEW, 1, "OMM", "X");
	tickets_file(t, 6, PIPELINE_FILE_UNCHANGED, 1, "OMM", NULL);
	tickets_file(t, 7, PIPELINE_FILE_UNCHANGED, 100000, NULL, NULL);	/* a scan's known files */
	tickets_file(t, 12, PIPELINE_FILE_NEW, 1, "OMM", "Y");	/* landed after the scan */
	tickets_started(t, "OMM", "X");
	tickets_file(t, 4, PIPELINE_FILE_NEW, 1, "OMM", "X");	/* another file of X */
	tickets_ended(t, "OMM", "X", STATE_DONE, NULL);		/* before that file */
	run_for(0.15);
	is_int(0, s.outcomes, "files below the mark still settle: not complete");
	ok(json_is_true(json_object_get(json_object_get(s.last, "progress"), "settling")),
	    "progress says files are settling");
	oldest = 10;
	run_for(0.15);
	is_int(0, s.outcomes, "settled, but X is queued again: not complete");
	tickets_started(t, "OMM", "X");
	tickets_ended(t, "OMM", "X", STATE_DONE, NULL);
	is_int(1, s.outcomes, "complete once X is done");
	is_int(1, num(s.last, "outcome", "total"), "one observation (Y landed later)");
	is_int(2, num(json_object_get(s.last, "outcome"), "files", "new"), "two new files");
	is_int(100001, num(json_object_get(s.last, "outcome"), "files", "unchanged"),
	    "one unchanged, and the 100000 a scan knew, counted at once");
	is_int(1, num(json_object_get(s.last, "outcome"), "files", "excluded"),
	    "and one completed during the scan, before the mark was known");
	json_decref(s.last);

	memset(&s, 0, sizeof s);
	id = tickets_open(t, TICKETS_RESCAN);
	tickets_seal(t, id, 20);
	tickets_wait(t, id, notify, &s, &w, &out);
	tickets_rebase(t, 30);		/* a reload: the new start-up scan */
	oldest = 25;
	run_for(0.15);
	is_int(0, s.outcomes, "after a rebase the files of the new scan count");
	oldest = 30;
	run_for(0.15);
	is_int(1, s.outcomes, "and complete it when they have settled");
	json_decref(s.last);
}

static void
test_waiters(struct tickets *t)
{
	struct tickets_waiter *w1, *w2;
	struct seen a = { 0 }, b = { 0 };
	unsigned id, kept, waiting;
	json_t *out;

	id = tickets_open(t, TICKETS_REINGEST);
	tickets_track(t, id, "OMM", "Z");
	tickets_seal(t, id, 0);
	tickets_wait(t, id, notify, &a, &w1, &out);
	tickets_wait(t, id, notify, &b, &w2, &out);
	tickets_counts(t, &kept, &waiting);
	is_int(2, waiting, "two waiters");
	b.busy = 1;
	run_for(0.15);
	ok(b.refused >= 1 && b.progress == 0, "a busy waiter refuses progress");
	b.busy = 0;
	run_for(0.35);
	ok(b.progress >= 1, "and is offered it again");
	tickets_unwait(w1);
	tickets_counts(t, &kept, &waiting);
	is_int(1, waiting, "a waiter that went away is gone");
	tickets_started(t, "OMM", "Z");
	tickets_stop(t, "stopping");
	is_int(0, a.outcomes + a.stopped, "it is told nothing more");
	is_int(1, b.stopped, "stopping ends the other wait");
	is_string("stopping", json_string_value(json_object_get(b.last, "error")),
	    "with the reason");
	tickets_counts(t, &kept, &waiting);
	is_int(0, waiting, "and no waiter is left");
	json_decref(a.last);
	json_decref(b.last);
}

static void
test_limit(struct tickets *t)
{
	struct tickets_waiter *w;
	struct seen s = { 0 };
	unsigned i, first = 0, last = 0, kept, waiting;
	json_t *out;

	for (i = 0; i < TICKETS_MAX + 10; i++) {
		last = tickets_open(t, TICKETS_REINGEST);
		tickets_seal(t, last, 0);
		if (first == 0)
			first = last;
	}
	tickets_counts(t, &kept, &waiting);
	ok(kept <= TICKETS_MAX, "at most %d tickets are kept (%u)", TICKETS_MAX, kept);
	is_int(-1, tickets_wait(t, first, notify, &s, &w, &out), "the oldest is forgotten");
	is_int(0, tickets_wait(t, last, notify, &s, &w, &out), "the newest is kept");
	json_decref(out);
}

int
main(void)
{
	struct tickets_ops ops = { settle_oldest, NULL };
	struct tickets *t;

	plan(38);
	log_init("t-tickets", LOG_ERR, LOG_TARGET_STDERR);
	loop = ev_default_loop(0);
	t = tickets_new(loop, &ops);
	test_reingest(t);
	test_empty(t);
	test_rescan(t);
	test_waiters(t);
	test_limit(t);
	tickets_free(t);
	tickets_free(NULL);
	return 0;
}
