/*
 * t/conf.c - the configuration loader: good files, and each kind of bad
 * input with its exact message.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
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

int
main(void)
{
	plan(94);
	test_collections();
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
