/*
 * ingest.h - the back half of the pipeline: for each observation, one job
 * (jobs.c) stores its files first when storage is configured (filestore.h),
 * builds the CAOM-2 observation from its files and stores it in the
 * sink (the repository through repo.c, else the directory sink), then
 * records the outcome in the state store and disposes of the files
 * (on_success / on_failure).
 *
 * The observation is built from the naming rules' results and the files'
 * bytes: one plane per product, one artifact per file with its URI, content
 * length, MD5 checksum and content type, merged into what the sink already
 * holds (other planes and artifacts are kept). A file whose rule names a
 * blueprint (or legacy fits2caom2 files) is mapped with it: its headers
 * (FITS files and header dumps) and its blueprint are read on a worker
 * thread (work.h), then map_augment (caom/map.h) fills the observation,
 * plane, artifact and chunks on the loop; a mapping error fails the
 * observation for good, a warning is logged. An observation whose
 * accMetaChecksum did not change is not written again.
 */
#ifndef CAOM2INGEST_INGEST_H
#define CAOM2INGEST_INGEST_H

#include "store/state.h"

struct conf_legacy;

struct conf;
struct ev_loop;
struct ingest;

/* Told when an attempt at an observation starts and how it ended
 * (STATE_DONE, STATE_RETRY, or STATE_FAILED for good, with the error). */
struct ingest_observer {
	void	(*started)(void *arg, const char *collection, const char *observation);
	void	(*ended)(void *arg, const char *collection, const char *observation,
		    enum state_status status, const char *error);
	void	 *arg;
};

/* The stage for cfg on loop, recording into st; NULL with *cause. */
struct ingest *ingest_new(struct ev_loop *loop, const struct conf *cfg, struct state *st,
    char **cause);
/* Free; NULL is accepted. */
void ingest_free(struct ingest *in);
/* Report the start and end of every attempt to o (copied; NULL: nobody). */
void ingest_observe(struct ingest *in, const struct ingest_observer *o);
/* Queue one observation (again). */
void ingest_submit(struct ingest *in, const char *collection, const char *observation);
/* Queue what the state store holds as pending or waiting for a retry (start-up). */
void ingest_resume(struct ingest *in);
/* Pause or resume a collection (NULL: all): no new jobs start; running ones finish. */
void ingest_pause(struct ingest *in, const char *collection, int paused);
/* True when the collection (NULL: everything) is paused. */
int ingest_paused(const struct ingest *in, const char *collection);
/* Jobs queued, running and waiting for a retry. */
void ingest_counts(const struct ingest *in, unsigned *queued, unsigned *running,
    unsigned *waiting);

#endif
