/*
 * cmd_store.c - `caom2ingest store`: store files by hand, with the daemon's
 * storage client (sinks/storage.h) and the configuration's storage
 * (global, or a collection's; --si, --directory or --s3-bucket instead),
 * each file keyed by its artifact URI: from --uri, --uri-template, or the
 * collection's naming rules, as the daemon would name it.
 *
 * The files are read and hashed here, in place (a command-line tool may
 * wait on its disk); one line per file says what storage did. Nothing is
 * kept: a put transaction or multipart upload cut short is left to the
 * server's expiry.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "caom/artifact.h"
#include "client/client.h"
#include "conf/conf.h"
#include "conf/rules.h"
#include "sinks/storage.h"
#include "lib/xmalloc.h"

struct store_args {
	const char	*config;
	const char	*collection;
	const char	*uri;
	const char	*uri_template;
	const char	*type;
	const char	*si;
	const char	*directory;
	const char	*bucket;
	const char	*prefix;
	const char	*cert;
	const char	*token_file;
	const char	*netrc;
	const char	*ca_path;
	long		 concurrency;
	int		 json;
};

struct store_one {
	struct store_run	*run;
	const char		*path;
	char			*uri;
	struct artifact_facts	 facts;
	enum storage_result	 result;
	char			*message;
	int64_t			 sent;
	double			 start;
	double			 seconds;
};

struct store_run {
	struct ev_loop		*loop;
	struct store_one	*v;
	size_t			 n;
	size_t			 left;
};

static int
store_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "caom2ingest store: %s\n", why);
	fprintf(stderr, "usage: caom2ingest [-c CONFIG] store [--collection C]\n"
	    "           [--uri URI | --uri-template TEMPLATE] [--type CONTENT-TYPE]\n"
	    "           [--si URL [--cert PEM | --token-file F | --netrc F] [--ca-path P] |\n"
	    "            --directory DIR | --s3-bucket B [--s3-prefix P]]\n"
	    "           [--concurrency N] FILE...\n");
	return CLIENT_EXIT_USAGE;
}

/* Run the work in place: caom2ingest may block. */
static void
store_in_place(void *ctx, storage_work_fn *fn, storage_work_fn *done, void *arg)
{
	(void)ctx;
	fn(arg);
	done(arg);
}

static void
store_done(void *arg, enum storage_result result, const char *message, int64_t sent)
{
	struct store_one *o = arg;

	o->result = result;
	o->message = xstrdup(message);
	o->sent = sent;
	o->seconds = ev_time() - o->start;
	if (--o->run->left == 0)
		ev_break(o->run->loop, EVBREAK_ALL);
}

/* ${file} and ${collection} in a template. */
static char *
store_expand(const char *tmpl, const char *file, const char *collection)
{
	char *out = xstrdup(""), *next;
	const char *p = tmpl, *val;

	while (*p != '\0') {
		if (strncmp(p, "${file}", 7) == 0) {
			val = file;
			p += 7;
		} else if (strncmp(p, "${collection}", 13) == 0 && collection != NULL) {
			val = collection;
			p += 13;
		} else {
			next = xasprintf("%s%c", out, *p++);
			free(out);
			out = next;
			continue;
		}
		next = xasprintf("%s%s", out, val);
		free(out);
		out = next;
	}
	return out;
}

static const struct conf_collection *
store_collection(const struct conf *cfg, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < cfg->collections.n; i++) {
		if (strcmp(cfg->collections.v[i].name, name) == 0)
			return &cfg->collections.v[i];
	}
	return NULL;
}

/* The URI of path: --uri, --uri-template, or the collection's rules. */
static char *
store_uri(const struct store_args *a, const struct rules *rules, const char *path)
{
	const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	struct rules_result res;
	char *uri;

	if (a->uri != NULL)
		return xstrdup(a->uri);
	if (a->uri_template != NULL)
		return store_expand(a->uri_template, base, a->collection);
	if (rules == NULL || rules_classify(rules, path, &res) != RULES_MATCHED)
		return NULL;
	uri = xstrdup(res.uri);
	rules_result_free(&res);
	return uri;
}

static struct rules *
store_rules(const struct conf_collection *c, char **cause)
{
	struct rules_spec *specs = xcalloc(c->rules.n + 1, sizeof *specs);
	struct rules *r;
	size_t i;

	for (i = 0; i < c->rules.n; i++) {
		specs[i].match = c->rules.v[i].match;
		specs[i].observation = c->rules.v[i].observation;
		specs[i].product = c->rules.v[i].product;
		specs[i].uri = c->rules.v[i].uri;
	}
	r = rules_new(c->name, (const char *const *)c->include.v,
	    (const char *const *)c->exclude.v, specs, c->rules.n, cause);
	free(specs);
	return r;
}

/* The configuration's storage s (NULL: none yet) into sc. */
static void
store_config_conf(const struct conf *cfg, const struct conf_storage *s,
    struct storage_config *sc)
{
	sc->big = (uint64_t)5 << 30;
	sc->piece = (uint64_t)2 << 30;
	sc->region = cfg->s3.region;
	sc->credentials = cfg->s3.credentials;
	sc->profile = cfg->s3.profile;
	if (s == NULL)
		return;
	sc->kind = s->si.url != NULL ? STORAGE_SI : s->s3.bucket != NULL ? STORAGE_S3 :
	    STORAGE_DIR;
	sc->url = sc->kind == STORAGE_SI ? s->si.url : cfg->s3.endpoint;
	sc->cert = s->si.cert;
	sc->token_file = s->si.token_file;
	sc->netrc = s->si.netrc;
	sc->ca_path = sc->kind == STORAGE_SI ? s->si.ca_path : cfg->s3.ca_path;
	sc->bucket = s->s3.bucket;
	sc->prefix = s->s3.prefix;
	sc->directory = s->directory;
	sc->big = sc->kind == STORAGE_SI ? s->si.txn_threshold : s->s3.multipart_threshold;
	sc->piece = sc->kind == STORAGE_SI ? s->si.segment_size : s->s3.part_size;
	sc->timeout_ms = s->timeout_ms;
	sc->concurrency = (unsigned)s->concurrency;
}

/* The storage to use: the command line's, else the configuration's. */
static int
store_config(const struct store_args *a, const struct conf *cfg,
    const struct conf_collection *c, struct storage_config *sc, char **cause)
{
	const struct conf_storage *s = conf_storage_of(cfg, c);

	memset(sc, 0, sizeof *sc);
	store_config_conf(cfg, s, sc);
	sc->submit = store_in_place;
	sc->retry_attempts = 1;
	if (a->concurrency > 0 || s == NULL)
		sc->concurrency = a->concurrency > 0 ? (unsigned)a->concurrency : 4;
	if (a->si != NULL) {
		if (sc->kind != STORAGE_SI) {
			sc->big = (uint64_t)5 << 30;
			sc->piece = (uint64_t)2 << 30;
		}
		sc->kind = STORAGE_SI;
		sc->url = a->si;
		sc->cert = a->cert;
		sc->token_file = a->token_file;
		sc->netrc = a->netrc;
		sc->ca_path = a->ca_path;
	} else if (a->directory != NULL) {
		sc->kind = STORAGE_DIR;
		sc->directory = a->directory;
	} else if (a->bucket != NULL) {
		if (sc->kind != STORAGE_S3) {
			sc->big = (uint64_t)64 << 20;
			sc->piece = (uint64_t)16 << 20;
		}
		sc->kind = STORAGE_S3;
		sc->url = cfg->s3.endpoint;
		sc->ca_path = cfg->s3.ca_path;
		sc->bucket = a->bucket;
		sc->prefix = a->prefix;
	} else if (s == NULL) {
		*cause = xstrdup("no storage: the configuration has none (storage:), and no "
		    "--si, --directory or --s3-bucket was given");
		return -1;
	}
	return 0;
}

static void
store_print(const struct store_args *a, const struct store_run *run, int *bad)
{
	json_t *arr = json_array();
	const struct store_one *o;
	size_t i;

	for (i = 0; i < run->n; i++) {
		o = &run->v[i];
		if (o->result > STORAGE_UPDATED)
			(*bad)++;
		if (a->json) {
			json_array_append_new(arr, json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I, s:f}",
			    "file", o->path, "uri", o->uri, "result", storage_result_name(o->result),
			    "message", o->message != NULL ? o->message : "", "size",
			    (json_int_t)o->facts.length, "sent", (json_int_t)o->sent,
			    "seconds", o->seconds));
			continue;
		}
		if (o->result > STORAGE_UPDATED)
			fprintf(stderr, "caom2ingest: %s%s%s%s: %s\n", o->path, o->uri ? " (" : "",
			    o->uri ? o->uri : "", o->uri ? ")" : "", o->message);
		else
			printf("%s: %s %s (%lld bytes, %s; %s)\n", o->path, o->uri,
			    storage_result_name(o->result), (long long)o->facts.length,
			    o->facts.md5, o->message);
	}
	if (a->json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(arr);
}

/* Read each file's facts (in place) and put it. */
static void
store_files(const struct store_args *a, struct storage *st, const struct rules *rules,
    struct store_run *run, char **files)
{
	struct storage_file f;
	struct store_one *o;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < run->n; i++) {
		o = &run->v[i];
		o->run = run;
		o->path = files[i];
		o->start = ev_time();
		o->result = STORAGE_PERMANENT;
		if ((o->uri = store_uri(a, rules, o->path)) == NULL)
			o->message = xasprintf("%s: no artifact URI (no --uri or --uri-template, "
			    "and no rule of the collection matches its name)", o->path);
		else if (artifact_facts_read(o->path, &o->facts, &cause) != 0) {
			o->message = cause;
			cause = NULL;
		} else {
			memset(&f, 0, sizeof f);
			f.path = o->path;
			f.uri = o->uri;
			f.md5 = o->facts.md5;
			f.size = o->facts.length;
			f.type = a->type != NULL ? a->type : o->facts.type;
			f.encoding = storage_encoding_of(o->path);
			run->left++;
			storage_put(st, &f, NULL, store_done, o);
		}
	}
	if (run->left > 0)
		ev_run(run->loop, 0);
}

static int
store_run(const struct store_args *a, const struct conf *cfg, char **files, size_t n)
{
	const struct conf_collection *c = store_collection(cfg, a->collection);
	struct storage_config sc;
	struct store_run run;
	struct rules *rules = NULL;
	struct storage *st;
	char *cause = NULL;
	size_t i;
	int bad = 0;

	if (a->collection != NULL && c == NULL) {
		fprintf(stderr, "caom2ingest store: no collection %s in %s\n", a->collection,
		    cfg->path != NULL ? cfg->path : "the configuration");
		return CLIENT_EXIT_USAGE;
	}
	if ((c != NULL && a->uri == NULL && a->uri_template == NULL &&
	    (rules = store_rules(c, &cause)) == NULL) || store_config(a, cfg, c, &sc, &cause) != 0) {
		fprintf(stderr, "caom2ingest store: %s\n", cause);
		free(cause);
		return CLIENT_EXIT_FAIL;
	}
	memset(&run, 0, sizeof run);
	run.loop = ev_loop_new(EVFLAG_AUTO);
	if ((st = storage_new(run.loop, &sc, &cause)) == NULL) {
		fprintf(stderr, "caom2ingest store: %s\n", cause);
		free(cause);
		rules_free(rules);
		ev_loop_destroy(run.loop);
		return CLIENT_EXIT_FAIL;
	}
	run.n = n;
	run.v = xcalloc(n, sizeof *run.v);
	store_files(a, st, rules, &run, files);
	store_print(a, &run, &bad);
	for (i = 0; i < n; i++) {
		free(run.v[i].uri);
		free(run.v[i].message);
	}
	free(run.v);
	storage_free(st);
	rules_free(rules);
	ev_loop_destroy(run.loop);
	return bad > 0 ? CLIENT_EXIT_FAIL : CLIENT_EXIT_OK;
}

static int
store_option(struct store_args *a, int ch, const char *arg)
{
	const char **slot[] = {
		['C'] = &a->collection, ['u'] = &a->uri, ['t'] = &a->uri_template,
		['T'] = &a->type, ['S'] = &a->si, ['d'] = &a->directory, ['b'] = &a->bucket,
		['p'] = &a->prefix, ['c'] = &a->cert, ['k'] = &a->token_file, ['n'] = &a->netrc,
		['a'] = &a->ca_path,
	};

	if (ch == 'N') {
		a->concurrency = atol(arg);
		return a->concurrency >= 1 && a->concurrency <= 1000 ? 0 : -1;
	}
	if (ch < 0 || (size_t)ch >= sizeof slot / sizeof slot[0] || slot[ch] == NULL)
		return -1;
	*slot[ch] = arg;
	return 0;
}

/* Arguments that go together; 0, or the usage exit. */
static int
store_check(const struct store_args *a, int nfiles)
{
	if (nfiles < 1)
		return store_usage("no FILE given");
	if (a->uri != NULL && nfiles > 1)
		return store_usage("--uri names one file's URI: give one FILE");
	if ((a->uri != NULL) + (a->uri_template != NULL) > 1 ||
	    (a->si != NULL) + (a->directory != NULL) + (a->bucket != NULL) > 1)
		return store_usage("--uri and --uri-template, and --si, --directory and "
		    "--s3-bucket, exclude each other");
	if (a->uri == NULL && a->uri_template == NULL && a->collection == NULL)
		return store_usage("give --uri, --uri-template or --collection (its rules name "
		    "the files)");
	return 0;
}

int
client_store(int argc, char **argv, const char *config, int json)
{
	static const struct option opts[] = {
		{ "collection", required_argument, NULL, 'C' },
		{ "uri", required_argument, NULL, 'u' },
		{ "uri-template", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' },
		{ "si", required_argument, NULL, 'S' },
		{ "directory", required_argument, NULL, 'd' },
		{ "s3-bucket", required_argument, NULL, 'b' },
		{ "s3-prefix", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 'k' },
		{ "netrc", required_argument, NULL, 'n' },
		{ "ca-path", required_argument, NULL, 'a' },
		{ "concurrency", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	struct store_args a;
	struct conf *cfg = NULL;
	char *errors = NULL;
	int ch, r;

	memset(&a, 0, sizeof a);
	a.config = config;
	a.json = json;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (store_option(&a, ch, optarg) != 0)
			return store_usage(NULL);
	}
	if ((r = store_check(&a, argc - optind)) != 0)
		return r;
	if (config != NULL && conf_load(config, &cfg, &errors) != 0) {
		fprintf(stderr, "caom2ingest: %s\n", errors);
		free(errors);
		return CLIENT_EXIT_FAIL;
	}
	if (cfg == NULL && (conf_load(CONF_DEFAULT_PATH, &cfg, &errors) != 0 || cfg == NULL)) {
		free(errors);
		cfg = conf_new();
	}
	r = store_run(&a, cfg, argv + optind, (size_t)(argc - optind));
	conf_free(cfg);
	return r;
}
