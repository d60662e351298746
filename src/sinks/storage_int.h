/*
 * storage_int.h - what storage.c gives its backends (store_si.c,
 * store_s3.c, store_dir.c), internal to those four files.
 *
 * A backend makes one attempt of a put (start) as a sequence of HTTP
 * exchanges or file work, and ends it with storage_end(); storage.c queues
 * puts, retries transient ends with backoff, reports, and owns what is
 * shared: the libcurl multi handle, TLS and credentials, the reader that
 * feeds a request's body from a file on the executor's threads (hashing
 * what it reads), the response's headers and body, and the classes of HTTP
 * statuses.
 */
#ifndef CAOM2INGEST_STORAGE_INT_H
#define CAOM2INGEST_STORAGE_INT_H

/* MD5_Init/Update/Final: see checksum.c for why not EVP. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdarg.h>
#include <stdint.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <ev.h>
#include <openssl/md5.h>

#include "lib/curlev.h"
#include "lib/sigv4.h"
#include "sinks/storage.h"

#define STORAGE_MAX_BODY	(64 * 1024)	/* a response body kept */
#define STORAGE_MAX_TEXT	300		/* service text in a message */
#define STORAGE_MISMATCHES	3		/* checksum mismatches retried */

struct storage_reader;
struct storage_req;

/* A backend: one attempt of a put, and its own state. */
struct storage_backend {
	const char	*name;
	int		(*init)(struct storage *st, const struct storage_config *cfg,
			    char **cause);
	void		(*start)(struct storage_req *q);	/* ends with storage_end() */
	void		(*clear)(struct storage_req *q);	/* free q->be (may be NULL) */
	void		(*fini)(struct storage *st);
	char		*(*locate)(const struct storage *st, const char *uri, char **cause);
};

extern const struct storage_backend store_si_backend;
extern const struct storage_backend store_s3_backend;
extern const struct storage_backend store_dir_backend;

enum storage_where {
	STORAGE_QUEUED,
	STORAGE_RUNNING,
	STORAGE_WAITING,	/* for a retry */
	STORAGE_ENDED		/* reporting */
};

/* A completed HTTP exchange: the backend's next step (code: libcurl's result). */
typedef void storage_then_fn(struct storage_req *q, CURLcode code);

struct storage {
	struct ev_loop		*loop;
	const struct storage_backend *be;
	void			*bs;		/* the backend's */
	char			*target;
	char			*url;		/* si: files base; s3: endpoint (no trailing '/') */
	char			*cert;
	char			*netrc;
	char			*auth;		/* "Authorization: Bearer ..." or NULL */
	struct curlev_ca	 ca;
	struct sigv4		 sv;
	struct curlev		*ce;
	CURLM			*multi;
	long			 timeout_ms;
	unsigned		 concurrency;
	unsigned		 running;
	uint64_t		 retry_initial_ms;
	uint64_t		 retry_max_ms;
	unsigned		 retry_attempts;
	uint64_t		 big;
	uint64_t		 piece;
	storage_submit_fn	*submit;
	void			*submit_ctx;
	TAILQ_HEAD(, storage_req) queue;
	LIST_HEAD(, storage_req) reqs;
	LIST_HEAD(, storage_reader) orphans;	/* readers with work still out */
};

struct storage_req {
	struct storage		*st;
	struct storage_file	 f;		/* its strings are own[] */
	char			*own[5];
	char			*progress;	/* as last reported */
	storage_progress_fn	*progress_fn;
	storage_done_fn		*done;
	void			*arg;
	enum storage_where	 where;
	unsigned		 attempts;
	double			 started;	/* of the put */
	ev_timer		 timer;		/* backoff; deferred report */
	void			*be;		/* the backend's state of the put */

	/* the HTTP exchange in flight */
	CURL			*easy;
	const char		*method;	/* static: "PUT", ... */
	char			*url;
	struct curl_slist	*headers;	/* request headers */
	struct curl_slist	*rheaders;	/* response headers, "name: value" */
	char			*body;		/* response body, up to STORAGE_MAX_BODY */
	size_t			 bodylen;
	const char		*send;		/* a request body in memory */
	size_t			 sendlen;
	size_t			 sendpos;
	struct storage_reader	*reader;	/* a request body from the file */
	long			 status;
	char			 errbuf[CURL_ERROR_SIZE];
	double			 t0;		/* of the exchange */
	int			 timed;		/* an upload: its latency counts */
	storage_then_fn		*then;
	int64_t			 sent;		/* file bytes acknowledged by storage */

	enum storage_result	 result;
	char			*message;
	long			 retry_after;	/* seconds, 0: none */
	TAILQ_ENTRY(storage_req) qentry;
	LIST_ENTRY(storage_req)	 entry;
};

/* End this attempt: transient ends are retried (after retry_after seconds when storage
 * said so, else the backoff) until the attempts are spent; others are reported. */
void storage_end(struct storage_req *q, enum storage_result r, long retry_after,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Tell the caller the put's progress (NULL: nothing to resume). */
void storage_set_progress(struct storage_req *q, const char *progress);

/* Start an exchange: method, url (taken over), common options (timeouts, TLS, user
 * agent, the SI credentials or S3 signing); the backend adds headers and a body, then
 * storage_http_send. payload: the S3 payload hash (NULL: not signed). */
CURL *storage_http_begin(struct storage_req *q, const char *method, char *url,
    const char *payload);
/* Add a request header "Name: value". */
void storage_http_header(struct storage_req *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The request body: len bytes of the file from off (read on the executor, and hashed
 * into md5 unless it is NULL: hashing costs a core's time on large files, so only what
 * storage cannot check itself is hashed), or bytes in memory (kept by the caller), or
 * none. */
void storage_http_body_file(struct storage_req *q, int64_t off, int64_t len, MD5_CTX *md5);
void storage_http_body_mem(struct storage_req *q, const char *p, size_t len);
void storage_http_body_none(struct storage_req *q);
/* Send; then(q, code) follows on the loop. */
void storage_http_send(struct storage_req *q, storage_then_fn *then);
/* A response header's value (trimmed), or NULL. */
const char *storage_http_get(const struct storage_req *q, const char *name);
/* The MD5 in the response's Digest header ("md5=<base64>") as "md5:<hex>" into out;
 * 0, or -1 when there is none. */
int storage_http_digest(const struct storage_req *q, char out[37]);
/* The file could not be read while sending: its message (allocated), or NULL. */
char *storage_http_read_error(const struct storage_req *q);
/* The class of an HTTP status that ends a step. */
enum storage_result storage_http_class(long status);
/* Why an exchange failed (allocated): the service's text for an unexpected status, what
 * libcurl said for a failed transfer (TLS and certificate failures explained), a read
 * error of the file; with its class and Retry-After. */
char *storage_http_why(struct storage_req *q, const char *what, CURLcode code,
    enum storage_result *r, long *retry_after);
/* End the attempt on the response in hand (an unexpected status: the service's text),
 * or on a failed transfer (what libcurl said; TLS and certificate failures explained). */
void storage_http_fail(struct storage_req *q, const char *what, CURLcode code);

/* "md5:<hex>" as base64 of its 16 bytes (out: 25 bytes), and back; 0 or -1. */
int storage_md5_b64(const char *md5, char out[25]);
int storage_b64_md5(const char *b64, size_t len, char out[37]);
/* "md5:<hex>" of a context's digest so far (the context is not changed). */
void storage_md5_peek(const MD5_CTX *ctx, char out[37]);
/* The MD5 of the file's first n bytes, into *ctx, on the executor; then done(q, err)
 * on the loop (err: an errno, 0 on success; ENODATA when the file is shorter). */
void storage_hash_prefix(struct storage_req *q, int64_t n, MD5_CTX *ctx,
    void (*done)(struct storage_req *q, int err));
/* Run fn(arg) on the executor, then done(arg) on the loop. */
void storage_submit(struct storage *st, storage_work_fn *fn, storage_work_fn *done, void *arg);
/* A URI as a relative path: scheme, then its path ("cadc:OMM/x.fits" -> "cadc/OMM/x.fits");
 * NULL with *cause when a segment is empty, "." or "..", or holds a control character. */
char *storage_uri_path(const char *uri, char **cause);

#endif
