/*
 * sigv4.h - AWS Signature Version 4 for libcurl requests to an
 * S3-compatible store, shared by the object fetcher (sources/s3.c) and the
 * S3 file store (sinks/store_s3.c).
 *
 * The keys come from a profile of a file in the AWS shared-credentials
 * format (aws_access_key_id, aws_secret_access_key, aws_session_token),
 * read as a secret file (lib/fileio.h: mode 0600 or 0400, wiped); no value
 * read ever appears in a message. libcurl signs each request
 * (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"); the payload hash that S3
 * requires is sent, and signed, as x-amz-content-sha256.
 */
#ifndef CAOM2INGEST_SIGV4_H
#define CAOM2INGEST_SIGV4_H

#include <curl/curl.h>

/* SigV4's payload hash of an empty body, and of a body that is not hashed. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct sigv4 {
	char	*provider;	/* "aws:amz:REGION:s3" */
	char	*access;	/* NULL: requests go unsigned */
	char	*secret;
	char	*session;	/* "x-amz-security-token: ..." or NULL */
};

/* The region requests are signed for (NULL: us-east-1); 0, or -1 with *cause. */
int sigv4_set_region(struct sigv4 *sv, const char *region, char **cause);
/* Read profile (NULL: "default") of the credentials file at path; 0, or -1 with *cause
 * ("credentials file PATH: ..."). */
int sigv4_load(struct sigv4 *sv, const char *path, const char *profile, char **cause);
/* Have libcurl sign the request on e (when keys were loaded), with payload_sha256 (hex,
 * or SIGV4_UNSIGNED_PAYLOAD) as its payload hash; headers gain what signing needs. */
void sigv4_apply(const struct sigv4 *sv, CURL *e, struct curl_slist **headers,
    const char *payload_sha256);
/* Percent-encode s as SigV4 canonical URIs want: all but unreserved bytes (and '/' when
 * keep_slash); allocated. */
char *sigv4_encode(const char *s, int keep_slash);
/* Wipe and free the keys. */
void sigv4_clear(struct sigv4 *sv);

#endif
