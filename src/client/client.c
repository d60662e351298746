/*
 * client.c - caom2ingest: the command-line client. Global options, then a
 * command from client_commands; control commands talk to the daemon's
 * control socket (ctl.c) and print tables for people or JSON for scripts.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "caom/caom_xml.h"
#include "client/client.h"
#include "conf/conf.h"
#include "client/ctl.h"
#include "lib/curlev.h"
#include "lib/xmalloc.h"

struct client {
	const char	*socket;	/* -s, or from the configuration */
	const char	*config;	/* -c */
	int		 json;		/* --json */
};

/* --wait [--timeout DURATION] of reingest, rescan and reload. */
struct client_wait {
	int		 wait;
	uint64_t	 timeout_ms;	/* 0: none */
	const char	*timeout;	/* as given */
};

#define CLIENT_WAIT_OPTIONS \
	{ "wait", no_argument, NULL, 'w' }, \
	{ "timeout", required_argument, NULL, 't' }

/* The progress line on a terminal while waiting. */
struct client_progress {
	int		 tty;		/* stderr is a terminal and no --json */
	int		 shown;		/* a line is on the screen */
	double		 start;
	json_t		*last;		/* the last {"progress": ...} */
	unsigned	 ticket;
};

#define CLIENT_PROGRESS_AFTER_S	1.	/* quick waits show nothing */
#define CLIENT_REDRAW_MS	250

struct client_command {
	const char	*name;
	int		(*run)(struct client *cl, int argc, char **argv);
	const char	*synopsis;
};

static void client_usage(FILE *fp);
static int client_cmd_usage(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define CLIENT_MAX_OPTIONS	16

/* The options every command takes anywhere on its line, as in git and systemctl: the
 * long ones by values of their own, the short ones ("s:c:jh") by their letters. */
enum {
	CLIENT_OPT_SOCKET = 0x100,
	CLIENT_OPT_CONFIG,
	CLIENT_OPT_JSON,
	CLIENT_OPT_HELP
};
static const struct option client_global_options[] = {
	{ "socket", required_argument, NULL, CLIENT_OPT_SOCKET },
	{ "config", required_argument, NULL, CLIENT_OPT_CONFIG },
	{ "json", no_argument, NULL, CLIENT_OPT_JSON },
	{ "help", no_argument, NULL, CLIENT_OPT_HELP },
	{ NULL, 0, NULL, 0 }
};
static const char client_global_shorts[] = "s:c:jh";

/* A command's options followed by the global ones; a short letter the command uses
 * itself stays the command's (list -s is --state). */
struct client_getopt {
	struct option	 opts[CLIENT_MAX_OPTIONS];
	char		 shorts[3 * CLIENT_MAX_OPTIONS + 2];
};

static void
client_getopt_build(struct client_getopt *g, const char *shorts, const struct option *opts)
{
	const struct option *o;
	const char *s;
	size_t n = 0;
	char *p;
	int mine;

	for (o = opts; o->name != NULL; o++)
		g->opts[n++] = *o;
	for (o = client_global_options; o->name != NULL; o++)
		g->opts[n++] = *o;
	memset(&g->opts[n], 0, sizeof g->opts[n]);
	p = g->shorts;
	*p++ = ':';		/* a missing value returns ':', not '?' */
	p = stpcpy(p, shorts);
	for (s = client_global_shorts; *s != '\0'; s++) {
		mine = strchr(shorts, *s) != NULL;
		if (!mine)
			*p++ = *s;
		for (; s[1] == ':'; s++) {
			if (!mine)
				*p++ = ':';
		}
	}
	*p = '\0';
}

/* Is ch one of the command's own options? */
static int
client_own_option(int ch, const char *shorts, const struct option *opts)
{
	const struct option *o;

	if (ch == ':' || ch == '?' || ch <= 0)
		return 0;
	for (o = opts; o->name != NULL; o++) {
		if (o->val == ch)
			return 1;
	}
	return ch < 0x100 && strchr(shorts, ch) != NULL;
}

/* What getopt_long found wrong ('?' or ':'), said; '?'. */
static int
client_getopt_error(int ch, char **argv)
{
	const char *arg = argv[optind - 1];
	int is_long = arg[0] == '-' && arg[1] == '-';

	if (ch == ':' && !is_long)
		client_cmd_usage(argv[0], "option '-%c' needs a value", optopt);
	else if (ch == ':')
		client_cmd_usage(argv[0], "option '%s' needs a value", arg);
	else if (!is_long)
		client_cmd_usage(argv[0], "unknown option '-%c'", optopt);
	else
		client_cmd_usage(argv[0], "unknown option '%s'", arg);
	return '?';
}

/*
 * getopt_long over a command's arguments (argv[0] is the command; set optind = 0
 * first, which glibc needs to start afresh after main's '+' parse): options
 * anywhere, operands moved to the end, the global options taken here. The next
 * option of the command's own, -1 at the end (optind: the first operand), or '?'
 * after printing what was wrong.
 */
static int
client_getopt(struct client *cl, int argc, char **argv, const char *shorts,
    const struct option *opts)
{
	static struct client_getopt g;
	int ch;

	if (optind == 0) {
		client_getopt_build(&g, shorts, opts);
		opterr = 0;
	}
	for (;;) {
		ch = getopt_long(argc, argv, g.shorts, g.opts, NULL);
		if (ch == -1 || client_own_option(ch, shorts, opts))
			return ch;
		switch (ch) {
		case 's':
		case CLIENT_OPT_SOCKET:
			cl->socket = optarg;
			break;
		case 'c':
		case CLIENT_OPT_CONFIG:
			cl->config = optarg;
			break;
		case 'j':
		case CLIENT_OPT_JSON:
			cl->json = 1;
			break;
		case 'h':
		case CLIENT_OPT_HELP:
			client_cmd_usage(argv[0], NULL);
			exit(CLIENT_EXIT_OK);
		default:
			return client_getopt_error(ch, argv);
		}
	}
}

/* After the options: between min and max operands (what: their name, for a missing
 * one). 0, or -1 after printing what was wrong. */
static int
client_operands(int argc, char **argv, int min, int max, const char *what)
{
	if (argc - optind < min)
		return client_cmd_usage(argv[0], "missing %s", what != NULL ? what :
		    "argument"), -1;
	if (argc - optind > max)
		return client_cmd_usage(argv[0], "unexpected argument '%s'", argv[optind + max]),
		    -1;
	return 0;
}

/* A command without options of its own: global options anywhere, min to max operands. */
static int
client_plain_args(struct client *cl, int argc, char **argv, int min, int max,
    const char *what)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };

	optind = 0;
	if (client_getopt(cl, argc, argv, "", none) != -1)
		return -1;
	return client_operands(argc, argv, min, max, what);
}

/* The control socket: -s, else the configuration's control_socket, else the default.
 * A -c file that cannot be loaded is an error (said; NULL), never a silent fallback;
 * the default file may be missing or unreadable to this user. */
static char *
client_socket(const struct client *cl)
{
	struct conf *cfg = NULL;
	char *errors = NULL, *path;

	if (cl->socket != NULL)
		return xstrdup(cl->socket);
	if (conf_load(cl->config != NULL ? cl->config : CONF_DEFAULT_PATH, &cfg, &errors) != 0) {
		if (cl->config != NULL) {
			fprintf(stderr, "caom2ingest: %s\ncaom2ingest: cannot take the control "
			    "socket from -c %s (or give -s SOCKET)\n", errors, cl->config);
			free(errors);
			return NULL;
		}
		free(errors);
		cfg = conf_new();
	}
	path = xstrdup(cfg->control_socket);
	conf_free(cfg);
	return path;
}

/* Connect; print why not; NULL with *code. */
static struct ctl *
client_connect(struct client *cl, int *code)
{
	enum ctl_result result;
	char *path = client_socket(cl), *cause = NULL;
	struct ctl *c;

	if (path == NULL) {
		*code = CLIENT_EXIT_USAGE;
		return NULL;
	}
	if ((c = ctl_connect(path, &result, &cause)) == NULL) {
		*code = result == CTL_NODAEMON ? CLIENT_EXIT_NODAEMON : CLIENT_EXIT_FAIL;
		fprintf(stderr, "caom2ingest: %s\n", cause);
		free(cause);
	}
	free(path);
	return c;
}

/* Is a reply a success? Print why not (and with --json, the reply). */
static int
client_reply_ok(struct client *cl, json_t *reply)
{
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "caom2ingest: %s\n",
		    json_string_value(json_object_get(reply, "error")) ?: "request failed");
		if (cl->json)
			json_dumpf(reply, stdout, JSON_INDENT(2)), putchar('\n');
		return 0;
	}
	return 1;
}

static double
client_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline (0: none) for poll: -1 for no limit, at most cap. */
static int
client_left_ms(double deadline, int cap)
{
	double left;

	if (deadline <= 0)
		return cap;
	left = (deadline - client_now()) * 1e3;
	if (left <= 0)
		return 0;
	return cap >= 0 && left > cap ? cap : left > 2e9 ? 2000000000 : (int)left;
}

/* Send req (ownership taken) on c; the reply before deadline (0: none), or NULL with the
 * reason printed. */
static json_t *
client_exchange(struct ctl *c, json_t *req, double deadline, const char *timeout)
{
	char *cause = NULL;
	json_t *reply = NULL;
	int r = ctl_send(c, req, &cause);

	if (r == 0)
		r = ctl_recv(c, client_left_ms(deadline, -1), &reply, &cause);
	if (r == 1)
		fprintf(stderr, "caom2ingest: no answer from the daemon within %s\n", timeout);
	else if (r != 0)
		fprintf(stderr, "caom2ingest: %s\n", cause);
	free(cause);
	json_decref(req);
	return reply;
}

/* Send one request (ownership taken); print errors; the reply or NULL with *code. */
static json_t *
client_call_within(struct client *cl, json_t *req, const struct client_wait *w, int *code)
{
	struct ctl *c;
	json_t *reply;

	if ((c = client_connect(cl, code)) == NULL) {
		json_decref(req);
		return NULL;
	}
	*code = CLIENT_EXIT_FAIL;
	reply = client_exchange(c, req, w != NULL && w->timeout_ms > 0 ? client_now() +
	    w->timeout_ms / 1e3 : 0, w != NULL ? w->timeout : NULL);
	ctl_close(c);
	if (reply == NULL)
		return NULL;
	if (!client_reply_ok(cl, reply)) {
		json_decref(reply);
		return NULL;
	}
	*code = CLIENT_EXIT_OK;
	return reply;
}

static json_t *
client_call(struct client *cl, json_t *req, int *code)
{
	return client_call_within(cl, req, NULL, code);
}

static void
print_counts(const char *label, json_t *counts)
{
	const char *key;
	json_t *v;
	int first = 1;

	printf("%-14s", label);
	json_object_foreach(counts, key, v) {
		printf("%s%lld %s", first ? "" : ", ", (long long)json_integer_value(v), key);
		first = 0;
	}
	printf("\n");
}

/* Where files are stored, and how many are stored, storing, waiting. */
static void
print_storage(json_t *s)
{
	json_t *t;
	size_t i;

	if (s == NULL)
		return;
	json_array_foreach(json_object_get(s, "targets"), i, t)
		printf("%-14s%s\n", i == 0 ? "storage" : "", json_string_value(t));
	print_counts("stored", json_object_get(s, "files"));
}

static void
print_status(json_t *r)
{
	json_int_t up = json_integer_value(json_object_get(r, "uptime"));
	json_t *colls = json_object_get(r, "collections"), *c, *dir;
	size_t i, j;

	printf("caom2ingestd %s, pid %lld, up %lldh%02lldm%02llds\n",
	    json_string_value(json_object_get(r, "version")),
	    (long long)json_integer_value(json_object_get(r, "pid")),
	    (long long)up / 3600, (long long)up / 60 % 60, (long long)up % 60);
	printf("%-14s%s (%lld reloads)\n", "configuration",
	    json_string_value(json_object_get(r, "config")),
	    (long long)json_integer_value(json_object_get(r, "reloads")));
	printf("%-14s%s\n", "state", json_string_value(json_object_get(r, "state_dir")));
	json_array_foreach(colls, i, c) {
		json_array_foreach(json_object_get(c, "landing"), j, dir)
			printf("%-14s%-12s %s%s%s\n", i == 0 && j == 0 ? "collections" : "",
			    j == 0 ? json_string_value(json_object_get(c, "name")) : "",
			    json_string_value(dir),
			    json_is_true(json_object_get(c, "poll")) ? " (poll)" : "",
			    j == 0 && json_is_true(json_object_get(c, "paused")) ? " PAUSED" : "");
	}
	if (json_array_size(colls) == 0)
		printf("%-14s%s\n", "collections", "none configured");
	printf("%-14s%s\n", "sink", json_string_value(json_object_get(r, "sink")));
	printf("%-14s%lld\n", "settling",
	    (long long)json_integer_value(json_object_get(r, "settling")));
	print_counts("jobs", json_object_get(r, "jobs"));
	print_counts("files", json_object_get(r, "files"));
	print_counts("observations", json_object_get(r, "observations"));
	if (json_object_get(r, "objects") != NULL) {
		print_counts("objects", json_object_get(r, "objects"));
		print_counts("fetches", json_object_get(r, "fetches"));
	}
	if (json_object_get(r, "webhook_port") != NULL)
		printf("%-14s%lld\n", "webhook port",
		    (long long)json_integer_value(json_object_get(r, "webhook_port")));
	print_storage(json_object_get(r, "storage"));
}

static int
client_simple(struct client *cl, const char *command, json_t *req, void (*print)(json_t *))
{
	json_t *reply;
	int code;

	json_object_set_new(req, "command", json_string(command));
	if ((reply = client_call(cl, req, &code)) == NULL)
		return code;
	if (cl->json) {
		json_dumpf(reply, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (print != NULL)
		print(reply);
	json_decref(reply);
	return CLIENT_EXIT_OK;
}

static void
print_stats(json_t *r)
{
	const char *key;
	json_t *v;

	printf("uptime %llds\n", (long long)json_integer_value(json_object_get(r, "uptime")));
	json_object_foreach(json_object_get(r, "counters"), key, v)
		printf("%-24s %lld\n", key, (long long)json_integer_value(v));
	printf("\n%-10s %10s %10s %10s %10s %10s\n", "STAGE", "COUNT", "P50 ms", "P90 ms",
	    "P99 ms", "MAX ms");
	json_object_foreach(json_object_get(r, "rates"), key, v)
		printf("%-24s %.0f\n", key, json_real_value(v));
	json_object_foreach(json_object_get(r, "latency"), key, v)
		printf("%-10s %10lld %10.3f %10.3f %10.3f %10.3f\n", key,
		    (long long)json_integer_value(json_object_get(v, "count")),
		    json_real_value(json_object_get(v, "p50_ms")),
		    json_real_value(json_object_get(v, "p90_ms")),
		    json_real_value(json_object_get(v, "p99_ms")),
		    json_real_value(json_object_get(v, "max_ms")));
}

static int
cmd_stats(struct client *cl, int argc, char **argv)
{
	if (client_plain_args(cl, argc, argv, 0, 0, NULL) != 0)
		return CLIENT_EXIT_USAGE;
	return client_simple(cl, "stats", json_object(), print_stats);
}

static int
cmd_status(struct client *cl, int argc, char **argv)
{
	if (client_plain_args(cl, argc, argv, 0, 0, NULL) != 0)
		return CLIENT_EXIT_USAGE;
	return client_simple(cl, "status", json_object(), print_status);
}

static void
print_obs_row(json_t *o)
{
	printf("%-10s %-28s %-9s %-10s %8lld  %s\n",
	    json_string_value(json_object_get(o, "collection")),
	    json_string_value(json_object_get(o, "observation")),
	    json_string_value(json_object_get(o, "status")),
	    json_string_value(json_object_get(o, "state")) ?: "-",
	    (long long)json_integer_value(json_object_get(o, "attempts")),
	    json_string_value(json_object_get(o, "last_error")) ?: "");
}

static void
print_list(json_t *r)
{
	json_t *o;
	size_t i;

	printf("%-10s %-28s %-9s %-10s %8s  %s\n", "COLLECTION", "OBSERVATION", "STATUS",
	    "STATE", "ATTEMPTS", "LAST ERROR");
	json_array_foreach(json_object_get(r, "observations"), i, o)
		print_obs_row(o);
}

static int
cmd_list(struct client *cl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "collection", required_argument, NULL, 'C' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	json_t *req = json_object();
	char *end;
	long n;
	int ch;

	optind = 0;
	while ((ch = client_getopt(cl, argc, argv, "s:C:n:", opts)) != -1) {
		if (ch == 's' || ch == 'C')
			json_object_set_new(req, ch == 's' ? "state" : "collection",
			    json_string(optarg));
		else if (ch == 'n' && (n = strtol(optarg, &end, 10)) > 0 && *end == '\0')
			json_object_set_new(req, "limit", json_integer(n));
		else {
			if (ch == 'n')
				client_cmd_usage(argv[0], "--limit: '%s' is not a positive number",
				    optarg);
			json_decref(req);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (client_operands(argc, argv, 0, 0, NULL) != 0) {
		json_decref(req);
		return CLIENT_EXIT_USAGE;
	}
	return client_simple(cl, "list", req, print_list);
}

/* A number of an object (0 when absent). */
#define CLIENT_INT(o, key) ((long long)json_integer_value(json_object_get((o), (key))))

/* A time in ms since the epoch as local "YYYY-MM-DD HH:MM:SS.mmm". */
static const char *
client_time_ms(long long ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (localtime_r(&t, &tm) == NULL || (n = strftime(buf, size, "%Y-%m-%d %H:%M:%S",
	    &tm)) == 0)
		snprintf(buf, size, "%lld ms", ms);
	else
		snprintf(buf + n, size - n, ".%03lld", ms % 1000);
	return buf;
}

/* The history of an observation, one event a line. */
static void
print_history(json_t *history)
{
	char at[64], until[64];
	json_t *e;
	size_t i;

	json_array_foreach(history, i, e) {
		printf("%-16s%s  %-10s %s", i == 0 ? "history" : "",
		    client_time_ms(CLIENT_INT(e, "at_ms"), at, sizeof at),
		    json_string_value(json_object_get(e, "state")),
		    json_string_value(json_object_get(e, "detail")) ?: "");
		if (CLIENT_INT(e, "until_ms") > 0)
			printf(" (%s %s)", strcmp(json_string_value(json_object_get(e, "state")),
			    "retry") == 0 ? "next attempt at" : "until",
			    client_time_ms(CLIENT_INT(e, "until_ms"), until, sizeof until));
		printf("\n");
	}
}

static void
print_show(json_t *r)
{
	json_t *o = json_object_get(r, "observation"), *f, *s;
	char since[64];
	size_t i;

	printf("%-16s%s/%s\n", "observation", json_string_value(json_object_get(o, "collection")),
	    json_string_value(json_object_get(o, "observation")));
	printf("%-16s%s\n", "status", json_string_value(json_object_get(o, "status")));
	if (json_object_get(o, "state") != NULL)
		printf("%-16s%s since %s\n", "state", json_string_value(json_object_get(o,
		    "state")), client_time_ms(CLIENT_INT(o, "since_ms"), since, sizeof since));
	printf("%-16s%lld\n", "attempts", (long long)json_integer_value(json_object_get(o,
	    "attempts")));
	printf("%-16s%s\n", "last error", json_string_value(json_object_get(o, "last_error"))
	    ?: "-");
	printf("%-16s%s\n", "pushed checksum",
	    json_string_value(json_object_get(o, "pushed_checksum")) ?: "-");
	json_array_foreach(json_object_get(r, "files"), i, f) {
		printf("%-16s%s (%lld bytes, %s, %s)\n", i == 0 ? "files" : "",
		    json_string_value(json_object_get(f, "path")),
		    (long long)json_integer_value(json_object_get(f, "size")),
		    json_string_value(json_object_get(f, "uri")),
		    json_string_value(json_object_get(f, "status")));
		if ((s = json_object_get(f, "storage")) != NULL)
			printf("%-16s  %s %s at %s\n", "", json_string_value(json_object_get(s,
			    "status")), json_string_value(json_object_get(s, "md5")) ?: "",
			    json_string_value(json_object_get(s, "target")) ?: "");
	}
	print_history(json_object_get(r, "history"));
}

static int
cmd_show(struct client *cl, int argc, char **argv)
{
	const char *slash;

	if (client_plain_args(cl, argc, argv, 1, 1, "COLLECTION/OBSERVATION_ID") != 0)
		return CLIENT_EXIT_USAGE;
	if ((slash = strchr(argv[optind], '/')) == NULL || slash == argv[optind] ||
	    slash[1] == '\0')
		return client_cmd_usage(argv[0], "'%s' is not COLLECTION/OBSERVATION_ID",
		    argv[optind]);
	return client_simple(cl, "show", json_pack("{s:s}", "observation", argv[optind]),
	    print_show);
}

static long long
client_int(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The progress line: on a terminal, once the wait lasts; one line, redrawn. */
static void
client_progress_draw(struct client_progress *pg)
{
	json_t *p = json_object_get(pg->last, "progress");
	double elapsed = client_now() - pg->start;
	char files[64] = "";

	if (!pg->tty || elapsed < CLIENT_PROGRESS_AFTER_S)
		return;
	if (json_is_true(json_object_get(p, "settling")))
		snprintf(files, sizeof files, "files settling (%lld new so far); ",
		    client_int(json_object_get(p, "files"), "new"));
	if (p == NULL)
		fprintf(stderr, "\r\033[Kwaiting for ticket %u... %.0fs", pg->ticket, elapsed);
	else
		fprintf(stderr, "\r\033[K%s%lld/%lld done, %lld failed, %lld running, "
		    "%lld retrying, %lld pending... %.0fs", files, client_int(p, "done"),
		    client_int(p, "total"), client_int(p, "failed"), client_int(p, "running"),
		    client_int(p, "retry"), client_int(p, "pending"), elapsed);
	fflush(stderr);
	pg->shown = 1;
}

static void
client_progress_clear(struct client_progress *pg)
{
	if (pg->shown) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
	pg->shown = 0;
}

/* The wait ran out of time: say so (with --json, as an object on stdout). */
static void
client_timed_out(struct client *cl, const struct client_wait *w, struct client_progress *pg)
{
	char *msg = xasprintf("timed out after %s waiting for ticket %u (the work goes on; "
	    "'caom2ingest wait %u' waits again)", w->timeout, pg->ticket, pg->ticket);
	json_t *o;

	fprintf(stderr, "caom2ingest: %s\n", msg);
	if (cl->json) {
		o = json_pack("{s:b, s:s, s:b, s:i, s:O?}", "ok", 0, "error", msg, "timed_out", 1,
		    "ticket", pg->ticket, "progress", json_object_get(pg->last, "progress"));
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	}
	free(msg);
}

/* Wait on c for ticket until deadline (0: none): the final reply, or NULL (reason
 * printed). Progress lines are drawn on a terminal. */
static json_t *
client_wait_ticket(struct client *cl, struct ctl *c, unsigned ticket,
    const struct client_wait *w, double deadline)
{
	struct client_progress pg = { isatty(STDERR_FILENO) && !cl->json, 0, client_now(), NULL,
		ticket };
	json_t *req = json_pack("{s:s, s:i}", "command", "wait", "ticket", ticket), *msg = NULL;
	char *cause = NULL;
	int r = ctl_send(c, req, &cause);

	json_decref(req);
	while (r == 0) {
		r = ctl_recv(c, client_left_ms(deadline, CLIENT_REDRAW_MS), &msg, &cause);
		if (r == 0 && json_object_get(msg, "progress") == NULL)
			break;		/* the reply */
		if (r == 0) {
			json_decref(pg.last);
			pg.last = msg;
			msg = NULL;
		}
		if (r >= 0 && deadline > 0 && client_now() >= deadline) {
			r = 1;
			break;
		}
		if (r >= 0) {
			client_progress_draw(&pg);
			r = 0;
		}
	}
	client_progress_clear(&pg);
	if (r == 1)
		client_timed_out(cl, w, &pg);
	else if (r < 0)
		fprintf(stderr, "caom2ingest: %s before the work was done (did caom2ingestd "
		    "stop?)\n", cause);
	free(cause);
	json_decref(pg.last);
	return r == 0 ? msg : NULL;
}

static void
print_outcome(json_t *r)
{
	json_t *o = json_object_get(r, "outcome"), *files = json_object_get(o, "files"), *f;
	long long total = client_int(o, "total");
	size_t i;

	if (files != NULL)
		printf("files: %lld new or changed, %lld unchanged, %lld unmatched, "
		    "%lld excluded\n", client_int(files, "new"), client_int(files, "unchanged"),
		    client_int(files, "unmatched"), client_int(files, "excluded"));
	printf("%lld observation%s: %lld done, %lld failed\n", total, total == 1 ? "" : "s",
	    client_int(o, "done"), client_int(o, "failed"));
	json_array_foreach(json_object_get(o, "failures"), i, f)
		printf("failed %s/%s: %s\n", json_string_value(json_object_get(f, "collection")),
		    json_string_value(json_object_get(f, "observation")),
		    json_string_value(json_object_get(f, "error")) ?: "no reason recorded");
	if (json_is_true(json_object_get(o, "failures_truncated")))
		printf("(only the first %zu failures are listed: see caom2ingest list --state "
		    "failed)\n", json_array_size(json_object_get(o, "failures")));
}

/* The outcome of a wait: first (what queued the work) merged with the reply. */
static int
client_report(struct client *cl, json_t *first, json_t *final)
{
	long long failed;

	if (!client_reply_ok(cl, final))
		return CLIENT_EXIT_FAIL;
	json_object_update(first, final);
	failed = client_int(json_object_get(first, "outcome"), "failed");
	if (cl->json) {
		json_dumpf(first, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		print_outcome(first);
	return failed > 0 ? CLIENT_EXIT_FAIL : CLIENT_EXIT_OK;
}

/* Connect to a daemon that can wait (protocol revision 2); NULL with *code. */
static struct ctl *
client_connect_wait(struct client *cl, int *code)
{
	struct ctl *c = client_connect(cl, code);

	if (c != NULL && ctl_revision(c) < 2) {
		fprintf(stderr, "caom2ingest: caom2ingestd %s cannot wait (control protocol "
		    "revision %d; --wait needs 2): nothing was done\n", ctl_daemon(c),
		    ctl_revision(c));
		ctl_close(c);
		*code = CLIENT_EXIT_FAIL;
		return NULL;
	}
	return c;
}

/* Run command with a ticket (req: ownership taken), then wait for its work. */
static int
client_queue_and_wait(struct client *cl, const char *command, json_t *req,
    const struct client_wait *w, void (*print)(json_t *))
{
	double deadline = w->timeout_ms > 0 ? client_now() + w->timeout_ms / 1e3 : 0;
	json_t *first, *final;
	struct ctl *c;
	int code;

	if ((c = client_connect_wait(cl, &code)) == NULL) {
		json_decref(req);
		return code;
	}
	json_object_set_new(req, "command", json_string(command));
	json_object_set_new(req, "ticket", json_true());
	code = CLIENT_EXIT_FAIL;
	if ((first = client_exchange(c, req, deadline, w->timeout)) != NULL &&
	    client_reply_ok(cl, first)) {
		if (!json_is_integer(json_object_get(first, "ticket")))
			fprintf(stderr, "caom2ingest: the daemon gave no ticket to wait for\n");
		else {
			if (!cl->json && print != NULL) {
				print(first);
				fflush(stdout);
			}
			if ((final = client_wait_ticket(cl, c,
			    (unsigned)client_int(first, "ticket"), w, deadline)) != NULL)
				code = client_report(cl, first, final);
			json_decref(final);
		}
	}
	json_decref(first);
	ctl_close(c);
	return code;
}

/* Parse --wait or --timeout (ch from getopt_long); 0, or -1 for a bad duration. */
static int
client_wait_option(struct client_wait *w, int ch, const char *arg)
{
	if (ch == 'w') {
		w->wait = 1;
		return 0;
	}
	if (conf_parse_duration(arg, &w->timeout_ms) != 0 || w->timeout_ms == 0) {
		fprintf(stderr, "caom2ingest: --timeout: '%s' is not a duration (such as 30s, 5m, "
		    "1h)\n", arg);
		return -1;
	}
	w->timeout = arg;
	return 0;
}

/* --timeout without --wait is a usage error. */
static int
client_wait_check(const char *command, const struct client_wait *w)
{
	if (w->timeout != NULL && !w->wait)
		return client_cmd_usage(command, "--timeout needs --wait"), -1;
	return 0;
}

/* Options of rescan and reload: [--wait [--timeout DURATION]]; 0 or -1 (usage). */
static int
client_wait_options(struct client *cl, int argc, char **argv, struct client_wait *w)
{
	static const struct option opts[] = { CLIENT_WAIT_OPTIONS, { NULL, 0, NULL, 0 } };
	int ch;

	optind = 0;
	while ((ch = client_getopt(cl, argc, argv, "wt:", opts)) != -1) {
		if (ch == '?' || client_wait_option(w, ch, optarg) != 0)
			return -1;
	}
	if (client_operands(argc, argv, 0, 0, NULL) != 0 || client_wait_check(argv[0], w) != 0)
		return -1;
	return 0;
}

static void
print_reingest(json_t *r)
{
	json_t *q = json_object_get(r, "queued"), *o;
	size_t i;

	if (json_object_get(r, "requeued") != NULL)
		printf("%lld failed observations queued again\n",
		    (long long)json_integer_value(json_object_get(r, "requeued")));
	json_array_foreach(q, i, o)
		printf("queued %s/%s\n", json_string_value(json_object_get(o, "collection")),
		    json_string_value(json_object_get(o, "observation")));
}

static int
cmd_reingest(struct client *cl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "failed", no_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		CLIENT_WAIT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct client_wait w = { 0, 0, NULL };
	json_t *req = json_object();
	char *abs;
	int ch, failed = 0;

	optind = 0;
	while ((ch = client_getopt(cl, argc, argv, "Ffwt:", opts)) != -1) {
		if (ch == 'F')
			failed = 1;
		else if (ch == 'f')
			json_object_set_new(req, "force", json_true());
		else if (ch == '?' || client_wait_option(&w, ch, optarg) != 0)
			goto usage;
	}
	if (client_wait_check(argv[0], &w) != 0)
		goto usage;
	if (failed && optind < argc) {
		client_cmd_usage(argv[0], "--failed takes no target ('%s')", argv[optind]);
		goto usage;
	}
	if (failed)
		json_object_set_new(req, "failed", json_true());
	else if (client_operands(argc, argv, 1, 1,
	    "FILE, COLLECTION/OBSERVATION_ID or --failed") != 0)
		goto usage;
	else {
		/* a file is sent as an absolute path: the daemon has another cwd */
		abs = argv[optind][0] != '/' && access(argv[optind], F_OK) == 0 ?
		    realpath(argv[optind], NULL) : NULL;
		json_object_set_new(req, "target", json_string(abs ? abs : argv[optind]));
		free(abs);
	}
	if (w.wait)
		return client_queue_and_wait(cl, "reingest", req, &w, print_reingest);
	return client_simple(cl, "reingest", req, print_reingest);
usage:
	json_decref(req);
	return CLIENT_EXIT_USAGE;
}

static void
print_done(json_t *r)
{
	printf("done\n");
}

static int
cmd_rescan(struct client *cl, int argc, char **argv)
{
	struct client_wait w = { 0, 0, NULL };

	if (client_wait_options(cl, argc, argv, &w) != 0)
		return CLIENT_EXIT_USAGE;
	if (w.wait)
		return client_queue_and_wait(cl, "rescan", json_object(), &w, NULL);
	return client_simple(cl, "rescan", json_object(), print_done);
}

static int
cmd_wait(struct client *cl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct client_wait w = { 1, 0, NULL };
	json_t *first, *final;
	struct ctl *c;
	char *end;
	long ticket;
	int ch, code;

	optind = 0;
	while ((ch = client_getopt(cl, argc, argv, "t:", opts)) != -1) {
		if (ch == '?' || client_wait_option(&w, ch, optarg) != 0)
			return CLIENT_EXIT_USAGE;
	}
	if (client_operands(argc, argv, 1, 1, "TICKET") != 0)
		return CLIENT_EXIT_USAGE;
	if ((ticket = strtol(argv[optind], &end, 10)) < 1 || *end != '\0' ||
	    ticket > (long)UINT32_MAX)
		return client_cmd_usage(argv[0], "'%s' is not a ticket number", argv[optind]);
	if ((c = client_connect_wait(cl, &code)) == NULL)
		return code;
	code = CLIENT_EXIT_FAIL;
	first = json_object();
	if ((final = client_wait_ticket(cl, c, (unsigned)ticket, &w, w.timeout_ms > 0 ?
	    client_now() + w.timeout_ms / 1e3 : 0)) != NULL)
		code = client_report(cl, first, final);
	json_decref(final);
	json_decref(first);
	ctl_close(c);
	return code;
}

static int
client_pause_resume(struct client *cl, int argc, char **argv, const char *command)
{
	json_t *req;

	if (client_plain_args(cl, argc, argv, 0, 1, NULL) != 0)
		return CLIENT_EXIT_USAGE;
	req = json_object();
	if (optind < argc)
		json_object_set_new(req, "collection", json_string(argv[optind]));
	return client_simple(cl, command, req, print_done);
}

static int
cmd_pause(struct client *cl, int argc, char **argv)
{
	return client_pause_resume(cl, argc, argv, "pause");
}

static int
cmd_resume(struct client *cl, int argc, char **argv)
{
	return client_pause_resume(cl, argc, argv, "resume");
}

/* The daemon answers reload once the configuration is in force or refused: --wait
 * changes nothing but allows --timeout. */
static int
cmd_reload(struct client *cl, int argc, char **argv)
{
	struct client_wait w = { 0, 0, NULL };
	json_t *reply;
	int code;

	if (client_wait_options(cl, argc, argv, &w) != 0)
		return CLIENT_EXIT_USAGE;
	if ((reply = client_call_within(cl, json_pack("{s:s}", "command", "reload"), &w,
	    &code)) == NULL)
		return code;
	if (cl->json) {
		json_dumpf(reply, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		print_done(reply);
	json_decref(reply);
	return CLIENT_EXIT_OK;
}

/* The XSD directory: --xsd-dir, else $CAOM2INGEST_XSD_DIR, else the installed copy. */
static const char *
client_xsd_dir(const char *opt)
{
	const char *env = getenv("CAOM2INGEST_XSD_DIR");

	if (opt != NULL)
		return opt;
	if (env != NULL && *env != '\0')
		return env;
	return PKGDATADIR "/xsd";
}

static int
cmd_verify(struct client *cl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "xsd-dir", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 }
	};
	const char *xsd = NULL;
	int ch, i, bad = 0;

	optind = 0;
	while ((ch = client_getopt(cl, argc, argv, "x:", opts)) != -1) {
		if (ch == '?')
			return CLIENT_EXIT_USAGE;
		xsd = optarg;
	}
	if (client_operands(argc, argv, 1, INT_MAX, "FILE.xml") != 0)
		return CLIENT_EXIT_USAGE;
	xsd = client_xsd_dir(xsd);
	for (i = optind; i < argc; i++) {
		if (caom_xml_verify_file(argv[i], xsd, stdout) != 0)
			bad++;
		else if (!cl->json)
			printf("%s: OK\n", argv[i]);
	}
	caom_xml_cleanup();
	return bad > 0 ? CLIENT_EXIT_FAIL : CLIENT_EXIT_OK;
}

static int
cmd_map(struct client *cl, int argc, char **argv)
{
	(void)cl;
	return client_map(argc, argv);
}

static int
cmd_preview(struct client *cl, int argc, char **argv)
{
	(void)cl;
	return client_preview(argc, argv);
}

static int
cmd_store(struct client *cl, int argc, char **argv)
{
	return client_store(argc, argv, cl->config, cl->json);
}

static const struct client_command client_commands[] = {
	{ "status", cmd_status, "status" },
	{ "stats", cmd_stats, "stats" },
	{ "list", cmd_list, "list [--state S] [--collection C] [--limit N]" },
	{ "show", cmd_show, "show COLLECTION/OBSERVATION_ID" },
	{ "reingest", cmd_reingest, "reingest FILE|COLLECTION/OBSERVATION_ID|--failed [--force]\n"
	    "      [--wait [--timeout DURATION]]" },
	{ "rescan", cmd_rescan, "rescan [--wait [--timeout DURATION]]" },
	{ "pause", cmd_pause, "pause [COLLECTION]" },
	{ "resume", cmd_resume, "resume [COLLECTION]" },
	{ "reload", cmd_reload, "reload [--wait [--timeout DURATION]]" },
	{ "wait", cmd_wait, "wait TICKET [--timeout DURATION]" },
	{ "verify", cmd_verify, "verify [--xsd-dir DIR] FILE.xml..." },
	{ "map", cmd_map, "map --observation C ID --lineage P/URI... --local FILE...\n"
	    "      (--blueprint F... | --config F --default F --override F)\n"
	    "      [--in X.xml] [--artifact-info TSV] [-o OUT.xml]\n"
	    "  map --collection FILE.yml... [--in X.xml] [--artifact-info TSV]\n"
	    "      [-o OUT.xml | --outdir DIR] FILE..." },
	{ "preview", cmd_preview, "preview FILE [-o OUT] [--size N] [-t THUMB] [--scale S]\n"
	    "      [--stretch S] [--invert] [--hdu N] [--print-limits] ..." },
	{ "store", cmd_store, "store [--collection C] [--uri URI | --uri-template T]\n"
	    "      [--si URL | --directory DIR | --s3-bucket B] FILE..." },
	{ NULL, NULL, NULL }
};

/* What was wrong with a command's line (fmt NULL: --help, to stdout), then its
 * synopsis; the usage exit code. */
static int
client_cmd_usage(const char *name, const char *fmt, ...)
{
	const struct client_command *c;
	FILE *fp = fmt != NULL ? stderr : stdout;
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "caom2ingest %s: ", name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	for (c = client_commands; c->name != NULL && strcmp(c->name, name) != 0; c++)
		;
	if (c->name != NULL)
		fprintf(fp, "usage: caom2ingest %s\n", c->synopsis);
	return CLIENT_EXIT_USAGE;
}

static void
client_usage(FILE *fp)
{
	const struct client_command *c;

	fprintf(fp, "usage: caom2ingest [-s SOCKET] [-c CONFIG] [--json] COMMAND [ARGS...]\n"
	    "       caom2ingest --version | --help\n\ncommands:\n");
	for (c = client_commands; c->name != NULL; c++)
		fprintf(fp, "  %s\n", c->synopsis);
	fprintf(fp, "\nSee caom2ingest(1).\n");
}

static int
client_options(struct client *cl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+s:c:jVh", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			cl->socket = optarg;
			break;
		case 'c':
			cl->config = optarg;
			break;
		case 'j':
			cl->json = 1;
			break;
		case 'V':
			printf("caom2ingest %s\n", PACKAGE_VERSION);
			exit(CLIENT_EXIT_OK);
		case 'h':
			client_usage(stdout);
			exit(CLIENT_EXIT_OK);
		default:
			return -1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "caom2ingest: no command given\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct client_command *c;
	struct client cl = { NULL, NULL, 0 };
	int first;

	if (client_options(&cl, argc, argv) != 0 || optind >= argc) {
		client_usage(stderr);
		return CLIENT_EXIT_USAGE;
	}
	first = optind;
	/* libxml2 and libcurl, once, before anything runs (see caom_xml.h, curlev.h) */
	caom_xml_init();
	if (curlev_global_init() != 0) {
		fprintf(stderr, "caom2ingest: cannot initialise libcurl\n");
		return CLIENT_EXIT_FAIL;
	}
	for (c = client_commands; c->name != NULL; c++) {
		if (strcmp(c->name, argv[first]) == 0)
			return c->run(&cl, argc - first, argv + first);
	}
	fprintf(stderr, "caom2ingest: unknown command '%s'\n", argv[first]);
	client_usage(stderr);
	return CLIENT_EXIT_USAGE;
}
