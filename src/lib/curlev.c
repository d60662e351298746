/*
 * curlev.c - libcurl's multi-socket API on a libev loop, after libcurl's
 * own evhiperfifo.c example: libcurl says which sockets to watch for what
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back (CURLMOPT_TIMERFUNCTION);
 * each ready socket or expired timer is handed to curl_multi_socket_action,
 * then the finished transfers are reported.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "lib/curlev.h"
#include "lib/xmalloc.h"

struct curlev {
	struct ev_loop		*loop;
	CURLM			*multi;
	ev_timer		 timer;
	curlev_done_fn		*done;
	curlev_after_fn		*after;
	void			*arg;
};

/* One socket libcurl asked us to watch. */
struct curlev_sock {
	ev_io			 io;		/* first: the watcher is the socket */
	struct curlev		*ce;
	curl_socket_t		 fd;
};

int
curlev_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static void
curlev_check_done(struct curlev *ce)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(ce->multi, &left)) != NULL) {
		if (m->msg == CURLMSG_DONE)
			ce->done(ce->arg, m->easy_handle, m->data.result);
	}
	if (ce->after != NULL)
		ce->after(ce->arg);
}

static void
curlev_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct curlev_sock *k = (struct curlev_sock *)w;
	struct curlev *ce = k->ce;	/* k may be freed by the socket action */
	int running, flags = 0;

	if (revents & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ce->multi, k->fd, flags, &running);
	curlev_check_done(ce);
}

static void
curlev_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curlev *ce = w->data;
	int running;

	curl_multi_socket_action(ce->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curlev_check_done(ce);
}

static int
curlev_socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curlev *ce = userp;
	struct curlev_sock *k = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (k != NULL) {
			ev_io_stop(ce->loop, &k->io);
			free(k);
			curl_multi_assign(ce->multi, fd, NULL);
		}
		return 0;
	}
	if (k == NULL) {
		k = xcalloc(1, sizeof *k);
		k->ce = ce;
		k->fd = fd;
		curl_multi_assign(ce->multi, fd, k);
	} else
		ev_io_stop(ce->loop, &k->io);
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	ev_io_init(&k->io, curlev_on_io, fd, events);
	ev_io_start(ce->loop, &k->io);
	return 0;
}

static int
curlev_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlev *ce = userp;

	ev_timer_stop(ce->loop, &ce->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&ce->timer, (double)timeout_ms / 1e3, 0.);
		ev_timer_start(ce->loop, &ce->timer);
	}
	return 0;
}

struct curlev *
curlev_new(struct ev_loop *loop, long max_connections, curlev_done_fn *done,
    curlev_after_fn *after, void *arg)
{
	struct curlev *ce = xcalloc(1, sizeof *ce);

	ce->loop = loop;
	ce->done = done;
	ce->after = after;
	ce->arg = arg;
	ev_init(&ce->timer, curlev_on_timer);
	ce->timer.data = ce;
	ce->multi = curl_multi_init();
	if (ce->multi == NULL)
		abort();	/* out of memory, as xmalloc does */
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, curlev_socket_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, curlev_timer_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce);
	curl_multi_setopt(ce->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
	return ce;
}

CURLM *
curlev_multi(const struct curlev *ce)
{
	return ce->multi;
}

void
curlev_free(struct curlev *ce)
{
	if (ce == NULL)
		return;
	ev_timer_stop(ce->loop, &ce->timer);
	curl_multi_cleanup(ce->multi);
	free(ce);
}

int
curlev_ca_set(struct curlev_ca *ca, const char *path, char **cause)
{
	struct stat sb;

	if (path == NULL)
		return 0;
	if (stat(path, &sb) == -1) {
		*cause = xasprintf("CA path %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(sb.st_mode))
		ca->dir = xstrdup(path);
	else
		ca->file = xstrdup(path);
	return 0;
}

void
curlev_ca_apply(const struct curlev_ca *ca, CURL *e)
{
	if (ca->file != NULL || ca->dir != NULL) {
		curl_easy_setopt(e, CURLOPT_CAINFO, ca->file);
		curl_easy_setopt(e, CURLOPT_CAPATH, ca->dir);
	}
}

void
curlev_ca_clear(struct curlev_ca *ca)
{
	free(ca->file);
	free(ca->dir);
	ca->file = ca->dir = NULL;
}
