/*
 * commands.c - the daemon's control commands (the table control.c serves).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "conf/conf.h"
#include "daemon/control.h"
#include "daemon/daemon_int.h"
#include "daemon/pipeline.h"
#include "store/state.h"
#include "lib/stats.h"
#include "daemon/tickets.h"
#include "lib/xmalloc.h"

static json_t *
commands_strlist(const struct conf_strlist *l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

static json_t *
commands_counts(const long *counts, int nfiles)
{
	json_t *o = json_object();
	int s;

	for (s = STATE_PENDING; s <= STATE_UNMATCHED; s++) {
		if (s != STATE_UNMATCHED || nfiles)
			json_object_set_new(o, state_status_name((enum state_status)s),
			    json_integer(counts[s]));
	}
	return o;
}

/* Where a storage section stores (as storage_target says it). */
static json_t *
commands_target(const struct conf_storage *s, const char *collection)
{
	const char *what = s->si.url != NULL ? s->si.url : s->directory;
	size_t n = what != NULL ? strlen(what) : 0;
	char *t;
	json_t *j;

	while (n > 1 && what[n - 1] == '/')
		n--;
	if (s->s3.bucket != NULL)
		t = xasprintf("%s%ss3://%s/%s", collection ? collection : "", collection ? ": " : "",
		    s->s3.bucket, s->s3.prefix != NULL ? s->s3.prefix : "");
	else
		t = xasprintf("%s%s%s:%.*s", collection ? collection : "", collection ? ": " : "",
		    s->si.url != NULL ? "si" : "directory", (int)n, what);
	j = json_string(t);
	free(t);
	return j;
}

/* The storage files go to, and how many are stored, storing, waiting. */
static void
commands_storage(const struct conf *cfg, const struct state_counts *c, json_t *reply)
{
	json_t *t = json_array();
	size_t i;

	if (cfg->storage.line > 0)
		json_array_append_new(t, commands_target(&cfg->storage, NULL));
	for (i = 0; i < cfg->collections.n; i++) {
		if (cfg->collections.v[i].storage.line > 0)
			json_array_append_new(t, commands_target(&cfg->collections.v[i].storage,
			    cfg->collections.v[i].name));
	}
	if (json_array_size(t) == 0) {
		json_decref(t);
		return;
	}
	json_object_set_new(reply, "storage", json_pack("{s:o, s:{s:I, s:I, s:I}}", "targets",
	    t, "files", "stored", (json_int_t)c->storage[STATE_STORE_STORED], "storing",
	    (json_int_t)c->storage[STATE_STORE_STORING], "waiting",
	    (json_int_t)c->storage[STATE_STORE_NONE]));
}

void
daemon_status_json(struct daemon *d, json_t *reply, const struct state_counts *c,
    const long *objects)
{
	struct pipeline_objects ob;
	json_t *colls = json_array();
	unsigned queued, running, waiting;
	size_t i;

	for (i = 0; i < d->cfg->collections.n; i++) {
		const struct conf_collection *cc = &d->cfg->collections.v[i];

		json_array_append_new(colls, json_pack("{s:s, s:o, s:b, s:b}", "name", cc->name,
		    "landing", commands_strlist(&cc->landing), "poll", cc->poll, "paused",
		    pipeline_paused(d->pipeline, cc->name)));
	}
	json_object_set_new(reply, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(reply, "pid", json_integer(getpid()));
	json_object_set_new(reply, "uptime", json_integer(time(NULL) - d->started));
	json_object_set_new(reply, "config", json_string(d->config_path));
	json_object_set_new(reply, "state_dir", json_string(d->cfg->state_dir));
	json_object_set_new(reply, "reloads", json_integer(d->reloads));
	json_object_set_new(reply, "collections", colls);
	pipeline_jobs(d->pipeline, &queued, &running, &waiting);
	json_object_set_new(reply, "jobs", json_pack("{s:i, s:i, s:i}", "queued", queued,
	    "running", running, "retry_wait", waiting));
	json_object_set_new(reply, "settling", json_integer((json_int_t)pipeline_settling(d->pipeline)));
	tickets_counts(d->tickets, &queued, &waiting);
	json_object_set_new(reply, "tickets", json_pack("{s:i, s:i}", "kept", queued,
	    "waiting", waiting));
	json_object_set_new(reply, "sink", json_string(d->cfg->sink.repo.url != NULL ?
	    d->cfg->sink.repo.url : d->cfg->sink.directory != NULL ? d->cfg->sink.directory :
	    "state_dir/observations"));
	if (c != NULL) {
		json_object_set_new(reply, "files", commands_counts(c->files, 1));
		json_object_set_new(reply, "observations", commands_counts(c->obs, 0));
		commands_storage(d->cfg, c, reply);
	}
	if (pipeline_objects(d->pipeline, &ob, objects == NULL) == 0) {
		json_object_set_new(reply, "objects", commands_counts(objects != NULL ? objects :
		    ob.counts, 0));
		json_object_set_new(reply, "fetches", json_pack("{s:i, s:i, s:i, s:i}", "queued",
		    ob.queued, "running", ob.running, "retry_wait", ob.waiting, "listings",
		    ob.listing));
		if (ob.webhook_port > 0)
			json_object_set_new(reply, "webhook_port", json_integer(ob.webhook_port));
	}
}

static int
cmd_status(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;
	struct state_counts c;

	daemon_status_json(d, reply, pipeline_counts(d->pipeline, &c) == 0 ? &c : NULL, NULL);
	return 0;
}

json_t *
daemon_obs_json(const struct state_obs *o)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i}", "collection", o->collection,
	    "observation", o->observation, "status", state_status_name(o->status),
	    "state", state_phase_name(o->phase), "since_ms", (json_int_t)o->phase_ms,
	    "attempts", o->attempts);

	if (o->last_error != NULL)
		json_object_set_new(j, "last_error", json_string(o->last_error));
	if (o->next_attempt_ms > 0)
		json_object_set_new(j, "next_attempt_ms", json_integer(o->next_attempt_ms));
	if (o->pushed_checksum != NULL)
		json_object_set_new(j, "pushed_checksum", json_string(o->pushed_checksum));
	if (o->landed_ms > 0)
		json_object_set_new(j, "landed_ms", json_integer(o->landed_ms));
	return j;
}

static void
commands_list_cb(void *arg, const struct state_obs *o)
{
	json_array_append_new(arg, daemon_obs_json(o));
}

static int
cmd_list(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;
	const char *state = json_string_value(json_object_get(req, "state"));
	const char *coll = json_string_value(json_object_get(req, "collection"));
	json_t *limit = json_object_get(req, "limit"), *list;

	if (limit != NULL && (!json_is_integer(limit) || json_integer_value(limit) < 1)) {
		*error = xstrdup("limit must be a positive integer");
		return -1;
	}
	list = json_array();
	if (pipeline_state_list(d->pipeline, state, coll,
	    limit != NULL ? (long)json_integer_value(limit) : 1000, commands_list_cb, list,
	    error) != 0) {
		json_decref(list);
		return -1;
	}
	json_object_set_new(reply, "observations", list);
	return 0;
}

json_t *
daemon_files_json(const struct state_file *files, size_t n)
{
	static const char *const storage[] = { "none", "storing", "stored" };
	json_t *a = json_array(), *f;
	size_t i;

	for (i = 0; i < n; i++) {
		f = json_pack("{s:s, s:I, s:s, s:s, s:s}", "path",
		    files[i].path, "size", (json_int_t)files[i].size, "product",
		    files[i].product, "uri", files[i].uri, "status",
		    state_status_name(files[i].status));
		if (files[i].stored.status != STATE_STORE_NONE)
			json_object_set_new(f, "storage", json_pack("{s:s, s:s?, s:s?, s:I}",
			    "status", storage[files[i].stored.status], "target",
			    files[i].stored.target, "md5", files[i].stored.md5, "size",
			    (json_int_t)files[i].stored.size));
		json_array_append_new(a, f);
	}
	return a;
}

/* Split "COLLECTION/OBSERVATION_ID" (the ID may hold further slashes). */
static int
commands_split(json_t *req, char **coll, const char **obs, char **error)
{
	const char *id = json_string_value(json_object_get(req, "observation"));
	const char *slash;

	if (id == NULL) {
		*error = xstrdup("malformed request: no \"observation\" string");
		return -1;
	}
	if ((slash = strchr(id, '/')) == NULL || slash == id || slash[1] == '\0') {
		*error = xasprintf("'%s' is not COLLECTION/OBSERVATION_ID", id);
		return -1;
	}
	*coll = xstrndup(id, (size_t)(slash - id));
	*obs = slash + 1;
	return 0;
}

json_t *
daemon_history_json(const struct state_event *ev, size_t n)
{
	json_t *a = json_array(), *e;
	size_t i;

	for (i = 0; i < n; i++) {
		e = json_pack("{s:I, s:s}", "at_ms", (json_int_t)ev[i].at_ms, "state",
		    state_phase_name(ev[i].phase));
		if (ev[i].detail != NULL)
			json_object_set_new(e, "detail", json_string(ev[i].detail));
		if (ev[i].until_ms > 0)
			json_object_set_new(e, "until_ms", json_integer(ev[i].until_ms));
		json_array_append_new(a, e);
	}
	return a;
}

static int
cmd_show(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;
	struct pipeline_show sh;
	const char *obs;
	char *coll;
	int r;

	if (commands_split(req, &coll, &obs, error) != 0)
		return -1;
	r = pipeline_state_show(d->pipeline, coll, obs, &sh, error);
	if (r == 1)
		*error = xasprintf("no observation %s/%s", coll, obs);
	free(coll);
	if (r != 0)
		return -1;
	json_object_set_new(reply, "observation", daemon_obs_json(&sh.obs));
	json_object_set_new(reply, "files", daemon_files_json(sh.files, sh.nfiles));
	json_object_set_new(reply, "history", daemon_history_json(sh.history, sh.nhistory));
	pipeline_show_clear(&sh);
	return 0;
}

static int
cmd_reingest_target(struct daemon *d, const char *target, int force, int ticket,
    json_t *reply, char **error)
{
	unsigned id;
	char *coll = NULL, *obs = NULL;
	const char *slash;
	int r;

	if (target[0] == '/')
		r = pipeline_reingest_file(d->pipeline, target, force, &coll, &obs, error);
	else if ((slash = strchr(target, '/')) != NULL && slash != target && slash[1] != '\0') {
		coll = xstrndup(target, (size_t)(slash - target));
		obs = xstrdup(slash + 1);
		r = pipeline_reingest(d->pipeline, coll, obs, force, error);
	} else {
		*error = xstrdup("expected an absolute file path or COLLECTION/OBSERVATION_ID");
		return -1;
	}
	if (r == 1)
		*error = target[0] == '/' ? xasprintf("%s is not a file of any observation", target) :
		    xasprintf("no observation %s", target);
	else if (r == 0) {
		json_object_set_new(reply, "queued", json_pack("[{s:s, s:s}]", "collection", coll,
		    "observation", obs));
		if (ticket) {
			id = tickets_open(d->tickets, TICKETS_REINGEST);
			tickets_track(d->tickets, id, coll, obs);
			tickets_seal(d->tickets, id, 0);
			json_object_set_new(reply, "ticket", json_integer(id));
		}
	}
	free(coll);
	free(obs);
	return r == 0 ? 0 : -1;
}

struct commands_track {
	struct tickets	*tickets;
	unsigned	 id;
};

static void
commands_track(void *arg, const char *collection, const char *observation)
{
	struct commands_track *ct = arg;

	tickets_track(ct->tickets, ct->id, collection, observation);
}

static int
cmd_reingest_failed(struct daemon *d, int force, int ticket, json_t *reply, char **error)
{
	struct commands_track ct = { d->tickets, 0 };
	long n;

	if (ticket)
		ct.id = tickets_open(d->tickets, TICKETS_REINGEST);
	n = pipeline_retry_failed(d->pipeline, force, ticket ? commands_track : NULL, &ct, error);
	if (ticket)
		tickets_seal(d->tickets, ct.id, 0);	/* complete with what was queued */
	if (n < 0)
		return -1;
	json_object_set_new(reply, "requeued", json_integer(n));
	if (ticket)
		json_object_set_new(reply, "ticket", json_integer(ct.id));
	return 0;
}

static int
cmd_reingest(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;
	const char *target = json_string_value(json_object_get(req, "target"));
	int force = json_is_true(json_object_get(req, "force"));
	int ticket = json_is_true(json_object_get(req, "ticket"));

	if (json_is_true(json_object_get(req, "failed")))
		return cmd_reingest_failed(d, force, ticket, reply, error);
	if (target == NULL) {
		*error = xstrdup("expected \"target\" (a file or COLLECTION/OBSERVATION_ID) or "
		    "\"failed\": true");
		return -1;
	}
	return cmd_reingest_target(d, target, force, ticket, reply, error);
}

static int
cmd_stats(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;
	json_t *s = stats_json();

	json_object_update(reply, s);
	json_decref(s);
	json_object_set_new(reply, "uptime", json_integer(time(NULL) - d->started));
	return 0;
}

static int
cmd_pause_resume(struct daemon *d, json_t *req, int paused, char **error)
{
	const char *coll = json_string_value(json_object_get(req, "collection"));

	if (pipeline_pause(d->pipeline, coll, paused) != 0) {
		*error = xasprintf("no collection named '%.64s'", coll);
		return -1;
	}
	return 0;
}

static int
cmd_pause(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	return cmd_pause_resume(arg, req, 1, error);
}

static int
cmd_resume(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	return cmd_pause_resume(arg, req, 0, error);
}

static int
cmd_rescan(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;
	int ticket = json_is_true(json_object_get(req, "ticket"));
	unsigned id = ticket ? tickets_open(d->tickets, TICKETS_RESCAN) : 0;
	uint64_t mark;

	mark = pipeline_rescan(d->pipeline);	/* may complete old files at once */
	json_object_set_new(reply, "rescanned", json_true());
	if (ticket) {
		tickets_seal(d->tickets, id, mark);
		json_object_set_new(reply, "ticket", json_integer(id));
	}
	return 0;
}

static int
cmd_reload(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;

	if (daemon_reload(d, error) != 0)
		return -1;
	json_object_set_new(reply, "reloads", json_integer(d->reloads));
	return 0;
}

/* One connection waiting for a ticket. */
struct commands_wait {
	struct control_conn	*cn;
	struct tickets_waiter	*w;
};

static int
commands_wait_notify(void *arg, enum tickets_event ev, json_t *msg)
{
	struct commands_wait *cw = arg;

	if (ev == TICKETS_PROGRESS)
		return control_notify(cw->cn, msg);
	if (ev == TICKETS_OUTCOME)
		control_reply(cw->cn, msg, NULL);
	else
		control_reply(cw->cn, NULL, json_string_value(json_object_get(msg, "error")));
	free(cw);
	return 0;
}

static void
commands_wait_gone(void *arg)
{
	struct commands_wait *cw = arg;

	tickets_unwait(cw->w);
	free(cw);
}

static int
cmd_wait(void *arg, struct control_conn *cn, json_t *req, json_t *reply, char **error)
{
	struct daemon *d = arg;
	json_t *id = json_object_get(req, "ticket"), *outcome;
	struct commands_wait *cw;
	int r;

	if (!json_is_integer(id) || json_integer_value(id) < 1 ||
	    json_integer_value(id) > (json_int_t)UINT32_MAX) {
		*error = xstrdup("expected \"ticket\": a ticket number from reingest or rescan");
		return -1;
	}
	cw = xcalloc(1, sizeof *cw);
	cw->cn = cn;
	r = tickets_wait(d->tickets, (unsigned)json_integer_value(id), commands_wait_notify, cw,
	    &cw->w, &outcome);
	if (r == 1) {
		control_on_close(cn, commands_wait_gone, cw);
		return CONTROL_DEFERRED;
	}
	free(cw);
	if (r < 0) {
		*error = xasprintf("no ticket %lld (never issued, or forgotten %.0f minutes after "
		    "it completed)", (long long)json_integer_value(id), TICKETS_KEEP_S / 60);
		return -1;
	}
	json_object_update(reply, outcome);
	json_decref(outcome);
	return 0;
}

const struct control_command daemon_commands[] = {
	{ "status", 0, cmd_status, "version, uptime, configuration, counts" },
	{ "stats", 0, cmd_stats, "counters and latency percentiles per stage" },
	{ "list", 0, cmd_list, "observations, filtered by state and collection" },
	{ "show", 0, cmd_show, "one observation, its files and its history" },
	{ "reingest", 1, cmd_reingest, "queue an observation, a file's or every failed one again" },
	{ "rescan", 1, cmd_rescan, "rescan every landing directory" },
	{ "pause", 1, cmd_pause, "start no new jobs for a collection (or all)" },
	{ "resume", 1, cmd_resume, "start jobs again" },
	{ "reload", 1, cmd_reload, "reload the configuration" },
	{ "wait", 0, cmd_wait, "wait for the work of a ticket; progress lines, then the outcome" },
	{ NULL, 0, NULL, NULL }
};
