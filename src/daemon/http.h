/*
 * http.h - the operators' HTTP endpoint: a read-only HTTP/1.1 server for
 * the metrics and the status pages. libmicrohttpd driven by the daemon's
 * libev loop as the webhook drives it (sources/webhook.c: MHD's epoll fd is
 * an ev_io, its timeout an ev_timer; no thread of its own), so handlers run
 * on the loop's thread.
 *
 * Only GET and HEAD are served (405 otherwise, and 400 for a request with a
 * body); a path no route takes is 404. With a token, every request must
 * carry `Authorization: Bearer TOKEN` (compared in constant time; 401
 * otherwise, logged with the peer; the token never reaches a log). A
 * handler answers at once, or later (it then keeps the request, and the
 * connection waits suspended, holding nothing of the loop). At most 512
 * connections (more wait in a listen backlog of 1024); one idle for 30 s is
 * closed. Input that is not HTTP is answered (400) or closed by
 * libmicrohttpd itself.
 */
#ifndef CAOM2INGEST_HTTP_H
#define CAOM2INGEST_HTTP_H

#include <stddef.h>

struct ev_loop;
struct http;
struct http_req;

struct http_config {
	const char	*listen;	/* "ADDR:PORT", "[V6ADDR]:PORT"; port 0: any free port */
	const char	*token;		/* required bearer token, or NULL: none */
};

/* Answer r now or later with http_reply; path is the request's (decoded) path. */
typedef void http_handler(void *arg, struct http_req *r, const char *path);

/* A route: an exact path, or every path under a prefix ending in '/'. */
struct http_route {
	const char	*path;
	http_handler	*fn;
};

/* Listen on cfg->listen, serving routes (a table ending with a NULL path) with arg;
 * NULL with *cause (a bad address, the port in use...). */
struct http *http_new(struct ev_loop *loop, const struct http_config *cfg,
    const struct http_route *routes, void *arg, char **cause);
/* Require another token from now on (NULL: none). */
void http_set_token(struct http *h, const char *token);
/* The port bound. */
int http_port(const struct http *h);
/* Stop and free; every request kept for later must have been answered. NULL is accepted. */
void http_free(struct http *h);

/* Answer r (once) with status and a body of type; body (malloc'ed, len bytes) is taken. */
void http_reply(struct http_req *r, unsigned status, const char *type, char *body, size_t len);
/* Answer r with a short text (copied). */
void http_reply_text(struct http_req *r, unsigned status, const char *text);
/* The value of a query argument of r, or NULL. */
const char *http_arg(struct http_req *r, const char *name);

#endif
