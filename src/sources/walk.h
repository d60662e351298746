/*
 * walk.h - a parallel walk of directory trees, for the watcher's scans.
 *
 * A scan must stat every file to notice one modified while nobody watched,
 * and on a large tree those stat calls cost most of the time (on a two-core
 * machine with 100,000 files on tmpfs: about 1 us each, three times what
 * reading the names costs). walk_run spreads the directories, and the names
 * of a large directory in batches, over a few threads. Each thread stats
 * names relative to their directory's descriptor and asks known() whether
 * the caller already has that file as it is; what is not known is handed to
 * report() on the calling thread, in chunks, while the threads go on. The
 * caller's prepare() (reading what it knows) runs on the calling thread
 * while the threads start walking: names stat'ed before it is done wait in
 * their batches, size and mtime noted, to be checked once it is.
 *
 * Directories whose names start with '.' are not entered; symbolic links
 * are not followed; only directories and regular files are reported.
 */
#ifndef CAOM2INGEST_WALK_H
#define CAOM2INGEST_WALK_H

#include <stddef.h>
#include <stdint.h>

struct stat;

enum walk_kind {
	WALK_DIR,		/* a directory: its watch, or why it was not read */
	WALK_FILE		/* a regular file known() did not recognise */
};

struct walk_item {
	enum walk_kind		 kind;
	const char		*path;		/* root path + "/" + relative path */
	size_t			 root;		/* index into walk_spec.roots */
	int			 wd;		/* WALK_DIR: watch descriptor, or -1 */
	int			 watch_errno;	/* WALK_DIR: inotify_add_watch's errno, or 0 */
	int			 read_errno;	/* WALK_DIR: opendir's errno, or 0 */
	const struct stat	*st;		/* WALK_FILE: its lstat */
};

struct walk_root {
	const char		*path;
	int			 watch;		/* add an inotify watch on each directory */
};

/* Called on the calling thread once the walk's threads have started;
 * known() is called only after it has returned. */
typedef void walk_prepare_fn(void *arg);
/* Called on the walk's threads, concurrently: nonzero when the caller
 * already has the file at path with this size and mtime (it is then not
 * reported). */
typedef int walk_known_fn(void *arg, const char *path, int64_t size, int64_t mtime_ns);
/* Called on walk_run's thread, one item at a time. A WALK_DIR item comes for
 * each directory of a watched root, and for any directory that could not be
 * read; the watch is added before the directory is read, so nothing created
 * in between is missed. */
typedef void walk_report_fn(void *arg, const struct walk_item *item);

struct walk_spec {
	const struct walk_root	*roots;
	size_t			 nroots;
	int			 inotify_fd;	/* for roots with watch set */
	uint32_t		 mask;		/* their inotify mask */
	unsigned		 threads;	/* 0: walk on the calling thread */
	walk_prepare_fn		*prepare;	/* or NULL */
	walk_known_fn		*known;		/* NULL: every file is reported */
	walk_report_fn		*report;
	void			*arg;		/* for known and report */
	unsigned long		*known_by_root;	/* or NULL: nroots counts, added to */
	size_t			 queue;		/* results held for report() before
						 * the threads wait; 0: 16384 */
};

/* Walk every root (each an existing directory); returns how many regular
 * files known() recognised. */
unsigned long walk_run(const struct walk_spec *spec);

#endif
