/*
 * s3event.c - S3 event JSON and direct announcements (jansson).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sources/s3event.h"
#include "lib/xmalloc.h"

/* Set *cause and return -1. */
static int __attribute__((format(printf, 2, 3)))
s3event_fail(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*cause = xvasprintf(fmt, ap);
	va_end(ap);
	return -1;
}

static int
s3event_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *
s3event_key_decode(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*o++ = ' ';
		else if (*s != '%')
			*o++ = *s;
		else {
			if ((hi = s3event_hex(s[1])) < 0 || (lo = s3event_hex(s[2])) < 0 ||
			    (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		}
	}
	*o = '\0';
	return out;
}

int
s3event_seq_cmp(const char *a, const char *b)
{
	size_t la, lb;
	int c;

	a = a != NULL ? a : "";
	b = b != NULL ? b : "";
	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	for (; *a != '\0'; a++, b++) {
		if ((c = tolower((unsigned char)*a) - tolower((unsigned char)*b)) != 0)
			return c;
	}
	return 0;
}

/* An optional string member; 0, or -1 when present with another type. */
static int
s3event_str(json_t *obj, const char *name, char **out, char **cause)
{
	json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		*cause = xasprintf("\"%s\" is not a string", name);
		return -1;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* size: a number, or a string of digits (some stores send one). */
static int
s3event_size(json_t *obj, int64_t *size, char **cause)
{
	json_t *v = json_object_get(obj, "size");
	const char *s;
	char *end;

	*size = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*size = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && *(s = json_string_value(v)) != '\0' &&
	    isdigit((unsigned char)*s)) {
		*size = strtoll(s, &end, 10);
		if (*end == '\0' && *size >= 0)
			return 0;
	}
	*cause = xstrdup("\"size\" is not a byte count");
	return -1;
}

/* Strip the quotes an ETag may carry. */
static void
s3event_unquote(char *etag)
{
	size_t n;

	if (etag == NULL || etag[0] != '"' || (n = strlen(etag)) < 2 || etag[n - 1] != '"')
		return;
	memmove(etag, etag + 1, n - 2);
	etag[n - 2] = '\0';
}

static enum s3event_kind
s3event_kind_of(const char *name)
{
	if (strncmp(name, "s3:", 3) == 0)	/* MinIO and Ceph prefix it */
		name += 3;
	if (strncmp(name, "ObjectCreated:", 14) == 0)
		return S3EVENT_CREATED;
	if (strncmp(name, "ObjectRemoved:", 14) == 0)
		return S3EVENT_REMOVED;
	return S3EVENT_OTHER;
}

static int
s3event_record(json_t *rec, struct s3event *e, char **cause)
{
	json_t *s3, *obj, *bucket;
	char *raw = NULL;
	int rc = -1;

	if (!json_is_object(rec) || s3event_str(rec, "eventName", &e->name, cause) != 0)
		return -1;
	if (e->name == NULL)
		return s3event_fail(cause, "no \"eventName\"");
	e->kind = s3event_kind_of(e->name);
	s3 = json_object_get(rec, "s3");
	bucket = json_object_get(s3, "bucket");
	obj = json_object_get(s3, "object");
	if (!json_is_object(bucket) || !json_is_object(obj))
		return s3event_fail(cause, "no \"s3.bucket\" or \"s3.object\"");
	if (s3event_str(bucket, "name", &e->bucket, cause) != 0 ||
	    s3event_str(obj, "key", &raw, cause) != 0 ||
	    s3event_size(obj, &e->size, cause) != 0 ||
	    s3event_str(obj, "eTag", &e->etag, cause) != 0 ||
	    s3event_str(obj, "versionId", &e->version, cause) != 0 ||
	    s3event_str(obj, "sequencer", &e->sequencer, cause) != 0)
		goto out;
	if (e->bucket == NULL || *e->bucket == '\0' || raw == NULL || *raw == '\0') {
		s3event_fail(cause, "no bucket name or object key");
		goto out;
	}
	if ((e->key = s3event_key_decode(raw)) == NULL) {
		*cause = xasprintf("object key \"%s\": bad %%-escape", raw);
		goto out;
	}
	s3event_unquote(e->etag);
	rc = 0;
out:
	free(raw);
	return rc;
}

static int
s3event_announce(json_t *root, struct s3event *e, char **cause)
{
	e->kind = S3EVENT_CREATED;
	e->name = xstrdup("announce");
	if (s3event_str(root, "uri", &e->uri, cause) != 0 ||
	    s3event_str(root, "collection", &e->collection, cause) != 0 ||
	    s3event_size(root, &e->size, cause) != 0 ||
	    s3event_str(root, "etag", &e->etag, cause) != 0)
		return -1;
	if (e->uri == NULL || *e->uri == '\0')
		return s3event_fail(cause, "\"uri\" is empty");
	s3event_unquote(e->etag);
	return 0;
}

static int
s3event_records(json_t *records, struct s3event **out, size_t *n, char **cause)
{
	size_t i, count = json_array_size(records);
	char *why = NULL;

	if (!json_is_array(records))
		return s3event_fail(cause, "\"Records\" is not an array");
	if (count > S3EVENT_MAX_RECORDS)
		return s3event_fail(cause, "%zu records (at most %d)", count,
		    S3EVENT_MAX_RECORDS);
	*out = xcalloc(count + 1, sizeof **out);
	for (i = 0; i < count; i++) {
		if (s3event_record(json_array_get(records, i), &(*out)[i], &why) != 0) {
			*cause = xasprintf("record %zu: %s", i, why != NULL ? why :
			    "not an object");
			free(why);
			s3event_free(*out, i + 1);
			*out = NULL;
			return -1;
		}
	}
	*n = count;
	return 0;
}

int
s3event_parse(const char *body, size_t len, struct s3event **out, size_t *n, char **cause)
{
	json_error_t err;
	json_t *root, *records;
	int rc;

	*out = NULL;
	*n = 0;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		*cause = xasprintf("not JSON: %s (byte %d)", err.text, err.position);
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return s3event_fail(cause, "not a JSON object");
	}
	if ((records = json_object_get(root, "Records")) != NULL)
		rc = s3event_records(records, out, n, cause);
	else if (json_object_get(root, "uri") != NULL) {
		*out = xcalloc(1, sizeof **out);
		if ((rc = s3event_announce(root, *out, cause)) == 0)
			*n = 1;
		else {
			s3event_free(*out, 1);
			*out = NULL;
		}
	} else if (json_object_get(root, "Event") != NULL)	/* s3:TestEvent */
		rc = 0;
	else
		rc = s3event_fail(cause, "neither \"Records\" nor \"uri\"");
	json_decref(root);
	return rc;
}

void
s3event_free(struct s3event *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].bucket);
		free(v[i].key);
		free(v[i].uri);
		free(v[i].collection);
		free(v[i].etag);
		free(v[i].version);
		free(v[i].sequencer);
	}
	free(v);
}
