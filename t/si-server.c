/*
 * si-server.c - a test storage inventory "files" service (minoc).
 *
 * SYNOPSIS
 *	si-server --listen ADDR:PORT --data DIR [--base PATH]
 *	    [--token-file FILE] [--port-file FILE] [--no-fsync]
 *	    [--segment-min BYTES] [--segment-max BYTES]
 *
 * DESCRIPTION
 *	Serves minoc's files API under --base (default /minoc/files), the
 *	rest of the path being the artifact URI (cadc:OMM/x.fits):
 *
 *	HEAD   BASE/URI  200 with Content-Length, Content-Type,
 *	                 Content-Encoding, Digest: md5=<base64>,
 *	                 Last-Modified; 404
 *	GET    BASE/URI  200 and the bytes; 404
 *	PUT    BASE/URI  201 with Digest (the MD5 of what was stored); 412
 *	                 when a Digest was sent and the bytes hash otherwise;
 *	                 400 when Content-Length does not match the body;
 *	                 nothing is stored unless the whole body arrived
 *	POST   BASE/URI  the content type and encoding from the
 *	                 contentType/contentEncoding parameters (minoc), else
 *	                 from Content-Type/Content-Encoding (cadcdata): 200;
 *	                 404
 *	DELETE BASE/URI  204; 404
 *
 *	The put transaction (minoc/PutTransaction.md): PUT with
 *	x-put-txn-op: start (and x-total-length) answers 202 with
 *	x-put-txn-id and, when given, x-put-segment-minbytes/maxbytes; PUT
 *	with x-put-txn-id appends a segment (400 outside the limits, but the
 *	last may be short) and answers 202 with the Digest of every byte so
 *	far; POST x-put-txn-op: revert undoes the last segment (202, Digest
 *	of what is left; 400 when there is none to undo); PUT
 *	x-put-txn-op: commit makes it the file (201 with Digest; 412 when
 *	x-total-length or the start's Digest do not match); POST
 *	x-put-txn-op: abort drops it (204); HEAD with x-put-txn-id answers
 *	202 with Content-Length (bytes held) and their Digest; an unknown
 *	transaction is 404.
 *
 *	Files are kept as DIR/files/MD5OFURI with a .meta beside (URI, MD5,
 *	size, type, encoding, times written), transactions as DIR/txn/ID,
 *	written to temporary files, fsync'ed (unless --no-fsync) and
 *	renamed, and read back at start-up: a restarted server holds what it
 *	held. With --token-file every request must carry "Authorization:
 *	Bearer <token>" (else 401). Listen on port 0 to get a free port.
 *
 *	Test endpoints (no authentication, not counted, never faulted):
 *	GET  /_test/stats        {"GET":n,...,"dropped":n,"stored":n,
 *	                         "txn_start":n,"segments":n,"reverts":n,
 *	                         "commits":n,"aborts":n,"updates":n,
 *	                         "status":{"201":n,...}}
 *	POST /_test/reset-stats
 *	POST /_test/fault?status=S&count=N[&retry_after=SEC][&verb=V]
 *	POST /_test/fault?delay_ms=MS&count=N[&verb=V]
 *	POST /_test/fault?drop=1&count=N[&after=BYTES][&verb=V]
 *	POST /_test/fault?corrupt=1&count=N[&verb=V]
 *	                         the next N matching requests get status S
 *	                         (after their body is read; nothing stored),
 *	                         are delayed, have their connection closed
 *	                         without a response (after BYTES of their
 *	                         body: mid-body); corrupt: the first byte of
 *	                         each of the next N segments stored is
 *	                         flipped (its Digest then differs)
 *	POST /_test/clear-faults
 *	GET  /_test/files        URI, size, md5, type, encoding, times written:
 *	                         one line each, tab-separated, by URI
 *	GET  /_test/last-headers "Name: value" lines of the last request,
 *	                         Authorization values replaced by "[N bytes]"
 *
 *	The listening URL (with --base) is printed on standard output; with
 *	--port-file the port is also written there. One line per request
 *	goes to standard error: verb, path, status, bytes in and out, time.
 *	SIGTERM or SIGINT stops the server with exit status 0.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/xmalloc.h"

#define FAULT_MAX	64
#define STATUS_MAX	600
#define COPY_BUF	(1 << 20)

static struct {
	const char	*listen;
	const char	*data;
	char		*base;
	const char	*port_file;
	int		 no_fsync;
	char		*bearer;	/* "Bearer <token>" */
	int64_t		 seg_min;	/* 0: none */
	int64_t		 seg_max;
} conf;

/* ---- small helpers -------------------------------------------------------- */

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = b->cap == 0 ? 256 : b->cap;
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_add(b, s, strlen(s));
	free(s);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatalx(const char *fmt, ...)
{
	va_list ap;

	fputs("si-server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
hexify(const unsigned char *md, unsigned n, char *out)
{
	unsigned i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The name of a URI's files: the MD5 of the URI in hex. */
static void
uri_name(const char *uri, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_Digest(uri, strlen(uri), md, &n, EVP_md5(), NULL);
	hexify(md, 16, out);
}

/* A digest's hex as the Digest header's base64. */
static void
md5_b64(const char hex[33], char out[25])
{
	unsigned char md[16];
	unsigned v, i;

	for (i = 0; i < 16; i++) {
		sscanf(hex + 2 * i, "%2x", &v);
		md[i] = (unsigned char)v;
	}
	EVP_EncodeBlock((unsigned char *)out, md, 16);
}

/* The md5 of a "md5=<base64>" Digest header as hex, or "" when there is none. */
static void
digest_hex(const char *h, char out[33])
{
	unsigned char md[20];
	const char *p;
	char b64[25];

	out[0] = '\0';
	if (h == NULL || (p = strcasestr(h, "md5=")) == NULL)
		return;
	p += 4;
	if (strlen(p) < 24)
		return;
	memcpy(b64, p, 24);
	b64[24] = '\0';
	if (EVP_DecodeBlock(md, (unsigned char *)b64, 24) == 18)
		hexify(md, 16, out);
}

static void
ctx_hex(const EVP_MD_CTX *ctx, char out[33])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_MD_CTX_copy_ex(c, ctx);
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	hexify(md, 16, out);
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Hash a file's bytes into ctx (from its start); its size, or -1. */
static int64_t
hash_file(const char *path, EVP_MD_CTX *ctx)
{
	char *b = xmalloc(COPY_BUF);
	int64_t total = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		free(b);
		return -1;
	}
	while ((n = read(fd, b, COPY_BUF)) > 0) {
		EVP_DigestUpdate(ctx, b, (size_t)n);
		total += n;
	}
	close(fd);
	free(b);
	return n < 0 ? -1 : total;
}

static char *
path_of(const char *dir, const char *name, const char *suffix)
{
	return xasprintf("%s/%s/%s%s", conf.data, dir, name, suffix);
}

/* Write text to path atomically. */
static int
write_atomic(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd, r = -1;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) >= 0) {
		if (write_all(fd, text, strlen(text)) == 0 && (conf.no_fsync || fsync(fd) == 0))
			r = 0;
		close(fd);
	}
	if (r == 0 && rename(tmp, path) != 0)
		r = -1;
	if (r != 0)
		unlink(tmp);
	free(tmp);
	return r;
}

/* ---- the index: files and transactions, under one lock ---------------------- */

struct file {
	char		*uri;
	char		 name[33];
	char		 md5[33];
	int64_t		 size;
	char		*type;
	char		*encoding;
	long		 puts;
	time_t		 mtime;
	struct file	*next;
};

struct txn {
	char		 id[33];
	char		*uri;
	int64_t		 total;		/* -1: not given */
	int64_t		 len;		/* bytes held */
	int64_t		 prev;		/* before the last segment, -1: none to revert */
	char		 want[33];	/* the start's Digest, or "" */
	char		*type;
	char		*encoding;
	EVP_MD_CTX	*ctx;		/* of the bytes held */
	EVP_MD_CTX	*prevctx;
	int		 busy;
	struct txn	*next;
};

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;		/* a transaction given back */
	struct file	*files;
	struct txn	*txns;
} idx = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL };

static struct file *
file_find(const char *uri)
{
	struct file *f;

	for (f = idx.files; f != NULL; f = f->next) {
		if (strcmp(f->uri, uri) == 0)
			return f;
	}
	return NULL;
}

static struct txn *
txn_find(const char *id)
{
	struct txn *t;

	for (t = idx.txns; t != NULL; t = t->next) {
		if (strcmp(t->id, id) == 0)
			return t;
	}
	return NULL;
}

/* The .meta text of a file (under the lock). */
static char *
file_meta_text(const struct file *f)
{
	return xasprintf("%s\n%s\n%" PRId64 "\n%s\n%s\n%ld\n%lld\n", f->uri, f->md5, f->size,
	    f->type != NULL ? f->type : "", f->encoding != NULL ? f->encoding : "", f->puts,
	    (long long)f->mtime);
}

static int
file_save_meta(const char *name, char *text)
{
	char *path = path_of("files", name, ".meta");
	int r = write_atomic(path, text);

	free(text);
	free(path);
	return r;
}

static int
txn_save_meta(const struct txn *t)
{
	char *path = path_of("txn", t->id, ".meta"), *text;
	int r;

	text = xasprintf("%s\n%" PRId64 "\n%s\n%s\n%s\n", t->uri, t->total, t->want,
	    t->type != NULL ? t->type : "", t->encoding != NULL ? t->encoding : "");
	r = write_atomic(path, text);
	free(text);
	free(path);
	return r;
}

static void
file_free(struct file *f)
{
	free(f->uri);
	free(f->type);
	free(f->encoding);
	free(f);
}

static void
txn_free(struct txn *t)
{
	free(t->uri);
	free(t->type);
	free(t->encoding);
	EVP_MD_CTX_free(t->ctx);
	EVP_MD_CTX_free(t->prevctx);
	free(t);
}

static void
txn_unlink(struct txn *t)
{
	struct txn **pp;
	char *p;

	for (pp = &idx.txns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	p = path_of("txn", t->id, "");
	unlink(p);
	free(p);
	p = path_of("txn", t->id, ".meta");
	unlink(p);
	free(p);
}

/* Lines of a .meta file into v (at most n), the text kept in *text. */
static size_t
meta_lines(const char *path, char **text, char **v, size_t n)
{
	struct buf b = { NULL, 0, 0 };
	char chunk[4096], *p, *nl;
	size_t i = 0;
	ssize_t got;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while ((got = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(&b, chunk, (size_t)got);
	close(fd);
	for (p = b.p; p != NULL && i < n && (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		v[i++] = p;
	}
	*text = b.p;
	return i;
}

static void
load_file(const char *name)
{
	char *path = path_of("files", name, ""), *text = NULL, *v[7];
	struct file *f;

	if (meta_lines(path, &text, v, 7) == 7) {
		f = xcalloc(1, sizeof *f);
		f->uri = xstrdup(v[0]);
		snprintf(f->name, sizeof f->name, "%.32s", name);
		snprintf(f->md5, sizeof f->md5, "%s", v[1]);
		f->size = strtoll(v[2], NULL, 10);
		f->type = *v[3] ? xstrdup(v[3]) : NULL;
		f->encoding = *v[4] ? xstrdup(v[4]) : NULL;
		f->puts = atol(v[5]);
		f->mtime = (time_t)atoll(v[6]);
		f->next = idx.files;
		idx.files = f;
	}
	free(text);
	free(path);
}

static void
load_txn(const char *name)
{
	char *path = path_of("txn", name, ""), *text = NULL, *v[5], *content;
	struct txn *t;

	if (meta_lines(path, &text, v, 5) == 5) {
		t = xcalloc(1, sizeof *t);
		snprintf(t->id, sizeof t->id, "%.32s", name);
		t->uri = xstrdup(v[0]);
		t->total = strtoll(v[1], NULL, 10);
		snprintf(t->want, sizeof t->want, "%s", v[2]);
		t->type = *v[3] ? xstrdup(v[3]) : NULL;
		t->encoding = *v[4] ? xstrdup(v[4]) : NULL;
		t->ctx = EVP_MD_CTX_new();
		EVP_DigestInit_ex(t->ctx, EVP_md5(), NULL);
		content = path_of("txn", t->id, "");
		t->len = hash_file(content, t->ctx);
		free(content);
		if (t->len < 0)
			t->len = 0;
		t->prev = -1;
		t->next = idx.txns;
		idx.txns = t;
	}
	free(text);
	free(path);
}

static void
load_none(const char *name)
{
	(void)name;
}

static void
load_dir(const char *sub, void (*fn)(const char *))
{
	char *dir = xasprintf("%s/%s", conf.data, sub), *name;
	struct dirent *d;
	size_t n;
	DIR *dp;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		fatalx("mkdir %s: %s", dir, strerror(errno));
	if ((dp = opendir(dir)) == NULL)
		fatalx("%s: %s", dir, strerror(errno));
	while ((d = readdir(dp)) != NULL) {
		n = strlen(d->d_name);
		if (n > 5 && strcmp(d->d_name + n - 5, ".meta") == 0) {
			name = xstrdup(d->d_name);
			fn(name);
			free(name);
		} else if (n > 4 && strcmp(d->d_name + n - 4, ".tmp") == 0) {
			name = xasprintf("%s/%s", dir, d->d_name);
			unlink(name);
			free(name);
		}
	}
	closedir(dp);
	free(dir);
}

/* ---- statistics, faults, the last headers ---------------------------------- */

static const char *const stat_verbs[] = { "GET", "HEAD", "PUT", "POST", "DELETE", "OTHER" };
#define NVERBS (sizeof stat_verbs / sizeof stat_verbs[0])

enum { EV_STORED, EV_START, EV_SEGMENT, EV_REVERT, EV_COMMIT, EV_ABORT, EV_UPDATE, NEVENTS };
static const char *const event_names[NEVENTS] = {
	"stored", "txn_start", "segments", "reverts", "commits", "aborts", "updates"
};

static struct {
	pthread_mutex_t	 lock;
	unsigned long	 verb[NVERBS];
	unsigned long	 status[STATUS_MAX];
	unsigned long	 event[NEVENTS];
	unsigned long	 dropped;
} stats = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
stats_count(const char *method, int status)
{
	size_t v;

	for (v = 0; v < NVERBS - 1 && strcmp(method, stat_verbs[v]) != 0; v++)
		;
	pthread_mutex_lock(&stats.lock);
	stats.verb[v]++;
	if (status == 0)
		stats.dropped++;
	else if (status > 0 && status < STATUS_MAX)
		stats.status[status]++;
	pthread_mutex_unlock(&stats.lock);
}

static void
stats_event(int e)
{
	pthread_mutex_lock(&stats.lock);
	stats.event[e]++;
	pthread_mutex_unlock(&stats.lock);
}

enum fault_kind { FAULT_STATUS, FAULT_DELAY, FAULT_DROP, FAULT_CORRUPT };

struct fault {
	enum fault_kind	 kind;
	long		 status;
	long		 retry_after;	/* -1: none */
	long		 delay_ms;
	long		 after;		/* drop: after this many body bytes */
	long		 count;
	char		 verb[16];
};

struct verdict {
	int		 status;
	long		 retry_after;
	long		 delay_ms;
	int		 drop;
	long		 drop_after;
	int		 corrupt;
};

static struct {
	pthread_mutex_t	 lock;
	struct fault	 list[FAULT_MAX];
	size_t		 n;
} faults = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
fault_apply(struct fault *f, struct verdict *v)
{
	if (f->kind == FAULT_CORRUPT)
		return;		/* taken by the segment it spoils (fault_corrupt) */
	if (f->kind == FAULT_DELAY)
		v->delay_ms += f->delay_ms;
	else if (v->status != 0 || v->drop)
		return;
	else if (f->kind == FAULT_DROP) {
		v->drop = 1;
		v->drop_after = f->after;
	} else {
		v->status = (int)f->status;
		v->retry_after = f->retry_after;
	}
	f->count--;
}

static void
fault_take(const char *method, struct verdict *v)
{
	size_t i, j;

	memset(v, 0, sizeof *v);
	pthread_mutex_lock(&faults.lock);
	for (i = 0; i < faults.n; i++) {
		if (faults.list[i].verb[0] == '\0' || strcmp(faults.list[i].verb, method) == 0)
			fault_apply(&faults.list[i], v);
	}
	for (i = j = 0; i < faults.n; i++) {
		if (faults.list[i].count > 0)
			faults.list[j++] = faults.list[i];
	}
	faults.n = j;
	pthread_mutex_unlock(&faults.lock);
}

/* Is the segment being stored to be spoilt? Takes one corrupt fault. */
static int
fault_corrupt(const char *method)
{
	size_t i;
	int hit = 0;

	pthread_mutex_lock(&faults.lock);
	for (i = 0; i < faults.n && !hit; i++) {
		if (faults.list[i].kind == FAULT_CORRUPT && faults.list[i].count > 0 &&
		    (faults.list[i].verb[0] == '\0' || strcmp(faults.list[i].verb, method) == 0)) {
			faults.list[i].count--;
			hit = 1;
		}
	}
	pthread_mutex_unlock(&faults.lock);
	return hit;
}

static struct {
	pthread_mutex_t	 lock;
	char		*text;
} last = { PTHREAD_MUTEX_INITIALIZER, NULL };

static enum MHD_Result
header_line(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct buf *b = arg;

	(void)kind;
	if (strcasecmp(key, "Authorization") == 0)
		buf_printf(b, "%s: [%zu bytes]\n", key, value != NULL ? strlen(value) : 0);
	else
		buf_printf(b, "%s: %s\n", key, value != NULL ? value : "");
	return MHD_YES;
}

static void
last_headers_save(struct MHD_Connection *conn)
{
	struct buf b = { NULL, 0, 0 };

	buf_add(&b, "", 0);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, header_line, &b);
	pthread_mutex_lock(&last.lock);
	free(last.text);
	last.text = b.p;
	pthread_mutex_unlock(&last.lock);
}

/* ---- requests ----------------------------------------------------------------- */

struct req {
	char		*method;
	char		*path;
	char		*uri;		/* NULL: not a file */
	int		 test;
	int		 fd;		/* the body, in a temporary file */
	char		*tmp;
	EVP_MD_CTX	*ctx;		/* of the body */
	int64_t		 in;
	struct buf	 small;		/* a test endpoint's body */
	int		 status;
	size_t		 out;
	int		 dropped;
	struct verdict	 fault;
	int64_t		 start;
};

static const char *
hdr(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result
queue(struct MHD_Connection *conn, struct req *r, int status, struct MHD_Response *resp,
    size_t len)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	r->status = status;
	r->out = len;
	if (!r->test)
		stats_count(r->method, status);
	return ret;
}

static struct MHD_Response *
response_text(char *body)
{
	struct MHD_Response *resp;
	size_t len = body != NULL ? strlen(body) : 0;

	resp = body != NULL ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE) :
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp != NULL && body != NULL)
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	return resp;
}

static enum MHD_Result __attribute__((format(printf, 4, 5)))
respond_error(struct MHD_Connection *conn, struct req *r, int status, const char *fmt, ...)
{
	va_list ap;
	char *msg, *body;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	body = xasprintf("%s\n", msg);
	free(msg);
	return queue(conn, r, status, response_text(body), strlen(body));
}

/* An empty response with a Digest (hex, or "" for none) and a status. */
static enum MHD_Result
respond_digest(struct MHD_Connection *conn, struct req *r, int status, const char *hex,
    const struct txn *t)
{
	struct MHD_Response *resp = response_text(NULL);
	char b64[25], n[32];

	if (resp == NULL)
		return MHD_NO;
	if (hex != NULL && *hex != '\0') {
		md5_b64(hex, b64);
		snprintf(n, sizeof n, "md5=%s", b64);
		MHD_add_response_header(resp, "Digest", n);
	}
	if (t != NULL) {
		MHD_add_response_header(resp, "x-put-txn-id", t->id);
		if (conf.seg_min > 0) {
			snprintf(n, sizeof n, "%" PRId64, conf.seg_min);
			MHD_add_response_header(resp, "x-put-segment-minbytes", n);
		}
		if (conf.seg_max > 0) {
			snprintf(n, sizeof n, "%" PRId64, conf.seg_max);
			MHD_add_response_header(resp, "x-put-segment-maxbytes", n);
		}
	}
	return queue(conn, r, status, resp, 0);
}

/* Move the request body (a temporary file) to path. */
static int
body_keep(struct req *r, const char *path)
{
	if (r->fd < 0)
		r->fd = open(r->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (r->fd < 0 || (!conf.no_fsync && fsync(r->fd) != 0))
		return -1;
	close(r->fd);
	r->fd = -1;
	if (rename(r->tmp, path) != 0)
		return -1;
	free(r->tmp);
	r->tmp = NULL;
	return 0;
}

static void
body_hex(const struct req *r, char out[33])
{
	ctx_hex(r->ctx, out);
}

/* A new version of a file: its bytes are path already; the index and .meta. */
static void
file_record(const char *uri, const char *md5, int64_t size, const char *type,
    const char *encoding)
{
	struct file *f;
	char name[33], *text;

	pthread_mutex_lock(&idx.lock);
	if ((f = file_find(uri)) == NULL) {
		f = xcalloc(1, sizeof *f);
		f->uri = xstrdup(uri);
		uri_name(uri, f->name);
		f->next = idx.files;
		idx.files = f;
	}
	snprintf(f->md5, sizeof f->md5, "%s", md5);
	f->size = size;
	free(f->type);
	free(f->encoding);
	f->type = type != NULL ? xstrdup(type) : NULL;
	f->encoding = encoding != NULL ? xstrdup(encoding) : NULL;
	f->puts++;
	f->mtime = time(NULL);
	text = file_meta_text(f);
	memcpy(name, f->name, sizeof name);
	pthread_mutex_unlock(&idx.lock);
	file_save_meta(name, text);
	stats_event(EV_STORED);
}

static enum MHD_Result
file_put(struct MHD_Connection *conn, struct req *r)
{
	const char *cl = hdr(conn, "Content-Length");
	char want[33], got[33], name[33], *path;

	digest_hex(hdr(conn, "Digest"), want);
	body_hex(r, got);
	if (cl != NULL && strtoll(cl, NULL, 10) != r->in)
		return respond_error(conn, r, 400, "Content-Length %s, but %" PRId64 " bytes came",
		    cl, r->in);
	if (*want != '\0' && strcmp(want, got) != 0)
		return respond_error(conn, r, 412, "checksum mismatch: Digest md5 %s, the bytes "
		    "hash to %s", want, got);
	uri_name(r->uri, name);
	path = path_of("files", name, "");
	if (body_keep(r, path) != 0) {
		free(path);
		return respond_error(conn, r, 500, "storing %s: %s", r->uri, strerror(errno));
	}
	free(path);
	file_record(r->uri, got, r->in, hdr(conn, "Content-Type"), hdr(conn, "Content-Encoding"));
	return respond_digest(conn, r, 201, got, NULL);
}

/* Append the request's body to the transaction's bytes. */
static int
txn_append(struct req *r, struct txn *t)
{
	char *path = path_of("txn", t->id, ""), *b = xmalloc(COPY_BUF);
	int in = -1, out, rc = -1;
	ssize_t n;

	if ((out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		goto done;
	if (r->in > 0 && (in = open(r->tmp, O_RDONLY | O_CLOEXEC)) < 0)
		goto done;
	if (t->prevctx == NULL)
		t->prevctx = EVP_MD_CTX_new();
	EVP_MD_CTX_copy_ex(t->prevctx, t->ctx);
	t->prev = t->len;
	while (in >= 0 && (n = read(in, b, COPY_BUF)) > 0) {
		if (r->fault.corrupt && t->len == t->prev)
			b[0] ^= 0x5a;	/* the injected fault: what is kept differs */
		if (write_all(out, b, (size_t)n) != 0)
			goto done;
		EVP_DigestUpdate(t->ctx, b, (size_t)n);
		t->len += n;
	}
	rc = conf.no_fsync || fsync(out) == 0 ? 0 : -1;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(b);
	free(path);
	return rc;
}

static enum MHD_Result
txn_start(struct MHD_Connection *conn, struct req *r)
{
	unsigned char rnd[16];
	const char *tl = hdr(conn, "x-total-length"), *ty = hdr(conn, "Content-Type");
	const char *en = hdr(conn, "Content-Encoding");
	char hex[33];
	struct txn *t = xcalloc(1, sizeof *t);

	RAND_bytes(rnd, sizeof rnd);
	hexify(rnd, 16, t->id);
	t->uri = xstrdup(r->uri);
	t->total = tl != NULL ? strtoll(tl, NULL, 10) : -1;
	digest_hex(hdr(conn, "Digest"), t->want);
	t->type = ty != NULL ? xstrdup(ty) : NULL;
	t->encoding = en != NULL ? xstrdup(en) : NULL;
	t->ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(t->ctx, EVP_md5(), NULL);
	t->prev = -1;
	if (txn_save_meta(t) != 0 || (r->in > 0 && txn_append(r, t) != 0)) {
		txn_free(t);
		return respond_error(conn, r, 500, "starting a transaction: %s", strerror(errno));
	}
	pthread_mutex_lock(&idx.lock);
	t->next = idx.txns;
	idx.txns = t;
	pthread_mutex_unlock(&idx.lock);
	stats_event(EV_START);
	ctx_hex(t->ctx, hex);
	return respond_digest(conn, r, 202, t->len > 0 ? hex : "", t);
}

/* Take a transaction for this request (404 and NULL when unknown). */
static struct txn *
txn_take(struct MHD_Connection *conn, struct req *r, const char *id, enum MHD_Result *ret)
{
	struct txn *t;

	pthread_mutex_lock(&idx.lock);
	/* requests of one transaction take turns (one may be a late one of a dead client) */
	while ((t = txn_find(id)) != NULL && t->busy)
		pthread_cond_wait(&idx.cond, &idx.lock);
	if (t != NULL && strcmp(t->uri, r->uri) != 0)
		t = NULL;
	if (t != NULL)
		t->busy = 1;
	pthread_mutex_unlock(&idx.lock);
	if (t == NULL)
		*ret = respond_error(conn, r, 404, "no transaction %s for %s", id, r->uri);
	return t;
}

static void
txn_give(struct txn *t)
{
	pthread_mutex_lock(&idx.lock);
	t->busy = 0;
	pthread_cond_broadcast(&idx.cond);
	pthread_mutex_unlock(&idx.lock);
}

static enum MHD_Result
txn_segment(struct MHD_Connection *conn, struct req *r, struct txn *t)
{
	char hex[33];
	int final = t->total >= 0 && t->len + r->in >= t->total;

	if (conf.seg_min > 0 && r->in < conf.seg_min && !final)
		return respond_error(conn, r, 400, "a segment of %" PRId64 " bytes is below the "
		    "minimum of %" PRId64, r->in, conf.seg_min);
	if (conf.seg_max > 0 && r->in > conf.seg_max)
		return respond_error(conn, r, 400, "a segment of %" PRId64 " bytes is above the "
		    "maximum of %" PRId64, r->in, conf.seg_max);
	if (t->total >= 0 && t->len + r->in > t->total)
		return respond_error(conn, r, 400, "%" PRId64 " bytes would exceed x-total-length "
		    "%" PRId64, t->len + r->in, t->total);
	r->fault.corrupt = r->in > 0 && fault_corrupt(r->method);
	if (txn_append(r, t) != 0)
		return respond_error(conn, r, 500, "appending: %s", strerror(errno));
	stats_event(EV_SEGMENT);
	ctx_hex(t->ctx, hex);
	return respond_digest(conn, r, 202, hex, t);
}

static enum MHD_Result
txn_commit(struct MHD_Connection *conn, struct req *r, struct txn *t)
{
	char hex[33], name[33], *from, *to;
	enum MHD_Result ret;

	ctx_hex(t->ctx, hex);
	if (t->total >= 0 && t->len != t->total)
		return respond_error(conn, r, 412, "x-total-length %" PRId64 ", but %" PRId64
		    " bytes were sent", t->total, t->len);
	if (*t->want != '\0' && strcmp(t->want, hex) != 0)
		return respond_error(conn, r, 412, "checksum mismatch: Digest md5 %s at the "
		    "start, the bytes hash to %s", t->want, hex);
	uri_name(t->uri, name);
	from = path_of("txn", t->id, "");
	to = path_of("files", name, "");
	if (t->len == 0)
		close(open(from, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	if (rename(from, to) != 0)
		ret = respond_error(conn, r, 500, "committing: %s", strerror(errno));
	else {
		file_record(t->uri, hex, t->len, t->type, t->encoding);
		stats_event(EV_COMMIT);
		ret = respond_digest(conn, r, 201, hex, NULL);
		pthread_mutex_lock(&idx.lock);
		txn_unlink(t);
		pthread_cond_broadcast(&idx.cond);
		pthread_mutex_unlock(&idx.lock);
		txn_free(t);
		t = NULL;
	}
	free(from);
	free(to);
	if (t != NULL)
		txn_give(t);
	return ret;
}

static enum MHD_Result
txn_revert(struct MHD_Connection *conn, struct req *r, struct txn *t)
{
	char hex[33], *path;

	if (t->prev < 0)
		return respond_error(conn, r, 400, "nothing to revert in transaction %s", t->id);
	path = path_of("txn", t->id, "");
	if (truncate(path, (off_t)t->prev) != 0) {
		free(path);
		return respond_error(conn, r, 500, "reverting: %s", strerror(errno));
	}
	free(path);
	EVP_MD_CTX_copy_ex(t->ctx, t->prevctx);
	t->len = t->prev;
	t->prev = -1;
	stats_event(EV_REVERT);
	ctx_hex(t->ctx, hex);
	return respond_digest(conn, r, 202, t->len > 0 ? hex : "", t);
}

static enum MHD_Result
txn_abort(struct MHD_Connection *conn, struct req *r, struct txn *t)
{
	pthread_mutex_lock(&idx.lock);
	txn_unlink(t);
	pthread_cond_broadcast(&idx.cond);
	pthread_mutex_unlock(&idx.lock);
	txn_free(t);
	stats_event(EV_ABORT);
	return queue(conn, r, 204, response_text(NULL), 0);
}

/* HEAD with x-put-txn-id: 202, the bytes held as Content-Length (MHD takes it from the
 * response's size: the transaction's file, whose body HEAD does not send). */
static enum MHD_Result
txn_state(struct MHD_Connection *conn, struct req *r, struct txn *t, const char *hex)
{
	struct MHD_Response *resp;
	char *path = path_of("txn", t->id, ""), b64[25], n[40];
	int fd = t->len > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	free(path);
	if (t->len > 0 && fd < 0)
		return respond_error(conn, r, 500, "transaction %s: %s", t->id, strerror(errno));
	resp = fd >= 0 ? MHD_create_response_from_fd((uint64_t)t->len, fd) : response_text(NULL);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "x-put-txn-id", t->id);
	if (t->len > 0) {
		md5_b64(hex, b64);
		snprintf(n, sizeof n, "md5=%s", b64);
		MHD_add_response_header(resp, "Digest", n);
	}
	if (conf.seg_min > 0) {
		snprintf(n, sizeof n, "%" PRId64, conf.seg_min);
		MHD_add_response_header(resp, "x-put-segment-minbytes", n);
	}
	if (conf.seg_max > 0) {
		snprintf(n, sizeof n, "%" PRId64, conf.seg_max);
		MHD_add_response_header(resp, "x-put-segment-maxbytes", n);
	}
	return queue(conn, r, 202, resp, 0);
}

/* Requests with x-put-txn-id. */
static enum MHD_Result
txn_request(struct MHD_Connection *conn, struct req *r, const char *id, const char *op)
{
	enum MHD_Result ret = MHD_NO;
	struct txn *t;
	char hex[33];

	if ((t = txn_take(conn, r, id, &ret)) == NULL)
		return ret;
	if (strcmp(r->method, "HEAD") == 0) {
		ctx_hex(t->ctx, hex);
		ret = txn_state(conn, r, t, hex);
	} else if (strcmp(r->method, "PUT") == 0 && op == NULL)
		ret = txn_segment(conn, r, t);
	else if (strcmp(r->method, "PUT") == 0 && strcmp(op, "commit") == 0)
		return txn_commit(conn, r, t);
	else if (strcmp(r->method, "POST") == 0 && op != NULL && strcmp(op, "revert") == 0)
		ret = txn_revert(conn, r, t);
	else if (strcmp(r->method, "POST") == 0 && op != NULL && strcmp(op, "abort") == 0)
		return txn_abort(conn, r, t);
	else
		ret = respond_error(conn, r, 400, "%s with x-put-txn-op %s: not understood",
		    r->method, op != NULL ? op : "(none)");
	txn_give(t);
	return ret;
}

static enum MHD_Result
file_head_get(struct MHD_Connection *conn, struct req *r)
{
	struct MHD_Response *resp;
	struct file *f, copy;
	char b64[25], n[64], *path;
	int fd = -1;

	pthread_mutex_lock(&idx.lock);
	if ((f = file_find(r->uri)) != NULL) {
		copy = *f;
		copy.type = f->type != NULL ? xstrdup(f->type) : NULL;
		copy.encoding = f->encoding != NULL ? xstrdup(f->encoding) : NULL;
	}
	pthread_mutex_unlock(&idx.lock);
	if (f == NULL)
		return respond_error(conn, r, 404, "not found: %s", r->uri);
	/* from the file for HEAD too: MHD then says its length and sends no body */
	path = path_of("files", copy.name, "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0) {
		free(copy.type);
		free(copy.encoding);
		return respond_error(conn, r, 500, "reading %s: %s", r->uri, strerror(errno));
	}
	resp = MHD_create_response_from_fd((uint64_t)copy.size, fd);
	if (resp != NULL) {
		md5_b64(copy.md5, b64);
		snprintf(n, sizeof n, "md5=%s", b64);
		MHD_add_response_header(resp, "Digest", n);
		if (copy.type != NULL)
			MHD_add_response_header(resp, "Content-Type", copy.type);
		if (copy.encoding != NULL)
			MHD_add_response_header(resp, "Content-Encoding", copy.encoding);
		strftime(n, sizeof n, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&copy.mtime));
		MHD_add_response_header(resp, "Last-Modified", n);
	}
	free(copy.type);
	free(copy.encoding);
	return queue(conn, r, 200, resp, strcmp(r->method, "GET") == 0 ? (size_t)copy.size : 0);
}

static enum MHD_Result
file_post(struct MHD_Connection *conn, struct req *r)
{
	const char *type = arg(conn, "contentType"), *enc = arg(conn, "contentEncoding");
	struct file *f;
	char name[33], *text = NULL;

	if (type == NULL && enc == NULL) {
		type = hdr(conn, "Content-Type");
		enc = hdr(conn, "Content-Encoding");
	}
	pthread_mutex_lock(&idx.lock);
	if ((f = file_find(r->uri)) != NULL) {
		if (type != NULL) {
			free(f->type);
			f->type = xstrdup(type);
		}
		if (enc != NULL) {
			free(f->encoding);
			f->encoding = xstrdup(enc);
		}
		text = file_meta_text(f);
		memcpy(name, f->name, sizeof name);
	}
	pthread_mutex_unlock(&idx.lock);
	if (f == NULL)
		return respond_error(conn, r, 404, "not found: %s", r->uri);
	file_save_meta(name, text);
	stats_event(EV_UPDATE);
	return queue(conn, r, 200, response_text(NULL), 0);
}

static enum MHD_Result
file_delete(struct MHD_Connection *conn, struct req *r)
{
	struct file *f, **pp;
	char *path;

	pthread_mutex_lock(&idx.lock);
	for (pp = &idx.files; (f = *pp) != NULL; pp = &f->next) {
		if (strcmp(f->uri, r->uri) == 0) {
			*pp = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&idx.lock);
	if (f == NULL)
		return respond_error(conn, r, 404, "not found: %s", r->uri);
	path = path_of("files", f->name, "");
	unlink(path);
	free(path);
	path = path_of("files", f->name, ".meta");
	unlink(path);
	free(path);
	file_free(f);
	return queue(conn, r, 204, response_text(NULL), 0);
}

static enum MHD_Result
file_request(struct MHD_Connection *conn, struct req *r)
{
	const char *id = hdr(conn, "x-put-txn-id"), *op = hdr(conn, "x-put-txn-op");

	if (id != NULL)
		return txn_request(conn, r, id, op);
	if (strcmp(r->method, "PUT") == 0 && op != NULL && strcmp(op, "start") == 0)
		return txn_start(conn, r);
	if (op != NULL)
		return respond_error(conn, r, 400, "x-put-txn-op %s needs x-put-txn-id", op);
	if (strcmp(r->method, "HEAD") == 0 || strcmp(r->method, "GET") == 0)
		return file_head_get(conn, r);
	if (strcmp(r->method, "PUT") == 0)
		return file_put(conn, r);
	if (strcmp(r->method, "POST") == 0)
		return file_post(conn, r);
	if (strcmp(r->method, "DELETE") == 0)
		return file_delete(conn, r);
	return respond_error(conn, r, 405, "method %s not allowed", r->method);
}

/* ---- test endpoints ------------------------------------------------------------- */

static enum MHD_Result
test_stats(struct MHD_Connection *conn, struct req *r)
{
	struct buf b = { NULL, 0, 0 };
	const char *sep = "";
	size_t i;

	pthread_mutex_lock(&stats.lock);
	buf_add(&b, "{", 1);
	for (i = 0; i < NVERBS; i++)
		buf_printf(&b, "\"%s\":%lu,", stat_verbs[i], stats.verb[i]);
	for (i = 0; i < NEVENTS; i++)
		buf_printf(&b, "\"%s\":%lu,", event_names[i], stats.event[i]);
	buf_printf(&b, "\"dropped\":%lu,\"status\":{", stats.dropped);
	for (i = 0; i < STATUS_MAX; i++) {
		if (stats.status[i] != 0) {
			buf_printf(&b, "%s\"%zu\":%lu", sep, i, stats.status[i]);
			sep = ",";
		}
	}
	pthread_mutex_unlock(&stats.lock);
	buf_add(&b, "}}\n", 3);
	return queue(conn, r, 200, response_text(b.p), b.len);
}

static enum MHD_Result
test_reset(struct MHD_Connection *conn, struct req *r)
{
	pthread_mutex_lock(&stats.lock);
	memset(stats.verb, 0, sizeof stats.verb);
	memset(stats.status, 0, sizeof stats.status);
	memset(stats.event, 0, sizeof stats.event);
	stats.dropped = 0;
	pthread_mutex_unlock(&stats.lock);
	return queue(conn, r, 200, response_text(xstrdup("stats reset\n")), 12);
}

static int
qlong(struct MHD_Connection *conn, const char *name, long min, long max, long *out)
{
	const char *s = arg(conn, name);
	char *end;
	long v;

	if (s == NULL)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 1;
}

static enum MHD_Result
test_fault(struct MHD_Connection *conn, struct req *r)
{
	struct fault f;
	const char *verb = arg(conn, "verb");
	long flag = 0, flag2 = 0;
	int st, dl, dr, co;

	memset(&f, 0, sizeof f);
	f.count = 1;
	f.retry_after = -1;
	st = qlong(conn, "status", 100, 599, &f.status);
	dl = qlong(conn, "delay_ms", 0, 600000, &f.delay_ms);
	dr = qlong(conn, "drop", 1, 1, &flag);
	co = qlong(conn, "corrupt", 1, 1, &flag2);
	if (st < 0 || dl < 0 || dr < 0 || co < 0 || st + dl + dr + co != 1 ||
	    qlong(conn, "count", 1, LONG_MAX, &f.count) < 0 ||
	    qlong(conn, "retry_after", 0, INT_MAX, &f.retry_after) < 0 ||
	    qlong(conn, "after", 0, LONG_MAX, &f.after) < 0 ||
	    (verb != NULL && (*verb == '\0' || strlen(verb) >= sizeof f.verb)))
		return respond_error(conn, r, 400, "give one of status=100..599, delay_ms=MS, "
		    "drop=1 [after=BYTES] or corrupt=1; count >= 1; verb an HTTP method");
	f.kind = st ? FAULT_STATUS : dl ? FAULT_DELAY : dr ? FAULT_DROP : FAULT_CORRUPT;
	if (verb != NULL)
		snprintf(f.verb, sizeof f.verb, "%s", verb);
	pthread_mutex_lock(&faults.lock);
	if (faults.n < FAULT_MAX)
		faults.list[faults.n++] = f;
	pthread_mutex_unlock(&faults.lock);
	return queue(conn, r, 200, response_text(xasprintf("fault added for %ld request(s)\n",
	    f.count)), 0);
}

static enum MHD_Result
test_clear(struct MHD_Connection *conn, struct req *r)
{
	pthread_mutex_lock(&faults.lock);
	faults.n = 0;
	pthread_mutex_unlock(&faults.lock);
	return queue(conn, r, 200, response_text(xstrdup("faults cleared\n")), 15);
}

static int
file_cmp(const void *a, const void *b)
{
	return strcmp((*(struct file *const *)a)->uri, (*(struct file *const *)b)->uri);
}

static enum MHD_Result
test_files(struct MHD_Connection *conn, struct req *r)
{
	struct buf b = { NULL, 0, 0 };
	struct file *f, **v = NULL;
	size_t n = 0, i;

	buf_add(&b, "", 0);
	pthread_mutex_lock(&idx.lock);
	for (f = idx.files; f != NULL; f = f->next) {
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = f;
	}
	qsort(v, n, sizeof *v, file_cmp);
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s\t%" PRId64 "\t%s\t%s\t%s\t%ld\n", v[i]->uri, v[i]->size,
		    v[i]->md5, v[i]->type ? v[i]->type : "", v[i]->encoding ? v[i]->encoding : "",
		    v[i]->puts);
	pthread_mutex_unlock(&idx.lock);
	free(v);
	return queue(conn, r, 200, response_text(b.p), b.len);
}

static enum MHD_Result
test_last(struct MHD_Connection *conn, struct req *r)
{
	char *text;

	pthread_mutex_lock(&last.lock);
	text = xstrdup(last.text != NULL ? last.text : "");
	pthread_mutex_unlock(&last.lock);
	return queue(conn, r, 200, response_text(text), strlen(text));
}

static const struct {
	const char	*method;
	const char	*path;
	enum MHD_Result	(*fn)(struct MHD_Connection *, struct req *);
} tests[] = {
	{ "GET", "/_test/stats", test_stats },
	{ "POST", "/_test/reset-stats", test_reset },
	{ "POST", "/_test/fault", test_fault },
	{ "POST", "/_test/clear-faults", test_clear },
	{ "GET", "/_test/files", test_files },
	{ "GET", "/_test/last-headers", test_last },
};

/* ---- the request's life ---------------------------------------------------------- */

static struct req *
req_new(const char *url, const char *method)
{
	struct req *r = xcalloc(1, sizeof *r);
	size_t n = strlen(conf.base);

	r->start = now_us();
	r->method = xstrdup(method);
	r->path = xstrdup(url);
	r->fd = -1;
	r->test = strncmp(url, "/_test/", 7) == 0;
	if (!r->test && strncmp(url, conf.base, n) == 0 && url[n] == '/' && url[n + 1] != '\0')
		r->uri = xstrdup(url + n + 1);
	r->ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(r->ctx, EVP_md5(), NULL);
	return r;
}

static void
req_free(struct req *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->tmp != NULL)
		unlink(r->tmp);
	free(r->tmp);
	free(r->method);
	free(r->path);
	free(r->uri);
	free(r->small.p);
	EVP_MD_CTX_free(r->ctx);
	free(r);
}

static int
auth_ok(struct MHD_Connection *conn)
{
	const char *h;
	size_t n;

	if (conf.bearer == NULL)
		return 1;
	h = hdr(conn, "Authorization");
	n = strlen(conf.bearer);
	return h != NULL && strlen(h) == n && strncasecmp(h, "Bearer ", 7) == 0 &&
	    CRYPTO_memcmp(h + 7, conf.bearer + 7, n - 7) == 0;
}

static enum MHD_Result
req_begin(struct MHD_Connection *conn, struct req *r)
{
	struct MHD_Response *resp;

	if (r->test)
		return MHD_YES;
	last_headers_save(conn);
	fault_take(r->method, &r->fault);
	if (r->fault.drop && r->fault.drop_after == 0) {
		r->dropped = 1;
		stats_count(r->method, 0);
		return MHD_NO;
	}
	if (r->fault.status != 0)
		return MHD_YES;
	if (!auth_ok(conn)) {
		resp = response_text(xstrdup("authentication required\n"));
		if (resp != NULL)
			MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
		return queue(conn, r, 401, resp, 24);
	}
	if (r->uri == NULL)
		return respond_error(conn, r, 404, "no such resource: %s", r->path);
	return MHD_YES;
}

static int
req_body(struct req *r, const char *data, size_t n)
{
	static unsigned long seq;
	unsigned long mine;

	r->in += (int64_t)n;
	if (r->test) {
		buf_add(&r->small, data, n);
		return 0;
	}
	if (r->fault.drop && r->in >= r->fault.drop_after) {
		r->dropped = 1;
		stats_count(r->method, 0);
		return -1;
	}
	if (r->fault.status != 0 || r->status != 0)
		return 0;
	EVP_DigestUpdate(r->ctx, data, n);
	if (r->fd < 0) {
		pthread_mutex_lock(&idx.lock);
		mine = ++seq;
		pthread_mutex_unlock(&idx.lock);
		r->tmp = xasprintf("%s/tmp/%d.%lu.tmp", conf.data, (int)getpid(), mine);
		if ((r->fd = open(r->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
			return -1;
	}
	return write_all(r->fd, data, n);
}

static enum MHD_Result
req_finish(struct MHD_Connection *conn, struct req *r)
{
	struct MHD_Response *resp;
	char ra[32];
	size_t i;

	if (r->test) {
		for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
			if (strcmp(tests[i].method, r->method) == 0 &&
			    strcmp(tests[i].path, r->path) == 0)
				return tests[i].fn(conn, r);
		}
		return respond_error(conn, r, 404, "no such test endpoint: %s %s", r->method,
		    r->path);
	}
	if (r->fault.delay_ms > 0)
		sleep_ms(r->fault.delay_ms);
	if (r->fault.status != 0) {
		resp = response_text(xasprintf("injected fault: %d\n", r->fault.status));
		snprintf(ra, sizeof ra, "%ld", r->fault.retry_after);
		if (resp != NULL && r->fault.retry_after >= 0)
			MHD_add_response_header(resp, "Retry-After", ra);
		return queue(conn, r, r->fault.status, resp, 0);
	}
	if (r->fd >= 0)
		lseek(r->fd, 0, SEEK_SET);
	return file_request(conn, r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **ptr)
{
	struct req *r = *ptr;

	(void)cls;
	(void)version;
	if (r == NULL) {
		*ptr = r = req_new(url, method);
		return req_begin(conn, r);
	}
	if (*upload_size != 0) {
		if (req_body(r, upload, *upload_size) != 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->status != 0)
		return MHD_YES;
	return req_finish(conn, r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **ptr,
    enum MHD_RequestTerminationCode code)
{
	struct req *r = *ptr;
	char status[16], *p;

	(void)cls;
	(void)conn;
	if (r == NULL)
		return;
	if (r->dropped)
		snprintf(status, sizeof status, "drop");
	else if (r->status == 0 || code != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		snprintf(status, sizeof status, "%d/abort", r->status);
	else
		snprintf(status, sizeof status, "%d", r->status);
	for (p = r->path; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p))
			*p = '?';
	}
	fprintf(stderr, "%s %s %s in=%" PRId64 " out=%zu %" PRId64 "us\n", r->method, r->path,
	    status, r->in, r->out, now_us() - r->start);
	req_free(r);
	*ptr = NULL;
}

static void __attribute__((format(printf, 2, 0)))
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("si-server: mhd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ---- start-up ---------------------------------------------------------------------- */

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: si-server --listen ADDR:PORT --data DIR [--base PATH]\n"
	    "           [--token-file FILE] [--port-file FILE] [--no-fsync]\n"
	    "           [--segment-min BYTES] [--segment-max BYTES]\n");
	exit(status);
}

static char *
read_token(const char *path)
{
	char line[4096];
	FILE *fp = fopen(path, "r");

	if (fp == NULL || fgets(line, sizeof line, fp) == NULL)
		fatalx("%s: %s", path, fp == NULL ? strerror(errno) : "empty");
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	if (*line == '\0')
		fatalx("%s: empty token", path);
	return xasprintf("Bearer %s", line);
}

static void
parse_args(int argc, char **argv)
{
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "base", required_argument, NULL, 'b' },
		{ "token-file", required_argument, NULL, 't' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "no-fsync", no_argument, NULL, 'n' },
		{ "segment-min", required_argument, NULL, 'm' },
		{ "segment-max", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *base = "/minoc/files";
	int ch;

	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (ch) {
		case 'l': conf.listen = optarg; break;
		case 'd': conf.data = optarg; break;
		case 'b': base = optarg; break;
		case 't': conf.bearer = read_token(optarg); break;
		case 'p': conf.port_file = optarg; break;
		case 'n': conf.no_fsync = 1; break;
		case 'm': conf.seg_min = strtoll(optarg, NULL, 10); break;
		case 'M': conf.seg_max = strtoll(optarg, NULL, 10); break;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc || conf.listen == NULL || conf.data == NULL)
		usage(2);
	conf.base = xstrdup(base);
	while (strlen(conf.base) > 1 && conf.base[strlen(conf.base) - 1] == '/')
		conf.base[strlen(conf.base) - 1] = '\0';
}

static struct addrinfo *
listen_addr(const char *spec)
{
	struct addrinfo hints, *ai;
	const char *colon = strrchr(spec, ':');
	char *host;
	int rc;

	if (colon == NULL || colon == spec)
		fatalx("--listen: '%s' is not ADDR:PORT", spec);
	host = xstrndup(spec, (size_t)(colon - spec));
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
		fatalx("--listen %s: %s", spec, gai_strerror(rc));
	free(host);
	return ai;
}

static void
announce(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[NI_MAXHOST], port[NI_MAXSERV], *tmp;
	FILE *f;

	if (info == NULL || getsockname(info->listen_fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		fatalx("cannot find the listening port");
	printf("http://%s:%s%s\n", host, port, conf.base);
	fflush(stdout);
	if (conf.port_file == NULL)
		return;
	tmp = xasprintf("%s.tmp", conf.port_file);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%s\n", port) < 0 || fclose(f) != 0 ||
	    rename(tmp, conf.port_file) != 0)
		fatalx("%s: %s", conf.port_file, strerror(errno));
	free(tmp);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct addrinfo *ai;
	struct file *f;
	struct txn *t;
	sigset_t set;
	int sig;

	parse_args(argc, argv);
	ai = listen_addr(conf.listen);
	if (mkdir(conf.data, 0755) != 0 && errno != EEXIST)
		fatalx("mkdir %s: %s", conf.data, strerror(errno));
	load_dir("files", load_file);
	load_dir("txn", load_txn);
	load_dir("tmp", load_none);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 120u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
	if (d == NULL)
		fatalx("cannot listen on %s", conf.listen);
	announce(d);
	freeaddrinfo(ai);
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "si-server: %s, stopping\n", strsignal(sig));
	MHD_stop_daemon(d);
	while ((f = idx.files) != NULL) {
		idx.files = f->next;
		file_free(f);
	}
	while ((t = idx.txns) != NULL) {
		idx.txns = t->next;
		txn_free(t);
	}
	free(last.text);
	free(conf.base);
	free(conf.bearer);
	return 0;
}
