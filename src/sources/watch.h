/*
 * watch.h - landing directory trees: inotify events and rescans, reported
 * as file events.
 *
 * Each root is watched recursively (a watch on every directory; a new
 * directory gets its watch first and is then scanned, so nothing created in
 * between is missed). Correctness comes from rescans: a full rescan at
 * start-up, on IN_Q_OVERFLOW, on request and every rescan interval; inotify
 * only cuts latency. Roots on filesystems without inotify (poll mode), or
 * roots that hit the inotify watch limit, are rescanned every poll interval
 * instead. Directories whose names start with '.' are not entered. Only
 * regular files are reported; what to make of a name is for the caller.
 * Scans run on a few threads (walk.c) while the loop's thread waits, and
 * leave out the files the caller says it has as they are.
 */
#ifndef CAOM2INGEST_WATCH_H
#define CAOM2INGEST_WATCH_H

#include <stdint.h>

struct ev_loop;
struct stat;
struct watch;

enum watch_event {
	WATCH_WRITTEN,		/* closed after writing (IN_CLOSE_WRITE) */
	WATCH_MOVED_IN,		/* renamed into the tree (IN_MOVED_TO): complete */
	WATCH_FOUND,		/* seen by a scan */
	WATCH_SCAN_BEGIN,	/* a scan starts (path: NULL for a full rescan, else the
				 * polled tree)... */
	WATCH_SCAN_END		/* ...and ends: its WATCH_FOUNDs are in between */
};

/* Called for every file event with the file's full path; st is the file's
 * lstat for WATCH_FOUND (the scan has it), NULL for the other events. */
typedef void watch_cb(void *arg, enum watch_event ev, const char *path, const struct stat *st);

struct watch_stats {
	unsigned long	dirs;		/* directories with an inotify watch */
	unsigned long	events;		/* file events reported */
	unsigned long	rescans;	/* full rescans done */
	unsigned long	overflows;	/* IN_Q_OVERFLOW seen */
};

/* Called on the loop's thread after SCAN_BEGIN while the scan's threads
 * start (scope: the event's path); known() is only called once it returned. */
typedef void watch_prepare_fn(void *arg, const char *scope);
/* Called during a scan, on the scan's threads (concurrently, while the loop's
 * thread waits): nonzero when the caller already has the file at path with
 * this size and mtime. Such a file is not reported; watch_scan_known counts
 * them. */
typedef int watch_known_fn(void *arg, const char *path, int64_t size, int64_t mtime_ns);

/* A watcher on loop; cb gets every event. NULL with *cause on failure. */
struct watch *watch_new(struct ev_loop *loop, watch_cb *cb, void *arg, char **cause);
/* Stop watching and free; NULL is accepted. */
void watch_free(struct watch *w);
/* Watch the tree at path (poll: no inotify); 0, or -1 with *cause. No scan is done. */
int watch_add_root(struct watch *w, const char *path, int poll, char **cause);
/* Scan every root now, reporting each file as WATCH_FOUND. */
void watch_rescan(struct watch *w);
/* Scan on threads threads (0: on the loop's thread), leaving out the files
 * known() recognises (NULL: none). Rescans and polls; a new directory is
 * read on the loop's thread and reported whole. */
void watch_set_scan(struct watch *w, unsigned threads, watch_prepare_fn *prepare,
    watch_known_fn *known);
/* How many files the last scan left out as known. */
unsigned long watch_scan_known(const struct watch *w);
/* How many of them the last scan of root (0 for the first added) left out. */
unsigned long watch_scan_known_root(const struct watch *w, unsigned root);
/* Rescan everything every ms milliseconds (0: never), and poll roots every poll_ms. */
void watch_set_intervals(struct watch *w, uint64_t rescan_ms, uint64_t poll_ms);
/* Counters. */
void watch_get_stats(const struct watch *w, struct watch_stats *st);

#endif
