/*
 * t/state.c - the SQLite state store: new/changed/unchanged files, the
 * observation life cycle, crash recovery of running work, a process killed
 * mid-burst, schema versions, and a corrupt database.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/state.h"
#include "tap.h"
#include "lib/xmalloc.h"

static char dir[] = "/tmp/caom2ingest-state.XXXXXX";

/* A classified file record; the strings live in static buffers. */
static struct state_file
file(const char *path, const char *obs, int64_t mtime)
{
	static char p[128], o[32], coll[] = "OMM", prod[] = "p1", uri[] = "cadc:OMM/x";
	struct state_file f = { p, 100, mtime, coll, o, prod, uri, NULL, STATE_PENDING, 0,
		{ STATE_STORE_NONE, NULL, NULL, 0, NULL, 0, NULL } };

	snprintf(p, sizeof p, "%s", path);
	snprintf(o, sizeof o, "%s", obs);
	return f;
}

static struct state *
reopen(struct state *st)
{
	char *cause = NULL;

	state_close(st);
	if ((st = state_open(dir, &cause)) == NULL)
		bail("reopen: %s", cause);
	return st;
}

static void
test_files(struct state *st)
{
	struct state_file f = file("/l/a.fits", "O1", 1000), *files;
	enum state_change ch;
	enum state_status s;
	char *cause = NULL;
	size_t n;

	ok(state_file_seen(st, "/l/a.fits", 100, 1000, &ch, &s, &cause) == 0 && ch == STATE_NEW,
	    "an unknown file is new");
	ok(state_file_assign(st, &f, &cause) == 0, "a classified file is recorded");
	state_file_seen(st, "/l/a.fits", 100, 1000, &ch, &s, &cause);
	ok(ch == STATE_UNCHANGED && s == STATE_PENDING, "seen again: unchanged, pending");
	state_file_seen(st, "/l/a.fits", 100, 2000, &ch, &s, &cause);
	is_int(STATE_CHANGED, ch, "another mtime: changed");
	state_file_seen(st, "/l/a.fits", 101, 1000, &ch, &s, &cause);
	is_int(STATE_CHANGED, ch, "another size: changed");
	f = file("/l/b.fits", "O1", 1000);
	state_file_assign(st, &f, &cause);
	ok(state_obs_files(st, "OMM", "O1", &files, &n, &cause) == 0 && n == 2,
	    "the observation has both files");
	if (n == 2)
		is_string("/l/b.fits", files[1].path, "in path order");
	else
		skip(1, "no files");
	state_files_free(files, n);
	ok(state_file_unmatched(st, "/l/zz.txt", 5, 5, &cause) == 0, "an unmatched file");
	state_file_seen(st, "/l/zz.txt", 5, 5, &ch, &s, &cause);
	ok(ch == STATE_UNCHANGED && s == STATE_UNMATCHED, "is remembered as unmatched");
}

static void
test_lifecycle(struct state *st)
{
	struct state_obs o;
	enum state_change ch;
	enum state_status s;
	char *cause = NULL;

	ok(state_obs_get(st, "OMM", "O1", &o, &cause) == 0 && o.status == STATE_PENDING,
	    "the observation is pending");
	state_obs_clear(&o);
	state_obs_running(st, "OMM", "O1", &cause);
	state_obs_get(st, "OMM", "O1", &o, &cause);
	ok(o.status == STATE_RUNNING && o.attempts == 1, "running, attempt 1");
	state_obs_clear(&o);
	st = reopen(st);
	state_obs_get(st, "OMM", "O1", &o, &cause);
	is_int(STATE_PENDING, o.status, "running work is pending again after a restart");
	state_obs_clear(&o);
	state_obs_failed(st, "OMM", "O1", "503 Service Unavailable", 12345, &cause);
	state_obs_get(st, "OMM", "O1", &o, &cause);
	ok(o.status == STATE_RETRY && o.next_attempt_ms == 12345, "transient: retry at a time");
	is_string("503 Service Unavailable", o.last_error, "with the reason");
	state_obs_clear(&o);
	state_obs_failed(st, "OMM", "O1", "400 invalid", 0, &cause);
	state_obs_get(st, "OMM", "O1", &o, &cause);
	is_int(STATE_FAILED, o.status, "permanent: failed");
	state_obs_clear(&o);
	ok(state_obs_requeue(st, "OMM", "O1", 0, &cause) == 0, "an operator re-queues it");
	is_int(1, state_obs_requeue(st, "OMM", "nope", 0, &cause), "an unknown one is reported");
	ok(state_obs_done(st, "OMM", "O1", "md5:0123", NULL, &cause) == 0, "done");
	state_obs_get(st, "OMM", "O1", &o, &cause);
	ok(o.status == STATE_DONE && o.last_error == NULL, "done clears the error");
	is_string("md5:0123", o.pushed_checksum, "and keeps the pushed checksum");
	state_obs_clear(&o);
	state_file_seen(st, "/l/a.fits", 100, 1000, &ch, &s, &cause);
	ok(ch == STATE_UNCHANGED && s == STATE_DONE, "its files are done: never pushed again");
	state_obs_requeue(st, "OMM", "O1", 1, &cause);
	state_obs_get(st, "OMM", "O1", &o, &cause);
	ok(o.status == STATE_PENDING && o.pushed_checksum == NULL,
	    "a forced re-ingest forgets the pushed checksum");
	state_obs_clear(&o);
	state_obs_done(st, "OMM", "O1", "md5:0123", NULL, &cause);
	{
		char *c = NULL, *ob = NULL;

		ok(state_file_observation(st, "/l/a.fits", &c, &ob, &cause) == 0 &&
		    strcmp(c, "OMM") == 0 && strcmp(ob, "O1") == 0, "a file's observation");
		free(c);
		free(ob);
		is_int(1, state_file_observation(st, "/l/zz.txt", &c, &ob, &cause),
		    "an unmatched file has none");
	}
	state_close(st);
}

static void
count_cb(void *arg, const struct state_obs *o)
{
	(*(int *)arg)++;
}

static void
test_counts(void)
{
	struct state *st;
	struct state_counts c;
	struct state_file f = file("/l/c.fits", "O2", 1);
	char *cause = NULL;
	int n = 0;

	st = reopen(NULL);
	state_file_assign(st, &f, &cause);
	ok(state_get_counts(st, &c, &cause) == 0, "counts");
	ok(c.files[STATE_DONE] == 2 && c.files[STATE_PENDING] == 1 &&
	    c.files[STATE_UNMATCHED] == 1, "files by status");
	ok(c.obs[STATE_DONE] == 1 && c.obs[STATE_PENDING] == 1, "observations by status");
	state_obs_each(st, STATE_PENDING, count_cb, &n, &cause);
	is_int(1, n, "state_obs_each visits the pending one");
	state_close(st);
}

/* The life-cycle states an observation goes through, in the store and its history. */
static void
phase_cb(void *arg, const struct state_obs *o)
{
	if (*(char **)arg == NULL)	/* the newest */
		*(char **)arg = xstrdup(o->observation);
}

static void
test_history(void)
{
	struct state *st = reopen(NULL);
	struct state_file f = file("/l/h.fits", "H1", 7);
	struct state_event *ev = NULL;
	struct state_obs o;
	char *cause = NULL, *found = NULL, want[256];
	int64_t landed = 0;
	size_t n = 0, i;
	int r;

	f.landed_ms = 1000;
	ok(state_file_assign(st, &f, &cause) == 0, "history: a file is classified");
	state_history_add(st, "OMM", "H1", STATE_PHASE_LANDED, 1000, "/l/h.fits", 0);
	state_history_add(st, "OMM", "H1", STATE_PHASE_SETTLING, 1000, "/l/h.fits", 0);
	state_history_add(st, "OMM", "H1", STATE_PHASE_CLASSIFIED, 3000, "product p1", 0);
	is_int(3, (long long)state_history_pending(st), "events wait in memory");
	ok(state_history_get(st, "OMM", "H1", &ev, &n, &cause) == 0 && n == 0,
	    "and are not in the store before a flush");
	state_events_free(ev, n);
	ok(state_history_flush(st, &cause) == 0 && state_history_pending(st) == 0,
	    "a flush writes them");
	ok(state_history_get(st, "OMM", "H1", &ev, &n, &cause) == 0 && n == 3 &&
	    ev[0].phase == STATE_PHASE_LANDED && ev[0].at_ms == 1000 &&
	    ev[1].phase == STATE_PHASE_SETTLING && ev[2].phase == STATE_PHASE_CLASSIFIED &&
	    strcmp(ev[2].detail, "product p1") == 0, "oldest first, with times and details");
	state_events_free(ev, n);
	state_obs_running(st, "OMM", "H1", &cause);
	state_history_add(st, "OMM", "H1", STATE_PHASE_MAPPING, 0, NULL, 0);
	state_history_flush(st, &cause);
	state_obs_get(st, "OMM", "H1", &o, &cause);
	ok(o.status == STATE_RUNNING && o.phase == STATE_PHASE_MAPPING && o.landed_ms == 1000,
	    "a sub-state of running is recorded, and when the round landed");
	state_obs_clear(&o);
	/* a late event of a status the observation has left does not take it back */
	state_history_add(st, "OMM", "H1", STATE_PHASE_PUSHING, 0, NULL, 0);
	ok(state_obs_done(st, "OMM", "H1", "md5:1", &landed, &cause) == 0 && landed == 1000,
	    "done tells when the round landed");
	state_history_flush(st, &cause);
	state_obs_get(st, "OMM", "H1", &o, &cause);
	is_string("done", state_phase_name(o.phase), "an event flushed after the status moved on "
	    "leaves the state to the status");
	state_obs_clear(&o);
	ok(state_obs_list_phase(st, STATE_PHASE_DONE, "OMM", 10, phase_cb, &found, &cause) == 0 &&
	    found != NULL && strcmp(found, "H1") == 0, "listed by life-cycle state");
	free(found);
	found = NULL;
	state_obs_list_phase(st, STATE_PHASE_MAPPING, NULL, 10, phase_cb, &found, &cause);
	ok(found == NULL, "and not under the state it left");
	for (i = 0; i < 2 * STATE_HISTORY_MAX; i++) {
		snprintf(want, sizeof want, "attempt %zu", i);
		state_history_add(st, "OMM", "H1", STATE_PHASE_STORING, 0, want, 0);
	}
	ok(state_history_flush(st, &cause) == 0, "a flush of many events");
	r = state_history_get(st, "OMM", "H1", &ev, &n, &cause);
	snprintf(want, sizeof want, "attempt %d", 2 * STATE_HISTORY_MAX - 1);
	ok(r == 0 && n == STATE_HISTORY_MAX && strcmp(ev[n - 1].detail, want) == 0,
	    "the history is bounded to the newest %d entries", STATE_HISTORY_MAX);
	state_events_free(ev, n);
	state_obs_failed(st, "OMM", "H1", "503", 99999, &cause);
	state_history_add(st, "OMM", "H1", STATE_PHASE_RETRY, 0, "503", 99999);
	st = reopen(st);	/* a close flushes what is left */
	state_history_get(st, "OMM", "H1", &ev, &n, &cause);
	ok(n > 0 && ev[n - 1].phase == STATE_PHASE_RETRY && ev[n - 1].until_ms == 99999,
	    "retry and its next attempt, flushed at close");
	state_events_free(ev, n);
	state_close(st);
}

/* Do the life-cycle states counted add up to the counts by status? */
static int
census_adds_up(const struct state_census *c)
{
	long by_status[STATE_UNMATCHED + 1] = { 0 };
	size_t g;
	int p;

	for (g = 0; g < c->ngroups; g++)
		for (p = 0; p < STATE_NPHASES; p++)
			by_status[state_phase_status((enum state_phase)p)] += c->groups[g].n[p];
	return memcmp(by_status, c->counts.obs, sizeof by_status) == 0;
}

/* The reader of the status page: opened read-only beside a writer, in one census. */
static void
test_census(void)
{
	struct state *st = reopen(NULL), *ro;
	struct state_census c;
	struct state_file f;
	char *cause = NULL, path[64], obs[16];
	int i, ok_groups = 0;
	size_t g;

	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof path, "/l/census%d.fits", i);
		snprintf(obs, sizeof obs, "C%d", i);
		f = file(path, obs, 1);
		f.landed_ms = 500 + i;
		if (state_file_assign(st, &f, &cause) != 0)
			bail("census: %s", cause);
	}
	state_obs_failed(st, "OMM", "C4", "400 bad", 0, &cause);
	state_obs_running(st, "OMM", "C3", &cause);
	ro = state_open_readonly(dir, &cause);
	ok(ro != NULL, "a reader opens beside the writer");
	if (ro == NULL) {
		diag("%s", cause);
		skip(3, "no reader");
		state_close(st);
		return;
	}
	ok(state_census(ro, 3, &c, &cause) == 0, "a census");
	for (g = 0; g < c.ngroups; g++) {
		if (strcmp(c.groups[g].collection, "OMM") == 0 &&
		    c.groups[g].n[STATE_PHASE_FAILED] >= 1 && c.groups[g].n[STATE_PHASE_STORING] == 1 &&
		    c.groups[g].n[STATE_PHASE_CLASSIFIED] >= 3)
			ok_groups = 1;
	}
	ok(ok_groups && c.counts.obs[STATE_RUNNING] == 1 && c.noldest == 3 &&
	    c.oldest[0].landed_ms <= c.oldest[1].landed_ms && c.nfailures >= 1 &&
	    strcmp(c.failures[0].observation, "C4") == 0 &&
	    strcmp(c.failures[0].last_error, "400 bad") == 0,
	    "counts by collection and state, the oldest unfinished, the latest failure");
	ok(census_adds_up(&c), "the states of each status add up to its count");
	state_census_clear(&c);
	f = file("/l/census-again.fits", "C0", 1);
	state_obs_done(st, "OMM", "C0", "md5:0", NULL, &cause);
	ok(state_file_assign(st, &f, &cause) == 0 && state_file_assign(st, &f, &cause) == 0,
	    "a new file of a done observation, twice (upserts)");
	ok(state_census(ro, 3, &c, &cause) == 0 && census_adds_up(&c) &&
	    c.counts.obs[STATE_DONE] >= 1, "and again after it");
	state_census_clear(&c);
	ok(state_obs_failed(ro, "OMM", "C0", "x", 0, &cause) == -1,
	    "the reader cannot write");
	free(cause);
	state_close(ro);
	state_close(st);
}

/* A child records files as fast as it can and is killed with SIGKILL. */
/* The scan's snapshot: what it holds, under a directory or everywhere, and
 * that it is a snapshot (a file recorded later is not in it). */
static void
test_known(void)
{
	struct state *st = reopen(NULL);
	struct state_known *k, *under;
	struct state_file f;
	char path[64], *cause = NULL;
	int i, all = 1;

	for (i = 0; i < 3000; i++) {	/* more than the table's first size */
		snprintf(path, sizeof path, "/k/d%d/f%d.fits", i % 7, i);
		f = file(path, "K", 1000 + i);
		state_file_assign(st, &f, &cause);
	}
	state_file_unmatched(st, "/k0/other.txt", 7, 7, &cause);
	f = file("/k/d1x/near.fits", "K", 9);	/* a sibling whose name starts as d1's */
	state_file_assign(st, &f, &cause);
	ok((k = state_known_load(st, NULL, &cause)) != NULL, "the known files load");
	if (k == NULL)
		bail("%s", cause);
	for (i = 0; i < 3000; i++) {
		snprintf(path, sizeof path, "/k/d%d/f%d.fits", i % 7, i);
		all &= state_known_has(k, path, 100, 1000 + i);
	}
	ok(all, "every recorded file is known with its size and mtime");
	ok(state_known_has(k, "/k0/other.txt", 7, 7), "an unmatched file too");
	ok(state_known_has(k, "/k/d1x/near.fits", 100, 9), "and /k/d1x's (a control for below)");
	ok(!state_known_has(k, "/k/d3/f3.fits", 100, 1004), "another mtime is not known");
	ok(!state_known_has(k, "/k/d3/f3.fits", 101, 1003), "another size is not known");
	ok(!state_known_has(k, "/k/d3/f4.fits", 100, 1003), "another path is not known");
	f = file("/k/d1/new.fits", "K", 5);
	state_file_assign(st, &f, &cause);
	ok(!state_known_has(k, "/k/d1/new.fits", 100, 5), "a snapshot: later files are not in it");
	state_known_free(k);
	ok((under = state_known_load(st, "/k/d1", &cause)) != NULL, "the files under a directory load");
	ok(state_known_has(under, "/k/d1/new.fits", 100, 5) &&
	    !state_known_has(under, "/k/d2/f2.fits", 100, 1002) &&
	    !state_known_has(under, "/k0/other.txt", 7, 7), "not those beside it");
	ok(!state_known_has(under, "/k/d1x/near.fits", 100, 9),
	    "nor those of a sibling whose name begins with the directory's (/k/d1x)");
	state_known_free(under);
	state_known_free(NULL);
	state_close(st);
}

/* A child records files as fast as it can and is killed with SIGKILL. */
static void
test_killed(void)
{
	struct state *st;
	struct state_counts c;
	sqlite3 *db;
	sqlite3_stmt *s;
	char *cause = NULL, path[64], *dbpath;
	pid_t pid;
	int i;

	if ((pid = fork()) == 0) {
		st = state_open(dir, &cause);
		for (i = 0; st != NULL; i++) {
			struct state_file f;

			snprintf(path, sizeof path, "/l/k%06d.fits", i);
			f = file(path, "K", i);
			state_file_assign(st, &f, &cause);
		}
		_exit(1);
	}
	usleep(300000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	dbpath = xasprintf("%s/state.db", dir);
	sqlite3_open(dbpath, &db);
	sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL);
	ok(sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0,
	    "after SIGKILL mid-burst the database passes integrity_check");
	sqlite3_finalize(s);
	sqlite3_close(db);
	st = reopen(NULL);
	state_get_counts(st, &c, &cause);
	ok(c.files[STATE_PENDING] > 100, "and holds what was committed (%ld pending files)",
	    c.files[STATE_PENDING]);
	state_close(st);
	free(dbpath);
}

static void
test_bad_databases(void)
{
	char *cause = NULL, *cmd;
	struct state *st;

	cmd = xasprintf("sqlite3 %s/state.db 'PRAGMA user_version = 99' 2>/dev/null || "
	    "python3 -c \"import sqlite3; c=sqlite3.connect('%s/state.db');"
	    " c.execute('PRAGMA user_version = 99'); c.commit()\"", dir, dir);
	if (system(cmd) != 0)
		bail("cannot set user_version");
	free(cmd);
	st = state_open(dir, &cause);
	ok(st == NULL, "a newer schema is refused");
	cmd = xasprintf("%s/state.db: schema version 99 is newer than this build's %d", dir,
	    STATE_SCHEMA_VERSION);
	is_string(cmd, cause, "with a clear message");
	free(cmd);
	free(cause);
	cmd = xasprintf("rm -f %s/state.db*; head -c 8192 /dev/urandom > %s/state.db", dir, dir);
	if (system(cmd) != 0)
		bail("cannot write garbage");
	free(cmd);
	cause = NULL;
	st = state_open(dir, &cause);
	ok(st == NULL && cause != NULL && strstr(cause, "state.db") != NULL,
	    "a corrupt database is refused, naming the file");
	diag("%s", cause != NULL ? cause : "(no message)");
	free(cause);
}

static void
test_objects(void)
{
	struct state *st = reopen(NULL);
	static char coll[] = "OMM", bucket[] = "raw", key[] = "a/b.fits",
	    url[] = "s3://raw/a/b.fits", e1[] = "e1", e2[] = "e2", seq[] = "0A";
	struct state_object o = { coll, bucket, key, url, NULL, e1, 10, seq, STATE_PENDING, 0,
		NULL, 0 }, got;
	long counts[STATE_UNMATCHED + 1];
	char *cause = NULL;

	ok(state_object_get(st, "OMM", "raw", "a/b.fits", &got, &cause) == 1,
	    "an unknown object");
	ok(state_object_put(st, &o, &cause) == 0, "an object is recorded");
	ok(state_object_get(st, "OMM", "raw", "a/b.fits", &got, &cause) == 0 &&
	    strcmp(got.etag, "e1") == 0 && got.size == 10 && strcmp(got.sequencer, "0A") == 0 &&
	    got.version == NULL && got.status == STATE_PENDING, "read back, pending");
	state_object_clear(&got);
	ok(state_object_set(st, "OMM", "raw", "a/b.fits", STATE_RUNNING, NULL, 0, &cause) == 0 &&
	    state_object_set(st, "OMM", "raw", "a/b.fits", STATE_RETRY, "503 SlowDown", 1234,
	    &cause) == 0, "running, then retry");
	ok(state_object_get(st, "OMM", "raw", "a/b.fits", &got, &cause) == 0 &&
	    got.attempts == 1 && got.next_attempt_ms == 1234 &&
	    strcmp(got.last_error, "503 SlowDown") == 0, "one attempt, its error, its time");
	state_object_clear(&got);
	o.etag = e2;
	ok(state_object_put(st, &o, &cause) == 0 &&
	    state_object_get(st, "OMM", "raw", "a/b.fits", &got, &cause) == 0 &&
	    got.attempts == 0 && got.last_error == NULL && strcmp(got.etag, "e2") == 0 &&
	    got.status == STATE_PENDING, "a new version: pending, attempts and error forgotten");
	state_object_clear(&got);
	state_object_set(st, "OMM", "raw", "a/b.fits", STATE_RUNNING, NULL, 0, &cause);
	ok(state_object_counts(st, counts, &cause) == 0 && counts[STATE_RUNNING] == 1,
	    "counted as running");
	st = reopen(st);
	ok(state_object_get(st, "OMM", "raw", "a/b.fits", &got, &cause) == 0 &&
	    got.status == STATE_PENDING, "a fetch running at a crash is pending again");
	state_object_clear(&got);
	state_close(st);
}

/* A store made by schema 2 (the one before the life cycle) opens, migrated, with its
 * rows kept and their states derived from their status. */
static void
test_migration_v2(void)
{
	static const char *const want[][2] = { { "P", "classified" }, { "W", "waiting" },
		{ "R", "classified" }, { "T", "retry" }, { "D", "done" }, { "F", "failed" } };
	char *d = xasprintf("%s/v2", dir), *cmd, *cause = NULL;
	struct state_event *ev = NULL;
	struct state_obs o;
	struct state *st;
	size_t n = 0, i;
	int good = 1;

	cmd = xasprintf("mkdir %s && sqlite3 %s/state.db \"CREATE TABLE files (path TEXT"
	    " PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, collection TEXT,"
	    " observation TEXT, product TEXT, uri TEXT, blueprint TEXT, status TEXT NOT NULL,"
	    " updated INTEGER NOT NULL); CREATE INDEX files_by_obs ON files(collection,"
	    " observation); CREATE TABLE observations (collection TEXT NOT NULL,"
	    " observation TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL"
	    " DEFAULT 0, last_error TEXT, next_attempt INTEGER NOT NULL DEFAULT 0,"
	    " pushed_checksum TEXT, updated INTEGER NOT NULL, PRIMARY KEY (collection,"
	    " observation)); CREATE INDEX observations_by_status ON observations(status,"
	    " updated); CREATE TABLE objects (collection TEXT NOT NULL, bucket TEXT NOT NULL,"
	    " key TEXT NOT NULL, url TEXT NOT NULL, version TEXT, etag TEXT, size INTEGER NOT"
	    " NULL DEFAULT -1, sequencer TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL"
	    " DEFAULT 0, last_error TEXT, next_attempt INTEGER NOT NULL DEFAULT 0, updated"
	    " INTEGER NOT NULL, PRIMARY KEY (collection, bucket, key)); CREATE INDEX"
	    " objects_by_status ON objects(status, updated);"
	    " INSERT INTO files VALUES ('/d.fits', 5, 6, 'C', 'D', 'P', 'u', NULL, 'done', 1);"
	    " INSERT INTO observations VALUES ('C', 'P', 'pending', 0, NULL, 0, NULL, 10),"
	    " ('C', 'W', 'pending', 0, NULL, 99999999999999, NULL, 11),"
	    " ('C', 'R', 'running', 1, NULL, 0, NULL, 12),"
	    " ('C', 'T', 'retry', 2, '503', 5000, NULL, 13),"
	    " ('C', 'D', 'done', 1, NULL, 0, 'md5:x', 14),"
	    " ('C', 'F', 'failed', 1, '400 no', 0, NULL, 15);"
	    " PRAGMA user_version = 2;\"", d, d);
	if (system(cmd) != 0)
		bail("cannot make a version 2 store");
	st = state_open(d, &cause);
	ok(st != NULL, "a version 2 store opens (migrated to %d)", STATE_SCHEMA_VERSION);
	if (st == NULL) {
		diag("%s", cause);
		skip(3, "not opened");
		free(cmd);
		free(d);
		return;
	}
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (state_obs_get(st, "C", want[i][0], &o, &cause) != 0 ||
		    strcmp(state_phase_name(o.phase), want[i][1]) != 0 || o.landed_ms == 0) {
			diag("%s: %s", want[i][0], state_phase_name(o.phase));
			good = 0;
		}
		state_obs_clear(&o);
	}
	ok(good, "its observations are kept, each in the state its status implies");
	state_obs_get(st, "C", "T", &o, &cause);
	ok(o.attempts == 2 && o.next_attempt_ms == 5000 && strcmp(o.last_error, "503") == 0,
	    "with their attempts, next attempt and error");
	state_obs_clear(&o);
	state_history_add(st, "C", "D", STATE_PHASE_CLASSIFIED, 0, "again", 0);
	ok(state_history_flush(st, &cause) == 0 &&
	    state_history_get(st, "C", "D", &ev, &n, &cause) == 0 && n == 1,
	    "and it records history");
	state_events_free(ev, n);
	state_close(st);
	free(cmd);
	free(d);
}

/* A store made by schema 1 is migrated to 2 with its rows kept. */
static void
test_migration(void)
{
	char *d = xasprintf("%s/v1", dir), *cmd, *cause = NULL;
	struct state *st;
	enum state_change ch;
	enum state_status status;
	struct state_object got;

	cmd = xasprintf("mkdir %s && sqlite3 %s/state.db \"CREATE TABLE files (path TEXT"
	    " PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, collection TEXT,"
	    " observation TEXT, product TEXT, uri TEXT, blueprint TEXT, status TEXT NOT NULL,"
	    " updated INTEGER NOT NULL); CREATE TABLE observations (collection TEXT NOT NULL,"
	    " observation TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL"
	    " DEFAULT 0, last_error TEXT, next_attempt INTEGER NOT NULL DEFAULT 0,"
	    " pushed_checksum TEXT, updated INTEGER NOT NULL, PRIMARY KEY (collection,"
	    " observation)); INSERT INTO files VALUES ('/x', 5, 6, 'C', 'O', 'P', 'u', NULL,"
	    " 'done', 1); PRAGMA user_version = 1;\"", d, d);
	if (system(cmd) != 0)
		bail("cannot make a version 1 store");
	st = state_open(d, &cause);
	ok(st != NULL, "a version 1 store opens (migrated)");
	ok(st != NULL && state_file_seen(st, "/x", 5, 6, &ch, &status, &cause) == 0 &&
	    ch == STATE_UNCHANGED && status == STATE_DONE, "its files are kept");
	ok(st != NULL && state_object_get(st, "C", "b", "k", &got, &cause) == 1,
	    "and it has an objects table");
	state_close(st);
	free(cmd);
	free(d);
}

/* Files in storage: storing with progress kept for the same bytes, stored, seen by
 * state_obs_files and the counts, and durable. */
static void
test_stored(void)
{
	struct state *st = reopen(NULL);
	struct state_file f = file("/l/s.fits", "OS", 7), *files = NULL;
	struct state_stored got;
	struct state_counts c, c0;
	char *cause = NULL;
	size_t n = 0;

	if (state_get_counts(st, &c0, &cause) != 0 || state_file_assign(st, &f, &cause) != 0)
		bail("%s", cause);
	is_int(1, state_stored_get(st, "/l/s.fits", &got, &cause), "not stored at first");
	ok(state_get_counts(st, &c, &cause) == 0 &&
	    c.storage[STATE_STORE_NONE] == c0.storage[STATE_STORE_NONE] + 1 &&
	    c.storage[STATE_STORE_STORING] == 0, "one more file waiting to be stored");
	ok(state_stored_begin(st, "/l/s.fits", "cadc:OMM/s.fits", "si:http://h/files",
	    "md5:aa", 100, "application/fits", 7, &cause) == 0 &&
	    state_stored_progress(st, "/l/s.fits", "si-txn T 50 md5:aa", &cause) == 0,
	    "a put begins and says its progress");
	ok(state_stored_begin(st, "/l/s.fits", "cadc:OMM/s.fits", "si:http://h/files",
	    "md5:aa", 100, "application/fits", 7, &cause) == 0 &&
	    state_stored_get(st, "/l/s.fits", &got, &cause) == 0 &&
	    got.status == STATE_STORE_STORING && got.progress != NULL &&
	    strcmp(got.progress, "si-txn T 50 md5:aa") == 0,
	    "the same bytes to the same place again: the progress is kept (it resumes)");
	state_stored_clear(&got);
	ok(state_get_counts(st, &c, &cause) == 0 && c.storage[STATE_STORE_STORING] == 1 &&
	    c.storage[STATE_STORE_NONE] == c0.storage[STATE_STORE_NONE],
	    "counted as storing, not waiting");
	ok(state_stored_begin(st, "/l/s.fits", "cadc:OMM/s.fits", "si:http://h/files",
	    "md5:bb", 120, "application/fits", 8, &cause) == 0 &&
	    state_stored_get(st, "/l/s.fits", &got, &cause) == 0 && got.progress == NULL,
	    "other bytes: the progress is forgotten");
	state_stored_clear(&got);
	ok(state_stored_done(st, "/l/s.fits", &cause) == 0, "stored");
	st = reopen(st);
	ok(state_stored_get(st, "/l/s.fits", &got, &cause) == 0 &&
	    got.status == STATE_STORE_STORED && strcmp(got.md5, "md5:bb") == 0 &&
	    got.size == 120 && strcmp(got.type, "application/fits") == 0 &&
	    strcmp(got.target, "si:http://h/files") == 0 && got.mtime_ns == 8 &&
	    got.progress == NULL, "durably: target, MD5, size, type, mtime");
	state_stored_clear(&got);
	ok(state_obs_files(st, "OMM", "OS", &files, &n, &cause) == 0 && n == 1 &&
	    files[0].stored.status == STATE_STORE_STORED && files[0].stored.md5 != NULL &&
	    strcmp(files[0].stored.md5, "md5:bb") == 0, "an observation's files say it");
	state_files_free(files, n);
	ok(state_get_counts(st, &c, &cause) == 0 && c.storage[STATE_STORE_STORED] >= 1 &&
	    c.storage[STATE_STORE_STORING] == 0, "counted as stored");
	state_close(st);
}

int
main(void)
{
	struct state *st;
	char *cause = NULL, *cmd;

	plan(90);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	st = state_open(dir, &cause);
	ok(st != NULL, "a new store is created");
	if (st == NULL)
		bail("%s", cause);
	test_files(st);
	test_lifecycle(st);
	test_objects();
	test_migration();
	test_migration_v2();
	test_counts();
	test_history();
	test_census();
	test_stored();
	test_known();
	test_killed();
	test_bad_databases();
	cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("cleanup failed");
	free(cmd);
	return 0;
}
