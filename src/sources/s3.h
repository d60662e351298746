/*
 * s3.h - fetching objects and listing buckets of an S3-compatible store
 * (AWS S3, MinIO, Ceph RGW), on libcurl's multi-socket API driven by the
 * daemon's libev loop (as repo.c does): no call blocks.
 *
 * Requests to the endpoint are signed with AWS Signature Version 4
 * (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"), path-style URLs
 * (ENDPOINT/BUCKET/KEY, the key percent-encoded per segment). Credentials
 * come from a file in the AWS shared-credentials format, read as a secret
 * file (lib/fileio.h: mode 0600 or 0400, wiped), and never reach a log or
 * an error message.
 *
 * A fetch writes DIR/.NAME.part, checks the size and the ETag (a plain
 * 32-hex ETag is the MD5 of the content; a multipart "…-N" ETag is not
 * checked) when given, fsyncs, and renames it to DIR/NAME: the file appears
 * complete or not at all. s3:// goes to the endpoint, https:// and http://
 * are fetched as they are (no signature), file:// is copied.
 *
 * The program initialises libcurl (curlev_global_init) and libxml2
 * (caom_xml_init) at start-up, before any thread: s3_new does not.
 */
#ifndef CAOM2INGEST_S3_H
#define CAOM2INGEST_S3_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct s3;

struct s3_config {
	const char	*endpoint;	/* http(s)://host[:port], NULL: no s3:// URLs */
	const char	*region;	/* NULL: "us-east-1" */
	const char	*credentials;	/* AWS credentials file: [default] aws_access_key_id,
					   aws_secret_access_key; NULL: unsigned requests */
	const char	*profile;	/* section of that file, NULL: "default" */
	const char	*ca_path;	/* CA bundle file or rehashed directory, NULL: system */
	uint64_t	 timeout_ms;	/* per request, 0: 60000 */
	unsigned	 concurrency;	/* transfers at once, 0: 8 */
};

enum s3_result {
	S3_OK,
	S3_TRANSIENT,		/* connection, timeout, 5xx, 429, 503 SlowDown: try later */
	S3_PERMANENT,		/* 4xx (NoSuchKey, AccessDenied, SignatureDoesNotMatch),
				   size or ETag mismatch, bad URL, local write error */
};

/* The end of a fetch or listing: result, HTTP status (0: none) and a message. */
typedef void s3_done_fn(void *arg, enum s3_result result, long status, const char *message);

/* One listed object: key (decoded), size, ETag without quotes, LastModified as Unix ms. */
struct s3_object {
	const char	*key;
	int64_t		 size;
	const char	*etag;
	int64_t		 mtime_ms;
};
typedef void s3_each_fn(void *arg, const struct s3_object *o);

/* A client; NULL with *cause (a credentials file refused or incomplete, bad endpoint). */
struct s3 *s3_new(struct ev_loop *loop, const struct s3_config *cfg, char **cause);
/* Fetch url into dir/name (see above); size < 0 and etag NULL: unchecked. done is called
 * once, later, on the loop. */
void s3_fetch(struct s3 *s, const char *url, const char *dir, const char *name, int64_t size,
    const char *etag, s3_done_fn *done, void *arg);
/* List every object of bucket under prefix (ListObjectsV2, following continuation tokens):
 * each() per object, then done() once. */
void s3_list(struct s3 *s, const char *bucket, const char *prefix, s3_each_fn *each,
    s3_done_fn *done, void *arg);
/* Cancel everything (each done() is called with S3_TRANSIENT "cancelled") and free;
 * NULL is accepted. */
void s3_free(struct s3 *s);

#endif
