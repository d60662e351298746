/*
 * t/watch.c - watching landing trees with real inotify: writes, renames,
 * new directory trees, moved directories, rescans, poll mode, a deleted
 * root, and a queue overflow.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "lib/log.h"
#include "tap.h"
#include "sources/watch.h"
#include "lib/xmalloc.h"

#define MAX_SEEN 4096

struct seen {
	enum watch_event ev[MAX_SEEN];
	char		*path[MAX_SEEN];
	int		 n;
};

static struct seen seen;
static struct ev_loop *loop;
static char root[] = "/tmp/caom2ingest-watch.XXXXXX";

static int scan_depth, scan_found_outside, scan_no_stat;

static void
on_event(void *arg, enum watch_event ev, const char *path, const struct stat *st)
{
	if (ev == WATCH_SCAN_BEGIN || ev == WATCH_SCAN_END) {
		scan_depth += ev == WATCH_SCAN_BEGIN ? 1 : -1;
		return;
	}
	if (ev == WATCH_FOUND && scan_depth == 0)
		scan_found_outside++;
	if (ev == WATCH_FOUND && (st == NULL || !S_ISREG(st->st_mode)))
		scan_no_stat++;
	if (seen.n < MAX_SEEN) {
		seen.ev[seen.n] = ev;
		seen.path[seen.n++] = xstrdup(path);
	}
}

static void
seen_reset(void)
{
	while (seen.n > 0)
		free(seen.path[--seen.n]);
}

/* Index of the first event for path (relative to root), or -1. */
static int
seen_find(const char *rel, int ev)
{
	char *path = xasprintf("%s/%s", root, rel);
	int i, found = -1;

	for (i = 0; i < seen.n && found < 0; i++) {
		if (strcmp(seen.path[i], path) == 0 && (ev < 0 || (int)seen.ev[i] == ev))
			found = i;
	}
	free(path);
	return found;
}

/* Run the loop until rel was reported (ev < 0: any event) or 3 s pass. */
static int
wait_seen(const char *rel, int ev)
{
	ev_tstamp end = ev_time() + 3.0;

	while (seen_find(rel, ev) < 0 && ev_time() < end)
		ev_run(loop, EVRUN_NOWAIT), usleep(2000);
	return seen_find(rel, ev) >= 0;
}

static void
drain(double secs)
{
	ev_tstamp end = ev_time() + secs;

	while (ev_time() < end)
		ev_run(loop, EVRUN_NOWAIT), usleep(2000);
}

static void
write_file(const char *rel, const char *content)
{
	char *path = xasprintf("%s/%s", root, rel);
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		bail("cannot write %s: %s", path, strerror(errno));
	fputs(content, fp);
	fclose(fp);
	free(path);
}

/* Run a shell command with every '@' replaced by the root directory. */
static void
sh(const char *tmpl)
{
	char cmd[1024];
	size_t n = 0, len = strlen(root);
	const char *p;

	for (p = tmpl; *p != '\0' && n + len + 1 < sizeof cmd; p++) {
		if (*p == '@') {
			memcpy(cmd + n, root, len);
			n += len;
		} else
			cmd[n++] = *p;
	}
	cmd[n] = '\0';
	if (system(cmd) != 0)
		bail("command failed: %s", cmd);
}

static void
test_scan(struct watch *w)
{
	sh("mkdir -p @/pre/deep @/.hidden && touch @/pre/deep/old.fits");
	write_file(".hidden/x.fits", "x");
	write_file(".dotfile.fits", "x");
	sh("ln -s /etc/passwd @/link.fits");
	scan_found_outside = scan_no_stat = 0;
	watch_rescan(w);
	ok(seen_find("pre/deep/old.fits", WATCH_FOUND) >= 0, "a rescan finds an existing file");
	ok(scan_depth == 0 && scan_found_outside == 0,
	    "a rescan's finds come between WATCH_SCAN_BEGIN and WATCH_SCAN_END");
	ok(scan_no_stat == 0, "each find comes with the file's stat");
	ok(seen_find(".hidden/x.fits", -1) < 0, "hidden directories are not entered");
	ok(seen_find(".dotfile.fits", WATCH_FOUND) >= 0,
	    "hidden files are reported (the caller decides on names)");
	ok(seen_find("link.fits", -1) < 0, "symbolic links are not followed");
}

static int prepared;
static char *prepared_scope;

static void
t_prepare(void *arg, const char *scope)
{
	prepared++;
	free(prepared_scope);
	prepared_scope = scope != NULL ? xstrdup(scope) : NULL;
}

/* Called on the scan's threads: only reads its arguments. */
static int
t_known(void *arg, const char *path, int64_t size, int64_t mtime_ns)
{
	size_t n = strlen(path);

	return n >= 8 && strcmp(path + n - 8, "old.fits") == 0 && size == 0 && mtime_ns > 0;
}

/* Scans on threads leave out what the caller says it has as it is. */
static void
test_known(struct watch *w)
{
	seen_reset();
	prepared = 0;
	watch_set_scan(w, 2, t_prepare, t_known);
	watch_rescan(w);
	ok(seen_find("pre/deep/old.fits", WATCH_FOUND) < 0, "a known file is left out of a rescan");
	ok(seen_find(".dotfile.fits", WATCH_FOUND) >= 0, "the others are reported");
	is_int(1, (long long)watch_scan_known(w), "and counted as known");
	ok(prepared == 1 && prepared_scope == NULL, "prepare() once, for every tree");
	ok(scan_depth == 0 && scan_found_outside == 0, "between SCAN_BEGIN and SCAN_END");
	sh("echo more > @/pre/deep/old.fits");
	seen_reset();
	watch_rescan(w);
	ok(seen_find("pre/deep/old.fits", WATCH_FOUND) >= 0, "once it changes it is reported");
	is_int(0, (long long)watch_scan_known(w), "and no longer known");
	seen_reset();
}

static void
test_events(void)
{
	seen_reset();
	write_file("new.fits", "data");
	ok(wait_seen("new.fits", WATCH_WRITTEN), "a written file is reported as WRITTEN");
	write_file("pre/deep/inner.fits", "data");
	ok(wait_seen("pre/deep/inner.fits", WATCH_WRITTEN), "files deep in the tree too");
	write_file("moving.fits.part", "data");
	sh("mv @/moving.fits.part @/moved.fits");
	ok(wait_seen("moved.fits", WATCH_MOVED_IN), "a rename into place is MOVED_IN");
	sh("mkdir -p @/a/b/c && echo x > @/a/b/c/burst.fits");
	ok(wait_seen("a/b/c/burst.fits", -1), "mkdir -p a/b/c with a file at once: seen");
	write_file("a/b/c/later.fits", "x");
	ok(wait_seen("a/b/c/later.fits", WATCH_WRITTEN), "and the new directories are watched");
	sh("mkdir -p @.out/tree/sub && echo x > @.out/tree/sub/in.fits");
	sh("mv @.out/tree @/tree");
	ok(wait_seen("tree/sub/in.fits", WATCH_FOUND), "a directory moved in is scanned");
	sh("rmdir @.out");
}

static void
test_moved_out(struct watch *w)
{
	struct watch_stats before, after;

	watch_get_stats(w, &before);
	sh("mkdir -p @.away && mv @/tree @.away/");
	drain(0.2);
	watch_get_stats(w, &after);
	is_int((long long)before.dirs - 2, (long long)after.dirs,
	    "a directory moved out loses its watches (itself and its child)");
	seen_reset();
	sh("echo x > @.away/tree/sub/gone.fits");
	drain(0.2);
	is_int(0, seen.n, "files written there are no longer reported");
	sh("rm -rf @.away");
}

static void
test_root_deleted(struct watch *w)
{
	seen_reset();
	sh("rm -rf @");
	drain(0.2);
	sh("mkdir -p @ && echo x > @/back.fits");
	watch_set_intervals(w, 0, 100);
	ok(wait_seen("back.fits", WATCH_FOUND), "a deleted root that reappears is scanned again");
	write_file("after.fits", "x");
	ok(wait_seen("after.fits", WATCH_WRITTEN), "and watched again");
	watch_set_intervals(w, 0, 0);
}

static void
test_poll_mode(void)
{
	struct watch *w;
	char *cause = NULL, *dir = xasprintf("%s/polled", root);

	mkdir(dir, 0755);
	w = watch_new(loop, on_event, NULL, &cause);
	ok(watch_add_root(w, dir, 1, &cause) == 0, "a poll-mode root is accepted");
	watch_set_intervals(w, 0, 100);
	seen_reset();
	write_file("polled/p.fits", "x");
	ok(wait_seen("polled/p.fits", WATCH_FOUND), "poll mode finds a new file by scanning");
	watch_set_scan(w, 2, t_prepare, t_known);
	prepared = 0;
	drain(0.25);
	ok(prepared >= 1 && prepared_scope != NULL && strcmp(prepared_scope, dir) == 0,
	    "a poll scans its tree: prepare() is told which");
	watch_free(w);
	free(dir);
}

/* Shrink the kernel's queue for one new inotify instance, as root only. */
static int
set_max_queued(const char *value, char *old, size_t oldlen)
{
	const char *knob = "/proc/sys/fs/inotify/max_queued_events";
	ssize_t n;
	int fd;

	if ((fd = open(knob, O_RDWR)) < 0)
		return -1;
	if (old != NULL && (n = read(fd, old, oldlen - 1)) > 0)
		old[n] = '\0';
	n = pwrite(fd, value, strlen(value), 0);
	close(fd);
	return n > 0 ? 0 : -1;
}

static void
test_overflow(void)
{
	struct watch_stats st;
	struct watch *w;
	char old[32], *cause = NULL, name[64];
	int i, missing = 0;

	if (set_max_queued("16", old, sizeof old) != 0) {
		skip(3, "cannot lower fs.inotify.max_queued_events (not root)");
		return;
	}
	w = watch_new(loop, on_event, NULL, &cause);
	set_max_queued(old, NULL, 0);
	sh("mkdir -p @/flood");
	watch_add_root(w, root, 0, &cause);
	watch_rescan(w);
	seen_reset();
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "flood/f%03d.fits", i);
		write_file(name, "x");
	}
	drain(0.5);
	watch_get_stats(w, &st);
	ok(st.overflows >= 1, "200 files into a 16-event queue overflow it");
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "flood/f%03d.fits", i);
		missing += seen_find(name, -1) < 0;
	}
	is_int(0, missing, "the overflow rescan reports every file");
	ok(st.rescans >= 2, "a rescan was done on overflow");
	watch_free(w);
}

int
main(void)
{
	struct watch *w;
	char *cause = NULL;

	plan(33);
	log_init("t-watch", LOG_ERR, LOG_TARGET_STDERR);
	loop = ev_default_loop(0);
	if (mkdtemp(root) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	w = watch_new(loop, on_event, NULL, &cause);
	ok(w != NULL, "watch_new");
	ok(watch_add_root(w, "/nonexistent/landing", 0, &cause) == -1, "a missing root is refused");
	is_string("landing directory /nonexistent/landing: No such file or directory", cause,
	    "with the reason");
	free(cause);
	ok(watch_add_root(w, root, 0, &cause) == 0, "a root is added");
	test_scan(w);
	test_known(w);
	watch_set_scan(w, 0, NULL, NULL);
	test_events();
	test_moved_out(w);
	test_root_deleted(w);
	test_poll_mode();
	test_overflow();
	watch_free(w);
	seen_reset();
	free(prepared_scope);
	sh("rm -rf @");
	return 0;
}
