/*
 * ingest.c - build each observation and store it (see ingest.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "caom/artifact.h"
#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "conf/conf.h"
#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "caom/fits.h"
#include "caom/lua_code.h"
#include "conf/rules.h"
#include "daemon/filestore.h"
#include "daemon/ingest.h"
#include "daemon/previews.h"
#include "caom/map.h"
#include "store/jobs.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/msgid.h"
#include "sinks/repo.h"
#include "sinks/sink_dir.h"
#include "store/state.h"
#include "lib/stats.h"
#include "lib/strmap.h"
#include "lib/work.h"
#include "lib/xmalloc.h"

struct ingest {
	struct ev_loop		*loop;
	const struct conf	*cfg;
	struct state		*state;
	struct jobs		*jobs;
	struct repo		*repo;		/* NULL: the directory sink */
	struct filestore	*files;		/* stores the files first */
	char			*dir;
	struct strmap		*stored;	/* "coll\nobs" -> checksum stored, until recorded */
	struct work		*work;		/* reads and checksums files off the loop */
	struct previews		*previews;	/* the rules' previews and thumbnails */
	struct ingest_observer	 observer;
	struct rules		**code_rules;	/* per collection, to find a file's rule's
						 * collection code; NULL: it has none */
	LIST_HEAD(, ingest_run)	 runs;		/* in flight */
	enum metrics_class	 finishing;	/* why the attempt being finished failed */
};

/* What a worker learnt of one file: its stat, MD5, headers and blueprint. */
struct ingest_prep {
	struct artifact_facts	 facts;
	struct fits_file	*ff;		/* NULL: no blueprint, or not FITS */
	struct blueprint	*bp;		/* NULL: no blueprint */
	int			 used;		/* map_augment changed ff: read again */
	char			*warn;		/* a legacy mapping's warnings, logged on the loop */
	char			*cause;		/* set: this file cannot be ingested */
	struct previews_plan	*previews;	/* what the file's previews are, NULL: none */
	const struct conf_rule	*code;		/* its rule, when that has collection code */
	enum metrics_class	 class;		/* and why */
};

/* One attempt of one observation, alive while a push is in flight. */
struct ingest_run {
	struct ingest		*in;
	ev_tstamp		 start;
	struct jobs_job		*job;
	struct state_file	*files;
	size_t			 nfiles;
	struct ingest_prep	*prep;		/* one per file */
	enum metrics_class	 class;		/* why the build failed */
	size_t			 doclen;	/* bytes of the document built */
	int			 merged;	/* the last merge built a document to send */
	int			 merge_failed;	/* a merge failed: class says why */
	LIST_ENTRY(ingest_run)	 entry;
};

/* Record a life-cycle event of the run's observation. */
static void
ingest_event(struct ingest_run *run, enum state_phase phase, const char *detail)
{
	state_history_add(run->in->state, jobs_job_collection(run->job),
	    jobs_job_observation(run->job), phase, 0, detail, 0);
}

/* End the attempt: outcome, and for a failure its class and error. */
static void
ingest_finish(struct ingest_run *run, enum jobs_outcome outcome, enum metrics_class cl,
    const char *error)
{
	run->in->finishing = cl;
	jobs_finish(run->job, outcome, error);
}

/* Read a file's blueprint and, for a FITS file, its headers (on a worker). */
static int
ingest_read_mapping(const struct state_file *f, struct ingest_prep *pr, char **cause)
{
	pr->class = METRICS_CLASS_MAPPING;
	char *msg = NULL;

	if (pr->code != NULL) {
		/* its function values are bound on the loop (ingest_map_file) */
		pr->bp = blueprint_new();
		bp_allow_functions(pr->bp);
		if (blueprint_load(pr->bp, f->blueprint, &msg) != 0) {
			*cause = xasprintf("blueprint for %s: %s", f->path, msg);
			free(msg);
			return -1;
		}
	} else if (artifact_blueprint(f->blueprint, f->path, f->uri, &pr->bp, &pr->warn,
	    cause) != 0)
		return -1;
	pr->class = METRICS_CLASS_FILE;
	if (fits_name_is_fits(f->path) && fits_read(f->path, &pr->ff, cause) != 0)
		return -1;
	return 0;
}

static void
ingest_prep_clear(struct ingest_prep *pr)
{
	fits_file_free(pr->ff);
	blueprint_free(pr->bp);
	free(pr->warn);
	free(pr->cause);
	previews_plan_free(pr->previews);
	memset(pr, 0, sizeof *pr);
}

/* Everything blocking about one file: stat, MD5, headers (on a worker). */
static void
ingest_prepare_file(const struct state_file *f, struct ingest_prep *pr)
{
	pr->class = METRICS_CLASS_FILE;
	if (artifact_facts_read(f->path, &pr->facts, &pr->cause) != 0)
		return;
	if (f->blueprint != NULL && f->blueprint[0] != '\0')
		ingest_read_mapping(f, pr, &pr->cause);
	if (pr->previews != NULL && pr->cause == NULL)
		previews_make(pr->previews, f->path);	/* the file is complete: it is here */
}

/* Map one file's headers into obs with its blueprint. */
static int
ingest_map_file(struct caom_observation *obs, const struct state_file *f,
    struct ingest_prep *pr, char **cause)
{
	struct map_input in;
	char *warn = NULL, *msg = NULL;
	int r = -1;

	if (pr->used) {
		/* a second build (a 409/412 re-merge): the headers were changed by
		 * the first, read them again (rare; on the loop) */
		fits_file_free(pr->ff);
		blueprint_free(pr->bp);
		free(pr->warn);
		pr->ff = NULL;
		pr->bp = NULL;
		pr->warn = NULL;
		if (ingest_read_mapping(f, pr, cause) != 0)
			return -1;
	}
	if (pr->warn != NULL && !pr->used)
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", f->path }), "%s: legacy mapping: %s",
		    f->path, pr->warn);
	pr->used = 1;
	if (obs->kind != map_observation_kind(pr->bp) && obs->nplanes == 0)
		obs->kind = map_observation_kind(pr->bp);
	memset(&in, 0, sizeof in);
	in.product_id = f->product;
	in.uri = f->uri;
	in.fits = pr->ff;
	in.path = f->path;
	in.bp = pr->bp;
	/*
	 * Collection code runs here, where the mapping runs: on the loop thread
	 * (its own Lua state there), bounded by the instruction budget.
	 */
	if (pr->code != NULL) {
		const char *base = strrchr(f->path, '/') != NULL ? strrchr(f->path, '/') + 1 :
		    f->path;
		struct lua_rt_input li = { pr->ff, f->uri, base, NULL };

		if (lua_code_bind(pr->code->lua, pr->code->lua_functions, pr->bp, cause) != 0)
			return -1;
		if ((in.lua = lua_rt_begin(pr->code->lua, &li, cause)) == NULL)
			return -1;
	}
	r = map_augment(obs, &in, &warn, &msg);
	/* the visitors, in order, after the mapping and before the checksums */
	if (r == 0 && in.lua != NULL && lua_rt_visit(in.lua, obs, &msg) != 0)
		r = -1;
	lua_rt_end(in.lua);
	/* logged whether or not the mapping failed: a warning may say why it did */
	if (warn != NULL)
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", f->path }), "%s: mapping: %s", f->path,
		    warn);
	if (r != 0) {
		*cause = msg;
		msg = NULL;
	}
	free(warn);
	free(msg);
	return r;
}

/* Put one file into obs as the artifact of its product's plane. */
static int
ingest_add_file(struct caom_observation *obs, const struct state_file *f,
    struct ingest_prep *pr, enum metrics_class *cl, char **cause)
{
	struct caom_artifact *a;
	struct caom_plane *p;

	if (pr->cause != NULL) {
		*cl = pr->class;
		*cause = xstrdup(pr->cause);
		return -1;
	}
	*cl = METRICS_CLASS_MAPPING;
	if (pr->bp != NULL && ingest_map_file(obs, f, pr, cause) != 0)
		return -1;
	p = caom_observation_add_plane(obs, f->product);
	a = caom_plane_add_artifact(p, f->uri);
	if (a->product_type == NULL)
		a->product_type = xstrdup("science");
	if (a->release_type == NULL)
		a->release_type = xstrdup("data");
	artifact_facts_apply(a, &pr->facts);
	if (pr->previews != NULL)
		return previews_apply(pr->previews, obs, f->product, f->path, cause);
	return 0;
}

/*
 * Build the observation into existing (or a new one) and serialise it.
 * 0 with *text, 1 when its checksum equals what is stored, -1 with *cause.
 */
static int
ingest_build(struct ingest_run *run, const char *existing, size_t len, char **text,
    size_t *textlen, char checksum[37], char **cause)
{
	const char *coll = jobs_job_collection(run->job), *oid = jobs_job_observation(run->job);
	struct caom_observation *obs = NULL;
	uint8_t before[16];
	int had = 0, r = 0;
	size_t i;
	char *detail;

	detail = xasprintf("%zu file%s into %s", run->nfiles, run->nfiles == 1 ? "" : "s",
	    existing != NULL ? "the observation the sink holds" : "a new observation");
	ingest_event(run, STATE_PHASE_MAPPING, detail);
	free(detail);
	run->class = METRICS_CLASS_SINK;	/* the sink's document is unreadable */
	if (existing != NULL && caom_xml_read_memory(oid, existing, len, &obs, cause) != 0)
		return -1;
	if (obs != NULL && (had = obs->ent.has_acc_meta_checksum))
		memcpy(before, obs->ent.acc_meta_checksum, 16);
	if (obs == NULL) {
		obs = caom_observation_new(CAOM_OBS_SIMPLE, coll, oid);
		obs->algorithm.name = xstrdup("exposure");
	}
	for (i = 0; i < run->nfiles && r == 0; i++)
		r = ingest_add_file(obs, &run->files[i], &run->prep[i], &run->class, cause);
	if (r == 0) {
		checksum_compute(obs);
		checksum_format(obs->ent.acc_meta_checksum, checksum);
		if (had && memcmp(before, obs->ent.acc_meta_checksum, 16) == 0)
			r = 1;
		else {
			*text = caom_xml_write(obs, textlen);
			run->doclen = *textlen;
		}
	}
	caom_observation_free(obs);
	return r;
}

static void
ingest_run_free(struct ingest_run *run)
{
	size_t i;

	stats_time(STATS_JOB, ev_time() - run->start);
	LIST_REMOVE(run, entry);
	for (i = 0; run->prep != NULL && i < run->nfiles; i++)
		ingest_prep_clear(&run->prep[i]);
	free(run->prep);
	state_files_free(run->files, run->nfiles);
	free(run);
}

/* A worker: stat, checksum and read every file of the run. */
static void
ingest_prepare(void *arg)
{
	struct ingest_run *run = arg;
	size_t i;

	for (i = 0; i < run->nfiles; i++)
		ingest_prepare_file(&run->files[i], &run->prep[i]);
}

/* The daemon stops with this run still with a worker. */
static void
ingest_discard(void *arg)
{
	ingest_run_free(arg);
}

static void
ingest_remember(struct ingest *in, struct jobs_job *job, const char *checksum)
{
	char *key = xasprintf("%s\n%s", jobs_job_collection(job), jobs_job_observation(job));

	free(strmap_put(in->stored, key, xstrdup(checksum)));
	free(key);
}

/* The bytes of a stored observation's files, and of its document when written. */
static void
ingest_stored(struct ingest_run *run, int written)
{
	const char *coll = jobs_job_collection(run->job);
	uint64_t bytes = 0;
	size_t i;

	for (i = 0; i < run->nfiles; i++)
		bytes += run->prep[i].facts.length > 0 ? (uint64_t)run->prep[i].facts.length : 0;
	metrics_count(METRICS_FILE_BYTES, coll, bytes);
	if (written)
		metrics_count(METRICS_DOCUMENT_BYTES, coll, run->doclen);
}

/* The directory sink: read, build, write; all synchronous. */
static void
ingest_to_dir(struct ingest_run *run)
{
	const char *coll = jobs_job_collection(run->job), *oid = jobs_job_observation(run->job);
	char *old = NULL, *text = NULL, *cause = NULL, sum[37];
	size_t oldlen = 0, len = 0;
	int r;

	run->class = METRICS_CLASS_SINK;
	r = sink_dir_read(run->in->dir, coll, oid, &old, &oldlen, &cause);
	if (r >= 0)
		r = ingest_build(run, r == 0 ? old : NULL, oldlen, &text, &len, sum, &cause);
	if (r == 0)
		ingest_event(run, STATE_PHASE_PUSHING, "writing it to the directory sink");
	if (r == 0 && sink_dir_write(run->in->dir, coll, oid, text, len, &cause) != 0) {
		/* a full disk heals */
		ingest_finish(run, JOBS_TRANSIENT, METRICS_CLASS_SINK, cause);
	} else if (r < 0) {
		ingest_finish(run, JOBS_PERMANENT, run->class, cause);
	} else {
		ingest_stored(run, r == 0);
		ingest_remember(run->in, run->job, sum);
		jobs_finish(run->job, JOBS_OK, NULL);
	}
	free(old);
	free(text);
	free(cause);
	ingest_run_free(run);
}

static int
ingest_merge(void *arg, const char *existing, size_t len, char **out, size_t *outlen,
    char **cause)
{
	struct ingest_run *run = arg;
	char sum[37];
	int r;

	run->merged = 0;
	r = ingest_build(run, existing, len, out, outlen, sum, cause);
	if (r >= 0)
		ingest_remember(run->in, run->job, sum);
	if (r == 0) {
		ingest_event(run, STATE_PHASE_PUSHING, "sending it to the repository");
		run->merged = 1;
	}
	if (r < 0)
		run->merge_failed = 1;
	return r;
}

static void
ingest_pushed(void *arg, enum repo_result result, long status, const char *message,
    long retry_after)
{
	struct ingest_run *run = arg;
	enum metrics_class cl = run->merge_failed ? run->class : status == 0 ?
	    METRICS_CLASS_NETWORK : METRICS_CLASS_SINK;

	if (result == REPO_STORED || result == REPO_UNCHANGED) {
		ingest_stored(run, result == REPO_STORED && run->merged);
		jobs_finish(run->job, JOBS_OK, NULL);
	} else
		ingest_finish(run, result == REPO_TRANSIENT ? JOBS_TRANSIENT : JOBS_PERMANENT, cl,
		    message);
	ingest_run_free(run);
}

/* The files stored: push or write the observation. */
static void
ingest_push(struct ingest_run *run)
{
	if (run->in->repo != NULL)
		repo_push(run->in->repo, jobs_job_collection(run->job),
		    jobs_job_observation(run->job), ingest_merge, ingest_pushed, run);
	else
		ingest_to_dir(run);
}

/* The rule of f, when that rule has collection code (its name still gives f's observation). */
static const struct conf_rule *
ingest_code(struct ingest *in, const char *collection, const struct state_file *f)
{
	const struct conf_collection *c;
	const struct conf_rule *r = NULL;
	struct rules_result res;
	size_t i;

	for (i = 0; i < in->cfg->collections.n; i++) {
		c = &in->cfg->collections.v[i];
		if (strcmp(c->name, collection) != 0 || in->code_rules == NULL ||
		    in->code_rules[i] == NULL || f->observation == NULL || f->blueprint == NULL)
			continue;
		if (rules_classify(in->code_rules[i], f->path, &res) != RULES_MATCHED)
			return NULL;
		if (c->rules.v[res.rule].lua != NULL &&
		    strcmp(res.observation, f->observation) == 0)
			r = &c->rules.v[res.rule];
		rules_result_free(&res);
		return r;
	}
	return NULL;
}

/* The rules of collections with collection code, to find a file's rule again. */
static int
ingest_code_rules(struct ingest *in, char **cause)
{
	const struct conf_collection *c;
	struct rules_spec *specs;
	size_t i, j;
	int any;

	in->code_rules = xcalloc(in->cfg->collections.n + 1, sizeof *in->code_rules);
	for (i = 0; i < in->cfg->collections.n; i++) {
		c = &in->cfg->collections.v[i];
		for (j = 0, any = 0; j < c->rules.n; j++)
			any |= c->rules.v[j].lua != NULL;
		if (!any)
			continue;
		specs = xcalloc(c->rules.n + 1, sizeof *specs);
		for (j = 0; j < c->rules.n; j++) {
			specs[j].match = c->rules.v[j].match;
			specs[j].observation = c->rules.v[j].observation;
			specs[j].product = c->rules.v[j].product;
			specs[j].uri = c->rules.v[j].uri;
			specs[j].blueprint = c->rules.v[j].blueprint;
		}
		in->code_rules[i] = rules_new(c->name, NULL, NULL, specs, c->rules.n, cause);
		free(specs);
		if (in->code_rules[i] == NULL)
			return -1;
	}
	return 0;
}

static void
ingest_files_stored(void *arg, enum jobs_outcome outcome, const char *error)
{
	struct ingest_run *run = arg;

	if (outcome == JOBS_OK) {
		ingest_push(run);
		return;
	}
	jobs_finish(run->job, outcome, error);
	ingest_run_free(run);
}

/* Back on the loop with the files read: store them first (filestore.h), then push. */
static void
ingest_prepared(void *arg)
{
	struct ingest_run *run = arg;
	struct filestore_file *ff = xcalloc(run->nfiles + 1, sizeof *ff);
	size_t i, n = 0;
	int started;

	for (i = 0; i < run->nfiles; i++) {
		if (run->prep[i].cause != NULL)
			continue;	/* unreadable: the build reports it */
		ff[n].path = run->files[i].path;
		ff[n].uri = run->files[i].uri;
		ff[n].md5 = run->prep[i].facts.md5;
		ff[n].size = run->prep[i].facts.length;
		ff[n].mtime_ns = run->files[i].mtime_ns;
		ff[n].type = run->prep[i].facts.type;
		ff[n++].stored = &run->files[i].stored;
	}
	started = filestore_run(run->in->files, jobs_job_collection(run->job),
	    jobs_job_observation(run->job), ff, n, ingest_files_stored, run);
	free(ff);
	if (!started)
		ingest_push(run);
}

static void
ingest_run(void *arg, struct jobs_job *job)
{
	struct ingest *in = arg;
	struct ingest_run *run = xcalloc(1, sizeof *run);
	char *cause = NULL, *detail;
	size_t i;

	run->in = in;
	run->job = job;
	run->start = ev_time();
	LIST_INSERT_HEAD(&in->runs, run, entry);
	stats_count(STATS_JOBS_STARTED);
	metrics_count(METRICS_ATTEMPTS, jobs_job_collection(job), 1);
	if (in->observer.started != NULL)
		in->observer.started(in->observer.arg, jobs_job_collection(job),
		    jobs_job_observation(job));
	if (state_obs_running(in->state, jobs_job_collection(job), jobs_job_observation(job),
	    &cause) != 0 || state_obs_files(in->state, jobs_job_collection(job),
	    jobs_job_observation(job), &run->files, &run->nfiles, &cause) != 0) {
		ingest_finish(run, JOBS_TRANSIENT, METRICS_CLASS_STATE, cause);
		free(cause);
		ingest_run_free(run);
		return;
	}
	detail = xasprintf("attempt %u: reading and checksumming %zu file%s",
	    jobs_job_attempt(job), run->nfiles, run->nfiles == 1 ? "" : "s");
	ingest_event(run, STATE_PHASE_STORING, detail);
	free(detail);
	run->prep = xcalloc(run->nfiles + 1, sizeof *run->prep);
	for (i = 0; i < run->nfiles; i++) {	/* which rule's previews and code: on the loop */
		run->prep[i].previews = previews_plan(in->previews, jobs_job_collection(job),
		    &run->files[i]);
		run->prep[i].code = ingest_code(in, jobs_job_collection(job), &run->files[i]);
	}
	work_submit(in->work, ingest_prepare, ingest_prepared, run);
}

/* keep, delete or move the files of an observation. */
static void
ingest_dispose(struct ingest *in, const char *coll, const char *oid, const struct conf_action *a)
{
	struct state_file *files = NULL;
	char *cause = NULL, *to;
	size_t n = 0, i;
	const char *base;

	if (a->kind == CONF_KEEP || state_obs_files(in->state, coll, oid, &files, &n, &cause) != 0) {
		free(cause);
		return;
	}
	for (i = 0; i < n; i++) {
		base = strrchr(files[i].path, '/') ? strrchr(files[i].path, '/') + 1 : files[i].path;
		to = a->kind == CONF_MOVE ? xasprintf("%s/%s", a->dir, base) : NULL;
		if (a->kind == CONF_DELETE ? unlink(files[i].path) : rename(files[i].path, to))
			log_at(LOG_WARNING, errno, LOG_FIELDS({ "FILE", files[i].path }),
			    "cannot %s %s", a->kind == CONF_DELETE ? "delete" : "move", files[i].path);
		free(to);
	}
	state_files_free(files, n);
}

static const struct conf_collection *
ingest_collection(const struct ingest *in, const char *name)
{
	size_t i;

	for (i = 0; i < in->cfg->collections.n; i++) {
		if (strcmp(in->cfg->collections.v[i].name, name) == 0)
			return &in->cfg->collections.v[i];
	}
	return NULL;
}

static void
ingest_record_ok(struct ingest *in, const char *coll, const char *oid, unsigned attempts)
{
	char *key = xasprintf("%s\n%s", coll, oid), *sum = strmap_del(in->stored, key);
	const struct conf_collection *c = ingest_collection(in, coll);
	char *cause = NULL, *detail;
	int64_t landed = 0;
	double now = ev_now(in->loop);

	if (state_obs_done(in->state, coll, oid, sum, &landed, &cause) != 0) {
		log_errx("%s", cause);
		free(cause);
	}
	if (landed > 0)		/* (a clock set back makes no negative lag) */
		stats_time(STATS_LAG, fmax(now - (double)landed / 1e3, 0.));
	metrics_count(METRICS_OBS_STORED, coll, 1);
	metrics_success(coll, now);
	detail = sum != NULL ? xasprintf("stored (%s)", sum) :
	    xstrdup("unchanged: not written again");
	state_history_add(in->state, coll, oid, STATE_PHASE_DONE, 0, detail, 0);
	free(detail);
	log_at(LOG_INFO, 0, LOG_FIELDS({ "MESSAGE_ID", MSGID_OBS_INGESTED },
	    { "COLLECTION", coll }, { "OBSERVATION_ID", oid }, { "STAGE", "push" }),
	    "observation %s/%s stored (%s)", coll, oid, sum != NULL ? sum : "unchanged");
	if (c != NULL)
		ingest_dispose(in, coll, oid, &c->on_success);
	free(sum);
	free(key);
}

static void
ingest_record(void *arg, const char *coll, const char *oid, enum jobs_outcome outcome,
    const char *error, unsigned attempts, int64_t retry_at)
{
	struct ingest *in = arg;
	const struct conf_collection *c;
	char *cause = NULL, att[16];

	if (outcome == JOBS_OK) {
		stats_count(STATS_OBS_STORED);
		ingest_record_ok(in, coll, oid, attempts);
		if (in->observer.ended != NULL)
			in->observer.ended(in->observer.arg, coll, oid, STATE_DONE, NULL);
		return;
	}
	stats_count(retry_at > 0 ? STATS_OBS_RETRIED : STATS_OBS_FAILED);
	metrics_failure(coll, in->finishing, retry_at > 0);
	snprintf(att, sizeof att, "%u", attempts);
	if (state_obs_failed(in->state, coll, oid, error, retry_at, &cause) != 0) {
		log_errx("%s", cause);
		free(cause);
	}
	state_history_add(in->state, coll, oid, retry_at > 0 ? STATE_PHASE_RETRY :
	    STATE_PHASE_FAILED, 0, error, retry_at);
	log_at(retry_at > 0 ? LOG_WARNING : LOG_ERR, 0, LOG_FIELDS({ "MESSAGE_ID",
	    retry_at > 0 ? NULL : MSGID_OBS_FAILED }, { "COLLECTION", coll },
	    { "OBSERVATION_ID", oid }, { "STAGE", "push" }, { "ATTEMPT", att }),
	    "observation %s/%s %s (attempt %u): %s", coll, oid,
	    retry_at > 0 ? "will be retried" : "failed", attempts, error ? error : "");
	if (retry_at == 0 && (c = ingest_collection(in, coll)) != NULL)
		ingest_dispose(in, coll, oid, &c->on_failure);
	if (in->observer.ended != NULL)
		in->observer.ended(in->observer.arg, coll, oid,
		    retry_at > 0 ? STATE_RETRY : STATE_FAILED, error);
}

struct ingest *
ingest_new(struct ev_loop *loop, const struct conf *cfg, struct state *st, char **cause)
{
	const struct conf_repo *rc = &cfg->sink.repo;
	struct jobs_config jc = { (unsigned)rc->concurrency, rc->retry.initial_ms,
		rc->retry.max_ms, (unsigned)rc->retry.attempts };
	static const struct jobs_ops ops = { ingest_run, ingest_record };
	struct repo_config repo = { rc->url, rc->cert, rc->token_file, rc->netrc, rc->ca_path,
		rc->timeout_ms, (unsigned)rc->concurrency };
	struct ingest *in = xcalloc(1, sizeof *in);

	in->loop = loop;
	in->cfg = cfg;
	in->state = st;
	in->stored = strmap_new();
	LIST_INIT(&in->runs);
	in->dir = cfg->sink.directory != NULL ? xstrdup(cfg->sink.directory) :
	    xasprintf("%s/observations", cfg->state_dir);
	if ((rc->url != NULL && (in->repo = repo_new(loop, &repo, cause)) == NULL) ||
	    (in->previews = previews_new(cfg, in->repo == NULL ? in->dir : NULL, cause)) == NULL) {
		ingest_free(in);
		return NULL;
	}
	if ((in->files = filestore_new(loop, cfg, st, cause)) == NULL) {
		ingest_free(in);
		return NULL;
	}
	/* two workers: a file being checksummed does not hold up the next. They
	 * read headers with cfitsio while the loop may too (BINTABLE columns):
	 * cfitsio must be built reentrant, as Debian's is (t/fits checks it). */
	if ((in->work = work_new(loop, 2, cause)) == NULL || ingest_code_rules(in, cause) != 0) {
		ingest_free(in);
		return NULL;
	}
	in->jobs = jobs_new(loop, &jc, &ops, in);
	return in;
}

static void
ingest_free_sum(const char *key, void *value, void *arg)
{
	free(value);
}

void
ingest_free(struct ingest *in)
{
	size_t i;

	if (in == NULL)
		return;
	work_free(in->work, ingest_discard);
	jobs_free(in->jobs);
	repo_free(in->repo);	/* pushes in flight are abandoned: so are their runs */
	filestore_free(in->files);	/* and so are puts in flight */
	while (!LIST_EMPTY(&in->runs))
		ingest_run_free(LIST_FIRST(&in->runs));
	strmap_each(in->stored, ingest_free_sum, NULL);
	strmap_free(in->stored);
	previews_free(in->previews);
	for (i = 0; in->code_rules != NULL && i < in->cfg->collections.n; i++)
		rules_free(in->code_rules[i]);
	free(in->code_rules);
	free(in->dir);
	free(in);
}

void
ingest_observe(struct ingest *in, const struct ingest_observer *o)
{
	if (o != NULL)
		in->observer = *o;
	else
		memset(&in->observer, 0, sizeof in->observer);
}

void
ingest_submit(struct ingest *in, const char *collection, const char *observation)
{
	jobs_submit(in->jobs, collection, observation);
}

static void
ingest_resume_pending(void *arg, const struct state_obs *o)
{
	struct ingest *in = arg;

	/* a group still waiting for files at the restart keeps its deadline */
	if (o->next_attempt_ms > jobs_now_ms())
		jobs_submit_at(in->jobs, o->collection, o->observation, o->next_attempt_ms, 0);
	else
		jobs_submit(in->jobs, o->collection, o->observation);
}

static void
ingest_resume_retry(void *arg, const struct state_obs *o)
{
	jobs_submit_at(((struct ingest *)arg)->jobs, o->collection, o->observation,
	    o->next_attempt_ms, (unsigned)o->attempts);
}

void
ingest_resume(struct ingest *in)
{
	char *cause = NULL;

	if (state_obs_each(in->state, STATE_PENDING, ingest_resume_pending, in, &cause) != 0 ||
	    state_obs_each(in->state, STATE_RETRY, ingest_resume_retry, in, &cause) != 0) {
		log_errx("resuming work: %s", cause);
		free(cause);
	}
}

void
ingest_counts(const struct ingest *in, unsigned *queued, unsigned *running, unsigned *waiting)
{
	jobs_counts(in->jobs, queued, running, waiting);
}

void
ingest_pause(struct ingest *in, const char *collection, int paused)
{
	jobs_pause(in->jobs, collection, paused);
}

int
ingest_paused(const struct ingest *in, const char *collection)
{
	return jobs_paused(in->jobs, collection);
}
