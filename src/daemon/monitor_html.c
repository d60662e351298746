/*
 * monitor_html.c - the status page and an observation's page: plain HTML
 * with inline styles, no script (the status page reloads itself with a
 * meta refresh). Everything that comes from outside (names, paths,
 * errors, the stored document) is escaped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "conf/conf.h"
#include "daemon/daemon_int.h"
#include "daemon/monitor_int.h"
#include "lib/metrics.h"
#include "lib/xmalloc.h"
#include "store/state.h"

#define MONITOR_HTML_REFRESH	5	/* seconds between reloads of the status page */

static const char monitor_html_style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em 2em;color:#1d2330;"
	"background:#fafbfc}"
	"h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.6em 0 .5em}"
	".meta{color:#5a6270;margin:0 0 1em}"
	"table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002}"
	"th,td{padding:.35em .8em;border-bottom:1px solid #e3e6ea;text-align:left;"
	"vertical-align:top}"
	"th{background:#eef1f5;font-weight:600}td.n{text-align:right;"
	"font-variant-numeric:tabular-nums}"
	".zero{color:#b0b6bf}.bad{color:#b3261e;font-weight:600}.warn{color:#9a6700}"
	".ok{color:#1a7f37}.cards{display:flex;gap:1em;flex-wrap:wrap}"
	".card{background:#fff;box-shadow:0 1px 2px #0002;padding:.6em 1.1em;min-width:8em}"
	".card b{display:block;font-size:1.6em}.err{max-width:60em;white-space:pre-wrap;"
	"font-family:ui-monospace,monospace;font-size:.9em}"
	"pre{background:#fff;box-shadow:0 1px 2px #0002;padding:1em;overflow:auto;"
	"max-height:40em}a{color:#0b57d0}footer{margin-top:2em;color:#5a6270}";

/* Text escaped for HTML content and attribute values. */
static void
monitor_html_text(FILE *fp, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&#39;", fp);
			break;
		default:
			fputc(*s, fp);
		}
	}
}

/* A path component percent-encoded for a URL (RFC 3986 unreserved kept). */
static void
monitor_html_urlpart(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s) != NULL)
			fputc(*s, fp);
		else
			fprintf(fp, "%%%02X", (unsigned char)*s);
	}
}

/* A link to an observation's page, its text COLLECTION/ID. */
static void
monitor_html_obs_link(FILE *fp, const char *collection, const char *observation)
{
	fputs("<a href=\"/observations/", fp);
	monitor_html_urlpart(fp, collection);
	fputc('/', fp);
	monitor_html_urlpart(fp, observation);
	fputs("\">", fp);
	monitor_html_text(fp, collection);
	fputc('/', fp);
	monitor_html_text(fp, observation);
	fputs("</a>", fp);
}

/* A wall-clock time in ms as "YYYY-MM-DD HH:MM:SS.mmmZ" (UTC), or "-". */
static void
monitor_html_time(FILE *fp, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		fputs("-", fp);
	else
		fprintf(fp, "%s.%03dZ", buf, (int)(ms % 1000));
}

/* How long ago a wall-clock time in ms was: "3 s", "4 min", "2.5 h", "3 d". */
static void
monitor_html_age(FILE *fp, int64_t ms)
{
	double s = ev_time() - (double)ms / 1e3;

	if (ms <= 0)
		fputs("-", fp);
	else if (s < 120)
		fprintf(fp, "%.0f s", s < 0 ? 0 : s);
	else if (s < 7200)
		fprintf(fp, "%.0f min", s / 60);
	else if (s < 172800)
		fprintf(fp, "%.1f h", s / 3600);
	else
		fprintf(fp, "%.0f d", s / 86400);
}

static void
monitor_html_head(FILE *fp, const char *title, int refresh)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">", fp);
	if (refresh)
		fprintf(fp, "<meta http-equiv=\"refresh\" content=\"%d\">", MONITOR_HTML_REFRESH);
	fputs("<meta name=\"viewport\" content=\"width=device-width\"><title>", fp);
	monitor_html_text(fp, title);
	fprintf(fp, "</title><style>%s</style></head><body>\n", monitor_html_style);
}

static json_int_t
monitor_html_int(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A number in a cell, grey when 0, with an id (for scripts and tests) when given. */
static void
monitor_html_count(FILE *fp, const char *id1, const char *id2, long long n, const char *cls)
{
	fputs("<td class=\"n", fp);
	if (n == 0)
		fputs(" zero", fp);
	else if (cls != NULL)
		fprintf(fp, " %s", cls);
	fputc('"', fp);
	if (id1 != NULL) {
		fputs(" id=\"", fp);
		monitor_html_text(fp, id1);
		if (id2 != NULL) {
			fputc('-', fp);
			monitor_html_text(fp, id2);
		}
		fputc('"', fp);
	}
	fprintf(fp, ">%lld</td>", n);
}

static void
monitor_html_card(FILE *fp, const char *id, const char *label, long long n)
{
	fprintf(fp, "<div class=\"card\"><b id=\"%s\">%lld</b>%s</div>", id, n, label);
}

/* The heading: version, host, pid, uptime, configuration, state, sink. */
static void
monitor_html_header(const struct monitor *m, json_t *st, FILE *fp)
{
	json_int_t up = monitor_html_int(st, "uptime");
	char host[256] = "";

	gethostname(host, sizeof host - 1);
	fputs("<h1>caom2ingestd ", fp);
	monitor_html_text(fp, json_string_value(json_object_get(st, "version")));
	fputs(" on ", fp);
	monitor_html_text(fp, host);
	fprintf(fp, "</h1>\n<p class=\"meta\">pid %lld, up %lldh%02lldm%02llds; configuration ",
	    (long long)monitor_html_int(st, "pid"), (long long)up / 3600,
	    (long long)up / 60 % 60, (long long)up % 60);
	monitor_html_text(fp, json_string_value(json_object_get(st, "config")));
	fprintf(fp, " (%lld reloads); state ", (long long)monitor_html_int(st, "reloads"));
	monitor_html_text(fp, json_string_value(json_object_get(st, "state_dir")));
	fputs("; sink ", fp);
	monitor_html_text(fp, json_string_value(json_object_get(st, "sink")));
	fputs("</p>\n", fp);
}

/* What is happening now, from memory. */
static void
monitor_html_now(json_t *st, FILE *fp)
{
	json_t *jobs = json_object_get(st, "jobs");

	fputs("<div class=\"cards\">", fp);
	monitor_html_card(fp, "settling", "files settling", monitor_html_int(st, "settling"));
	monitor_html_card(fp, "jobs-running", "jobs running", monitor_html_int(jobs, "running"));
	monitor_html_card(fp, "jobs-queued", "jobs queued", monitor_html_int(jobs, "queued"));
	monitor_html_card(fp, "jobs-retry", "waiting for a retry",
	    monitor_html_int(jobs, "retry_wait"));
	fputs("</div>\n", fp);
}

/* One row of counts by status, as caom2ingest status prints them. */
static void
monitor_html_status_row(FILE *fp, const char *label, const char *id, json_t *counts)
{
	static const char *const names[] = { "pending", "running", "retry", "done", "failed",
		"unmatched" };
	json_t *v;
	size_t i;

	fprintf(fp, "<tr><th>%s</th>", label);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if ((v = json_object_get(counts, names[i])) == NULL)
			fputs("<td class=\"n zero\">-</td>", fp);
		else
			monitor_html_count(fp, id, names[i], json_integer_value(v),
			    strcmp(names[i], "failed") == 0 ? "bad" : strcmp(names[i], "retry") == 0 ?
			    "warn" : NULL);
	}
	fputs("</tr>\n", fp);
}

static void
monitor_html_statuses(json_t *st, FILE *fp)
{
	fputs("<h2>The state store</h2>\n<table id=\"statuses\"><tr><th></th><th>pending</th>"
	    "<th>running</th><th>retry</th><th>done</th><th>failed</th><th>unmatched</th></tr>\n",
	    fp);
	if (json_object_get(st, "files") == NULL) {
		fputs("<tr><td colspan=\"7\">not read yet</td></tr>", fp);
	} else {
		monitor_html_status_row(fp, "files", "files", json_object_get(st, "files"));
		monitor_html_status_row(fp, "observations", "obs",
		    json_object_get(st, "observations"));
		if (json_object_get(st, "objects") != NULL)
			monitor_html_status_row(fp, "objects", "objects",
			    json_object_get(st, "objects"));
	}
	fputs("</table>\n", fp);
}

static const struct state_census_group *
monitor_html_group(const struct monitor *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->census.c.ngroups; i++) {
		if (strcmp(m->census.c.groups[i].collection, name) == 0)
			return &m->census.c.groups[i];
	}
	return NULL;
}

static void
monitor_html_collection(const struct monitor *m, json_t *c, FILE *fp)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const struct state_census_group *g = monitor_html_group(m, name);
	char *id = xasprintf("c-%s", name);
	int64_t last = 0;
	json_t *dir;
	size_t i;
	int p;

	fputs("<tr><th>", fp);
	monitor_html_text(fp, name);
	if (json_is_true(json_object_get(c, "paused")))
		fputs(" <span class=\"warn\">paused</span>", fp);
	fputs("</th><td>", fp);
	json_array_foreach(json_object_get(c, "landing"), i, dir) {
		fputs(i > 0 ? "<br>" : "", fp);
		monitor_html_text(fp, json_string_value(dir));
	}
	fputs("</td>", fp);
	for (p = 0; p < STATE_NPHASES; p++)
		monitor_html_count(fp, id, state_phase_name((enum state_phase)p),
		    g != NULL ? g->n[p] : 0, p == STATE_PHASE_FAILED ? "bad" :
		    p == STATE_PHASE_RETRY ? "warn" : p == STATE_PHASE_DONE ? "ok" : NULL);
	fputs("<td>", fp);
	if (metrics_last_success(name) > 0)
		last = (int64_t)(metrics_last_success(name) * 1e3);
	else if (g != NULL)
		last = g->last_done_ms;
	if (last > 0) {
		monitor_html_age(fp, last);
		fputs(" ago", fp);
	} else
		fputs("-", fp);
	fputs("</td></tr>\n", fp);
	free(id);
}

/* Observations by collection and life-cycle state. */
static void
monitor_html_collections(const struct monitor *m, json_t *st, FILE *fp)
{
	json_t *c;
	size_t i;
	int p;

	fputs("<h2>Observations by collection and state</h2>\n<table id=\"collections\"><tr>"
	    "<th>collection</th><th>landing</th>", fp);
	for (p = 0; p < STATE_NPHASES; p++)
		fprintf(fp, "<th>%s</th>", state_phase_name((enum state_phase)p));
	fputs("<th>last stored</th></tr>\n", fp);
	json_array_foreach(json_object_get(st, "collections"), i, c)
		monitor_html_collection(m, c, fp);
	fputs("</table>\n", fp);
}

static void
monitor_html_oldest(const struct monitor *m, FILE *fp)
{
	const struct state_census *c = &m->census.c;
	size_t i;

	fputs("<h2>Oldest unfinished observations</h2>\n", fp);
	if (c->noldest == 0) {
		fputs("<p id=\"oldest\">None: nothing is waiting.</p>\n", fp);
		return;
	}
	fputs("<table id=\"oldest\"><tr><th>observation</th><th>state</th><th>since</th>"
	    "<th>landed</th><th>attempts</th><th>last error</th></tr>\n", fp);
	for (i = 0; i < c->noldest; i++) {
		fputs("<tr><td>", fp);
		monitor_html_obs_link(fp, c->oldest[i].collection, c->oldest[i].observation);
		fprintf(fp, "</td><td>%s</td><td>", state_phase_name(c->oldest[i].phase));
		monitor_html_age(fp, c->oldest[i].phase_ms);
		fputs(" ago</td><td>", fp);
		monitor_html_age(fp, c->oldest[i].landed_ms);
		fprintf(fp, " ago</td><td class=\"n\">%d</td><td class=\"err\">",
		    c->oldest[i].attempts);
		monitor_html_text(fp, c->oldest[i].last_error);
		fputs("</td></tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

static void
monitor_html_failures(const struct monitor *m, FILE *fp)
{
	const struct state_census *c = &m->census.c;
	const struct state_obs *o;
	size_t i;

	fputs("<h2>Latest failures</h2>\n", fp);
	if (c->nfailures == 0) {
		fputs("<p id=\"failures\">None.</p>\n", fp);
		return;
	}
	fputs("<table id=\"failures\"><tr><th>observation</th><th>state</th><th>when</th>"
	    "<th>attempts</th><th>error</th></tr>\n", fp);
	for (i = 0; i < c->nfailures; i++) {
		o = &c->failures[i];
		fputs("<tr class=\"failure\"><td>", fp);
		monitor_html_obs_link(fp, o->collection, o->observation);
		fprintf(fp, "</td><td class=\"%s\">%s", o->status == STATE_FAILED ? "bad" : "warn",
		    state_phase_name(o->phase));
		if (o->status == STATE_RETRY && o->next_attempt_ms > 0) {
			fputs(" (next attempt at ", fp);
			monitor_html_time(fp, o->next_attempt_ms);
			fputs(")", fp);
		}
		fputs("</td><td>", fp);
		monitor_html_time(fp, o->phase_ms);
		fprintf(fp, "</td><td class=\"n\">%d</td><td class=\"err\">", o->attempts);
		monitor_html_text(fp, o->last_error);
		fputs("</td></tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

void
monitor_html_status(const struct monitor *m, json_t *status, FILE *fp)
{
	monitor_html_head(fp, "caom2ingestd status", 1);
	monitor_html_header(m, status, fp);
	monitor_html_now(status, fp);
	monitor_html_statuses(status, fp);
	monitor_html_collections(m, status, fp);
	monitor_html_oldest(m, fp);
	monitor_html_failures(m, fp);
	fputs("<footer>Counts of the state store read ", fp);
	if (m->census.ok) {
		monitor_html_time(fp, (int64_t)(m->census.at * 1e3));
		fprintf(fp, " (in %.1f ms, off the event loop)", m->census.took * 1e3);
	} else
		fputs("not yet", fp);
	if (m->census.error != NULL) {
		fputs("; <span class=\"bad\">the last read failed: ", fp);
		monitor_html_text(fp, m->census.error);
		fputs("</span>", fp);
	}
	fprintf(fp, ". This page reloads every %d s. <a href=\"/metrics\">metrics</a> "
	    "<a href=\"/status.json\">status.json</a></footer>\n</body></html>\n",
	    MONITOR_HTML_REFRESH);
}

/* A row of two cells: a label and escaped text (of class cls, or none). */
static void
monitor_html_field(FILE *fp, const char *label, const char *id, const char *text,
    const char *cls)
{
	fprintf(fp, "<tr><th>%s</th><td id=\"%s\" class=\"%s\">", label, id, cls);
	monitor_html_text(fp, text != NULL ? text : "-");
	fputs("</td></tr>\n", fp);
}

static void
monitor_html_obs_fields(const struct state_obs *o, FILE *fp)
{
	fputs("<table id=\"observation\">\n", fp);
	monitor_html_field(fp, "status", "status", state_status_name(o->status),
	    o->status == STATE_FAILED ? "bad" : o->status == STATE_RETRY ? "warn" : "");
	fprintf(fp, "<tr><th>state</th><td id=\"state\">%s since ", state_phase_name(o->phase));
	monitor_html_time(fp, o->phase_ms);
	fprintf(fp, "</td></tr>\n<tr><th>attempts</th><td id=\"attempts\">%d</td></tr>\n",
	    o->attempts);
	monitor_html_field(fp, "last error", "last-error", o->last_error, "err");
	fputs("<tr><th>next attempt</th><td>", fp);
	monitor_html_time(fp, o->next_attempt_ms);
	fputs("</td></tr>\n<tr><th>landed</th><td>", fp);
	monitor_html_time(fp, o->landed_ms);
	fputs("</td></tr>\n", fp);
	monitor_html_field(fp, "pushed checksum", "checksum", o->pushed_checksum, "err");
	fputs("</table>\n", fp);
}

static void
monitor_html_obs_files(const struct monitor_obs *o, FILE *fp)
{
	size_t i;

	fputs("<h2>Files</h2>\n<table id=\"files\"><tr><th>path</th><th>bytes</th><th>product"
	    "</th><th>URI</th><th>status</th></tr>\n", fp);
	for (i = 0; i < o->nfiles; i++) {
		fputs("<tr><td>", fp);
		monitor_html_text(fp, o->files[i].path);
		fprintf(fp, "</td><td class=\"n\">%lld</td><td>", (long long)o->files[i].size);
		monitor_html_text(fp, o->files[i].product);
		fputs("</td><td>", fp);
		monitor_html_text(fp, o->files[i].uri);
		fprintf(fp, "</td><td>%s</td></tr>\n", state_status_name(o->files[i].status));
	}
	fputs("</table>\n", fp);
}

static void
monitor_html_obs_history(const struct monitor_obs *o, FILE *fp)
{
	const struct state_event *e;
	size_t i;

	fprintf(fp, "<h2>History</h2>\n<p class=\"meta\">The last %d events at most, oldest "
	    "first.</p>\n<table id=\"history\"><tr><th>when</th><th>state</th><th>detail</th>"
	    "</tr>\n", STATE_HISTORY_MAX);
	for (i = 0; i < o->nhistory; i++) {
		e = &o->history[i];
		fputs("<tr><td>", fp);
		monitor_html_time(fp, e->at_ms);
		fprintf(fp, "</td><td class=\"%s\">%s</td><td class=\"err\">",
		    e->phase == STATE_PHASE_FAILED ? "bad" : e->phase == STATE_PHASE_RETRY ?
		    "warn" : "", state_phase_name(e->phase));
		monitor_html_text(fp, e->detail);
		if (e->until_ms > 0) {
			fputs(e->phase == STATE_PHASE_RETRY ? " (next attempt at " : " (until ", fp);
			monitor_html_time(fp, e->until_ms);
			fputs(")", fp);
		}
		fputs("</td></tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

static void
monitor_html_obs_document(const struct monitor_obs *o, FILE *fp)
{
	fputs("<h2>The stored document</h2>\n", fp);
	if (o->sink_dir == NULL)
		fputs("<p>The sink is a CAOM repository: the document is there.</p>\n", fp);
	else if (o->xml_found == 1)
		fputs("<p>The directory sink holds none.</p>\n", fp);
	else if (o->xml_found < 0) {
		fputs("<p class=\"bad\">", fp);
		monitor_html_text(fp, o->error);
		fputs("</p>\n", fp);
	} else {
		fputs("<pre id=\"document\">", fp);
		if (o->xml != NULL) {
			char *text = xstrndup(o->xml, o->xmllen);

			monitor_html_text(fp, text);
			free(text);
		}
		fputs("</pre>\n", fp);
	}
}

void
monitor_html_observation(const struct monitor *m, const struct monitor_obs *o, FILE *fp)
{
	char *title = xasprintf("%s/%s", o->collection, o->observation);

	monitor_html_head(fp, title, 0);
	fputs("<p><a href=\"/\">&larr; status</a></p>\n<h1>", fp);
	monitor_html_text(fp, title);
	fputs("</h1>\n", fp);
	monitor_html_obs_fields(&o->obs, fp);
	monitor_html_obs_files(o, fp);
	monitor_html_obs_history(o, fp);
	monitor_html_obs_document(o, fp);
	fputs("</body></html>\n", fp);
	free(title);
}

void
monitor_html_missing(const char *collection, const char *observation, FILE *fp)
{
	monitor_html_head(fp, "no such observation", 0);
	fputs("<p><a href=\"/\">&larr; status</a></p>\n<h1>No observation ", fp);
	monitor_html_text(fp, collection);
	fputc('/', fp);
	monitor_html_text(fp, observation);
	fputs("</h1>\n</body></html>\n", fp);
}
