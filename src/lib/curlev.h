/*
 * curlev.h - a libcurl multi handle driven by a libev loop through the
 * multi-socket API (one ev_io per socket libcurl asks for, one ev_timer for
 * its timeouts), shared by the repository client (repo.c) and the object
 * fetcher (s3.c); and the CA set-up they share.
 */
#ifndef CAOM2INGEST_CURLEV_H
#define CAOM2INGEST_CURLEV_H

#include <curl/curl.h>

struct ev_loop;
struct curlev;

/*
 * libcurl's global initialisation, once, at program start before any other
 * thread runs and before any other libcurl call: the daemon's and the
 * client's main call it (as do the test and bench programs that make
 * requests). curl_global_init is not thread-safe in every libcurl build,
 * and a lazy call (curl_easy_init makes one when nobody did) could run
 * while a worker thread is in OpenSSL; done at start-up it happens once
 * and its failure is a start-up failure. 0, or -1.
 */
int curlev_global_init(void);

/* A transfer of the multi handle finished with result (the easy handle is
 * still in the multi: the callback removes it). */
typedef void curlev_done_fn(void *arg, CURL *easy, CURLcode result);
/* Called once after the finished transfers of a wake-up were reported (may
 * be NULL): the place to start queued transfers. */
typedef void curlev_after_fn(void *arg);

/* A new multi handle on loop, with at most max_connections connections. */
struct curlev *curlev_new(struct ev_loop *loop, long max_connections, curlev_done_fn *done,
    curlev_after_fn *after, void *arg);
/* Its multi handle, for curl_multi_add_handle and curl_multi_remove_handle. */
CURLM *curlev_multi(const struct curlev *ce);
/* Stop the watchers and clean the multi handle up (its transfers must have
 * been removed); NULL is accepted. */
void curlev_free(struct curlev *ce);

/* Trusted CAs for TLS: a bundle file (CAINFO) or a hashed directory (CAPATH). */
struct curlev_ca {
	char		*file;		/* or NULL */
	char		*dir;		/* or NULL */
};

/* Take path (NULL: the system's CAs) as a file or a directory; 0, or -1 with
 * *cause when it cannot be stat'ed. */
int curlev_ca_set(struct curlev_ca *ca, const char *path, char **cause);
/* Give easy handle e the CAs, when set. */
void curlev_ca_apply(const struct curlev_ca *ca, CURL *e);
void curlev_ca_clear(struct curlev_ca *ca);

#endif
