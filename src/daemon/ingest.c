/*
 * ingest.c - build each observation and store it (see ingest.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "caom/fits.h"
#include "daemon/filestore.h"
#include "daemon/ingest.h"
#include "caom/map.h"
#include "store/jobs.h"
#include "lib/log.h"
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
	struct ingest_observer	 observer;
	LIST_HEAD(, ingest_run)	 runs;		/* in flight */
};

/* What a worker learnt of one file: its stat, MD5, headers and blueprint. */
struct ingest_prep {
	struct artifact_facts	 facts;
	struct fits_file	*ff;		/* NULL: no blueprint, or not FITS */
	struct blueprint	*bp;		/* NULL: no blueprint */
	int			 used;		/* map_augment changed ff: read again */
	char			*warn;		/* a legacy mapping's warnings, logged on the loop */
	char			*cause;		/* set: this file cannot be ingested */
};

/* One attempt of one observation, alive while a push is in flight. */
struct ingest_run {
	struct ingest		*in;
	ev_tstamp		 start;
	struct jobs_job		*job;
	struct state_file	*files;
	size_t			 nfiles;
	struct ingest_prep	*prep;		/* one per file */
	LIST_ENTRY(ingest_run)	 entry;
};

/* Read a file's blueprint and, for a FITS file, its headers (on a worker). */
static int
ingest_read_mapping(const struct state_file *f, struct ingest_prep *pr, char **cause)
{
	if (artifact_blueprint(f->blueprint, f->path, f->uri, &pr->bp, &pr->warn, cause) != 0)
		return -1;
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
	memset(pr, 0, sizeof *pr);
}

/* Everything blocking about one file: stat, MD5, headers (on a worker). */
static void
ingest_prepare_file(const struct state_file *f, struct ingest_prep *pr)
{
	if (artifact_facts_read(f->path, &pr->facts, &pr->cause) != 0)
		return;
	if (f->blueprint != NULL && f->blueprint[0] != '\0')
		ingest_read_mapping(f, pr, &pr->cause);
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
	r = map_augment(obs, &in, &warn, &msg);
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
    struct ingest_prep *pr, char **cause)
{
	struct caom_artifact *a;
	struct caom_plane *p;

	if (pr->cause != NULL) {
		*cause = xstrdup(pr->cause);
		return -1;
	}
	if (pr->bp != NULL && ingest_map_file(obs, f, pr, cause) != 0)
		return -1;
	p = caom_observation_add_plane(obs, f->product);
	a = caom_plane_add_artifact(p, f->uri);
	if (a->product_type == NULL)
		a->product_type = xstrdup("science");
	if (a->release_type == NULL)
		a->release_type = xstrdup("data");
	artifact_facts_apply(a, &pr->facts);
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

	if (existing != NULL && caom_xml_read_memory(oid, existing, len, &obs, cause) != 0)
		return -1;
	if (obs != NULL && (had = obs->ent.has_acc_meta_checksum))
		memcpy(before, obs->ent.acc_meta_checksum, 16);
	if (obs == NULL) {
		obs = caom_observation_new(CAOM_OBS_SIMPLE, coll, oid);
		obs->algorithm.name = xstrdup("exposure");
	}
	for (i = 0; i < run->nfiles && r == 0; i++)
		r = ingest_add_file(obs, &run->files[i], &run->prep[i], cause);
	if (r == 0) {
		checksum_compute(obs);
		checksum_format(obs->ent.acc_meta_checksum, checksum);
		if (had && memcmp(before, obs->ent.acc_meta_checksum, 16) == 0)
			r = 1;
		else
			*text = caom_xml_write(obs, textlen);
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

/* The directory sink: read, build, write; all synchronous. */
static void
ingest_to_dir(struct ingest_run *run)
{
	const char *coll = jobs_job_collection(run->job), *oid = jobs_job_observation(run->job);
	char *old = NULL, *text = NULL, *cause = NULL, sum[37];
	size_t oldlen = 0, len = 0;
	int r;

	r = sink_dir_read(run->in->dir, coll, oid, &old, &oldlen, &cause);
	if (r >= 0)
		r = ingest_build(run, r == 0 ? old : NULL, oldlen, &text, &len, sum, &cause);
	if (r == 0 && sink_dir_write(run->in->dir, coll, oid, text, len, &cause) != 0) {
		jobs_finish(run->job, JOBS_TRANSIENT, cause);	/* a full disk heals */
	} else if (r < 0) {
		jobs_finish(run->job, JOBS_PERMANENT, cause);
	} else {
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

	r = ingest_build(run, existing, len, out, outlen, sum, cause);
	if (r >= 0)
		ingest_remember(run->in, run->job, sum);
	return r;
}

static void
ingest_pushed(void *arg, enum repo_result result, long status, const char *message,
    long retry_after)
{
	struct ingest_run *run = arg;

	if (result == REPO_STORED || result == REPO_UNCHANGED)
		jobs_finish(run->job, JOBS_OK, NULL);
	else
		jobs_finish(run->job, result == REPO_TRANSIENT ? JOBS_TRANSIENT : JOBS_PERMANENT,
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

static void
ingest_stored(void *arg, enum jobs_outcome outcome, const char *error)
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
	    jobs_job_observation(run->job), ff, n, ingest_stored, run);
	free(ff);
	if (!started)
		ingest_push(run);
}

static void
ingest_run(void *arg, struct jobs_job *job)
{
	struct ingest *in = arg;
	struct ingest_run *run = xcalloc(1, sizeof *run);
	char *cause = NULL;

	run->in = in;
	run->job = job;
	run->start = ev_time();
	LIST_INSERT_HEAD(&in->runs, run, entry);
	stats_count(STATS_JOBS_STARTED);
	if (in->observer.started != NULL)
		in->observer.started(in->observer.arg, jobs_job_collection(job),
		    jobs_job_observation(job));
	if (state_obs_running(in->state, jobs_job_collection(job), jobs_job_observation(job),
	    &cause) != 0 || state_obs_files(in->state, jobs_job_collection(job),
	    jobs_job_observation(job), &run->files, &run->nfiles, &cause) != 0) {
		jobs_finish(job, JOBS_TRANSIENT, cause);
		free(cause);
		ingest_run_free(run);
		return;
	}
	run->prep = xcalloc(run->nfiles + 1, sizeof *run->prep);
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
	char *cause = NULL;

	if (state_obs_done(in->state, coll, oid, sum, &cause) != 0) {
		log_errx("%s", cause);
		free(cause);
	}
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
	snprintf(att, sizeof att, "%u", attempts);
	if (state_obs_failed(in->state, coll, oid, error, retry_at, &cause) != 0) {
		log_errx("%s", cause);
		free(cause);
	}
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
	if (rc->url != NULL && (in->repo = repo_new(loop, &repo, cause)) == NULL) {
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
	if ((in->work = work_new(loop, 2, cause)) == NULL) {
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
