/*
 * t/walk.c - the parallel walk: every regular file reported exactly once
 * or counted as known, on 0, 1 and 4 threads; a flat directory larger than
 * a batch and a nested tree; hidden directories, symbolic links and FIFOs;
 * inotify watches on each directory; a prepare() slow enough that batches
 * must wait for it; a caller slower than the walk (the bounded queue).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/strmap.h"
#include "tap.h"
#include "sources/walk.h"
#include "lib/xmalloc.h"

#define FLAT	3000		/* files in the flat directory: many batches */
#define DIRS	40		/* subdirectories of the tree... */
#define PER	25		/* ...with this many files each */

static char root[] = "/tmp/caom2ingest-walk.XXXXXX";

struct run {
	struct strmap	*files;		/* path -> count of reports */
	struct strmap	*dirs;		/* path -> count of WALK_DIR reports */
	unsigned long	 reported, dir_reports, bad_stat, watched, watch_failed;
	int		 read_errno;	/* the last WALK_DIR's */
	unsigned long	 prepared;	/* prepare() calls */
	int		 ready;		/* prepare() has returned */
	unsigned long	 known_early;	/* known() called before prepare() returned */
	int		 slow_prepare;	/* ms */
	int		 slow_report;	/* us per report */
	size_t		 queue;		/* walk_spec.queue */
	int		 odd_known;	/* known(): files whose name has an odd number */
};

static void
count(struct strmap *m, const char *key)
{
	long n = (long)(intptr_t)strmap_get(m, key);

	strmap_put(m, key, (void *)(intptr_t)(n + 1));	/* (the map copies keys) */
}

static void
on_prepare(void *arg)
{
	struct run *r = arg;
	struct timespec ts = { 0, r->slow_prepare * 1000000L };

	r->prepared++;
	nanosleep(&ts, NULL);
	__atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);
}

/* Known: the files named f<odd number>.fits, with size 1 (the test writes
 * one byte into each); called concurrently, so it only reads. */
static int
on_known(void *arg, const char *path, int64_t size, int64_t mtime_ns)
{
	struct run *r = arg;
	const char *base = strrchr(path, '/');
	long n;

	if (!__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE))
		__atomic_add_fetch(&r->known_early, 1, __ATOMIC_RELAXED);
	if (!r->odd_known || base == NULL || sscanf(base, "/f%ld.fits", &n) != 1)
		return 0;
	return n % 2 == 1 && size == 1 && mtime_ns > 0;
}

static void
on_report(void *arg, const struct walk_item *it)
{
	struct run *r = arg;

	if (it->kind == WALK_DIR) {
		r->dir_reports++;
		count(r->dirs, it->path);
		if (it->wd >= 0)
			r->watched++;
		if (it->watch_errno != 0)
			r->watch_failed++;
		r->read_errno = it->read_errno;
		return;
	}
	r->reported++;
	if (it->st == NULL || !S_ISREG(it->st->st_mode) || it->st->st_size != 1)
		r->bad_stat++;
	count(r->files, it->path);
	if (r->slow_report > 0)
		usleep((useconds_t)r->slow_report);
}

static void
put(const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, "x", 1) != 1)
		bail("cannot write %s: %s", path, strerror(errno));
	close(fd);
	free(path);
}

static void
make_tree(void)
{
	char rel[256];
	int i, j;

	if (mkdtemp(root) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	snprintf(rel, sizeof rel, "%s/flat", root);
	mkdir(rel, 0755);
	for (i = 0; i < FLAT; i++) {
		snprintf(rel, sizeof rel, "flat/f%d.fits", i);
		put(rel);
	}
	snprintf(rel, sizeof rel, "%s/tree", root);
	mkdir(rel, 0755);
	for (i = 0; i < DIRS; i++) {
		snprintf(rel, sizeof rel, "%s/tree/d%02d", root, i);
		mkdir(rel, 0755);
		snprintf(rel, sizeof rel, "%s/tree/d%02d/sub", root, i);
		mkdir(rel, 0755);
		for (j = 0; j < PER; j++) {
			snprintf(rel, sizeof rel, "tree/d%02d/%sf%d.fits", i, j % 5 == 0 ? "sub/" : "",
			    i * PER + j);
			put(rel);
		}
	}
	snprintf(rel, sizeof rel, "%s/tree/.hidden", root);
	mkdir(rel, 0755);
	put("tree/.hidden/f1000001.fits");		/* not entered */
	put("tree/.dotfile");				/* reported: the caller decides */
	snprintf(rel, sizeof rel, "%s/tree/link.fits", root);
	if (symlink("/etc/passwd", rel) != 0)		/* not followed */
		bail("symlink: %s", strerror(errno));
	snprintf(rel, sizeof rel, "%s/tree/fifo", root);
	if (mkfifo(rel, 0600) != 0)			/* not a regular file */
		bail("mkfifo: %s", strerror(errno));
}

#define ALL_FILES	(FLAT + DIRS * PER + 1)	/* + .dotfile */
#define ODD_FILES	(FLAT / 2 + DIRS * PER / 2)

/* Every file reported at most once. */
static void
once_each(const char *key, void *value, void *arg)
{
	if ((intptr_t)value != 1)
		(*(unsigned long *)arg)++;
}

static void
run_walk(struct run *r, unsigned threads, int watch, int inotify_fd)
{
	struct walk_root roots[2];
	struct walk_spec spec;
	char *flat = xasprintf("%s/flat", root), *tree = xasprintf("%s/tree", root);
	unsigned long known, twice = 0;

	roots[0].path = flat;
	roots[0].watch = watch;
	roots[1].path = tree;
	roots[1].watch = watch;
	memset(&spec, 0, sizeof spec);
	spec.roots = roots;
	spec.nroots = 2;
	spec.inotify_fd = inotify_fd;
	spec.mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR;
	spec.threads = threads;
	spec.prepare = on_prepare;
	spec.known = on_known;
	spec.report = on_report;
	spec.arg = r;
	spec.queue = r->queue;
	r->files = strmap_new();
	r->dirs = strmap_new();
	known = walk_run(&spec);
	strmap_each(r->files, once_each, &twice);
	is_int(r->odd_known ? ALL_FILES - ODD_FILES : ALL_FILES, (long long)r->reported,
	    "%u threads: every file not known is reported", threads);
	is_int(r->odd_known ? ODD_FILES : 0, (long long)known,
	    "%u threads: the known files are counted, not reported", threads);
	is_int(0, (long long)twice, "%u threads: no file is reported twice", threads);
	is_int(0, (long long)r->bad_stat, "%u threads: each report has the file's stat", threads);
	is_int(1, (long long)r->prepared, "%u threads: prepare() runs once", threads);
	is_int(0, (long long)r->known_early,
	    "%u threads: known() is never asked before prepare() returned", threads);
	free(flat);
	free(tree);
}

static void
run_free(struct run *r)
{
	strmap_free(r->files);
	strmap_free(r->dirs);
}

int
main(void)
{
	static const unsigned threads[] = { 0, 1, 4 };
	struct run r;
	char *p;
	size_t i;
	int fd;

	plan(6 * 5 + 13);
	make_tree();

	for (i = 0; i < sizeof threads / sizeof threads[0]; i++) {
		memset(&r, 0, sizeof r);
		r.odd_known = 1;
		r.slow_prepare = 50;	/* batches stat'ed meanwhile wait for it */
		run_walk(&r, threads[i], 0, -1);
		run_free(&r);
	}

	/* Nothing known, a caller slower than the walk and a queue of one
	 * result: the threads wait for the caller, and nothing is lost. */
	memset(&r, 0, sizeof r);
	r.slow_report = 20;
	r.queue = 1;
	run_walk(&r, 4, 0, -1);
	p = xasprintf("%s/tree/.dotfile", root);
	ok(strmap_get(r.files, p) != NULL, "a hidden file is reported");
	free(p);
	p = xasprintf("%s/tree/.hidden/f1000001.fits", root);
	ok(strmap_get(r.files, p) == NULL, "a hidden directory is not entered");
	free(p);
	p = xasprintf("%s/tree/link.fits", root);
	ok(strmap_get(r.files, p) == NULL, "a symbolic link is not followed");
	free(p);
	p = xasprintf("%s/tree/fifo", root);
	ok(strmap_get(r.files, p) == NULL, "a FIFO is not reported");
	free(p);
	is_int(0, (long long)r.dir_reports, "no directory is reported when none is watched");
	run_free(&r);

	/* Watched: each directory (2 roots, DIRS, their subdirectories) once,
	 * with a watch descriptor. */
	if ((fd = inotify_init1(IN_CLOEXEC)) < 0)
		bail("inotify_init1: %s", strerror(errno));
	memset(&r, 0, sizeof r);
	r.odd_known = 1;
	run_walk(&r, 2, 1, fd);
	is_int(2 + 2 * DIRS, (long long)r.dir_reports, "each directory is reported once");
	is_int(2 + 2 * DIRS, (long long)r.watched, "each with its watch");
	is_int(0, (long long)r.watch_failed, "and no watch failed");
	p = xasprintf("%s/tree/d07/sub", root);
	ok(strmap_get(r.dirs, p) != NULL, "a nested directory is among them");
	free(p);
	p = xasprintf("%s/tree/.hidden", root);
	ok(strmap_get(r.dirs, p) == NULL, "a hidden one is not");
	free(p);
	run_free(&r);
	close(fd);

	/* A root that cannot be read is reported with the reason. */
	{
		struct walk_root gone = { "/nonexistent/caom2ingest-walk", 0 };
		struct walk_spec spec;

		memset(&r, 0, sizeof r);
		r.files = strmap_new();
		r.dirs = strmap_new();
		memset(&spec, 0, sizeof spec);
		spec.roots = &gone;
		spec.nroots = 1;
		spec.inotify_fd = -1;
		spec.threads = 2;
		spec.report = on_report;
		spec.arg = &r;
		walk_run(&spec);
		is_int(1, (long long)r.dir_reports, "a missing root is reported");
		ok(strmap_get(r.dirs, gone.path) != NULL && r.reported == 0,
		    "as a directory, with nothing in it");
		is_int(ENOENT, r.read_errno, "and the reason it could not be read");
		run_free(&r);
	}

	p = xasprintf("rm -rf '%s'", root);
	if (system(p) != 0)
		diag("could not remove %s", root);
	free(p);
	return 0;
}
