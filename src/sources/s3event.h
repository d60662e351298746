/*
 * s3event.h - storage notifications into object events.
 *
 * Two shapes are understood: the S3 event JSON that AWS S3, MinIO and Ceph
 * RGW send (`Records[]` with `eventName`, `s3.bucket.name`, `s3.object.key`
 * URL-encoded, `size`, `eTag`, `versionId`, `sequencer`; a test event with
 * no Records is an empty list), and the direct announcement
 * `{"uri": "...", "collection": "..."}` (optional "size", "etag") that
 * producers publish for a file of their own. Parsing is pure: no I/O, no
 * state, so that it can be fuzzed.
 */
#ifndef CAOM2INGEST_S3EVENT_H
#define CAOM2INGEST_S3EVENT_H

#include <stddef.h>
#include <stdint.h>

enum s3event_kind {
	S3EVENT_CREATED,	/* ObjectCreated:*, or a direct announcement */
	S3EVENT_REMOVED,	/* ObjectRemoved:* */
	S3EVENT_OTHER		/* anything else (restore, tagging, ...) */
};

struct s3event {
	enum s3event_kind kind;
	char		*name;		/* eventName as sent, or "announce" */
	char		*bucket;	/* NULL for a direct announcement */
	char		*key;		/* decoded; NULL for a direct announcement */
	char		*uri;		/* direct announcement only */
	char		*collection;	/* direct announcement only (may be NULL) */
	int64_t		 size;		/* -1: unknown */
	char		*etag;		/* without quotes, or NULL */
	char		*version;	/* versionId, or NULL */
	char		*sequencer;	/* or NULL */
};

/* Largest number of records accepted in one notification. */
#define S3EVENT_MAX_RECORDS	10000

/* Parse a notification; 0 with *out (n entries, maybe 0), or -1 with *cause. */
int s3event_parse(const char *body, size_t len, struct s3event **out, size_t *n,
    char **cause);
/* Free what s3event_parse returned; NULL is accepted. */
void s3event_free(struct s3event *v, size_t n);
/* Order two sequencers (hex strings of any length, left-padded with zeros):
 * <0, 0, >0. A NULL or empty sequencer is older than any other. */
int s3event_seq_cmp(const char *a, const char *b);
/* Decode an S3 event key ('+' is a space, %XX a byte); NULL on a bad escape or a NUL byte. */
char *s3event_key_decode(const char *s);

#endif
