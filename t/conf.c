/*
 * t/conf.c - the configuration loader: good files, and each kind of bad
 * input with its exact message.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/preview.h"
#include "conf/conf.h"
#include "conf/conf_preview.h"
#include "lib/xmalloc.h"
#include "tap.h"

/* want with every "%s" replaced by path. */
static char *
expand(const char *want, const char *path)
{
	size_t n = 0, plen = strlen(path);
	const char *p;
	char *out, *o;

	for (p = want; *p != '\0'; p++)
		n += (p[0] == '%' && p[1] == 's') ? plen : 1;
	o = out = malloc(n + 1);
	if (out == NULL)
		bail("out of memory");
	for (p = want; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's') {
			memcpy(o, path, plen);
			o += plen;
			p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Load t/data/conf/NAME and compare the errors with want (NULL: success). */
static void
check_file(const char *name, const char *want)
{
	struct conf *cfg = NULL;
	char *path, *errors = NULL, *expect = NULL;
	int r;

	path = test_data_path(name);
	r = conf_load(path, &cfg, &errors);
	if (want == NULL) {
		ok(r == 0 && cfg != NULL, "%s loads", name);
		if (r != 0)
			diag("%s", errors);
	} else {
		expect = expand(want, path);
		ok(r == -1 && cfg == NULL, "%s is refused", name);
		is_string(expect, errors, "%s: message", name);
	}
	conf_free(cfg);
	free(errors);
	free(expect);
	free(path);
}

static void
test_good(void)
{
	struct conf *cfg = NULL;
	char *path, *errors = NULL, *dir;

	path = test_data_path("conf/good.yml");
	ok(conf_load(path, &cfg, &errors) == 0, "good.yml loads");
	if (cfg == NULL)
		bail("good.yml: %s", errors);
	is_int(LOG_TARGET_STDERR, cfg->log_target, "log: stderr");
	is_int(LOG_DEBUG, cfg->log_level, "log_level: debug");
	dir = test_data_path("conf/state");
	is_string(dir, cfg->state_dir, "relative state_dir resolved against the file");
	is_string(path, cfg->path, "path recorded");
	free(dir);
	free(path);
	conf_free(cfg);
}

static void
test_storage(void)
{
	const struct conf_storage *st;
	struct conf *cfg = NULL;
	char *path, *errors = NULL, *want;

	path = test_data_path("conf/storage.yml");
	ok(conf_load(path, &cfg, &errors) == 0, "storage.yml loads");
	if (cfg == NULL)
		bail("storage.yml: %s", errors);
	st = conf_storage_of(cfg, &cfg->collections.v[0]);
	ok(st == &cfg->storage, "a collection without storage takes the global one");
	is_string("https://si.example.org/minoc/files", st->si.url, "storage.si.url");
	want = test_data_path("conf/si.token");
	is_string(want, st->si.token_file, "storage.si.token_file resolved against the file");
	free(want);
	ok(st->si.txn_threshold == (uint64_t)1 << 30 && st->si.segment_size == (uint64_t)256 << 20,
	    "transaction_threshold and segment_size in binary units");
	ok(st->concurrency == 6 && st->timeout_ms == 30000 && st->retry.initial_ms == 2000 &&
	    st->retry.max_ms == 300000 && st->retry.attempts == 7,
	    "storage concurrency, timeout, retry");
	st = conf_storage_of(cfg, &cfg->collections.v[1]);
	ok(st == &cfg->collections.v[1].storage && st->s3.bucket != NULL &&
	    strcmp(st->s3.bucket, "archive") == 0 && strcmp(st->s3.prefix, "lco/") == 0,
	    "a collection's own storage: s3 bucket and prefix");
	ok(st->si.url == NULL && st->s3.multipart_threshold == (uint64_t)100 << 20 &&
	    st->s3.part_size == (uint64_t)8 << 20 && st->concurrency == 4 &&
	    st->retry.initial_ms == 30000, "its own defaults, not the global section's values");
	st = conf_storage_of(cfg, &cfg->collections.v[2]);
	want = test_data_path("conf/archive");
	is_string(want, st->directory, "a directory store, resolved against the file");
	free(want);
	conf_free(cfg);
	free(path);
	cfg = conf_new();
	ok(conf_storage_of(cfg, NULL) == NULL, "no storage section: files are not stored");
	conf_free(cfg);
}

static void
test_objects(void)
{
	const struct conf_collection *c;
	struct conf *cfg = NULL;
	char *path, *errors = NULL, *want;

	path = test_data_path("conf/objects.yml");
	ok(conf_load(path, &cfg, &errors) == 0, "objects.yml loads");
	if (cfg == NULL)
		bail("objects.yml: %s", errors);
	want = test_data_path("conf/spool");
	is_string(want, cfg->spool_dir, "spool_dir resolved against the file");
	free(want);
	is_string("https://s3.example.org", cfg->s3.endpoint, "s3.endpoint");
	is_string("ca-central-1", cfg->s3.region, "s3.region");
	ok(cfg->s3.concurrency == 4 && cfg->s3.reconcile_ms == 1800000 &&
	    cfg->s3.retry.attempts == 3 && cfg->s3.retry.initial_ms == 5000,
	    "s3 concurrency, reconcile_interval, retry");
	is_string("127.0.0.1:8099", cfg->webhook.listen, "webhook.listen");
	is_int(65536, cfg->webhook.max_body, "webhook.max_body defaults to 64 KiB");
	is_string("amqps://caom@mq.example.org/archive", cfg->amqp.url, "amqp.url");
	want = test_data_path("conf/ca.pem");
	is_string(want, cfg->amqp.ca_path, "amqp.ca_path resolved against the file");
	free(want);
	is_int(50, cfg->amqp.prefetch, "amqp.prefetch");
	c = &cfg->collections.v[0];
	ok(c->landing.n == 0, "a collection without a landing directory");
	is_int(2, (long long)c->buckets.n, "two buckets");
	ok(strcmp(c->buckets.v[0].prefix, "raw/") == 0 && c->buckets.v[1].prefix == NULL,
	    "bucket prefixes");
	ok(c->queues.n == 1 && strcmp(c->queues.v[0], "omm-files") == 0, "a queue");
	ok(c->announce_from.n == 2 && strcmp(c->announce_from.v[0], "file:///srv/outbox/omm/") == 0 &&
	    strcmp(c->announce_from.v[1], "https://data.example.org/omm/") == 0,
	    "announce_from prefixes");
	free(path);
	conf_free(cfg);
}

static void
test_defaults(void)
{
	struct conf *cfg = conf_new();

	is_int(LOG_TARGET_AUTO, cfg->log_target, "default log target is auto");
	is_int(LOG_INFO, cfg->log_level, "default level is info");
	is_string(LOCALSTATEDIR "/lib/caom2ingest", cfg->state_dir, "default state_dir");
	is_int(0, cfg->scan_threads, "default scan_threads: 0 (one per CPU)");
	conf_free(cfg);
	conf_free(NULL);
	ok(1, "conf_free(NULL) is harmless");
}

static void
test_durations(void)
{
	static const struct { const char *text; int ok; uint64_t ms; } cases[] = {
		{ "250ms", 1, 250 }, { "2s", 1, 2000 }, { "5m", 1, 300000 },
		{ "1h", 1, 3600000 }, { "1d", 1, 86400000 }, { "7", 1, 7000 },
		{ "", 0, 0 }, { "s", 0, 0 }, { "-1s", 0, 0 }, { "2 s", 0, 0 },
		{ "3w", 0, 0 }, { "99999999999999999999s", 0, 0 },
	};
	uint64_t ms;
	size_t i;
	int r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ms = 0;
		r = conf_parse_duration(cases[i].text, &ms);
		if (cases[i].ok)
			ok(r == 0 && ms == cases[i].ms, "duration '%s' = %llu ms",
			    cases[i].text, (unsigned long long)cases[i].ms);
		else
			ok(r == -1, "duration '%s' refused", cases[i].text);
	}
}

static void
test_collections(void)
{
	struct conf *cfg = NULL;
	struct conf_collection *c;
	char *path, *errors = NULL, *incoming;

	path = test_data_path("conf/collections.yml");
	ok(conf_load(path, &cfg, &errors) == 0, "collections.yml loads");
	if (cfg == NULL)
		bail("collections.yml: %s", errors);
	ok(cfg->settle_ms == 2000 && cfg->rescan_ms == 300000 && cfg->poll_ms == 30000,
	    "settle, rescan_interval, poll_interval");
	is_int(3, cfg->scan_threads, "scan_threads");
	ok(cfg->ignore_suffixes.n == 3 && strcmp(cfg->ignore_suffixes.v[2], ".filepart") == 0,
	    "ignore_suffixes replaces the defaults");
	is_int(2, (long long)cfg->collections.n, "two collections");
	c = &cfg->collections.v[0];
	is_string("OMM", c->name, "name");
	incoming = test_data_path("conf/incoming");
	ok(c->landing.n == 2 && strcmp(c->landing.v[1], incoming) == 0,
	    "landing list, relative paths resolved");
	ok(c->include.n == 3 && c->exclude.n == 1, "include list, exclude as a single glob");
	ok(c->rules.n == 1 && strcmp(c->rules.v[0].product, "${obs}_${kind}") == 0, "a rule");
	ok(c->on_success.kind == CONF_KEEP && c->on_failure.kind == CONF_MOVE &&
	    strcmp(c->on_failure.dir, "/srv/failed/omm") == 0, "on_success keep, on_failure move");
	c = &cfg->collections.v[1];
	ok(c->poll == 1 && c->landing.n == 1 && c->on_success.kind == CONF_DELETE,
	    "poll: true, landing as one path, delete");
	ok(c->rules.n == 1 && c->rules.v[0].blueprint == NULL, "a flow-style rule");
	is_string("https://example.org/torkeep/observations", cfg->sink.repo.url, "sink.repo.url");
	ok(cfg->sink.repo.timeout_ms == 30000 && cfg->sink.repo.concurrency == 16,
	    "sink.repo timeout and concurrency");
	ok(cfg->sink.repo.retry.initial_ms == 1000 && cfg->sink.repo.retry.max_ms == 600000 &&
	    cfg->sink.repo.retry.attempts == 5, "sink.repo.retry as a flow mapping");
	free(incoming);
	free(path);
	conf_free(cfg);
}

static void
test_previews(void)
{
	const struct conf_previews *p;
	struct preview_opts o;
	struct conf *cfg = NULL;
	char *path, *errors = NULL, *dir, *t;

	path = test_data_path("conf/previews.yml");
	ok(conf_load(path, &cfg, &errors) == 0, "previews.yml loads");
	if (cfg == NULL)
		bail("previews.yml: %s", errors);
	p = &cfg->collections.v[0].rules.v[0].previews;
	ok(conf_preview_wanted(p) && !conf_preview_wanted(&cfg->collections.v[0].rules.v[1].previews),
	    "the first rule has previews, the second none");
	ok(strcmp(p->preview.uri, "cadc:OMM/${product}_prev.jpg") == 0 && p->preview.size == 1024 &&
	    p->thumbnail.size == 64, "preview and thumbnail: URIs, sizes (1024 by default)");
	ok(p->scale == PREVIEW_PERCENTILE && p->stretch == PREVIEW_ASINH && p->invert &&
	    p->on_error == 1 && p->timeout_ms == 5000 && p->quality == 90,
	    "scale, stretch, invert, on_error, timeout; quality 90 by default");
	dir = test_data_path("conf/previews");
	is_string(dir, p->directory, "directory resolved against the file");
	ok(conf_preview_options(p, &o, &errors) == 0 && o.low == 0.5 && o.high == 99.5 &&
	    o.hdu == -1 && o.kind == PREVIEW_KIND_AUTO && o.timeout_ms == 5000,
	    "as the preview module's options");
	t = conf_preview_template(&cfg->collections.v[0].rules.v[0], p->preview.uri);
	is_string("cadc:OMM/${obs}_${kind}_prev.jpg", t,
	    "${product} in a preview URI becomes the rule's product template");
	free(t);
	free(dir);
	free(path);
	conf_free(cfg);
}

/* want with every token replaced by value (the test data's directory in messages). */
static char *
subst(const char *want, const char *token, const char *value)
{
	size_t tlen = strlen(token), vlen = strlen(value), n = 0;
	const char *p;
	char *out, *o;

	for (p = want; *p != '\0'; p++) {
		if (strncmp(p, token, tlen) == 0) {
			n += vlen;
			p += tlen - 1;
		} else
			n++;
	}
	o = out = malloc(n + 1);
	if (out == NULL)
		bail("out of memory");
	for (p = want; *p != '\0'; p++) {
		if (strncmp(p, token, tlen) == 0) {
			memcpy(o, value, vlen);
			o += vlen;
			p += tlen - 1;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Collection files pulled in by include: globs, order, relative paths, the code keys. */
static void
test_includes(void)
{
	static const char *const names[] = { "MAIN", "DAO", "OMM", "OMM2", "ONE" };
	struct conf *cfg = NULL;
	const struct conf_collection *c;
	const struct conf_rule *r;
	char *path, *dir, *errors = NULL, *want, *got;
	size_t i;

	path = test_data_path("conf/inc/main.yml");
	dir = test_data_path("conf/inc");
	ok(conf_load(path, &cfg, &errors) == 0, "inc/main.yml with its collection files loads");
	if (cfg == NULL)
		bail("inc/main.yml: %s", errors);
	is_int(5, (long long)cfg->collections.n,
	    "5 collections: its own, then a.yml's, b.yml's two, one.yml's (included twice, read once)");
	for (i = 0; i < 5 && i < cfg->collections.n; i++)
		is_string(names[i], cfg->collections.v[i].name, "collection %zu is %s", i + 1,
		    names[i]);
	is_int(5, (long long)cfg->files.n,
	    "files read: main.yml, a.yml, b.yml, empty.yml, one.yml (once)");
	c = &cfg->collections.v[1];
	want = subst("@/coll.d/a.yml", "@", dir);
	is_string(want, c->file, "DAO: defined in coll.d/a.yml");
	free(want);
	is_int(2, c->line, "DAO: at line 2");
	want = subst("@/coll.d/land", "@", dir);
	is_string(want, c->landing.n == 1 ? c->landing.v[0] : NULL,
	    "DAO: landing relative to the collection file");
	free(want);
	want = subst("@/coll.d/code/dao.lua", "@", dir);
	is_string(want, c->code.functions, "DAO: functions");
	free(want);
	want = subst("@/coll.d/code/v1.lua @/coll.d/code/v2.lua", "@", dir);
	got = xasprintf("%s %s", c->code.visit.n > 0 ? c->code.visit.v[0] : "",
	    c->code.visit.n > 1 ? c->code.visit.v[1] : "");
	ok(c->code.visit.n == 2 && strcmp(want, got) == 0, "DAO: visit, two files in order");
	free(want);
	free(got);
	want = subst("filters=@/coll.d/code/filters.csv consts=@/coll.d/code/consts.yml", "@",
	    dir);
	got = c->code.tables.n == 2 ? xasprintf("%s=%s %s=%s", c->code.tables.v[0].name,
	    c->code.tables.v[0].path, c->code.tables.v[1].name, c->code.tables.v[1].path) :
	    xstrdup("");
	is_string(want, got, "DAO: tables, in order, resolved");
	free(want);
	free(got);
	r = &c->rules.v[0];
	want = subst("@/coll.d/code/rule.lua|@/coll.d/code/v2.lua|consts=@/coll.d/code/rule.csv|"
	    "@/coll.d/code/dao.blueprint", "@", dir);
	got = xasprintf("%s|%s|%s=%s|%s", r->code.functions, r->code.visit.n == 1 ?
	    r->code.visit.v[0] : "", r->code.tables.n == 1 ? r->code.tables.v[0].name : "",
	    r->code.tables.n == 1 ? r->code.tables.v[0].path : "", r->blueprint);
	is_string(want, got, "DAO rule 1: its own functions, visit (a scalar), tables, blueprint");
	free(want);
	free(got);
	r = &c->rules.v[1];
	ok(r->code.functions == NULL && r->code.visit.n == 0 && r->code.tables.n == 0,
	    "DAO rule 2: no code of its own");
	ok(cfg->collections.v[0].code.functions == NULL && cfg->collections.v[0].file == cfg->path,
	    "MAIN: no code, defined in main.yml");
	is_int(9, cfg->collections.v[3].line, "OMM2: line 9 of b.yml");
	conf_free(cfg);
	free(path);
	free(dir);

	/* a collection file alone: no landing directory needed */
	path = test_data_path("conf/inc/offline.yml");
	cfg = NULL;
	ok(conf_load_collections(path, &cfg, &errors) == 0 && cfg->collections.n == 1 &&
	    strcmp(cfg->collections.v[0].name, "DAOCADC") == 0,
	    "conf_load_collections: a collection without landing loads");
	conf_free(cfg);
	cfg = NULL;
	dir = test_data_path("conf/incland.yml");
	ok(conf_load(dir, &cfg, &errors) == -1, "included by the daemon's configuration, it is "
	    "refused...");
	want = xasprintf("%s:2: a landing directory, a bucket or a queue is required", path);
	is_string(want, errors, "...for want of a landing directory, at its own file and line");
	free(want);
	free(errors);
	free(dir);
	errors = NULL;
	free(path);
	path = test_data_path("conf/inc/coll.d/b.yml");
	ok(conf_load_collections(path, &cfg, &errors) == 0 && cfg->collections.n == 2,
	    "conf_load_collections: a list of two collections");
	conf_free(cfg);
	free(path);
	path = test_data_path("conf/inc/dup-offline.yml");
	cfg = NULL;
	ok(conf_load_collections(path, &cfg, &errors) == -1, "a collection file alone: a name "
	    "used twice is refused...");
	want = xasprintf("%s:3: [2]: name 'A' is already used by [1] (line 1)", path);
	is_string(want, errors, "...naming them by their place in the file");
	free(want);
	free(errors);
	errors = NULL;
	free(path);
	path = test_data_path("conf/inc/coll.d/empty.yml");
	cfg = NULL;
	ok(conf_load_collections(path, &cfg, &errors) == 0 && cfg->collections.n == 0,
	    "conf_load_collections: an empty file holds no collection");
	conf_free(cfg);
	free(path);

	/* every error of every file, with its file and line */
	path = test_data_path("conf/incbad/main.yml");
	dir = test_data_path("conf/incbad");
	cfg = NULL;
	ok(conf_load(path, &cfg, &errors) == -1 && cfg == NULL, "incbad/main.yml is refused");
	want = subst(
	    "@/main.yml:1: include: @/main.yml is this configuration file\n"
	    "@/bad.d/1-keys.yml:3: unknown key 'colour'\n"
	    "@/bad.d/1-keys.yml:4: functions: @/bad.d/nope.lua: No such file or directory\n"
	    "@/bad.d/1-keys.yml:5: visit: @/bad.d/gone.lua: No such file or directory\n"
	    "@/bad.d/1-keys.yml:7: tables: a table name is a letter or '_', then letters, digits "
	    "or '_'\n"
	    "@/bad.d/1-keys.yml:8: tables.ok: @/bad.d/t.txt: a table is a .csv, .yml or .yaml "
	    "file\n"
	    "@/bad.d/1-keys.yml:9: tables: @/bad.d/gone.csv: No such file or directory\n"
	    "@/bad.d/1-keys.yml:11: rules[1].match: missing terminating ] for character class "
	    "at offset 2\n"
	    "@/bad.d/2-scalar.yml:1: expected a collection (a mapping) or a list of them, got a "
	    "scalar\n"
	    "@/bad.d/3-list.yml:1: [1]: expected a collection (a mapping), got a scalar\n"
	    "@/bad.d/3-list.yml:9: [3]: a landing directory, a bucket or a queue is required\n"
	    "@/bad.d/3-list.yml:9: [3].rules: at least one rule is required\n"
	    "@/bad.d/4-syntax.yml:2: YAML syntax error: did not find expected ',' or ']' (while "
	    "parsing a flow sequence at line 1)\n"
	    "@/main.yml:1: include: @/missing.yml: No such file or directory\n"
	    "@/bad.d/3-list.yml:2: collection 'DUP': name 'DUP' is already used by "
	    "collections[1] (@/main.yml:3)", "@", dir);
	is_string(want, errors, "incbad: each error names its file and line; a glob matching "
	    "nothing (none.d/*.yml) is none");
	free(want);
	free(errors);
	free(path);
	free(dir);
}

int
main(void)
{
	plan(91 + 27 + 12);
	test_previews();
	check_file("conf/bad-previews.yml",
	    "%s:12: collections[1].rules[1].previews.scale: 'zscal' is not one of zscale, minmax, "
	    "percentile\n"
	    "%s:5: collections[1].rules[1].previews.exponent: '-1' is not a number from 1e-06 "
	    "to 1e+06\n"
	    "%s:5: collections[1].rules[1].previews.thumbnail.uri: ${nope} is neither a named "
	    "group of the pattern nor file or collection\n"
	    "%s:5: collections[1].rules[1].previews.thumbnail.size: 5000 is more than 4096\n"
	    "%s:18: collections[1].rules[2].previews: a preview or a thumbnail (with its uri) is "
	    "required\n"
	    "%s:19: collections[1].rules[3].previews.quality: 101 is more than 100\n"
	    "%s:19: collections[1].rules[3].previews.preview.uri: 'cadc:OMM/y.gif' ends neither "
	    "in .jpg nor .png: give a format");
	test_collections();
	test_includes();
	check_file("conf/bad-collection.yml",
	    "%s:4: unknown key 'collections[1].colour'\n"
	    "%s:5: collections[1].poll: 'maybe' is not true or false\n"
	    "%s:6: collections[1].on_success: 'archive' is not keep, delete or move:DIRECTORY\n"
	    "%s:8: collections[1].rules[1].match: missing terminating ] for character class "
	    "at offset 14\n"
	    "%s:12: collections[1].rules[2].observation: ${nope} is neither a named group of "
	    "the pattern nor file or collection\n"
	    "%s:16: collections[1].rules[3].product is required\n"
	    "%s:16: collections[1].rules[3].uri is required\n"
	    "%s:18: collections[2].name is required\n"
	    "%s:18: collections[2]: a landing directory, a bucket or a queue is required\n"
	    "%s:18: collections[2].rules: at least one rule is required\n"
	    "%s:24: collections[4]: expected a mapping, got a scalar\n"
	    "%s:20: collections[3]: name 'OMM' is already used by collections[1] (line 2)");
	test_defaults();
	test_good();
	test_objects();
	test_durations();
	check_file("conf/empty.yml", NULL);
	check_file("conf/comments.yml", NULL);
	check_file("conf/bad-unknown-key.yml", "%s:2: unknown key 'log_levle'");
	check_file("conf/bad-level.yml",
	    "%s:1: log_level: 'loud' is not one of debug, info, notice, warning, error");
	check_file("conf/bad-target.yml",
	    "%s:1: log: 'syslog' is not one of auto, journal, stderr");
	check_file("conf/bad-type.yml", "%s:2: state_dir: expected a value, got a list");
	check_file("conf/bad-syntax.yml",
	    "%s:3: YAML syntax error: did not find expected ',' or ']' "
	    "(while parsing a flow sequence at line 2)");
	check_file("conf/bad-duplicate.yml", "%s:3: duplicate key 'log' (first at line 1)");
	check_file("conf/bad-empty.yml", "%s:1: state_dir: must not be empty");
	check_file("conf/bad-toplevel.yml",
	    "%s:1: expected a mapping of keys at the top, got a list");
	check_file("conf/bad-multiple.yml",
	    "%s:1: log: 'sometimes' is not one of auto, journal, stderr\n"
	    "%s:3: unknown key 'colour'");
	check_file("conf/bad-sink.yml",
	    "%s:3: sink.repo.url is required\n"
	    "%s:3: sink.repo.concurrency: '0' is not a whole number from 1 to 100000\n"
	    "%s:4: sink.repo.retry.attempts: 'lots' is not a whole number from 1 to 100000\n"
	    "%s:5: unknown key 'sink.elsewhere'");
	check_file("conf/bad-objects.yml",
	    "%s:2: webhook.listen is required\n"
	    "%s:5: collections[1].buckets[1].name is required\n"
	    "%s:12: collections[2].announce_from: 'ftp://x/': an http://, https:// or file:/// prefix expected\n"
	    "%s:12: collections[2].announce_from: 'file:///srv/../etc/': a file:// prefix must be a plain absolute directory\n"
	    "%s:12: collections[2].announce_from: 'https://host': a prefix must end with '/'\n"
	    "%s:12: collections[2].announce_from: 'https:///x/': an http(s):// prefix must name its host, then '/'\n"
	    "%s:4: collections[1].buckets: needs an s3 section with an endpoint\n"
	    "%s:8: collections[2].queues: needs an amqp section with a url");
	check_file("conf/bad-storage.yml",
	    "%s:3: storage.si.url is required\n"
	    "%s:4: storage.timeout: 'never' is not a duration (such as 500ms, 2s, 5m, 1h)\n"
	    "%s:2: storage: si, s3 and directory exclude each other\n"
	    "%s:9: collections[1].storage: one of si, s3 or directory is required\n"
	    "%s:13: collections[2].storage.s3.multipart_threshold: 'lots' is not a size in bytes "
	    "(such as 65536, 64KiB, 16MiB, 5GiB)\n"
	    "%s:13: collections[2].storage.s3.part_size: at least 5MiB (S3's smallest part)\n"
	    "%s:10: collections[2].storage.s3: needs an s3 section with an endpoint");
	test_storage();
	check_file("conf/does-not-exist.yml", "%s: No such file or directory");
	check_file("conf", "%s: not a regular file");
	return 0;
}
