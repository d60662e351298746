/*
 * mq.c - an AMQP 0-9-1 consumer on the libev loop (librabbitmq-c).
 *
 * Connecting (TCP open, TLS, login, channel, queue.declare, basic.qos,
 * basic.consume) is synchronous in librabbitmq, each step bounded by
 * MQ_TIMEOUT_S: it runs on a thread of its own, started from a timer (never
 * from mq_new), which owns the connection until it hands it back through an
 * ev_async, so a broker that is slow to answer never holds the loop (and its
 * watchdog pings). Once consuming, the socket is an
 * ev_io: each wake-up drains what librabbitmq has buffered with zero-timeout
 * amqp_consume_message calls, at most MQ_BUDGET deliveries before yielding
 * to the loop. A heartbeat timer does the same drain so librabbitmq sends
 * its heartbeats and notices a silent broker.
 */
#include "config.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <pthread.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "sources/mq.h"
#include "lib/xmalloc.h"

#define MQ_CHANNEL		1
#define MQ_TIMEOUT_S		5	/* each connection step */
#define MQ_HEARTBEAT_S		30
#define MQ_FRAME_MAX		131072
#define MQ_BUDGET		64	/* deliveries per loop wake-up */
#define MQ_PAUSE_MAX_MS		10000	/* well inside two heartbeats */
#define MQ_PREFETCH		100
#define MQ_RECONNECT_MIN_MS	500
#define MQ_RECONNECT_MAX_MS	30000

struct mq {
	struct ev_loop		*loop;
	mq_deliver_fn		*fn;
	void			*arg;

	char			*host;
	int			 port;
	char			*user;
	char			*vhost;
	char			*password;
	int			 tls;		/* amqps */
	char			*ca_path;	/* amqps: CA file or directory, or NULL */
	char			*where;		/* amqp://user@host:port/vhost, for logs */
	char			*queue;
	unsigned		 prefetch;
	uint64_t		 min_ms;
	uint64_t		 max_ms;

	amqp_connection_state_t	 conn;		/* NULL while disconnected */
	ev_async		 connect_done;	/* the connector thread has finished */
	pthread_t		 connector;
	pthread_mutex_t		 lock;		/* the three below, while connecting */
	int			 connecting;	/* a connector thread owns conn */
	int			 finished;	/* it has its result */
	int			 abandoned;	/* mq_free left it to free m */
	char			*connect_cause;	/* its failure, or NULL */
	ev_io			 io;
	ev_timer		 retry;		/* the next connection attempt */
	ev_timer		 beat;		/* heartbeats */
	ev_timer		 pause;		/* after a nack */
	int			 paused;
	uint64_t		 pause_ms;
	uint64_t		 ack_tag;	/* recorded up to here, not acked yet (0: none) */

	int			 ever;		/* has consumed at least once */
	int			 outage;	/* not consuming since a failure or a loss */
	unsigned		 attempts;	/* failed attempts in this outage */
	ev_tstamp		 down_since;
	char			*logged;	/* the failure last logged in this outage */
	uint64_t		 rng;
};

#define MQ_FIELDS(m) LOG_FIELDS({"MQ_URL", (m)->where}, {"MQ_QUEUE", (m)->queue})

/* Credentials never reach a log: blank out the password wherever it appears. */
static char *
mq_scrub(const struct mq *m, char *s)
{
	char *p;
	size_t n;

	if (s == NULL || m->password == NULL || (n = strlen(m->password)) == 0)
		return s;
	while ((p = strstr(s, m->password)) != NULL)
		memset(p, '*', n);
	return s;
}

static char *
mq_bytes(amqp_bytes_t b)
{
	return xasprintf("%.*s", (int)b.len, (const char *)b.bytes);
}

/* The reason an RPC failed, or NULL when it did not. */
static char *
mq_reply_cause(amqp_rpc_reply_t r, const char *what)
{
	const amqp_connection_close_t *cc;
	const amqp_channel_close_t *ch;
	char *text, *s;

	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return NULL;
	case AMQP_RESPONSE_NONE:
		return xasprintf("%s: no reply", what);
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return xasprintf("%s: %s", what, amqp_error_string2(r.library_error));
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		break;
	}
	if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		cc = r.reply.decoded;
		text = mq_bytes(cc->reply_text);
	} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		ch = r.reply.decoded;
		text = mq_bytes(ch->reply_text);
	} else
		text = xstrdup(amqp_method_name(r.reply.id));
	s = xasprintf("%s: %s", what, text);
	free(text);
	return s;
}

static uint64_t
mq_random(struct mq *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

/* The delay before the next attempt: doubling from the minimum, capped, with jitter. */
static double
mq_backoff(struct mq *m)
{
	uint64_t d, j;
	unsigned i;

	d = m->min_ms;
	for (i = 1; i < m->attempts && d < m->max_ms; i++)
		d *= 2;
	if (d > m->max_ms)
		d = m->max_ms;
	j = d / 2 + mq_random(m) % (d / 2 + 1);
	if (j < m->min_ms)
		j = m->min_ms;
	return (double)j / 1000.;
}

static void
mq_schedule(struct mq *m, double after)
{
	ev_timer_stop(m->loop, &m->retry);
	ev_timer_set(&m->retry, after, 0.);
	ev_timer_start(m->loop, &m->retry);
}

static void
mq_drop_watchers(struct mq *m)
{
	ev_io_stop(m->loop, &m->io);
	ev_timer_stop(m->loop, &m->beat);
	ev_timer_stop(m->loop, &m->pause);
	m->paused = 0;
	m->ack_tag = 0;
}

static void
mq_drop(struct mq *m)
{
	mq_drop_watchers(m);
	if (m->conn != NULL) {
		amqp_destroy_connection(m->conn);
		m->conn = NULL;
	}
}

/* A connection attempt failed: log it if it is news, retry later. */
static void
mq_failed(struct mq *m, char *cause)
{
	double after;

	mq_scrub(m, cause);
	m->outage = 1;
	m->attempts++;
	after = mq_backoff(m);
	if (m->logged == NULL || strcmp(m->logged, cause) != 0) {
		log_at(LOG_WARNING, 0, MQ_FIELDS(m), "mq: cannot consume %s from %s: %s;"
		    " retrying (backoff %.1f..%.1f s)", m->queue, m->where, cause,
		    (double)m->min_ms / 1000., (double)m->max_ms / 1000.);
		free(m->logged);
		m->logged = cause;
	} else {
		log_debug("mq: attempt %u failed: %s; next in %.2f s", m->attempts, cause,
		    after);
		free(cause);
	}
	mq_schedule(m, after);
}

/* A working connection broke: log the loss once and reconnect. */
static void
mq_lost(struct mq *m, char *cause)
{
	mq_scrub(m, cause);
	mq_drop(m);
	log_at(LOG_WARNING, 0, MQ_FIELDS(m), "mq: connection to %s lost: %s; reconnecting",
	    m->where, cause);
	free(m->logged);
	m->logged = cause;
	m->outage = 1;
	m->attempts = 0;
	m->down_since = ev_now(m->loop);
	mq_schedule(m, mq_backoff(m));
}

/*
 * amqps: the broker's certificate is verified, with its host name, against
 * ca_path (a file, or a directory of hashed certificates) or the system's
 * CAs. (librabbitmq's own set_cacert takes a file only: the context is set
 * up with OpenSSL directly.)
 */
static amqp_socket_t *
mq_tls_socket(struct mq *m, char **cause)
{
	amqp_socket_t *sock;
	struct stat sb;
	SSL_CTX *ctx;
	int ok;

	if ((sock = amqp_ssl_socket_new(m->conn)) == NULL) {
		*cause = xstrdup("cannot create a TLS socket");
		return NULL;
	}
	amqp_ssl_socket_set_verify_peer(sock, 1);
	amqp_ssl_socket_set_verify_hostname(sock, 1);
	ctx = amqp_ssl_socket_get_context(sock);
	if (m->ca_path == NULL)
		ok = SSL_CTX_set_default_verify_paths(ctx);
	else if (stat(m->ca_path, &sb) == 0 && S_ISDIR(sb.st_mode))
		ok = SSL_CTX_load_verify_locations(ctx, NULL, m->ca_path);
	else
		ok = SSL_CTX_load_verify_locations(ctx, m->ca_path, NULL);
	if (ok != 1) {
		*cause = xasprintf("cannot load the CA certificates%s%s",
		    m->ca_path != NULL ? " from " : "", m->ca_path != NULL ? m->ca_path : "");
		return NULL;
	}
	return sock;
}

static int
mq_open(struct mq *m, char **cause)
{
	struct timeval tv = { MQ_TIMEOUT_S, 0 };
	amqp_socket_t *sock;
	int st;

	m->conn = amqp_new_connection();
	if (m->tls)
		sock = mq_tls_socket(m, cause);
	else if ((sock = amqp_tcp_socket_new(m->conn)) == NULL)
		*cause = xstrdup("cannot create a socket");
	if (sock == NULL)
		return -1;
	amqp_set_handshake_timeout(m->conn, &tv);
	amqp_set_rpc_timeout(m->conn, &tv);
	if ((st = amqp_socket_open_noblock(sock, m->host, m->port, &tv)) != AMQP_STATUS_OK) {
		*cause = xasprintf("connect to %s port %d: %s", m->host, m->port,
		    amqp_error_string2(st));
		return -1;
	}
	return 0;
}

static int
mq_login(struct mq *m, char **cause)
{
	amqp_table_entry_t cap[1], prop[2];
	amqp_table_t caps = { 1, cap }, props = { 2, prop };

	cap[0].key = amqp_cstring_bytes("consumer_cancel_notify");
	cap[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	cap[0].value.value.boolean = 1;
	prop[0].key = amqp_cstring_bytes("capabilities");
	prop[0].value.kind = AMQP_FIELD_KIND_TABLE;
	prop[0].value.value.table = caps;
	prop[1].key = amqp_cstring_bytes("connection_name");
	prop[1].value.kind = AMQP_FIELD_KIND_UTF8;
	prop[1].value.value.bytes = amqp_cstring_bytes(PACKAGE_NAME);
	*cause = mq_reply_cause(amqp_login_with_properties(m->conn, m->vhost, 0, MQ_FRAME_MAX,
	    MQ_HEARTBEAT_S, &props, AMQP_SASL_METHOD_PLAIN, m->user, m->password), "login");
	return *cause == NULL ? 0 : -1;
}

/* Channel, durable queue, prefetch, consumer with manual acknowledgements. */
static int
mq_consume(struct mq *m, char **cause)
{
	amqp_bytes_t q = amqp_cstring_bytes(m->queue);

	amqp_channel_open(m->conn, MQ_CHANNEL);
	if ((*cause = mq_reply_cause(amqp_get_rpc_reply(m->conn), "channel.open")) != NULL)
		return -1;
	amqp_queue_declare(m->conn, MQ_CHANNEL, q, 0, 1, 0, 0, amqp_empty_table);
	if ((*cause = mq_reply_cause(amqp_get_rpc_reply(m->conn), "queue.declare")) != NULL)
		return -1;
	amqp_basic_qos(m->conn, MQ_CHANNEL, 0, (uint16_t)m->prefetch, 0);
	if ((*cause = mq_reply_cause(amqp_get_rpc_reply(m->conn), "basic.qos")) != NULL)
		return -1;
	amqp_basic_consume(m->conn, MQ_CHANNEL, q, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	if ((*cause = mq_reply_cause(amqp_get_rpc_reply(m->conn), "basic.consume")) != NULL)
		return -1;
	return 0;
}

static void
mq_consuming(struct mq *m)
{
	int hb;

	if (m->outage)
		log_at(LOG_NOTICE, 0, MQ_FIELDS(m), "mq: %sconnected to %s after %.1f s"
		    " (%u failed attempts); consuming %s (prefetch %u)", m->ever ? "re" : "",
		    m->where, ev_now(m->loop) - m->down_since, m->attempts, m->queue,
		    m->prefetch);
	else
		log_at(LOG_INFO, 0, MQ_FIELDS(m), "mq: consuming %s from %s (prefetch %u)",
		    m->queue, m->where, m->prefetch);
	m->ever = 1;
	m->outage = 0;
	m->attempts = 0;
	free(m->logged);
	m->logged = NULL;
	ev_io_set(&m->io, amqp_get_sockfd(m->conn), EV_READ);
	ev_io_start(m->loop, &m->io);
	if ((hb = amqp_get_heartbeat(m->conn)) > 0) {
		ev_timer_set(&m->beat, hb / 2. , hb / 2.);
		ev_timer_start(m->loop, &m->beat);
	}
	/* Deliveries may already sit in librabbitmq's buffers. */
	ev_feed_event(m->loop, &m->io, EV_READ);
}

static void mq_release(struct mq *m);

/* The connector thread: every blocking step, off the loop; the loop is told. */
static void *
mq_connect_thread(void *arg)
{
	struct mq *m = arg;
	char *cause = NULL;
	int abandoned;

	if (mq_open(m, &cause) == 0 && mq_login(m, &cause) == 0)
		(void)mq_consume(m, &cause);
	pthread_mutex_lock(&m->lock);
	m->connect_cause = cause;
	m->finished = 1;
	if (!(abandoned = m->abandoned))
		ev_async_send(m->loop, &m->connect_done);
	pthread_mutex_unlock(&m->lock);
	if (abandoned)
		mq_release(m);	/* mq_free was called meanwhile: nobody else has m */
	return NULL;
}

/* Back on the loop: the connector thread is done; consume, or retry later. */
static void
mq_on_connected(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mq *m = w->data;
	char *cause;

	ev_async_stop(loop, &m->connect_done);
	pthread_join(m->connector, NULL);
	m->connecting = 0;
	m->finished = 0;
	cause = m->connect_cause;
	m->connect_cause = NULL;
	if (cause != NULL) {
		mq_drop(m);
		mq_failed(m, cause);
		return;
	}
	mq_consuming(m);
}

static void
mq_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mq *m = w->data;
	int err;

	if (m->connecting)
		return;
	if (!m->outage)
		m->down_since = ev_now(loop);
	m->connecting = 1;
	ev_async_start(loop, &m->connect_done);
	if ((err = pthread_create(&m->connector, NULL, mq_connect_thread, m)) != 0) {
		ev_async_stop(loop, &m->connect_done);
		m->connecting = 0;
		mq_failed(m, xasprintf("cannot start a connection thread: %s", strerror(err)));
	}
}

/* Stop reading for a while after a nack, so a store that cannot record does not spin. */
static void
mq_hold(struct mq *m, const char *why)
{
	if (m->pause_ms == 0)
		log_at(LOG_WARNING, 0, MQ_FIELDS(m), "mq: a message from %s cannot be recorded"
		    " now (%s); requeued, pausing", m->queue, why != NULL ? why : "no reason");
	m->pause_ms = m->pause_ms == 0 ? m->min_ms : m->pause_ms * 2;
	if (m->pause_ms > MQ_PAUSE_MAX_MS)
		m->pause_ms = MQ_PAUSE_MAX_MS;
	if (m->pause_ms > m->max_ms)
		m->pause_ms = m->max_ms;
	m->paused = 1;
	ev_io_stop(m->loop, &m->io);
	ev_timer_set(&m->pause, (double)m->pause_ms / 1000., 0.);
	ev_timer_start(m->loop, &m->pause);
}

static void
mq_on_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mq *m = w->data;

	m->paused = 0;
	ev_io_start(loop, &m->io);
	ev_feed_event(loop, &m->io, EV_READ);
}

/*
 * Acknowledge every delivery recorded so far with one basic.ack (multiple):
 * deliveries are settled in order, so all those before the last recorded
 * one are recorded, rejected or nacked already.
 */
static int
mq_flush(struct mq *m, char **cause)
{
	int st;

	if (m->ack_tag == 0 || m->conn == NULL)
		return 0;
	st = amqp_basic_ack(m->conn, MQ_CHANNEL, m->ack_tag, 1);
	m->ack_tag = 0;
	if (st != AMQP_STATUS_OK) {
		*cause = xasprintf("acknowledging: %s", amqp_error_string2(st));
		return -1;
	}
	return 0;
}

/* Hand one delivery to the callback and settle it; -1 when the connection broke. */
static int
mq_deliver(struct mq *m, const amqp_envelope_t *env, char **cause)
{
	amqp_bytes_t body = env->message.body;
	enum mq_verdict v;
	char *why = NULL, tag[32];
	int st = AMQP_STATUS_OK;

	v = m->fn(m->arg, body.bytes, body.len, &why);
	snprintf(tag, sizeof tag, "%" PRIu64, env->delivery_tag);
	if (v != MQ_RECORDED && mq_flush(m, cause) != 0) {
		free(why);
		return -1;
	}
	switch (v) {
	case MQ_RECORDED:
		if (m->pause_ms != 0)
			log_at(LOG_INFO, 0, MQ_FIELDS(m), "mq: recording again");
		m->pause_ms = 0;
		m->ack_tag = env->delivery_tag;
		break;
	case MQ_MALFORMED:
		log_at(LOG_WARNING, 0, LOG_FIELDS({"MQ_URL", m->where}, {"MQ_QUEUE", m->queue},
		    {"MQ_DELIVERY_TAG", tag}), "mq: rejected a malformed message from %s: %s",
		    m->queue, why != NULL ? why : "no reason");
		st = amqp_basic_reject(m->conn, env->channel, env->delivery_tag, 0);
		break;
	default:
		st = amqp_basic_nack(m->conn, env->channel, env->delivery_tag, 0, 1);
		if (st == AMQP_STATUS_OK)
			mq_hold(m, why);
		break;
	}
	free(why);
	if (st != AMQP_STATUS_OK) {
		*cause = xasprintf("acknowledging: %s", amqp_error_string2(st));
		return -1;
	}
	return 0;
}

/* A frame other than a delivery: the broker closing something, or noise. */
static int
mq_other_frame(struct mq *m, char **cause)
{
	struct timeval zero = { 0, 0 };
	amqp_channel_close_ok_t chok = { 0 };
	amqp_connection_close_ok_t cok = { 0 };
	amqp_frame_t f;
	char *text = NULL;
	int st;

	if ((st = amqp_simple_wait_frame_noblock(m->conn, &f, &zero)) != AMQP_STATUS_OK) {
		*cause = xstrdup(amqp_error_string2(st));
		return -1;
	}
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 0;
	switch (f.payload.method.id) {
	case AMQP_CHANNEL_CLOSE_METHOD:
		text = mq_bytes(((amqp_channel_close_t *)f.payload.method.decoded)->reply_text);
		*cause = xasprintf("the broker closed the channel: %s", text);
		amqp_send_method(m->conn, f.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &chok);
		break;
	case AMQP_CONNECTION_CLOSE_METHOD:
		text = mq_bytes(((amqp_connection_close_t *)f.payload.method.decoded)->reply_text);
		*cause = xasprintf("the broker closed the connection: %s", text);
		amqp_send_method(m->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &cok);
		break;
	case AMQP_BASIC_CANCEL_METHOD:
		*cause = xstrdup("the broker cancelled the consumer (queue deleted?)");
		return -1;
	default:
		log_debug("mq: ignoring %s", amqp_method_name(f.payload.method.id));
		return 0;
	}
	free(text);
	return -1;
}

/* One step of the drain: 1 delivered, 0 nothing buffered, -1 connection lost. */
static int
mq_step(struct mq *m, char **cause)
{
	struct timeval zero = { 0, 0 };
	amqp_envelope_t env;
	amqp_rpc_reply_t r;
	int rc;

	amqp_maybe_release_buffers(m->conn);
	memset(&env, 0, sizeof env);
	r = amqp_consume_message(m->conn, &env, &zero, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL) {
		rc = mq_deliver(m, &env, cause);
		amqp_destroy_envelope(&env);
		return rc == 0 ? 1 : -1;
	}
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		if (r.library_error == AMQP_STATUS_TIMEOUT)
			return 0;
		if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE)
			return mq_other_frame(m, cause) == 0 ? 1 : -1;
	}
	*cause = mq_reply_cause(r, "consuming");
	return -1;
}

static void
mq_drain(struct mq *m)
{
	char *cause = NULL;
	int n, rc = 1;

	for (n = 0; n < MQ_BUDGET && rc > 0 && m->conn != NULL && !m->paused; n++)
		rc = mq_step(m, &cause);
	if (rc >= 0 && mq_flush(m, &cause) != 0)
		rc = -1;
	if (rc < 0) {
		mq_lost(m, cause);
		return;
	}
	/* More may be buffered where the socket cannot tell: come back next iteration. */
	if (n == MQ_BUDGET && rc > 0)
		ev_feed_event(m->loop, &m->io, EV_READ);
}

static void
mq_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	mq_drain(w->data);
}

static void
mq_on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
	mq_drain(w->data);
}

/* amqp[s]://[user@]host[:port][/vhost]; the password comes from its file only. */
static int
mq_parse_url(struct mq *m, const char *url, char **cause)
{
	struct amqp_connection_info ci;
	const char *auth, *end, *at;
	char *copy;

	auth = strstr(url, "://");
	auth = auth != NULL ? auth + 3 : url;
	end = auth + strcspn(auth, "/?#");
	if ((at = memchr(auth, '@', (size_t)(end - auth))) != NULL &&
	    memchr(auth, ':', (size_t)(at - auth)) != NULL) {
		*cause = xstrdup("mq: the URL must not hold a password (use password_file)");
		return -1;
	}
	copy = xstrdup(url);
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK || *ci.host == '\0') {
		free(copy);
		*cause = xstrdup("mq: the URL is not amqp[s]://[user@]host[:port][/vhost]");
		return -1;
	}
	m->tls = ci.ssl;
	m->host = xstrdup(ci.host);
	m->port = ci.port;
	m->user = xstrdup(ci.user);
	m->vhost = xstrdup(*ci.vhost == '\0' ? "/" : ci.vhost);
	m->where = xasprintf("%s://%s@%s:%d/%s", m->tls ? "amqps" : "amqp", m->user, m->host, m->port,
	    strcmp(m->vhost, "/") == 0 ? "%2f" : m->vhost);
	free(copy);
	return 0;
}

/* The password from its file (lib/fileio.h's secret-file policy), else guest's. */
static int
mq_read_password(struct mq *m, const char *path, char **cause)
{
	if (path == NULL) {
		m->password = xstrdup("guest");
		return 0;
	}
	return fileio_secret(path, "password file", &m->password, cause);
}

static int
mq_check(const struct mq_config *cfg, char **cause)
{
	if (cfg->url == NULL || cfg->queue == NULL || *cfg->queue == '\0') {
		*cause = xstrdup("mq: a URL and a queue are needed");
		return -1;
	}
	if (cfg->prefetch > UINT16_MAX) {
		*cause = xasprintf("mq: prefetch %u is over %u", cfg->prefetch, UINT16_MAX);
		return -1;
	}
	if (cfg->reconnect_min_ms != 0 && cfg->reconnect_max_ms != 0 &&
	    cfg->reconnect_min_ms > cfg->reconnect_max_ms) {
		*cause = xstrdup("mq: the minimum reconnection delay is over the maximum");
		return -1;
	}
	return 0;
}

struct mq *
mq_new(struct ev_loop *loop, const struct mq_config *cfg, mq_deliver_fn *fn, void *arg,
    char **cause)
{
	struct mq *m;

	if (mq_check(cfg, cause) != 0)
		return NULL;
	m = xcalloc(1, sizeof *m);
	pthread_mutex_init(&m->lock, NULL);
	m->loop = loop;
	m->fn = fn;
	m->arg = arg;
	if (mq_parse_url(m, cfg->url, cause) != 0 ||
	    mq_read_password(m, cfg->password_file, cause) != 0) {
		mq_free(m);
		return NULL;
	}
	m->queue = xstrdup(cfg->queue);
	m->ca_path = cfg->ca_path != NULL ? xstrdup(cfg->ca_path) : NULL;
	m->prefetch = cfg->prefetch != 0 ? cfg->prefetch : MQ_PREFETCH;
	m->min_ms = cfg->reconnect_min_ms != 0 ? cfg->reconnect_min_ms : MQ_RECONNECT_MIN_MS;
	m->max_ms = cfg->reconnect_max_ms != 0 ? cfg->reconnect_max_ms : MQ_RECONNECT_MAX_MS;
	if (m->max_ms < m->min_ms)
		m->max_ms = m->min_ms;
	m->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)(ev_time() * 1e6) ^ (uintptr_t)m;
	if (m->rng == 0)
		m->rng = 1;
	ev_io_init(&m->io, mq_on_io, -1, EV_READ);
	ev_timer_init(&m->retry, mq_on_retry, 0., 0.);
	ev_timer_init(&m->beat, mq_on_beat, 0., 0.);
	ev_timer_init(&m->pause, mq_on_pause, 0., 0.);
	ev_async_init(&m->connect_done, mq_on_connected);
	m->io.data = m->retry.data = m->beat.data = m->pause.data = m->connect_done.data = m;
	ev_timer_start(loop, &m->retry);
	return m;
}

/* Close politely (bounded): the broker requeues what was not acked. */
static void
mq_close(struct mq *m)
{
	struct timeval tv = { 1, 0 };
	char *cause = NULL;

	if (m->conn == NULL)
		return;
	if (mq_flush(m, &cause) != 0) {
		free(cause);
		return;
	}
	amqp_set_rpc_timeout(m->conn, &tv);
	amqp_channel_close(m->conn, MQ_CHANNEL, AMQP_REPLY_SUCCESS);
	amqp_connection_close(m->conn, AMQP_REPLY_SUCCESS);
}

/* Free m and what it holds (no watcher is touched: any thread may do it). */
static void
mq_release(struct mq *m)
{
	if (m->conn != NULL)
		amqp_destroy_connection(m->conn);
	fileio_secret_free(m->password);
	free(m->host);
	free(m->user);
	free(m->vhost);
	free(m->where);
	free(m->ca_path);
	free(m->queue);
	free(m->logged);
	free(m->connect_cause);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/*
 * A connector thread still in a blocking step is not waited for: it is
 * detached and frees m when its step ends (bounded by MQ_TIMEOUT_S), so that
 * a stop or a reload never waits for a broker. Returns 1 when it took m.
 */
static int
mq_abandon(struct mq *m)
{
	int taken;

	pthread_mutex_lock(&m->lock);
	if ((taken = !m->finished)) {
		m->abandoned = 1;
		pthread_detach(m->connector);
	}
	pthread_mutex_unlock(&m->lock);
	ev_async_stop(m->loop, &m->connect_done);
	if (!taken) {
		pthread_join(m->connector, NULL);
		m->connecting = 0;
		if (m->connect_cause != NULL) {
			free(m->connect_cause);
			m->connect_cause = NULL;
			mq_drop(m);	/* a half-made connection: no polite close */
		}
	}
	return taken;
}

void
mq_free(struct mq *m)
{
	if (m == NULL)
		return;
	if (m->loop != NULL)
		ev_timer_stop(m->loop, &m->retry);
	if (m->connecting && mq_abandon(m)) {
		mq_drop_watchers(m);
		return;
	}
	mq_close(m);
	mq_drop(m);
	mq_release(m);
}
