/*
 * store_s3.c - a bucket of an S3-compatible store (AWS S3, MinIO, Ceph
 * RGW): the key of a file is the bucket's prefix followed by its artifact
 * URI with the scheme's ':' as '/' (cadc:OMM/x.fits under prefix omm/ is
 * omm/cadc/OMM/x.fits); requests are signed with SigV4 (lib/sigv4.h).
 *
 * A HEAD first: an object whose x-amz-meta-md5 (or, without it, whose
 * single-part ETag) is our MD5, with our content type, is left alone; with
 * another type, it is copied onto itself with the new type
 * (x-amz-metadata-directive: REPLACE). Otherwise, below the multipart
 * threshold, one PUT with Content-MD5 and x-amz-meta-md5 (a multipart
 * ETag is no MD5), conditional: If-None-Match: * when there was no object,
 * If-Match: its ETag when there was one; a 412 means another writer came
 * between, and the HEAD is made again. At or above the threshold, a
 * multipart upload: parts of part_size read into memory (and hashed) on
 * the executor, each PUT with its Content-MD5; the upload id and the
 * parts' ETags are the put's progress ("s3-mpu ID PARTSIZE MD5 ETAG..."),
 * so that after a restart the upload goes on with the next part (the
 * parts recorded are trusted; a completion that storage refuses starts
 * over); the completion is checked with a HEAD; a put given up is
 * aborted (DELETE ?uploadId).
 */
#include "config.h"

#include "sinks/storage_int.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lib/log.h"
#include "lib/xmalloc.h"

#define S3_CONFLICTS	3		/* 412s from other writers, HEAD again */

struct s3_bucket {
	char		*bucket;
	char		*prefix;
};

struct s3_put {
	char			*key;
	char			*url;		/* endpoint/bucket/key, encoded */
	char			*etag;		/* of the object the HEAD saw, or NULL */
	int			 exists;
	int			 mismatches;
	int			 conflicts;
	char			*upload;	/* multipart upload id, or NULL */
	int64_t			 part;		/* part size */
	char			**etags;	/* of the parts done */
	size_t			 nparts;
	char			*buf;		/* the part being sent */
	size_t			 buflen;
	char			 bufmd5[37];
	int			 buferr;
	MD5_CTX			 sent;		/* of the parts read, in order */
	MD5_CTX			 sent_before;	/* before the part being sent */
	char			*xml;		/* the completion's body */
	size_t			 stored_parts;	/* of the completed upload */
	int			 restart;
	enum storage_result	 after;
	char			*aftermsg;
};

static void s3p_head(struct storage_req *q);
static void s3p_part_next(struct storage_req *q);

static struct s3_put *
s3p(struct storage_req *q)
{
	return q->be;
}

static char *
s3p_hex(const char *md5)
{
	return xstrdup(strncmp(md5, "md5:", 4) == 0 ? md5 + 4 : md5);
}

/* The first element named name in an XML body, its text (allocated), or NULL. */
static char *
s3p_xml_text(const char *body, size_t len, const char *name)
{
	xmlDoc *doc;
	xmlNode *n, *next;
	char *out = NULL;
	xmlChar *t;

	if (body == NULL || len == 0 || (doc = xmlReadMemory(body, (int)len, "s3.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) == NULL)
		return NULL;
	for (n = xmlDocGetRootElement(doc); n != NULL && out == NULL; n = next) {
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0) {
			t = xmlNodeGetContent(n);
			out = xstrdup(t != NULL ? (const char *)t : "");
			xmlFree(t);
			break;
		}
		/* depth first */
		if ((next = n->children) == NULL) {
			while (n != NULL && n->next == NULL)
				n = n->parent;
			next = n != NULL ? n->next : NULL;
		}
	}
	xmlFreeDoc(doc);
	return out;
}

/* Append to a string (allocated) in place. */
static void __attribute__((format(printf, 2, 3)))
s3p_cat(char **s, const char *fmt, ...)
{
	va_list ap;
	char *add, *both;

	va_start(ap, fmt);
	add = xvasprintf(fmt, ap);
	va_end(ap);
	both = xasprintf("%s%s", *s != NULL ? *s : "", add);
	free(add);
	free(*s);
	*s = both;
}

static char *
s3p_locate(const struct storage *st, const char *uri, char **cause)
{
	const struct s3_bucket *b = st->bs;
	char *rel = storage_uri_path(uri, cause), *key, *enc, *url;

	if (rel == NULL)
		return NULL;
	key = xasprintf("%s%s", b->prefix != NULL ? b->prefix : "", rel);
	enc = sigv4_encode(key, 1);
	url = xasprintf("%s/%s/%s", st->url, b->bucket, enc);
	free(enc);
	free(key);
	free(rel);
	return url;
}

static void
s3p_progress(struct storage_req *q)
{
	struct s3_put *p = s3p(q);
	char *hex, *text = NULL;
	size_t i;

	if (p->upload == NULL) {
		storage_set_progress(q, NULL);
		return;
	}
	hex = s3p_hex(q->f.md5);
	s3p_cat(&text, "s3-mpu %s %" PRId64 " %s", p->upload, p->part, hex);
	for (i = 0; i < p->nparts; i++)
		s3p_cat(&text, " %s", p->etags[i]);
	free(hex);
	storage_set_progress(q, text);
	free(text);
}

/* The S3 error code of the response, or "". */
static char *
s3p_code(const struct storage_req *q)
{
	char *c = s3p_xml_text(q->body, q->bodylen, "Code");

	return c != NULL ? c : xstrdup("");
}

/* ---- abort ------------------------------------------------------------------ */

static void
s3p_forget_upload(struct s3_put *p)
{
	size_t i;

	free(p->upload);
	p->upload = NULL;
	for (i = 0; i < p->nparts; i++)
		free(p->etags[i]);
	free(p->etags);
	p->etags = NULL;
	p->nparts = 0;
}

static void
s3p_after_abort(struct storage_req *q, CURLcode code)
{
	struct s3_put *p = s3p(q);
	char *m;

	/* a store without AbortMultipartUpload (405, 501) leaves it to its own expiry */
	s3p_forget_upload(p);
	s3p_progress(q);
	if (p->restart) {
		p->restart = 0;
		s3p_head(q);
		return;
	}
	m = p->aftermsg;
	p->aftermsg = NULL;
	storage_end(q, p->after, 0, "%s%s", m, code == CURLE_OK && q->status < 300 ?
	    " (upload aborted)" : "");
	free(m);
}

static void
s3p_abort(struct storage_req *q, int restart, enum storage_result r, char *msg)
{
	struct s3_put *p = s3p(q);

	p->restart = restart;
	p->after = r;
	free(p->aftermsg);
	p->aftermsg = msg != NULL ? msg : xstrdup("");
	storage_http_begin(q, "DELETE", xasprintf("%s?uploadId=%s", p->url, p->upload),
	    SIGV4_EMPTY_SHA256);
	storage_http_send(q, s3p_after_abort);
}

static void
s3p_upload_fail(struct storage_req *q, const char *what, CURLcode code)
{
	enum storage_result r;
	long ra;
	char *m = storage_http_why(q, what, code, &r, &ra);

	if (r == STORAGE_TRANSIENT) {
		storage_end(q, r, ra, "%s", m);
		free(m);
		return;
	}
	s3p_abort(q, 0, r, m);
}

/* ---- multipart -------------------------------------------------------------- */

static void
s3p_after_verify(struct storage_req *q, CURLcode code)
{
	struct s3_put *p = s3p(q);
	const char *meta = storage_http_get(q, "x-amz-meta-md5"), *len;
	char *hex = s3p_hex(q->f.md5);

	len = storage_http_get(q, "Content-Length");
	if (code == CURLE_OK && q->status == 200 && meta != NULL &&
	    strcasecmp(meta, hex) == 0 && len != NULL && strtoll(len, NULL, 10) == q->f.size) {
		q->sent = q->f.size;
		storage_end(q, STORAGE_STORED, 0, "stored at %s in %zu parts", p->url,
		    p->stored_parts);
	} else if (code != CURLE_OK || q->status != 200)
		storage_http_fail(q, "HEAD (after the upload)", code);
	else
		storage_end(q, STORAGE_PERMANENT, 0, "HEAD %s after the upload: %s bytes, "
		    "x-amz-meta-md5 %s; %" PRId64 ", %s expected", p->url, len ? len : "?",
		    meta ? meta : "missing", q->f.size, hex);
	free(hex);
}

static void
s3p_after_complete(struct storage_req *q, CURLcode code)
{
	struct s3_put *p = s3p(q);
	char *err = code == CURLE_OK ? s3p_xml_text(q->body, q->bodylen, "Error") : NULL;
	char *c = s3p_code(q);

	/* S3 may answer 200 and put the error in the body */
	if (code == CURLE_OK && q->status == 200 && err == NULL) {
		p->stored_parts = p->nparts;
		s3p_forget_upload(p);
		s3p_progress(q);
		storage_http_begin(q, "HEAD", xstrdup(p->url), SIGV4_EMPTY_SHA256);
		storage_http_send(q, s3p_after_verify);
	} else if (code == CURLE_OK && (q->status == 404 || strcmp(c, "NoSuchUpload") == 0)) {
		s3p_forget_upload(p);		/* gone (expired?): from the HEAD again */
		s3p_progress(q);
		s3p_head(q);
	} else if (code == CURLE_OK && q->status == 412)
		s3p_abort(q, 1, STORAGE_TRANSIENT, NULL);	/* another writer came first */
	else
		s3p_upload_fail(q, "POST (complete the upload)", code);
	free(err);
	free(c);
}

static void
s3p_complete(struct storage_req *q)
{
	struct s3_put *p = s3p(q);
	char want[37];
	size_t i;

	storage_md5_peek(&p->sent, want);
	if (strcmp(want, q->f.md5) != 0) {
		s3p_abort(q, 0, STORAGE_TRANSIENT, xasprintf("%s changed while being stored "
		    "(its parts hash to %s, not %s)", q->f.path, want, q->f.md5));
		return;
	}
	free(p->xml);
	p->xml = NULL;
	s3p_cat(&p->xml, "<CompleteMultipartUpload>");
	for (i = 0; i < p->nparts; i++)
		s3p_cat(&p->xml, "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag></Part>",
		    i + 1, p->etags[i]);
	s3p_cat(&p->xml, "</CompleteMultipartUpload>");
	storage_http_begin(q, "POST", xasprintf("%s?uploadId=%s", p->url, p->upload),
	    SIGV4_UNSIGNED_PAYLOAD);
	storage_http_header(q, "Content-Type: application/xml");
	if (!p->exists)
		storage_http_header(q, "If-None-Match: *");
	storage_http_body_mem(q, p->xml, strlen(p->xml));
	storage_http_send(q, s3p_after_complete);
}

static char *
s3p_unquote(const char *etag)
{
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
		return xstrndup(etag + 1, n - 2);
	return xstrdup(etag);
}

static void
s3p_after_part(struct storage_req *q, CURLcode code)
{
	struct s3_put *p = s3p(q);
	const char *etag = storage_http_get(q, "ETag");
	char *c;

	if (code == CURLE_OK && q->status == 200 && etag != NULL) {
		p->etags = xreallocarray(p->etags, p->nparts + 1, sizeof *p->etags);
		p->etags[p->nparts++] = s3p_unquote(etag);
		q->sent += (int64_t)p->buflen;
		s3p_progress(q);
		s3p_part_next(q);
		return;
	}
	c = s3p_code(q);
	if (code == CURLE_OK && strcmp(c, "BadDigest") == 0 &&
	    ++p->mismatches <= STORAGE_MISMATCHES) {
		p->sent = p->sent_before;	/* read the part again */
		free(c);
		s3p_part_next(q);
		return;
	}
	free(c);
	if (code == CURLE_OK && (q->status == 404))	/* NoSuchUpload */
		s3p_abort(q, 1, STORAGE_TRANSIENT, NULL);
	else
		s3p_upload_fail(q, "PUT (part)", code);
}

struct s3_load {
	struct storage_req	*q;
	char			*path;
	int64_t			 off;
	size_t			 len;
	char			*buf;
	int			 err;
	MD5_CTX			 whole;		/* of every part so far */
	char			 md5[37];
};

/* On the executor: the part into memory, hashed. */
static void
s3p_load_run(void *arg)
{
	struct s3_load *l = arg;
	size_t got = 0;
	ssize_t n;
	MD5_CTX c;
	int fd;

	l->buf = xmalloc(l->len > 0 ? l->len : 1);
	if ((fd = open(l->path, O_RDONLY | O_CLOEXEC)) < 0) {
		l->err = errno;
		return;
	}
	while (got < l->len) {
		n = pread(fd, l->buf + got, l->len - got, (off_t)(l->off + (int64_t)got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			l->err = n < 0 ? errno : ENODATA;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (l->err != 0)
		return;
	MD5_Init(&c);
	MD5_Update(&c, l->buf, l->len);
	storage_md5_peek(&c, l->md5);
	MD5_Update(&l->whole, l->buf, l->len);
}

static void
s3p_load_done(void *arg)
{
	struct s3_load *l = arg;
	struct storage_req *q = l->q;
	struct s3_put *p = s3p(q);
	char b64[25];

	if (l->err != 0) {
		s3p_abort(q, 0, STORAGE_TRANSIENT, xasprintf("%s: %s", q->f.path,
		    l->err == ENODATA ? "shorter than it was: it changed while being stored" :
		    strerror(l->err)));
		free(l->buf);
		free(l->path);
		free(l);
		return;
	}
	free(p->buf);
	p->buf = l->buf;
	p->buflen = l->len;
	memcpy(p->bufmd5, l->md5, sizeof p->bufmd5);
	p->sent_before = p->sent;
	p->sent = l->whole;
	storage_md5_b64(p->bufmd5, b64);
	storage_http_begin(q, "PUT", xasprintf("%s?partNumber=%zu&uploadId=%s", p->url,
	    p->nparts + 1, p->upload), SIGV4_UNSIGNED_PAYLOAD);
	storage_http_header(q, "Content-MD5: %s", b64);
	storage_http_body_mem(q, p->buf, p->buflen);
	q->timed = 1;
	storage_http_send(q, s3p_after_part);
	free(l->path);
	free(l);
}

static void
s3p_part_next(struct storage_req *q)
{
	struct s3_put *p = s3p(q);
	int64_t off = (int64_t)p->nparts * p->part;
	struct s3_load *l;

	if (off >= q->f.size) {
		s3p_complete(q);
		return;
	}
	l = xcalloc(1, sizeof *l);
	l->q = q;
	l->path = xstrdup(q->f.path);
	l->off = off;
	l->len = (size_t)(q->f.size - off < p->part ? q->f.size - off : p->part);
	l->whole = p->sent;
	storage_submit(q->st, s3p_load_run, s3p_load_done, l);
}

static void
s3p_after_initiate(struct storage_req *q, CURLcode code)
{
	struct s3_put *p = s3p(q);
	char *id;

	if (code != CURLE_OK || q->status != 200) {
		storage_http_fail(q, "POST (start a multipart upload)", code);
		return;
	}
	if ((id = s3p_xml_text(q->body, q->bodylen, "UploadId")) == NULL || *id == '\0') {
		free(id);
		storage_end(q, STORAGE_PERMANENT, 0, "POST %s: no UploadId in the answer", q->url);
		return;
	}
	p->upload = id;
	MD5_Init(&p->sent);
	s3p_progress(q);
	s3p_part_next(q);
}

static void
s3p_describe(struct storage_req *q)
{
	char *hex = s3p_hex(q->f.md5);

	storage_http_header(q, "Content-Type: %s", q->f.type);
	if (q->f.encoding != NULL)
		storage_http_header(q, "Content-Encoding: %s", q->f.encoding);
	storage_http_header(q, "x-amz-meta-md5: %s", hex);
	free(hex);
}

static void
s3p_initiate(struct storage_req *q)
{
	struct s3_put *p = s3p(q);

	p->part = (int64_t)q->st->piece;
	/* "uploads=": libcurl 7.88 signs the query as written, and SigV4's canonical form of
	 * a key without a value has the '=' */
	storage_http_begin(q, "POST", xasprintf("%s?uploads=", p->url), SIGV4_EMPTY_SHA256);
	s3p_describe(q);
	storage_http_body_none(q);
	storage_http_send(q, s3p_after_initiate);
}

/* After a restart: the parts recorded are hashed again, then the next goes. */
static void
s3p_rehashed(struct storage_req *q, int err)
{
	struct s3_put *p = s3p(q);

	if (err != 0) {
		s3p_abort(q, 0, STORAGE_TRANSIENT, xasprintf("%s: %s", q->f.path,
		    err == ENODATA ? "shorter than its parts stored" : strerror(err)));
		return;
	}
	q->sent = (int64_t)p->nparts * p->part;
	log_at(LOG_INFO, 0, LOG_FIELDS({ "FILE", q->f.path }, { "URI", q->f.uri }),
	    "storing %s: resuming multipart upload %s at part %zu", q->f.uri, p->upload,
	    p->nparts + 1);
	s3p_part_next(q);
}

/* ---- one PUT ------------------------------------------------------------------ */

static void s3p_put_whole(struct storage_req *q);

/* After a BadDigest or another ETag: was it the file that changed (its MD5 now)? */
static void
s3p_checked(struct storage_req *q, int err)
{
	struct s3_put *p = s3p(q);
	char now[37];

	storage_md5_peek(&p->sent, now);
	if (err != 0 || strcmp(now, q->f.md5) != 0) {
		storage_end(q, STORAGE_TRANSIENT, 0, "%s changed while being stored (%s, not %s)",
		    q->f.path, err != 0 ? "shorter now" : now, q->f.md5);
		return;
	}
	if (++p->mismatches <= STORAGE_MISMATCHES) {
		s3p_put_whole(q);
		return;
	}
	storage_end(q, STORAGE_PERMANENT, 0, "%s (checksum mismatch, sent %d times)",
	    p->aftermsg, p->mismatches);
}

/* Is an ETag a plain MD5 (a single PUT without SSE-KMS) other than ours? */
static int
s3p_other_md5(const char *etag, const char *md5)
{
	char *e = etag != NULL ? s3p_unquote(etag) : NULL, *hex = s3p_hex(md5);
	int other = e != NULL && strlen(e) == 32 && strspn(e, "0123456789abcdefABCDEF") == 32 &&
	    strcasecmp(e, hex) != 0;

	free(e);
	free(hex);
	return other;
}

/*
 * The bytes are not hashed as they go: S3 checks them against Content-MD5 (BadDigest)
 * and a single PUT's ETag is their MD5. Only then is the file hashed again, to tell a
 * file that changed under the put (transient) from a transfer that went wrong.
 */
static void
s3p_after_put(struct storage_req *q, CURLcode code)
{
	struct s3_put *p = s3p(q);
	const char *etag = code == CURLE_OK ? storage_http_get(q, "ETag") : NULL;
	enum storage_result r;
	char *c;
	long ra;

	if (code == CURLE_OK && q->status == 200 && !s3p_other_md5(etag, q->f.md5)) {
		q->sent = q->f.size;
		storage_end(q, STORAGE_STORED, 0, "stored at %s", p->url);
		return;
	}
	if (code == CURLE_OK && (q->status == 412 || q->status == 409) &&
	    ++p->conflicts <= S3_CONFLICTS) {
		s3p_head(q);		/* another writer came between: look again */
		return;
	}
	c = code == CURLE_OK ? s3p_code(q) : xstrdup("");
	if (code == CURLE_OK && (q->status == 200 || strcmp(c, "BadDigest") == 0)) {
		free(p->aftermsg);
		p->aftermsg = q->status == 200 ? xasprintf("PUT %s: stored with ETag %s, not %s",
		    p->url, etag, q->f.md5) : storage_http_why(q, "PUT", code, &r, &ra);
		free(c);
		storage_hash_prefix(q, q->f.size, &p->sent, s3p_checked);
		return;
	}
	free(c);
	storage_http_fail(q, "PUT", code);
}

static void
s3p_put_whole(struct storage_req *q)
{
	struct s3_put *p = s3p(q);
	char b64[25];

	storage_http_begin(q, "PUT", xstrdup(p->url), SIGV4_UNSIGNED_PAYLOAD);
	s3p_describe(q);
	if (storage_md5_b64(q->f.md5, b64) == 0)
		storage_http_header(q, "Content-MD5: %s", b64);
	if (p->exists && p->etag != NULL)
		storage_http_header(q, "If-Match: \"%s\"", p->etag);
	else if (!p->exists)
		storage_http_header(q, "If-None-Match: *");
	storage_http_body_file(q, 0, q->f.size, NULL);
	storage_http_send(q, s3p_after_put);
}

/* ---- asking first --------------------------------------------------------------- */

static void
s3p_after_copy(struct storage_req *q, CURLcode code)
{
	char *err = code == CURLE_OK ? s3p_xml_text(q->body, q->bodylen, "Error") : NULL;

	if (code == CURLE_OK && q->status == 200 && err == NULL)
		storage_end(q, STORAGE_UPDATED, 0, "already stored at %s; its type updated to %s",
		    s3p(q)->url, q->f.type);
	else
		storage_http_fail(q, "PUT (copy onto itself, new type)", code);
	free(err);
}

/* The same bytes with another type: the object copied onto itself with the new one. */
static void
s3p_copy(struct storage_req *q)
{
	struct s3_put *p = s3p(q);
	const struct s3_bucket *b = q->st->bs;
	char *enc = sigv4_encode(p->key, 1);

	storage_http_begin(q, "PUT", xstrdup(p->url), SIGV4_EMPTY_SHA256);
	storage_http_header(q, "x-amz-copy-source: /%s/%s", b->bucket, enc);
	storage_http_header(q, "x-amz-metadata-directive: REPLACE");
	s3p_describe(q);
	if (p->etag != NULL)
		storage_http_header(q, "x-amz-copy-source-if-match: \"%s\"", p->etag);
	storage_http_body_none(q);
	storage_http_send(q, s3p_after_copy);
	free(enc);
}

static int
s3p_same(const char *a, const char *b)
{
	return (a == NULL || *a == '\0') ? (b == NULL || *b == '\0') :
	    (b != NULL && strcasecmp(a, b) == 0);
}

static void
s3p_after_head(struct storage_req *q, CURLcode code)
{
	struct s3_put *p = s3p(q);
	const char *meta, *etag;
	char *hex = s3p_hex(q->f.md5), *e;
	int same;

	if (code == CURLE_OK && q->status == 200) {
		meta = storage_http_get(q, "x-amz-meta-md5");
		etag = storage_http_get(q, "ETag");
		e = etag != NULL ? s3p_unquote(etag) : NULL;
		same = meta != NULL ? strcasecmp(meta, hex) == 0 :
		    (e != NULL && strcasecmp(e, hex) == 0);
		free(p->etag);
		p->etag = e;
		p->exists = 1;
		if (same && s3p_same(storage_http_get(q, "Content-Type"), q->f.type))
			storage_end(q, STORAGE_PRESENT, 0, "already stored at %s (md5:%s)", p->url,
			    hex);
		else if (same)
			s3p_copy(q);
		else if (q->f.size >= (int64_t)q->st->big)
			s3p_initiate(q);
		else
			s3p_put_whole(q);
	} else if (code == CURLE_OK && q->status == 404) {
		p->exists = 0;
		if (q->f.size >= (int64_t)q->st->big)
			s3p_initiate(q);
		else
			s3p_put_whole(q);
	} else
		storage_http_fail(q, "HEAD", code);
	free(hex);
}

static void
s3p_head(struct storage_req *q)
{
	storage_http_begin(q, "HEAD", xstrdup(s3p(q)->url), SIGV4_EMPTY_SHA256);
	storage_http_send(q, s3p_after_head);
}

/* ---- the backend ------------------------------------------------------------------- */

/* "s3-mpu ID PARTSIZE MD5 ETAG...": 0 when it is an upload of this file. */
static int
s3p_resume(struct storage_req *q, struct s3_put *p)
{
	char *copy = xstrdup(q->progress), *next = copy, *w, *hex = s3p_hex(q->f.md5);
	int i, r = -1;

	for (i = 0; (w = strsep(&next, " ")) != NULL; i++) {
		if (i == 0 && strcmp(w, "s3-mpu") != 0)
			break;
		else if (i == 1)
			p->upload = xstrdup(w);
		else if (i == 2)
			p->part = strtoll(w, NULL, 10);
		else if (i == 3)
			r = strcasecmp(w, hex) == 0 ? 0 : 1;
		else if (i > 3) {
			p->etags = xreallocarray(p->etags, p->nparts + 1, sizeof *p->etags);
			p->etags[p->nparts++] = xstrdup(w);
		}
	}
	free(copy);
	free(hex);
	if (p->upload != NULL && p->part < ((int64_t)5 << 20))
		r = 1;
	return p->upload == NULL ? -1 : r;
}

static void
s3p_start(struct storage_req *q)
{
	struct s3_put *p = xcalloc(1, sizeof *p);
	const struct s3_bucket *b = q->st->bs;
	char *rel, *cause = NULL;
	int r;

	q->be = p;
	if ((rel = storage_uri_path(q->f.uri, &cause)) == NULL) {
		storage_end(q, STORAGE_PERMANENT, 0, "%s", cause);
		free(cause);
		return;
	}
	p->key = xasprintf("%s%s", b->prefix != NULL ? b->prefix : "", rel);
	free(rel);
	p->url = s3p_locate(q->st, q->f.uri, &cause);
	r = q->progress != NULL ? s3p_resume(q, p) : -1;
	if (r < 0) {
		s3p_forget_upload(p);
		s3p_head(q);
	} else if (r > 0)
		s3p_abort(q, 1, STORAGE_TRANSIENT, NULL);	/* another version of the file */
	else {
		p->exists = 1;		/* unknown: no If-None-Match on the completion */
		storage_hash_prefix(q, (int64_t)p->nparts * p->part > q->f.size ? q->f.size :
		    (int64_t)p->nparts * p->part, &p->sent, s3p_rehashed);
	}
}

static void
s3p_clear(struct storage_req *q)
{
	struct s3_put *p = q->be;

	if (p == NULL)
		return;
	s3p_forget_upload(p);
	free(p->key);
	free(p->url);
	free(p->etag);
	free(p->buf);
	free(p->xml);
	free(p->aftermsg);
	free(p);
	q->be = NULL;
}

static int
s3p_init(struct storage *st, const struct storage_config *cfg, char **cause)
{
	struct s3_bucket *b;
	size_t n;

	if (cfg->url == NULL || (strncasecmp(cfg->url, "http://", 7) != 0 &&
	    strncasecmp(cfg->url, "https://", 8) != 0)) {
		*cause = xasprintf("storage s3: the s3 endpoint %s is not http(s)://host[:port]",
		    cfg->url != NULL ? cfg->url : "(none)");
		return -1;
	}
	if (cfg->bucket == NULL || *cfg->bucket == '\0' || strchr(cfg->bucket, '/') != NULL) {
		*cause = xasprintf("storage s3: bucket %s: a bucket name expected",
		    cfg->bucket != NULL ? cfg->bucket : "(none)");
		return -1;
	}
	if (cfg->piece < ((uint64_t)5 << 20)) {
		*cause = xstrdup("storage s3: part_size: at least 5MiB");
		return -1;
	}
	n = strlen(cfg->url);
	while (n > 0 && cfg->url[n - 1] == '/')
		n--;
	st->url = xstrndup(cfg->url, n);
	b = xcalloc(1, sizeof *b);
	b->bucket = xstrdup(cfg->bucket);
	b->prefix = xstrdup(cfg->prefix);
	st->bs = b;
	st->target = xasprintf("s3://%s/%s", b->bucket, b->prefix != NULL ? b->prefix : "");
	if (sigv4_set_region(&st->sv, cfg->region, cause) != 0 ||
	    curlev_ca_set(&st->ca, cfg->ca_path, cause) != 0)
		return -1;
	return cfg->credentials != NULL ? sigv4_load(&st->sv, cfg->credentials, cfg->profile,
	    cause) : 0;
}

static void
s3p_fini(struct storage *st)
{
	struct s3_bucket *b = st->bs;

	if (b == NULL)
		return;
	free(b->bucket);
	free(b->prefix);
	free(b);
}

const struct storage_backend store_s3_backend = {
	"s3", s3p_init, s3p_start, s3p_clear, s3p_fini, s3p_locate
};
