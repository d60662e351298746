/*
 * s3.c - S3 fetches and listings on libcurl multi + libev (see s3.h).
 *
 * Requests wait in a queue for one of `concurrency` slots. A fetch streams
 * the body into DIR/.NAME.part, digesting it as it goes; a listing keeps
 * each page in memory and parses it with libxml2. Every request ends in
 * s3_finish(), which releases its transfer at once and reports from a
 * zero timer, so done() never runs inside s3_fetch() or s3_list().
 */
#include "config.h"

/* MD5_Init/Update/Final: see checksum.c for why not EVP. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/md5.h>

#include "lib/curlev.h"
#include "lib/log.h"
#include "lib/sigv4.h"
#include "sources/s3.h"
#include "lib/xmalloc.h"

#define S3_MAX_PAGE	(16 * 1024 * 1024)	/* one listing page */
#define S3_MAX_ERROR	(64 * 1024)		/* an error body kept */
#define S3_MAX_TEXT	300			/* service text in a message */
#define S3_MAX_REDIRS	5L

enum s3_kind {
	S3_FETCH,
	S3_LIST
};

enum s3_state {
	S3_NEW,
	S3_QUEUED,
	S3_RUNNING,
	S3_FINISHED
};

struct s3 {
	struct ev_loop		*loop;
	struct curlev		*ce;
	CURLM			*multi;		/* ce's */
	char			*endpoint;	/* no trailing '/' */
	struct sigv4		 sv;		/* region and keys (lib/sigv4.h) */
	struct curlev_ca	 ca;
	long			 timeout_ms;
	unsigned		 concurrency;
	unsigned		 running;
	int			 closing;
	TAILQ_HEAD(, s3_req)	 queue;
	LIST_HEAD(, s3_req)	 reqs;
};

struct s3_req {
	struct s3		*s3;
	enum s3_kind		 kind;
	enum s3_state		 state;
	char			*url;		/* what is requested */
	char			*shown;		/* the URL in messages */
	const char		*protocols;
	int			 s3url;		/* to the endpoint: signed, path as is */
	int			 file;		/* file:// */

	char			*path;		/* fetch: DIR/NAME */
	char			*part;		/* DIR/.NAME.part */
	char			*dir;
	int			 fd;
	int			 created;
	int			 write_errno;
	int64_t			 want_size;
	char			*want_etag;
	int64_t			 bytes;
	MD5_CTX			 md5;

	char			*bucket;	/* listing */
	char			*prefix;
	char			*token;
	int64_t			 listed;
	s3_each_fn		*each;

	char			*body;		/* a listing page or an error body */
	size_t			 bodylen;
	int			 overflow;
	CURL			*easy;
	struct curl_slist	*headers;
	char			 errbuf[CURL_ERROR_SIZE];

	ev_timer		 later;
	s3_done_fn		*done;
	void			*arg;
	enum s3_result		 result;
	long			 status;
	char			*message;
	TAILQ_ENTRY(s3_req)	 qentry;
	LIST_ENTRY(s3_req)	 entry;
};

/* S3 error codes that mean "try later" whatever the status. */
static const char *const s3_transient_codes[] = {
	"InternalError", "RequestTimeout", "ServiceUnavailable", "SlowDown", NULL
};

/* curl failures that retrying will not cure; the others are transient. */
static const CURLcode s3_permanent_curl[] = {
	CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_FILE_COULDNT_READ_FILE,
	CURLE_REMOTE_FILE_NOT_FOUND, CURLE_TOO_MANY_REDIRECTS, CURLE_WRITE_ERROR,
	CURLE_LOGIN_DENIED, CURLE_REMOTE_ACCESS_DENIED
};

static void s3_start(struct s3_req *q);

/* ---- strings -------------------------------------------------------------- */

/* A URL for messages: without user:password@ and without the query (a presigned URL's). */
static char *
s3_shown(const char *url)
{
	const char *auth, *end, *at, *path;
	size_t plen;

	if ((auth = strstr(url, "://")) == NULL)
		return xstrdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (at = end; at > auth && at[-1] != '@'; at--)
		;
	path = end;
	plen = strcspn(path, "?#");
	return xasprintf("%.*s%.*s%.*s%s", (int)(auth - url), url, (int)(end - at), at,
	    (int)plen, path, path[plen] == '?' ? "?..." : "");
}

/* Control characters to spaces, trailing spaces off, at most S3_MAX_TEXT bytes. */
static char *
s3_clean(const char *s, size_t len)
{
	char *t = xstrndup(s != NULL ? s : "", len < S3_MAX_TEXT ? len : S3_MAX_TEXT);
	size_t i;

	for (i = 0; t[i] != '\0'; i++) {
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			t[i] = ' ';
	}
	while (i > 0 && t[i - 1] == ' ')
		t[--i] = '\0';
	return t;
}

/* An ETag without its quotes (allocated), or NULL. */
static char *
s3_unquote(const char *etag)
{
	size_t len;

	if (etag == NULL)
		return NULL;
	if (strncmp(etag, "W/", 2) == 0)
		etag += 2;
	if (*etag == '"')
		etag++;
	len = strlen(etag);
	if (len > 0 && etag[len - 1] == '"')
		len--;
	return xstrndup(etag, len);
}

/* A plain ETag (32 hex digits) is the MD5 of the content. */
static int
s3_etag_is_md5(const char *e)
{
	return e != NULL && strlen(e) == 32 && strspn(e, "0123456789abcdefABCDEF") == 32;
}

/* An S3 timestamp (2026-01-02T03:04:05.678Z) as Unix ms; 0 when unreadable. */
static int64_t
s3_time_ms(const char *t)
{
	struct tm tm;
	const char *end;
	int ms = 0, scale = 100;

	memset(&tm, 0, sizeof tm);
	if (t == NULL || (end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return 0;
	if (*end == '.') {
		for (end++; *end >= '0' && *end <= '9'; end++, scale /= 10)
			ms += (*end - '0') * scale;
	}
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* ---- requests ------------------------------------------------------------- */

/* Free the transfer, the part file if not renamed, and the slot. */
static void
s3_release(struct s3_req *q)
{
	struct s3 *s = q->s3;

	if (q->easy != NULL) {
		curl_multi_remove_handle(s->multi, q->easy);
		curl_easy_cleanup(q->easy);
		q->easy = NULL;
	}
	if (q->state == S3_RUNNING)
		s->running--;
	curl_slist_free_all(q->headers);
	q->headers = NULL;
	if (q->fd != -1) {
		close(q->fd);
		q->fd = -1;
	}
	if (q->created) {
		unlink(q->part);
		q->created = 0;
	}
	free(q->body);
	q->body = NULL;
	q->bodylen = 0;
}

static void
s3_req_free(struct s3_req *q)
{
	free(q->url);
	free(q->shown);
	free(q->path);
	free(q->part);
	free(q->dir);
	free(q->want_etag);
	free(q->bucket);
	free(q->prefix);
	free(q->token);
	free(q->message);
	free(q);
}

/* Call done and forget the request; s may be freed by done. */
static void
s3_report(struct s3_req *q)
{
	struct s3 *s = q->s3;
	s3_done_fn *done = q->done;
	void *arg = q->arg;
	enum s3_result result = q->result;
	long status = q->status;
	char *message = q->message;

	ev_timer_stop(s->loop, &q->later);
	s3_release(q);
	if (q->state == S3_QUEUED)
		TAILQ_REMOVE(&s->queue, q, qentry);
	LIST_REMOVE(q, entry);
	q->message = NULL;
	s3_req_free(q);
	done(arg, result, status, message != NULL ? message : "");
	free(message);
}

static void
s3_on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
	s3_report(w->data);
}

static void
s3_set_message(struct s3_req *q, enum s3_result result, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
s3_set_message(struct s3_req *q, enum s3_result result, const char *fmt, va_list ap)
{
	q->result = result;
	free(q->message);
	q->message = xvasprintf(fmt, ap);
}

/* End the request: release its transfer now, report from the loop. */
static void
s3_finish(struct s3_req *q, enum s3_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s3_finish(struct s3_req *q, enum s3_result result, const char *fmt, ...)
{
	va_list ap;

	s3_release(q);
	va_start(ap, fmt);
	s3_set_message(q, result, fmt, ap);
	va_end(ap);
	if (q->state == S3_QUEUED)
		TAILQ_REMOVE(&q->s3->queue, q, qentry);
	q->state = S3_FINISHED;
	log_at(LOG_DEBUG, 0, LOG_FIELDS({ "URL", q->shown }), "%s", q->message);
	ev_timer_start(q->s3->loop, &q->later);
}

static struct s3_req *
s3_req_new(struct s3 *s, enum s3_kind kind, s3_done_fn *done, void *arg)
{
	struct s3_req *q = xcalloc(1, sizeof *q);

	q->s3 = s;
	q->kind = kind;
	q->fd = -1;
	q->done = done;
	q->arg = arg;
	ev_timer_init(&q->later, s3_on_later, 0., 0.);
	q->later.data = q;
	LIST_INSERT_HEAD(&s->reqs, q, entry);
	return q;
}

/* Open DIR/.NAME.part; 0 or -1 having finished the request. */
static int
s3_open_part(struct s3_req *q)
{
	q->fd = open(q->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (q->fd == -1) {
		s3_finish(q, S3_PERMANENT, "%s: %s", q->part, strerror(errno));
		return -1;
	}
	q->created = 1;
	q->bytes = 0;
	MD5_Init(&q->md5);
	return 0;
}

/* Start queued requests while slots are free. */
static void
s3_pump(struct s3 *s)
{
	struct s3_req *q;

	while (!s->closing && s->running < s->concurrency &&
	    (q = TAILQ_FIRST(&s->queue)) != NULL) {
		TAILQ_REMOVE(&s->queue, q, qentry);
		q->state = S3_RUNNING;
		s->running++;
		if (q->kind == S3_FETCH && s3_open_part(q) != 0)
			continue;
		s3_start(q);
	}
}

static void
s3_enqueue(struct s3_req *q)
{
	q->state = S3_QUEUED;
	TAILQ_INSERT_TAIL(&q->s3->queue, q, qentry);
	s3_pump(q->s3);
}

/* ---- responses ------------------------------------------------------------ */

static xmlDoc *
s3_parse(const struct s3_req *q)
{
	if (q->body == NULL || q->bodylen > INT_MAX)
		return NULL;
	return xmlReadMemory(q->body, (int)q->bodylen, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int
s3_is(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE &&
	    xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* The text of node's first child element called name (allocated), or NULL. */
static char *
s3_child_text(const xmlNode *node, const char *name)
{
	const xmlNode *c;
	xmlChar *t;
	char *out;

	for (c = node->children; c != NULL; c = c->next) {
		if (!s3_is(c, name))
			continue;
		t = xmlNodeGetContent(c);
		out = xstrdup(t != NULL ? (const char *)t : "");
		xmlFree(t);
		return out;
	}
	return NULL;
}

/* Code and Message of an S3 <Error>, or the body's first bytes as *text. */
static void
s3_error_text(const struct s3_req *q, char **code, char **text)
{
	xmlDoc *doc = s3_parse(q);
	xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	char *c = NULL, *m = NULL;

	if (s3_is(root, "Error")) {
		c = s3_child_text(root, "Code");
		m = s3_child_text(root, "Message");
	}
	xmlFreeDoc(doc);
	*code = c != NULL ? s3_clean(c, strlen(c)) : NULL;
	*text = m != NULL ? s3_clean(m, strlen(m)) : s3_clean(q->body, q->bodylen);
	free(c);
	free(m);
}

static enum s3_result
s3_class(long status, const char *code)
{
	const char *const *c;

	if (status >= 500 || status == 408 || status == 429)
		return S3_TRANSIENT;
	for (c = s3_transient_codes; code != NULL && *c != NULL; c++) {
		if (strcmp(code, *c) == 0)
			return S3_TRANSIENT;
	}
	return S3_PERMANENT;
}

static void
s3_http_failure(struct s3_req *q)
{
	char *code, *text;

	s3_error_text(q, &code, &text);
	s3_finish(q, s3_class(q->status, code), "%s: HTTP %ld%s%s%s%s", q->shown, q->status,
	    code != NULL ? " " : "", code != NULL ? code : "", *text != '\0' ? ": " : "", text);
	free(code);
	free(text);
}

static void
s3_transfer_failed(struct s3_req *q, CURLcode code)
{
	const char *why = q->errbuf[0] != '\0' ? q->errbuf : curl_easy_strerror(code);
	size_t i;

	if (code == CURLE_WRITE_ERROR && q->write_errno != 0) {
		s3_finish(q, S3_PERMANENT, "%s: %s", q->part, strerror(q->write_errno));
		return;
	}
	for (i = 0; i < sizeof s3_permanent_curl / sizeof s3_permanent_curl[0]; i++) {
		if (code == s3_permanent_curl[i]) {
			s3_finish(q, S3_PERMANENT, "%s: %s", q->shown, why);
			return;
		}
	}
	s3_finish(q, S3_TRANSIENT, "%s: %s", q->shown, why);
}

/* Make the part file durable and give it its name; 0 or -1 with *cause. */
static int
s3_commit(struct s3_req *q, char **cause)
{
	int fd;

	if (fsync(q->fd) == -1 || close(q->fd) == -1) {
		*cause = xasprintf("%s: %s", q->part, strerror(errno));
		q->fd = -1;
		return -1;
	}
	q->fd = -1;
	if (rename(q->part, q->path) == -1) {
		*cause = xasprintf("%s: %s", q->path, strerror(errno));
		return -1;
	}
	q->created = 0;
	if ((fd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (fsync(fd) == -1 && errno != EINVAL)) {
		*cause = xasprintf("%s: %s", q->dir, strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(q->path);
		return -1;
	}
	close(fd);
	return 0;
}

static void
s3_fetched(struct s3_req *q)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[MD5_DIGEST_LENGTH];
	char sum[2 * MD5_DIGEST_LENGTH + 1], *cause = NULL;
	int i;

	MD5_Final(md, &q->md5);
	for (i = 0; i < MD5_DIGEST_LENGTH; i++) {
		sum[2 * i] = hex[md[i] >> 4];
		sum[2 * i + 1] = hex[md[i] & 15];
	}
	sum[2 * MD5_DIGEST_LENGTH] = '\0';
	if (q->want_size >= 0 && q->bytes != q->want_size)
		s3_finish(q, S3_PERMANENT, "%s: %lld bytes received, %lld expected", q->shown,
		    (long long)q->bytes, (long long)q->want_size);
	else if (s3_etag_is_md5(q->want_etag) && strcasecmp(sum, q->want_etag) != 0)
		s3_finish(q, S3_PERMANENT, "%s: content MD5 %s does not match the ETag %s",
		    q->shown, sum, q->want_etag);
	else if (s3_commit(q, &cause) != 0) {
		s3_finish(q, S3_PERMANENT, "%s", cause);
		free(cause);
	} else
		s3_finish(q, S3_OK, "%s: %lld bytes to %s", q->shown, (long long)q->bytes,
		    q->path);
}

/* One <Contents> of a listing to each(); -1 when it has no key. */
static int
s3_list_one(struct s3_req *q, const xmlNode *n)
{
	char *key = s3_child_text(n, "Key"), *size = s3_child_text(n, "Size");
	char *etag = s3_child_text(n, "ETag"), *mtime = s3_child_text(n, "LastModified");
	char *plain = s3_unquote(etag), *end = NULL;
	struct s3_object o;
	int r = -1;

	if (key != NULL) {
		o.key = key;
		o.size = size != NULL ? strtoll(size, &end, 10) : -1;
		if (end == NULL || end == size || *end != '\0')
			o.size = -1;
		o.etag = plain != NULL ? plain : "";
		o.mtime_ms = s3_time_ms(mtime);
		q->listed++;
		q->each(q->arg, &o);
		r = 0;
	}
	free(key);
	free(size);
	free(etag);
	free(mtime);
	free(plain);
	return r;
}

/* The ListObjectsV2 URL: parameters in SigV4's sorted order (libcurl 7.88 signs them as given). */
static void
s3_list_url(struct s3_req *q)
{
	char *b = sigv4_encode(q->bucket, 0), *p = sigv4_encode(q->prefix, 0), *t = NULL;

	free(q->url);
	if (q->token != NULL) {
		t = sigv4_encode(q->token, 0);
		q->url = xasprintf("%s/%s?continuation-token=%s&list-type=2&prefix=%s",
		    q->s3->endpoint, b, t, p);
	} else
		q->url = xasprintf("%s/%s?list-type=2&prefix=%s", q->s3->endpoint, b, p);
	free(b);
	free(p);
	free(t);
}

/* Go on with the next page, or end the listing. */
static void
s3_list_next(struct s3_req *q, char *truncated, char *next)
{
	if (truncated == NULL || strcmp(truncated, "true") != 0) {
		s3_finish(q, S3_OK, "%s: %lld objects", q->shown, (long long)q->listed);
		free(next);
	} else if (next == NULL || *next == '\0') {
		s3_finish(q, S3_PERMANENT, "%s: a truncated listing without "
		    "NextContinuationToken", q->shown);
		free(next);
	} else {
		free(q->token);
		q->token = next;
		s3_list_url(q);
		s3_start(q);
	}
}

static void
s3_listed(struct s3_req *q)
{
	xmlDoc *doc;
	xmlNode *root, *c;
	char *truncated, *next;

	if (q->overflow) {
		s3_finish(q, S3_PERMANENT, "%s: a listing page over %d bytes", q->shown,
		    S3_MAX_PAGE);
		return;
	}
	doc = s3_parse(q);
	root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
	if (!s3_is(root, "ListBucketResult")) {
		xmlFreeDoc(doc);
		s3_finish(q, S3_PERMANENT, "%s: the answer is not a ListBucketResult", q->shown);
		return;
	}
	for (c = root->children; c != NULL; c = c->next) {
		if (s3_is(c, "Contents") && s3_list_one(q, c) != 0)
			break;
	}
	truncated = s3_child_text(root, "IsTruncated");
	next = s3_child_text(root, "NextContinuationToken");
	xmlFreeDoc(doc);
	if (c != NULL) {
		s3_finish(q, S3_PERMANENT, "%s: a listed object without a Key", q->shown);
		free(next);
	} else
		s3_list_next(q, truncated, next);
	free(truncated);
}

static void
s3_transfer_done(struct s3_req *q, CURLcode code)
{
	q->status = 0;
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
	curl_multi_remove_handle(q->s3->multi, q->easy);
	if (code != CURLE_OK)
		s3_transfer_failed(q, code);
	else if (q->status != 200 && !q->file)
		s3_http_failure(q);
	else if (q->kind == S3_FETCH)
		s3_fetched(q);
	else
		s3_listed(q);
}

/* ---- curl callbacks -------------------------------------------------------- */

static size_t
s3_write_part(struct s3_req *q, const char *data, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if ((n = write(q->fd, data + done, len - done)) == -1) {
			if (errno == EINTR)
				continue;
			q->write_errno = errno;
			return 0;
		}
		done += (size_t)n;
	}
	MD5_Update(&q->md5, data, len);
	q->bytes += (int64_t)len;
	return len;
}

/* Keep a body in memory, up to max bytes (the rest is noted, not kept). */
static size_t
s3_keep(struct s3_req *q, const char *data, size_t len, size_t max)
{
	size_t room = max > q->bodylen ? max - q->bodylen : 0, n = len < room ? len : room;

	if (n < len)
		q->overflow = 1;
	q->body = xreallocarray(q->body, q->bodylen + n + 1, 1);
	memcpy(q->body + q->bodylen, data, n);
	q->bodylen += n;
	q->body[q->bodylen] = '\0';
	return len;
}

static size_t
s3_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct s3_req *q = arg;
	long status = 0;

	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	if (q->kind == S3_FETCH && (status == 200 || q->file))
		return s3_write_part(q, data, size * n);
	return s3_keep(q, data, size * n, q->kind == S3_LIST && status == 200 ? S3_MAX_PAGE :
	    S3_MAX_ERROR);
}

static void
s3_setup_tls(const struct s3 *s, CURL *e)
{
	curlev_ca_apply(&s->ca, e);
}

/* Requests to the endpoint: signed (when there are credentials), the path as it is. */
static void
s3_setup_endpoint(struct s3_req *q, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	sigv4_apply(&q->s3->sv, e, &q->headers, SIGV4_EMPTY_SHA256);
}

/* (Re)start the request's transfer on its easy handle. */
static void
s3_start(struct s3_req *q)
{
	struct s3 *s = q->s3;
	CURL *e;

	if (q->easy == NULL)
		q->easy = curl_easy_init();
	e = q->easy;
	curl_easy_reset(e);
	curl_slist_free_all(q->headers);
	q->headers = NULL;
	free(q->body);
	q->body = NULL;
	q->bodylen = 0;
	q->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, q->protocols);
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s3_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "caom2ingest/" PACKAGE_VERSION);
	/* A fetch may be long: the timeout bounds connecting and stalls, not the whole. */
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (s->timeout_ms + 999) / 1000);
	if (q->kind == S3_LIST)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	s3_setup_tls(s, e);
	if (q->s3url)
		s3_setup_endpoint(q, e);
	else if (!q->file) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, S3_MAX_REDIRS);
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
	curl_multi_add_handle(s->multi, e);
}

/* ---- completions (curlev.c drives the multi handle on the loop) ----------- */

static void
s3_on_done(void *arg, CURL *easy, CURLcode result)
{
	struct s3_req *q;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&q);
	s3_transfer_done(q, result);
}

static void
s3_after_done(void *arg)
{
	s3_pump(arg);
}

/* ---- set-up --------------------------------------------------------------- */

static int
s3_set_endpoint(struct s3 *s, const char *endpoint, char **cause)
{
	size_t len;

	if (endpoint == NULL)
		return 0;
	if ((strncasecmp(endpoint, "http://", 7) != 0 && strncasecmp(endpoint, "https://", 8) != 0) ||
	    strpbrk(endpoint, "?#@ ") != NULL || strlen(strstr(endpoint, "://") + 3) == 0) {
		*cause = xasprintf("S3 endpoint %s: http(s)://host[:port] expected", endpoint);
		return -1;
	}
	len = strlen(endpoint);
	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	s->endpoint = xstrndup(endpoint, len);
	return 0;
}

struct s3 *
s3_new(struct ev_loop *loop, const struct s3_config *cfg, char **cause)
{
	struct s3 *s;

	s = xcalloc(1, sizeof *s);
	s->loop = loop;
	TAILQ_INIT(&s->queue);
	LIST_INIT(&s->reqs);
	s->timeout_ms = cfg->timeout_ms > 0 ? (long)cfg->timeout_ms : 60000;
	s->concurrency = cfg->concurrency > 0 ? cfg->concurrency : 8;
	if (s3_set_endpoint(s, cfg->endpoint, cause) != 0 ||
	    sigv4_set_region(&s->sv, cfg->region, cause) != 0 ||
	    curlev_ca_set(&s->ca, cfg->ca_path, cause) != 0 ||
	    (cfg->credentials != NULL && sigv4_load(&s->sv, cfg->credentials, cfg->profile,
	    cause) != 0)) {
		s3_free(s);
		return NULL;
	}
	s->ce = curlev_new(loop, (long)s->concurrency, s3_on_done, s3_after_done, s);
	s->multi = curlev_multi(s->ce);
	return s;
}

void
s3_free(struct s3 *s)
{
	struct s3_req *q;

	if (s == NULL)
		return;
	s->closing = 1;
	/* A done() may queue more: they are cancelled in turn. */
	while ((q = LIST_FIRST(&s->reqs)) != NULL) {
		if (q->state != S3_FINISHED) {
			q->result = S3_TRANSIENT;
			q->status = 0;
			free(q->message);
			q->message = xstrdup("cancelled");
		}
		s3_report(q);
	}
	curlev_free(s->ce);
	free(s->endpoint);
	sigv4_clear(&s->sv);
	curlev_ca_clear(&s->ca);
	free(s);
}

/* ---- requests from the caller --------------------------------------------- */

/* Where url goes: the endpoint for s3://, as it is for http(s):// and file://. */
static int
s3_resolve(struct s3_req *q, const char *url, char **cause)
{
	const struct s3 *s = q->s3;
	const char *bucket, *slash;
	char *b, *k;

	if (strncasecmp(url, "s3://", 5) == 0) {
		bucket = url + 5;
		if (s->endpoint == NULL) {
			*cause = xasprintf("%s: no S3 endpoint is configured", url);
			return -1;
		}
		if ((slash = strchr(bucket, '/')) == NULL || slash == bucket || slash[1] == '\0') {
			*cause = xasprintf("%s: s3://BUCKET/KEY expected", url);
			return -1;
		}
		b = xstrndup(bucket, (size_t)(slash - bucket));
		k = sigv4_encode(slash + 1, 1);
		q->url = xasprintf("%s/%s/%s", s->endpoint, b, k);
		free(b);
		free(k);
		q->s3url = 1;
		q->protocols = "http,https";
	} else if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
		q->url = xstrdup(url);
		q->protocols = "http,https";
	} else if (strncasecmp(url, "file://", 7) == 0) {
		q->url = xstrdup(url);
		q->protocols = "file";
		q->file = 1;
	} else {
		*cause = xasprintf("%s: an s3://, https://, http:// or file:// URL expected", q->shown);
		return -1;
	}
	return 0;
}

/* Why name cannot be a file name of ours, or NULL. */
static const char *
s3_bad_name(const char *name)
{
	if (name == NULL || *name == '\0')
		return "an empty file name";
	if (strchr(name, '/') != NULL)
		return "a file name with '/'";
	if (*name == '.')
		return "a file name starting with '.'";
	return NULL;
}

void
s3_fetch(struct s3 *s, const char *url, const char *dir, const char *name, int64_t size,
    const char *etag, s3_done_fn *done, void *arg)
{
	struct s3_req *q = s3_req_new(s, S3_FETCH, done, arg);
	const char *bad;
	char *cause = NULL;

	/* In an s3:// URL, '?' and '@' belong to the key. */
	q->shown = strncasecmp(url, "s3://", 5) == 0 ? xstrdup(url) : s3_shown(url);
	q->want_size = size;
	q->want_etag = s3_unquote(etag);
	if ((bad = s3_bad_name(name)) != NULL) {
		s3_finish(q, S3_PERMANENT, "%s: %s is refused", q->shown, bad);
		return;
	}
	q->dir = xstrdup(dir);
	q->path = xasprintf("%s/%s", dir, name);
	q->part = xasprintf("%s/.%s.part", dir, name);
	if (s3_resolve(q, url, &cause) != 0) {
		s3_finish(q, S3_PERMANENT, "%s", cause);
		free(cause);
		return;
	}
	s3_enqueue(q);
}

void
s3_list(struct s3 *s, const char *bucket, const char *prefix, s3_each_fn *each,
    s3_done_fn *done, void *arg)
{
	struct s3_req *q = s3_req_new(s, S3_LIST, done, arg);

	q->bucket = xstrdup(bucket);
	q->prefix = xstrdup(prefix != NULL ? prefix : "");
	q->each = each;
	q->shown = xasprintf("s3://%s/%s", bucket, q->prefix);
	if (s->endpoint == NULL) {
		s3_finish(q, S3_PERMANENT, "%s: no S3 endpoint is configured", q->shown);
		return;
	}
	if (*bucket == '\0' || strchr(bucket, '/') != NULL) {
		s3_finish(q, S3_PERMANENT, "%s: a bucket name expected", q->shown);
		return;
	}
	q->s3url = 1;
	q->protocols = "http,https";
	s3_list_url(q);
	s3_enqueue(q);
}
