/*
 * daemon.c - the running caom2ingestd: loop, signals, watchdog, reload, stop.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "conf/conf.h"
#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "daemon/control.h"
#include "lib/log.h"
#include "daemon/monitor.h"
#include "daemon/pipeline.h"
#include "store/state.h"
#include "lib/stats.h"
#include "daemon/systemd.h"
#include "daemon/tickets.h"
#include "lib/xmalloc.h"


void
daemon_status(struct daemon *d)
{
	struct state_counts c;

	if (pipeline_counts(d->pipeline, &c) != 0)
		return;
	systemd_status("Running: %zu collection%s; files %ld pending, %ld done, "
	    "%ld unmatched; observations %ld pending, %ld done, %ld failed",
	    d->cfg->collections.n, d->cfg->collections.n == 1 ? "" : "s",
	    c.files[STATE_PENDING], c.files[STATE_DONE], c.files[STATE_UNMATCHED],
	    c.obs[STATE_PENDING] + c.obs[STATE_RUNNING] + c.obs[STATE_RETRY],
	    c.obs[STATE_DONE], c.obs[STATE_FAILED]);
}

static void
daemon_on_file(void *arg, uint64_t seq, enum pipeline_file what, unsigned long count,
    const char *collection, const char *observation)
{
	tickets_file(((struct daemon *)arg)->tickets, seq, what, count, collection, observation);
}

static void
daemon_on_started(void *arg, const char *collection, const char *observation)
{
	tickets_started(((struct daemon *)arg)->tickets, collection, observation);
}

static void
daemon_on_ended(void *arg, const char *collection, const char *observation,
    enum state_status status, const char *error)
{
	tickets_ended(((struct daemon *)arg)->tickets, collection, observation, status, error);
}

static uint64_t
daemon_settle_oldest(void *arg)
{
	return pipeline_settle_oldest(((struct daemon *)arg)->pipeline);
}

/* Tell the tickets what the pipeline does. */
static void
daemon_observe(struct daemon *d, struct pipeline *p)
{
	struct pipeline_observer o = { daemon_on_file, daemon_on_started, daemon_on_ended, d };

	pipeline_observe(p, &o);
}

static void
daemon_on_status_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	daemon_status(w->data);
}

static void
daemon_apply_logging(const struct daemon *d, const struct conf *cfg)
{
	enum log_target target = (enum log_target)cfg->log_target;

	if (d->detached && target == LOG_TARGET_AUTO)
		target = LOG_TARGET_JOURNAL;
	log_set_target(target);
	log_set_level(cfg->log_level);
}

/* Create dir and its parents with mode 0750; 0, or -1 with errno. */
static int
daemon_mkdirs(const char *dir)
{
	char *copy, *p;
	int r = 0;

	copy = xstrdup(dir);
	for (p = copy + 1; r == 0 && *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0750) != 0 && errno != EEXIST)
			r = -1;
		*p = '/';
	}
	if (r == 0 && mkdir(copy, 0750) != 0 && errno != EEXIST)
		r = -1;
	free(copy);
	return r;
}

static int
daemon_prepare_state(const struct conf *cfg, char **cause)
{
	if (daemon_mkdirs(cfg->state_dir) != 0 || access(cfg->state_dir, W_OK) != 0) {
		*cause = xasprintf("state directory %s: %s", cfg->state_dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Keep what an operator paused across a reload. */
static void
daemon_carry_pauses(const struct pipeline *old, struct pipeline *new,
    const struct conf *cfg)
{
	size_t i;

	if (pipeline_paused(old, NULL))
		pipeline_pause(new, NULL, 1);
	for (i = 0; i < cfg->collections.n; i++) {
		if (pipeline_paused(old, cfg->collections.v[i].name))
			pipeline_pause(new, cfg->collections.v[i].name, 1);
	}
}

/* The operators' view takes the new token and refresh interval (an unreadable token
 * file keeps the old token: logged). */
static void
daemon_reload_monitor(struct daemon *d)
{
	char *cause = NULL;

	if (d->monitor == NULL) {
		if (d->cfg->http.listen != NULL)
			log_warnx("http listen %s: takes effect at restart", d->cfg->http.listen);
		return;
	}
	if (monitor_reload(d->monitor, &cause) != 0) {
		log_errx("http: %s; keeping the previous token", cause);
		free(cause);
	}
}

/* Load the configuration again and rebuild the pipeline from it. */
static int
daemon_reload_config(struct daemon *d, char **cause)
{
	struct pipeline *p;
	struct conf *cfg;

	if (conf_load(d->config_path, &cfg, cause) != 0)
		return -1;
	if (strcmp(cfg->state_dir, d->cfg->state_dir) != 0) {
		log_warnx("state_dir changed from %s to %s: takes effect at restart",
		    d->cfg->state_dir, cfg->state_dir);
		free(cfg->state_dir);
		cfg->state_dir = xstrdup(d->cfg->state_dir);
	}
	if (strcmp(cfg->control_socket, d->cfg->control_socket) != 0)
		log_warnx("control_socket changed from %s to %s: takes effect at restart",
		    d->cfg->control_socket, cfg->control_socket);
	if ((p = pipeline_new(d->loop, cfg, cause)) == NULL) {
		conf_free(cfg);
		return -1;
	}
	daemon_carry_pauses(d->pipeline, p, cfg);
	pipeline_observe(d->pipeline, NULL);
	pipeline_free(d->pipeline);
	conf_free(d->cfg);
	d->cfg = cfg;
	d->pipeline = p;
	daemon_observe(d, p);
	tickets_rebase(d->tickets, UINT64_MAX);	/* what the start-up scan completes counts */
	pipeline_start(p);
	tickets_rebase(d->tickets, pipeline_settle_mark(p));
	daemon_apply_logging(d, cfg);
	daemon_reload_monitor(d);
	return 0;
}

int
daemon_reload(struct daemon *d, char **cause)
{
	char *errors = NULL, *line, *save = NULL;

	systemd_reloading();
	log_notice("reloading configuration from %s", d->config_path);
	if (daemon_reload_config(d, &errors) != 0) {
		if (cause != NULL)
			*cause = xasprintf("reload refused: %s", errors);
		for (line = strtok_r(errors, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_errx("%s", line);
		log_errx("reload refused: keeping the configuration in force");
		systemd_ready("Running: reload refused, previous configuration in force");
		free(errors);
		return -1;
	}
	d->reloads++;
	log_notice("configuration reloaded");
	systemd_ready("Running: configuration reloaded");
	daemon_status(d);
	return 0;
}

static void
daemon_retry_failed(struct daemon *d)
{
	char *cause = NULL;
	long n;

	if ((n = pipeline_retry_failed(d->pipeline, 0, NULL, NULL, &cause)) < 0) {
		log_errx("SIGUSR1: %s", cause);
		free(cause);
		return;
	}
	log_notice("received SIGUSR1: %ld failed observation%s queued again", n, n == 1 ? "" : "s");
}

static void
daemon_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;

	if (w->signum == SIGHUP) {
		daemon_reload(d, NULL);
		return;
	}
	if (w->signum == SIGUSR1) {
		daemon_retry_failed(d);
		return;
	}
	if (w->signum == SIGUSR2) {
		log_notice("received SIGUSR2: rescanning every landing directory");
		pipeline_rescan(d->pipeline);
		return;
	}
	log_notice("received %s, stopping", strsignal(w->signum));
	systemd_stopping();
	d->exit_code = DAEMON_EXIT_OK;
	ev_break(loop, EVBREAK_ALL);
}

static void
daemon_on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	systemd_watchdog_ping();
}

static int
daemon_start_control(struct daemon *d, char **cause)
{
	struct control_access access = { (gid_t)d->cfg->control_gid,
		(gid_t)d->cfg->control_admin_gid };
	char *dir, *slash;
	int r = 0;

	dir = xstrdup(d->cfg->control_socket);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		r = daemon_mkdirs(dir);
	}
	free(dir);
	if (r != 0) {
		*cause = xasprintf("control socket %s: %s", d->cfg->control_socket,
		    strerror(errno));
		return -1;
	}
	d->control = control_new(d->loop, d->cfg->control_socket, &access, daemon_commands,
	    d, cause);
	return d->control != NULL ? 0 : -1;
}

struct daemon *
daemon_new(struct conf *cfg, const char *config_path)
{
	struct daemon *d;

	d = xcalloc(1, sizeof *d);
	d->cfg = cfg;
	d->config_path = xstrdup(config_path);
	d->started = time(NULL);
	return d;
}

static void
daemon_signal(struct daemon *d, ev_signal *w, int signum)
{
	ev_signal_init(w, daemon_on_signal, signum);
	w->data = d;
	ev_signal_start(d->loop, w);
}

static void
daemon_start_watchdog(struct daemon *d)
{
	uint64_t usec = systemd_watchdog_usec();
	double interval;

	if (usec == 0)
		return;
	interval = (double)usec / 2e6;
	ev_timer_init(&d->watchdog, daemon_on_watchdog, 0., interval);
	d->watchdog.data = d;
	ev_timer_start(d->loop, &d->watchdog);
	log_debug("watchdog ping every %.3f s", interval);
}

/* Time each loop iteration's work, from the end of its wait to the next wait:
 * a long one means a callback held the loop (stats: loop_iteration). */
static void
daemon_on_woke(struct ev_loop *loop, ev_check *w, int revents)
{
	struct daemon *d = w->data;

	(void)revents;
	ev_now_update(loop);
	d->woke_at = ev_now(loop);
}

static void
daemon_on_sleeps(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct daemon *d = w->data;

	(void)revents;
	if (d->woke_at > 0) {
		ev_now_update(loop);
		stats_time(STATS_LOOP, ev_now(loop) - d->woke_at);
	}
}

static void
daemon_time_loop(struct daemon *d)
{
	ev_check_init(&d->loop_woke, daemon_on_woke);
	d->loop_woke.data = d;
	ev_set_priority(&d->loop_woke, EV_MAXPRI);	/* before any other callback */
	ev_check_start(d->loop, &d->loop_woke);
	ev_unref(d->loop);
	ev_prepare_init(&d->loop_sleeps, daemon_on_sleeps);
	d->loop_sleeps.data = d;
	ev_set_priority(&d->loop_sleeps, EV_MINPRI);	/* after every other one */
	ev_prepare_start(d->loop, &d->loop_sleeps);
	ev_unref(d->loop);
}

int
daemon_start(struct daemon *d, char **cause)
{
	struct tickets_ops tops = { daemon_settle_oldest, d };

	signal(SIGPIPE, SIG_IGN);
	if ((d->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD)) == NULL) {
		*cause = xstrdup("cannot initialise the event loop");
		return -1;
	}
	daemon_apply_logging(d, d->cfg);
	if (daemon_prepare_state(d->cfg, cause) != 0)
		return -1;
	daemon_signal(d, &d->sigterm, SIGTERM);
	daemon_signal(d, &d->sigint, SIGINT);
	daemon_signal(d, &d->sighup, SIGHUP);
	daemon_signal(d, &d->sigusr1, SIGUSR1);
	daemon_signal(d, &d->sigusr2, SIGUSR2);
	daemon_start_watchdog(d);
	daemon_time_loop(d);
	d->tickets = tickets_new(d->loop, &tops);
	if ((d->pipeline = pipeline_new(d->loop, d->cfg, cause)) == NULL)
		return -1;
	daemon_observe(d, d->pipeline);
	if (daemon_start_control(d, cause) != 0)
		return -1;
	if (d->cfg->http.listen != NULL && (d->monitor = monitor_new(d, cause)) == NULL)
		return -1;
	ev_timer_init(&d->status_timer, daemon_on_status_timer, 5., 5.);
	d->status_timer.data = d;
	ev_timer_start(d->loop, &d->status_timer);
	return 0;
}

void
daemon_detached(struct daemon *d)
{
	d->detached = 1;
	daemon_apply_logging(d, d->cfg);
}

int
daemon_run(struct daemon *d)
{
	log_notice("caom2ingestd %s started (configuration %s, state %s)",
	    PACKAGE_VERSION, d->config_path, d->cfg->state_dir);
	systemd_ready("Running: scanning landing directories");
	pipeline_start(d->pipeline);
	daemon_status(d);
	ev_run(d->loop, 0);
	tickets_stop(d->tickets, "caom2ingestd stopped before the work was done "
	    "(it goes on when the daemon starts again)");
	log_notice("caom2ingestd stopped");
	return d->exit_code;
}

void
daemon_free(struct daemon *d)
{
	if (d == NULL)
		return;
	monitor_free(d->monitor);
	control_free(d->control);
	pipeline_free(d->pipeline);
	tickets_free(d->tickets);
	if (d->loop != NULL)
		ev_loop_destroy(d->loop);
	conf_free(d->cfg);
	free(d->config_path);
	free(d);
}
