/*
 * tickets.c - waiting for the work a control command queued (see tickets.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <ev.h>

#include "lib/log.h"
#include "lib/strmap.h"
#include "daemon/tickets.h"
#include "lib/xmalloc.h"

#define TICKETS_TICK_S	0.1	/* how often settling files and progress are looked at */

/* Where a tracked observation is, for this ticket. */
enum tickets_state {
	TS_PENDING,		/* queued; no attempt started since */
	TS_RUNNING,
	TS_RETRY,
	TS_DONE,
	TS_FAILED,
	TS_N
};

static const char *const tickets_state_names[TS_N] = {
	"pending", "running", "retry", "done", "failed"
};

static const char *const tickets_file_names[] = {
	[PIPELINE_FILE_NEW] = "new",
	[PIPELINE_FILE_UNCHANGED] = "unchanged",
	[PIPELINE_FILE_UNMATCHED] = "unmatched",
	[PIPELINE_FILE_EXCLUDED] = "excluded",
};
#define TICKETS_NFILE	(sizeof tickets_file_names / sizeof tickets_file_names[0])

struct tickets_obs {
	char			*collection;
	char			*observation;
	char			*error;		/* of the last attempt */
	enum tickets_state	 state;
};

struct ticket;

struct tickets_waiter {
	struct ticket			*tk;
	tickets_notify_fn		*fn;
	void				*arg;
	unsigned			 seen;	/* the ticket's version last told */
	ev_tstamp			 told;
	TAILQ_ENTRY(tickets_waiter)	 entry;
};

struct ticket {
	struct tickets			*t;
	unsigned			 id;
	enum tickets_kind		 kind;
	uint64_t			 mark;		/* rescan: files below it */
	int				 sealed;
	int				 settling;	/* rescan: files below mark settle */
	int				 complete;
	ev_tstamp			 opened;
	ev_tstamp			 completed;
	struct strmap			*obs;		/* "coll\nobs" -> tickets_obs */
	unsigned			 n[TS_N];
	unsigned long			 files[TICKETS_NFILE];
	unsigned			 version;	/* bumped by every change */
	TAILQ_HEAD(, tickets_waiter)	 waiters;
	unsigned			 nwaiters;
	TAILQ_ENTRY(ticket)		 entry;
};

struct tickets {
	struct ev_loop			*loop;
	struct tickets_ops		 ops;
	ev_timer			 tick;
	unsigned			 next_id;
	unsigned			 n;
	TAILQ_HEAD(, ticket)		 list;		/* oldest first */
};

static void tickets_check(struct ticket *tk);

static struct ticket *
tickets_find(struct tickets *t, unsigned id)
{
	struct ticket *tk;

	TAILQ_FOREACH(tk, &t->list, entry) {
		if (tk->id == id)
			return tk;
	}
	return NULL;
}

static void
tickets_free_obs(const char *key, void *value, void *arg)
{
	struct tickets_obs *o = value;

	free(o->collection);
	free(o->observation);
	free(o->error);
	free(o);
}

static void
tickets_waiter_free(struct tickets_waiter *w)
{
	TAILQ_REMOVE(&w->tk->waiters, w, entry);
	w->tk->nwaiters--;
	free(w);
}

/* Forget a ticket (its waiters, if any, without a word). */
static void
tickets_forget(struct ticket *tk)
{
	struct tickets *t = tk->t;

	while (!TAILQ_EMPTY(&tk->waiters))
		tickets_waiter_free(TAILQ_FIRST(&tk->waiters));
	TAILQ_REMOVE(&t->list, tk, entry);
	t->n--;
	strmap_each(tk->obs, tickets_free_obs, NULL);
	strmap_free(tk->obs);
	free(tk);
}

/* Run the tick while a ticket has files settling or a waiter to tell. */
static void
tickets_arm(struct tickets *t)
{
	struct ticket *tk;
	int need = 0;

	TAILQ_FOREACH(tk, &t->list, entry) {
		if (!tk->complete && ((tk->sealed && tk->settling) || tk->nwaiters > 0))
			need = 1;
	}
	if (need && !ev_is_active(&t->tick))
		ev_timer_again(t->loop, &t->tick);
	else if (!need)
		ev_timer_stop(t->loop, &t->tick);
}

/* Forget complete tickets past their time. */
static void
tickets_expire(struct tickets *t)
{
	struct ticket *tk, *next;

	for (tk = TAILQ_FIRST(&t->list); tk != NULL; tk = next) {
		next = TAILQ_NEXT(tk, entry);
		if (tk->complete && tk->nwaiters == 0 &&
		    ev_time() - tk->completed > TICKETS_KEEP_S)
			tickets_forget(tk);
	}
}

/* Make room for one more ticket. */
static void
tickets_make_room(struct tickets *t)
{
	struct ticket *tk, *victim = NULL;

	tickets_expire(t);
	if (t->n < TICKETS_MAX)
		return;
	TAILQ_FOREACH(tk, &t->list, entry) {	/* the oldest complete, else the oldest */
		if (tk->nwaiters == 0 && (victim == NULL || (tk->complete && !victim->complete)))
			victim = tk;
	}
	if (victim != NULL) {
		log_debug("ticket %u forgotten: more than %d tickets", victim->id, TICKETS_MAX);
		tickets_forget(victim);
	}
}

static json_t *
tickets_numbers(const struct ticket *tk)
{
	json_t *o = json_object(), *files;
	size_t i;

	json_object_set_new(o, "ticket", json_integer(tk->id));
	json_object_set_new(o, "kind", json_string(tk->kind == TICKETS_RESCAN ? "rescan" :
	    "reingest"));
	json_object_set_new(o, "total", json_integer((json_int_t)strmap_count(tk->obs)));
	for (i = 0; i < TS_N; i++)
		json_object_set_new(o, tickets_state_names[i], json_integer(tk->n[i]));
	if (tk->kind == TICKETS_RESCAN) {
		files = json_object();
		for (i = 0; i < TICKETS_NFILE; i++)
			json_object_set_new(files, tickets_file_names[i], json_integer((json_int_t)tk->files[i]));
		json_object_set_new(o, "files", files);
		json_object_set_new(o, "settling", json_boolean(tk->settling));
	}
	json_object_set_new(o, "elapsed_ms", json_integer((json_int_t)(((tk->complete ?
	    tk->completed : ev_time()) - tk->opened) * 1e3)));
	return o;
}

static void
tickets_collect_failed(const char *key, void *value, void *arg)
{
	struct tickets_obs *o = value, ***out = arg;

	if (o->state == TS_FAILED)
		*(*out)++ = o;
}

static int
tickets_cmp_obs(const void *a, const void *b)
{
	const struct tickets_obs *x = *(struct tickets_obs *const *)a;
	const struct tickets_obs *y = *(struct tickets_obs *const *)b;
	int c = strcmp(x->collection, y->collection);

	return c != 0 ? c : strcmp(x->observation, y->observation);
}

/* The failures of a complete ticket, by collection and observation. */
static json_t *
tickets_failures(const struct ticket *tk)
{
	struct tickets_obs **v, **end;
	json_t *a = json_array();
	size_t i, n;

	v = end = xcalloc(tk->n[TS_FAILED] + 1, sizeof *v);
	strmap_each(tk->obs, tickets_collect_failed, &end);
	n = (size_t)(end - v);
	qsort(v, n, sizeof *v, tickets_cmp_obs);
	for (i = 0; i < n && i < TICKETS_FAILURES_MAX; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s?}", "collection",
		    v[i]->collection, "observation", v[i]->observation, "error", v[i]->error));
	free(v);
	return a;
}

/* {"ticket": N, "outcome": {...}} of a complete ticket. */
static json_t *
tickets_outcome(const struct ticket *tk)
{
	json_t *o = tickets_numbers(tk);

	json_object_del(o, "ticket");
	json_object_set_new(o, "failures", tickets_failures(tk));
	if (tk->n[TS_FAILED] > TICKETS_FAILURES_MAX)
		json_object_set_new(o, "failures_truncated", json_true());
	return json_pack("{s:i, s:o}", "ticket", tk->id, "outcome", o);
}

static void
tickets_finish(struct ticket *tk)
{
	struct tickets_waiter *w;
	json_t *msg;

	tk->complete = 1;
	tk->completed = ev_time();
	log_info("ticket %u (%s) complete: %u observation%s, %u done, %u failed", tk->id,
	    tk->kind == TICKETS_RESCAN ? "rescan" : "reingest", (unsigned)strmap_count(tk->obs),
	    strmap_count(tk->obs) == 1 ? "" : "s", tk->n[TS_DONE], tk->n[TS_FAILED]);
	msg = tickets_outcome(tk);
	while ((w = TAILQ_FIRST(&tk->waiters)) != NULL) {
		w->fn(w->arg, TICKETS_OUTCOME, msg);
		tickets_waiter_free(w);
	}
	json_decref(msg);
}

/* Is the ticket complete now? */
static void
tickets_check(struct ticket *tk)
{
	struct tickets *t = tk->t;

	if (tk->complete || !tk->sealed)
		return;
	if (tk->settling && t->ops.settle_oldest(t->ops.arg) >= tk->mark) {
		tk->settling = 0;
		tk->version++;
	}
	if (!tk->settling && tk->n[TS_PENDING] + tk->n[TS_RUNNING] + tk->n[TS_RETRY] == 0)
		tickets_finish(tk);
}

static void
tickets_set(struct ticket *tk, struct tickets_obs *o, enum tickets_state s, const char *error)
{
	char *copy = error != NULL ? xstrdup(error) : NULL;	/* error may be o->error */

	tk->n[o->state]--;
	tk->n[s]++;
	o->state = s;
	free(o->error);
	o->error = copy;
	tk->version++;
}

static struct tickets_obs *
tickets_obs_of(const struct ticket *tk, const char *collection, const char *observation)
{
	char *key = xasprintf("%s\n%s", collection, observation);
	struct tickets_obs *o = strmap_get(tk->obs, key);

	free(key);
	return o;
}

static void
tickets_track_in(struct ticket *tk, const char *collection, const char *observation)
{
	struct tickets_obs *o;
	char *key;

	if ((o = tickets_obs_of(tk, collection, observation)) != NULL) {
		tickets_set(tk, o, TS_PENDING, NULL);
		return;
	}
	o = xcalloc(1, sizeof *o);
	o->collection = xstrdup(collection);
	o->observation = xstrdup(observation);
	o->state = TS_PENDING;
	key = xasprintf("%s\n%s", collection, observation);
	strmap_put(tk->obs, key, o);
	free(key);
	tk->n[TS_PENDING]++;
	tk->version++;
}

static void
tickets_on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct tickets *t = w->data;
	struct tickets_waiter *wt, *next;
	struct ticket *tk;
	json_t *msg;

	TAILQ_FOREACH(tk, &t->list, entry) {
		tickets_check(tk);
		if (tk->complete)
			continue;
		for (wt = TAILQ_FIRST(&tk->waiters); wt != NULL; wt = next) {
			next = TAILQ_NEXT(wt, entry);
			if (wt->seen == tk->version || ev_now(loop) - wt->told < TICKETS_PROGRESS_S)
				continue;
			msg = json_pack("{s:o}", "progress", tickets_numbers(tk));
			if (wt->fn(wt->arg, TICKETS_PROGRESS, msg) == 0) {
				wt->seen = tk->version;
				wt->told = ev_now(loop);
			}
			json_decref(msg);
		}
	}
	tickets_arm(t);
}

struct tickets *
tickets_new(struct ev_loop *loop, const struct tickets_ops *ops)
{
	struct tickets *t = xcalloc(1, sizeof *t);

	t->loop = loop;
	t->ops = *ops;
	t->next_id = 1;
	TAILQ_INIT(&t->list);
	ev_init(&t->tick, tickets_on_tick);
	t->tick.repeat = TICKETS_TICK_S;
	t->tick.data = t;
	return t;
}

void
tickets_free(struct tickets *t)
{
	if (t == NULL)
		return;
	ev_timer_stop(t->loop, &t->tick);
	while (!TAILQ_EMPTY(&t->list))
		tickets_forget(TAILQ_FIRST(&t->list));
	free(t);
}

unsigned
tickets_open(struct tickets *t, enum tickets_kind kind)
{
	struct ticket *tk = xcalloc(1, sizeof *tk);

	tickets_make_room(t);
	tk->t = t;
	tk->id = t->next_id++;
	if (t->next_id == 0)
		t->next_id = 1;
	tk->kind = kind;
	tk->mark = UINT64_MAX;		/* until sealed, every file counts */
	tk->settling = kind == TICKETS_RESCAN;
	tk->opened = ev_time();
	tk->obs = strmap_new();
	TAILQ_INIT(&tk->waiters);
	TAILQ_INSERT_TAIL(&t->list, tk, entry);
	t->n++;
	return tk->id;
}

void
tickets_track(struct tickets *t, unsigned id, const char *collection, const char *observation)
{
	struct ticket *tk = tickets_find(t, id);

	if (tk != NULL && !tk->complete)
		tickets_track_in(tk, collection, observation);
}

void
tickets_seal(struct tickets *t, unsigned id, uint64_t mark)
{
	struct ticket *tk = tickets_find(t, id);

	if (tk == NULL || tk->sealed)
		return;
	tk->sealed = 1;
	if (tk->kind == TICKETS_RESCAN)
		tk->mark = mark;
	tickets_check(tk);
	tickets_arm(t);
}

void
tickets_file(struct tickets *t, uint64_t seq, enum pipeline_file what, unsigned long count,
    const char *collection, const char *observation)
{
	struct ticket *tk;

	TAILQ_FOREACH(tk, &t->list, entry) {
		if (tk->complete || !tk->settling || seq >= tk->mark)
			continue;
		if ((size_t)what < TICKETS_NFILE)
			tk->files[what] += count;
		tk->version++;
		if (what == PIPELINE_FILE_NEW && observation != NULL)
			tickets_track_in(tk, collection, observation);
		tickets_check(tk);
	}
	tickets_arm(t);
}

void
tickets_started(struct tickets *t, const char *collection, const char *observation)
{
	struct tickets_obs *o;
	struct ticket *tk;

	TAILQ_FOREACH(tk, &t->list, entry) {
		if (tk->complete || (o = tickets_obs_of(tk, collection, observation)) == NULL)
			continue;
		if (o->state == TS_PENDING || o->state == TS_RETRY)
			tickets_set(tk, o, TS_RUNNING, o->error);
	}
}

void
tickets_ended(struct tickets *t, const char *collection, const char *observation,
    enum state_status status, const char *error)
{
	struct tickets_obs *o;
	struct ticket *tk;

	TAILQ_FOREACH(tk, &t->list, entry) {
		if (tk->complete || (o = tickets_obs_of(tk, collection, observation)) == NULL ||
		    o->state != TS_RUNNING)
			continue;	/* an attempt that started before it was queued */
		tickets_set(tk, o, status == STATE_DONE ? TS_DONE : status == STATE_RETRY ?
		    TS_RETRY : TS_FAILED, status == STATE_DONE ? NULL : error);
		tickets_check(tk);
	}
	tickets_arm(t);
}

void
tickets_rebase(struct tickets *t, uint64_t mark)
{
	struct ticket *tk;

	TAILQ_FOREACH(tk, &t->list, entry) {
		if (!tk->complete && tk->settling) {
			tk->mark = mark;
			tk->version++;
		}
	}
}

int
tickets_wait(struct tickets *t, unsigned id, tickets_notify_fn *fn, void *arg,
    struct tickets_waiter **w, json_t **outcome)
{
	struct ticket *tk = tickets_find(t, id);

	*w = NULL;
	*outcome = NULL;
	if (tk == NULL)
		return -1;
	if (tk->complete) {
		*outcome = tickets_outcome(tk);
		return 0;
	}
	*w = xcalloc(1, sizeof **w);
	(*w)->tk = tk;
	(*w)->fn = fn;
	(*w)->arg = arg;
	(*w)->seen = tk->version - 1;	/* progress at the next tick */
	TAILQ_INSERT_TAIL(&tk->waiters, *w, entry);
	tk->nwaiters++;
	tickets_arm(t);
	return 1;
}

void
tickets_unwait(struct tickets_waiter *w)
{
	struct tickets *t;

	if (w == NULL)
		return;
	t = w->tk->t;
	log_debug("ticket %u: a waiter went away", w->tk->id);
	tickets_waiter_free(w);
	tickets_arm(t);
}

void
tickets_stop(struct tickets *t, const char *why)
{
	struct tickets_waiter *w;
	struct ticket *tk;
	json_t *msg = json_pack("{s:s}", "error", why);

	TAILQ_FOREACH(tk, &t->list, entry) {
		while ((w = TAILQ_FIRST(&tk->waiters)) != NULL) {
			w->fn(w->arg, TICKETS_STOPPED, msg);
			tickets_waiter_free(w);
		}
	}
	json_decref(msg);
	ev_timer_stop(t->loop, &t->tick);
}

void
tickets_counts(struct tickets *t, unsigned *kept, unsigned *waiters)
{
	struct ticket *tk;

	tickets_expire(t);
	*kept = t->n;
	*waiters = 0;
	TAILQ_FOREACH(tk, &t->list, entry)
		*waiters += tk->nwaiters;
}
