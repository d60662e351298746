/*
 * repo.h - the CAOM repository client (caom2repo / torkeep), on libcurl's
 * multi-socket API driven by the daemon's libev loop: no call blocks.
 *
 * A push follows the reference protocol (shared/reference/caom/NOTES.md):
 * GET {base}/{collection}/{observationID}; on 404 the caller's merge
 * callback builds the document and it is created with PUT; on 200 the
 * merge callback merges into the stored document and it is updated with
 * POST and If-Match: <ETag>. A 409 or 412 (another writer) starts again
 * from the GET, a bounded number of times. A merge that changes nothing
 * ends the push without a write. Outcomes are classed: stored, unchanged,
 * transient (connection, timeout, 5xx, 408, 429: retry later), permanent
 * (other 4xx: the service's text is kept) and auth (401, 403).
 * Credentials (client certificate, bearer token file, netrc) never reach a
 * log or an error message. The program initialises libcurl first
 * (curlev_global_init).
 */
#ifndef CAOM2INGEST_REPO_H
#define CAOM2INGEST_REPO_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct repo;

struct repo_config {
	const char	*url;		/* observations base, no trailing slash needed */
	const char	*cert;		/* PEM holding certificate and unencrypted key, or NULL */
	const char	*token_file;	/* secret file (lib/fileio.h) of a bearer token, or NULL */
	const char	*netrc;		/* netrc file for HTTP basic, or NULL */
	const char	*ca_path;	/* CA bundle file, or directory prepared with `openssl
				   rehash`, replacing the system's store; NULL: the system's */
	uint64_t	 timeout_ms;	/* per request */
	unsigned	 concurrency;	/* requests at once */
};

enum repo_result {
	REPO_STORED,		/* created or updated */
	REPO_UNCHANGED,		/* the stored document already matched */
	REPO_TRANSIENT,		/* try again later */
	REPO_PERMANENT,		/* refused; do not retry as is */
	REPO_AUTH		/* authentication or authorisation refused */
};

/*
 * Build the document to store. existing is the stored document (NULL when
 * there is none). Return 0 with *out (malloc'ed) and *outlen, 1 when the
 * stored document needs no change, or -1 with *cause (a mapping error:
 * permanent).
 */
typedef int repo_merge_fn(void *arg, const char *existing, size_t len, char **out,
    size_t *outlen, char **cause);
/* The end of a push: result, last HTTP status (0: none), a message, Retry-After seconds (0: none). */
typedef void repo_done_fn(void *arg, enum repo_result result, long status, const char *message,
    long retry_after);

/* A client for cfg on loop; NULL with *cause (a token file refused, an unreadable
 * certificate, a missing CA path, a certificate or CA path with a URL that is not
 * https://, ...). */
struct repo *repo_new(struct ev_loop *loop, const struct repo_config *cfg, char **cause);
/* Free; pushes in flight are abandoned without their done call. NULL is accepted. */
void repo_free(struct repo *r);
/* Start pushing one observation; done is called exactly once, never from inside this call. */
void repo_push(struct repo *r, const char *collection, const char *observation,
    repo_merge_fn *merge, repo_done_fn *done, void *arg);
/* The name of a result ("stored", ...). */
const char *repo_result_name(enum repo_result r);

#endif
