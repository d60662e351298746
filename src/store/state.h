/*
 * state.h - the durable state store (SQLite in WAL mode, in the state
 * directory): every landed file and every observation, with status,
 * attempts, last error, next attempt and the checksum last pushed.
 *
 * A file is known by its path, size and mtime: an unchanged file is never
 * pushed again; a changed file sends its observation back to pending. An
 * observation that was running when the daemon died is pending again at the
 * next open. The schema is versioned (PRAGMA user_version) and migrated
 * forward at open; a newer schema than this build knows is refused.
 *
 * Each observation also has a life-cycle state (enum state_phase, finer
 * than its status) and a history of the states it went through, with
 * times, bounded to STATE_HISTORY_MAX entries per observation. The states
 * that change the status (classified, waiting, storing, done, retry,
 * failed) are written with it; the others (landed, settling, mapping,
 * pushing) and every history entry are kept in memory and written by
 * state_history_flush in one transaction, so that recording them costs the
 * pipeline little (no more than appending rows); a crash loses only the
 * entries not yet flushed.
 */
#ifndef CAOM2INGEST_STATE_H
#define CAOM2INGEST_STATE_H

#include <stddef.h>
#include <stdint.h>

struct state;

enum state_status {
	STATE_PENDING,		/* waiting to be (re)mapped and pushed */
	STATE_RUNNING,		/* a job is working on it */
	STATE_RETRY,		/* failed transiently; next_attempt says when */
	STATE_DONE,		/* pushed */
	STATE_FAILED,		/* failed permanently; parked until a change or an operator */
	STATE_UNMATCHED		/* files only: no naming rule matched */
};

enum state_change {
	STATE_NEW,		/* never seen */
	STATE_CHANGED,		/* seen with another size or mtime */
	STATE_UNCHANGED		/* seen as it is */
};

/*
 * The life cycle of an observation: its files land and settle, a naming rule
 * classifies them (the observation is queued), it may wait for the rest of
 * its group, then each attempt stores it (its files are read and
 * checksummed), maps it and pushes it to the sink; then done, retry (at
 * a time) or failed (with the reason). Each state belongs to one status.
 */
enum state_phase {
	STATE_PHASE_LANDED,	/* a file of it was noticed (pending) */
	STATE_PHASE_SETTLING,	/* that file waits for its quiet period (pending) */
	STATE_PHASE_CLASSIFIED,	/* a rule assigned the file; queued (pending) */
	STATE_PHASE_WAITING,	/* for the rest of its group, until a deadline (pending) */
	STATE_PHASE_STORING,	/* an attempt started: its files are read (running) */
	STATE_PHASE_MAPPING,	/* the CAOM-2 observation is built (running) */
	STATE_PHASE_PUSHING,	/* and sent to the sink (running) */
	STATE_PHASE_DONE,	/* stored (done) */
	STATE_PHASE_RETRY,	/* failed transiently, next attempt at a time (retry) */
	STATE_PHASE_FAILED,	/* failed for good, with the reason (failed) */
	STATE_NPHASES
};

/* History entries kept per observation: the older ones are deleted when an attempt ends
 * (done, retry, failed), and never read. */
#define STATE_HISTORY_MAX	64

/* One entry of an observation's history. */
struct state_event {
	int64_t		 at_ms;		/* wall clock */
	enum state_phase phase;
	char		*detail;	/* the file, the attempt, the error...; or NULL */
	int64_t		 until_ms;	/* retry: the next attempt; waiting: the deadline; or 0 */
};

/* What storage holds of a file (the stored table): what was stored, where. */
enum state_storage {
	STATE_STORE_NONE,	/* never stored */
	STATE_STORE_STORING,	/* a put began (its progress kept), not known to have ended */
	STATE_STORE_STORED	/* stored: target, MD5, size, type */
};

struct state_stored {
	enum state_storage status;
	char		*target;	/* storage_target(): "si:URL", "s3://B/P", "directory:D" */
	char		*md5;		/* "md5:<hex>" */
	int64_t		 size;
	char		*type;
	int64_t		 mtime_ns;	/* of the file when it was stored */
	char		*progress;	/* a resumable put's, or NULL */
};

struct state_file {
	char		*path;
	int64_t		 size;
	int64_t		 mtime_ns;
	char		*collection;	/* NULL until classified */
	char		*observation;
	char		*product;
	char		*uri;
	char		*blueprint;
	enum state_status status;
	int64_t		 landed_ms;	/* state_file_assign: when it landed (0: now) */
	struct state_stored stored;	/* state_obs_files fills it */
};

struct state_obs {
	char		*collection;
	char		*observation;
	enum state_status status;
	int		 attempts;
	char		*last_error;
	int64_t		 next_attempt_ms;	/* wall clock, 0: none */
	char		*pushed_checksum;	/* accMetaChecksum last pushed, or NULL */
	enum state_phase phase;			/* life-cycle state */
	int64_t		 phase_ms;		/* since when */
	int64_t		 landed_ms;		/* the first file of this round landed */
};

/* Counts by status, for files and observations. */
struct state_counts {
	long		files[STATE_UNMATCHED + 1];
	long		obs[STATE_UNMATCHED + 1];
	long		storage[STATE_STORE_STORED + 1];	/* NONE: files of unfinished
					 * observations not stored as they are, nor storing */
};

#define STATE_SCHEMA_VERSION	4

/* Open (creating or migrating) DIR/state.db; NULL with *cause. */
struct state *state_open(const char *dir, char **cause);
/* Open DIR/state.db, made by a writer of this schema version, for reading only (on
 * another thread than the writer's: the reports of the status page); NULL with *cause. */
struct state *state_open_readonly(const char *dir, char **cause);
/* Close; NULL is accepted. */
void state_close(struct state *st);
/* The name of a status ("pending", ...). */
const char *state_status_name(enum state_status s);
/* Parse a status name; 0 or -1. */
int state_status_from_name(const char *name, enum state_status *s);
/* The name of a life-cycle state ("landed", ..., "done", "retry", "failed"). */
const char *state_phase_name(enum state_phase p);
/* Parse a life-cycle state name; 0 or -1. */
int state_phase_from_name(const char *name, enum state_phase *p);
/* The status a life-cycle state belongs to. */
enum state_status state_phase_status(enum state_phase p);
/* Write statements run so far: a change of this number means the store changed. */
uint64_t state_writes(const struct state *st);

/*
 * Known files, for a scan: an immutable snapshot of (path, size, mtime) of
 * the files recorded under directory dir (NULL: all), read in one pass. Lookups
 * may run on several threads at once. Paths are kept as 64-bit hashes, and
 * size and mtime as a 64-bit mix of both: a changed file would be taken as
 * known only if two such 64-bit values collided.
 */
struct state_known;
/* NULL with *cause on failure. */
struct state_known *state_known_load(struct state *st, const char *dir, char **cause);
/* Nonzero when path is recorded with this size and mtime. */
int state_known_has(const struct state_known *k, const char *path, int64_t size,
    int64_t mtime_ns);
/* NULL is accepted. */
void state_known_free(struct state_known *k);

/* A complete file was seen: is it new, changed or unchanged, and its status. 0 or -1. */
int state_file_seen(struct state *st, const char *path, int64_t size, int64_t mtime_ns,
    enum state_change *change, enum state_status *status, char **cause);
/* Record a classified file (pending) and send its observation to pending. 0 or -1. */
int state_file_assign(struct state *st, const struct state_file *f, char **cause);
/* Record a file that matched no rule (reported once). 0 or -1. */
int state_file_unmatched(struct state *st, const char *path, int64_t size, int64_t mtime_ns,
    char **cause);
/* The files of an observation; *files is an array of *n (state_files_free). 0 or -1. */
int state_obs_files(struct state *st, const char *collection, const char *observation,
    struct state_file **files, size_t *n, char **cause);
/* Free what state_obs_files returned. */
void state_files_free(struct state_file *files, size_t n);

/* A pending observation waits for the rest of its files until until_ms
 * (kept as its next_attempt, so that a restart waits too). 0 or -1. */
int state_obs_hold(struct state *st, const char *collection, const char *observation,
    int64_t until_ms, char **cause);
/* Look up an observation; 0 found, 1 unknown, -1 error. */
int state_obs_get(struct state *st, const char *collection, const char *observation,
    struct state_obs *out, char **cause);
/* Free the strings of an observation record. */
void state_obs_clear(struct state_obs *o);
/* Mark an observation running (one more attempt). 0 or -1. */
int state_obs_running(struct state *st, const char *collection, const char *observation,
    char **cause);
/* Mark an observation and its files done, with the checksum pushed; *landed_ms (when not
 * NULL) is when its first file of this round landed. 0 or -1. */
int state_obs_done(struct state *st, const char *collection, const char *observation,
    const char *checksum, int64_t *landed_ms, char **cause);
/* Mark an observation failed: retry at next_attempt_ms, or parked when 0. 0 or -1. */
int state_obs_failed(struct state *st, const char *collection, const char *observation,
    const char *error, int64_t next_attempt_ms, char **cause);
/* Send an observation back to pending (operator re-ingest); force also forgets the
 * checksum last pushed, so the next push writes even an unchanged document. 0, 1 unknown, -1. */
int state_obs_requeue(struct state *st, const char *collection, const char *observation,
    int force, char **cause);
/* The collection and observation of a known file (allocated): 0, 1 unknown or unmatched, -1. */
int state_file_observation(struct state *st, const char *path, char **collection,
    char **observation, char **cause);
/* Call fn for every observation in status s (oldest first). 0 or -1. */
int state_obs_each(struct state *st, enum state_status s,
    void (*fn)(void *arg, const struct state_obs *o), void *arg, char **cause);
/* Call fn for observations, newest first, filtered by status (NULL: any) and collection (NULL: any), at most limit. 0 or -1. */
int state_obs_list(struct state *st, const enum state_status *status, const char *collection,
    long limit, void (*fn)(void *arg, const struct state_obs *o), void *arg, char **cause);
/* As state_obs_list, filtered by life-cycle state instead of status. 0 or -1. */
int state_obs_list_phase(struct state *st, enum state_phase phase, const char *collection,
    long limit, void (*fn)(void *arg, const struct state_obs *o), void *arg, char **cause);
/* Counts by status. 0 or -1. */
int state_get_counts(struct state *st, struct state_counts *c, char **cause);

/* Record a life-cycle event of an observation the store holds (kept until
 * state_history_flush; detail may be NULL). The observation takes that state unless
 * its status moved on meanwhile. */
void state_history_add(struct state *st, const char *collection, const char *observation,
    enum state_phase phase, int64_t at_ms, const char *detail, int64_t until_ms);
/* Events recorded and not yet flushed. */
size_t state_history_pending(const struct state *st);
/* Have fn(arg) called when the first event waits to be flushed (NULL: nobody). */
void state_history_notify(struct state *st, void (*fn)(void *arg), void *arg);
/* Write the recorded events in one transaction, pruning each observation's history
 * to STATE_HISTORY_MAX. 0, or -1 with *cause (the events are dropped). */
int state_history_flush(struct state *st, char **cause);
/* An observation's history as flushed, oldest first (*ev: state_events_free). 0 or -1. */
int state_history_get(struct state *st, const char *collection, const char *observation,
    struct state_event **ev, size_t *n, char **cause);
/* Free what state_history_get returned. */
void state_events_free(struct state_event *ev, size_t n);

/*
 * What the status page and the metrics report of the store, read in one go
 * (on a reader, off the loop): counts by status, observations by
 * collection and life-cycle state (a pass over the table: about 100 ms at
 * 100,000 observations), each collection's last success and stalest
 * unfinished observation, the oldest unfinished observations and the
 * latest failures (these through the index by status and time of change).
 */
struct state_census_group {
	char		*collection;
	long		 n[STATE_NPHASES];
	int64_t		 oldest_landed_ms;	/* the landing of the unfinished observation
						 * changed least recently; 0: none */
	int64_t		 last_done_ms;		/* the latest stored; 0: none */
};

struct state_census {
	struct state_counts	 counts;
	long			 objects[STATE_UNMATCHED + 1];
	struct state_census_group *groups;	/* by collection name */
	size_t			 ngroups;
	struct state_obs	*oldest;	/* pending, running, retry: oldest first */
	size_t			 noldest;
	struct state_obs	*failures;	/* failed and retry: newest first */
	size_t			 nfailures;
};

/* Fill *c, listing up to nlist oldest and failed observations. 0 or -1 (*c empty). */
int state_census(struct state *st, size_t nlist, struct state_census *c, char **cause);
/* Free what state_census filled; a zeroed census is accepted. */
void state_census_clear(struct state_census *c);

/*
 * An object announced by a storage notification (bucket and key; for a
 * direct announcement the bucket is "" and the key its URL), from the
 * event until it is fetched into the spool: pending, running (fetching),
 * retry, done (fetched), failed. The rest of its way is the landed file's.
 */
struct state_object {
	char		*collection;
	char		*bucket;
	char		*key;
	char		*url;		/* s3://, https://, http://, file:// */
	char		*version;	/* versionId, or NULL */
	char		*etag;		/* or NULL */
	int64_t		 size;		/* -1: unknown */
	char		*sequencer;	/* of the newest event, or NULL */
	enum state_status status;
	int		 attempts;
	char		*last_error;
	int64_t		 next_attempt_ms;
};

/* Look up an object: 0 found (state_object_clear *out), 1 unknown, -1 error. */
int state_object_get(struct state *st, const char *collection, const char *bucket,
    const char *key, struct state_object *out, char **cause);
/* Record a version of an object to fetch (pending; attempts and error reset). 0 or -1. */
int state_object_put(struct state *st, const struct state_object *o, char **cause);
/* Set an object's status (running counts an attempt), error and next attempt. 0 or -1. */
int state_object_set(struct state *st, const char *collection, const char *bucket,
    const char *key, enum state_status status, const char *error, int64_t next_attempt_ms,
    char **cause);
/* Call fn for every object in status s, oldest first (fn may write). 0 or -1. */
int state_object_each(struct state *st, enum state_status s,
    void (*fn)(void *arg, const struct state_object *o), void *arg, char **cause);
/* Objects by status. 0 or -1. */
int state_object_counts(struct state *st, long counts[STATE_UNMATCHED + 1], char **cause);
/* Free the strings of an object record. */
void state_object_clear(struct state_object *o);

/*
 * Files in storage, before their observation may be pushed: a put begins
 * (storing), may keep a resumable upload's progress, and ends stored with
 * the target, MD5, size and type that the pushed artifact then carries.
 * Each call is one committed statement (WAL): stored is durable before it
 * returns.
 */
/* A put of the file as md5, size, type to target begins. The progress of an
 * earlier put of the same bytes to the same target is kept (it resumes);
 * otherwise it is forgotten. 0 or -1. */
int state_stored_begin(struct state *st, const char *path, const char *uri,
    const char *target, const char *md5, int64_t size, const char *type, int64_t mtime_ns,
    char **cause);
/* The put's progress (NULL: nothing to resume). 0 or -1. */
int state_stored_progress(struct state *st, const char *path, const char *progress,
    char **cause);
/* The put failed for good: nothing is recorded of it (nor of an earlier version). 0 or -1. */
int state_stored_forget(struct state *st, const char *path, char **cause);
/* The put ended: the file is stored as it began. 0 or -1. */
int state_stored_done(struct state *st, const char *path, char **cause);
/* What storage holds of path: 0 found (state_stored_clear *out), 1 none, -1 error. */
int state_stored_get(struct state *st, const char *path, struct state_stored *out,
    char **cause);
/* Free the strings of a stored record. */
void state_stored_clear(struct state_stored *s);

/*
 * Group the statements that follow into one transaction until the matching
 * state_batch(st, 0) (begin != 0 opens, 0 commits; nests). For bursts such
 * as a scan's lookups: a crash before the commit loses only what a rescan
 * finds again. 0, or -1 with *cause (the statements then run in autocommit).
 */
int state_batch(struct state *st, int begin, char **cause);
/* End the outermost batch without committing it (inside another batch: as state_batch(st, 0)). */
void state_batch_abort(struct state *st);

#endif
