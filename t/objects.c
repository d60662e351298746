/*
 * t/objects.c - storage notifications recorded in a real state store:
 * deduplication by version, sequencer order, bucket and prefix matching,
 * unsafe keys refused and recorded, all-or-nothing notifications, an
 * announced file:// object fetched into the spool, announcements from
 * outside the collection's announce_from prefixes refused (a file:// path
 * elsewhere, a percent-encoded "..", a symbolic link out, an https:// host
 * not listed), and a fetch from an endpoint that is down retried.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "caom/caom_xml.h"
#include "conf/conf.h"
#include "lib/curlev.h"
#include "lib/log.h"
#include "sources/objects.h"
#include "store/state.h"
#include "tap.h"
#include "lib/xmalloc.h"

static char dir[] = "/tmp/caom2ingest-objects.XXXXXX";

static char *
event(const char *name, const char *bucket, const char *key, const char *etag,
    const char *seq)
{
	return xasprintf("{\"Records\":[{\"eventName\":\"%s\",\"s3\":{\"bucket\":{\"name\":"
	    "\"%s\"},\"object\":{\"key\":\"%s\",\"size\":4,\"eTag\":\"%s\",\"sequencer\":"
	    "\"%s\"}}}]}", name, bucket, key, etag, seq);
}

/* Notify body; the return code and the tally. */
static int
notify(struct objects *o, const char *body, struct objects_tally *t, char **cause)
{
	free(*cause);
	*cause = NULL;
	return objects_notify(o, body, strlen(body), NULL, t, cause);
}

static int
notify_event(struct objects *o, const char *name, const char *bucket, const char *key,
    const char *etag, const char *seq, struct objects_tally *t)
{
	char *body = event(name, bucket, key, etag, seq), *cause = NULL;
	int rc = notify(o, body, t, &cause);

	if (rc != 0)
		diag("notify: %s", cause);
	free(cause);
	free(body);
	return rc;
}

static void
test_dedup(struct objects *o, struct state *st)
{
	struct objects_tally t;
	struct state_object so;
	char *cause = NULL;

	ok(notify_event(o, "ObjectCreated:Put", "raw", "raw/a.fits", "e1", "10", &t) == 0 &&
	    t.queued == 1, "a new object is recorded and queued");
	ok(state_object_get(st, "OMM", "raw", "raw/a.fits", &so, &cause) == 0 &&
	    strcmp(so.url, "s3://raw/raw/a.fits") == 0 && strcmp(so.etag, "e1") == 0,
	    "in the state store, with its URL and ETag");
	state_object_clear(&so);
	ok(notify_event(o, "ObjectCreated:Put", "raw", "raw/a.fits", "e1", "10", &t) == 0 &&
	    t.queued == 0 && t.duplicate == 1, "the same event again is a duplicate");
	ok(notify_event(o, "ObjectCreated:Put", "raw", "raw/a.fits", "e0", "05", &t) == 0 &&
	    t.queued == 0 && t.stale == 1, "an older sequencer is stale");
	ok(state_object_get(st, "OMM", "raw", "raw/a.fits", &so, &cause) == 0 &&
	    strcmp(so.etag, "e1") == 0 && strcmp(so.sequencer, "10") == 0,
	    "and does not override the newer version");
	state_object_clear(&so);
	ok(notify_event(o, "ObjectCreated:Put", "raw", "raw/a.fits", "e2", "0020", &t) == 0 &&
	    t.queued == 1, "a newer version is queued");
	ok(state_object_get(st, "OMM", "raw", "raw/a.fits", &so, &cause) == 0 &&
	    strcmp(so.etag, "e2") == 0 && so.status != STATE_FAILED, "and recorded");
	state_object_clear(&so);
	ok(notify_event(o, "ObjectCreated:Put", "other", "raw/a.fits", "e1", "1", &t) == 0 &&
	    t.ignored == 1, "a bucket of no collection is ignored");
	ok(notify_event(o, "ObjectCreated:Put", "raw", "cal/a.fits", "e1", "1", &t) == 0 &&
	    t.ignored == 1, "a key outside the bucket's prefix is ignored");
	ok(notify_event(o, "ObjectRemoved:Delete", "raw", "raw/a.fits", "e1", "99", &t) == 0 &&
	    t.ignored == 1, "a removal is ignored");
	free(cause);
}

static void
test_unsafe(struct objects *o, struct state *st)
{
	static const char *const keys[] = { "raw/../../etc/passwd", "raw/./x.fits",
		"raw//x.fits", "raw/.hidden.fits", "raw/a%01b.fits" };
	struct objects_tally t;
	struct state_object so;
	char *cause = NULL, *decoded;
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		ok(notify_event(o, "ObjectCreated:Put", "raw", keys[i], "e", "1", &t) == 0 &&
		    t.refused == 1 && t.queued == 0, "key %s is refused", keys[i]);
	}
	ok(state_object_get(st, "OMM", "raw", "raw/../../etc/passwd", &so, &cause) == 0 &&
	    so.status == STATE_FAILED && so.last_error != NULL &&
	    strstr(so.last_error, "would leave the spool") != NULL,
	    "and recorded as failed with the reason");
	state_object_clear(&so);
	decoded = xasprintf("%s/spool/OMM/etc", dir);
	ok(access(decoded, F_OK) != 0, "nothing was created outside the bucket's directory");
	free(decoded);
	free(cause);
}

static void
test_whole(struct objects *o, struct state *st)
{
	static const char two[] = "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":"
	    "{\"bucket\":{\"name\":\"raw\"},\"object\":{\"key\":\"raw/good.fits\"}}},"
	    "{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"raw\"}}}]}";
	static const char ann_bad[] = "{\"uri\":\"file:///x/y.fits\",\"collection\":\"NOPE\"}";
	static const char ann_none[] = "{\"uri\":\"file:///x/y.fits\"}";
	struct objects_tally t;
	struct state_object so;
	char *cause = NULL;

	ok(notify(o, two, &t, &cause) == 1 && cause != NULL &&
	    strstr(cause, "record 1") != NULL, "a notification with a bad record is refused");
	ok(state_object_get(st, "OMM", "raw", "raw/good.fits", &so, &cause) == 1,
	    "whole: its good record is not recorded either");
	ok(notify(o, ann_bad, &t, &cause) == 1 && strstr(cause, "NOPE") != NULL,
	    "an announcement for an unknown collection is refused");
	ok(notify(o, ann_none, &t, &cause) == 1 && strstr(cause, "collection") != NULL,
	    "an announcement without a collection, and no default, is refused");
	free(cause);
}

struct wait {
	struct state	*st;
	const char	*bucket;
	const char	*key;
	enum state_status want;
	int		 seen;
};

static void
poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct wait *wt = w->data;
	struct state_object so;
	char *cause = NULL;

	(void)revents;
	if (state_object_get(wt->st, "OMM", wt->bucket, wt->key, &so, &cause) == 0) {
		if (so.status == wt->want) {
			wt->seen = 1;
			ev_break(loop, EVBREAK_ONE);
		}
		state_object_clear(&so);
	}
	free(cause);
}

/* Run the loop until the object reaches status want, or 10 s. */
static int
run_until(struct ev_loop *loop, struct state *st, const char *bucket, const char *key,
    enum state_status want)
{
	struct wait wt = { st, bucket, key, want, 0 };
	ev_timer poll, limit;

	ev_timer_init(&poll, poll_cb, 0.02, 0.02);
	poll.data = &wt;
	ev_timer_start(loop, &poll);
	ev_timer_init(&limit, poll_cb, 10., 0.);
	limit.data = &wt;
	ev_timer_start(loop, &limit);
	while (!wt.seen && ev_timer_remaining(loop, &limit) > 0.01)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &poll);
	ev_timer_stop(loop, &limit);
	return wt.seen;
}

static void
test_fetch(struct ev_loop *loop, struct objects *o, struct state *st)
{
	struct objects_tally t;
	struct state_object so;
	char *src = xasprintf("%s/src/C1_SCI.fits", dir), *body, *cause = NULL, *spooled;
	char buf[16] = "";
	FILE *fp;

	fp = fopen(src, "w");
	fputs("DATA", fp);
	fclose(fp);
	body = xasprintf("{\"uri\":\"file://%s\",\"collection\":\"OMM\",\"size\":4}", src);
	ok(notify(o, body, &t, &cause) == 0 && t.queued == 1, "a file:// announcement is queued");
	free(body);
	body = xasprintf("file://%s", src);
	ok(run_until(loop, st, "", body, STATE_DONE), "it is fetched");
	spooled = xasprintf("%s/spool/OMM/local%s", dir, src);
	fp = fopen(spooled, "r");
	ok(fp != NULL && fgets(buf, sizeof buf, fp) != NULL && strcmp(buf, "DATA") == 0,
	    "into SPOOL/COLLECTION/local/PATH, whole");
	if (fp != NULL)
		fclose(fp);
	ok(notify_event(o, "ObjectCreated:Put", "raw", "raw/down.fits", "e1", "1", &t) == 0,
	    "an object on an endpoint that is down");
	ok(run_until(loop, st, "raw", "raw/down.fits", STATE_RETRY), "waits for a retry");
	ok(state_object_get(st, "OMM", "raw", "raw/down.fits", &so, &cause) == 0 &&
	    so.attempts == 1 && so.next_attempt_ms > 0 && so.last_error != NULL,
	    "one attempt, a time and the reason");
	state_object_clear(&so);
	free(spooled);
	free(body);
	free(src);
	free(cause);
}

/* Announce url for OMM: was it refused (recorded failed with a reason)? */
static int
refused(struct objects *o, struct state *st, const char *url, const char *reason)
{
	struct objects_tally t;
	struct state_object so;
	char *body = xasprintf("{\"uri\":\"%s\",\"collection\":\"OMM\"}", url);
	char *cause = NULL;
	int rc;

	rc = notify(o, body, &t, &cause) == 0 && t.refused == 1 && t.queued == 0 &&
	    state_object_get(st, "OMM", "", url, &so, &cause) == 0 &&
	    so.status == STATE_FAILED && so.last_error != NULL &&
	    strstr(so.last_error, reason) != NULL;
	if (!rc)
		diag("%s: %s", url, cause != NULL ? cause : "not refused as expected");
	else
		state_object_clear(&so);
	free(body);
	free(cause);
	return rc;
}

static void
test_origin(struct ev_loop *loop, struct objects *o, struct state *st)
{
	struct objects_tally t;
	struct state_object so;
	char *url, *secret, *link, *body, *cause = NULL;
	FILE *fp;

	url = xasprintf("file://%s/c.yml", dir);
	ok(refused(o, st, url, "none of the collection's announce_from directories"),
	    "a file:// path outside announce_from is refused and recorded");
	free(url);
	url = xasprintf("file://%s/src/%%2e%%2e/c.yml", dir);
	ok(refused(o, st, url, "decoded file:// path"),
	    "a percent-encoded .. under announce_from is refused");
	free(url);
	ok(refused(o, st, "https://evil.example.org/omm/x.fits", "announce_from prefixes"),
	    "an https:// URL on a host not listed is refused");
	ok(refused(o, st, "https://data.example.org/omx/x.fits", "announce_from prefixes"),
	    "and one beside the listed prefix");
	ok(refused(o, st, "file:///etc/passwd", "announce_from directories"),
	    "file:///etc/passwd is refused");
	secret = xasprintf("%s/secret.fits", dir);
	fp = fopen(secret, "w");
	fputs("SECRET", fp);
	fclose(fp);
	link = xasprintf("%s/src/L1_SCI.fits", dir);
	if (symlink(secret, link) != 0)
		bail("symlink: %s", strerror(errno));
	body = xasprintf("{\"uri\":\"file://%s\",\"collection\":\"OMM\"}", link);
	ok(notify(o, body, &t, &cause) == 0 && t.queued == 1,
	    "a symbolic link under announce_from is accepted by name");
	free(body);
	url = xasprintf("file://%s", link);
	ok(run_until(loop, st, "", url, STATE_FAILED), "but its fetch fails");
	ok(state_object_get(st, "OMM", "", url, &so, &cause) == 0 && so.last_error != NULL &&
	    strstr(so.last_error, "resolves outside") != NULL, "because it resolves outside: %s",
	    so.last_error != NULL ? so.last_error : "(none)");
	state_object_clear(&so);
	body = xasprintf("%s/spool/OMM/local%s", dir, link);
	ok(access(body, F_OK) != 0, "and nothing reached the spool");
	free(body);
	free(url);
	free(link);
	free(secret);
	free(cause);
}

int
main(void)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct conf *cfg = NULL;
	struct objects *o;
	struct state *st;
	char *path, *errors = NULL, *cause = NULL;
	FILE *fp;

	plan_lazy();
	caom_xml_init();
	if (curlev_global_init() != 0)
		bail("cannot initialise libcurl");
	log_init("t/objects", LOG_WARNING, LOG_TARGET_STDERR);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	path = xasprintf("%s/src", dir);
	mkdir(path, 0755);
	free(path);
	path = xasprintf("%s/c.yml", dir);
	fp = fopen(path, "w");
	fprintf(fp, "state_dir: %s\ns3:\n  endpoint: http://127.0.0.1:9\n  retry: {initial: 1h}\n"
	    "collections:\n  - name: OMM\n    buckets: [{name: raw, prefix: raw/}]\n"
	    "    announce_from: ['file://%s/src/', 'https://data.example.org/omm/']\n"
	    "    rules: [{match: x, observation: o, product: p, uri: u}]\n", dir, dir);
	fclose(fp);
	if (conf_load(path, &cfg, &errors) != 0)
		bail("%s", errors);
	if ((st = state_open(dir, &cause)) == NULL)
		bail("%s", cause);
	o = objects_new(loop, cfg, st, &cause);
	ok(o != NULL, "the object source starts");
	if (o == NULL)
		bail("%s", cause);
	ok(objects_spool(o, "OMM") != NULL, "the collection has a spool");
	test_dedup(o, st);
	test_unsafe(o, st);
	test_whole(o, st);
	test_fetch(loop, o, st);
	test_origin(loop, o, st);
	objects_free(o);
	state_close(st);
	conf_free(cfg);
	free(path);
	path = xasprintf("rm -rf %s", dir);
	if (system(path) != 0)
		diag("cleanup failed");
	free(path);
	return 0;
}
