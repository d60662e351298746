/*
 * client.c - caom2ingest: the command-line client. Global options, then a
 * command from client_commands; control commands talk to the daemon's
 * control socket (ctl.c) and print tables for people or JSON for scripts.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "caom_xml.h"
#include "client.h"
#include "conf.h"
#include "ctl.h"
#include "xmalloc.h"

struct client {
	const char	*socket;	/* -s, or from the configuration */
	const char	*config;	/* -c */
	int		 json;		/* --json */
};

struct client_command {
	const char	*name;
	int		(*run)(struct client *cl, int argc, char **argv);
	const char	*synopsis;
};

static void client_usage(FILE *fp);

/* The control socket: -s, else the configuration's control_socket, else the default. */
static char *
client_socket(const struct client *cl)
{
	struct conf *cfg = NULL;
	char *errors = NULL, *path;

	if (cl->socket != NULL)
		return xstrdup(cl->socket);
	if (conf_load(cl->config != NULL ? cl->config : CONF_DEFAULT_PATH, &cfg, &errors) != 0) {
		if (cl->config != NULL)
			fprintf(stderr, "caom2ingest: %s\n", errors);
		free(errors);
		cfg = conf_new();
	}
	path = xstrdup(cfg->control_socket);
	conf_free(cfg);
	return path;
}

/* Send one request (ownership taken); print errors; the reply or NULL with *code. */
static json_t *
client_call(struct client *cl, json_t *req, int *code)
{
	enum ctl_result result;
	char *path = client_socket(cl), *cause = NULL;
	struct ctl *c;
	json_t *reply = NULL;

	*code = CLIENT_EXIT_FAIL;
	if ((c = ctl_connect(path, &result, &cause)) != NULL)
		reply = ctl_request(c, req, &cause);
	else if (result == CTL_NODAEMON)
		*code = CLIENT_EXIT_NODAEMON;
	json_decref(req);
	ctl_close(c);
	free(path);
	if (reply == NULL) {
		fprintf(stderr, "caom2ingest: %s\n", cause);
		free(cause);
		return NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "caom2ingest: %s\n",
		    json_string_value(json_object_get(reply, "error")) ?: "request failed");
		if (cl->json)
			json_dumpf(reply, stdout, JSON_INDENT(2)), putchar('\n');
		json_decref(reply);
		return NULL;
	}
	*code = CLIENT_EXIT_OK;
	return reply;
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

static int
client_no_args(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "caom2ingest %s: unexpected argument '%s'\n", argv[0], argv[1]);
		return -1;
	}
	return 0;
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
	if (client_no_args(argc, argv) != 0)
		return CLIENT_EXIT_USAGE;
	return client_simple(cl, "stats", json_object(), print_stats);
}

static int
cmd_status(struct client *cl, int argc, char **argv)
{
	if (client_no_args(argc, argv) != 0)
		return CLIENT_EXIT_USAGE;
	return client_simple(cl, "status", json_object(), print_status);
}

static void
print_obs_row(json_t *o)
{
	printf("%-10s %-28s %-9s %8lld  %s\n",
	    json_string_value(json_object_get(o, "collection")),
	    json_string_value(json_object_get(o, "observation")),
	    json_string_value(json_object_get(o, "status")),
	    (long long)json_integer_value(json_object_get(o, "attempts")),
	    json_string_value(json_object_get(o, "last_error")) ?: "");
}

static void
print_list(json_t *r)
{
	json_t *o;
	size_t i;

	printf("%-10s %-28s %-9s %8s  %s\n", "COLLECTION", "OBSERVATION", "STATUS", "ATTEMPTS",
	    "LAST ERROR");
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
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:C:n:", opts, NULL)) != -1) {
		if (ch == 's' || ch == 'C')
			json_object_set_new(req, ch == 's' ? "state" : "collection",
			    json_string(optarg));
		else if (ch == 'n' && atol(optarg) > 0)
			json_object_set_new(req, "limit", json_integer(atol(optarg)));
		else {
			fprintf(stderr, "usage: caom2ingest list [--state S] [--collection C] "
			    "[--limit N]\n");
			json_decref(req);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (client_no_args(argc - optind + 1, argv + optind - 1) != 0) {
		json_decref(req);
		return CLIENT_EXIT_USAGE;
	}
	return client_simple(cl, "list", req, print_list);
}

static void
print_show(json_t *r)
{
	json_t *o = json_object_get(r, "observation"), *f;
	size_t i;

	printf("%-16s%s/%s\n", "observation", json_string_value(json_object_get(o, "collection")),
	    json_string_value(json_object_get(o, "observation")));
	printf("%-16s%s\n", "status", json_string_value(json_object_get(o, "status")));
	printf("%-16s%lld\n", "attempts", (long long)json_integer_value(json_object_get(o,
	    "attempts")));
	printf("%-16s%s\n", "last error", json_string_value(json_object_get(o, "last_error"))
	    ?: "-");
	printf("%-16s%s\n", "pushed checksum",
	    json_string_value(json_object_get(o, "pushed_checksum")) ?: "-");
	json_array_foreach(json_object_get(r, "files"), i, f)
		printf("%-16s%s (%lld bytes, %s, %s)\n", i == 0 ? "files" : "",
		    json_string_value(json_object_get(f, "path")),
		    (long long)json_integer_value(json_object_get(f, "size")),
		    json_string_value(json_object_get(f, "uri")),
		    json_string_value(json_object_get(f, "status")));
}

static int
cmd_show(struct client *cl, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: caom2ingest show COLLECTION/OBSERVATION_ID\n");
		return CLIENT_EXIT_USAGE;
	}
	return client_simple(cl, "show", json_pack("{s:s}", "observation", argv[1]), print_show);
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
		{ NULL, 0, NULL, 0 }
	};
	json_t *req = json_object();
	char *abs;
	int ch, failed = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "Ff", opts, NULL)) != -1) {
		if (ch == 'F')
			failed = 1;
		else if (ch == 'f')
			json_object_set_new(req, "force", json_true());
		else
			goto usage;
	}
	if (failed && optind == argc)
		json_object_set_new(req, "failed", json_true());
	else if (!failed && optind == argc - 1) {
		/* a file is sent as an absolute path: the daemon has another cwd */
		abs = argv[optind][0] != '/' && access(argv[optind], F_OK) == 0 ?
		    realpath(argv[optind], NULL) : NULL;
		json_object_set_new(req, "target", json_string(abs ? abs : argv[optind]));
		free(abs);
	} else
		goto usage;
	return client_simple(cl, "reingest", req, print_reingest);
usage:
	fprintf(stderr, "usage: caom2ingest reingest FILE|COLLECTION/OBSERVATION_ID|--failed "
	    "[--force]\n");
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
	if (client_no_args(argc, argv) != 0)
		return CLIENT_EXIT_USAGE;
	return client_simple(cl, "rescan", json_object(), print_done);
}

static int
client_pause_resume(struct client *cl, int argc, char **argv, const char *command)
{
	json_t *req = json_object();

	if (argc > 2) {
		fprintf(stderr, "usage: caom2ingest %s [COLLECTION]\n", command);
		json_decref(req);
		return CLIENT_EXIT_USAGE;
	}
	if (argc == 2)
		json_object_set_new(req, "collection", json_string(argv[1]));
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

static int
cmd_reload(struct client *cl, int argc, char **argv)
{
	if (client_no_args(argc, argv) != 0)
		return CLIENT_EXIT_USAGE;
	return client_simple(cl, "reload", json_object(), print_done);
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

	optind = 1;
	while ((ch = getopt_long(argc, argv, "x:", opts, NULL)) != -1) {
		if (ch != 'x') {
			optind = argc + 1;
			break;
		}
		xsd = optarg;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: caom2ingest verify [--xsd-dir DIR] FILE.xml...\n");
		return CLIENT_EXIT_USAGE;
	}
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

static const struct client_command client_commands[] = {
	{ "status", cmd_status, "status" },
	{ "stats", cmd_stats, "stats" },
	{ "list", cmd_list, "list [--state S] [--collection C] [--limit N]" },
	{ "show", cmd_show, "show COLLECTION/OBSERVATION_ID" },
	{ "reingest", cmd_reingest, "reingest FILE|COLLECTION/OBSERVATION_ID|--failed [--force]" },
	{ "rescan", cmd_rescan, "rescan" },
	{ "pause", cmd_pause, "pause [COLLECTION]" },
	{ "resume", cmd_resume, "resume [COLLECTION]" },
	{ "reload", cmd_reload, "reload" },
	{ "verify", cmd_verify, "verify [--xsd-dir DIR] FILE.xml..." },
	{ "map", cmd_map, "map --observation C ID --lineage P/URI... --local FILE...\n"
	    "      (--blueprint F... | --config F --default F --override F)\n"
	    "      [--in X.xml] [--artifact-info TSV] [-o OUT.xml]" },
	{ NULL, NULL, NULL }
};

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
	for (c = client_commands; c->name != NULL; c++) {
		if (strcmp(c->name, argv[first]) == 0)
			return c->run(&cl, argc - first, argv + first);
	}
	fprintf(stderr, "caom2ingest: unknown command '%s'\n", argv[first]);
	client_usage(stderr);
	return CLIENT_EXIT_USAGE;
}
