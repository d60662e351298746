/*
 * storage.h - storing files in an archive's storage, keyed by their
 * artifact URI, before their observation is pushed: the CADC storage
 * inventory (minoc's "files" service; store_si.c), a bucket of an
 * S3-compatible store (store_s3.c) or a directory (store_dir.c), behind
 * one interface, on the daemon's libev loop (libcurl's multi-socket API
 * through lib/curlev.h): no call blocks.
 *
 * Every put is idempotent: storage is asked first (a HEAD; for a directory,
 * the file in place), and a file it holds with the same MD5 is not sent
 * again; with the same MD5 but another content type or encoding only those
 * are updated. What is sent is checked: the MD5 goes with the bytes (SI:
 * "Digest: md5=<base64>", S3: Content-MD5 and x-amz-meta-md5, a directory
 * reads the copy back) and storage's answer must carry it back. Large
 * files go in pieces (SI: the put transaction's segments, S3: a multipart
 * upload) whose progress the caller keeps (storage_progress_fn) and hands
 * back after a restart, so that an upload resumes where storage says it
 * stands, or is aborted.
 *
 * File bytes are read (and hashed) off the loop, through the caller's
 * executor (storage_submit_fn: the daemon's worker threads, lib/work.h;
 * caom2ingest runs the work in place). Requests wait for one of
 * `concurrency` slots; transient failures (connection, timeout, 5xx, 408,
 * 429, 503 with Retry-After) are retried with backoff within a put, up to
 * its attempts; the outcome is classed as repo.h classes pushes. Messages
 * carry the service's text; credentials (client certificate, bearer token,
 * netrc, S3 keys) never reach a log or a message. The program initialises
 * libcurl first (curlev_global_init).
 */
#ifndef CAOM2INGEST_STORAGE_H
#define CAOM2INGEST_STORAGE_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct storage;
struct storage_req;

enum storage_kind {
	STORAGE_SI,		/* the CADC storage inventory */
	STORAGE_S3,		/* a bucket of an S3-compatible store */
	STORAGE_DIR		/* a directory */
};

/* Run fn(arg) where it may block, then done(arg) on the loop (never from inside the
 * submit call when fn runs elsewhere; in place, done may follow at once). */
typedef void storage_work_fn(void *arg);
typedef void storage_submit_fn(void *ctx, storage_work_fn *fn, storage_work_fn *done,
    void *arg);

struct storage_config {
	enum storage_kind kind;
	const char	*url;		/* si: files base, {url}/{URI}; s3: the endpoint */
	const char	*cert;		/* si: PEM certificate and unencrypted key, or NULL */
	const char	*token_file;	/* si: secret file of a bearer token, or NULL */
	const char	*netrc;		/* si: netrc file for HTTP basic, or NULL */
	const char	*ca_path;	/* si, s3: CA file or hashed directory; NULL: system */
	const char	*region;	/* s3: NULL: us-east-1 */
	const char	*credentials;	/* s3: AWS credentials file (lib/sigv4.h), or NULL */
	const char	*profile;	/* s3: its section, NULL: default */
	const char	*bucket;	/* s3 */
	const char	*prefix;	/* s3: of every key, or NULL */
	const char	*directory;	/* dir */
	uint64_t	 big;		/* si: put transaction from this size; s3: multipart */
	uint64_t	 piece;		/* si: preferred segment size; s3: part size */
	uint64_t	 timeout_ms;	/* connecting, and a stalled transfer; 0: 120000 */
	unsigned	 concurrency;	/* puts at once; 0: 4 */
	uint64_t	 retry_initial_ms;	/* backoff of transient failures */
	uint64_t	 retry_max_ms;
	unsigned	 retry_attempts;	/* attempts of a put; 0: 1 */
	storage_submit_fn *submit;	/* blocking file work */
	void		*submit_ctx;
};

/* One file to store. */
struct storage_file {
	const char	*path;
	const char	*uri;		/* the artifact URI: the storage key */
	const char	*md5;		/* "md5:<32 hex>" of its bytes (computed by the caller) */
	int64_t		 size;
	const char	*type;		/* Content-Type */
	const char	*encoding;	/* Content-Encoding, or NULL */
	const char	*progress;	/* what storage_progress_fn last said, or NULL */
};

enum storage_result {
	STORAGE_STORED,		/* sent and stored */
	STORAGE_PRESENT,	/* storage held these bytes already: nothing sent */
	STORAGE_UPDATED,	/* it held them with another type or encoding: those updated */
	STORAGE_TRANSIENT,	/* try again later */
	STORAGE_PERMANENT,	/* refused (4xx, checksum mismatch after retries, bad URI) */
	STORAGE_AUTH		/* authentication or authorisation refused (401, 403) */
};

/* A resumable upload's progress, to keep durably and hand back in storage_file.progress
 * (NULL: nothing to resume). Called before the bytes it covers are relied on. */
typedef void storage_progress_fn(void *arg, const char *progress);
/* The end of a put: result, a message (storage's text on failures), bytes sent. */
typedef void storage_done_fn(void *arg, enum storage_result result, const char *message,
    int64_t sent);

/* A store for cfg on loop; NULL with *cause (a token file refused, an unreadable
 * certificate, a TLS setting without https://, a missing directory, bad credentials). */
struct storage *storage_new(struct ev_loop *loop, const struct storage_config *cfg,
    char **cause);
/* Free; puts in flight are abandoned without their done call (the executor must have
 * finished: no work of this store may run any more). NULL is accepted. */
void storage_free(struct storage *st);
/* Store f (copied); progress (may be NULL) and done are called on the loop, done exactly
 * once, never from inside this call. */
void storage_put(struct storage *st, const struct storage_file *f, storage_progress_fn *progress,
    storage_done_fn *done, void *arg);
/* What and where it stores: "si:URL", "s3://BUCKET/PREFIX", "directory:DIR". */
const char *storage_target(const struct storage *st);
/* Where uri is stored: the URL of si and s3, the path of a directory (allocated), or NULL
 * with *cause when uri cannot be a key (an empty segment, "." or "..", no scheme). */
char *storage_locate(const struct storage *st, const char *uri, char **cause);
/* The name of a result ("stored", "present", ...). */
const char *storage_result_name(enum storage_result r);
/* The content encoding a file's name suggests (gzip for .gz), or NULL. */
const char *storage_encoding_of(const char *path);

#endif
