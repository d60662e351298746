/*
 * webhook.c - the bucket-event HTTP endpoint: libmicrohttpd in external
 * epoll mode, driven by the daemon's libev loop.
 *
 * MHD's epoll fd is watched by an ev_io; MHD_run() runs on readiness and on
 * an ev_timer re-armed from MHD_get_timeout() after every run. Requests are
 * judged on their headers (method, token, Content-Length) before any body is
 * read; a body without Content-Length (chunked) is counted as it arrives and
 * dropped once over the limit.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
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

#include "lib/log.h"
#include "lib/tcplisten.h"
#include "sources/webhook.h"
#include "lib/xmalloc.h"

#define WEBHOOK_MAX_BODY	65536
#define WEBHOOK_DISCARD_MAX	(1024 * 1024)	/* over the limit, read no more */
#define WEBHOOK_TIMEOUT		30		/* seconds a connection may idle */
#define WEBHOOK_CONNECTIONS	256
#define WEBHOOK_BACKLOG		128
#define WEBHOOK_HASH_LEN	32		/* SHA-256 */

struct webhook {
	struct ev_loop		*loop;
	struct MHD_Daemon	*mhd;
	ev_io			 io;
	ev_timer		 timer;
	webhook_deliver_fn	*fn;
	void			*arg;
	size_t			 max_body;
	int			 port;
	int			 has_token;
	unsigned char		 token_hash[WEBHOOK_HASH_LEN];
	char			*listen;	/* as configured */
	struct webhook		*next;		/* live webhooks of this process */
};

/*
 * The webhooks listening in this process. A configuration reload builds the
 * new pipeline (and its webhook) before it frees the old one: the new webhook
 * shares the old one's listening socket (a dup) instead of binding the port
 * again, so no connection waiting in the backlog is lost and no other process
 * can ever share the port (no SO_REUSEPORT).
 */
static struct webhook *webhook_live;

/* One POST being read. */
struct webhook_req {
	char		*body;
	size_t		 len;
	size_t		 cap;
	size_t		 over;		/* bytes dropped past the limit */
	int		 answered;
};

/* The client's address as "ADDR:PORT" or "[ADDR]:PORT". */
static void
webhook_peer(struct MHD_Connection *c, char *buf, size_t size)
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

/* Client text made safe for a log line: printable ASCII, at most 32 bytes. */
static void
webhook_clean(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i < 32 && i + 1 < size; i++)
		buf[i] = s[i] > ' ' && s[i] < 127 ? s[i] : '?';
	buf[i] = '\0';
}

/* Queue a short text answer. */
static enum MHD_Result
webhook_answer(struct MHD_Connection *c, unsigned int status, const char *text,
    const char *header, const char *value)
{
	struct MHD_Response *rsp;
	enum MHD_Result ret;

	rsp = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
	    MHD_RESPMEM_MUST_COPY);
	if (rsp == NULL)
		return MHD_NO;
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	if (header != NULL)
		MHD_add_response_header(rsp, header, value);
	ret = MHD_queue_response(c, status, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

/* Log a refusal once, with the peer and the reason. */
static void
webhook_log_refusal(struct MHD_Connection *c, unsigned int status, const char *reason)
{
	char peer[NI_MAXHOST + NI_MAXSERV + 4], code[16];

	webhook_peer(c, peer, sizeof peer);
	snprintf(code, sizeof code, "%u", status);
	log_at(LOG_WARNING, 0, LOG_FIELDS({ "STAGE", "webhook" }, { "PEER", peer },
	    { "HTTP_STATUS", code }), "webhook: refused a request from %s: %u %s",
	    peer, status, reason);
}

/* Answer a refusal with the reason as its body, and log it. */
static enum MHD_Result
webhook_refuse(struct MHD_Connection *c, unsigned int status, const char *reason,
    const char *header, const char *value)
{
	enum MHD_Result ret;
	char *text;

	webhook_log_refusal(c, status, reason);
	text = xasprintf("%s\n", reason);
	ret = webhook_answer(c, status, text, header, value);
	free(text);
	return ret;
}

/* 0 when the Authorization header carries the configured token. */
static int
webhook_check_token(const struct webhook *w, struct MHD_Connection *c, const char **why)
{
	unsigned char hash[WEBHOOK_HASH_LEN];
	unsigned int hlen = 0;
	const char *auth;

	if (!w->has_token)
		return 0;
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		*why = "no bearer token";
		return -1;
	}
	for (auth += 7; *auth == ' '; auth++)
		/* nothing */;
	if (EVP_Digest(auth, strlen(auth), hash, &hlen, EVP_sha256(), NULL) != 1 ||
	    hlen != sizeof hash ||
	    CRYPTO_memcmp(hash, w->token_hash, sizeof hash) != 0) {
		*why = "wrong bearer token";
		return -1;
	}
	return 0;
}

/* The headers are in: refuse now, or start reading the body. */
static enum MHD_Result
webhook_begin(struct webhook *w, struct MHD_Connection *c, const char *method, void **con_cls)
{
	const char *cl, *why;
	char m[40], *reason;
	unsigned long long n;
	enum MHD_Result ret;

	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		webhook_clean(method, m, sizeof m);
		reason = xasprintf("method %s not allowed", m);
		ret = webhook_refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, reason,
		    MHD_HTTP_HEADER_ALLOW, "POST");
		free(reason);
		return ret;
	}
	if (webhook_check_token(w, c, &why) != 0)
		return webhook_refuse(c, MHD_HTTP_UNAUTHORIZED, why,
		    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	errno = 0;
	if (cl != NULL && (n = strtoull(cl, NULL, 10), errno != 0 || n > w->max_body)) {
		reason = xasprintf("body of %s bytes over the limit of %zu", errno != 0 ?
		    "too many" : cl, w->max_body);
		ret = webhook_refuse(c, MHD_HTTP_CONTENT_TOO_LARGE, reason, NULL, NULL);
		free(reason);
		return ret;
	}
	*con_cls = xcalloc(1, sizeof(struct webhook_req));
	return MHD_YES;
}

/* A piece of the body: keep it, or count it once over the limit (and
 * close the connection when the client goes on and on). */
static enum MHD_Result
webhook_append(struct webhook *w, struct MHD_Connection *c, struct webhook_req *r,
    const char *data, size_t n)
{
	char *reason;

	if (r->over > 0 || n > w->max_body - r->len) {
		r->over += n;
		free(r->body);
		r->body = NULL;
		r->len = r->cap = 0;
		if (r->over <= WEBHOOK_DISCARD_MAX)
			return MHD_YES;
		reason = xasprintf("body over the limit of %zu bytes (connection closed)",
		    w->max_body);
		webhook_log_refusal(c, MHD_HTTP_CONTENT_TOO_LARGE, reason);
		free(reason);
		r->answered = 1;
		return MHD_NO;
	}
	if (r->len + n > r->cap) {
		r->cap = r->cap == 0 ? 4096 : r->cap;
		while (r->cap < r->len + n)
			r->cap *= 2;
		r->body = xreallocarray(r->body, 1, r->cap);
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return MHD_YES;
}

/* The whole body is in: hand it over and answer the verdict. */
static enum MHD_Result
webhook_finish(struct webhook *w, struct MHD_Connection *c, struct webhook_req *r)
{
	char *why = NULL, *reason;
	enum webhook_verdict v;
	enum MHD_Result ret;

	r->answered = 1;
	if (r->over > 0) {
		reason = xasprintf("body over the limit of %zu bytes", w->max_body);
		ret = webhook_refuse(c, MHD_HTTP_CONTENT_TOO_LARGE, reason, NULL, NULL);
		free(reason);
		return ret;
	}
	v = w->fn(w->arg, r->body != NULL ? r->body : "", r->len, &why);
	if (v == WEBHOOK_RECORDED) {
		free(why);
		return webhook_answer(c, MHD_HTTP_OK, "recorded\n", NULL, NULL);
	}
	reason = xasprintf("%s: %s", v == WEBHOOK_MALFORMED ? "malformed event" :
	    "cannot record the event now", why != NULL ? why : "no reason given");
	ret = webhook_refuse(c, v == WEBHOOK_MALFORMED ? MHD_HTTP_BAD_REQUEST :
	    MHD_HTTP_SERVICE_UNAVAILABLE, reason, NULL, NULL);
	free(reason);
	free(why);
	return ret;
}

static enum MHD_Result
webhook_on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **con_cls)
{
	struct webhook *w = cls;
	struct webhook_req *r = *con_cls;
	enum MHD_Result ret;

	if (r == NULL)
		return webhook_begin(w, c, method, con_cls);
	if (r->answered)
		return MHD_NO;
	if (*size > 0) {
		ret = webhook_append(w, c, r, data, *size);
		*size = 0;
		return ret;
	}
	return webhook_finish(w, c, r);
}

/* A request is over (answered, aborted, timed out or shut down). */
static void
webhook_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct webhook_req *r = *con_cls;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];

	if (r == NULL)
		return;
	if (!r->answered && toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN) {
		webhook_peer(c, peer, sizeof peer);
		log_at(LOG_INFO, 0, LOG_FIELDS({ "STAGE", "webhook" }, { "PEER", peer }),
		    "webhook: %s before its request from %s was complete (%zu bytes read)",
		    toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timed out" :
		    "connection closed", peer, r->len + r->over);
	}
	free(r->body);
	free(r);
	*con_cls = NULL;
}

static void __attribute__((format(printf, 2, 0)))
webhook_on_mhd_log(void *arg, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_at(LOG_DEBUG, 0, LOG_FIELDS({ "STAGE", "webhook" }), "webhook: %s", msg);
	free(msg);
}

static unsigned int
webhook_connections(struct webhook *w)
{
	const union MHD_DaemonInfo *di;

	di = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di != NULL ? di->num_connections : 0;
}

/*
 * Let MHD do what is ready, then wait for its next deadline. At the
 * connection limit MHD takes its listening socket out of its epoll set and
 * puts it back only at the start of a later MHD_run(), so when connections
 * closed in this run, run again on the next loop iteration: else clients
 * waiting in the backlog would never be accepted.
 */
static void
webhook_run(struct webhook *w)
{
	MHD_UNSIGNED_LONG_LONG ms;
	unsigned int before = webhook_connections(w);

	MHD_run(w->mhd);
	ev_timer_stop(w->loop, &w->timer);
	if (webhook_connections(w) < before)
		ev_timer_set(&w->timer, 0., 0.);
	else if (MHD_get_timeout(w->mhd, &ms) == MHD_YES)
		ev_timer_set(&w->timer, (ev_tstamp)ms / 1000.0, 0.);
	else
		return;
	ev_timer_start(w->loop, &w->timer);
}

static void
webhook_on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
	webhook_run(io->data);
}

static void
webhook_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	webhook_run(t->data);
}

/*
 * A dup of the listening socket of a live webhook configured with the same
 * fixed address (a reload), with its port; -1 when there is none. Port 0
 * asks for a new port each time and never shares.
 */
static int
webhook_share(const char *addr, int *port)
{
	const union MHD_DaemonInfo *di;
	struct webhook *o;
	const char *colon = strrchr(addr, ':');
	int fd;

	if (colon == NULL || strcmp(colon, ":0") == 0)
		return -1;
	for (o = webhook_live; o != NULL; o = o->next) {
		if (strcmp(o->listen, addr) != 0)
			continue;
		di = MHD_get_daemon_info(o->mhd, MHD_DAEMON_INFO_LISTEN_FD);
		if (di == NULL || di->listen_fd < 0 ||
		    (fd = fcntl(di->listen_fd, F_DUPFD_CLOEXEC, 0)) < 0)
			return -1;
		*port = o->port;
		return fd;
	}
	return -1;
}

/* Start MHD on the listening fd and its watchers on the loop; 0 or -1. */
static int
webhook_start(struct webhook *w, int fd, const char *addr, char **cause)
{
	const union MHD_DaemonInfo *di;

	w->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    webhook_on_request, w,
	    MHD_OPTION_EXTERNAL_LOGGER, webhook_on_mhd_log, w,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_NOTIFY_COMPLETED, webhook_on_completed, w,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WEBHOOK_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WEBHOOK_CONNECTIONS,
	    MHD_OPTION_END);
	if (w->mhd == NULL) {
		close(fd);
		*cause = xasprintf("webhook listen %s: cannot start the HTTP server", addr);
		return -1;
	}
	di = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL || di->epoll_fd < 0) {
		MHD_stop_daemon(w->mhd);
		*cause = xasprintf("webhook listen %s: no epoll descriptor", addr);
		return -1;
	}
	ev_io_init(&w->io, webhook_on_readable, di->epoll_fd, EV_READ);
	w->io.data = w;
	ev_init(&w->timer, webhook_on_timer);
	w->timer.data = w;
	ev_io_start(w->loop, &w->io);
	webhook_run(w);
	return 0;
}

struct webhook *
webhook_new(struct ev_loop *loop, const struct webhook_config *cfg,
    webhook_deliver_fn *fn, void *arg, char **cause)
{
	struct webhook *w = xcalloc(1, sizeof *w);
	unsigned int hlen = 0;
	int fd;

	w->loop = loop;
	w->fn = fn;
	w->arg = arg;
	w->max_body = cfg->max_body != 0 ? cfg->max_body : WEBHOOK_MAX_BODY;
	if (cfg->token != NULL) {
		w->has_token = 1;
		if (EVP_Digest(cfg->token, strlen(cfg->token), w->token_hash, &hlen,
		    EVP_sha256(), NULL) != 1 || hlen != sizeof w->token_hash) {
			*cause = xstrdup("webhook: cannot hash the token");
			free(w);
			return NULL;
		}
	}
	if ((fd = webhook_share(cfg->listen, &w->port)) < 0 &&
	    (fd = tcplisten_open(cfg->listen, "webhook", WEBHOOK_BACKLOG, &w->port,
	    cause)) < 0)
		goto fail;
	if (webhook_start(w, fd, cfg->listen, cause) != 0)
		goto fail;
	w->listen = xstrdup(cfg->listen);
	w->next = webhook_live;
	webhook_live = w;
	return w;
fail:
	explicit_bzero(w->token_hash, sizeof w->token_hash);
	free(w);
	return NULL;
}

int
webhook_port(const struct webhook *w)
{
	return w->port;
}

void
webhook_free(struct webhook *w)
{
	if (w == NULL)
		return;
	struct webhook **pp;

	for (pp = &webhook_live; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	ev_io_stop(w->loop, &w->io);
	ev_timer_stop(w->loop, &w->timer);
	MHD_stop_daemon(w->mhd);
	free(w->listen);
	explicit_bzero(w->token_hash, sizeof w->token_hash);
	free(w);
}
