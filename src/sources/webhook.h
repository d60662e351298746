/*
 * webhook.h - the HTTP endpoint that object stores (AWS S3, MinIO, Ceph RGW)
 * POST bucket-event notifications to. libmicrohttpd, driven by the daemon's
 * libev loop (no thread of its own: MHD's epoll fd is an ev_io, its timeout
 * an ev_timer), so the deliver callback runs on the loop thread and may use
 * the state store.
 *
 * Only POST (to any path) with a body of at most max_body bytes is accepted:
 * 405 for other methods, 413 for larger bodies (refused before reading them
 * whole), 401 without the configured bearer token (`Authorization: Bearer
 * TOKEN`, compared in constant time; the token never reaches a log), 400 when
 * the callback finds the body malformed, 503 when it cannot record it now,
 * 200 only after the callback said it is recorded. Every refusal is logged
 * once with the peer address and the reason. No input crashes it.
 *
 * A declared Content-Length over max_body is refused on the headers alone;
 * a chunked body is counted as it arrives, dropped once over max_body and
 * answered 413 at its end, or the connection is closed once 1 MiB more
 * arrived. At most 256 connections (more wait in the listen backlog); one
 * idle for 30 s is closed. Requests that are not HTTP are answered (400) or
 * closed by libmicrohttpd itself, logged at debug level only.
 */
#ifndef CAOM2INGEST_WEBHOOK_H
#define CAOM2INGEST_WEBHOOK_H

#include <stddef.h>

struct ev_loop;
struct webhook;

struct webhook_config {
	const char	*listen;	/* "ADDR:PORT", "[V6ADDR]:PORT"; port 0: any free port */
	const char	*token;		/* required bearer token, or NULL: none */
	size_t		 max_body;	/* largest body accepted (0: 65536) */
};

enum webhook_verdict {
	WEBHOOK_RECORDED,	/* durable: answer 200 */
	WEBHOOK_MALFORMED,	/* answer 400 with why */
	WEBHOOK_UNAVAILABLE	/* cannot record now (state store error): 503 */
};

/* Called once per accepted POST with the whole body (not NUL-terminated);
 * *why (allocated) explains a refusal. */
typedef enum webhook_verdict webhook_deliver_fn(void *arg, const char *body, size_t len,
    char **why);

/* Listen on cfg->listen; NULL with *cause (bad address, port in use...). */
struct webhook *webhook_new(struct ev_loop *loop, const struct webhook_config *cfg,
    webhook_deliver_fn *fn, void *arg, char **cause);
/* The port bound (useful with port 0). */
int webhook_port(const struct webhook *w);
/* Stop listening and free; NULL is accepted. */
void webhook_free(struct webhook *w);

#endif
