/*
 * pipeline.c - watch -> settle -> classify -> state -> group -> ingest (see
 * pipeline.h).
 *
 * Grouping: a rule with `expect` names the files its observation waits for;
 * the observation's job starts when all are in the state store, or when
 * the rule's `wait` has passed since the first of them (logged with what is
 * missing). The deadline is kept as the pending observation's next_attempt,
 * so that a restart keeps waiting (ingest_resume).
 */
#include "config.h"

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ev.h>

#include "caom/artifact.h"
#include "conf/conf.h"
#include "caom/fits.h"
#include "lib/fileio.h"
#include "daemon/ingest.h"
#include "store/jobs.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/msgid.h"
#include "sources/objects.h"
#include "daemon/pipeline.h"
#include "conf/rules.h"
#include "sources/settle.h"
#include "lib/stats.h"
#include "store/state.h"
#include "lib/strmap.h"
#include "sources/watch.h"
#include "lib/xmalloc.h"

struct pipeline_root {
	char		*path;		/* resolved landing directory */
	size_t		 collection;
};

/* An observation waiting for the rest of its files. */
struct pipeline_hold {
	ev_timer	 timer;
	struct pipeline	*p;
	char		*key;
	char		*collection;
	char		*observation;
	int64_t		 deadline_ms;	/* wall clock */
	uint64_t	 wait_ms;
	char		*missing;	/* at the last look, comma-separated */
};

struct pipeline {
	struct ev_loop		 *loop;
	const struct conf	 *cfg;
	struct state		 *state;
	struct ingest		 *ingest;
	struct watch		 *watch;
	struct settle		 *settle;
	struct objects		 *objects;	/* storage notifications, or NULL */
	struct rules		**rules;	/* per collection */
	struct pipeline_root	 *roots;
	size_t			  nroots;
	struct strmap		 *holds;	/* "collection/observation" -> pipeline_hold */
	struct strmap		 *incomplete;	/* FITS files settled without an END card */
	struct state_known	 *known;	/* during a scan: the files recorded */
	double			  scan_started;	/* monotonic seconds */
	unsigned long		  scan_found;	/* files reported by this scan */
	unsigned long		  scans;
	struct pipeline_scan	  last_scan;	/* the last full scan */
	ev_timer		  flush;	/* writes the history recorded meanwhile */
	struct pipeline_observer  observer;
};

/* How long life-cycle events wait in memory to be written together. */
#define PIPELINE_FLUSH_S	0.1

static int64_t
pipeline_ms(double seconds)
{
	return (int64_t)(seconds * 1e3);
}

/* The name of a collection (by index). */
static const char *
pipeline_coll(const struct pipeline *p, size_t idx)
{
	return p->cfg->collections.v[idx].name;
}

static void
pipeline_tell(struct pipeline *p, uint64_t seq, enum pipeline_file what, const char *coll,
    const char *obs)
{
	if (p->observer.file != NULL)
		p->observer.file(p->observer.arg, seq, what, 1, coll, obs);
}

/* The landing root holding path, or NULL (paths outside every root are refused). */
static const struct pipeline_root *
pipeline_root_of(const struct pipeline *p, const char *path)
{
	size_t i, len;

	for (i = 0; i < p->nroots; i++) {
		len = strlen(p->roots[i].path);
		if (strncmp(path, p->roots[i].path, len) == 0 && path[len] == '/' &&
		    strstr(path + len, "/../") == NULL)
			return &p->roots[i];
	}
	return NULL;
}

static void
pipeline_hold_free(struct pipeline_hold *h)
{
	ev_timer_stop(h->p->loop, &h->timer);
	strmap_del(h->p->holds, h->key);
	free(h->key);
	free(h->collection);
	free(h->observation);
	free(h->missing);
	free(h);
}

static void
pipeline_hold_expired(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct pipeline_hold *h = t->data;
	char *detail;

	log_at(LOG_NOTICE, 0, LOG_FIELDS({ "COLLECTION", h->collection },
	    { "OBSERVATION_ID", h->observation }, { "STAGE", "group" }),
	    "observation %s/%s: still without %s after %.0f s; ingesting it with the files it has",
	    h->collection, h->observation, h->missing, h->wait_ms / 1e3);
	detail = xasprintf("waited %.0f s; still without %s: going with the files it has",
	    h->wait_ms / 1e3, h->missing);
	state_history_add(h->p->state, h->collection, h->observation, STATE_PHASE_CLASSIFIED, 0,
	    detail, 0);
	free(detail);
	ingest_submit(h->p->ingest, h->collection, h->observation);
	pipeline_hold_free(h);
}

/* The expected names without a file of the observation, comma-separated, or NULL. */
static char *
pipeline_missing(struct pipeline *p, const char *coll, const struct rules_result *res)
{
	struct state_file *files = NULL;
	size_t n = 0, i, k, len = 0;
	char *cause = NULL, *out = NULL;
	const char *base;
	int found;

	if (state_obs_files(p->state, coll, res->observation, &files, &n, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "COLLECTION", coll },
		    { "OBSERVATION_ID", res->observation }), "%s", cause);
		free(cause);
		return NULL;	/* go with what there is */
	}
	for (k = 0; res->expect[k] != NULL; k++) {
		for (i = 0, found = 0; i < n && !found; i++) {
			base = strrchr(files[i].path, '/');
			found = strcmp(base != NULL ? base + 1 : files[i].path, res->expect[k]) == 0;
		}
		if (found)
			continue;
		out = xreallocarray(out, len + strlen(res->expect[k]) + 3, 1);
		len += (size_t)sprintf(out + len, "%s%s", len > 0 ? ", " : "", res->expect[k]);
	}
	state_files_free(files, n);
	return out;
}

/* May the observation's job start? No while expected files are missing. */
static int
pipeline_group_ready(struct pipeline *p, const char *coll, const struct rules_result *res,
    int64_t prior_deadline_ms)
{
	char *key = xasprintf("%s/%s", coll, res->observation), *missing, *cause = NULL, *detail;
	struct pipeline_hold *h = strmap_get(p->holds, key);

	if ((missing = pipeline_missing(p, coll, res)) == NULL) {
		if (h != NULL) {
			log_at(LOG_INFO, 0, LOG_FIELDS({ "COLLECTION", coll },
			    { "OBSERVATION_ID", res->observation }, { "STAGE", "group" }),
			    "observation %s/%s: every expected file is here", coll,
			    res->observation);
			pipeline_hold_free(h);
		}
		free(key);
		return 1;
	}
	if (h == NULL) {
		h = xcalloc(1, sizeof *h);
		h->p = p;
		h->key = key;
		key = NULL;
		h->collection = xstrdup(coll);
		h->observation = xstrdup(res->observation);
		h->wait_ms = res->wait_ms;
		/* a wait begun before a restart or reload keeps its deadline */
		h->deadline_ms = prior_deadline_ms > 0 ? prior_deadline_ms :
		    jobs_now_ms() + (int64_t)res->wait_ms;
		ev_timer_init(&h->timer, pipeline_hold_expired,
		    (double)(h->deadline_ms - jobs_now_ms()) / 1e3, 0.);
		h->timer.data = h;
		ev_timer_start(p->loop, &h->timer);
		strmap_put(p->holds, h->key, h);
		log_at(LOG_INFO, 0, LOG_FIELDS({ "COLLECTION", coll },
		    { "OBSERVATION_ID", res->observation }, { "STAGE", "group" }),
		    "observation %s/%s waits up to %.0f s for %s", coll, res->observation,
		    (double)(h->deadline_ms - jobs_now_ms()) / 1e3, missing);
	}
	free(key);
	if (h->missing == NULL || strcmp(h->missing, missing) != 0) {
		detail = xasprintf("for %s", missing);
		state_history_add(p->state, coll, res->observation, STATE_PHASE_WAITING, 0, detail,
		    h->deadline_ms);
		free(detail);
	}
	free(h->missing);
	h->missing = missing;
	/* assigning a file made the observation pending anew: keep the deadline */
	if (state_obs_hold(p->state, coll, res->observation, h->deadline_ms, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "COLLECTION", coll }), "%s", cause);
		free(cause);
	}
	return 0;
}

/* The life cycle of a classified file so far: it landed (and settled), now it is classified. */
static void
pipeline_record_landing(struct pipeline *p, const char *coll, const char *path,
    const struct rules_result *res, int renamed, double first)
{
	double now = ev_now(p->loop);
	char *detail;

	state_history_add(p->state, coll, res->observation, STATE_PHASE_LANDED,
	    pipeline_ms(first), path, 0);
	if (!renamed && now - first > 1e-3)
		state_history_add(p->state, coll, res->observation, STATE_PHASE_SETTLING,
		    pipeline_ms(first), path, 0);
	detail = xasprintf("%s: product %s", path, res->product);
	state_history_add(p->state, coll, res->observation, STATE_PHASE_CLASSIFIED,
	    pipeline_ms(now), detail, 0);
	free(detail);
}

static void
pipeline_classified(struct pipeline *p, const char *coll, const char *path,
    const struct stat *st, const struct rules_result *res, uint64_t seq, int renamed,
    double first)
{
	struct state_file f = { (char *)(uintptr_t)path, st->st_size, fileio_mtime_ns(st),
		(char *)(uintptr_t)coll, res->observation, res->product, res->uri,
		res->blueprint, STATE_PENDING, pipeline_ms(first),
		{ STATE_STORE_NONE, NULL, NULL, 0, NULL, 0, NULL } };
	char *cause = NULL, *key;
	struct state_obs o;
	int64_t prior = 0;

	/* assigning resets the observation's next_attempt: read a wait's deadline first */
	if (res->expect != NULL) {
		key = xasprintf("%s/%s", coll, res->observation);
		if (strmap_get(p->holds, key) == NULL &&
		    state_obs_get(p->state, coll, res->observation, &o, &cause) == 0) {
			if (o.status == STATE_PENDING && o.next_attempt_ms > jobs_now_ms())
				prior = o.next_attempt_ms;
			state_obs_clear(&o);
		}
		free(cause);
		cause = NULL;
		free(key);
	}
	if (state_file_assign(p->state, &f, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "FILE", path }), "%s", cause);
		free(cause);
		return;
	}
	log_at(LOG_INFO, 0, LOG_FIELDS({ "MESSAGE_ID", MSGID_FILE_ACCEPTED },
	    { "COLLECTION", coll }, { "OBSERVATION_ID", res->observation }, { "FILE", path },
	    { "STAGE", "classify" }), "%s: observation %s/%s, product %s",
	    path, coll, res->observation, res->product);
	stats_count(STATS_FILES_CLASSIFIED);
	metrics_count(METRICS_FILES_CLASSIFIED, coll, 1);
	pipeline_record_landing(p, coll, path, res, renamed, first);
	if (res->expect == NULL || pipeline_group_ready(p, coll, res, prior))
		ingest_submit(p->ingest, coll, res->observation);
	pipeline_tell(p, seq, PIPELINE_FILE_NEW, coll, res->observation);	/* queued or held */
}

static void
pipeline_unmatched(struct pipeline *p, const char *coll, const char *path,
    const struct stat *st)
{
	char *cause = NULL;

	stats_count(STATS_FILES_UNMATCHED);
	metrics_count(METRICS_FILES_UNMATCHED, coll, 1);
	log_at(LOG_WARNING, 0, LOG_FIELDS({ "MESSAGE_ID", MSGID_FILE_REJECTED },
	    { "COLLECTION", coll }, { "FILE", path }, { "STAGE", "classify" }),
	    "%s matches no naming rule of collection %s; left alone until it changes",
	    path, coll);
	if (state_file_unmatched(p->state, path, st->st_size, fileio_mtime_ns(st),
	    &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "FILE", path }), "%s", cause);
		free(cause);
	}
}

/* Is this version of the file new to the state store? */
static int
pipeline_is_new(struct pipeline *p, const char *coll, const char *path, const struct stat *st)
{
	enum state_change change;
	enum state_status status;
	char *cause = NULL;

	if (state_file_seen(p->state, path, st->st_size, fileio_mtime_ns(st), &change,
	    &status, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "FILE", path }), "%s", cause);
		free(cause);
		return 0;
	}
	if (change == STATE_UNCHANGED) {
		stats_count(STATS_FILES_UNCHANGED);
		metrics_count(METRICS_FILES_SETTLED, coll, 1);
		metrics_count(METRICS_FILES_UNCHANGED, coll, 1);
	}
	return change != STATE_UNCHANGED;
}

/*
 * A quiet FITS file must also hold its whole primary header: one whose
 * writer stalled mid-header goes back to settling (logged once) instead of
 * failing its observation.
 */
static int
pipeline_fits_complete(struct pipeline *p, const char *path, uint64_t seq)
{
	if (!fits_name_is_fits(path) || fits_header_complete(path) != 0) {
		strmap_del(p->incomplete, path);
		return 1;
	}
	if (strmap_get(p->incomplete, path) == NULL) {
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", path }, { "STAGE", "settle" }),
		    "%s: FITS header without END card yet; waiting for the writer to finish",
		    path);
		strmap_put(p->incomplete, path, p);	/* a set: any non-NULL value */
	}
	settle_offer_again(p->settle, path, seq);
	return 0;
}

static void
pipeline_on_complete(void *arg, const char *path, const struct stat *st, int renamed,
    uint64_t seq, double first)
{
	struct pipeline *p = arg;
	const struct pipeline_root *root;
	struct rules_result res;
	const char *coll;

	if ((root = pipeline_root_of(p, path)) == NULL) {
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", path }),
		    "%s is outside every landing directory; ignored", path);
		return;
	}
	coll = p->cfg->collections.v[root->collection].name;
	if (!pipeline_is_new(p, coll, path, st)) {
		pipeline_tell(p, seq, PIPELINE_FILE_UNCHANGED, coll, NULL);
		return;
	}
	if (!renamed && !pipeline_fits_complete(p, path, seq))
		return;	/* (a file renamed into place is complete: the mapping judges it) */
	metrics_count(METRICS_FILES_SETTLED, coll, 1);
	switch (rules_classify(p->rules[root->collection], path, &res)) {
	case RULES_MATCHED:
		pipeline_classified(p, coll, path, st, &res, seq, renamed, first);
		rules_result_free(&res);
		break;
	case RULES_NO_MATCH:
		pipeline_unmatched(p, coll, path, st);
		pipeline_tell(p, seq, PIPELINE_FILE_UNMATCHED, coll, NULL);
		break;
	case RULES_EXCLUDED:
		log_at(LOG_DEBUG, 0, LOG_FIELDS({ "FILE", path }), "%s excluded", path);
		metrics_count(METRICS_FILES_EXCLUDED, coll, 1);
		pipeline_tell(p, seq, PIPELINE_FILE_EXCLUDED, coll, NULL);
		break;
	}
}

/*
 * On the scan's threads (the loop's thread waits meanwhile): a file recorded
 * with this size and mtime is unchanged, and is left out of the scan's
 * report; anything else goes the usual way (settle, then the lookup in
 * pipeline_is_new). The snapshot is read-only while the scan runs.
 */
static int
pipeline_known(void *arg, const char *path, int64_t size, int64_t mtime_ns)
{
	const struct pipeline *p = arg;

	return p->known != NULL && state_known_has(p->known, path, size, mtime_ns);
}

/* While the scan's threads start: the snapshot of what is recorded under
 * scope (NULL: everywhere) for pipeline_known. */
static void
pipeline_scan_prepare(void *arg, const char *scope)
{
	struct pipeline *p = arg;
	char *cause = NULL;

	state_known_free(p->known);
	if ((p->known = state_known_load(p->state, scope, &cause)) == NULL) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }),
		    "%s; the scan looks every file up instead", cause);
		free(cause);
	}
}

/* Begin or end the one transaction of a scan's lookups. */
static void
pipeline_scan_batch(struct pipeline *p, int begin)
{
	char *cause = NULL;

	if (state_batch(p->state, begin, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
		free(cause);
	}
}

static void
pipeline_scan_begin(struct pipeline *p)
{
	p->scan_started = ev_time();
	p->scan_found = 0;
	pipeline_scan_batch(p, 1);
}

/* The files each collection's roots had as known in the last scan: seen, settled, unchanged. */
static void
pipeline_scan_count(struct pipeline *p)
{
	unsigned long n;
	size_t i;

	for (i = 0; i < p->nroots; i++) {
		if ((n = watch_scan_known_root(p->watch, (unsigned)i)) == 0)
			continue;
		metrics_count(METRICS_FILES_SEEN, pipeline_coll(p, p->roots[i].collection), n);
		metrics_count(METRICS_FILES_SETTLED, pipeline_coll(p, p->roots[i].collection), n);
		metrics_count(METRICS_FILES_UNCHANGED, pipeline_coll(p, p->roots[i].collection), n);
	}
}

/* A scan of scope (NULL: every tree; else a polled one) ends. */
static void
pipeline_scan_end(struct pipeline *p, const char *scope)
{
	unsigned long known = watch_scan_known(p->watch);
	double took = ev_time() - p->scan_started;

	pipeline_scan_count(p);
	state_known_free(p->known);
	p->known = NULL;
	if (known > 0) {
		stats_add(STATS_FILES_UNCHANGED, known);
		if (p->observer.file != NULL)
			p->observer.file(p->observer.arg, settle_take_seq(p->settle),
			    PIPELINE_FILE_UNCHANGED, known, NULL, NULL);
	}
	pipeline_scan_batch(p, 0);
	if (scope != NULL)
		return;		/* a polled tree: every poll interval, not logged */
	p->scans++;
	stats_time(STATS_SCAN, took);
	p->last_scan.at = ev_time();
	p->last_scan.seconds = took;
	p->last_scan.files = known + p->scan_found;
	p->last_scan.unchanged = known;
	log_at(p->scans == 1 ? LOG_INFO : LOG_DEBUG, 0, LOG_FIELDS({ "STAGE", "watch" }),
	    "%s of the landing directories: %lu files in %.0f ms (%lu unchanged, %lu to look at)",
	    p->scans == 1 ? "start-up scan" : "rescan", known + p->scan_found, took * 1e3, known,
	    p->scan_found);
}

/* A file noticed: counted as seen once per landing (not per write while it settles). */
static void
pipeline_seen(struct pipeline *p, enum watch_event ev, const char *path)
{
	const struct pipeline_root *root;

	if (settle_ignored(p->settle, path) || (ev == WATCH_WRITTEN &&
	    settle_waiting(p->settle, path)) || (root = pipeline_root_of(p, path)) == NULL)
		return;
	metrics_count(METRICS_FILES_SEEN, pipeline_coll(p, root->collection), 1);
}

static void
pipeline_on_event(void *arg, enum watch_event ev, const char *path, const struct stat *st)
{
	struct pipeline *p = arg;

	if (ev == WATCH_MOVED_IN || ev == WATCH_FOUND || ev == WATCH_WRITTEN)
		pipeline_seen(p, ev, path);
	switch (ev) {
	case WATCH_SCAN_BEGIN:
		pipeline_scan_begin(p);
		break;
	case WATCH_SCAN_END:
		pipeline_scan_end(p, path);
		break;
	case WATCH_MOVED_IN:
		settle_offer(p->settle, path, SETTLE_RENAMED, NULL);
		break;
	case WATCH_FOUND:
		p->scan_found++;
		settle_offer(p->settle, path, SETTLE_FOUND, st);
		break;
	case WATCH_WRITTEN:
		settle_offer(p->settle, path, SETTLE_WRITTEN, NULL);
		break;
	}
}

static int
pipeline_add_root(struct pipeline *p, const char *dir, int poll, size_t idx, char **cause)
{
	char *real;

	if (watch_add_root(p->watch, dir, poll, cause) != 0)
		return -1;
	real = realpath(dir, NULL);
	p->roots = xreallocarray(p->roots, p->nroots + 1, sizeof *p->roots);
	p->roots[p->nroots].path = real != NULL ? real : xstrdup(dir);
	p->roots[p->nroots++].collection = idx;
	return 0;
}

static int
pipeline_add_collection(struct pipeline *p, size_t idx, char **cause)
{
	const struct conf_collection *c = &p->cfg->collections.v[idx];
	struct rules_spec *specs;
	const char *spool;
	char **legacy;
	size_t i;

	specs = xcalloc(c->rules.n + 1, sizeof *specs);
	legacy = xcalloc(c->rules.n + 1, sizeof *legacy);
	for (i = 0; i < c->rules.n; i++) {
		specs[i].match = c->rules.v[i].match;
		specs[i].observation = c->rules.v[i].observation;
		specs[i].product = c->rules.v[i].product;
		specs[i].uri = c->rules.v[i].uri;
		specs[i].blueprint = c->rules.v[i].blueprint;
		if ((legacy[i] = artifact_legacy_spec(c->rules.v[i].legacy.config,
		    c->rules.v[i].legacy.defaults, c->rules.v[i].legacy.override)) != NULL)
			specs[i].blueprint = legacy[i];
		specs[i].expect = (const char *const *)c->rules.v[i].expect.v;
		specs[i].wait_ms = c->rules.v[i].wait_ms;
	}
	p->rules[idx] = rules_new(c->name, (const char *const *)c->include.v,
	    (const char *const *)c->exclude.v, specs, c->rules.n, cause);
	for (i = 0; i < c->rules.n; i++)
		free(legacy[i]);
	free(legacy);
	free(specs);
	if (p->rules[idx] == NULL)
		return -1;
	for (i = 0; i < c->landing.n; i++) {
		if (pipeline_add_root(p, c->landing.v[i], c->poll, idx, cause) != 0)
			return -1;
	}
	/* fetched objects land in the collection's spool like any landed file */
	if ((spool = objects_spool(p->objects, c->name)) != NULL)
		return pipeline_add_root(p, spool, 0, idx, cause);
	return 0;
}

/* scan_threads, else the CPUs this process may run on, up to 8; at most 64. */
static unsigned
pipeline_scan_threads(const struct conf *cfg)
{
	cpu_set_t set;
	int n;

	if (cfg->scan_threads > 0)
		return cfg->scan_threads > 64 ? 64 : (unsigned)cfg->scan_threads;
	if (sched_getaffinity(0, sizeof set, &set) != 0 || (n = CPU_COUNT(&set)) < 1)
		n = 1;
	return n > 8 ? 8 : (unsigned)n;
}

static void
pipeline_on_flush(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct pipeline *p = t->data;
	char *cause = NULL;

	if (state_history_flush(p->state, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }),
		    "recording life-cycle history: %s", cause);
		free(cause);
	}
}

/* The first life-cycle event is waiting: write it and those that follow soon. */
static void
pipeline_history_kick(void *arg)
{
	struct pipeline *p = arg;

	if (!ev_is_active(&p->flush)) {
		ev_timer_set(&p->flush, PIPELINE_FLUSH_S, 0.);
		ev_timer_start(p->loop, &p->flush);
	}
}

struct pipeline *
pipeline_new(struct ev_loop *loop, const struct conf *cfg, char **cause)
{
	struct pipeline *p;
	size_t i;

	p = xcalloc(1, sizeof *p);
	p->loop = loop;
	p->holds = strmap_new();
	p->incomplete = strmap_new();
	p->cfg = cfg;
	p->rules = xcalloc(cfg->collections.n + 1, sizeof *p->rules);
	ev_init(&p->flush, pipeline_on_flush);
	p->flush.data = p;
	if ((p->state = state_open(cfg->state_dir, cause)) == NULL ||
	    (p->ingest = ingest_new(loop, cfg, p->state, cause)) == NULL ||
	    (p->watch = watch_new(loop, pipeline_on_event, p, cause)) == NULL) {
		pipeline_free(p);
		return NULL;
	}
	if ((p->objects = objects_new(loop, cfg, p->state, cause)) == NULL && *cause != NULL) {
		pipeline_free(p);
		return NULL;
	}
	state_history_notify(p->state, pipeline_history_kick, p);
	watch_set_scan(p->watch, pipeline_scan_threads(cfg), pipeline_scan_prepare,
	    pipeline_known);
	p->settle = settle_new(loop, cfg->settle_ms, pipeline_on_complete, p);
	settle_set_ignored(p->settle, (const char *const *)cfg->ignore_suffixes.v);
	for (i = 0; i < cfg->collections.n; i++) {
		if (pipeline_add_collection(p, i, cause) != 0) {
			pipeline_free(p);
			return NULL;
		}
	}
	return p;
}

void
pipeline_start(struct pipeline *p)
{
	ingest_resume(p->ingest);
	watch_rescan(p->watch);
	watch_set_intervals(p->watch, p->cfg->rescan_ms, p->cfg->poll_ms);
	objects_start(p->objects);
}

void
pipeline_observe(struct pipeline *p, const struct pipeline_observer *o)
{
	struct ingest_observer io = { NULL, NULL, NULL };

	memset(&p->observer, 0, sizeof p->observer);
	if (o != NULL) {
		p->observer = *o;
		io.started = o->started;
		io.ended = o->ended;
		io.arg = o->arg;
	}
	ingest_observe(p->ingest, &io);
}

uint64_t
pipeline_rescan(struct pipeline *p)
{
	watch_rescan(p->watch);
	objects_reconcile(p->objects);
	return settle_mark(p->settle);
}

uint64_t
pipeline_settle_mark(const struct pipeline *p)
{
	return settle_mark(p->settle);
}

uint64_t
pipeline_settle_oldest(const struct pipeline *p)
{
	return settle_oldest(p->settle);
}

uint64_t
pipeline_state_writes(const struct pipeline *p)
{
	return state_writes(p->state);
}

int
pipeline_counts(struct pipeline *p, struct state_counts *c)
{
	char *cause = NULL;

	if (state_get_counts(p->state, c, &cause) != 0) {
		log_errx("%s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

int
pipeline_state_list(struct pipeline *p, const char *state, const char *collection, long limit,
    void (*fn)(void *, const struct state_obs *), void *arg, char **cause)
{
	enum state_status status;
	enum state_phase phase;

	if (state == NULL)
		return state_obs_list(p->state, NULL, collection, limit, fn, arg, cause);
	if (state_status_from_name(state, &status) == 0)
		return state_obs_list(p->state, &status, collection, limit, fn, arg, cause);
	if (state_phase_from_name(state, &phase) == 0) {
		pipeline_flush_history(p);
		return state_obs_list_phase(p->state, phase, collection, limit, fn, arg, cause);
	}
	*cause = xasprintf("unknown state '%.32s' (%s)", state, PIPELINE_STATE_NAMES);
	return -1;
}

void
pipeline_flush_history(struct pipeline *p)
{
	ev_timer_stop(p->loop, &p->flush);
	pipeline_on_flush(p->loop, &p->flush, 0);
}

int
pipeline_state_show(struct pipeline *p, const char *collection, const char *observation,
    struct pipeline_show *out, char **cause)
{
	int r;

	memset(out, 0, sizeof *out);
	pipeline_flush_history(p);
	if ((r = state_obs_get(p->state, collection, observation, &out->obs, cause)) != 0)
		return r;
	if (state_obs_files(p->state, collection, observation, &out->files, &out->nfiles,
	    cause) != 0 || state_history_get(p->state, collection, observation, &out->history,
	    &out->nhistory, cause) != 0) {
		pipeline_show_clear(out);
		return -1;
	}
	return 0;
}

void
pipeline_show_clear(struct pipeline_show *s)
{
	state_obs_clear(&s->obs);
	state_files_free(s->files, s->nfiles);
	state_events_free(s->history, s->nhistory);
	memset(s, 0, sizeof *s);
}

const struct pipeline_scan *
pipeline_last_scan(const struct pipeline *p)
{
	return &p->last_scan;
}

int
pipeline_reingest(struct pipeline *p, const char *collection, const char *observation,
    int force, char **cause)
{
	int r = state_obs_requeue(p->state, collection, observation, force, cause);

	if (r == 0) {
		log_at(LOG_NOTICE, 0, LOG_FIELDS({ "COLLECTION", collection },
		    { "OBSERVATION_ID", observation }), "observation %s/%s queued again%s",
		    collection, observation, force ? " (forced)" : "");
		state_history_add(p->state, collection, observation, STATE_PHASE_CLASSIFIED, 0,
		    force ? "queued again by an operator (forced)" : "queued again by an operator",
		    0);
		ingest_submit(p->ingest, collection, observation);
	}
	return r;
}

int
pipeline_reingest_file(struct pipeline *p, const char *path, int force,
    char **collection, char **observation, char **cause)
{
	int r;

	*collection = *observation = NULL;
	if ((r = state_file_observation(p->state, path, collection, observation, cause)) != 0)
		return r;
	return pipeline_reingest(p, *collection, *observation, force, cause);
}

struct pipeline_retry {
	struct pipeline	*p;
	int		 force;
	long		 n;
	void		(*fn)(void *, const char *, const char *);
	void		*arg;
};

static void
pipeline_retry_one(void *arg, const struct state_obs *o)
{
	struct pipeline_retry *rt = arg;
	char *cause = NULL;

	if (pipeline_reingest(rt->p, o->collection, o->observation, rt->force, &cause) == 0) {
		rt->n++;
		if (rt->fn != NULL)
			rt->fn(rt->arg, o->collection, o->observation);
	}
	free(cause);
}

long
pipeline_retry_failed(struct pipeline *p, int force,
    void (*fn)(void *arg, const char *collection, const char *observation), void *arg,
    char **cause)
{
	struct pipeline_retry rt = { p, force, 0, fn, arg };

	if (state_obs_each(p->state, STATE_FAILED, pipeline_retry_one, &rt, cause) != 0)
		return -1;
	return rt.n;
}

int
pipeline_pause(struct pipeline *p, const char *collection, int paused)
{
	size_t i;

	for (i = 0; collection != NULL && i < p->cfg->collections.n; i++) {
		if (strcmp(p->cfg->collections.v[i].name, collection) == 0)
			break;
	}
	if (collection != NULL && i == p->cfg->collections.n)
		return -1;
	ingest_pause(p->ingest, collection, paused);
	log_at(LOG_NOTICE, 0, LOG_FIELDS({ "COLLECTION", collection }), "%s %s",
	    collection != NULL ? collection : "every collection", paused ? "paused" : "resumed");
	return 0;
}

int
pipeline_paused(const struct pipeline *p, const char *collection)
{
	return ingest_paused(p->ingest, collection);
}

size_t
pipeline_settling(const struct pipeline *p)
{
	return settle_pending(p->settle);
}

void
pipeline_jobs(const struct pipeline *p, unsigned *queued, unsigned *running,
    unsigned *waiting)
{
	ingest_counts(p->ingest, queued, running, waiting);
}

int
pipeline_objects(struct pipeline *p, struct pipeline_objects *out, int counts)
{
	memset(out, 0, sizeof *out);
	if (p->objects == NULL || (counts && objects_counts(p->objects, out->counts) != 0))
		return -1;
	objects_busy(p->objects, &out->queued, &out->running, &out->waiting, &out->listing);
	out->webhook_port = objects_webhook_port(p->objects);
	return 0;
}

/* Collect the holds (strmap_each's callback must not change the map). */
static void
pipeline_hold_collect(const char *key, void *value, void *arg)
{
	struct pipeline_hold ***next = arg;

	(void)key;
	*(*next)++ = value;
}

static void
pipeline_holds_free(struct pipeline *p)
{
	struct pipeline_hold **all, **next;
	size_t i, n;

	if (p->holds == NULL)
		return;
	n = strmap_count(p->holds);
	next = all = xcalloc(n + 1, sizeof *all);
	strmap_each(p->holds, pipeline_hold_collect, &next);
	for (i = 0; i < n; i++)
		pipeline_hold_free(all[i]);
	free(all);
	strmap_free(p->holds);
}

void
pipeline_free(struct pipeline *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->loop != NULL)
		ev_timer_stop(p->loop, &p->flush);
	objects_free(p->objects);
	settle_free(p->settle);
	watch_free(p->watch);
	state_known_free(p->known);
	pipeline_holds_free(p);
	strmap_free(p->incomplete);
	ingest_free(p->ingest);
	state_close(p->state);
	for (i = 0; i < p->cfg->collections.n; i++)
		rules_free(p->rules[i]);
	free(p->rules);
	for (i = 0; i < p->nroots; i++)
		free(p->roots[i].path);
	free(p->roots);
	free(p);
}
