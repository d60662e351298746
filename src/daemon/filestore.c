/*
 * filestore.c - the storage stage of an observation's job (see filestore.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <ev.h>

#include "conf/conf.h"
#include "daemon/filestore.h"
#include "lib/log.h"
#include "lib/work.h"
#include "lib/xmalloc.h"
#include "sinks/storage.h"

#define FILESTORE_MAX_THREADS	8

/* A storage and the collections it serves (NULL name: the global one). */
struct filestore_target {
	char			*collection;
	struct storage		*st;
};

struct filestore {
	struct ev_loop		*loop;
	struct state		*state;
	struct work		*work;		/* reads and hashes file bytes */
	struct filestore_target	*targets;
	size_t			 ntargets;
	LIST_HEAD(, filestore_run) runs;
};

struct filestore_put {
	struct filestore_run	*run;
	char			*path;
	char			*uri;
	char			*md5;
	int64_t			 size;
};

struct filestore_run {
	struct filestore	*fs;
	char			*collection;
	char			*observation;
	const char		*target;
	struct filestore_put	*puts;
	size_t			 nputs;
	size_t			 left;
	enum jobs_outcome	 outcome;
	char			*error;
	filestore_done_fn	*done;
	void			*arg;
	ev_timer		 later;		/* the report, from the loop */
	LIST_ENTRY(filestore_run) entry;
};

static void
filestore_submit(void *ctx, storage_work_fn *fn, storage_work_fn *done, void *arg)
{
	work_submit(ctx, fn, done, arg);
}

/* The storage configuration of a conf_storage (the s3 endpoint and keys are the
 * top-level s3's). */
static void
filestore_config(const struct conf *cfg, const struct conf_storage *s, struct work *w,
    struct storage_config *sc)
{
	memset(sc, 0, sizeof *sc);
	sc->kind = s->si.url != NULL ? STORAGE_SI : s->s3.bucket != NULL ? STORAGE_S3 :
	    STORAGE_DIR;
	sc->url = sc->kind == STORAGE_SI ? s->si.url : cfg->s3.endpoint;
	sc->cert = s->si.cert;
	sc->token_file = s->si.token_file;
	sc->netrc = s->si.netrc;
	sc->ca_path = sc->kind == STORAGE_SI ? s->si.ca_path : cfg->s3.ca_path;
	sc->region = cfg->s3.region;
	sc->credentials = cfg->s3.credentials;
	sc->profile = cfg->s3.profile;
	sc->bucket = s->s3.bucket;
	sc->prefix = s->s3.prefix;
	sc->directory = s->directory;
	sc->big = sc->kind == STORAGE_SI ? s->si.txn_threshold : s->s3.multipart_threshold;
	sc->piece = sc->kind == STORAGE_SI ? s->si.segment_size : s->s3.part_size;
	sc->timeout_ms = s->timeout_ms;
	sc->concurrency = (unsigned)s->concurrency;
	sc->retry_initial_ms = s->retry.initial_ms;
	sc->retry_max_ms = s->retry.max_ms;
	sc->retry_attempts = (unsigned)s->retry.attempts;
	sc->submit = filestore_submit;
	sc->submit_ctx = w;
}

static int
filestore_add(struct filestore *fs, const struct conf *cfg, const char *collection,
    const struct conf_storage *s, char **cause)
{
	struct storage_config sc;
	struct storage *st;

	filestore_config(cfg, s, fs->work, &sc);
	if ((st = storage_new(fs->loop, &sc, cause)) == NULL)
		return -1;
	fs->targets = xreallocarray(fs->targets, fs->ntargets + 1, sizeof *fs->targets);
	fs->targets[fs->ntargets].collection = xstrdup(collection);
	fs->targets[fs->ntargets++].st = st;
	return 0;
}

/* Worker threads: as many as transfers may run at once, within reason. */
static unsigned
filestore_threads(const struct conf *cfg)
{
	long n = cfg->storage.line > 0 ? cfg->storage.concurrency : 0;
	size_t i;

	for (i = 0; i < cfg->collections.n; i++) {
		if (cfg->collections.v[i].storage.line > 0 && cfg->collections.v[i].storage.concurrency > n)
			n = cfg->collections.v[i].storage.concurrency;
	}
	return n < 1 ? 1 : n > FILESTORE_MAX_THREADS ? FILESTORE_MAX_THREADS : (unsigned)n;
}

struct filestore *
filestore_new(struct ev_loop *loop, const struct conf *cfg, struct state *st, char **cause)
{
	struct filestore *fs = xcalloc(1, sizeof *fs);
	size_t i;

	fs->loop = loop;
	fs->state = st;
	LIST_INIT(&fs->runs);
	for (i = 0; i < cfg->collections.n && cfg->collections.v[i].storage.line == 0; i++)
		;
	if (cfg->storage.line == 0 && i == cfg->collections.n)
		return fs;	/* no storage: no threads either */
	if ((fs->work = work_new(loop, filestore_threads(cfg), cause)) == NULL)
		goto fail;
	if (cfg->storage.line > 0 && filestore_add(fs, cfg, NULL, &cfg->storage, cause) != 0)
		goto fail;
	for (i = 0; i < cfg->collections.n; i++) {
		if (cfg->collections.v[i].storage.line > 0 && filestore_add(fs, cfg,
		    cfg->collections.v[i].name, &cfg->collections.v[i].storage, cause) != 0)
			goto fail;
	}
	return fs;
fail:
	filestore_free(fs);
	return NULL;
}

static void
filestore_run_free(struct filestore_run *run)
{
	size_t i;

	LIST_REMOVE(run, entry);
	ev_timer_stop(run->fs->loop, &run->later);
	for (i = 0; i < run->nputs; i++) {
		free(run->puts[i].path);
		free(run->puts[i].uri);
		free(run->puts[i].md5);
	}
	free(run->puts);
	free(run->collection);
	free(run->observation);
	free(run->error);
	free(run);
}

void
filestore_free(struct filestore *fs)
{
	size_t i;

	if (fs == NULL)
		return;
	work_free(fs->work, NULL);	/* first: no file work may run under the stores */
	for (i = 0; i < fs->ntargets; i++) {
		storage_free(fs->targets[i].st);
		free(fs->targets[i].collection);
	}
	free(fs->targets);
	while (!LIST_EMPTY(&fs->runs))
		filestore_run_free(LIST_FIRST(&fs->runs));
	free(fs);
}

static struct storage *
filestore_storage(const struct filestore *fs, const char *collection)
{
	struct storage *global = NULL;
	size_t i;

	for (i = 0; i < fs->ntargets; i++) {
		if (fs->targets[i].collection == NULL)
			global = fs->targets[i].st;
		else if (strcmp(fs->targets[i].collection, collection) == 0)
			return fs->targets[i].st;
	}
	return global;
}

/* Stored already, as it is now, where it goes? */
static int
filestore_is_stored(const struct filestore_file *f, const char *target)
{
	const struct state_stored *s = f->stored;

	return s != NULL && s->status == STATE_STORE_STORED && s->target != NULL &&
	    strcmp(s->target, target) == 0 && s->md5 != NULL && strcmp(s->md5, f->md5) == 0 &&
	    s->size == f->size && s->type != NULL && strcmp(s->type, f->type) == 0;
}

static void
filestore_fail(struct filestore_run *run, enum jobs_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
filestore_fail(struct filestore_run *run, enum jobs_outcome o, const char *fmt, ...)
{
	va_list ap;

	if (run->error != NULL && (o != JOBS_PERMANENT || run->outcome == JOBS_PERMANENT))
		return;		/* the first error, or the first permanent one, is reported */
	free(run->error);
	va_start(ap, fmt);
	run->error = xvasprintf(fmt, ap);
	va_end(ap);
	run->outcome = o;
}

static void
filestore_on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct filestore_run *run = w->data;

	run->done(run->arg, run->outcome, run->error);
	filestore_run_free(run);
}

static void
filestore_put_ended(struct filestore_run *run)
{
	if (--run->left == 0)
		ev_timer_start(run->fs->loop, &run->later);
}

static void
filestore_progress(void *arg, const char *progress)
{
	struct filestore_put *p = arg;
	char *cause = NULL;

	if (state_stored_progress(p->run->fs->state, p->path, progress, &cause) != 0) {
		log_errx("%s", cause);
		free(cause);
	}
}

static void
filestore_stored(void *arg, enum storage_result r, const char *message, int64_t sent)
{
	struct filestore_put *p = arg;
	struct filestore_run *run = p->run;
	char *cause = NULL, bytes[24];

	if (r == STORAGE_TRANSIENT || r == STORAGE_PERMANENT || r == STORAGE_AUTH) {
		filestore_fail(run, r == STORAGE_TRANSIENT ? JOBS_TRANSIENT : JOBS_PERMANENT,
		    "storing %s as %s: %s", p->path, p->uri, message);
		/* given up (a transaction aborted): no put of it is under way any more */
		if (r != STORAGE_TRANSIENT && state_stored_forget(run->fs->state, p->path,
		    &cause) != 0) {
			log_errx("%s", cause);
			free(cause);
		}
	} else if (state_stored_done(run->fs->state, p->path, &cause) != 0) {
		filestore_fail(run, JOBS_TRANSIENT, "%s", cause);
		free(cause);
	} else {
		snprintf(bytes, sizeof bytes, "%lld", (long long)(r == STORAGE_STORED ? sent : 0));
		log_at(LOG_INFO, 0, LOG_FIELDS({ "FILE", p->path }, { "URI", p->uri },
		    { "BYTES", bytes }, { "COLLECTION", run->collection },
		    { "OBSERVATION_ID", run->observation }, { "STAGE", "store" }),
		    "%s %s as %s (%lld bytes, %s): %s", p->path, r == STORAGE_STORED ? "stored" :
		    r == STORAGE_UPDATED ? "already stored, type updated," : "already stored",
		    p->uri, (long long)p->size, p->md5, message);
	}
	filestore_put_ended(run);
}

/* Record the put, then start it. */
static void
filestore_put(struct filestore_run *run, struct storage *st, struct filestore_put *p,
    const struct filestore_file *f)
{
	const struct state_stored *s = f->stored;
	struct storage_file sf;
	char *cause = NULL;

	p->run = run;
	p->path = xstrdup(f->path);
	p->uri = xstrdup(f->uri);
	p->md5 = xstrdup(f->md5);
	p->size = f->size;
	if (state_stored_begin(run->fs->state, f->path, f->uri, run->target, f->md5, f->size,
	    f->type, f->mtime_ns, &cause) != 0) {
		filestore_fail(run, JOBS_TRANSIENT, "%s", cause);
		free(cause);
		return;
	}
	run->left++;
	memset(&sf, 0, sizeof sf);
	sf.path = f->path;
	sf.uri = f->uri;
	sf.md5 = f->md5;
	sf.size = f->size;
	sf.type = f->type;
	sf.encoding = storage_encoding_of(f->path);
	/* the state store kept the progress of an earlier put of these bytes to this place */
	if (s != NULL && s->status == STATE_STORE_STORING && s->target != NULL &&
	    strcmp(s->target, run->target) == 0 && s->md5 != NULL && strcmp(s->md5, f->md5) == 0 &&
	    s->size == f->size)
		sf.progress = s->progress;
	storage_put(st, &sf, filestore_progress, filestore_stored, p);
}

int
filestore_run(struct filestore *fs, const char *collection, const char *observation,
    const struct filestore_file *files, size_t n, filestore_done_fn *done, void *arg)
{
	struct storage *st = filestore_storage(fs, collection);
	struct filestore_run *run;
	size_t i, todo = 0;

	for (i = 0; st != NULL && i < n; i++)
		todo += !filestore_is_stored(&files[i], storage_target(st));
	if (todo == 0)
		return 0;
	run = xcalloc(1, sizeof *run);
	run->fs = fs;
	run->collection = xstrdup(collection);
	run->observation = xstrdup(observation);
	run->target = storage_target(st);
	run->done = done;
	run->arg = arg;
	run->outcome = JOBS_OK;
	run->puts = xcalloc(todo, sizeof *run->puts);
	ev_timer_init(&run->later, filestore_on_later, 0., 0.);
	run->later.data = run;
	LIST_INSERT_HEAD(&fs->runs, run, entry);
	run->left = 1;		/* held until every put is started */
	for (i = 0; i < n; i++) {
		if (!filestore_is_stored(&files[i], run->target))
			filestore_put(run, st, &run->puts[run->nputs++], &files[i]);
	}
	filestore_put_ended(run);
	return 1;
}
