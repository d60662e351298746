/*
 * monitor.c - the operators' view: the census of the state store on a
 * worker, /metrics, /status.json and the routes of the pages
 * (monitor_html.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "conf/conf.h"
#include "daemon/daemon_int.h"
#include "daemon/http.h"
#include "daemon/monitor.h"
#include "daemon/monitor_int.h"
#include "daemon/pipeline.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/stats.h"
#include "lib/work.h"
#include "lib/xmalloc.h"
#include "sinks/sink_dir.h"
#include "store/state.h"

#define MONITOR_REFRESH_S	2.	/* the default refresh interval */
#define MONITOR_XML_MAX		(1024 * 1024)	/* of a stored document shown */
#define MONITOR_CACHE_S		0.25	/* a page is rendered again after this */
#define MONITOR_CENSUS_SHARE	10.	/* a census waits for 10x its last duration */

#define MONITOR_TEXT	"text/plain; version=0.0.4; charset=utf-8"
#define MONITOR_HTML	"text/html; charset=utf-8"
#define MONITOR_JSON	"application/json"

/* --- the census, read on the worker ------------------------------------ */

struct monitor_refresh {
	struct monitor_task	 task;
	struct monitor		*m;
	struct state_census	 c;
	double			 at;
	double			 took;
	char			*error;
};

/* The reader, opened on first use (on the worker). */
static int
monitor_reader(struct monitor *m, char **cause)
{
	if (m->reader == NULL)
		m->reader = state_open_readonly(m->state_dir, cause);
	return m->reader != NULL ? 0 : -1;
}

static void
monitor_refresh_read(void *arg)
{
	struct monitor_refresh *rf = arg;
	double start = ev_time();

	if (monitor_reader(rf->m, &rf->error) == 0 &&
	    state_census(rf->m->reader, MONITOR_LIST, &rf->c, &rf->error) != 0) {
		state_close(rf->m->reader);	/* open afresh next time */
		rf->m->reader = NULL;
	}
	rf->at = ev_time();
	rf->took = rf->at - start;
}

static void
monitor_refresh_free(struct monitor_refresh *rf)
{
	state_census_clear(&rf->c);
	free(rf->error);
	free(rf);
}

/* Back on the loop: the new census replaces the old one (or its error is noted). */
static void
monitor_refresh_done(void *arg)
{
	struct monitor_refresh *rf = arg;
	struct monitor *m = rf->m;

	m->refreshing = 0;
	if (rf->error != NULL) {
		if (m->census.error == NULL || strcmp(m->census.error, rf->error) != 0)
			log_at(LOG_ERR, 0, LOG_FIELDS({ "STAGE", "http" }),
			    "status page: reading the state store: %s", rf->error);
		free(m->census.error);
		m->census.error = rf->error;
		rf->error = NULL;
	} else {
		state_census_clear(&m->census.c);
		m->census.c = rf->c;
		memset(&rf->c, 0, sizeof rf->c);
		m->census.ok = 1;
		m->census.at = rf->at;
		m->census.took = rf->took;
		free(m->census.error);
		m->census.error = NULL;
	}
	monitor_refresh_free(rf);
}

static void
monitor_refresh_discard(void *arg)
{
	monitor_refresh_free(arg);
}

/*
 * Read the census again when the store changed since the last one, and no
 * sooner than ten times what the last one took after it (a large store is
 * counted less often: the worker spends at most a tenth of a CPU on it).
 */
static void
monitor_on_refresh(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m = t->data;
	struct monitor_refresh *rf;
	uint64_t writes = pipeline_state_writes(m->d->pipeline);

	if (m->refreshing || (m->census.ok && m->census.error == NULL &&
	    m->seen_pipeline == m->d->pipeline && m->seen_writes == writes))
		return;
	if (m->census.ok && ev_now(loop) - m->census.at < MONITOR_CENSUS_SHARE * m->census.took)
		return;
	m->seen_pipeline = m->d->pipeline;
	m->seen_writes = writes;
	m->refreshing = 1;
	rf = xcalloc(1, sizeof *rf);
	rf->task.discard = monitor_refresh_discard;
	rf->m = m;
	work_submit(m->work, monitor_refresh_read, monitor_refresh_done, rf);
}

/* --- the exposition ---------------------------------------------------- */

static void
monitor_gauge(FILE *fp, const char *name, const char *help, double v)
{
	metrics_family(fp, name, "gauge", help);
	metrics_sample(fp, name, v, 0);
}

/* The collections configured, then those only the store knows (NULL-terminated). */
static const char **
monitor_collections(const struct monitor *m)
{
	const struct conf *cfg = m->d->cfg;
	const struct state_census *c = &m->census.c;
	const char **v = xcalloc(cfg->collections.n + c->ngroups + 1, sizeof *v);
	size_t i, j, n = 0;

	for (i = 0; i < cfg->collections.n; i++)
		v[n++] = cfg->collections.v[i].name;
	for (j = 0; j < c->ngroups; j++) {
		for (i = 0; i < n && strcmp(v[i], c->groups[j].collection) != 0; i++)
			/* nothing */;
		if (i == n)
			v[n++] = c->groups[j].collection;
	}
	return v;
}

static const struct state_census_group *
monitor_group(const struct monitor *m, const char *collection)
{
	size_t i;

	for (i = 0; i < m->census.c.ngroups; i++) {
		if (strcmp(m->census.c.groups[i].collection, collection) == 0)
			return &m->census.c.groups[i];
	}
	return NULL;
}

/* Observations by collection and life-cycle state, and the oldest unfinished landing. */
static void
monitor_metrics_states(const struct monitor *m, FILE *fp, const char **colls)
{
	const struct state_census_group *g;
	size_t i;
	int p;

	metrics_family(fp, "caom2ingest_observations", "gauge",
	    "Observations in the state store by collection and life-cycle state");
	for (i = 0; colls[i] != NULL; i++) {
		g = monitor_group(m, colls[i]);
		for (p = 0; p < STATE_NPHASES; p++)
			metrics_sample(fp, "caom2ingest_observations", g != NULL ? (double)g->n[p] :
			    0., 2, "collection", colls[i], "state",
			    state_phase_name((enum state_phase)p));
	}
	metrics_family(fp, "caom2ingest_oldest_unfinished_landed_timestamp_seconds", "gauge",
	    "When the first file landed of the collection's unfinished observation (not done "
	    "or failed) that changed least recently (absent: none)");
	for (i = 0; colls[i] != NULL; i++) {
		if ((g = monitor_group(m, colls[i])) != NULL && g->oldest_landed_ms > 0)
			metrics_sample(fp, "caom2ingest_oldest_unfinished_landed_timestamp_seconds",
			    (double)g->oldest_landed_ms / 1e3, 1, "collection", colls[i]);
	}
}

/* Counts by status, as `caom2ingest status` shows them. */
static void
monitor_metrics_counts(const struct monitor *m, FILE *fp)
{
	const struct state_counts *c = &m->census.c.counts;
	int s;

	metrics_family(fp, "caom2ingest_files", "gauge",
	    "Files in the state store by status (as caom2ingest status shows them)");
	for (s = STATE_PENDING; s <= STATE_UNMATCHED; s++)
		metrics_sample(fp, "caom2ingest_files", (double)c->files[s], 1, "status",
		    state_status_name((enum state_status)s));
	metrics_family(fp, "caom2ingest_observations_by_status", "gauge",
	    "Observations in the state store by status (as caom2ingest status shows them)");
	for (s = STATE_PENDING; s < STATE_UNMATCHED; s++)
		metrics_sample(fp, "caom2ingest_observations_by_status", (double)c->obs[s], 1,
		    "status", state_status_name((enum state_status)s));
}

static void
monitor_metrics_jobs(const struct monitor *m, FILE *fp)
{
	unsigned queued, running, waiting;
	size_t i;

	pipeline_jobs(m->d->pipeline, &queued, &running, &waiting);
	monitor_gauge(fp, "caom2ingest_jobs_running", "Observation jobs running",
	    (double)running);
	monitor_gauge(fp, "caom2ingest_jobs_queued", "Observation jobs queued to start",
	    (double)queued);
	monitor_gauge(fp, "caom2ingest_retry_queue", "Observations waiting for a retry",
	    (double)waiting);
	monitor_gauge(fp, "caom2ingest_settling_files", "Files waiting for their quiet period",
	    (double)pipeline_settling(m->d->pipeline));
	metrics_family(fp, "caom2ingest_collection_paused", "gauge",
	    "1 when the collection is paused (caom2ingest pause)");
	for (i = 0; i < m->d->cfg->collections.n; i++)
		metrics_sample(fp, "caom2ingest_collection_paused",
		    pipeline_paused(m->d->pipeline, m->d->cfg->collections.v[i].name), 1,
		    "collection", m->d->cfg->collections.v[i].name);
}

static void
monitor_metrics_histograms(FILE *fp)
{
	static const enum stats_stage stages[] = { STATS_SETTLE, STATS_JOB, STATS_LOOP };
	struct stats_histogram h;
	size_t i;

	metrics_family(fp, "caom2ingest_stage_duration_seconds", "histogram",
	    "Latency of a stage: settle (first look at a file -> complete), job (an "
	    "attempt: start -> outcome), loop_iteration (the work of one event-loop iteration)");
	for (i = 0; i < sizeof stages / sizeof stages[0]; i++) {
		stats_histogram(stages[i], &h);
		metrics_histogram(fp, "caom2ingest_stage_duration_seconds", &h, "stage",
		    stats_stage_name(stages[i]));
	}
	metrics_family(fp, "caom2ingest_ingest_lag_seconds", "histogram",
	    "From the landing of an observation's first file (or an operator's re-ingest) "
	    "to the observation stored");
	stats_histogram(STATS_LAG, &h);
	metrics_histogram(fp, "caom2ingest_ingest_lag_seconds", &h, NULL, NULL);
	metrics_family(fp, "caom2ingest_scan_duration_seconds", "histogram",
	    "Full scans of the landing directories (start-up, rescans, after an overflow)");
	stats_histogram(STATS_SCAN, &h);
	metrics_histogram(fp, "caom2ingest_scan_duration_seconds", &h, NULL, NULL);
}

static void
monitor_metrics_process(const struct monitor *m, FILE *fp)
{
	const struct pipeline_scan *sc = pipeline_last_scan(m->d->pipeline);

	metrics_family(fp, "caom2ingest_build_info", "gauge", "The version running (always 1)");
	metrics_sample(fp, "caom2ingest_build_info", 1, 1, "version", PACKAGE_VERSION);
	monitor_gauge(fp, "caom2ingest_start_time_seconds", "When the daemon started",
	    (double)m->d->started);
	metrics_family(fp, "caom2ingest_reloads_total", "counter", "Configuration reloads");
	metrics_sample(fp, "caom2ingest_reloads_total", m->d->reloads, 0);
	metrics_family(fp, "caom2ingest_inotify_overflows_total", "counter",
	    "inotify queue overflows (each is followed by a full rescan)");
	metrics_sample(fp, "caom2ingest_inotify_overflows_total",
	    (double)stats_counter(STATS_INOTIFY_OVERFLOWS), 0);
	monitor_gauge(fp, "caom2ingest_last_scan_timestamp_seconds",
	    "When the last full scan ended (0: none yet)", sc->at);
	monitor_gauge(fp, "caom2ingest_last_scan_duration_seconds",
	    "How long the last full scan took", sc->seconds);
	metrics_family(fp, "caom2ingest_last_scan_files", "gauge",
	    "Files the last full scan found: as recorded, or to look at");
	metrics_sample(fp, "caom2ingest_last_scan_files", (double)sc->unchanged, 1, "result",
	    "unchanged");
	metrics_sample(fp, "caom2ingest_last_scan_files", (double)(sc->files - sc->unchanged),
	    1, "result", "looked_at");
	monitor_gauge(fp, "caom2ingest_state_read_timestamp_seconds",
	    "When the counts from the state store were read (0: not yet)", m->census.at);
	monitor_gauge(fp, "caom2ingest_state_read_duration_seconds",
	    "How long reading them took (off the event loop)", m->census.took);
}

/* Everything, in the text exposition format, into a malloc'ed buffer. */
static char *
monitor_metrics(const struct monitor *m, size_t *len)
{
	const char **colls = monitor_collections(m);
	char *buf = NULL;
	FILE *fp;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	monitor_metrics_process(m, fp);
	metrics_write(fp, colls);
	monitor_metrics_counts(m, fp);
	monitor_metrics_states(m, fp, colls);
	monitor_metrics_jobs(m, fp);
	monitor_metrics_histograms(fp);
	fclose(fp);
	free(colls);
	return buf;
}

/* --- the routes -------------------------------------------------------- */

/*
 * Serve a copy of the text of page (rendered again when older than
 * MONITOR_CACHE_S): a thousand scrapes at once cost the loop one rendering,
 * not a thousand.
 */
static void
monitor_serve_cached(struct monitor *m, struct http_req *r, enum monitor_page page,
    const char *type, char *(*render)(struct monitor *, size_t *))
{
	struct monitor_cached *c = &m->cached[page];
	double now = ev_now(m->loop);
	char *copy;

	if (c->buf == NULL || now - c->at >= MONITOR_CACHE_S || now < c->at) {
		free(c->buf);
		c->len = 0;
		c->buf = render(m, &c->len);
		c->at = now;
	}
	if (c->buf == NULL) {
		http_reply_text(r, 500, "out of memory\n");
		return;
	}
	copy = xmalloc(c->len + 1);
	memcpy(copy, c->buf, c->len);
	http_reply(r, 200, type, copy, c->len);
}

static char *
monitor_render_metrics(struct monitor *m, size_t *len)
{
	return monitor_metrics(m, len);
}

static void
monitor_on_metrics(void *arg, struct http_req *r, const char *path)
{
	monitor_serve_cached(arg, r, MONITOR_PAGE_METRICS, MONITOR_TEXT, monitor_render_metrics);
}

/* What the status command replies, with the census's counts. */
static json_t *
monitor_status_json(struct monitor *m)
{
	json_t *reply = json_object();

	daemon_status_json(m->d, reply, m->census.ok ? &m->census.c.counts : NULL,
	    m->census.c.objects);
	json_object_set_new(reply, "ok", json_true());
	return reply;
}

static char *
monitor_render_json(struct monitor *m, size_t *len)
{
	json_t *reply = monitor_status_json(m);
	char *text = json_dumps(reply, JSON_INDENT(2));

	json_decref(reply);
	*len = text != NULL ? strlen(text) : 0;
	return text;
}

static void
monitor_on_status_json(void *arg, struct http_req *r, const char *path)
{
	monitor_serve_cached(arg, r, MONITOR_PAGE_JSON, MONITOR_JSON, monitor_render_json);
}

static char *
monitor_render_page(struct monitor *m, size_t *len)
{
	json_t *status;
	char *buf = NULL;
	FILE *fp;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	status = monitor_status_json(m);
	monitor_html_status(m, status, fp);
	json_decref(status);
	fclose(fp);
	return buf;
}

/* The status page. */
static void
monitor_on_page(void *arg, struct http_req *r, const char *path)
{
	if (strcmp(path, "/") != 0)
		http_reply_text(r, 404, "no such page\n");
	else
		monitor_serve_cached(arg, r, MONITOR_PAGE_STATUS, MONITOR_HTML,
		    monitor_render_page);
}

static void
monitor_obs_free(struct monitor_obs *o)
{
	state_obs_clear(&o->obs);
	state_files_free(o->files, o->nfiles);
	state_events_free(o->history, o->nhistory);
	free(o->collection);
	free(o->observation);
	free(o->sink_dir);
	free(o->xml);
	free(o->error);
	free(o);
}

/* On the worker: the observation, its files and history, and its document. */
static void
monitor_obs_read(void *arg)
{
	struct monitor_obs *o = arg;
	struct state *st;

	if (monitor_reader(o->m, &o->error) != 0) {
		o->found = -1;
		return;
	}
	st = o->m->reader;
	if ((o->found = state_obs_get(st, o->collection, o->observation, &o->obs,
	    &o->error)) != 0)
		return;
	if (state_obs_files(st, o->collection, o->observation, &o->files, &o->nfiles,
	    &o->error) != 0 || state_history_get(st, o->collection, o->observation,
	    &o->history, &o->nhistory, &o->error) != 0) {
		o->found = -1;
		return;
	}
	if (o->sink_dir != NULL)
		o->xml_found = sink_dir_read(o->sink_dir, o->collection, o->observation, &o->xml,
		    &o->xmllen, &o->error);
	if (o->xml != NULL && o->xmllen > MONITOR_XML_MAX)
		o->xmllen = MONITOR_XML_MAX;
}

static void
monitor_obs_done(void *arg)
{
	struct monitor_obs *o = arg;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (o->found < 0 && o->obs.collection == NULL) {
		http_reply_text(o->r, 503, o->error != NULL ? o->error : "cannot read the store");
	} else if ((fp = open_memstream(&buf, &len)) == NULL) {
		http_reply_text(o->r, 500, "out of memory\n");
	} else {
		if (o->found == 1)
			monitor_html_missing(o->collection, o->observation, fp);
		else
			monitor_html_observation(o->m, o, fp);
		fclose(fp);
		http_reply(o->r, o->found == 1 ? 404 : 200, MONITOR_HTML, buf, len);
	}
	monitor_obs_free(o);
}

static void
monitor_obs_discard(void *arg)
{
	struct monitor_obs *o = arg;

	http_reply_text(o->r, 503, "caom2ingestd is stopping\n");
	monitor_obs_free(o);
}

/* /observations/COLLECTION/ID: read on the worker, answered when done. */
static void
monitor_on_observation(void *arg, struct http_req *r, const char *path)
{
	struct monitor *m = arg;
	const char *rest = path + strlen("/observations/"), *slash = strchr(rest, '/');
	const struct conf *cfg = m->d->cfg;
	struct monitor_obs *o;

	if (slash == NULL || slash == rest || slash[1] == '\0') {
		http_reply_text(r, 400, "expected /observations/COLLECTION/OBSERVATION_ID\n");
		return;
	}
	o = xcalloc(1, sizeof *o);
	o->task.discard = monitor_obs_discard;
	o->m = m;
	o->r = r;
	o->collection = xstrndup(rest, (size_t)(slash - rest));
	o->observation = xstrdup(slash + 1);
	o->xml_found = 1;
	if (cfg->sink.repo.url == NULL)
		o->sink_dir = cfg->sink.directory != NULL ? xstrdup(cfg->sink.directory) :
		    xasprintf("%s/observations", cfg->state_dir);
	pipeline_flush_history(m->d->pipeline);	/* the page shows what just happened */
	work_submit(m->work, monitor_obs_read, monitor_obs_done, o);
}

static const struct http_route monitor_routes[] = {
	{ "/", monitor_on_page },
	{ "/metrics", monitor_on_metrics },
	{ "/status.json", monitor_on_status_json },
	{ "/observations/", monitor_on_observation },
	{ NULL, NULL }
};

/* --- life -------------------------------------------------------------- */

/* The token of cfg (allocated; file_secret_free), or NULL: none. 0, or -1 with *cause. */
static int
monitor_token(const struct conf *cfg, char **token, char **cause)
{
	*token = NULL;
	if (cfg->http.token_file == NULL)
		return 0;
	return fileio_secret(cfg->http.token_file, "http token file", token, cause);
}

static void
monitor_set_refresh(struct monitor *m, const struct conf *cfg)
{
	double s = cfg->http.refresh_ms > 0 ? (double)cfg->http.refresh_ms / 1e3 :
	    MONITOR_REFRESH_S;

	ev_timer_stop(m->loop, &m->refresh);
	ev_timer_set(&m->refresh, 0., s);	/* the first census at once */
	ev_timer_start(m->loop, &m->refresh);
}

struct monitor *
monitor_new(struct daemon *d, char **cause)
{
	struct http_config hc = { d->cfg->http.listen, NULL };
	struct monitor *m = xcalloc(1, sizeof *m);
	char *token = NULL;

	m->d = d;
	m->loop = d->loop;
	m->state_dir = xstrdup(d->cfg->state_dir);
	m->listen = xstrdup(d->cfg->http.listen);
	ev_init(&m->refresh, monitor_on_refresh);
	m->refresh.data = m;
	if (monitor_token(d->cfg, &token, cause) != 0 ||
	    (m->work = work_new(m->loop, 1, cause)) == NULL) {
		monitor_free(m);
		return NULL;
	}
	hc.token = token;
	m->http = http_new(m->loop, &hc, monitor_routes, m, cause);
	fileio_secret_free(token);
	if (m->http == NULL) {
		monitor_free(m);
		return NULL;
	}
	monitor_set_refresh(m, d->cfg);
	log_info("http listen %s (port %d): the status page, /metrics, /status.json%s",
	    m->listen, http_port(m->http), d->cfg->http.token_file != NULL ?
	    "; a bearer token is required" : "");
	return m;
}

int
monitor_reload(struct monitor *m, char **cause)
{
	const struct conf *cfg = m->d->cfg;
	char *token = NULL;

	if (cfg->http.listen == NULL || strcmp(cfg->http.listen, m->listen) != 0)
		log_warnx("http listen changed from %s to %s: takes effect at restart", m->listen,
		    cfg->http.listen != NULL ? cfg->http.listen : "none");
	if (cfg->http.listen == NULL)
		return 0;
	if (monitor_token(cfg, &token, cause) != 0)
		return -1;
	http_set_token(m->http, token);
	fileio_secret_free(token);
	monitor_set_refresh(m, cfg);
	return 0;
}

int
monitor_port(const struct monitor *m)
{
	return http_port(m->http);
}

/* Tasks left at a stop: a census is just freed, a page answered 503. */
static void
monitor_on_discard(void *arg)
{
	((struct monitor_task *)arg)->discard(arg);
}

void
monitor_free(struct monitor *m)
{
	int i;

	if (m == NULL)
		return;
	ev_timer_stop(m->loop, &m->refresh);
	work_free(m->work, monitor_on_discard);
	http_free(m->http);
	state_close(m->reader);
	state_census_clear(&m->census.c);
	free(m->census.error);
	for (i = 0; i < MONITOR_NPAGES; i++)
		free(m->cached[i].buf);
	free(m->state_dir);
	free(m->listen);
	free(m);
}
