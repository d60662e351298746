/*
 * filestore.h - the storage stage of an observation's job (ingest.c):
 * before the observation is pushed, each of its files is stored
 * (sinks/storage.h) in its collection's storage (conf_storage_of), exactly
 * once across crashes.
 *
 * A file the state store records as stored to the same target with the
 * same MD5, size and type is not stored again. Otherwise the put is
 * recorded first (storing; a resumable upload's progress kept as it goes),
 * then storage is asked (HEAD) and the file sent when storage does not
 * hold it; when storage has it, the file is recorded stored (target, MD5,
 * size, type) before the job may go on, so the pushed artifact's checksum
 * and length are what storage holds. Every step is idempotent: a crash at
 * any point ends, after the restart, with the file stored once. Files are
 * read and hashed on the stage's own worker threads; transient failures
 * are retried by storage (storage.retry), then fail the attempt
 * transiently (the job's retry); permanent and authentication failures
 * fail the observation with storage's text. Each file stored is logged
 * with FILE, URI and BYTES.
 */
#ifndef CAOM2INGEST_FILESTORE_H
#define CAOM2INGEST_FILESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/jobs.h"
#include "store/state.h"

struct conf;
struct ev_loop;
struct filestore;

/* One file of the observation, as the job read it. */
struct filestore_file {
	const char		*path;
	const char		*uri;
	const char		*md5;		/* "md5:<hex>" of its bytes */
	int64_t			 size;
	int64_t			 mtime_ns;
	const char		*type;
	const struct state_stored *stored;	/* what the state store said at the start */
};

/* The end of the stage: JOBS_OK when every file is stored and recorded, else the
 * worst failure and its message. */
typedef void filestore_done_fn(void *arg, enum jobs_outcome outcome, const char *error);

/* The stage for cfg's storage on loop, recording into st; NULL with *cause (a storage
 * that cannot be set up: a token file refused, a missing directory...). */
struct filestore *filestore_new(struct ev_loop *loop, const struct conf *cfg,
    struct state *st, char **cause);
/* Free; runs in flight are abandoned without their done call. NULL is accepted. */
void filestore_free(struct filestore *fs);
/* Store the files of an observation of collection: 0 when there is nothing to do (no
 * storage, or every file stored already: go on now), 1 when done will follow (never
 * from inside this call). */
int filestore_run(struct filestore *fs, const char *collection, const char *observation,
    const struct filestore_file *files, size_t n, filestore_done_fn *done, void *arg);

#endif
