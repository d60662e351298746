/*
 * work.h - a few worker threads for blocking file work (reading and
 * checksumming files), so that the event loop never waits on a disk.
 *
 * work_submit() hands fn(arg) to a worker; when it has returned, done(arg)
 * is called on the loop's thread (through an ev_async). fn must not touch
 * the loop or anything the loop thread uses without a lock; done may.
 */
#ifndef CAOM2INGEST_WORK_H
#define CAOM2INGEST_WORK_H

struct ev_loop;
struct work;

typedef void work_fn(void *arg);

/* A pool of nthreads workers on loop; NULL with *cause when a thread cannot start. */
struct work *work_new(struct ev_loop *loop, unsigned nthreads, char **cause);
/* Run fn(arg) on a worker, then done(arg) on the loop. */
void work_submit(struct work *w, work_fn *fn, work_fn *done, void *arg);
/* Wait for the workers to finish what they run, stop them and free; for
 * each task not yet reported, discard(arg) is called instead of its done
 * (discard may be NULL). NULL is accepted. */
void work_free(struct work *w, work_fn *discard);

#endif
