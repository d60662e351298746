/*
 * objects.c - storage notifications -> state -> fetch into the spool.
 *
 * A fetch job's "observation" is BUCKET US KEY (US: the unit separator,
 * 0x1f, which an accepted key never holds): jobs.c gives one job per object
 * at a time, the concurrency bound and the retry backoff.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <ev.h>

#include "conf/conf.h"
#include "lib/fileio.h"
#include "store/jobs.h"
#include "lib/log.h"
#include "sources/mq.h"
#include "sources/objects.h"
#include "sources/s3.h"
#include "sources/s3event.h"
#include "store/state.h"
#include "sources/webhook.h"
#include "lib/xmalloc.h"

#define OBJECTS_SEP	'\x1f'

/* A queue consumer and the collection its announcements default to. */
struct objects_queue {
	struct objects	*o;
	char		*name;
	char		*collection;	/* the first collection that lists it */
	struct mq	*mq;
};

/* A fetch in flight: what it fetches, to tell a stale completion. */
struct objects_fetch {
	struct objects	*o;
	struct jobs_job	*job;
	char		*collection;
	char		*bucket;
	char		*key;
	char		*version;	/* versionId fetched, or NULL */
	char		*etag;		/* ETag fetched, or NULL */
};

struct objects {
	struct ev_loop		*loop;
	const struct conf	*cfg;
	struct state		*state;
	struct s3		*s3;
	struct jobs		*jobs;
	struct webhook		*webhook;
	struct objects_queue	*queues;
	size_t			 nqueues;
	char			**spool;	/* per collection, NULL: no object source */
	unsigned		 listing;	/* bucket listings running */
	ev_timer		 reconcile;
};

/* Set *cause and return -1. */
static int __attribute__((format(printf, 2, 3)))
objects_fail(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*cause = xvasprintf(fmt, ap);
	va_end(ap);
	return -1;
}

/* Two optional strings are equal (NULL equals NULL only). */
static int
objects_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static size_t
objects_collection(const struct objects *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->cfg->collections.n; i++) {
		if (strcmp(o->cfg->collections.v[i].name, name) == 0)
			return i;
	}
	return (size_t)-1;
}

const char *
objects_spool(const struct objects *o, const char *collection)
{
	size_t i;

	if (o == NULL || (i = objects_collection(o, collection)) == (size_t)-1)
		return NULL;
	return o->spool[i];
}

/*
 * Why a key (or an announced URL's path) cannot be a relative path inside the
 * spool -- it would escape it or be ignored there -- or NULL when it can.
 */
static const char *
objects_key_unsafe(const char *key)
{
	const char *seg, *p, *last = key;
	size_t len;

	if (*key == '/' || *key == '\0')
		return "an absolute or empty path";
	if (strlen(key) > 3000)
		return "a path over 3000 bytes";
	for (p = key; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "a control character";
	}
	for (seg = key; seg != NULL; seg = p != NULL ? p + 1 : NULL) {
		p = strchr(seg, '/');
		len = p != NULL ? (size_t)(p - seg) : strlen(seg);
		if (len == 0 || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return "an empty, \".\" or \"..\" path segment";
		if (len > 255)
			return "a path segment over 255 bytes";
		last = seg;
	}
	return *last == '.' ? "a hidden file name" : NULL;
}

/* The spool-relative path of an announced URL: HOST/PATH ("local" for file://). */
static char *
objects_url_path(const char *url)
{
	static const char *const schemes[] = { "s3://", "https://", "http://", "file://" };
	const char *rest = NULL, *slash;
	size_t i;

	for (i = 0; i < sizeof schemes / sizeof schemes[0] && rest == NULL; i++) {
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			rest = url + strlen(schemes[i]);
	}
	if (rest == NULL || (slash = strchr(rest, '/')) == NULL)
		return NULL;
	if (slash == rest)
		return xasprintf("local%s", slash);
	return xasprintf("%.*s%s", (int)(slash - rest), rest, slash);
}

static void
objects_submit(struct objects *o, const char *coll, const char *bucket, const char *key)
{
	char *name = xasprintf("%s%c%s", bucket, OBJECTS_SEP, key);

	jobs_submit(o->jobs, coll, name);
	free(name);
}

/* Which collection's bucket source takes bucket/key (the first, by prefix). */
static const char *
objects_bucket_owner(const struct objects *o, const char *bucket, const char *key)
{
	const struct conf_collection *c;
	const struct conf_bucket *b;
	size_t i, j;

	for (i = 0; i < o->cfg->collections.n; i++) {
		c = &o->cfg->collections.v[i];
		for (j = 0; j < c->buckets.n; j++) {
			b = &c->buckets.v[j];
			if (strcmp(b->name, bucket) == 0 && (b->prefix == NULL ||
			    strncmp(key, b->prefix, strlen(b->prefix)) == 0))
				return c->name;
		}
	}
	return NULL;
}

/* The configuration of collection name (NULL when it has gone). */
static const struct conf_collection *
objects_conf(const struct objects *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->cfg->collections.n; i++)
		if (strcmp(o->cfg->collections.v[i].name, name) == 0)
			return &o->cfg->collections.v[i];
	return NULL;
}

/* The decoded local path of a file:// URL, or NULL (not one, %00, not absolute). */
static char *
objects_file_path(const char *url)
{
	char *dec, *path;
	int len = 0;

	if (strncmp(url, "file://", 7) != 0 || url[7] != '/')
		return NULL;
	/* libcurl decodes a file:// URL's path the same way when it opens it */
	if ((dec = curl_easy_unescape(NULL, url + 7, 0, &len)) == NULL)
		return NULL;
	path = strlen(dec) == (size_t)len ? xstrdup(dec) : NULL;
	curl_free(dec);
	return path;
}

/*
 * Why collection coll may not fetch the announced url, or NULL. An s3://
 * URL goes through the configured endpoint and its credentials; an
 * http(s):// or file:// one must start with one of the collection's
 * announce_from prefixes, and a file:// one's decoded path must stay under
 * the prefix's directory (no "." or ".." segment once decoded).
 */
static const char *
objects_origin_refused(const struct objects *o, const char *coll, const char *url)
{
	const struct conf_collection *c = objects_conf(o, coll);
	const char *p;
	char *path;
	size_t i;
	int ok = 0;

	if (strncmp(url, "s3://", 5) == 0)
		return NULL;
	if (c == NULL)
		return "the collection is not configured";
	if (strncmp(url, "file://", 7) != 0) {
		for (i = 0; i < c->announce_from.n; i++)
			if (strncmp(url, c->announce_from.v[i], strlen(c->announce_from.v[i])) == 0)
				return NULL;
		return "the URL is under none of the collection's announce_from prefixes";
	}
	if ((path = objects_file_path(url)) == NULL)
		return "not an absolute file:// path";
	if (objects_key_unsafe(path + 1) != NULL) {
		free(path);
		return "the decoded file:// path has an empty, \".\" or \"..\" segment, or a hidden name";
	}
	for (i = 0; i < c->announce_from.n && !ok; i++) {
		p = c->announce_from.v[i];
		ok = strncmp(p, "file://", 7) == 0 && strncmp(path, p + 7, strlen(p + 7)) == 0;
	}
	free(path);
	return ok ? NULL : "the file is under none of the collection's announce_from directories";
}

/*
 * At fetch time: does the file a file:// URL names, with its symbolic links
 * resolved, still lie under the announce_from directory it was accepted by?
 * NULL when it does, else why not. (A producer who can write inside the
 * directory could still swap a link in between this check and the open.)
 */
static const char *
objects_file_escapes(const struct objects *o, const char *coll, const char *url)
{
	const struct conf_collection *c = objects_conf(o, coll);
	char *path = objects_file_path(url), *real = NULL, *root;
	const char *p;
	size_t i, n;
	int ok = 0;

	if (path == NULL || c == NULL || (real = realpath(path, NULL)) == NULL) {
		free(path);
		return NULL;	/* the fetch reports a missing file itself */
	}
	for (i = 0; i < c->announce_from.n && !ok; i++) {
		p = c->announce_from.v[i];
		if (strncmp(p, "file://", 7) != 0 || strncmp(path, p + 7, strlen(p + 7)) != 0 ||
		    (root = realpath(p + 7, NULL)) == NULL)
			continue;
		n = strlen(root);
		ok = strncmp(real, root, n) == 0 && (real[n] == '/' || n == 1);
		free(root);
	}
	free(real);
	free(path);
	return ok ? NULL : "the file resolves outside the collection's announce_from directories";
}

/* Record an object whose key is refused, so that it shows in the state store. */
static int
objects_refuse(struct objects *o, const struct state_object *obj, const char *why,
    char **cause)
{
	char *err = xasprintf("refused: %s", why);
	int rc;

	log_at(LOG_WARNING, 0, LOG_FIELDS({ "COLLECTION", obj->collection },
	    { "OBJECT", obj->url }, { "STAGE", "fetch" }), "%s: %s", obj->url, err);
	rc = state_object_put(o->state, obj, cause) != 0 ||
	    state_object_set(o->state, obj->collection, obj->bucket, obj->key, STATE_FAILED,
	    err, 0, cause) != 0 ? -1 : 0;
	free(err);
	return rc;
}

/* Is ev older than, or the same version as, what the store knows? */
static int
objects_known(const struct state_object *old, const struct state_object *ev,
    struct objects_tally *t)
{
	int same;

	if (ev->sequencer != NULL && old->sequencer != NULL &&
	    s3event_seq_cmp(ev->sequencer, old->sequencer) < 0) {
		t->stale++;
		return 1;
	}
	/* a listing has no versionId: the ETag tells the content too */
	same = (old->version != NULL && ev->version != NULL &&
	    strcmp(old->version, ev->version) == 0) ||
	    (old->etag != NULL && ev->etag != NULL && strcmp(old->etag, ev->etag) == 0);
	if (same && (ev->size < 0 || old->size < 0 || ev->size == old->size)) {
		t->duplicate++;
		return 1;
	}
	return 0;
}

/* Deduplicate and record one object version; queue its fetch when new. 0 or -1. */
static int
objects_record(struct objects *o, const struct state_object *ev, struct objects_tally *t,
    char **cause)
{
	struct state_object old, rec = *ev;
	const char *why = NULL, *rel = ev->bucket[0] != '\0' ? ev->key : NULL;
	char *path = NULL, *msg;
	int rc, known = 0;

	if (rel == NULL)
		rel = path = objects_url_path(ev->url);
	if (rel == NULL || (why = objects_key_unsafe(rel)) != NULL) {
		t->refused++;
		msg = rel == NULL ? xstrdup("not an s3, http(s) or file URL") :
		    xasprintf("the key would leave the spool (%s)", why);
		rc = objects_refuse(o, ev, msg, cause);
		free(msg);
		free(path);
		return rc;
	}
	free(path);
	if (ev->bucket[0] == '\0' && (why = objects_origin_refused(o, ev->collection,
	    ev->url)) != NULL) {
		t->refused++;
		return objects_refuse(o, ev, why, cause);
	}
	memset(&old, 0, sizeof old);
	if ((rc = state_object_get(o->state, ev->collection, ev->bucket, ev->key, &old,
	    cause)) < 0)
		return -1;
	if (rc == 0)
		known = objects_known(&old, ev, t);
	/* a listing brings no sequencer: keep the newest an event brought */
	if (rec.sequencer == NULL)
		rec.sequencer = old.sequencer;
	rc = 0;
	if (!known && (rc = state_object_put(o->state, &rec, cause)) == 0) {
		t->queued++;
		objects_submit(o, ev->collection, ev->bucket, ev->key);
	}
	state_object_clear(&old);
	return rc;
}

/* One parsed event into an object record; 0, 1 ignored, or -1 malformed (*cause). */
static int
objects_from_event(struct objects *o, const struct s3event *e, const char *defcoll,
    struct state_object *obj, char **cause)
{
	memset(obj, 0, sizeof *obj);
	if (e->kind != S3EVENT_CREATED)
		return 1;	/* removals and the rest leave what was ingested alone */
	obj->size = e->size;
	obj->etag = e->etag;
	obj->version = e->version;
	obj->sequencer = e->sequencer;
	if (e->uri != NULL) {
		obj->collection = e->collection != NULL ? e->collection :
		    (char *)(uintptr_t)defcoll;
		if (obj->collection == NULL)
			return objects_fail(cause, "an announcement without \"collection\"");
		if (objects_spool(o, obj->collection) == NULL)
			return objects_fail(cause, "collection \"%s\" takes no announcements",
			    obj->collection);
		obj->bucket = (char *)(uintptr_t)"";
		obj->key = e->uri;
		obj->url = xstrdup(e->uri);
		return 0;
	}
	if ((obj->collection = (char *)(uintptr_t)objects_bucket_owner(o, e->bucket,
	    e->key)) == NULL)
		return 1;
	obj->bucket = e->bucket;
	obj->key = e->key;
	obj->url = xasprintf("s3://%s/%s", e->bucket, e->key);
	return 0;
}

int
objects_notify(struct objects *o, const char *body, size_t len, const char *defcoll,
    struct objects_tally *t, char **cause)
{
	struct state_object obj;
	struct s3event *ev;
	size_t n, i;
	int rc = 0, r;

	memset(t, 0, sizeof *t);
	if (s3event_parse(body, len, &ev, &n, cause) != 0)
		return 1;
	if (state_batch(o->state, 1, cause) != 0) {
		s3event_free(ev, n);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if ((r = objects_from_event(o, &ev[i], defcoll, &obj, cause)) == 1)
			t->ignored++;
		else if (r < 0)
			rc = 1;
		else if (objects_record(o, &obj, t, cause) != 0)
			rc = -1;
		free(obj.url);
	}
	/* all or nothing: a refused notification is sent again whole */
	if (rc != 0)
		state_batch_abort(o->state);
	else if (state_batch(o->state, 0, cause) != 0)
		rc = -1;
	s3event_free(ev, n);
	return rc;
}

static void
objects_fetch_free(struct objects_fetch *f)
{
	free(f->collection);
	free(f->bucket);
	free(f->key);
	free(f->version);
	free(f->etag);
	free(f);
}

/* Create the directories of rel under dir; the last name goes to *name. 0 or -1. */
static int
objects_mkdirs(const char *dir, const char *rel, char **parent, const char **name)
{
	char *path = xasprintf("%s/%s", dir, rel), *p;

	*name = rel + (strrchr(rel, '/') != NULL ? strrchr(rel, '/') - rel + 1 : 0);
	for (p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			free(path);
			return -1;
		}
		*p = '/';
	}
	path[strlen(path) - strlen(*name) - 1] = '\0';
	*parent = path;
	return 0;
}

static void
objects_fetched(void *arg, enum s3_result result, long status, const char *message)
{
	struct objects_fetch *f = arg;
	struct state_object now;
	char *err = NULL, *cause = NULL;
	int moved = 0;

	(void)status;
	if (result == S3_OK) {
		/* a newer version recorded meanwhile: this one is not it */
		if (state_object_get(f->o->state, f->collection, f->bucket, f->key, &now,
		    &cause) == 0) {
			moved = !objects_same(now.version, f->version) ||
			    !objects_same(now.etag, f->etag);
			state_object_clear(&now);
		}
		free(cause);
		jobs_finish(f->job, JOBS_OK, NULL);
		if (moved && state_object_set(f->o->state, f->collection, f->bucket, f->key,
		    STATE_PENDING, NULL, 0, &cause) != 0) {
			log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
			free(cause);
		}
	} else {
		err = xstrdup(message != NULL ? message : "fetch failed");
		jobs_finish(f->job, result == S3_TRANSIENT ? JOBS_TRANSIENT : JOBS_PERMANENT,
		    err);
	}
	free(err);
	objects_fetch_free(f);
}

/* Start fetching obj into the spool (the job is finished later, or now on error). */
static void
objects_fetch(struct objects *o, struct jobs_job *job, const struct state_object *obj)
{
	struct objects_fetch *f;
	char *rel, *parent, *msg;
	const char *name, *why, *spool = objects_spool(o, obj->collection);

	rel = obj->bucket[0] != '\0' ? xasprintf("%s/%s", obj->bucket, obj->key) :
	    objects_url_path(obj->url);
	/* checked again here: a reload may have narrowed announce_from since the
	 * object was recorded, and only now can links be resolved */
	why = obj->bucket[0] != '\0' ? NULL :
	    objects_origin_refused(o, obj->collection, obj->url);
	if (why == NULL && obj->bucket[0] == '\0')
		why = objects_file_escapes(o, obj->collection, obj->url);
	if (why != NULL) {
		msg = xasprintf("refused: %s", why);
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "COLLECTION", obj->collection },
		    { "OBJECT", obj->url }, { "STAGE", "fetch" }), "%s: %s", obj->url, msg);
		jobs_finish(job, JOBS_PERMANENT, msg);
		free(msg);
		free(rel);
		return;
	}
	if (spool == NULL || rel == NULL || objects_mkdirs(spool, rel, &parent, &name) != 0) {
		free(rel);
		jobs_finish(job, spool == NULL ? JOBS_PERMANENT : JOBS_TRANSIENT, spool == NULL ?
		    "the collection takes no objects any more" : "cannot create a spool directory");
		return;
	}
	f = xcalloc(1, sizeof *f);
	f->o = o;
	f->job = job;
	f->collection = xstrdup(obj->collection);
	f->bucket = xstrdup(obj->bucket);
	f->key = xstrdup(obj->key);
	f->version = obj->version != NULL ? xstrdup(obj->version) : NULL;
	f->etag = obj->etag != NULL ? xstrdup(obj->etag) : NULL;
	log_at(LOG_DEBUG, 0, LOG_FIELDS({ "COLLECTION", obj->collection }, { "OBJECT", obj->url },
	    { "STAGE", "fetch" }), "fetching %s into %s/%s", obj->url, parent, name);
	s3_fetch(o->s3, obj->url, parent, name, obj->size, obj->etag, objects_fetched, f);
	free(parent);
	free(rel);
}

static void
objects_run(void *arg, struct jobs_job *job)
{
	struct objects *o = arg;
	const char *coll = jobs_job_collection(job), *name = jobs_job_observation(job);
	const char *sep = strchr(name, OBJECTS_SEP);
	struct state_object obj;
	char *bucket, *cause = NULL;
	int rc;

	if (sep == NULL) {
		jobs_finish(job, JOBS_PERMANENT, "bad object name");
		return;
	}
	bucket = xstrndup(name, (size_t)(sep - name));
	rc = state_object_get(o->state, coll, bucket, sep + 1, &obj, &cause);
	free(bucket);
	if (rc != 0) {
		jobs_finish(job, rc < 0 ? JOBS_TRANSIENT : JOBS_PERMANENT,
		    rc < 0 ? cause : "unknown object");
		free(cause);
		return;
	}
	if (state_object_set(o->state, coll, obj.bucket, obj.key, STATE_RUNNING, NULL, 0,
	    &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
		free(cause);
	}
	objects_fetch(o, job, &obj);
	state_object_clear(&obj);
}

/* How a fetch attempt ended: into the store and the journal. */
static void
objects_ended(void *arg, const char *coll, const char *name, enum jobs_outcome outcome,
    const char *error, unsigned attempts, int64_t retry_at)
{
	struct objects *o = arg;
	const char *sep = strchr(name, OBJECTS_SEP);
	enum state_status st = outcome == JOBS_OK ? STATE_DONE :
	    retry_at > 0 ? STATE_RETRY : STATE_FAILED;
	char *bucket, *cause = NULL, *url;

	if (sep == NULL)
		return;
	bucket = xstrndup(name, (size_t)(sep - name));
	url = bucket[0] != '\0' ? xasprintf("s3://%s/%s", bucket, sep + 1) : xstrdup(sep + 1);
	if (state_object_set(o->state, coll, bucket, sep + 1, st, error, retry_at, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
		free(cause);
	}
	if (st == STATE_DONE)
		log_at(LOG_INFO, 0, LOG_FIELDS({ "COLLECTION", coll }, { "OBJECT", url },
		    { "STAGE", "fetch" }), "%s fetched into the spool", url);
	else
		log_at(st == STATE_RETRY ? LOG_WARNING : LOG_ERR, 0, LOG_FIELDS(
		    { "COLLECTION", coll }, { "OBJECT", url }, { "STAGE", "fetch" }),
		    "%s (attempt %u)%s", error != NULL ? error : "fetch failed", attempts,
		    st == STATE_RETRY ? "; will be retried" : "; given up");
	free(url);
	free(bucket);
}

/* A bucket listing in progress. */
struct objects_listing {
	struct objects		*o;
	char			*collection;
	char			*bucket;
	struct objects_tally	 tally;
	unsigned long		 seen;
};

static void
objects_listed(void *arg, const struct s3_object *so)
{
	struct objects_listing *l = arg;
	struct state_object obj;
	char *cause = NULL;

	l->seen++;
	memset(&obj, 0, sizeof obj);
	obj.collection = l->collection;
	obj.bucket = l->bucket;
	obj.key = (char *)(uintptr_t)so->key;
	obj.url = xasprintf("s3://%s/%s", l->bucket, so->key);
	obj.size = so->size;
	obj.etag = (char *)(uintptr_t)so->etag;
	if (objects_record(l->o, &obj, &l->tally, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
		free(cause);
	}
	free(obj.url);
}

static void
objects_list_done(void *arg, enum s3_result result, long status, const char *message)
{
	struct objects_listing *l = arg;

	(void)status;
	l->o->listing--;
	if (result == S3_OK)
		log_at(l->tally.queued > 0 ? LOG_NOTICE : LOG_INFO, 0, LOG_FIELDS(
		    { "COLLECTION", l->collection }, { "STAGE", "reconcile" }),
		    "bucket %s: %lu objects listed, %u new or changed%s", l->bucket, l->seen,
		    l->tally.queued, l->tally.queued > 0 ? " (their events were lost)" : "");
	else
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "COLLECTION", l->collection },
		    { "STAGE", "reconcile" }), "bucket %s: listing failed: %s", l->bucket,
		    message != NULL ? message : "error");
	free(l->collection);
	free(l->bucket);
	free(l);
}

static void
objects_retry_failed(void *arg, const struct state_object *obj)
{
	struct objects *o = arg;
	char *cause = NULL;

	/* a refused key stays refused */
	if (obj->bucket[0] != '\0' && objects_key_unsafe(obj->key) != NULL)
		return;
	if (state_object_set(o->state, obj->collection, obj->bucket, obj->key, STATE_PENDING,
	    NULL, 0, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
		free(cause);
		return;
	}
	objects_submit(o, obj->collection, obj->bucket, obj->key);
}

void
objects_reconcile(struct objects *o)
{
	const struct conf_collection *c;
	struct objects_listing *l;
	char *cause = NULL;
	size_t i, j;

	if (o == NULL)
		return;
	if (state_object_each(o->state, STATE_FAILED, objects_retry_failed, o, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
		free(cause);
	}
	for (i = 0; i < o->cfg->collections.n; i++) {
		c = &o->cfg->collections.v[i];
		for (j = 0; j < c->buckets.n; j++) {
			l = xcalloc(1, sizeof *l);
			l->o = o;
			l->collection = xstrdup(c->name);
			l->bucket = xstrdup(c->buckets.v[j].name);
			o->listing++;
			s3_list(o->s3, l->bucket, c->buckets.v[j].prefix != NULL ?
			    c->buckets.v[j].prefix : "", objects_listed, objects_list_done, l);
		}
	}
}

static void
objects_on_reconcile(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	objects_reconcile(w->data);
}

/* Log what a notification did, and refusals with their reason. */
static void
objects_log_notify(const char *source, int rc, const struct objects_tally *t,
    const char *cause)
{
	if (rc != 0) {
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "STAGE", source }),
		    "%s notification %s: %s", source, rc > 0 ? "refused" : "not recorded",
		    cause != NULL ? cause : "error");
		return;
	}
	log_at(LOG_DEBUG, 0, LOG_FIELDS({ "STAGE", source }),
	    "%s notification: %u queued, %u duplicate, %u stale, %u ignored, %u refused",
	    source, t->queued, t->duplicate, t->stale, t->ignored, t->refused);
}

static enum webhook_verdict
objects_on_webhook(void *arg, const char *body, size_t len, char **why)
{
	struct objects_tally t;
	char *cause = NULL;
	int rc = objects_notify(arg, body, len, NULL, &t, &cause);

	objects_log_notify("webhook", rc, &t, cause);
	*why = cause;
	return rc == 0 ? WEBHOOK_RECORDED : rc > 0 ? WEBHOOK_MALFORMED : WEBHOOK_UNAVAILABLE;
}

static enum mq_verdict
objects_on_message(void *arg, const void *body, size_t len, char **why)
{
	struct objects_queue *q = arg;
	struct objects_tally t;
	char *cause = NULL;
	int rc = objects_notify(q->o, body, len, q->collection, &t, &cause);

	objects_log_notify("amqp", rc, &t, cause);
	*why = cause;
	return rc == 0 ? MQ_RECORDED : rc > 0 ? MQ_MALFORMED : MQ_UNAVAILABLE;
}

/* Does cfg take objects at all? */
static int
objects_wanted(const struct conf *cfg)
{
	size_t i;

	if (cfg->webhook.listen != NULL)
		return 1;
	for (i = 0; i < cfg->collections.n; i++) {
		if (cfg->collections.v[i].buckets.n > 0 || cfg->collections.v[i].queues.n > 0)
			return 1;
	}
	return 0;
}

/* Create SPOOL/COLLECTION for every collection with an object source. 0 or -1. */
static int
objects_spools(struct objects *o, char **cause)
{
	const struct conf_collection *c;
	char *base = o->cfg->spool_dir != NULL ? xstrdup(o->cfg->spool_dir) :
	    xasprintf("%s/spool", o->cfg->state_dir);
	size_t i;
	int rc = 0;

	o->spool = xcalloc(o->cfg->collections.n + 1, sizeof *o->spool);
	if (mkdir(base, 0750) != 0 && errno != EEXIST)
		rc = -1;
	for (i = 0; i < o->cfg->collections.n && rc == 0; i++) {
		c = &o->cfg->collections.v[i];
		if (c->buckets.n == 0 && c->queues.n == 0 && o->cfg->webhook.listen == NULL)
			continue;
		o->spool[i] = xasprintf("%s/%s", base, c->name);
		if (mkdir(o->spool[i], 0750) != 0 && errno != EEXIST)
			rc = -1;
	}
	if (rc != 0)
		*cause = xasprintf("%s: cannot create the spool: %s", base, strerror(errno));
	free(base);
	return rc;
}

/* Consume queue name for collection coll (one consumer per queue name). 0 or -1. */
static int
objects_add_queue(struct objects *o, const char *name, const char *coll,
    struct mq_config *mc, char **cause)
{
	struct objects_queue *q;
	size_t i;

	for (i = 0; i < o->nqueues; i++) {
		if (strcmp(o->queues[i].name, name) == 0)
			return 0;	/* announcements default to its first collection */
	}
	o->queues = xreallocarray(o->queues, o->nqueues + 1, sizeof *o->queues);
	q = &o->queues[o->nqueues];
	memset(q, 0, sizeof *q);
	q->o = o;
	q->name = xstrdup(name);
	q->collection = xstrdup(coll);
	o->nqueues++;
	mc->queue = name;
	return (q->mq = mq_new(o->loop, mc, objects_on_message, q, cause)) != NULL ? 0 : -1;
}

static int
objects_start_sources(struct objects *o, char **cause)
{
	const struct conf *cfg = o->cfg;
	struct webhook_config wc = { cfg->webhook.listen, NULL, (size_t)cfg->webhook.max_body };
	struct mq_config mc = { cfg->amqp.url, cfg->amqp.password_file, cfg->amqp.ca_path,
		NULL, (unsigned)cfg->amqp.prefetch, 0, 0 };
	char *token = NULL;
	size_t i, j;

	if (cfg->webhook.listen != NULL) {
		if (cfg->webhook.token_file != NULL &&
		    fileio_secret(cfg->webhook.token_file, "token file", &token, cause) != 0)
			return -1;
		wc.token = token;
		o->webhook = webhook_new(o->loop, &wc, objects_on_webhook, o, cause);
		fileio_secret_free(token);
		if (o->webhook == NULL)
			return -1;
	}
	for (i = 0; i < cfg->collections.n; i++) {
		for (j = 0; j < cfg->collections.v[i].queues.n; j++) {
			if (objects_add_queue(o, cfg->collections.v[i].queues.v[j],
			    cfg->collections.v[i].name, &mc, cause) != 0)
				return -1;
		}
	}
	return 0;
}

struct objects *
objects_new(struct ev_loop *loop, const struct conf *cfg, struct state *st, char **cause)
{
	static const struct jobs_ops ops = { objects_run, objects_ended };
	struct s3_config sc = { cfg->s3.endpoint, cfg->s3.region, cfg->s3.credentials,
		cfg->s3.profile, cfg->s3.ca_path, cfg->s3.timeout_ms,
		(unsigned)cfg->s3.concurrency };
	struct jobs_config jc = { (unsigned)cfg->s3.concurrency, cfg->s3.retry.initial_ms,
		cfg->s3.retry.max_ms, (unsigned)cfg->s3.retry.attempts };
	struct objects *o;

	*cause = NULL;
	if (!objects_wanted(cfg))
		return NULL;
	o = xcalloc(1, sizeof *o);
	o->loop = loop;
	o->cfg = cfg;
	o->state = st;
	o->jobs = jobs_new(loop, &jc, &ops, o);
	ev_timer_init(&o->reconcile, objects_on_reconcile, (double)cfg->s3.reconcile_ms / 1e3,
	    (double)cfg->s3.reconcile_ms / 1e3);
	o->reconcile.data = o;
	/* queues and the webhook deliver from the loop: everything exists before them */
	if (objects_spools(o, cause) != 0 || (o->s3 = s3_new(loop, &sc, cause)) == NULL ||
	    objects_start_sources(o, cause) != 0) {
		objects_free(o);
		return NULL;
	}
	return o;
}

static void
objects_resume(void *arg, const struct state_object *obj)
{
	struct objects *o = arg;
	char *name = xasprintf("%s%c%s", obj->bucket, OBJECTS_SEP, obj->key);

	if (obj->status == STATE_RETRY && obj->next_attempt_ms > jobs_now_ms())
		jobs_submit_at(o->jobs, obj->collection, name, obj->next_attempt_ms,
		    (unsigned)obj->attempts);
	else
		jobs_submit(o->jobs, obj->collection, name);
	free(name);
}

void
objects_start(struct objects *o)
{
	char *cause = NULL;

	if (o == NULL)
		return;
	if (state_object_each(o->state, STATE_PENDING, objects_resume, o, &cause) != 0 ||
	    state_object_each(o->state, STATE_RETRY, objects_resume, o, &cause) != 0) {
		log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
		free(cause);
	}
	objects_reconcile(o);
	if (o->cfg->s3.reconcile_ms > 0)
		ev_timer_start(o->loop, &o->reconcile);
}

int
objects_counts(struct objects *o, long counts[STATE_UNMATCHED + 1])
{
	char *cause = NULL;

	if (state_object_counts(o->state, counts, &cause) == 0)
		return 0;
	log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "state" }), "%s", cause);
	free(cause);
	return -1;
}

void
objects_busy(const struct objects *o, unsigned *queued, unsigned *running,
    unsigned *waiting, unsigned *listing)
{
	jobs_counts(o->jobs, queued, running, waiting);
	*listing = o->listing;
}

int
objects_webhook_port(const struct objects *o)
{
	return o != NULL && o->webhook != NULL ? webhook_port(o->webhook) : 0;
}

void
objects_free(struct objects *o)
{
	size_t i;

	if (o == NULL)
		return;
	ev_timer_stop(o->loop, &o->reconcile);
	webhook_free(o->webhook);
	for (i = 0; i < o->nqueues; i++) {
		mq_free(o->queues[i].mq);
		free(o->queues[i].name);
		free(o->queues[i].collection);
	}
	free(o->queues);
	/* cancelled fetches and listings call back into the jobs: free those after */
	s3_free(o->s3);
	jobs_free(o->jobs);
	for (i = 0; o->spool != NULL && i < o->cfg->collections.n; i++)
		free(o->spool[i]);
	free(o->spool);
	free(o);
}
