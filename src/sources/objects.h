/*
 * objects.h - storage notifications as a source: objects announced by S3
 * bucket events (webhook or AMQP), by direct announcements on a queue, or
 * found by listing a bucket, fetched into the spool, from where the landed
 * file's way (settle -> classify -> ...) takes them.
 *
 * Every event is recorded in the state store before it is acknowledged.
 * Objects are known by (collection, bucket, key): a repeated event for the
 * same version (versionId, else ETag) is a no-op, an event with an older
 * sequencer than the newest seen never overrides it, a new version is
 * fetched again. A fetch writes SPOOL/COLLECTION/BUCKET/KEY (for an
 * announced URL, SPOOL/COLLECTION/HOST/PATH) under a temporary name and
 * renames it into place; a key that would leave the spool ("..", ".",
 * an absolute path, control characters, a hidden last name) is refused
 * and recorded as failed. Fetches run as jobs: one per object at a time,
 * s3.concurrency at once, transient failures retried with backoff.
 */
#ifndef CAOM2INGEST_OBJECTS_H
#define CAOM2INGEST_OBJECTS_H

#include <stddef.h>

#include "store/state.h"

struct conf;
struct ev_loop;
struct objects;

/* What one notification did. */
struct objects_tally {
	unsigned	 queued;	/* new objects or new versions, to fetch */
	unsigned	 duplicate;	/* versions already known */
	unsigned	 stale;		/* older than the newest event seen */
	unsigned	 ignored;	/* removals, other events, buckets of no collection */
	unsigned	 refused;	/* unsafe keys, recorded as failed */
};

/* The source for cfg (NULL when cfg has no bucket or queue and no webhook); creates the
 * spool directories, the S3 client, the webhook (its token from a secret file,
 * lib/fileio.h) and the queue consumers. NULL with *cause on error; *cause NULL when
 * there is nothing to do. */
struct objects *objects_new(struct ev_loop *loop, const struct conf *cfg, struct state *st,
    char **cause);
/* The spool directory of a collection (NULL when it has no bucket or queue). */
const char *objects_spool(const struct objects *o, const char *collection);
/* Queue the objects left pending or waiting for a retry, and list every bucket. */
void objects_start(struct objects *o);
/* Record one notification body (S3 event JSON or an announcement; default_collection for
 * an announcement without one): 0 recorded, 1 malformed, -1 not recordable now; *cause. */
int objects_notify(struct objects *o, const char *body, size_t len,
    const char *default_collection, struct objects_tally *t, char **cause);
/* List every bucket now (objects whose events were lost) and retry failed fetches. */
void objects_reconcile(struct objects *o);
/* Counts of objects by status, from the state store. 0 or -1. */
int objects_counts(struct objects *o, long counts[STATE_UNMATCHED + 1]);
/* Fetches queued, running and waiting for a retry; listings running. */
void objects_busy(const struct objects *o, unsigned *queued, unsigned *running,
    unsigned *waiting, unsigned *listing);
/* The webhook's port (0: none), for tests that listen on port 0. */
int objects_webhook_port(const struct objects *o);
/* Stop everything and free; NULL is accepted. */
void objects_free(struct objects *o);

#endif
