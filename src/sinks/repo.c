/*
 * repo.c - the CAOM repository client on libcurl multi + libev.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <ev.h>

#include "lib/curlev.h"
#include "sinks/repo.h"
#include "lib/fileio.h"
#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

#define REPO_MAX_CONFLICTS	5
#define REPO_MAX_MESSAGE	400

enum repo_step {
	REPO_GET,
	REPO_PUT,
	REPO_POST
};

struct repo {
	struct ev_loop		*loop;
	struct curlev		*ce;
	CURLM			*multi;		/* ce's */
	char			*base;
	char			*cert;
	char			*netrc;
	struct curlev_ca	 ca;		/* trusted CAs, when configured */
	char			*auth;		/* "Authorization: Bearer ..." or NULL */
	long			 timeout_ms;
	LIST_HEAD(, repo_push)	 pushes;
};

struct repo_push {
	struct repo		*repo;
	char			*url;
	repo_merge_fn		*merge;
	repo_done_fn		*done;
	void			*arg;
	CURL			*easy;
	struct curl_slist	*headers;
	enum repo_step		 step;
	char			*body;		/* request body */
	size_t			 bodylen;
	char			*resp;		/* response body */
	size_t			 resplen;
	char			*etag;
	long			 retry_after;
	int			 conflicts;
	char			 errbuf[CURL_ERROR_SIZE];
	ev_timer		 later;		/* deferred completion */
	enum repo_result	 result;
	long			 status;
	char			*message;
	LIST_ENTRY(repo_push)	 entry;
};

static const char *const repo_result_names[] = {
	[REPO_STORED] = "stored",
	[REPO_UNCHANGED] = "unchanged",
	[REPO_TRANSIENT] = "transient failure",
	[REPO_PERMANENT] = "permanent failure",
	[REPO_AUTH] = "authentication failure",
};

static void repo_start(struct repo_push *p, enum repo_step step);

const char *
repo_result_name(enum repo_result r)
{
	return repo_result_names[r];
}

/* ---- completion --------------------------------------------------------- */

static void
repo_push_free(struct repo_push *p)
{
	LIST_REMOVE(p, entry);
	ev_timer_stop(p->repo->loop, &p->later);
	if (p->easy != NULL) {
		curl_multi_remove_handle(p->repo->multi, p->easy);
		curl_easy_cleanup(p->easy);
	}
	curl_slist_free_all(p->headers);
	free(p->url);
	free(p->body);
	free(p->resp);
	free(p->etag);
	free(p->message);
	free(p);
}

static void
repo_on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct repo_push *p = w->data;

	p->done(p->arg, p->result, p->status, p->message != NULL ? p->message : "",
	    p->retry_after);
	repo_push_free(p);
}

/* End the push; the done callback runs from the loop. */
static void
repo_finish(struct repo_push *p, enum repo_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
repo_finish(struct repo_push *p, enum repo_result result, const char *fmt, ...)
{
	va_list ap;

	p->result = result;
	va_start(ap, fmt);
	free(p->message);
	p->message = xvasprintf(fmt, ap);
	va_end(ap);
	ev_timer_start(p->repo->loop, &p->later);
}

/* The service's error text, trimmed to one short line. */
static char *
repo_service_text(const struct repo_push *p)
{
	return msgbuf_oneline(p->resp, p->resplen, REPO_MAX_MESSAGE);
}

/* Class an HTTP status that ends the push. */
static void
repo_http_failure(struct repo_push *p)
{
	static const char *const verbs[] = { "GET", "PUT", "POST" };
	long s = p->status;
	enum repo_result r = REPO_PERMANENT;
	char *text = repo_service_text(p);

	if (s >= 500 || s == 408 || s == 429)
		r = REPO_TRANSIENT;
	else if (s == 401 || s == 403)
		r = REPO_AUTH;
	repo_finish(p, r, "%s %s: HTTP %ld%s%s", verbs[p->step], p->url, s, *text ? ": " : "",
	    text);
	free(text);
}

/* ---- protocol steps ----------------------------------------------------- */

static void
repo_merged(struct repo_push *p, const char *existing, size_t len)
{
	char *out = NULL, *cause = NULL;
	size_t outlen = 0;
	int r;

	r = p->merge(p->arg, existing, len, &out, &outlen, &cause);
	if (r < 0) {
		repo_finish(p, REPO_PERMANENT, "%s", cause != NULL ? cause : "mapping failed");
		free(cause);
		return;
	}
	if (r == 1) {
		repo_finish(p, REPO_UNCHANGED, "the stored observation is up to date");
		return;
	}
	free(p->body);
	p->body = out;
	p->bodylen = outlen;
	repo_start(p, existing != NULL ? REPO_POST : REPO_PUT);
}

static void
repo_conflict(struct repo_push *p)
{
	if (++p->conflicts > REPO_MAX_CONFLICTS) {
		repo_finish(p, REPO_TRANSIENT, "%s: %d conflicting writes in a row", p->url,
		    p->conflicts);
		return;
	}
	repo_start(p, REPO_GET);
}

static void
repo_after_get(struct repo_push *p)
{
	if (p->status == 200)
		repo_merged(p, p->resp != NULL ? p->resp : "", p->resplen);
	else if (p->status == 404)
		repo_merged(p, NULL, 0);
	else
		repo_http_failure(p);
}

static void
repo_after_write(struct repo_push *p)
{
	if (p->status == 200 || p->status == 201 || p->status == 204)
		repo_finish(p, REPO_STORED, "%s %s", p->step == REPO_PUT ? "created" : "updated",
		    p->url);
	else if ((p->step == REPO_PUT && p->status == 409) ||
	    (p->step == REPO_POST && (p->status == 412 || p->status == 404)))
		repo_conflict(p);
	else
		repo_http_failure(p);
}

/* What the client trusted, for a failed verification. */
static char *
repo_trust(const struct repo *r)
{
	if (r->ca.file != NULL)
		return xasprintf("the CAs in %s", r->ca.file);
	if (r->ca.dir != NULL)
		return xasprintf("the CA directory %s, which must be prepared with "
		    "`openssl rehash`", r->ca.dir);
	return xstrdup("the system's CA store; ca_path or --ca-path names others");
}

/* A failed transfer: connection, timeout or TLS; all transient. */
static void
repo_transfer_failed(struct repo_push *p, CURLcode code)
{
	const char *why = p->errbuf[0] != '\0' ? p->errbuf : curl_easy_strerror(code);
	char *trust;

	p->status = 0;
	switch (code) {
	case CURLE_PEER_FAILED_VERIFICATION:
		trust = repo_trust(p->repo);
		repo_finish(p, REPO_TRANSIENT, "%s: TLS certificate verification failed "
		    "(trusting %s): %s", p->url, trust, why);
		free(trust);
		break;
	case CURLE_SSL_CERTPROBLEM:
		repo_finish(p, REPO_TRANSIENT, "%s: client certificate %s unusable (a PEM "
		    "file with its certificate and unencrypted key is expected): %s", p->url,
		    p->repo->cert, why);
		break;
	default:
		repo_finish(p, REPO_TRANSIENT, "%s: %s", p->url, why);
	}
}

static void
repo_transfer_done(struct repo_push *p, CURLcode code)
{
	curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &p->status);
	curl_multi_remove_handle(p->repo->multi, p->easy);
	if (code != CURLE_OK) {
		repo_transfer_failed(p, code);
		return;
	}
	if (p->step == REPO_GET)
		repo_after_get(p);
	else
		repo_after_write(p);
}

/* ---- curl callbacks ------------------------------------------------------ */

static size_t
repo_on_body(char *data, size_t size, size_t n, void *arg)
{
	struct repo_push *p = arg;
	size_t len = size * n;

	p->resp = xreallocarray(p->resp, p->resplen + len + 1, 1);
	memcpy(p->resp + p->resplen, data, len);
	p->resplen += len;
	p->resp[p->resplen] = '\0';
	return len;
}

/* The value of header name in line, trimmed (allocated), or NULL. */
static char *
repo_header_value(const char *line, size_t len, const char *name)
{
	size_t nlen = strlen(name), end;

	if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return NULL;
	line += nlen + 1;
	len -= nlen + 1;
	while (len > 0 && isspace((unsigned char)*line))
		line++, len--;
	for (end = len; end > 0 && isspace((unsigned char)line[end - 1]); end--)
		;
	return xstrndup(line, end);
}

static size_t
repo_on_header(char *line, size_t size, size_t n, void *arg)
{
	struct repo_push *p = arg;
	size_t len = size * n;
	char *v;

	if ((v = repo_header_value(line, len, "ETag")) != NULL) {
		free(p->etag);
		p->etag = v;
	} else if ((v = repo_header_value(line, len, "Retry-After")) != NULL) {
		p->retry_after = isdigit((unsigned char)v[0]) ? atol(v) :
		    (long)(curl_getdate(v, NULL) - time(NULL));
		if (p->retry_after < 0)
			p->retry_after = 0;
		free(v);
	}
	return len;
}

/*
 * The client certificate: key and certificate from one PEM file (a proxy).
 * An empty key password keeps OpenSSL from prompting on the terminal for
 * an encrypted key, which would block the loop: such a file is refused.
 */
static void
repo_setup_auth(struct repo *r, CURL *e)
{
	if (r->cert != NULL) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, r->cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY, r->cert);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_KEYPASSWD, "");
	}
	if (r->netrc != NULL) {
		curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_REQUIRED);
		curl_easy_setopt(e, CURLOPT_NETRC_FILE, r->netrc);
	}
	/* A configured CA file or directory replaces the built-in store. */
	curlev_ca_apply(&r->ca, e);
}

static void
repo_setup_step(struct repo_push *p, CURL *e)
{
	char *im;

	if (p->step == REPO_GET) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		return;
	}
	p->headers = curl_slist_append(p->headers, "Content-Type: application/xml");
	if (p->step == REPO_POST && p->etag != NULL) {
		im = xasprintf("If-Match: %s", p->etag);
		p->headers = curl_slist_append(p->headers, im);
		free(im);
	}
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->bodylen);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, p->step == REPO_PUT ? "PUT" : "POST");
}

/* (Re)start one request of the push on its easy handle. */
static void
repo_start(struct repo_push *p, enum repo_step step)
{
	struct repo *r = p->repo;
	CURL *e;

	if (p->easy == NULL)
		p->easy = curl_easy_init();
	e = p->easy;
	curl_easy_reset(e);
	curl_slist_free_all(p->headers);
	p->headers = NULL;
	free(p->resp);
	p->resp = NULL;
	p->resplen = 0;
	p->errbuf[0] = '\0';
	p->step = step;
	if (step == REPO_GET) {
		free(p->etag);
		p->etag = NULL;
	}
	curl_easy_setopt(e, CURLOPT_URL, p->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, p);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, repo_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, repo_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "caom2ingest/" PACKAGE_VERSION);
	if (r->auth != NULL)
		p->headers = curl_slist_append(p->headers, r->auth);
	repo_setup_auth(r, e);
	repo_setup_step(p, e);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
	curl_multi_add_handle(r->multi, e);
}

/* A transfer finished (curlev.c drives the multi handle on the loop). */
static void
repo_on_done(void *arg, CURL *easy, CURLcode result)
{
	struct repo_push *p;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&p);
	repo_transfer_done(p, result);
}

/* ---- set-up --------------------------------------------------------------- */

/* Read a bearer token (lib/fileio.h's secret-file policy); it never appears in a message. */
static int
repo_read_token(struct repo *r, const char *path, char **cause)
{
	char *token;

	if (fileio_secret(path, "token file", &token, cause) != 0)
		return -1;
	r->auth = xasprintf("Authorization: Bearer %s", token);
	fileio_secret_free(token);
	return 0;
}

/*
 * TLS settings make sense with https:// only (over plain HTTP they would be
 * silently unused); the client certificate must be readable. Its contents
 * are never shown.
 */
static int
repo_check_tls(const struct repo_config *cfg, char **cause)
{
	FILE *fp;

	if ((cfg->cert != NULL || cfg->ca_path != NULL) &&
	    strncasecmp(cfg->url, "https://", 8) != 0) {
		*cause = xasprintf("a client certificate or CA path needs an https:// URL, not %s",
		    cfg->url);
		return -1;
	}
	if (cfg->cert == NULL)
		return 0;
	if ((fp = fopen(cfg->cert, "r")) == NULL) {
		*cause = xasprintf("client certificate %s: %s", cfg->cert, strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

struct repo *
repo_new(struct ev_loop *loop, const struct repo_config *cfg, char **cause)
{
	struct repo *r;
	size_t len = strlen(cfg->url);

	r = xcalloc(1, sizeof *r);
	r->loop = loop;
	LIST_INIT(&r->pushes);
	r->base = xstrndup(cfg->url, len > 0 && cfg->url[len - 1] == '/' ? len - 1 : len);
	r->cert = xstrdup(cfg->cert);
	r->netrc = xstrdup(cfg->netrc);
	r->timeout_ms = cfg->timeout_ms > 0 ? (long)cfg->timeout_ms : 120000;
	if (repo_check_tls(cfg, cause) != 0 || curlev_ca_set(&r->ca, cfg->ca_path, cause) != 0 ||
	    (cfg->token_file != NULL && repo_read_token(r, cfg->token_file, cause) != 0)) {
		repo_free(r);
		return NULL;
	}
	r->ce = curlev_new(loop, (long)(cfg->concurrency > 0 ? cfg->concurrency : 8),
	    repo_on_done, NULL, r);
	r->multi = curlev_multi(r->ce);
	LIST_INIT(&r->pushes);
	return r;
}

void
repo_free(struct repo *r)
{
	if (r == NULL)
		return;
	while (!LIST_EMPTY(&r->pushes))
		repo_push_free(LIST_FIRST(&r->pushes));
	curlev_free(r->ce);
	free(r->base);
	free(r->cert);
	free(r->netrc);
	curlev_ca_clear(&r->ca);
	if (r->auth != NULL)
		explicit_bzero(r->auth, strlen(r->auth));
	free(r->auth);
	free(r);
}

void
repo_push(struct repo *r, const char *collection, const char *observation,
    repo_merge_fn *merge, repo_done_fn *done, void *arg)
{
	struct repo_push *p = xcalloc(1, sizeof *p);
	char *c, *o;

	p->repo = r;
	ev_timer_init(&p->later, repo_on_later, 0., 0.);
	p->later.data = p;
	LIST_INSERT_HEAD(&r->pushes, p, entry);
	p->merge = merge;
	p->done = done;
	p->arg = arg;
	c = curl_easy_escape(NULL, collection, 0);
	o = curl_easy_escape(NULL, observation, 0);
	p->url = xasprintf("%s/%s/%s", r->base, c, o);
	curl_free(c);
	curl_free(o);
	repo_start(p, REPO_GET);
}
