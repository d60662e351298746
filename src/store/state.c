/*
 * state.c - the durable state store in SQLite.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <sqlite3.h>

#include "store/state.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

/* Schema migrations: entry N brings user_version N to N + 1. */
static const char *const state_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE files ("
	"  path TEXT PRIMARY KEY,"
	"  size INTEGER NOT NULL,"
	"  mtime_ns INTEGER NOT NULL,"
	"  collection TEXT, observation TEXT, product TEXT, uri TEXT, blueprint TEXT,"
	"  status TEXT NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX files_by_obs ON files(collection, observation);"
	"CREATE TABLE observations ("
	"  collection TEXT NOT NULL,"
	"  observation TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  next_attempt INTEGER NOT NULL DEFAULT 0,"
	"  pushed_checksum TEXT,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (collection, observation));"
	"CREATE INDEX observations_by_status ON observations(status, updated);",
	/* 1 -> 2: objects announced by storage notifications, until fetched */
	"CREATE TABLE objects ("
	"  collection TEXT NOT NULL,"
	"  bucket TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  url TEXT NOT NULL,"
	"  version TEXT, etag TEXT,"
	"  size INTEGER NOT NULL DEFAULT -1,"
	"  sequencer TEXT,"
	"  status TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  next_attempt INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (collection, bucket, key));"
	"CREATE INDEX objects_by_status ON objects(status, updated);",
	/* 2 -> 3: each observation's life-cycle state and history (in the order of its
	 * rowids; no per-observation sequence to keep: appending costs least) */
	"ALTER TABLE observations ADD COLUMN phase TEXT NOT NULL DEFAULT 'classified';"
	"ALTER TABLE observations ADD COLUMN phase_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE observations ADD COLUMN landed_ms INTEGER NOT NULL DEFAULT 0;"
	"UPDATE observations SET phase = CASE status WHEN 'running' THEN 'storing'"
	"  WHEN 'retry' THEN 'retry' WHEN 'done' THEN 'done' WHEN 'failed' THEN 'failed'"
	"  ELSE CASE WHEN next_attempt > 0 THEN 'waiting' ELSE 'classified' END END,"
	"  phase_ms = updated, landed_ms = updated;"
	"CREATE TABLE history ("
	"  collection TEXT NOT NULL,"
	"  observation TEXT NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  phase TEXT NOT NULL,"
	"  detail TEXT,"
	"  until_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX history_by_obs ON history(collection, observation)",
	/* 3 -> 4: files in storage (target, MD5, size, type), before their push */
	"CREATE TABLE stored ("
	"  path TEXT PRIMARY KEY,"
	"  uri TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  md5 TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  type TEXT,"
	"  mtime_ns INTEGER NOT NULL DEFAULT 0,"
	"  progress TEXT,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX stored_by_status ON stored(status)",
};

/* The columns of an observation row, in state_row_obs's order. */
#define STATE_OBS_COLS "collection, observation, status, attempts, last_error," \
	" next_attempt, pushed_checksum, phase, phase_ms, landed_ms"

enum state_stmt {
	ST_FILE_GET,
	ST_FILE_PUT,
	ST_FILE_UNMATCHED,
	ST_FILE_OBS,
	ST_OBS_FILES,
	ST_OBS_GET,
	ST_OBS_PENDING,
	ST_OBS_SET,
	ST_OBS_DONE,
	ST_OBS_FILES_DONE,
	ST_OBS_FAILED,
	ST_OBS_REQUEUE,
	ST_OBS_EACH,
	ST_OBS_LIST,
	ST_COUNT_FILES,
	ST_COUNT_OBS,
	ST_OBS_HOLD,
	ST_OBJ_GET,
	ST_OBJ_PUT,
	ST_OBJ_SET,
	ST_OBJ_EACH,
	ST_COUNT_OBJ,
	ST_OBS_LIST_PHASE,
	ST_HIST_PHASE,
	ST_HIST_ADD,
	ST_HIST_PRUNE,
	ST_HIST_GET,
	ST_CENSUS,
	ST_OBS_OLDEST,
	ST_OBS_NEWEST,
	ST_COLL_STALEST,
	ST_COLL_LAST_DONE,
	ST_STORED_BEGIN,
	ST_STORED_PROGRESS,
	ST_STORED_DONE,
	ST_STORED_GET,
	ST_COUNT_STORED,
	ST_COUNT_UNSTORED,
	ST_STORED_FORGET,
	ST_NSTMT
};

static const char *const state_sql[ST_NSTMT] = {
	[ST_FILE_GET] = "SELECT size, mtime_ns, status FROM files WHERE path = ?1",
	[ST_FILE_PUT] = "INSERT INTO files (path, size, mtime_ns, collection, observation,"
	    " product, uri, blueprint, status, updated)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)"
	    " ON CONFLICT(path) DO UPDATE SET size = ?2, mtime_ns = ?3, collection = ?4,"
	    " observation = ?5, product = ?6, uri = ?7, blueprint = ?8, status = 'pending',"
	    " updated = ?9",
	[ST_FILE_UNMATCHED] = "INSERT INTO files (path, size, mtime_ns, status, updated)"
	    " VALUES (?1, ?2, ?3, 'unmatched', ?4)"
	    " ON CONFLICT(path) DO UPDATE SET size = ?2, mtime_ns = ?3, collection = NULL,"
	    " observation = NULL, product = NULL, uri = NULL, blueprint = NULL,"
	    " status = 'unmatched', updated = ?4",
	[ST_FILE_OBS] = "SELECT collection, observation FROM files WHERE path = ?1"
	    " AND collection IS NOT NULL",
	[ST_OBS_FILES] = "SELECT f.path, f.size, f.mtime_ns, f.collection, f.observation,"
	    " f.product, f.uri, f.blueprint, f.status, s.status, s.target, s.md5, s.size, s.type,"
	    " s.mtime_ns, s.progress FROM files f LEFT JOIN stored s ON s.path = f.path"
	    " WHERE f.collection = ?1 AND f.observation = ?2 ORDER BY f.path",
	[ST_OBS_GET] = "SELECT " STATE_OBS_COLS " FROM observations"
	    " WHERE collection = ?1 AND observation = ?2",
	/* a new round (after done or failed) lands with this file */
	[ST_OBS_PENDING] = "INSERT INTO observations (collection, observation, status, updated,"
	    " phase, phase_ms, landed_ms) VALUES (?1, ?2, 'pending', ?3, 'classified', ?3, ?4)"
	    " ON CONFLICT(collection, observation) DO UPDATE"
	    " SET status = 'pending', attempts = 0, last_error = NULL, next_attempt = 0,"
	    " updated = ?3, phase = 'classified', phase_ms = ?3,"
	    " landed_ms = CASE WHEN status IN ('done', 'failed') OR landed_ms = 0 THEN ?4"
	    " ELSE landed_ms END",
	[ST_OBS_SET] = "UPDATE observations SET status = 'running', attempts = attempts + 1,"
	    " updated = ?3, phase = 'storing', phase_ms = ?3"
	    " WHERE collection = ?1 AND observation = ?2",
	[ST_OBS_DONE] = "UPDATE observations SET status = 'done', last_error = NULL,"
	    " next_attempt = 0, pushed_checksum = ?3, updated = ?4, phase = 'done',"
	    " phase_ms = ?4 WHERE collection = ?1 AND observation = ?2 RETURNING landed_ms",
	[ST_OBS_FILES_DONE] = "UPDATE files SET status = 'done', updated = ?3"
	    " WHERE collection = ?1 AND observation = ?2",
	[ST_OBS_FAILED] = "UPDATE observations SET status = CASE WHEN ?4 > 0 THEN 'retry'"
	    " ELSE 'failed' END, last_error = ?3, next_attempt = ?4, updated = ?5,"
	    " phase = CASE WHEN ?4 > 0 THEN 'retry' ELSE 'failed' END, phase_ms = ?5"
	    " WHERE collection = ?1 AND observation = ?2",
	/* an operator's re-ingest starts a new round */
	[ST_OBS_REQUEUE] = "UPDATE observations SET status = 'pending', attempts = 0,"
	    " last_error = NULL, next_attempt = 0, updated = ?3,"
	    " pushed_checksum = CASE WHEN ?4 THEN NULL ELSE pushed_checksum END,"
	    " phase = 'classified', phase_ms = ?3, landed_ms = ?3"
	    " WHERE collection = ?1 AND observation = ?2",
	[ST_OBS_EACH] = "SELECT " STATE_OBS_COLS " FROM observations WHERE status = ?1"
	    " ORDER BY updated",
	[ST_OBS_LIST] = "SELECT " STATE_OBS_COLS " FROM observations"
	    " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR collection = ?2)"
	    " ORDER BY updated DESC, collection, observation LIMIT ?3",
	[ST_COUNT_FILES] = "SELECT status, count(*) FROM files GROUP BY status",
	[ST_COUNT_OBS] = "SELECT status, count(*) FROM observations GROUP BY status",
	/* a pending observation waiting for its group: next_attempt is its deadline */
	[ST_OBS_HOLD] = "UPDATE observations SET next_attempt = ?3, updated = ?4,"
	    " phase = 'waiting', phase_ms = ?4"
	    " WHERE collection = ?1 AND observation = ?2 AND status = 'pending'",
	[ST_OBJ_GET] = "SELECT collection, bucket, key, url, version, etag, size, sequencer,"
	    " status, attempts, last_error, next_attempt FROM objects"
	    " WHERE collection = ?1 AND bucket = ?2 AND key = ?3",
	/* a new version to fetch: pending again, attempts and error forgotten */
	[ST_OBJ_PUT] = "INSERT INTO objects (collection, bucket, key, url, version, etag, size,"
	    " sequencer, status, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)"
	    " ON CONFLICT(collection, bucket, key) DO UPDATE SET url = ?4, version = ?5,"
	    " etag = ?6, size = ?7, sequencer = ?8, status = 'pending', attempts = 0,"
	    " last_error = NULL, next_attempt = 0, updated = ?9",
	[ST_OBJ_SET] = "UPDATE objects SET status = ?4, attempts = attempts + ?5,"
	    " last_error = ?6, next_attempt = ?7, updated = ?8"
	    " WHERE collection = ?1 AND bucket = ?2 AND key = ?3",
	[ST_OBJ_EACH] = "SELECT collection, bucket, key, url, version, etag, size, sequencer,"
	    " status, attempts, last_error, next_attempt FROM objects WHERE status = ?1"
	    " ORDER BY updated",
	[ST_COUNT_OBJ] = "SELECT status, count(*) FROM objects GROUP BY status",
	[ST_OBS_LIST_PHASE] = "SELECT " STATE_OBS_COLS " FROM observations"
	    " WHERE phase = ?1 AND (?2 IS NULL OR collection = ?2)"
	    " ORDER BY updated DESC, collection, observation LIMIT ?3",
	/* an event leaves the observation in its state unless its status moved on */
	[ST_HIST_PHASE] = "UPDATE observations SET phase = ?3, phase_ms = ?4"
	    " WHERE collection = ?1 AND observation = ?2 AND status = ?5",
	[ST_HIST_ADD] = "INSERT INTO history (collection, observation, at_ms, phase, detail,"
	    " until_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_HIST_PRUNE] = "DELETE FROM history WHERE rowid IN (SELECT rowid FROM history"
	    " WHERE collection = ?1 AND observation = ?2 ORDER BY rowid DESC LIMIT -1 OFFSET ?3)",
	[ST_HIST_GET] = "SELECT at_ms, phase, detail, until_ms FROM (SELECT rowid, * FROM history"
	    " WHERE collection = ?1 AND observation = ?2 ORDER BY rowid DESC LIMIT ?3)"
	    " ORDER BY rowid",
	/* (a scan of the table: through the primary key it is twice as long) */
	[ST_CENSUS] = "SELECT collection, phase, count(*) FROM observations NOT INDEXED"
	    " GROUP BY collection, phase ORDER BY collection",
	[ST_OBS_OLDEST] = "SELECT " STATE_OBS_COLS " FROM observations WHERE status = ?1"
	    " ORDER BY updated LIMIT ?2",
	[ST_OBS_NEWEST] = "SELECT " STATE_OBS_COLS " FROM observations WHERE status = ?1"
	    " ORDER BY updated DESC LIMIT ?2",
	/* (the index on status and updated, read until a row of the collection) */
	[ST_COLL_STALEST] = "SELECT landed_ms FROM observations WHERE status = ?1"
	    " AND collection = ?2 ORDER BY updated LIMIT 1",
	[ST_COLL_LAST_DONE] = "SELECT updated FROM observations WHERE status = 'done'"
	    " AND collection = ?1 ORDER BY updated DESC LIMIT 1",
	/* the progress of a put of the same bytes to the same place is kept */
	[ST_STORED_BEGIN] = "INSERT INTO stored (path, uri, target, status, md5, size, type,"
	    " mtime_ns, updated) VALUES (?1, ?2, ?3, 'storing', ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT(path) DO UPDATE SET progress = CASE WHEN target = ?3 AND md5 = ?4"
	    " AND size = ?5 THEN progress END, uri = ?2, target = ?3, status = 'storing',"
	    " md5 = ?4, size = ?5, type = ?6, mtime_ns = ?7, updated = ?8",
	[ST_STORED_PROGRESS] = "UPDATE stored SET progress = ?2, updated = ?3 WHERE path = ?1",
	[ST_STORED_DONE] = "UPDATE stored SET status = 'stored', progress = NULL, updated = ?2"
	    " WHERE path = ?1",
	[ST_STORED_GET] = "SELECT status, target, md5, size, type, mtime_ns, progress FROM stored"
	    " WHERE path = ?1",
	[ST_COUNT_STORED] = "SELECT status, count(*) FROM stored GROUP BY status",
	/* files of unfinished observations that storage does not hold as they are */
	[ST_COUNT_UNSTORED] = "SELECT count(*) FROM files f JOIN observations o"
	    " ON o.collection = f.collection AND o.observation = f.observation"
	    " LEFT JOIN stored s ON s.path = f.path"
	    " WHERE o.status IN ('pending', 'running', 'retry') AND (s.path IS NULL OR"
	    " (s.status = 'stored' AND (s.size != f.size OR s.mtime_ns != f.mtime_ns)))",
	[ST_STORED_FORGET] = "DELETE FROM stored WHERE path = ?1",
};

static const char *const state_status_names[] = {
	[STATE_PENDING] = "pending",
	[STATE_RUNNING] = "running",
	[STATE_RETRY] = "retry",
	[STATE_DONE] = "done",
	[STATE_FAILED] = "failed",
	[STATE_UNMATCHED] = "unmatched",
};

/* Life-cycle states: name and status, in enum state_phase's order. */
static const struct {
	const char		*name;
	enum state_status	 status;
} state_phases[STATE_NPHASES] = {
	[STATE_PHASE_LANDED] = { "landed", STATE_PENDING },
	[STATE_PHASE_SETTLING] = { "settling", STATE_PENDING },
	[STATE_PHASE_CLASSIFIED] = { "classified", STATE_PENDING },
	[STATE_PHASE_WAITING] = { "waiting", STATE_PENDING },
	[STATE_PHASE_STORING] = { "storing", STATE_RUNNING },
	[STATE_PHASE_MAPPING] = { "mapping", STATE_RUNNING },
	[STATE_PHASE_PUSHING] = { "pushing", STATE_RUNNING },
	[STATE_PHASE_DONE] = { "done", STATE_DONE },
	[STATE_PHASE_RETRY] = { "retry", STATE_RETRY },
	[STATE_PHASE_FAILED] = { "failed", STATE_FAILED },
};

/* An event waiting for state_history_flush. */
struct state_pending_event {
	char		*collection;
	char		*observation;
	struct state_event ev;
};

/* Events kept at most while flushes fail; more are dropped. */
#define STATE_HISTORY_BUFFER	100000

struct state {
	sqlite3		*db;
	char		*path;
	sqlite3_stmt	*stmt[ST_NSTMT];
	int		 batch;		/* state_batch depth */
	int		 in_txn;	/* the batch's BEGIN succeeded */
	uint64_t	 writes;
	struct state_pending_event *events;
	size_t		 nevents;
	size_t		 capevents;
	unsigned long	 dropped;	/* events over STATE_HISTORY_BUFFER */
	void		(*notify)(void *);
	void		*notify_arg;
};

const char *
state_status_name(enum state_status s)
{
	return state_status_names[s];
}

int
state_status_from_name(const char *name, enum state_status *s)
{
	size_t i;

	for (i = 0; i < sizeof state_status_names / sizeof state_status_names[0]; i++) {
		if (strcmp(name, state_status_names[i]) == 0) {
			*s = (enum state_status)i;
			return 0;
		}
	}
	return -1;
}

const char *
state_phase_name(enum state_phase p)
{
	return state_phases[p].name;
}

int
state_phase_from_name(const char *name, enum state_phase *p)
{
	int i;

	for (i = 0; i < STATE_NPHASES; i++) {
		if (strcmp(name, state_phases[i].name) == 0) {
			*p = (enum state_phase)i;
			return 0;
		}
	}
	return -1;
}

enum state_status
state_phase_status(enum state_phase p)
{
	return state_phases[p].status;
}

uint64_t
state_writes(const struct state *st)
{
	return st->writes;
}

static int64_t
state_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
state_fail(struct state *st, const char *what, char **cause)
{
	*cause = xasprintf("%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return -1;
}

static int
state_exec(struct state *st, const char *sql, char **cause)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", st->path, err != NULL ? err : "error");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
state_user_version(struct state *st, int *version, char **cause)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return state_fail(st, "reading the schema version", cause);
	*version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	return 0;
}

/* Bring the schema to STATE_SCHEMA_VERSION, one transaction per step. */
static int
state_migrate(struct state *st, char **cause)
{
	char *sql;
	int v;

	if (state_user_version(st, &v, cause) != 0)
		return -1;
	if (v > STATE_SCHEMA_VERSION) {
		*cause = xasprintf("%s: schema version %d is newer than this build's %d",
		    st->path, v, STATE_SCHEMA_VERSION);
		return -1;
	}
	for (; v < STATE_SCHEMA_VERSION; v++) {
		sql = xasprintf("BEGIN IMMEDIATE; %s; PRAGMA user_version = %d; COMMIT;",
		    state_migrations[v], v + 1);
		if (state_exec(st, sql, cause) != 0) {
			free(sql);
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		free(sql);
	}
	return 0;
}

static int
state_prepare(struct state *st, char **cause)
{
	int i;

	for (i = 0; i < ST_NSTMT; i++) {
		if (sqlite3_prepare_v3(st->db, state_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->stmt[i], NULL) != SQLITE_OK)
			return state_fail(st, "preparing a statement", cause);
	}
	return 0;
}

struct state *
state_open(const char *dir, char **cause)
{
	struct state *st;

	st = xcalloc(1, sizeof *st);
	st->path = xasprintf("%s/state.db", dir);
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		state_fail(st, "cannot open", cause);
		state_close(st);
		return NULL;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (state_exec(st, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	    " PRAGMA foreign_keys = ON", cause) != 0 || state_migrate(st, cause) != 0 ||
	    state_prepare(st, cause) != 0 ||
	    state_exec(st, "UPDATE observations SET status = 'pending', phase = 'classified'"
	    " WHERE status = 'running';"
	    " UPDATE objects SET status = 'pending' WHERE status = 'running'", cause) != 0) {
		state_close(st);
		return NULL;
	}
	return st;
}

struct state *
state_open_readonly(const char *dir, char **cause)
{
	struct state *st;
	int v;

	st = xcalloc(1, sizeof *st);
	st->path = xasprintf("%s/state.db", dir);
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		state_fail(st, "cannot open", cause);
		state_close(st);
		return NULL;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (state_user_version(st, &v, cause) != 0)
		goto fail;
	if (v != STATE_SCHEMA_VERSION) {
		*cause = xasprintf("%s: schema version %d, not this build's %d", st->path, v,
		    STATE_SCHEMA_VERSION);
		goto fail;
	}
	if (state_prepare(st, cause) != 0)
		goto fail;
	return st;
fail:
	state_close(st);
	return NULL;
}

void
state_close(struct state *st)
{
	char *cause = NULL;
	int i;

	if (st == NULL)
		return;
	if (st->nevents > 0 && state_history_flush(st, &cause) != 0)
		free(cause);
	free(st->events);
	for (i = 0; i < ST_NSTMT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

/* Reset and bind text/int64 parameters: fmt is a string of 's' and 'i'. */
static sqlite3_stmt *
state_bind(struct state *st, enum state_stmt which, const char *fmt, ...)
{
	sqlite3_stmt *s = st->stmt[which];
	const char *str;
	va_list ap;
	int i;

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0'; i++) {
		if (fmt[i] == 's') {
			str = va_arg(ap, const char *);
			if (str != NULL)
				sqlite3_bind_text(s, i + 1, str, -1, SQLITE_STATIC);
		} else
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	return s;
}

/* Step a statement that returns no rows. */
static int
state_run(struct state *st, sqlite3_stmt *s, const char *what, char **cause)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	st->writes++;
	if (rc != SQLITE_DONE)
		return state_fail(st, what, cause);
	return 0;
}

static char *
state_col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static enum state_status
state_col_status(sqlite3_stmt *s, int col)
{
	enum state_status status = STATE_PENDING;
	const unsigned char *t = sqlite3_column_text(s, col);

	if (t != NULL)
		state_status_from_name((const char *)t, &status);
	return status;
}

static enum state_phase
state_col_phase(sqlite3_stmt *s, int col)
{
	enum state_phase phase = STATE_PHASE_CLASSIFIED;
	const unsigned char *t = sqlite3_column_text(s, col);

	if (t != NULL)
		state_phase_from_name((const char *)t, &phase);
	return phase;
}

int
state_obs_hold(struct state *st, const char *collection, const char *observation,
    int64_t until_ms, char **cause)
{
	return state_run(st, state_bind(st, ST_OBS_HOLD, "ssii", collection, observation,
	    until_ms, state_now_ms()), "holding an observation", cause);
}

int
state_batch(struct state *st, int begin, char **cause)
{
	if (begin) {
		if (st->batch++ > 0)
			return 0;
		st->in_txn = state_exec(st, "BEGIN", cause) == 0;
		return st->in_txn ? 0 : -1;
	}
	if (st->batch == 0 || --st->batch > 0 || !st->in_txn)
		return 0;
	st->in_txn = 0;
	return state_exec(st, "COMMIT", cause);
}

void
state_batch_abort(struct state *st)
{
	if (st->batch == 0 || --st->batch > 0 || !st->in_txn)
		return;
	st->in_txn = 0;
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* 16 bytes: four slots to a cache line, and a table of 100,000 files in
 * 2 MB; the table is at most 80% full (linear probing stays short). */
struct state_known_slot {
	uint64_t	 hash;		/* of the path; 0: empty */
	uint64_t	 stamp;		/* of its size and mtime */
};

struct state_known {
	struct state_known_slot	*slots;
	size_t			 mask;	/* slots - 1, a power of two less one */
	size_t			 n;
	int			 mapped;	/* slots by mmap, else malloc */
};

/*
 * The slots are mapped with MAP_POPULATE: filled one by one, a table of a
 * few MB took a page fault per 4 KB, and with the scan's threads faulting
 * beside it that was a tenth of a 100,000-file scan's time. (Heap memory
 * when the mapping fails.)
 */
static void
state_known_alloc(struct state_known *k)
{
	size_t size = (k->mask + 1) * sizeof *k->slots;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	k->mapped = p != MAP_FAILED;
	k->slots = k->mapped ? p : xcalloc(k->mask + 1, sizeof *k->slots);
}

static void
state_known_release(const struct state_known *k)
{
	if (k->mapped)
		munmap(k->slots, (k->mask + 1) * sizeof *k->slots);
	else
		free(k->slots);
}

/*
 * A path's hash, eight bytes at a time: each round is a bijection of the
 * state (xor a word, multiply by an odd constant, xor-shift), so paths of
 * one length that differ in one word cannot collide; the finaliser is
 * MurmurHash3's. (Written here: a scan hashes every path twice, and the
 * byte-at-a-time hashes cost a tenth of the scan.)
 */
static uint64_t
state_known_hash(const char *path)
{
	size_t n = strlen(path);
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	for (; n >= 8; n -= 8, path += 8) {
		memcpy(&w, path, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, path, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h != 0 ? h : 1;
}

/* Size and mtime in one word: for one size, a bijection of the mtime (and
 * sizes differ by an odd multiple), then MurmurHash3's finaliser. */
static uint64_t
state_known_stamp(int64_t size, int64_t mtime_ns)
{
	uint64_t s = ((uint64_t)size * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)mtime_ns;

	s ^= s >> 33;
	s *= 0xff51afd7ed558ccdULL;
	s ^= s >> 33;
	s *= 0xc4ceb9fe1a85ec53ULL;
	s ^= s >> 33;
	return s;
}

static int
state_known_full(const struct state_known *k)
{
	return (k->n + 1) * 5 > (k->mask + 1) * 4;
}

static void
state_known_put(struct state_known *k, const char *path, int64_t size, int64_t mtime_ns)
{
	uint64_t h = state_known_hash(path);
	size_t i;

	if (state_known_full(k)) {
		struct state_known old = *k;

		k->mask = (old.mask + 1) * 2 - 1;
		state_known_alloc(k);
		k->n = 0;
		for (i = 0; i <= old.mask; i++) {
			struct state_known_slot *o = &old.slots[i];
			size_t j;

			if (o->hash == 0)
				continue;
			for (j = o->hash & k->mask; k->slots[j].hash != 0; j = (j + 1) & k->mask)
				;
			k->slots[j] = *o;
			k->n++;
		}
		state_known_release(&old);
	}
	/* (two paths with one hash both go in: a lookup compares every match) */
	for (i = h & k->mask; k->slots[i].hash != 0; i = (i + 1) & k->mask)
		;
	k->slots[i].hash = h;
	k->slots[i].stamp = state_known_stamp(size, mtime_ns);
	k->n++;
}

int
state_known_has(const struct state_known *k, const char *path, int64_t size, int64_t mtime_ns)
{
	uint64_t h = state_known_hash(path), stamp = state_known_stamp(size, mtime_ns);
	size_t i;

	for (i = h & k->mask; k->slots[i].hash != 0; i = (i + 1) & k->mask) {
		if (k->slots[i].hash == h && k->slots[i].stamp == stamp)
			return 1;
	}
	return 0;
}

void
state_known_free(struct state_known *k)
{
	if (k == NULL)
		return;
	state_known_release(k);
	free(k);
}

/* Slots for about n files (no row of files is ever deleted, so max(rowid)
 * is their number): a table sized once is not rebuilt while loading. */
static void
state_known_size(struct state *st, struct state_known *k, int all)
{
	sqlite3_stmt *s;
	int64_t n = 0;

	if (all && sqlite3_prepare_v2(st->db, "SELECT max(rowid) FROM files", -1, &s,
	    NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	if (n > (1 << 23))
		n = 1 << 23;
	for (k->mask = 1023; (size_t)n * 5 > (k->mask + 1) * 4; k->mask = k->mask * 2 + 1)
		;
	state_known_alloc(k);
}

/*
 * Everything in one statement: a full table scan for all files (faster
 * than walking the path index, which costs a row lookup per entry), the
 * index for one prefix (a polled tree among many files).
 */
struct state_known *
state_known_load(struct state *st, const char *dir, char **cause)
{
	struct state_known *k;
	char *lo = NULL, *hi = NULL;
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, dir == NULL ? "SELECT path, size, mtime_ns FROM files" :
	    "SELECT path, size, mtime_ns FROM files WHERE path > ?1 AND path < ?2", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		state_fail(st, "reading the known files", cause);
		return NULL;
	}
	if (dir != NULL) {		/* "dir/" < path < "dir0": '0' follows '/' */
		lo = xasprintf("%s/", dir);
		hi = xasprintf("%s0", dir);
		sqlite3_bind_text(s, 1, lo, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
	}
	k = xcalloc(1, sizeof *k);
	state_known_size(st, k, dir == NULL);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(s, 0);

		if (path != NULL)
			state_known_put(k, path, sqlite3_column_int64(s, 1),
			    sqlite3_column_int64(s, 2));
	}
	if (rc != SQLITE_DONE) {
		state_fail(st, "reading the known files", cause);
		state_known_free(k);
		k = NULL;
	}
	sqlite3_finalize(s);
	free(lo);
	free(hi);
	return k;
}

int
state_file_seen(struct state *st, const char *path, int64_t size, int64_t mtime_ns,
    enum state_change *change, enum state_status *status, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_FILE_GET, "s", path);
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE) {
		*change = STATE_NEW;
		*status = STATE_PENDING;
	} else if (rc == SQLITE_ROW) {
		*change = sqlite3_column_int64(s, 0) == size &&
		    sqlite3_column_int64(s, 1) == mtime_ns ? STATE_UNCHANGED : STATE_CHANGED;
		*status = state_col_status(s, 2);
	} else {
		sqlite3_reset(s);
		return state_fail(st, "looking up a file", cause);
	}
	sqlite3_reset(s);
	return 0;
}

int
state_file_assign(struct state *st, const struct state_file *f, char **cause)
{
	int64_t now = state_now_ms();
	sqlite3_stmt *s;

	if (state_exec(st, "SAVEPOINT assign", cause) != 0)
		return -1;
	s = state_bind(st, ST_FILE_PUT, "siisssssi", f->path, f->size, f->mtime_ns,
	    f->collection, f->observation, f->product, f->uri, f->blueprint, now);
	if (state_run(st, s, "recording a file", cause) != 0 ||
	    state_run(st, state_bind(st, ST_OBS_PENDING, "ssii", f->collection, f->observation,
	    now, f->landed_ms > 0 ? f->landed_ms : now), "recording an observation",
	    cause) != 0) {
		sqlite3_exec(st->db, "ROLLBACK TO assign; RELEASE assign", NULL, NULL, NULL);
		return -1;
	}
	return state_exec(st, "RELEASE assign", cause);
}

int
state_file_unmatched(struct state *st, const char *path, int64_t size, int64_t mtime_ns,
    char **cause)
{
	return state_run(st, state_bind(st, ST_FILE_UNMATCHED, "siii", path, size, mtime_ns,
	    state_now_ms()), "recording an unmatched file", cause);
}

static enum state_storage
state_col_storage(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	if (t == NULL)
		return STATE_STORE_NONE;
	return strcmp((const char *)t, "stored") == 0 ? STATE_STORE_STORED : STATE_STORE_STORING;
}

/* A stored record from columns status, target, md5, size, type, mtime_ns, progress. */
static void
state_row_stored(sqlite3_stmt *s, int col, struct state_stored *out)
{
	out->status = state_col_storage(s, col);
	out->target = state_col_text(s, col + 1);
	out->md5 = state_col_text(s, col + 2);
	out->size = sqlite3_column_int64(s, col + 3);
	out->type = state_col_text(s, col + 4);
	out->mtime_ns = sqlite3_column_int64(s, col + 5);
	out->progress = state_col_text(s, col + 6);
}

static void
state_row_file(sqlite3_stmt *s, struct state_file *f)
{
	f->path = state_col_text(s, 0);
	f->size = sqlite3_column_int64(s, 1);
	f->mtime_ns = sqlite3_column_int64(s, 2);
	f->collection = state_col_text(s, 3);
	f->observation = state_col_text(s, 4);
	f->product = state_col_text(s, 5);
	f->uri = state_col_text(s, 6);
	f->blueprint = state_col_text(s, 7);
	f->status = state_col_status(s, 8);
	if (sqlite3_column_count(s) > 9)
		state_row_stored(s, 9, &f->stored);
	else
		memset(&f->stored, 0, sizeof f->stored);
}

int
state_obs_files(struct state *st, const char *collection, const char *observation,
    struct state_file **files, size_t *n, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_OBS_FILES, "ss", collection, observation);
	size_t cap = 0;
	int rc;

	*files = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap)
			*files = xreallocarray(*files, cap = cap ? cap * 2 : 4, sizeof **files);
		state_row_file(s, &(*files)[(*n)++]);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		state_files_free(*files, *n);
		*files = NULL;
		*n = 0;
		return state_fail(st, "listing an observation's files", cause);
	}
	return 0;
}

void
state_files_free(struct state_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].collection);
		free(files[i].observation);
		free(files[i].product);
		free(files[i].uri);
		free(files[i].blueprint);
		state_stored_clear(&files[i].stored);
	}
	free(files);
}

static void
state_row_obs(sqlite3_stmt *s, struct state_obs *o)
{
	o->collection = state_col_text(s, 0);
	o->observation = state_col_text(s, 1);
	o->status = state_col_status(s, 2);
	o->attempts = sqlite3_column_int(s, 3);
	o->last_error = state_col_text(s, 4);
	o->next_attempt_ms = sqlite3_column_int64(s, 5);
	o->pushed_checksum = state_col_text(s, 6);
	o->phase = state_col_phase(s, 7);
	o->phase_ms = sqlite3_column_int64(s, 8);
	o->landed_ms = sqlite3_column_int64(s, 9);
}

void
state_obs_clear(struct state_obs *o)
{
	free(o->collection);
	free(o->observation);
	free(o->last_error);
	free(o->pushed_checksum);
	memset(o, 0, sizeof *o);
}

int
state_obs_get(struct state *st, const char *collection, const char *observation,
    struct state_obs *out, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_OBS_GET, "ss", collection, observation);
	int rc = sqlite3_step(s);

	memset(out, 0, sizeof *out);
	if (rc == SQLITE_ROW)
		state_row_obs(s, out);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return state_fail(st, "looking up an observation", cause);
}

int
state_obs_running(struct state *st, const char *collection, const char *observation,
    char **cause)
{
	return state_run(st, state_bind(st, ST_OBS_SET, "ssi", collection, observation,
	    state_now_ms()), "marking an observation running", cause);
}

/* The one write that returns a value (RETURNING): -1 with *cause, else 0 and *v
 * (unchanged when no row was written). */
static int
state_run_returning(struct state *st, sqlite3_stmt *s, int64_t *v, const char *what,
    char **cause)
{
	int rc;

	st->writes++;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(st, what, cause);
}

int
state_obs_done(struct state *st, const char *collection, const char *observation,
    const char *checksum, int64_t *landed_ms, char **cause)
{
	int64_t now = state_now_ms(), landed = 0;

	if (state_exec(st, "SAVEPOINT done", cause) != 0)
		return -1;
	if (state_run_returning(st, state_bind(st, ST_OBS_DONE, "sssi", collection,
	    observation, checksum, now), &landed, "marking an observation done", cause) != 0 ||
	    state_run(st, state_bind(st, ST_OBS_FILES_DONE, "ssi", collection, observation,
	    now), "marking files done", cause) != 0) {
		sqlite3_exec(st->db, "ROLLBACK TO done; RELEASE done", NULL, NULL, NULL);
		return -1;
	}
	if (landed_ms != NULL)
		*landed_ms = landed;
	return state_exec(st, "RELEASE done", cause);
}

int
state_obs_failed(struct state *st, const char *collection, const char *observation,
    const char *error, int64_t next_attempt_ms, char **cause)
{
	return state_run(st, state_bind(st, ST_OBS_FAILED, "sssii", collection, observation,
	    error, next_attempt_ms, state_now_ms()), "marking an observation failed", cause);
}

int
state_obs_requeue(struct state *st, const char *collection, const char *observation,
    int force, char **cause)
{
	if (state_run(st, state_bind(st, ST_OBS_REQUEUE, "ssii", collection, observation,
	    state_now_ms(), (int64_t)force), "re-queueing an observation", cause) != 0)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

int
state_file_observation(struct state *st, const char *path, char **collection,
    char **observation, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_FILE_OBS, "s", path);
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		*collection = state_col_text(s, 0);
		*observation = state_col_text(s, 1);
	}
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? 1 : state_fail(st, "looking up a file", cause);
}

/* Step s, handing each observation row to fn (copied first: fn may write). */
static int
state_obs_rows(struct state *st, sqlite3_stmt *s,
    void (*fn)(void *arg, const struct state_obs *o), void *arg, char **cause)
{
	struct state_obs o;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		state_row_obs(s, &o);
		fn(arg, &o);
		state_obs_clear(&o);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(st, "listing observations", cause);
}

int
state_obs_each(struct state *st, enum state_status status,
    void (*fn)(void *arg, const struct state_obs *o), void *arg, char **cause)
{
	return state_obs_rows(st, state_bind(st, ST_OBS_EACH, "s", state_status_name(status)),
	    fn, arg, cause);
}

int
state_obs_list(struct state *st, const enum state_status *status, const char *collection,
    long limit, void (*fn)(void *arg, const struct state_obs *o), void *arg, char **cause)
{
	return state_obs_rows(st, state_bind(st, ST_OBS_LIST, "ssi",
	    status != NULL ? state_status_name(*status) : NULL, collection, (int64_t)limit),
	    fn, arg, cause);
}

int
state_obs_list_phase(struct state *st, enum state_phase phase, const char *collection,
    long limit, void (*fn)(void *arg, const struct state_obs *o), void *arg, char **cause)
{
	return state_obs_rows(st, state_bind(st, ST_OBS_LIST_PHASE, "ssi",
	    state_phase_name(phase), collection, (int64_t)limit), fn, arg, cause);
}

static int
state_count(struct state *st, enum state_stmt which, long *counts, char **cause)
{
	sqlite3_stmt *s = state_bind(st, which, "");
	enum state_status status;
	int rc;

	memset(counts, 0, sizeof(long) * (STATE_UNMATCHED + 1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (state_status_from_name((const char *)sqlite3_column_text(s, 0), &status) == 0)
			counts[status] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(st, "counting", cause);
}

/* Stored and storing files, and those waiting to be stored. */
static int
state_count_storage(struct state *st, long counts[STATE_STORE_STORED + 1], char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_COUNT_STORED, "");
	int rc;

	memset(counts, 0, sizeof(long) * (STATE_STORE_STORED + 1));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		counts[state_col_storage(s, 0)] = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return state_fail(st, "counting stored files", cause);
	s = state_bind(st, ST_COUNT_UNSTORED, "");
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		counts[STATE_STORE_NONE] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : state_fail(st, "counting files to store", cause);
}

int
state_get_counts(struct state *st, struct state_counts *c, char **cause)
{
	if (state_count(st, ST_COUNT_FILES, c->files, cause) != 0 ||
	    state_count_storage(st, c->storage, cause) != 0)
		return -1;
	return state_count(st, ST_COUNT_OBS, c->obs, cause);
}

static void
state_row_object(sqlite3_stmt *s, struct state_object *o)
{
	o->collection = state_col_text(s, 0);
	o->bucket = state_col_text(s, 1);
	o->key = state_col_text(s, 2);
	o->url = state_col_text(s, 3);
	o->version = state_col_text(s, 4);
	o->etag = state_col_text(s, 5);
	o->size = sqlite3_column_int64(s, 6);
	o->sequencer = state_col_text(s, 7);
	o->status = state_col_status(s, 8);
	o->attempts = sqlite3_column_int(s, 9);
	o->last_error = state_col_text(s, 10);
	o->next_attempt_ms = sqlite3_column_int64(s, 11);
}

void
state_object_clear(struct state_object *o)
{
	free(o->collection);
	free(o->bucket);
	free(o->key);
	free(o->url);
	free(o->version);
	free(o->etag);
	free(o->sequencer);
	free(o->last_error);
	memset(o, 0, sizeof *o);
}

int
state_object_get(struct state *st, const char *collection, const char *bucket,
    const char *key, struct state_object *out, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_OBJ_GET, "sss", collection, bucket, key);
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		state_row_object(s, out);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return state_fail(st, "looking up an object", cause);
}

int
state_object_put(struct state *st, const struct state_object *o, char **cause)
{
	return state_run(st, state_bind(st, ST_OBJ_PUT, "ssssssisi", o->collection, o->bucket,
	    o->key, o->url, o->version, o->etag, o->size, o->sequencer, state_now_ms()),
	    "recording an object", cause);
}

int
state_object_set(struct state *st, const char *collection, const char *bucket,
    const char *key, enum state_status status, const char *error, int64_t next_attempt_ms,
    char **cause)
{
	return state_run(st, state_bind(st, ST_OBJ_SET, "ssssisii", collection, bucket, key,
	    state_status_name(status), (int64_t)(status == STATE_RUNNING), error,
	    next_attempt_ms, state_now_ms()), "updating an object", cause);
}

int
state_object_each(struct state *st, enum state_status status,
    void (*fn)(void *arg, const struct state_object *o), void *arg, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_OBJ_EACH, "s", state_status_name(status));
	struct state_object *v = NULL;
	size_t n = 0, i;
	int rc;

	/* collected first: fn may write to the store */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof *v);
		state_row_object(s, &v[n++]);
	}
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		if (rc == SQLITE_DONE)
			fn(arg, &v[i]);
		state_object_clear(&v[i]);
	}
	free(v);
	return rc == SQLITE_DONE ? 0 : state_fail(st, "listing objects", cause);
}

int
state_object_counts(struct state *st, long counts[STATE_UNMATCHED + 1], char **cause)
{
	return state_count(st, ST_COUNT_OBJ, counts, cause);
}

void
state_history_add(struct state *st, const char *collection, const char *observation,
    enum state_phase phase, int64_t at_ms, const char *detail, int64_t until_ms)
{
	struct state_pending_event *e;

	if (st->nevents >= STATE_HISTORY_BUFFER) {
		st->dropped++;
		return;
	}
	if (st->nevents == st->capevents) {
		st->capevents = st->capevents ? st->capevents * 2 : 64;
		st->events = xreallocarray(st->events, st->capevents, sizeof *st->events);
	}
	e = &st->events[st->nevents++];
	e->collection = xstrdup(collection);
	e->observation = xstrdup(observation);
	e->ev.at_ms = at_ms > 0 ? at_ms : state_now_ms();
	e->ev.phase = phase;
	e->ev.detail = detail != NULL ? xstrdup(detail) : NULL;
	e->ev.until_ms = until_ms;
	if (st->nevents == 1 && st->notify != NULL)
		st->notify(st->notify_arg);
}

size_t
state_history_pending(const struct state *st)
{
	return st->nevents;
}

void
state_history_notify(struct state *st, void (*fn)(void *arg), void *arg)
{
	st->notify = fn;
	st->notify_arg = arg;
}

/* Does a life-cycle state end an attempt (its history is pruned then)? */
static int
state_phase_ends(enum state_phase p)
{
	return p == STATE_PHASE_DONE || p == STATE_PHASE_RETRY || p == STATE_PHASE_FAILED;
}

/* Does a state come with no write of the status (and so only from the history)? */
static int
state_phase_lazy(enum state_phase p)
{
	return p == STATE_PHASE_LANDED || p == STATE_PHASE_SETTLING ||
	    p == STATE_PHASE_MAPPING || p == STATE_PHASE_PUSHING;
}

static int
state_history_insert(struct state *st, const struct state_pending_event *e, char **cause)
{
	return state_run(st, state_bind(st, ST_HIST_ADD, "ssissi", e->collection,
	    e->observation, e->ev.at_ms, state_phase_name(e->ev.phase), e->ev.detail,
	    e->ev.until_ms), "recording a history entry", cause);
}

/*
 * After the entries of a batch, once per observation, for its last event of
 * the batch (the other statuses wrote their state with the status): a lazy
 * state is the observation's unless its status moved on; the end of an
 * attempt prunes the history to STATE_HISTORY_MAX.
 */
static int
state_history_settle(struct state *st, const struct state_pending_event *e, int ended,
    char **cause)
{
	enum state_phase p = e->ev.phase;

	if (state_phase_lazy(p) && state_run(st, state_bind(st, ST_HIST_PHASE, "sssis",
	    e->collection, e->observation, state_phase_name(p), e->ev.at_ms,
	    state_status_name(state_phase_status(p))), "recording a state", cause) != 0)
		return -1;
	if (ended && state_run(st, state_bind(st, ST_HIST_PRUNE, "ssi", e->collection,
	    e->observation, (int64_t)STATE_HISTORY_MAX), "pruning a history", cause) != 0)
		return -1;
	return 0;
}

static void
state_pending_clear(struct state *st)
{
	size_t i;

	for (i = 0; i < st->nevents; i++) {
		free(st->events[i].collection);
		free(st->events[i].observation);
		free(st->events[i].ev.detail);
	}
	st->nevents = 0;
}

/* The last event of each observation in the batch (and whether one ended an attempt). */
struct state_last {
	size_t		 index;
	int		 ended;
};

static void
state_last_free(const char *key, void *value, void *arg)
{
	free(value);
}

static int
state_history_write(struct state *st, char **cause)
{
	struct strmap *last = strmap_new();
	struct state_last *l;
	size_t i;
	char *key;
	int r = 0;

	for (i = 0; i < st->nevents && r == 0; i++) {
		r = state_history_insert(st, &st->events[i], cause);
		key = xasprintf("%s\n%s", st->events[i].collection, st->events[i].observation);
		if ((l = strmap_get(last, key)) == NULL)
			strmap_put(last, key, l = xcalloc(1, sizeof *l));
		free(key);
		l->index = i;
		l->ended |= state_phase_ends(st->events[i].ev.phase);
	}
	for (i = 0; i < st->nevents && r == 0; i++) {
		key = xasprintf("%s\n%s", st->events[i].collection, st->events[i].observation);
		l = strmap_get(last, key);
		free(key);
		if (l->index == i)
			r = state_history_settle(st, &st->events[i], l->ended, cause);
	}
	strmap_each(last, state_last_free, NULL);
	strmap_free(last);
	return r;
}

int
state_history_flush(struct state *st, char **cause)
{
	int r;

	if (st->nevents == 0)
		return 0;
	if (state_batch(st, 1, cause) != 0) {
		state_pending_clear(st);
		return -1;
	}
	if ((r = state_history_write(st, cause)) != 0)
		state_batch_abort(st);
	else
		r = state_batch(st, 0, cause);
	state_pending_clear(st);
	if (r == 0 && st->dropped > 0) {
		*cause = xasprintf("%s: %lu history entries dropped while the store could not "
		    "be written", st->path, st->dropped);
		st->dropped = 0;
		return -1;
	}
	return r;
}

int
state_history_get(struct state *st, const char *collection, const char *observation,
    struct state_event **ev, size_t *n, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_HIST_GET, "ssi", collection, observation,
	    (int64_t)STATE_HISTORY_MAX);
	struct state_event *e;
	size_t cap = 0;
	int rc;

	*ev = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap)
			*ev = xreallocarray(*ev, cap = cap ? cap * 2 : 16, sizeof **ev);
		e = &(*ev)[(*n)++];
		e->at_ms = sqlite3_column_int64(s, 0);
		e->phase = state_col_phase(s, 1);
		e->detail = state_col_text(s, 2);
		e->until_ms = sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		state_events_free(*ev, *n);
		*ev = NULL;
		*n = 0;
		return state_fail(st, "reading a history", cause);
	}
	return 0;
}

void
state_events_free(struct state_event *ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ev[i].detail);
	free(ev);
}

/* Rows of s (observations) appended to *v, *n. */
static int
state_obs_collect(struct state *st, sqlite3_stmt *s, struct state_obs **v, size_t *n,
    char **cause)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*v = xreallocarray(*v, *n + 1, sizeof **v);
		state_row_obs(s, &(*v)[(*n)++]);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(st, "listing observations", cause);
}

static int
state_obs_by_updated(const void *a, const void *b, int newest)
{
	const struct state_obs *x = a, *y = b;
	int64_t d = x->phase_ms - y->phase_ms;

	if (newest)
		d = -d;
	return d < 0 ? -1 : d > 0;
}

static int
state_obs_older(const void *a, const void *b)
{
	const struct state_obs *x = a, *y = b;

	if (x->landed_ms != y->landed_ms)
		return x->landed_ms < y->landed_ms ? -1 : 1;
	return state_obs_by_updated(a, b, 0);
}

static int
state_obs_newer(const void *a, const void *b)
{
	return state_obs_by_updated(a, b, 1);
}

/* The first nlist of each status in which[], merged in cmp's order. */
static int
state_census_list(struct state *st, enum state_stmt which, const enum state_status *statuses,
    size_t nstatuses, size_t nlist, int (*cmp)(const void *, const void *),
    struct state_obs **v, size_t *n, char **cause)
{
	size_t i;

	for (i = 0; i < nstatuses; i++) {
		if (state_obs_collect(st, state_bind(st, which, "si",
		    state_status_name(statuses[i]), (int64_t)nlist), v, n, cause) != 0)
			return -1;
	}
	if (*n > 0)
		qsort(*v, *n, sizeof **v, cmp);
	while (*n > nlist)
		state_obs_clear(&(*v)[--*n]);
	return 0;
}

/* The group of collection coll, the last one or a new one (rows come by collection). */
static struct state_census_group *
state_census_group(struct state_census *c, const char *coll)
{
	struct state_census_group *g;

	if (c->ngroups > 0 && strcmp(c->groups[c->ngroups - 1].collection, coll) == 0)
		return &c->groups[c->ngroups - 1];
	c->groups = xreallocarray(c->groups, c->ngroups + 1, sizeof *c->groups);
	g = &c->groups[c->ngroups++];
	memset(g, 0, sizeof *g);
	g->collection = xstrdup(coll);
	return g;
}

/* One value of a one-row query (unchanged when there is no row). */
static int
state_one(struct state *st, sqlite3_stmt *s, int64_t *v, char **cause)
{
	int rc;

	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : state_fail(st, "reading", cause);
}

/* A collection's last success, and the landing of its unfinished observation changed
 * least recently (looked for only in the statuses it has observations in). */
static int
state_census_times(struct state *st, struct state_census_group *g, char **cause)
{
	static const enum state_status unfinished[] = { STATE_PENDING, STATE_RUNNING,
		STATE_RETRY };
	long n[STATE_UNMATCHED + 1] = { 0 };
	int64_t v;
	size_t i;
	int p;

	for (p = 0; p < STATE_NPHASES; p++)
		n[state_phase_status((enum state_phase)p)] += g->n[p];
	for (i = 0; i < sizeof unfinished / sizeof unfinished[0]; i++) {
		if (n[unfinished[i]] <= 0)
			continue;
		v = 0;
		if (state_one(st, state_bind(st, ST_COLL_STALEST, "ss",
		    state_status_name(unfinished[i]), g->collection), &v, cause) != 0)
			return -1;
		if (v > 0 && (g->oldest_landed_ms == 0 || v < g->oldest_landed_ms))
			g->oldest_landed_ms = v;
	}
	if (n[STATE_DONE] > 0 && state_one(st, state_bind(st, ST_COLL_LAST_DONE, "s",
	    g->collection), &g->last_done_ms, cause) != 0)
		return -1;
	return 0;
}

static int
state_census_groups(struct state *st, struct state_census *c, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_CENSUS, "");
	struct state_census_group *g;
	const unsigned char *coll;
	size_t i;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((coll = sqlite3_column_text(s, 0)) == NULL)
			continue;
		g = state_census_group(c, (const char *)coll);
		g->n[state_col_phase(s, 1)] += sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return state_fail(st, "counting observations", cause);
	for (i = 0; i < c->ngroups; i++) {
		if (state_census_times(st, &c->groups[i], cause) != 0)
			return -1;
	}
	return 0;
}

int
state_census(struct state *st, size_t nlist, struct state_census *c, char **cause)
{
	static const enum state_status unfinished[] = { STATE_PENDING, STATE_RUNNING,
		STATE_RETRY }, failures[] = { STATE_FAILED, STATE_RETRY };

	memset(c, 0, sizeof *c);
	if (state_get_counts(st, &c->counts, cause) != 0 ||
	    state_object_counts(st, c->objects, cause) != 0 ||
	    state_census_groups(st, c, cause) != 0 ||
	    state_census_list(st, ST_OBS_OLDEST, unfinished, 3, nlist, state_obs_older,
	    &c->oldest, &c->noldest, cause) != 0 ||
	    state_census_list(st, ST_OBS_NEWEST, failures, 2, nlist, state_obs_newer,
	    &c->failures, &c->nfailures, cause) != 0) {
		state_census_clear(c);
		return -1;
	}
	return 0;
}

void
state_census_clear(struct state_census *c)
{
	size_t i;

	for (i = 0; i < c->ngroups; i++)
		free(c->groups[i].collection);
	free(c->groups);
	for (i = 0; i < c->noldest; i++)
		state_obs_clear(&c->oldest[i]);
	free(c->oldest);
	for (i = 0; i < c->nfailures; i++)
		state_obs_clear(&c->failures[i]);
	free(c->failures);
	memset(c, 0, sizeof *c);
}

int
state_stored_begin(struct state *st, const char *path, const char *uri, const char *target,
    const char *md5, int64_t size, const char *type, int64_t mtime_ns, char **cause)
{
	return state_run(st, state_bind(st, ST_STORED_BEGIN, "ssssisii", path, uri, target, md5,
	    size, type, mtime_ns, state_now_ms()), "recording a file being stored", cause);
}

int
state_stored_progress(struct state *st, const char *path, const char *progress,
    char **cause)
{
	return state_run(st, state_bind(st, ST_STORED_PROGRESS, "ssi", path, progress,
	    state_now_ms()), "recording a put's progress", cause);
}

int
state_stored_forget(struct state *st, const char *path, char **cause)
{
	return state_run(st, state_bind(st, ST_STORED_FORGET, "s", path),
	    "forgetting a file's put", cause);
}

int
state_stored_done(struct state *st, const char *path, char **cause)
{
	return state_run(st, state_bind(st, ST_STORED_DONE, "si", path, state_now_ms()),
	    "recording a file stored", cause);
}

int
state_stored_get(struct state *st, const char *path, struct state_stored *out, char **cause)
{
	sqlite3_stmt *s = state_bind(st, ST_STORED_GET, "s", path);
	int rc = sqlite3_step(s);

	memset(out, 0, sizeof *out);
	if (rc == SQLITE_ROW)
		state_row_stored(s, 0, out);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? 1 : state_fail(st, "looking up a stored file", cause);
}

void
state_stored_clear(struct state_stored *s)
{
	free(s->target);
	free(s->md5);
	free(s->type);
	free(s->progress);
	memset(s, 0, sizeof *s);
}
