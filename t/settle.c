/*
 * t/settle.c - the producer contract: ignored names, renamed files complete
 * at once, other files only after a quiet period with a stable size and
 * mtime, a growing file waits, a vanished file is dropped; sequence numbers
 * tell when every file offered before a mark has left.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <ev.h>

#include "lib/log.h"
#include "sources/settle.h"
#include "tap.h"
#include "lib/xmalloc.h"

static struct ev_loop *loop;
static char dir[] = "/tmp/caom2ingest-settle.XXXXXX";
static char *done[2048];
static uint64_t done_seq[2048];
static double done_first[2048], done_at[2048];
static int ndone;

static void
on_done(void *arg, const char *path, const struct stat *st, int renamed, uint64_t seq,
    double first)
{
	if (ndone < 2048) {
		done_seq[ndone] = seq;
		done_first[ndone] = first;
		done_at[ndone] = ev_now(loop);
		done[ndone++] = xstrdup(path);
	}
}

static long long
seq_of(const char *path)
{
	int i;

	for (i = 0; i < ndone; i++) {
		if (strcmp(done[i], path) == 0)
			return (long long)done_seq[i];
	}
	return -1;
}

static int
is_done(const char *path)
{
	int i;

	for (i = 0; i < ndone; i++) {
		if (strcmp(done[i], path) == 0)
			return 1;
	}
	return 0;
}

/* Where path is in the order of completions, or -1. */
static int
done_index(const char *path)
{
	int i;

	for (i = 0; i < ndone; i++) {
		if (strcmp(done[i], path) == 0)
			return i;
	}
	return -1;
}

static void
run_for(double secs)
{
	ev_tstamp end = ev_time() + secs;

	while (ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

static char *
make_file(const char *name, const char *content, const char *mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, mode);

	if (fp == NULL)
		bail("%s: %s", path, strerror(errno));
	fputs(content, fp);
	fclose(fp);
	return path;
}

static void
test_names(struct settle *s)
{
	static const char *const custom[] = { ".inprogress", NULL };

	ok(settle_ignored(s, "/l/.hidden.fits"), "a leading dot is ignored");
	ok(settle_ignored(s, "/l/a.fits.tmp"), ".tmp is ignored");
	ok(settle_ignored(s, "/l/a.fits.part"), ".part is ignored");
	ok(!settle_ignored(s, "/l/a.fits"), "a plain name is not");
	ok(!settle_ignored(s, "/l/.d/a.fits"), "only the file's own name counts");
	settle_set_ignored(s, custom);
	ok(settle_ignored(s, "/l/a.fits.inprogress"), "suffixes are configurable");
	ok(!settle_ignored(s, "/l/a.fits.part"), "and replace the defaults");
}

static void
test_quiet(struct settle *s)
{
	char *a = make_file("quiet.fits", "data", "w");
	double offered;

	ev_now_update(loop);	/* (the daemon offers from callbacks: ev_now is fresh) */
	offered = ev_now(loop);
	settle_offer(s, a, SETTLE_WRITTEN, NULL);
	is_int(1, (long long)settle_pending(s), "an offered file is pending");
	ok(settle_waiting(s, a), "and waiting");
	run_for(0.05);
	ok(!is_done(a), "not complete before the quiet period");
	run_for(0.25);
	ok(is_done(a), "complete after a quiet period");
	is_int(0, (long long)settle_pending(s), "and no longer pending");
	ok(!settle_waiting(s, a), "no longer waiting");
	ok(done_index(a) >= 0 && done_first[done_index(a)] == offered &&
	    done_at[done_index(a)] - offered >= 0.095,
	    "told when it was first offered: a quiet period (100 ms) before it completed");
	free(a);
}

static void
test_growing(struct settle *s)
{
	char *g = make_file("growing.fits", "x", "w");
	int i;

	settle_offer(s, g, SETTLE_WRITTEN, NULL);
	for (i = 0; i < 6; i++) {	/* a slow writer: appends every 50 ms for 300 ms */
		run_for(0.05);
		free(make_file("growing.fits", "more", "a"));
	}
	ok(!is_done(g), "a file still growing is not complete (300 ms > the 100 ms period)");
	run_for(0.4);
	ok(is_done(g), "it completes once the writer stops");
	free(g);
}

static void
test_renamed_and_gone(struct settle *s)
{
	char *r = make_file("renamed.fits", "x", "w"), *v;

	settle_offer(s, r, SETTLE_RENAMED, NULL);
	ok(is_done(r), "a file renamed into place is complete at once");
	v = make_file("vanishing.fits", "x", "w");
	settle_offer(s, v, SETTLE_WRITTEN, NULL);
	unlink(v);
	run_for(0.3);
	ok(!is_done(v), "a file deleted while settling is never reported");
	is_int(0, (long long)settle_pending(s), "and dropped");
	free(r);
	free(v);
}

/* A scan's find: old files are complete at once, recent ones wait. */
static void
test_found(struct settle *s)
{
	char *old = make_file("old.fits", "x", "w"), *recent = make_file("recent.fits", "x", "w");
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	if (utimes(old, tv) != 0)
		bail("utimes: %s", strerror(errno));
	ev_now_update(loop);
	settle_offer(s, old, SETTLE_FOUND, NULL);
	ok(is_done(old), "a found file untouched for longer than the period is complete at once");
	settle_offer(s, recent, SETTLE_FOUND, NULL);
	ok(!is_done(recent) && settle_pending(s) == 1, "a found file written just now waits");
	run_for(0.3);
	ok(is_done(recent), "and completes after the period");
	free(old);
	free(recent);
}

static void
test_many(struct settle *s)
{
	char name[64], *p;
	int i, before = ndone, again;

	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "many%04d.fits", i);
		p = make_file(name, "x", "w");
		settle_offer(s, p, SETTLE_WRITTEN, NULL);
		settle_offer(s, p, SETTLE_WRITTEN, NULL);	/* a duplicate event */
		free(p);
	}
	is_int(1000, (long long)settle_pending(s), "1000 files pending, duplicates merged");
	run_for(0.4);
	is_int(1000, (long long)(ndone - before), "each completes exactly once");
	again = ndone;
	run_for(0.2);
	is_int(again, ndone, "and nothing more is reported");
}

/* Run the loop until path is reported, for at most secs. */
static void
run_until_done(const char *path, double secs)
{
	ev_tstamp end = ev_time() + secs;

	while (!is_done(path) && ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

/* Its own settler (200 ms) so that the two files are far apart. */
static void
test_seq(void)
{
	struct settle *s = settle_new(loop, 200, on_done, NULL);
	char *a = make_file("seq-a.fits", "x", "w"), *b, *r, *old;
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	uint64_t m0 = settle_mark(s), mark;

	is_int((long long)m0, (long long)settle_oldest(s), "nothing waits: oldest is the mark");
	/* offers come from the loop's callbacks in the daemon, with its time fresh;
	 * here a stale ev_now would make a deadline earlier than the file's mtime
	 * allows, and the file would (rightly) wait again behind the next one */
	ev_now_update(loop);
	settle_offer(s, a, SETTLE_WRITTEN, NULL);
	settle_offer(s, a, SETTLE_WRITTEN, NULL);	/* offered again: keeps its number */
	mark = settle_mark(s);
	is_int((long long)m0 + 1, (long long)mark, "one file offered twice: the mark moved by one");
	run_for(0.1);
	b = make_file("seq-b.fits", "x", "w");
	ev_now_update(loop);
	settle_offer(s, b, SETTLE_WRITTEN, NULL);
	is_int((long long)m0, (long long)settle_oldest(s), "the oldest is the first file");
	run_until_done(a, 1.);
	/* (a loaded machine may complete both in one wake-up: compare the order) */
	if (!ok(is_done(a) && (!is_done(b) || done_index(a) < done_index(b)),
	    "the first completes before the second"))
		diag("a done %d at %d, b done %d at %d", is_done(a), done_index(a), is_done(b),
		    done_index(b));
	is_int((long long)m0, seq_of(a), "with its number");
	ok(settle_oldest(s) >= mark, "then everything offered before the mark has left");
	run_until_done(b, 1.);
	is_int((long long)m0 + 1, seq_of(b), "the second has the next number");
	r = make_file("seq-r.fits", "x", "w");
	settle_offer(s, r, SETTLE_RENAMED, NULL);
	is_int((long long)m0 + 2, seq_of(r), "a renamed file takes a number too");
	old = make_file("seq-old.fits", "x", "w");
	if (utimes(old, tv) != 0)
		bail("utimes: %s", strerror(errno));
	settle_offer(s, old, SETTLE_FOUND, NULL);
	is_int((long long)m0 + 3, seq_of(old), "and so does a found file complete at once");
	is_int((long long)m0 + 4, (long long)settle_oldest(s), "and nothing waits");
	settle_offer_again(s, a, (uint64_t)seq_of(a));
	is_int((long long)m0, (long long)settle_oldest(s),
	    "a file offered again keeps the number it completed with");
	settle_free(s);
	free(a);
	free(b);
	free(r);
	free(old);
}

int
main(void)
{
	struct settle *s;
	char *p;
	int i;

	plan(36);
	log_init("t-settle", LOG_ERR, LOG_TARGET_STDERR);
	loop = ev_default_loop(0);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	s = settle_new(loop, 100, on_done, NULL);
	test_names(s);
	test_quiet(s);
	test_growing(s);
	test_renamed_and_gone(s);
	test_found(s);
	test_many(s);
	settle_free(s);
	test_seq();
	settle_free(NULL);
	for (i = 0; i < ndone; i++)
		free(done[i]);
	p = xasprintf("rm -rf '%s'", dir);
	if (system(p) != 0)
		diag("cleanup failed: %s", p);
	free(p);
	return 0;
}
