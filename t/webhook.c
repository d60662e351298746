/*
 * t/webhook.c - the bucket-event endpoint over loopback: real HTTP clients
 * (libcurl in forked children) while this process runs the libev loop, and
 * raw sockets for what well-behaved clients do not do (a request refused on
 * its headers alone, a connection dropped mid-body, garbage, an idle
 * keep-alive connection when the endpoint is freed). Every refusal is logged
 * exactly once, with the peer, and the token never appears in the log.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>

#include "lib/log.h"
#include "tap.h"
#include "sources/webhook.h"
#include "lib/xmalloc.h"

#define TOKEN		"s3cr3t-T0ken-for-the-webhook"
#define MAX_CLIENTS	16

static struct ev_loop *loop;
static ev_timer tick;
static int port;

/* What the deliver callback saw and will answer. */
static int calls;
static char *last_body;
static size_t last_len;
static enum webhook_verdict verdict = WEBHOOK_RECORDED;
static const char *verdict_why;

/* The log, captured from stderr. */
static char log_path[] = "/tmp/caom2ingest-webhook.XXXXXX";
static int log_fd = -1, saved_stderr = -1;
static int refusals;	/* refusals the tests caused */

struct req {
	const char	*method;	/* NULL: POST */
	const char	*body;
	size_t		 len;
	int		 chunked;
	const char	*auth;		/* Authorization header value, or NULL */
	int		 v6;		/* to [::1] */
};

struct reply {
	long		 status;
	char		 body[512];
};

static enum webhook_verdict
deliver(void *arg, const char *body, size_t len, char **why)
{
	calls++;
	free(last_body);
	last_body = xmalloc(len + 1);
	memcpy(last_body, body, len);
	last_body[len] = '\0';
	last_len = len;
	if (verdict != WEBHOOK_RECORDED && verdict_why != NULL)
		*why = xstrdup(verdict_why);
	return verdict;
}

static void
on_tick(struct ev_loop *l, ev_timer *t, int revents)
{
}

/* Run the loop for about s seconds. */
static void
spin(double s)
{
	ev_tstamp end = ev_time() + s;

	while (ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
}

struct upload {
	const char	*data;
	size_t		 len, off;
};

static size_t
read_upload(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = size * n;

	if (k > u->len - u->off)
		k = u->len - u->off;
	if (k > 1000)
		k = 1000;	/* many chunks */
	memcpy(buf, u->data + u->off, k);
	u->off += k;
	return k;
}

static size_t
write_reply(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t have = strlen(r->body), k = size * n;

	if (k > sizeof r->body - 1 - have)
		k = sizeof r->body - 1 - have;
	memcpy(r->body + have, data, k);
	return size * n;
}

/* In the child: make the request with libcurl and write the reply to fd. */
static void __attribute__((noreturn))
client_run(const struct req *rq, int fd)
{
	struct upload u = { rq->body, rq->len, 0 };
	struct reply r;
	struct curl_slist *hdr = NULL;
	char url[64], *auth = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(&r, 0, sizeof r);
	snprintf(url, sizeof url, rq->v6 ? "http://[::1]:%d/events" : "http://127.0.0.1:%d/events",
	    port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_reply);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	if (rq->auth != NULL) {
		auth = xasprintf("Authorization: %s", rq->auth);
		hdr = curl_slist_append(hdr, auth);
	}
	if (rq->chunked) {
		hdr = curl_slist_append(hdr, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
		curl_easy_setopt(c, CURLOPT_READDATA, &u);
	} else if (rq->method != NULL && strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body != NULL ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
		if (rq->method != NULL)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	if ((rc = curl_easy_perform(c)) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	else {
		r.status = -1;
		snprintf(r.body, sizeof r.body, "curl: %s", curl_easy_strerror(rc));
	}
	if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(1);
	_exit(0);
}

/* Fork a client for rq; its pid, with *fd the pipe its reply comes on. */
static pid_t
client_start(const struct req *rq, int *fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		bail("pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		client_run(rq, p[1]);
	}
	close(p[1]);
	*fd = p[0];
	return pid;
}

static void
on_child(struct ev_loop *l, ev_child *w, int revents)
{
	ev_child_stop(l, w);
	(*(int *)w->data)--;
}

/* Run the loop until the n clients exited (15 s at most); collect replies.
 * The default loop reaps children: wait with ev_child watchers. */
static void
clients_wait(pid_t *pid, int *fd, struct reply *r, int n)
{
	ev_tstamp end = ev_time() + 15;
	ev_child cw[MAX_CLIENTS];
	int i, left = n, status;

	for (i = 0; i < n; i++) {
		ev_child_init(&cw[i], on_child, pid[i], 0);
		cw[i].data = &left;
		ev_child_start(loop, &cw[i]);
	}
	while (left > 0 && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	for (i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof r[i]);
		if (ev_is_active(&cw[i])) {
			ev_child_stop(loop, &cw[i]);
			kill(pid[i], SIGKILL);
			waitpid(pid[i], &status, 0);
			r[i].status = -2;
		} else if (read(fd[i], &r[i], sizeof r[i]) != (ssize_t)sizeof r[i])
			r[i].status = -3;
		close(fd[i]);
	}
}

static struct reply
request(const struct req *rq)
{
	struct reply r;
	pid_t pid;
	int fd;

	pid = client_start(rq, &fd);
	clients_wait(&pid, &fd, &r, 1);
	return r;
}

static struct reply
post(const char *body, const char *auth)
{
	struct req rq = { NULL, body, strlen(body), 0, auth, 0 };

	return request(&rq);
}

/* A raw connection to the endpoint (non-blocking once connected). */
static int
raw_connect(void)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
		bail("connect: %s", strerror(errno));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void
raw_send(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, data, len, MSG_NOSIGNAL)) < 0) {
			if (errno != EAGAIN)
				return;
			ev_run(loop, EVRUN_ONCE);
			continue;
		}
		data += n;
		len -= (size_t)n;
	}
}

static void
raw_send_str(int fd, const char *s)
{
	raw_send(fd, s, strlen(s));
}

/* Run the loop until a whole response (headers, as this endpoint's bodies
 * are short) or EOF arrived on fd (5 s at most); its status, 0 on EOF. */
static int
raw_status(int fd, char *buf, size_t size)
{
	ev_tstamp end = ev_time() + 5;
	size_t have = 0;
	ssize_t n;
	int status = -1;

	buf[0] = '\0';
	while (ev_time() < end) {
		ev_run(loop, EVRUN_ONCE);
		n = recv(fd, buf + have, size - 1 - have, 0);
		if (n == 0 && have == 0)
			return 0;
		if (n > 0) {
			have += (size_t)n;
			buf[have] = '\0';
		}
		if (n == 0 || strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	return status;
}

/* True when the server closed fd (EOF or reset) within s seconds. */
static int
raw_closed(int fd, double s)
{
	ev_tstamp end = ev_time() + s;
	char buf[512];
	ssize_t n;

	while (ev_time() < end) {
		ev_run(loop, EVRUN_ONCE);
		n = recv(fd, buf, sizeof buf, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return 1;
	}
	return 0;
}

static struct webhook *
start(const char *token, size_t max_body)
{
	struct webhook_config cfg = { "127.0.0.1:0", token, max_body };
	struct webhook *w;
	char *cause = NULL;

	if ((w = webhook_new(loop, &cfg, deliver, NULL, &cause)) == NULL)
		bail("webhook_new: %s", cause);
	port = webhook_port(w);
	return w;
}

/* A listening socket on 127.0.0.1 with any free port; its fd, *p its port. */
static int
listen_any(int *p)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		bail("listen: %s", strerror(errno));
	*p = ntohs(sin.sin_port);
	return fd;
}

/* Another process's (here: a plain) socket on the port: refused, never shared. */
static void
test_listen_foreign(void)
{
	struct webhook_config cfg = { NULL, NULL, 0 };
	struct webhook *w;
	char *cause = NULL, *addr;
	int fd, p;

	fd = listen_any(&p);
	addr = xasprintf("127.0.0.1:%d", p);
	cfg.listen = addr;
	w = webhook_new(loop, &cfg, deliver, NULL, &cause);
	ok(w == NULL && cause != NULL && strstr(cause, "Address already in use") != NULL,
	    "a port held by another socket is refused: %s", cause != NULL ? cause : "(no cause)");
	webhook_free(w);
	free(cause);
	free(addr);
	close(fd);
}

/*
 * A reload: a second webhook on the same fixed address shares the first
 * one's socket; once the first is freed the second still answers.
 */
static void
test_listen_shared(void)
{
	struct webhook_config cfg = { NULL, NULL, 0 };
	struct webhook *w1, *w2;
	struct reply r;
	char *cause = NULL, *addr;
	int fd, p, saved = port, before;

	fd = listen_any(&p);
	close(fd);
	addr = xasprintf("127.0.0.1:%d", p);
	cfg.listen = addr;
	if ((w1 = webhook_new(loop, &cfg, deliver, NULL, &cause)) == NULL)
		bail("webhook_new %s: %s", addr, cause);
	w2 = webhook_new(loop, &cfg, deliver, NULL, &cause);
	ok(w2 != NULL, "a second webhook on the same address shares its socket: %s",
	    cause != NULL ? cause : "ok");
	free(cause);
	if (w2 == NULL) {
		webhook_free(w1);
		free(addr);
		skip(3, "no shared webhook");
		return;
	}
	is_int(p, webhook_port(w2), "the shared webhook reports the port");
	webhook_free(w1);
	port = p;
	before = calls;
	r = post("{\"after\":\"reload\"}", NULL);
	is_int(200, r.status, "the second webhook answers after the first is freed");
	is_int(before + 1, calls, "and delivers the event");
	webhook_free(w2);
	port = saved;
	free(addr);
}

static void
test_listen(void)
{
	static const struct {
		const char	*listen;
		const char	*cause;
	} bad[] = {
		{ "nonsense", "webhook listen 'nonsense': not ADDR:PORT or [ADDR]:PORT" },
		{ "127.0.0.1", "webhook listen '127.0.0.1': not ADDR:PORT or [ADDR]:PORT" },
		{ "127.0.0.1:", "webhook listen '127.0.0.1:': not ADDR:PORT or [ADDR]:PORT" },
		{ "127.0.0.1:65536", "webhook listen '127.0.0.1:65536': not ADDR:PORT or [ADDR]:PORT" },
		{ "127.0.0.1:-1", "webhook listen '127.0.0.1:-1': not ADDR:PORT or [ADDR]:PORT" },
		{ "127.0.0.1:80x", "webhook listen '127.0.0.1:80x': not ADDR:PORT or [ADDR]:PORT" },
		{ ":8099", "webhook listen ':8099': not ADDR:PORT or [ADDR]:PORT" },
		{ "::1:8099", "webhook listen '::1:8099': not ADDR:PORT or [ADDR]:PORT" },
		{ "[::1]8099", "webhook listen '[::1]8099': not ADDR:PORT or [ADDR]:PORT" },
		{ "[::1:8099", "webhook listen '[::1:8099': not ADDR:PORT or [ADDR]:PORT" },
		{ "203.0.113.999:80", "webhook listen 203.0.113.999:80: Name or service not known" },
	};
	struct webhook_config cfg = { "127.0.0.1:0", NULL, 0 };
	struct webhook *w, *w2;
	char *cause, *addr;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		cfg.listen = bad[i].listen;
		w = webhook_new(loop, &cfg, deliver, NULL, &cause);
		ok(w == NULL, "listen %s refused", bad[i].listen);
		is_string(bad[i].cause, cause, "listen %s: its cause", bad[i].listen);
		free(cause);
		webhook_free(w);
	}

	cfg.listen = "127.0.0.1:0";
	cause = NULL;
	w = webhook_new(loop, &cfg, deliver, NULL, &cause);
	ok(w != NULL && webhook_port(w) > 0, "port 0: a free port is bound (%d)",
	    w != NULL ? webhook_port(w) : -1);
	addr = xasprintf("127.0.0.1:%d", w != NULL ? webhook_port(w) : 1);
	cfg.listen = addr;
	w2 = webhook_new(loop, &cfg, deliver, NULL, &cause);
	ok(w2 == NULL && cause != NULL && strstr(cause, "Address already in use") != NULL,
	    "a port in use is refused: %s", cause != NULL ? cause : "(no cause)");
	free(cause);
	webhook_free(w2);
	webhook_free(w);
	free(addr);
	test_listen_foreign();
	test_listen_shared();
	webhook_free(NULL);
	ok(1, "webhook_free(NULL) is harmless");
}

static void
test_ipv6(void)
{
	struct webhook_config cfg = { "[::1]:0", NULL, 0 };
	struct req rq = { NULL, "{\"v6\":1}", 8, 0, NULL, 1 };
	struct webhook *w;
	struct reply r;
	char *cause = NULL;
	int before = calls, saved = port;

	if ((w = webhook_new(loop, &cfg, deliver, NULL, &cause)) == NULL) {
		skip(3, "no IPv6 loopback: %s", cause);
		free(cause);
		return;
	}
	port = webhook_port(w);
	ok(port > 0, "[::1]:0 binds a port");
	r = request(&rq);
	is_int(200, r.status, "a POST over IPv6 is recorded");
	is_int(before + 1, calls, "the callback ran once");
	webhook_free(w);
	port = saved;
}

static void
test_verdicts(void)
{
	const char *event = "{\"Records\":[{\"eventName\":\"s3:ObjectCreated:Put\","
	    "\"s3\":{\"bucket\":{\"name\":\"landing\"},\"object\":{\"key\":\"a.fits\"}}}]}";
	struct reply r;
	int before = calls;

	r = post(event, NULL);
	is_int(200, r.status, "RECORDED: 200");
	is_string("recorded\n", r.body, "RECORDED: its body");
	is_int(before + 1, calls, "the callback ran once");
	ok(last_body != NULL && last_len == strlen(event) && strcmp(last_body, event) == 0,
	    "the callback had the exact body");

	verdict = WEBHOOK_MALFORMED;
	verdict_why = "no Records array";
	r = post("{\"x\":1}", NULL);
	refusals++;
	is_int(400, r.status, "MALFORMED: 400");
	is_string("malformed event: no Records array\n", r.body, "MALFORMED: the why");

	verdict = WEBHOOK_UNAVAILABLE;
	verdict_why = "database is locked";
	r = post(event, NULL);
	refusals++;
	is_int(503, r.status, "UNAVAILABLE: 503");
	is_string("cannot record the event now: database is locked\n", r.body,
	    "UNAVAILABLE: the why");

	verdict_why = NULL;
	r = post(event, NULL);
	refusals++;
	is_int(503, r.status, "UNAVAILABLE without a why: 503");
	is_string("cannot record the event now: no reason given\n", r.body,
	    "UNAVAILABLE without a why: a body all the same");

	verdict = WEBHOOK_MALFORMED;
	verdict_why = "empty body";
	before = calls;
	r = post("", NULL);
	refusals++;
	is_int(400, r.status, "an empty body: the callback decides (400 here)");
	ok(calls == before + 1 && last_len == 0, "the callback had the empty body");
	verdict = WEBHOOK_RECORDED;
	verdict_why = NULL;
	r = post("", NULL);
	is_int(200, r.status, "an empty body: the callback decides (200 here)");
}

static void
test_methods(void)
{
	struct req get = { "GET", NULL, 0, 0, NULL, 0 };
	struct req put = { "PUT", "{}", 2, 0, NULL, 0 };
	struct req del = { "DELETE", NULL, 0, 0, NULL, 0 };
	struct reply r;
	int before = calls;

	r = request(&get);
	refusals++;
	is_int(405, r.status, "GET: 405");
	is_string("method GET not allowed\n", r.body, "GET: its body");
	r = request(&put);
	refusals++;
	is_int(405, r.status, "PUT with a body: 405");
	r = request(&del);
	refusals++;
	is_int(405, r.status, "DELETE: 405");
	is_int(before, calls, "the callback is not called for other methods");
}

static void
test_token(void)
{
	struct webhook *w = start(TOKEN, 0);
	struct reply r;
	int before = calls;

	r = post("{}", NULL);
	refusals++;
	is_int(401, r.status, "no token: 401");
	is_string("no bearer token\n", r.body, "no token: its body");
	r = post("{}", "Bearer wrong-token");
	refusals++;
	is_int(401, r.status, "a wrong token: 401");
	is_string("wrong bearer token\n", r.body, "a wrong token: its body");
	r = post("{}", "Bearer " TOKEN "x");
	refusals++;
	is_int(401, r.status, "the token with a byte more: 401");
	r = post("{}", "Bearer s3cr3t");
	refusals++;
	is_int(401, r.status, "a prefix of the token: 401");
	r = post("{}", "Basic " TOKEN);
	refusals++;
	is_int(401, r.status, "the token in another scheme: 401");
	is_int(before, calls, "the callback is not called without the token");
	r = post("{\"ok\":1}", "Bearer " TOKEN);
	is_int(200, r.status, "the right token: 200");
	r = post("{\"ok\":2}", "bearer " TOKEN);
	is_int(200, r.status, "the scheme is case-insensitive");
	is_int(before + 2, calls, "the callback ran for those");
	webhook_free(w);
}

static void
test_limits(struct webhook *w)
{
	struct req big = { NULL, NULL, 65537, 0, NULL, 0 };
	struct req edge = { NULL, NULL, 65536, 0, NULL, 0 };
	struct req chunked = { NULL, NULL, 70000, 1, NULL, 0 };
	struct req chunked_edge = { NULL, NULL, 65536, 1, NULL, 0 };
	struct reply r;
	char *body = xmalloc(70001), buf[1024];
	int before = calls, fd;

	memset(body, 'x', 70000);
	body[70000] = '\0';
	big.body = edge.body = chunked.body = chunked_edge.body = body;

	r = request(&big);
	refusals++;
	is_int(413, r.status, "Content-Length 65537: 413");
	is_string("body of 65537 bytes over the limit of 65536\n", r.body, "413: its body");
	r = request(&chunked);
	refusals++;
	is_int(413, r.status, "a chunked body of 70000 bytes: 413");
	is_string("body over the limit of 65536 bytes\n", r.body, "chunked 413: its body");
	is_int(before, calls, "the callback is not called for bodies over the limit");
	r = request(&edge);
	is_int(200, r.status, "Content-Length 65536: 200");
	ok(last_len == 65536, "the callback had all 65536 bytes");
	r = request(&chunked_edge);
	is_int(200, r.status, "a chunked body of 65536 bytes: 200");
	ok(last_len == 65536, "the callback had all 65536 chunked bytes");

	/* Refused on the headers alone: no body is ever sent. */
	fd = raw_connect();
	raw_send_str(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n");
	refusals++;
	is_int(413, raw_status(fd, buf, sizeof buf),
	    "a huge Content-Length is answered 413 before any body is sent");
	close(fd);
	free(body);
	(void)w;
}

static void
test_limit_small(void)
{
	struct webhook *w = start(NULL, 10);
	struct req rq = { NULL, "0123456789", 10, 0, NULL, 0 };
	struct reply r;

	r = request(&rq);
	is_int(200, r.status, "max_body 10: 10 bytes are accepted");
	rq.len = 11;
	rq.body = "0123456789a";
	r = request(&rq);
	refusals++;
	is_int(413, r.status, "max_body 10: 11 bytes are not");
	rq.chunked = 1;
	r = request(&rq);
	refusals++;
	is_int(413, r.status, "max_body 10: nor 11 chunked bytes");
	webhook_free(w);
}

/* A chunked body far over the limit is not read forever. */
static void
test_endless(void)
{
	static const char head[] = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
	char chunk[8192 + 16];
	int fd, i, closed = 0;

	fd = raw_connect();
	raw_send(fd, head, sizeof head - 1);
	memcpy(chunk, "2000\r\n", 6);
	memset(chunk + 6, 'y', 8192);
	memcpy(chunk + 6 + 8192, "\r\n", 2);
	for (i = 0; i < 400 && !closed; i++) {
		if (send(fd, chunk, 8192 + 8, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			closed = 1;
		ev_run(loop, EVRUN_NOWAIT);
	}
	ok(closed || raw_closed(fd, 3), "an endless chunked body: the connection is closed");
	refusals++;
	close(fd);
}

static void
test_abuse(void)
{
	static const char partial[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"Rec";
	static const char garbage[] = "\x01\x02\xff\xfe GARBAGE \x7f\r\n\0\r\n\r\n";
	char buf[1024];
	struct reply r;
	int before = calls, fd, status;

	fd = raw_connect();
	raw_send(fd, partial, sizeof partial - 1);
	spin(0.1);
	close(fd);
	spin(0.1);
	is_int(before, calls, "a connection closed mid-body: no callback");
	r = post("{\"after\":\"abort\"}", NULL);
	is_int(200, r.status, "the next request works");

	fd = raw_connect();
	raw_send(fd, garbage, sizeof garbage - 1);
	status = raw_status(fd, buf, sizeof buf);
	ok(status == 0 || status == 400 || raw_closed(fd, 3),
	    "garbage: answered 400 or closed (%d)", status);
	close(fd);

	fd = raw_connect();
	raw_send_str(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
	status = raw_status(fd, buf, sizeof buf);
	ok(status == 400 || status == 0, "a negative Content-Length: 400 or closed (%d)",
	    status);
	close(fd);
	r = post("{\"after\":\"garbage\"}", NULL);
	is_int(200, r.status, "the next request still works");
	is_int(before + 2, calls, "only the good requests reached the callback");
}

/* A valid request, then n deterministic mutations of it. */
static char *
mutate(unsigned *seed, size_t *len)
{
	static const char base[] = "POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: 24\r\n\r\n"
	    "{\"Records\":[{\"s3\":{}}]}";
	size_t n = sizeof base - 1, i, k;
	char *m = xmalloc(2 * n + 64);

	memcpy(m, base, n);
	for (k = 1 + (size_t)rand_r(seed) % 4; k > 0; k--) {
		i = (size_t)rand_r(seed) % n;
		switch (rand_r(seed) % 5) {
		case 0:		/* a byte changed */
			m[i] = (char)(rand_r(seed) % 256);
			break;
		case 1:		/* cut short */
			n = i;
			break;
		case 2:		/* a byte inserted */
			memmove(m + i + 1, m + i, n - i);
			m[i] = (char)(rand_r(seed) % 256);
			n++;
			break;
		case 3:		/* a byte dropped */
			memmove(m + i, m + i + 1, n - i - 1);
			n--;
			break;
		default:	/* a stretch repeated */
			k = (size_t)rand_r(seed) % 16;
			if (i + k <= n && n + k < 2 * sizeof base) {
				memmove(m + i + k, m + i, n - i);
				n += k;
			}
			k = 1;
			break;
		}
		if (n == 0)
			break;
	}
	*len = n;
	return m;
}

/* Send each of n mutated requests on its own connection and read until an
 * answer's header block, an EOF or a short deadline (a cut-short request
 * is left waiting), then close them all; the number of 200s, or minus the
 * number of answers that were not HTTP. */
static int
robust_batch(unsigned *seed, int n)
{
	int fd[32], i, pending, ok200 = 0, bad = 0;
	char buf[32][2048];
	size_t have[32], len;
	ev_tstamp end = ev_time() + 0.3;
	ssize_t k;
	char *m;

	for (i = 0; i < n; i++) {
		fd[i] = raw_connect();
		m = mutate(seed, &len);
		raw_send(fd[i], m, len);
		free(m);
		have[i] = 0;
		buf[i][0] = '\0';
	}
	for (pending = n; pending > 0 && ev_time() < end;) {
		ev_run(loop, EVRUN_ONCE);
		for (i = 0, pending = 0; i < n; i++) {
			if (fd[i] < 0)
				continue;
			k = recv(fd[i], buf[i] + have[i], sizeof buf[i] - 1 - have[i], 0);
			if (k > 0) {
				have[i] += (size_t)k;
				buf[i][have[i]] = '\0';
			}
			if (k == 0 || (k < 0 && errno != EAGAIN) || strstr(buf[i], "\r\n\r\n")) {
				close(fd[i]);
				fd[i] = -1;
			} else
				pending++;
		}
	}
	for (i = 0; i < n; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		if (have[i] > 0 && strncmp(buf[i], "HTTP/1.1 ", 9) != 0)
			bad++;
		ok200 += strncmp(buf[i], "HTTP/1.1 200 ", 13) == 0;
		refusals += strncmp(buf[i], "HTTP/1.1 405 ", 13) == 0 ||
		    strncmp(buf[i], "HTTP/1.1 413 ", 13) == 0;
	}
	return bad > 0 ? -bad : ok200;
}

static void
test_robust(void)
{
	static const char slow[] = "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
	    "Connection: close\r\n\r\n{\"slow\":1}";
	unsigned seed = 20261123;
	int before = calls, ok200 = 0, bad = 0, b, r, fd, fds[256], i;
	char buf[1024];
	struct reply rp;

	for (b = 0; b < 20; b++) {
		if ((r = robust_batch(&seed, 25)) < 0)
			bad -= r;
		else
			ok200 += r;
	}
	is_int(0, bad, "500 mutated requests: every answer is HTTP");
	is_int(calls - before, ok200, "each 200 among them followed a recorded callback (%d)",
	    ok200);
	rp = post("{\"after\":\"mutations\"}", NULL);
	is_int(200, rp.status, "a good request after the mutations: 200");

	/* One byte per loop iteration. */
	before = calls;
	fd = raw_connect();
	for (i = 0; slow[i] != '\0'; i++) {
		raw_send(fd, slow + i, 1);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	is_int(200, raw_status(fd, buf, sizeof buf), "a request sent a byte at a time: 200");
	close(fd);
	is_int(before + 1, calls, "its callback ran once");

	/* At the connection limit (256), a client waits in the backlog until a
	 * connection closes, and is then answered. */
	for (i = 0; i < 256; i++) {
		fds[i] = raw_connect();
		ev_run(loop, EVRUN_NOWAIT);	/* accept, or the backlog fills */
	}
	spin(0.2);
	fd = raw_connect();
	raw_send_str(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
	spin(0.3);
	ok(recv(fd, buf, sizeof buf, 0) < 0 && errno == EAGAIN,
	    "at the connection limit a new client waits");
	close(fds[0]);
	is_int(200, raw_status(fd, buf, sizeof buf),
	    "once a connection closes, the waiting client is answered");
	close(fd);
	for (i = 1; i < 256; i++)
		close(fds[i]);
	spin(0.2);
	rp = post("{\"after\":\"flood\"}", NULL);
	is_int(200, rp.status, "a good request after the flood: 200");
}

static void
test_concurrent(void)
{
	struct req rq[MAX_CLIENTS];
	struct reply r[MAX_CLIENTS];
	pid_t pid[MAX_CLIENTS];
	int fd[MAX_CLIENTS], i, good = 0, before = calls;
	char body[MAX_CLIENTS][32];

	for (i = 0; i < MAX_CLIENTS; i++) {
		snprintf(body[i], sizeof body[i], "{\"n\":%d}", i);
		rq[i] = (struct req){ NULL, body[i], strlen(body[i]), i % 2, NULL, 0 };
		pid[i] = client_start(&rq[i], &fd[i]);
	}
	clients_wait(pid, fd, r, MAX_CLIENTS);
	for (i = 0; i < MAX_CLIENTS; i++) {
		good += r[i].status == 200;
		if (r[i].status != 200)
			diag("client %d (%s): status %ld: %s", i, i % 2 ? "chunked" : "length",
			    r[i].status, r[i].body);
	}
	is_int(MAX_CLIENTS, good, "%d concurrent requests: all 200", MAX_CLIENTS);
	is_int(before + MAX_CLIENTS, calls, "the callback ran for each");
}

/* Free the endpoint with an idle keep-alive connection, a half-sent body
 * and a silent connection open. */
static void
test_free_busy(struct webhook *w)
{
	static const char req[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
	static const char half[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
	char buf[1024];
	int keep, part, silent;

	keep = raw_connect();
	raw_send(keep, req, sizeof req - 1);
	is_int(200, raw_status(keep, buf, sizeof buf), "keep-alive: the first request is answered");
	ok(!raw_closed(keep, 0.2), "keep-alive: the connection stays open");
	part = raw_connect();
	raw_send(part, half, sizeof half - 1);
	silent = raw_connect();
	raw_send(silent, "PO", 2);
	spin(0.2);
	webhook_free(w);
	ok(raw_closed(keep, 1), "webhook_free closes the idle keep-alive connection");
	ok(raw_closed(part, 1), "webhook_free closes the connection mid-body");
	ok(raw_closed(silent, 1), "webhook_free closes the silent connection");
	close(keep);
	close(part);
	close(silent);
}

static void
log_capture(void)
{
	if ((log_fd = mkstemp(log_path)) < 0)
		bail("mkstemp: %s", strerror(errno));
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	dup2(log_fd, STDERR_FILENO);
	log_init("t-webhook", LOG_DEBUG, LOG_TARGET_STDERR);
}

/* Restore stderr; the captured log (also copied to stderr). */
static char *
log_release(void)
{
	static char buf[1 << 20];
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(log_fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(log_fd);
	unlink(log_path);
	fputs(buf, stderr);
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* Log lines with the stage, a loopback peer and a status. */
static int
count_peer_status(const char *log)
{
	const char *p = log;
	int n = 0;

	while ((p = strstr(p, "[STAGE=webhook PEER=127.0.0.1:")) != NULL) {
		p += strspn(p + 30, "0123456789") + 30;
		n += strncmp(p, " HTTP_STATUS=", 13) == 0;
	}
	return n;
}

static void
test_log(const char *log)
{
	ok(strstr(log, TOKEN) == NULL && strstr(log, "s3cr3t") == NULL,
	    "the token never reaches the log");
	is_int(refusals, count(log, "webhook: refused a request from "),
	    "every refusal is logged exactly once");
	is_int(refusals, count_peer_status(log),
	    "each with the stage and the peer");
	ok(strstr(log, ": 405 method GET not allowed [") != NULL, "405: the reason is logged");
	ok(strstr(log, ": 401 wrong bearer token [") != NULL, "401: the reason is logged");
	ok(strstr(log, ": 413 body of 65537 bytes over the limit of 65536 [") != NULL,
	    "413: the reason is logged");
	ok(strstr(log, ": 400 malformed event: no Records array [") != NULL,
	    "400: the reason is logged");
	ok(strstr(log, "connection closed before its request from 127.0.0.1:") != NULL,
	    "a connection closed mid-body is logged");
}

int
main(void)
{
	struct webhook *w;

	plan(105);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = ev_default_loop(0);
	ev_timer_init(&tick, on_tick, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	log_capture();

	test_listen();
	w = start(NULL, 0);
	test_verdicts();
	test_methods();
	test_limits(w);
	test_abuse();
	test_endless();
	test_robust();
	test_concurrent();
	test_ipv6();
	test_token();
	test_limit_small();
	port = webhook_port(w);
	test_free_busy(w);

	test_log(log_release());
	free(last_body);
	curl_global_cleanup();
	return 0;
}
