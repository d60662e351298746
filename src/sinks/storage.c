/*
 * storage.c - file storage: the queue, retries and reports of puts, and
 * what the backends share (see storage.h, storage_int.h).
 *
 * A put waits in the queue for one of `concurrency` slots, runs attempts
 * of its backend, waits between transient failures (Retry-After when
 * storage gave one, else exponential backoff with jitter) and is reported
 * from a zero timer, so done() never runs inside storage_put().
 *
 * A request body from a file is fed to libcurl by a reader: two chunks of
 * STORAGE_CHUNK bytes, filled in order on the executor (pread, and the MD5
 * updated with what was read), while libcurl drains the other; when it
 * finds neither ready, the transfer is paused (CURL_READFUNC_PAUSE) and
 * resumed when the fill comes back. A reader whose transfer ended while a
 * fill was out waits in the orphans until the fill returns.
 */
#include "config.h"

#include "sinks/storage_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/stats.h"
#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

#define STORAGE_CHUNK	(1 << 20)

struct storage_chunk {
	char		*buf;
	size_t		 len;
	size_t		 pos;
	int		 full;
};

struct storage_reader {
	struct storage_req	*q;		/* NULL: orphaned */
	struct storage		*st;
	char			*path;
	int			 fd;
	int64_t			 next;		/* file offset of the next fill */
	int64_t			 end;
	MD5_CTX			 ctx;		/* of what was read, when hash */
	MD5_CTX			*out;		/* where ctx goes when the body is sent */
	int			 hash;
	struct storage_chunk	 c[2];
	int			 cur;		/* the chunk libcurl reads */
	int			 fillidx;	/* the chunk filled next */
	int			 filling;	/* a fill is out */
	int			 paused;
	int			 incb;		/* inside the read callback */
	int			 err;		/* errno of a failed read; ENODATA: short file */
	LIST_ENTRY(storage_reader) entry;
};

static const char *const storage_result_names[] = {
	[STORAGE_STORED] = "stored",
	[STORAGE_PRESENT] = "present",
	[STORAGE_UPDATED] = "updated",
	[STORAGE_TRANSIENT] = "transient failure",
	[STORAGE_PERMANENT] = "permanent failure",
	[STORAGE_AUTH] = "authentication failure",
};

static void storage_pump(struct storage *st);
static void storage_reader_free(struct storage_reader *r);

const char *
storage_result_name(enum storage_result r)
{
	return storage_result_names[r];
}

const char *
storage_encoding_of(const char *path)
{
	size_t n = strlen(path);

	return n > 3 && strcmp(path + n - 3, ".gz") == 0 ? "gzip" : NULL;
}

/* Work out keeps the loop running, as a transfer does (a worker pool's own watcher
 * does not). */
struct storage_task {
	struct storage		*st;
	storage_work_fn		*fn;
	storage_work_fn		*done;
	void			*arg;
};

static void
storage_task_run(void *arg)
{
	struct storage_task *t = arg;

	t->fn(t->arg);
}

static void
storage_task_done(void *arg)
{
	struct storage_task *t = arg;

	ev_unref(t->st->loop);
	t->done(t->arg);
	free(t);
}

void
storage_submit(struct storage *st, storage_work_fn *fn, storage_work_fn *done, void *arg)
{
	struct storage_task *t = xmalloc(sizeof *t);

	t->st = st;
	t->fn = fn;
	t->done = done;
	t->arg = arg;
	ev_ref(st->loop);
	st->submit(st->submit_ctx, storage_task_run, storage_task_done, t);
}

/* ---- puts: queue, attempts, reports -------------------------------------- */

/* What an exchange leaves behind, before the next one or the end. */
static void
storage_exchange_clear(struct storage_req *q)
{
	if (q->easy != NULL)
		curl_multi_remove_handle(q->st->multi, q->easy);
	curl_slist_free_all(q->headers);
	curl_slist_free_all(q->rheaders);
	q->headers = q->rheaders = NULL;
	free(q->body);
	q->body = NULL;
	q->bodylen = 0;
	q->send = NULL;
	q->sendlen = q->sendpos = 0;
	storage_reader_free(q->reader);
	q->reader = NULL;
}

static void
storage_req_free(struct storage_req *q)
{
	struct storage *st = q->st;
	size_t i;

	if (q->where == STORAGE_QUEUED)
		TAILQ_REMOVE(&st->queue, q, qentry);
	if (q->where == STORAGE_RUNNING)
		st->running--;
	LIST_REMOVE(q, entry);
	ev_timer_stop(st->loop, &q->timer);
	storage_exchange_clear(q);
	if (q->easy != NULL)
		curl_easy_cleanup(q->easy);
	st->be->clear(q);
	for (i = 0; i < sizeof q->own / sizeof q->own[0]; i++)
		free(q->own[i]);
	free(q->progress);
	free(q->url);
	free(q->message);
	free(q);
}

static void
storage_attempt(struct storage_req *q)
{
	q->where = STORAGE_RUNNING;
	q->st->running++;
	q->attempts++;
	q->result = STORAGE_TRANSIENT;
	q->retry_after = 0;
	q->st->be->clear(q);
	q->st->be->start(q);
}

/* The timer: a retry is due, or the put has ended and is reported. */
static void
storage_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct storage_req *q = w->data;
	struct storage *st = q->st;

	if (q->where == STORAGE_WAITING) {
		q->where = STORAGE_QUEUED;
		TAILQ_INSERT_TAIL(&st->queue, q, qentry);
		storage_pump(st);
		return;
	}
	stats_time(STATS_STORE_FILE, ev_time() - q->started);
	if (q->result == STORAGE_STORED)
		stats_count(STATS_FILES_STORED);
	else if (q->result == STORAGE_PRESENT || q->result == STORAGE_UPDATED)
		stats_count(STATS_FILES_PRESENT);
	else
		stats_count(STATS_STORE_FAILED);
	q->done(q->arg, q->result, q->message != NULL ? q->message : "", q->sent);
	storage_req_free(q);
}

static void
storage_pump(struct storage *st)
{
	struct storage_req *q;

	while (st->running < st->concurrency && (q = TAILQ_FIRST(&st->queue)) != NULL) {
		TAILQ_REMOVE(&st->queue, q, qentry);
		storage_attempt(q);
	}
}

/* Delay before attempt n + 1: initial * 2^(n-1), capped, with +-20% jitter (as jobs.c). */
static double
storage_backoff(const struct storage *st, unsigned attempts, long retry_after)
{
	double d = (double)st->retry_initial_ms;
	unsigned i;

	for (i = 1; i < attempts && d < (double)st->retry_max_ms; i++)
		d *= 2;
	if (d > (double)st->retry_max_ms)
		d = (double)st->retry_max_ms;
	d *= 0.8 + 0.4 * ((double)rand() / RAND_MAX);
	if (retry_after > 0 && retry_after * 1000.0 > d)
		d = retry_after * 1000.0 < (double)st->retry_max_ms ? retry_after * 1000.0 :
		    (double)st->retry_max_ms;
	return d / 1e3;
}

void
storage_end(struct storage_req *q, enum storage_result r, long retry_after, const char *fmt,
    ...)
{
	struct storage *st = q->st;
	va_list ap;
	double delay;

	free(q->message);
	va_start(ap, fmt);
	q->message = xvasprintf(fmt, ap);
	va_end(ap);
	storage_exchange_clear(q);
	q->result = r;
	st->running--;
	if (r == STORAGE_TRANSIENT && q->attempts < st->retry_attempts) {
		delay = storage_backoff(st, q->attempts, retry_after);
		log_at(LOG_NOTICE, 0, LOG_FIELDS({ "FILE", q->f.path }, { "URI", q->f.uri }),
		    "storing %s: %s; again in %.1fs (attempt %u of %u)", q->f.uri, q->message,
		    delay, q->attempts, st->retry_attempts);
		q->where = STORAGE_WAITING;
		ev_timer_set(&q->timer, delay, 0.);
	} else {
		q->where = STORAGE_ENDED;
		ev_timer_set(&q->timer, 0., 0.);
	}
	ev_timer_start(st->loop, &q->timer);
	storage_pump(st);
}

void
storage_set_progress(struct storage_req *q, const char *progress)
{
	if ((progress == NULL && q->progress == NULL) ||
	    (progress != NULL && q->progress != NULL && strcmp(progress, q->progress) == 0))
		return;
	free(q->progress);
	q->progress = progress != NULL ? xstrdup(progress) : NULL;
	if (q->progress_fn != NULL)
		q->progress_fn(q->arg, q->progress);
}

void
storage_put(struct storage *st, const struct storage_file *f, storage_progress_fn *progress,
    storage_done_fn *done, void *arg)
{
	struct storage_req *q = xcalloc(1, sizeof *q);

	q->st = st;
	q->f.path = q->own[0] = xstrdup(f->path);
	q->f.uri = q->own[1] = xstrdup(f->uri);
	q->f.md5 = q->own[2] = xstrdup(f->md5);
	q->f.size = f->size;
	q->f.type = q->own[3] = xstrdup(f->type != NULL ? f->type : "application/octet-stream");
	q->f.encoding = q->own[4] = xstrdup(f->encoding);
	q->progress = xstrdup(f->progress);
	q->f.progress = NULL;
	q->progress_fn = progress;
	q->done = done;
	q->arg = arg;
	q->started = ev_time();
	ev_init(&q->timer, storage_on_timer);
	q->timer.data = q;
	LIST_INSERT_HEAD(&st->reqs, q, entry);
	q->where = STORAGE_QUEUED;
	TAILQ_INSERT_TAIL(&st->queue, q, qentry);
	storage_pump(st);
}

/* ---- the reader: a request body from the file, read off the loop ---------- */

/* On the executor: fill the next chunk in order, hashing what was read. */
static void
storage_reader_fill(void *arg)
{
	struct storage_reader *r = arg;
	struct storage_chunk *c = &r->c[r->fillidx];
	size_t want = r->end - r->next < STORAGE_CHUNK ? (size_t)(r->end - r->next) :
	    STORAGE_CHUNK;
	ssize_t n;

	if (r->fd < 0 && (r->fd = open(r->path, O_RDONLY | O_CLOEXEC)) < 0) {
		r->err = errno;
		return;
	}
	if (c->buf == NULL)
		c->buf = xmalloc(STORAGE_CHUNK);
	for (c->len = 0; c->len < want; c->len += (size_t)n) {
		n = pread(r->fd, c->buf + c->len, want - c->len, (off_t)(r->next + c->len));
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			r->err = n < 0 ? errno : ENODATA;
			return;
		}
	}
	if (r->hash)
		MD5_Update(&r->ctx, c->buf, c->len);
}

static void storage_reader_pump(struct storage_reader *r);

/* On the loop: a fill came back. */
static void
storage_reader_filled(void *arg)
{
	struct storage_reader *r = arg;
	struct storage_chunk *c = &r->c[r->fillidx];

	r->filling = 0;
	if (r->q == NULL) {
		LIST_REMOVE(r, entry);
		storage_reader_free(r);
		return;
	}
	if (r->err == 0) {
		c->full = 1;
		c->pos = 0;
		r->next += (int64_t)c->len;
		r->fillidx ^= 1;
		storage_reader_pump(r);
	}
	if (r->paused && !r->incb) {
		r->paused = 0;
		curl_easy_pause(r->q->easy, CURLPAUSE_CONT);
	}
}

static void
storage_reader_pump(struct storage_reader *r)
{
	if (r->filling || r->err != 0 || r->next >= r->end || r->c[r->fillidx].full)
		return;
	r->filling = 1;
	storage_submit(r->st, storage_reader_fill, storage_reader_filled, r);
}

static void
storage_reader_free(struct storage_reader *r)
{
	if (r == NULL)
		return;
	if (r->filling) {	/* freed when the fill comes back (or with the store) */
		r->q = NULL;
		LIST_INSERT_HEAD(&r->st->orphans, r, entry);
		return;
	}
	if (r->fd >= 0)
		close(r->fd);
	free(r->c[0].buf);
	free(r->c[1].buf);
	free(r->path);
	free(r);
}

static size_t
storage_read_mem(struct storage_req *q, char *out, size_t max)
{
	size_t n = q->sendlen - q->sendpos < max ? q->sendlen - q->sendpos : max;

	memcpy(out, q->send + q->sendpos, n);
	q->sendpos += n;
	if (q->timed)		/* file bytes (an S3 part), not a request's own body */
		stats_add(STATS_STORE_BYTES, n);
	return n;
}

/* libcurl wants body bytes. */
static size_t
storage_on_read(char *out, size_t size, size_t nitems, void *arg)
{
	struct storage_req *q = arg;
	struct storage_reader *r = q->reader;
	struct storage_chunk *c;
	size_t max = size * nitems, n;

	if (r == NULL)
		return storage_read_mem(q, out, max);
	r->incb = 1;
	for (;;) {
		c = &r->c[r->cur];
		if (c->full) {
			n = c->len - c->pos < max ? c->len - c->pos : max;
			memcpy(out, c->buf + c->pos, n);
			if ((c->pos += n) == c->len) {
				c->full = 0;
				r->cur ^= 1;
				storage_reader_pump(r);
			}
			r->incb = 0;
			stats_add(STATS_STORE_BYTES, n);
			return n;
		}
		r->incb = 0;
		if (r->err != 0)
			return CURL_READFUNC_ABORT;
		if (r->next >= r->end && !r->filling)
			return 0;
		r->incb = 1;
		storage_reader_pump(r);		/* an executor in place fills at once */
		if (c->full || r->err != 0)
			continue;
		r->incb = 0;
		r->paused = 1;
		return CURL_READFUNC_PAUSE;
	}
}

void
storage_http_body_file(struct storage_req *q, int64_t off, int64_t len, MD5_CTX *md5)
{
	struct storage_reader *r = xcalloc(1, sizeof *r);

	r->q = q;
	r->st = q->st;
	r->path = xstrdup(q->f.path);
	r->fd = -1;
	r->next = off;
	r->end = off + len;
	if (md5 != NULL)
		r->ctx = *md5;
	r->hash = md5 != NULL;
	r->out = md5;
	q->reader = r;
	q->timed = 1;
	curl_easy_setopt(q->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(q->easy, CURLOPT_READFUNCTION, storage_on_read);
	curl_easy_setopt(q->easy, CURLOPT_READDATA, q);
	curl_easy_setopt(q->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	storage_reader_pump(r);		/* the first chunk, before libcurl asks */
}

void
storage_http_body_mem(struct storage_req *q, const char *p, size_t len)
{
	q->send = p;
	q->sendlen = len;
	q->sendpos = 0;
	if (strcmp(q->method, "POST") == 0) {
		curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, p);
		curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		return;
	}
	curl_easy_setopt(q->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(q->easy, CURLOPT_READFUNCTION, storage_on_read);
	curl_easy_setopt(q->easy, CURLOPT_READDATA, q);
	curl_easy_setopt(q->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
}

void
storage_http_body_none(struct storage_req *q)
{
	storage_http_body_mem(q, "", 0);
}

char *
storage_http_read_error(const struct storage_req *q)
{
	const struct storage_reader *r = q->reader;

	if (r == NULL || r->err == 0)
		return NULL;
	if (r->err == ENODATA)
		return xasprintf("%s: shorter than %lld bytes: it changed while being stored",
		    q->f.path, (long long)q->f.size);
	return xasprintf("%s: %s", q->f.path, strerror(r->err));
}

/* ---- HTTP exchanges -------------------------------------------------------- */

static size_t
storage_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct storage_req *q = arg;
	size_t len = size * n, keep = len;

	if (q->bodylen + keep > STORAGE_MAX_BODY)
		keep = STORAGE_MAX_BODY - q->bodylen;
	q->body = xreallocarray(q->body, q->bodylen + keep + 1, 1);
	memcpy(q->body + q->bodylen, data, keep);
	q->bodylen += keep;
	q->body[q->bodylen] = '\0';
	return len;
}

static size_t
storage_on_header(char *line, size_t size, size_t n, void *arg)
{
	struct storage_req *q = arg;
	size_t len = size * n;
	char *h;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {	/* a new response (after 100) */
		curl_slist_free_all(q->rheaders);
		q->rheaders = NULL;
		return len;
	}
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len > 0 && memchr(line, ':', len) != NULL) {
		h = xstrndup(line, len);
		q->rheaders = curl_slist_append(q->rheaders, h);
		free(h);
	}
	return size * n;
}

/* Credentials and trust: the SI's bearer token, client certificate or netrc (as repo.c
 * sets them up), the CAs, or the S3 signature. */
static void
storage_http_auth(struct storage_req *q, CURL *e, const char *payload)
{
	struct storage *st = q->st;

	if (st->auth != NULL)
		q->headers = curl_slist_append(q->headers, st->auth);
	if (st->cert != NULL) {
		/* an empty key password: an encrypted key is refused, never prompted for */
		curl_easy_setopt(e, CURLOPT_SSLCERT, st->cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY, st->cert);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_KEYPASSWD, "");
	}
	if (st->netrc != NULL) {
		curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_REQUIRED);
		curl_easy_setopt(e, CURLOPT_NETRC_FILE, st->netrc);
	}
	curlev_ca_apply(&st->ca, e);
	if (payload != NULL)
		sigv4_apply(&st->sv, e, &q->headers, payload);
}

CURL *
storage_http_begin(struct storage_req *q, const char *method, char *url, const char *payload)
{
	struct storage *st = q->st;
	CURL *e;

	storage_exchange_clear(q);
	if (q->easy == NULL)
		q->easy = curl_easy_init();
	e = q->easy;
	curl_easy_reset(e);
	free(q->url);
	q->url = url;
	q->status = 0;
	q->errbuf[0] = '\0';
	q->timed = 0;
	q->method = method;
	q->t0 = ev_time();
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, storage_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, storage_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "caom2ingest/" PACKAGE_VERSION);
	/* uploads may be long: the timeout bounds connecting and stalls, not the whole */
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, st->timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (st->timeout_ms + 999) / 1000);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	storage_http_auth(q, e, payload);
	return e;
}

void
storage_http_header(struct storage_req *q, const char *fmt, ...)
{
	va_list ap;
	char *h;

	va_start(ap, fmt);
	h = xvasprintf(fmt, ap);
	va_end(ap);
	q->headers = curl_slist_append(q->headers, h);
	free(h);
}

void
storage_http_send(struct storage_req *q, storage_then_fn *then)
{
	q->then = then;
	curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->headers);
	curl_multi_add_handle(q->st->multi, q->easy);
}

/* A transfer finished (curlev.c drives the multi handle on the loop). */
static void
storage_on_done(void *arg, CURL *easy, CURLcode code)
{
	struct storage_req *q;
	struct storage_reader *r;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&q);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &q->status);
	curl_multi_remove_handle(q->st->multi, easy);
	if (q->timed)
		stats_time(STATS_STORE_PUT, ev_time() - q->t0);
	if ((r = q->reader) != NULL && r->out != NULL && !r->filling && r->next >= r->end)
		*r->out = r->ctx;
	q->then(q, code);
}

const char *
storage_http_get(const struct storage_req *q, const char *name)
{
	const struct curl_slist *h;
	size_t n = strlen(name);
	const char *v;

	for (h = q->rheaders; h != NULL; h = h->next) {
		if (strncasecmp(h->data, name, n) != 0 || h->data[n] != ':')
			continue;
		for (v = h->data + n + 1; *v == ' ' || *v == '\t'; v++)
			;
		return v;
	}
	return NULL;
}

int
storage_http_digest(const struct storage_req *q, char out[37])
{
	const char *v = storage_http_get(q, "Digest"), *p;
	size_t n;

	for (p = v; p != NULL && *p != '\0'; p += strspn(p, " ,")) {
		n = strcspn(p, ",");
		if (strncasecmp(p, "md5=", 4) == 0) {
			while (n > 4 && isspace((unsigned char)p[n - 1]))
				n--;
			return storage_b64_md5(p + 4, n - 4, out);
		}
		p += n;
	}
	return -1;
}

enum storage_result
storage_http_class(long status)
{
	if (status == 0 || status >= 500 || status == 408 || status == 429)
		return STORAGE_TRANSIENT;
	if (status == 401 || status == 403)
		return STORAGE_AUTH;
	return STORAGE_PERMANENT;
}

/* The service's error text, on one short line. */
static char *
storage_service_text(const struct storage_req *q)
{
	return msgbuf_oneline(q->body, q->bodylen, STORAGE_MAX_TEXT);
}

/* What the client trusted, for a failed verification. */
static char *
storage_trust(const struct storage *st)
{
	if (st->ca.file != NULL)
		return xasprintf("the CAs in %s", st->ca.file);
	if (st->ca.dir != NULL)
		return xasprintf("the CA directory %s, which must be prepared with "
		    "`openssl rehash`", st->ca.dir);
	return xstrdup("the system's CA store; ca_path names others");
}

static char *
storage_transfer_why(struct storage_req *q, const char *what, CURLcode code)
{
	const char *why = q->errbuf[0] != '\0' ? q->errbuf : curl_easy_strerror(code);
	char *t, *m, *rd = storage_http_read_error(q);

	if (rd != NULL)
		return rd;
	if (code == CURLE_PEER_FAILED_VERIFICATION) {
		t = storage_trust(q->st);
		m = xasprintf("%s %s: TLS certificate verification failed (trusting %s): %s",
		    what, q->url, t, why);
		free(t);
		return m;
	}
	if (code == CURLE_SSL_CERTPROBLEM)
		return xasprintf("%s %s: client certificate %s unusable (a PEM file with its "
		    "certificate and unencrypted key is expected): %s", what, q->url,
		    q->st->cert, why);
	return xasprintf("%s %s: %s", what, q->url, why);
}

static long
storage_retry_after(const struct storage_req *q)
{
	const char *v = storage_http_get(q, "Retry-After");
	long s;

	if (v == NULL)
		return 0;
	s = isdigit((unsigned char)v[0]) ? atol(v) : (long)(curl_getdate(v, NULL) - time(NULL));
	return s > 0 ? s : 0;
}

char *
storage_http_why(struct storage_req *q, const char *what, CURLcode code,
    enum storage_result *r, long *retry_after)
{
	char *text, *m;

	*retry_after = 0;
	if (code != CURLE_OK) {
		*r = STORAGE_TRANSIENT;
		return storage_transfer_why(q, what, code);
	}
	*r = storage_http_class(q->status);
	*retry_after = storage_retry_after(q);
	text = storage_service_text(q);
	m = xasprintf("%s%s %s: HTTP %ld%s%s", *r == STORAGE_AUTH ?
	    "refused (authentication or permission): " : "", what, q->url, q->status,
	    *text ? ": " : "", text);
	free(text);
	return m;
}

void
storage_http_fail(struct storage_req *q, const char *what, CURLcode code)
{
	enum storage_result r;
	long ra;
	char *m = storage_http_why(q, what, code, &r, &ra);

	storage_end(q, r, ra, "%s", m);
	free(m);
}

/* ---- checksums ---------------------------------------------------------------- */

static int
storage_hex_bytes(const char *md5, unsigned char md[16])
{
	unsigned v;
	int i;

	if (strncmp(md5, "md5:", 4) == 0)
		md5 += 4;
	if (strlen(md5) != 32 || strspn(md5, "0123456789abcdefABCDEF") != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		if (sscanf(md5 + 2 * i, "%2x", &v) != 1)
			return -1;
		md[i] = (unsigned char)v;
	}
	return 0;
}

static void
storage_bytes_hex(const unsigned char md[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	memcpy(out, "md5:", 4);
	for (i = 0; i < 16; i++) {
		out[4 + 2 * i] = hex[md[i] >> 4];
		out[5 + 2 * i] = hex[md[i] & 15];
	}
	out[36] = '\0';
}

int
storage_md5_b64(const char *md5, char out[25])
{
	unsigned char md[16];

	if (storage_hex_bytes(md5, md) != 0)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, 16);
	return 0;
}

int
storage_b64_md5(const char *b64, size_t len, char out[37])
{
	unsigned char md[20];
	char in[25];

	if (len != 24)
		return -1;
	memcpy(in, b64, 24);
	in[24] = '\0';
	if (EVP_DecodeBlock(md, (const unsigned char *)in, 24) != 18)
		return -1;
	storage_bytes_hex(md, out);
	return 0;
}

void
storage_md5_peek(const MD5_CTX *ctx, char out[37])
{
	MD5_CTX c = *ctx;
	unsigned char md[16];

	MD5_Final(md, &c);
	storage_bytes_hex(md, out);
}

struct storage_hash {
	struct storage_req	*q;
	char			*path;
	int64_t			 n;
	MD5_CTX			 ctx;
	MD5_CTX			*out;
	int			 err;
	void			(*done)(struct storage_req *, int);
};

static void
storage_hash_run(void *arg)
{
	struct storage_hash *h = arg;
	char *buf = xmalloc(STORAGE_CHUNK);
	int64_t left = h->n, off = 0;
	ssize_t got;
	int fd;

	MD5_Init(&h->ctx);
	if ((fd = open(h->path, O_RDONLY | O_CLOEXEC)) < 0) {
		h->err = errno;
		free(buf);
		return;
	}
	while (left > 0) {
		got = pread(fd, buf, left < STORAGE_CHUNK ? (size_t)left : STORAGE_CHUNK, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			h->err = got < 0 ? errno : ENODATA;
			break;
		}
		MD5_Update(&h->ctx, buf, (size_t)got);
		off += got;
		left -= got;
	}
	close(fd);
	free(buf);
}

static void
storage_hash_done(void *arg)
{
	struct storage_hash *h = arg;

	*h->out = h->ctx;
	h->done(h->q, h->err);
	free(h->path);
	free(h);
}

void
storage_hash_prefix(struct storage_req *q, int64_t n, MD5_CTX *ctx,
    void (*done)(struct storage_req *q, int err))
{
	struct storage_hash *h = xcalloc(1, sizeof *h);

	h->q = q;
	h->path = xstrdup(q->f.path);
	h->n = n;
	h->out = ctx;
	h->done = done;
	storage_submit(q->st, storage_hash_run, storage_hash_done, h);
}

/* ---- keys ---------------------------------------------------------------------- */

char *
storage_uri_path(const char *uri, char **cause)
{
	const char *colon = strchr(uri, ':');
	char *out, *seg, *next;
	size_t n, i;

	if (colon == NULL || colon == uri) {
		*cause = xasprintf("%s: an artifact URI SCHEME:PATH expected", uri);
		return NULL;
	}
	out = xstrdup(uri);
	out[colon - uri] = '/';
	for (seg = out;; seg = next + 1) {
		next = strchr(seg, '/');
		n = next != NULL ? (size_t)(next - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && strncmp(seg, "..", 2) == 0))
			break;
		for (i = 0; i < n && !iscntrl((unsigned char)seg[i]); i++)
			;
		if (i < n)
			break;
		if (next == NULL)
			return out;
	}
	free(out);
	*cause = xasprintf("%s: a URI whose path has an empty, \".\" or \"..\" segment or a "
	    "control character cannot be a storage key", uri);
	return NULL;
}

/* ---- set-up -------------------------------------------------------------------- */

struct storage *
storage_new(struct ev_loop *loop, const struct storage_config *cfg, char **cause)
{
	static const struct storage_backend *const backends[] = {
		[STORAGE_SI] = &store_si_backend,
		[STORAGE_S3] = &store_s3_backend,
		[STORAGE_DIR] = &store_dir_backend,
	};
	struct storage *st = xcalloc(1, sizeof *st);

	st->loop = loop;
	st->be = backends[cfg->kind];
	TAILQ_INIT(&st->queue);
	LIST_INIT(&st->reqs);
	LIST_INIT(&st->orphans);
	st->timeout_ms = cfg->timeout_ms > 0 ? (long)cfg->timeout_ms : 120000;
	st->concurrency = cfg->concurrency > 0 ? cfg->concurrency : 4;
	st->retry_initial_ms = cfg->retry_initial_ms;
	st->retry_max_ms = cfg->retry_max_ms;
	st->retry_attempts = cfg->retry_attempts > 0 ? cfg->retry_attempts : 1;
	st->big = cfg->big;
	st->piece = cfg->piece;
	st->submit = cfg->submit;
	st->submit_ctx = cfg->submit_ctx;
	if (st->be->init(st, cfg, cause) != 0) {
		storage_free(st);
		return NULL;
	}
	if (cfg->kind != STORAGE_DIR) {
		st->ce = curlev_new(loop, (long)st->concurrency, storage_on_done, NULL, st);
		st->multi = curlev_multi(st->ce);
	}
	return st;
}

void
storage_free(struct storage *st)
{
	struct storage_reader *r;

	if (st == NULL)
		return;
	while (!LIST_EMPTY(&st->reqs))
		storage_req_free(LIST_FIRST(&st->reqs));
	while ((r = LIST_FIRST(&st->orphans)) != NULL) {
		LIST_REMOVE(r, entry);
		r->filling = 0;
		storage_reader_free(r);
	}
	curlev_free(st->ce);
	if (st->be != NULL && st->be->fini != NULL)
		st->be->fini(st);
	free(st->target);
	free(st->url);
	free(st->cert);
	free(st->netrc);
	if (st->auth != NULL)
		explicit_bzero(st->auth, strlen(st->auth));
	free(st->auth);
	curlev_ca_clear(&st->ca);
	sigv4_clear(&st->sv);
	free(st);
}

const char *
storage_target(const struct storage *st)
{
	return st->target;
}

char *
storage_locate(const struct storage *st, const char *uri, char **cause)
{
	return st->be->locate(st, uri, cause);
}
