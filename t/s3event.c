/*
 * t/s3event.c - storage notifications: S3 event JSON (AWS, MinIO, Ceph
 * shapes), direct announcements, malformed bodies, key decoding and
 * sequencer order.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sources/s3event.h"
#include "tap.h"

/* An AWS S3 notification (version 2.1, as the documentation shows it). */
static const char aws[] =
    "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
    "\"awsRegion\":\"us-west-2\",\"eventTime\":\"2026-11-23T12:00:00.000Z\","
    "\"eventName\":\"ObjectCreated:Put\",\"userIdentity\":{\"principalId\":\"X\"},"
    "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":\"c\","
    "\"bucket\":{\"name\":\"omm-raw\",\"ownerIdentity\":{\"principalId\":\"X\"},"
    "\"arn\":\"arn:aws:s3:::omm-raw\"},"
    "\"object\":{\"key\":\"raw/C230101_0001_SCI+%281%29.fits\",\"size\":1024,"
    "\"eTag\":\"0123456789abcdef0123456789abcdef\",\"versionId\":\"v1\","
    "\"sequencer\":\"0055AED6DCD90281E5\"}}},"
    "{\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"omm-raw\"},"
    "\"object\":{\"key\":\"old.fits\",\"sequencer\":\"0055AED6DCD90281E6\"}}}]}";

/* MinIO prefixes event names with "s3:", sends size as a number and quotes ETags. */
static const char minio[] =
    "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"b/k\",\"Records\":[{"
    "\"eventName\":\"s3:ObjectCreated:CompleteMultipartUpload\",\"s3\":{"
    "\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"dir%2Fa%20b.fits\","
    "\"size\":\"2048\",\"eTag\":\"\\\"d41d8cd98f00b204e9800998ecf8427e-2\\\"\","
    "\"sequencer\":\"17A4\"}}}]}";

static void
test_aws(void)
{
	struct s3event *e;
	char *cause = NULL;
	size_t n;

	ok(s3event_parse(aws, strlen(aws), &e, &n, &cause) == 0, "an AWS notification parses");
	is_int(2, (long long)n, "two records");
	is_int(S3EVENT_CREATED, e[0].kind, "ObjectCreated:Put is a creation");
	is_string("omm-raw", e[0].bucket, "bucket name");
	is_string("raw/C230101_0001_SCI (1).fits", e[0].key, "key URL-decoded ('+' and %%XX)");
	is_int(1024, e[0].size, "size");
	is_string("0123456789abcdef0123456789abcdef", e[0].etag, "eTag");
	is_string("v1", e[0].version, "versionId");
	is_string("0055AED6DCD90281E5", e[0].sequencer, "sequencer");
	is_int(S3EVENT_REMOVED, e[1].kind, "ObjectRemoved:Delete is a removal");
	is_int(-1, e[1].size, "no size: -1");
	ok(e[1].etag == NULL && e[1].version == NULL, "no eTag, no versionId: NULL");
	s3event_free(e, n);
}

static void
test_minio(void)
{
	struct s3event *e;
	char *cause = NULL;
	size_t n;

	ok(s3event_parse(minio, strlen(minio), &e, &n, &cause) == 0, "a MinIO notification parses");
	is_int(1, (long long)n, "one record");
	is_int(S3EVENT_CREATED, e[0].kind, "s3:ObjectCreated:... is a creation");
	is_string("dir/a b.fits", e[0].key, "%%2F and %%20 decoded");
	is_int(2048, e[0].size, "a size given as a string of digits");
	is_string("d41d8cd98f00b204e9800998ecf8427e-2", e[0].etag, "quotes stripped from eTag");
	s3event_free(e, n);
}

static void
test_announce(void)
{
	static const char a[] = "{\"uri\":\"file:///srv/x/C1_SCI.fits\",\"collection\":\"OMM\","
	    "\"size\":7}";
	static const char b[] = "{\"uri\":\"https://h.example/p/y.fits\"}";
	static const char t[] = "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\","
	    "\"Bucket\":\"b\"}";
	struct s3event *e;
	char *cause = NULL;
	size_t n;

	ok(s3event_parse(a, strlen(a), &e, &n, &cause) == 0 && n == 1, "an announcement parses");
	is_string("file:///srv/x/C1_SCI.fits", e[0].uri, "its uri");
	is_string("OMM", e[0].collection, "its collection");
	is_int(7, e[0].size, "its size");
	ok(e[0].bucket == NULL && e[0].key == NULL, "no bucket or key");
	s3event_free(e, n);
	ok(s3event_parse(b, strlen(b), &e, &n, &cause) == 0 && n == 1 &&
	    e[0].collection == NULL, "an announcement without a collection parses");
	s3event_free(e, n);
	ok(s3event_parse(t, strlen(t), &e, &n, &cause) == 0 && n == 0,
	    "the S3 test event is an empty list");
	s3event_free(e, n);
}

static void
bad(const char *body, const char *why, const char *what)
{
	struct s3event *e = (struct s3event *)1;
	char *cause = NULL;
	size_t n = 99;
	int rc = s3event_parse(body, strlen(body), &e, &n, &cause);

	ok(rc == -1 && e == NULL && n == 0, "refused: %s", what);
	ok(cause != NULL && strstr(cause, why) != NULL, "... because \"%s\" (got \"%s\")", why,
	    cause ? cause : "(null)");
	free(cause);
}

static void
test_bad(void)
{
	bad("", "not JSON", "an empty body");
	bad("{\"Records\":[", "not JSON", "truncated JSON");
	bad("[1,2]", "not a JSON object", "an array");
	bad("{\"a\":1}", "neither \"Records\" nor \"uri\"", "an unrelated object");
	bad("{\"Records\":{}}", "\"Records\" is not an array", "Records not a list");
	bad("{\"Records\":[1]}", "record 0: not an object", "a record that is a number");
	bad("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\"}]}", "record 0: no \"s3.bucket\"",
	    "a record without s3");
	bad("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
	    "\"object\":{\"key\":\"a%zz\"}}}]}", "bad %-escape", "a bad escape in a key");
	bad("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
	    "\"object\":{\"key\":\"a%00b\"}}}]}", "bad %-escape", "a NUL byte in a key");
	bad("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
	    "\"object\":{\"key\":\"k\",\"size\":-5}}}]}", "not a byte count", "a negative size");
	bad("{\"Records\":[{\"eventName\":7,\"s3\":{}}]}", "\"eventName\" is not a string",
	    "a numeric eventName");
	bad("{\"uri\":\"\"}", "\"uri\" is empty", "an empty uri");
	bad("{\"uri\":\"a\",\"uri\":\"b\"}", "not JSON", "duplicate keys");
}

static void
test_seq(void)
{
	ok(s3event_seq_cmp("0055AED6DCD90281E5", "0055AED6DCD90281E6") < 0, "sequencers in order");
	ok(s3event_seq_cmp("55AED6DCD90281E6", "0055AED6DCD90281E5") > 0,
	    "shorter value left-padded with zeros");
	ok(s3event_seq_cmp("00ff", "FF") == 0, "case and leading zeros do not count");
	ok(s3event_seq_cmp("100", "FF") > 0, "longer significant part is later");
	ok(s3event_seq_cmp(NULL, "1") < 0 && s3event_seq_cmp("1", "") > 0,
	    "no sequencer is older than any");
}

static void
test_decode(void)
{
	char *s;

	is_string("a b/c+d", (s = s3event_key_decode("a+b%2Fc%2Bd")), "key decoding");
	free(s);
	ok(s3event_key_decode("abc%2") == NULL, "a truncated escape is refused");
}

int
main(void)
{
	plan_lazy();
	test_aws();
	test_minio();
	test_announce();
	test_bad();
	test_seq();
	test_decode();
	return 0;
}
