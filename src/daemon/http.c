/*
 * http.c - the operators' endpoint: libmicrohttpd in external epoll mode on
 * the daemon's libev loop, as sources/webhook.c drives it, with suspended
 * connections for the answers that come later (from a worker).
 *
 * The listening socket is bound here, not by MHD, so that a bad address is
 * a clear error (and the backlog is ours); the address syntax is the
 * webhook's.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ev.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/http.h"
#include "lib/log.h"
#include "lib/tcplisten.h"
#include "lib/xmalloc.h"

#define HTTP_TIMEOUT		30		/* seconds a connection may idle */
#define HTTP_CONNECTIONS	512
#define HTTP_BACKLOG		1024
#define HTTP_HASH_LEN		32		/* SHA-256 */

enum http_state {
	HTTP_NEW,		/* being handled */
	HTTP_LATER,		/* suspended until the handler answers */
	HTTP_ANSWERED		/* a response waits to be queued */
};

struct http_req {
	struct http		*h;
	struct MHD_Connection	*c;
	enum http_state		 state;
	unsigned		 status;
	struct MHD_Response	*rsp;
	TAILQ_ENTRY(http_req)	 entry;		/* while HTTP_LATER */
};

struct http {
	struct ev_loop		*loop;
	struct MHD_Daemon	*mhd;
	ev_io			 io;
	ev_timer		 timer;
	const struct http_route	*routes;
	void			*arg;
	int			 port;
	int			 has_token;
	unsigned char		 token_hash[HTTP_HASH_LEN];
	TAILQ_HEAD(, http_req)	 later;
};

static void http_run(struct http *h);

/* The client's address as "ADDR:PORT" or "[ADDR]:PORT". */
static void
http_peer(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t len;

	snprintf(buf, size, "unknown");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* The headers every answer carries: nothing is cached, nothing sniffed or framed. */
static void
http_common_headers(struct MHD_Response *rsp, const char *type)
{
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(rsp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(rsp, "X-Frame-Options", "DENY");
	MHD_add_response_header(rsp, "Referrer-Policy", "no-referrer");
	/* the pages have no script: none may run, styles are inline */
	if (strncmp(type, "text/html", 9) == 0)
		MHD_add_response_header(rsp, "Content-Security-Policy",
		    "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
}

void
http_reply(struct http_req *r, unsigned status, const char *type, char *body, size_t len)
{
	if (r->rsp != NULL) {		/* answered already */
		free(body);
		return;
	}
	r->status = status;
	r->rsp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r->rsp == NULL)
		free(body);
	else
		http_common_headers(r->rsp, type);
	if (r->state == HTTP_LATER) {
		TAILQ_REMOVE(&r->h->later, r, entry);
		r->state = HTTP_ANSWERED;
		MHD_resume_connection(r->c);
		ev_timer_stop(r->h->loop, &r->h->timer);	/* run MHD at once */
		ev_timer_set(&r->h->timer, 0., 0.);
		ev_timer_start(r->h->loop, &r->h->timer);
	} else
		r->state = HTTP_ANSWERED;
}

void
http_reply_text(struct http_req *r, unsigned status, const char *text)
{
	http_reply(r, status, "text/plain; charset=utf-8", xstrdup(text), strlen(text));
}

const char *
http_arg(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

/* Queue r's response (or drop the connection when there is none). */
static enum MHD_Result
http_queue(struct http_req *r)
{
	enum MHD_Result ret;

	if (r->rsp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(r->c, r->status, r->rsp);
	MHD_destroy_response(r->rsp);
	r->rsp = NULL;
	return ret;
}

/* Refuse with the reason as the body, adding one header. */
static void
http_refuse(struct http_req *r, unsigned status, const char *reason, const char *header,
    const char *value)
{
	char peer[NI_MAXHOST + NI_MAXSERV + 4];

	http_reply_text(r, status, reason);
	if (header != NULL && r->rsp != NULL)
		MHD_add_response_header(r->rsp, header, value);
	http_peer(r->c, peer, sizeof peer);
	log_at(status == MHD_HTTP_UNAUTHORIZED ? LOG_WARNING : LOG_DEBUG, 0,
	    LOG_FIELDS({ "STAGE", "http" }, { "PEER", peer }),
	    "http: refused a request from %s: %u %s", peer, status, reason);
}

/* 0 when the Authorization header carries the token (or none is needed). */
static int
http_check_token(const struct http *h, struct MHD_Connection *c, const char **why)
{
	unsigned char hash[HTTP_HASH_LEN];
	unsigned int hlen = 0;
	const char *auth;

	if (!h->has_token)
		return 0;
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		*why = "no bearer token";
		return -1;
	}
	for (auth += 7; *auth == ' '; auth++)
		/* nothing */;
	if (EVP_Digest(auth, strlen(auth), hash, &hlen, EVP_sha256(), NULL) != 1 ||
	    hlen != sizeof hash || CRYPTO_memcmp(hash, h->token_hash, sizeof hash) != 0) {
		*why = "wrong bearer token";
		return -1;
	}
	return 0;
}

static const struct http_route *
http_route(const struct http *h, const char *path)
{
	const struct http_route *rt;
	size_t len;

	for (rt = h->routes; rt->path != NULL; rt++) {
		len = strlen(rt->path);
		if (strcmp(path, rt->path) == 0 ||
		    (len > 1 && rt->path[len - 1] == '/' && strncmp(path, rt->path, len) == 0))
			return rt;
	}
	return NULL;
}

/* Does the request announce a body (a Content-Length other than 0, or chunks)? */
static int
http_has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl != NULL && strcmp(cl, "0") != 0) || MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* A request's headers are in: refuse it, or hand it to its route. */
static void
http_begin(struct http *h, struct http_req *r, const char *url, const char *method)
{
	const struct http_route *rt;
	const char *why;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		http_refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served",
		    MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	else if (http_check_token(h, r->c, &why) != 0)
		http_refuse(r, MHD_HTTP_UNAUTHORIZED, why, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"caom2ingest\"");
	else if (http_has_body(r->c))
		http_refuse(r, MHD_HTTP_BAD_REQUEST, "a GET has no body", NULL, NULL);
	else if (url[0] != '/' || (rt = http_route(h, url)) == NULL)
		http_refuse(r, MHD_HTTP_NOT_FOUND, "no such page", NULL, NULL);
	else
		rt->fn(h->arg, r, url);
}

static enum MHD_Result
http_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *data, size_t *size, void **con_cls)
{
	struct http *h = cls;
	struct http_req *r = *con_cls;

	if (r != NULL) {
		if (r->state == HTTP_ANSWERED)
			return http_queue(r);
		*size = 0;		/* (a body is refused before it is read) */
		return MHD_YES;
	}
	r = xcalloc(1, sizeof *r);
	r->h = h;
	r->c = c;
	*con_cls = r;
	http_begin(h, r, url, method);
	if (r->state == HTTP_ANSWERED)
		return http_queue(r);
	r->state = HTTP_LATER;
	TAILQ_INSERT_TAIL(&h->later, r, entry);
	MHD_suspend_connection(c);
	return MHD_YES;
}

static void
http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;

	if (r == NULL)
		return;
	if (r->state == HTTP_LATER)	/* (only at a stop: suspended connections stay) */
		TAILQ_REMOVE(&r->h->later, r, entry);
	if (r->rsp != NULL)
		MHD_destroy_response(r->rsp);
	free(r);
	*con_cls = NULL;
}

static void __attribute__((format(printf, 2, 0)))
http_on_mhd_log(void *arg, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_at(LOG_DEBUG, 0, LOG_FIELDS({ "STAGE", "http" }), "http: %s", msg);
	free(msg);
}

static unsigned int
http_connections(struct http *h)
{
	const union MHD_DaemonInfo *di;

	di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di != NULL ? di->num_connections : 0;
}

/* As webhook_run: MHD's work, then its next deadline; and once connections closed,
 * once more on the next iteration (MHD takes the listening socket back in then). */
static void
http_run(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;
	unsigned int before = http_connections(h);

	MHD_run(h->mhd);
	ev_timer_stop(h->loop, &h->timer);
	if (http_connections(h) < before)
		ev_timer_set(&h->timer, 0., 0.);
	else if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
		ev_timer_set(&h->timer, (ev_tstamp)ms / 1000.0, 0.);
	else
		return;
	ev_timer_start(h->loop, &h->timer);
}

static void
http_on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
	http_run(io->data);
}

static void
http_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	http_run(t->data);
}

static int
http_start(struct http *h, int fd, const char *addr, char **cause)
{
	const union MHD_DaemonInfo *di;

	h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
	    0, NULL, NULL, http_on_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_on_mhd_log, h,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, h,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS,
	    MHD_OPTION_END);
	if (h->mhd == NULL) {
		close(fd);
		*cause = xasprintf("http listen %s: cannot start the HTTP server", addr);
		return -1;
	}
	di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL || di->epoll_fd < 0) {
		MHD_stop_daemon(h->mhd);
		*cause = xasprintf("http listen %s: no epoll descriptor", addr);
		return -1;
	}
	ev_io_init(&h->io, http_on_readable, di->epoll_fd, EV_READ);
	h->io.data = h;
	ev_init(&h->timer, http_on_timer);
	h->timer.data = h;
	ev_io_start(h->loop, &h->io);
	http_run(h);
	return 0;
}

void
http_set_token(struct http *h, const char *token)
{
	unsigned int hlen = 0;

	explicit_bzero(h->token_hash, sizeof h->token_hash);
	h->has_token = token != NULL;
	if (token != NULL && (EVP_Digest(token, strlen(token), h->token_hash, &hlen,
	    EVP_sha256(), NULL) != 1 || hlen != sizeof h->token_hash))
		memset(h->token_hash, 0xff, sizeof h->token_hash);	/* matches nothing */
}

struct http *
http_new(struct ev_loop *loop, const struct http_config *cfg, const struct http_route *routes,
    void *arg, char **cause)
{
	struct http *h = xcalloc(1, sizeof *h);
	int fd;

	h->loop = loop;
	h->routes = routes;
	h->arg = arg;
	TAILQ_INIT(&h->later);
	http_set_token(h, cfg->token);
	if ((fd = tcplisten_open(cfg->listen, "http", HTTP_BACKLOG, &h->port, cause)) < 0 ||
	    http_start(h, fd, cfg->listen, cause) != 0) {
		explicit_bzero(h->token_hash, sizeof h->token_hash);
		free(h);
		return NULL;
	}
	return h;
}

int
http_port(const struct http *h)
{
	return h->port;
}

void
http_free(struct http *h)
{
	struct http_req *r;

	if (h == NULL)
		return;
	/* MHD must not stop with suspended connections: answer what is left */
	while ((r = TAILQ_FIRST(&h->later)) != NULL)
		http_reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "caom2ingestd is stopping\n");
	MHD_run(h->mhd);
	ev_io_stop(h->loop, &h->io);
	ev_timer_stop(h->loop, &h->timer);
	MHD_stop_daemon(h->mhd);
	explicit_bzero(h->token_hash, sizeof h->token_hash);
	free(h);
}
