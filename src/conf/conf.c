/*
 * conf.c - the YAML configuration file into a struct, table-driven.
 *
 * libyaml's document API gives a node tree with line marks; each mapping is
 * walked against a key table, each key's type says how to store its value.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "caom/legacy.h"
#include "conf/conf.h"
#include "conf/rules.h"
#include "lib/fileio.h"
#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

enum conf_type {
	CONF_STRING,		/* char * */
	CONF_PATH,		/* char *, relative to the file's directory */
	CONF_DURATION,		/* uint64_t milliseconds */
	CONF_ENUM,		/* int index into choices */
	CONF_LOGLEVEL,		/* int syslog priority */
	CONF_BOOL,		/* int 0/1 */
	CONF_STRLIST,		/* struct conf_strlist; a scalar is a list of one */
	CONF_PATHLIST,		/* struct conf_strlist of paths */
	CONF_ACTION,		/* struct conf_action: keep | delete | move:DIR */
	CONF_GROUP,		/* long gid from a group name or number */
	CONF_LIST,		/* a list of mappings described by sub */
	CONF_SECTION,		/* a mapping into the struct at offset, described by sub */
	CONF_COUNT,		/* long, 1 .. 100000 */
	CONF_SIZE		/* uint64_t bytes: 4096, 64KiB, 16MiB, 5GiB, 1TiB */
};

struct conf_ctx;
struct conf_table;

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 offset;
	int			 required;
	const char *const	*choices;	/* CONF_ENUM */
	const struct conf_table	*sub;		/* CONF_LIST */
	const char		*help;
};

struct conf_table {
	const struct conf_key	*keys;
	size_t			 size;		/* of one item, for lists */
	void			(*init)(void *item);
	void			(*check)(struct conf_ctx *, const yaml_node_t *, const char *,
				    void *item);
};

/* The generic list behind collections and rules. */
struct conf_list {
	void		*v;
	size_t		 n;
};

struct conf_ctx {
	const char	*path;
	char		*dir;		/* directory of path, for relative paths */
	struct msgbuf	 errors;	/* "PATH:LINE: message" each */
	yaml_document_t	*doc;
};

static void conf_mapping(struct conf_ctx *, yaml_node_t *, const struct conf_table *,
    const char *, void *);
static void conf_free_table(const struct conf_table *, void *);

static const char *const conf_log_targets[] = { "auto", "journal", "stderr", NULL };

static void conf_check_rule(struct conf_ctx *, const yaml_node_t *, const char *, void *);
static void conf_check_storage(struct conf_ctx *, const yaml_node_t *, const char *, void *);
static void conf_init_collection(void *);
static void conf_check_collection(struct conf_ctx *, const yaml_node_t *, const char *,
    void *);

#define LG(f) offsetof(struct conf_legacy, f)
static const struct conf_key conf_legacy_keys[] = {
	{ "config", CONF_PATH, LG(config), 0, NULL, NULL,
	  "fits2caom2 .config file (default: the built-in one)" },
	{ "default", CONF_PATH, LG(defaults), 0, NULL, NULL, "fits2caom2 .default file" },
	{ "override", CONF_PATH, LG(override), 0, NULL, NULL, "fits2caom2 .override file" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef LG
static const struct conf_table conf_legacy_table = { conf_legacy_keys, 0, NULL, NULL };

#define B(f) offsetof(struct conf_bucket, f)
static const struct conf_key conf_bucket_keys[] = {
	{ "name", CONF_STRING, B(name), 1, NULL, NULL, "bucket name" },
	{ "prefix", CONF_STRING, B(prefix), 0, NULL, NULL, "only keys under this prefix" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef B
static const struct conf_table conf_bucket_table = { conf_bucket_keys,
	sizeof(struct conf_bucket), NULL, NULL };

#define R(f) offsetof(struct conf_rule, f)
static const struct conf_key conf_rule_keys[] = {
	{ "match", CONF_STRING, R(match), 1, NULL, NULL, "PCRE2 pattern on the file name" },
	{ "observation", CONF_STRING, R(observation), 1, NULL, NULL, "observationID template" },
	{ "product", CONF_STRING, R(product), 1, NULL, NULL, "productID template" },
	{ "uri", CONF_STRING, R(uri), 1, NULL, NULL, "artifact URI template" },
	{ "blueprint", CONF_PATH, R(blueprint), 0, NULL, NULL, "blueprint path template" },
	{ "legacy", CONF_SECTION, R(legacy), 0, NULL, &conf_legacy_table,
	  "fits2caom2 config/default/override files instead of a blueprint" },
	{ "expect", CONF_STRLIST, R(expect), 0, NULL, NULL,
	  "file name templates the observation waits for" },
	{ "wait", CONF_DURATION, R(wait_ms), 0, NULL, NULL,
	  "how long at most to wait for the expected files" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef R
static const struct conf_table conf_rule_table = {
	conf_rule_keys, sizeof(struct conf_rule), NULL, conf_check_rule
};

#define RT(f) offsetof(struct conf_retry, f)
static const struct conf_key conf_retry_keys[] = {
	{ "initial", CONF_DURATION, RT(initial_ms), 0, NULL, NULL, "first retry delay" },
	{ "max", CONF_DURATION, RT(max_ms), 0, NULL, NULL, "longest retry delay" },
	{ "attempts", CONF_COUNT, RT(attempts), 0, NULL, NULL, "attempts before giving up" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef RT
static const struct conf_table conf_retry_table = { conf_retry_keys, 0, NULL, NULL };

#define SI(f) offsetof(struct conf_storage_si, f)
static const struct conf_key conf_storage_si_keys[] = {
	{ "url", CONF_STRING, SI(url), 1, NULL, NULL,
	  "files service base: {url}/{artifact URI}" },
	{ "cert", CONF_PATH, SI(cert), 0, NULL, NULL, "PEM client certificate and key" },
	{ "token_file", CONF_PATH, SI(token_file), 0, NULL, NULL, "bearer token file" },
	{ "netrc", CONF_PATH, SI(netrc), 0, NULL, NULL, "netrc file for HTTP basic" },
	{ "ca_path", CONF_PATH, SI(ca_path), 0, NULL, NULL, "CA directory or bundle" },
	{ "transaction_threshold", CONF_SIZE, SI(txn_threshold), 0, NULL, NULL,
	  "files this large go by the put transaction, in segments (default 5GiB)" },
	{ "segment_size", CONF_SIZE, SI(segment_size), 0, NULL, NULL,
	  "preferred segment size, within the server's limits (default 2GiB)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef SI
static const struct conf_table conf_storage_si_table = { conf_storage_si_keys, 0, NULL, NULL };

#define SS(f) offsetof(struct conf_storage_s3, f)
static const struct conf_key conf_storage_s3_keys[] = {
	{ "bucket", CONF_STRING, SS(bucket), 1, NULL, NULL,
	  "bucket of the top-level s3 store (its endpoint and credentials)" },
	{ "prefix", CONF_STRING, SS(prefix), 0, NULL, NULL, "of every key" },
	{ "multipart_threshold", CONF_SIZE, SS(multipart_threshold), 0, NULL, NULL,
	  "files this large go by multipart upload (default 64MiB)" },
	{ "part_size", CONF_SIZE, SS(part_size), 0, NULL, NULL,
	  "multipart part size, at least 5MiB (default 16MiB)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef SS
static const struct conf_table conf_storage_s3_table = { conf_storage_s3_keys, 0, NULL, NULL };

#define ST(f) offsetof(struct conf_storage, f)
static const struct conf_key conf_storage_keys[] = {
	{ "si", CONF_SECTION, ST(si), 0, NULL, &conf_storage_si_table,
	  "the CADC storage inventory (minoc files service)" },
	{ "s3", CONF_SECTION, ST(s3), 0, NULL, &conf_storage_s3_table,
	  "a bucket of the s3 store" },
	{ "directory", CONF_PATH, ST(directory), 0, NULL, NULL,
	  "a directory: DIR/{artifact URI, ':' and '/' as path}" },
	{ "timeout", CONF_DURATION, ST(timeout_ms), 0, NULL, NULL,
	  "connecting, and a stalled transfer" },
	{ "concurrency", CONF_COUNT, ST(concurrency), 0, NULL, NULL, "transfers at once" },
	{ "retry", CONF_SECTION, ST(retry), 0, NULL, &conf_retry_table,
	  "transient failures (5xx, 503 with Retry-After, connections)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef ST
static const struct conf_table conf_storage_table = { conf_storage_keys, 0, NULL,
	conf_check_storage };

#define C(f) offsetof(struct conf_collection, f)
static const struct conf_key conf_collection_keys[] = {
	{ "name", CONF_STRING, C(name), 1, NULL, NULL, "collection name" },
	{ "landing", CONF_PATHLIST, C(landing), 0, NULL, NULL, "landing directories" },
	{ "buckets", CONF_LIST, C(buckets), 0, NULL, &conf_bucket_table,
	  "object-store buckets (see s3)" },
	{ "queues", CONF_STRLIST, C(queues), 0, NULL, NULL, "AMQP queues (see amqp)" },
	{ "announce_from", CONF_STRLIST, C(announce_from), 0, NULL, NULL,
	  "URL prefixes announced http(s):// and file:// objects may come from" },
	{ "poll", CONF_BOOL, C(poll), 0, NULL, NULL, "rescan instead of inotify" },
	{ "include", CONF_STRLIST, C(include), 0, NULL, NULL, "globs of names to take" },
	{ "exclude", CONF_STRLIST, C(exclude), 0, NULL, NULL, "globs of names to leave" },
	{ "rules", CONF_LIST, C(rules), 1, NULL, &conf_rule_table, "naming rules" },
	{ "on_success", CONF_ACTION, C(on_success), 0, NULL, NULL, "keep, delete or move:DIR" },
	{ "on_failure", CONF_ACTION, C(on_failure), 0, NULL, NULL, "keep, delete or move:DIR" },
	{ "storage", CONF_SECTION, C(storage), 0, NULL, &conf_storage_table,
	  "where its files are stored before their observation is pushed" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef C
static const struct conf_table conf_collection_table = {
	conf_collection_keys, sizeof(struct conf_collection), conf_init_collection,
	conf_check_collection
};

#define RP(f) offsetof(struct conf_repo, f)
static const struct conf_key conf_repo_keys[] = {
	{ "url", CONF_STRING, RP(url), 1, NULL, NULL, "observations base URL" },
	{ "cert", CONF_PATH, RP(cert), 0, NULL, NULL, "PEM client certificate and key" },
	{ "token_file", CONF_PATH, RP(token_file), 0, NULL, NULL, "bearer token file" },
	{ "netrc", CONF_PATH, RP(netrc), 0, NULL, NULL, "netrc file for HTTP basic" },
	{ "ca_path", CONF_PATH, RP(ca_path), 0, NULL, NULL, "CA directory or bundle" },
	{ "timeout", CONF_DURATION, RP(timeout_ms), 0, NULL, NULL, "per request" },
	{ "concurrency", CONF_COUNT, RP(concurrency), 0, NULL, NULL, "requests at once" },
	{ "retry", CONF_SECTION, RP(retry), 0, NULL, &conf_retry_table, "retry policy" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef RP
static const struct conf_table conf_repo_table = { conf_repo_keys, 0, NULL, NULL };

#define S3(f) offsetof(struct conf_s3, f)
static const struct conf_key conf_s3_keys[] = {
	{ "endpoint", CONF_STRING, S3(endpoint), 1, NULL, NULL, "http(s)://host[:port]" },
	{ "region", CONF_STRING, S3(region), 0, NULL, NULL, "SigV4 region" },
	{ "credentials", CONF_PATH, S3(credentials), 0, NULL, NULL,
	  "AWS shared-credentials file" },
	{ "profile", CONF_STRING, S3(profile), 0, NULL, NULL, "section of that file" },
	{ "ca_path", CONF_PATH, S3(ca_path), 0, NULL, NULL, "CA directory or bundle" },
	{ "timeout", CONF_DURATION, S3(timeout_ms), 0, NULL, NULL, "per request" },
	{ "concurrency", CONF_COUNT, S3(concurrency), 0, NULL, NULL, "fetches at once" },
	{ "reconcile_interval", CONF_DURATION, S3(reconcile_ms), 0, NULL, NULL,
	  "bucket listings that find objects whose events were lost" },
	{ "retry", CONF_SECTION, S3(retry), 0, NULL, &conf_retry_table, "failed fetches" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef S3
static const struct conf_table conf_s3_table = { conf_s3_keys, 0, NULL, NULL };

#define WH(f) offsetof(struct conf_webhook, f)
static const struct conf_key conf_webhook_keys[] = {
	{ "listen", CONF_STRING, WH(listen), 1, NULL, NULL, "ADDR:PORT" },
	{ "token_file", CONF_PATH, WH(token_file), 0, NULL, NULL, "bearer token required" },
	{ "max_body", CONF_COUNT, WH(max_body), 0, NULL, NULL, "largest body in bytes" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef WH
static const struct conf_table conf_webhook_table = { conf_webhook_keys, 0, NULL, NULL };

#define AM(f) offsetof(struct conf_amqp, f)
static const struct conf_key conf_amqp_keys[] = {
	{ "url", CONF_STRING, AM(url), 1, NULL, NULL, "amqp[s]://[user@]host[:port][/vhost]" },
	{ "password_file", CONF_PATH, AM(password_file), 0, NULL, NULL, "broker password" },
	{ "ca_path", CONF_PATH, AM(ca_path), 0, NULL, NULL,
	  "CA file or directory that signs the broker's certificate (amqps)" },
	{ "prefetch", CONF_COUNT, AM(prefetch), 0, NULL, NULL, "unacknowledged messages" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef AM
static const struct conf_table conf_amqp_table = { conf_amqp_keys, 0, NULL, NULL };

#define SK(f) offsetof(struct conf_sink, f)
static const struct conf_key conf_sink_keys[] = {
	{ "directory", CONF_PATH, SK(directory), 0, NULL, NULL, "directory sink" },
	{ "repo", CONF_SECTION, offsetof(struct conf_sink, repo), 0, NULL, &conf_repo_table,
	  "repository sink" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef SK
static const struct conf_table conf_sink_table = { conf_sink_keys, 0, NULL, NULL };

#define T(f) offsetof(struct conf, f)
static const struct conf_key conf_top_keys[] = {
	{ "log", CONF_ENUM, T(log_target), 0, conf_log_targets, NULL,
	  "where records go: auto (journal when stderr is the journal), journal, stderr" },
	{ "log_level", CONF_LOGLEVEL, T(log_level), 0, NULL, NULL,
	  "most verbose level logged: debug, info, notice, warning, error" },
	{ "state_dir", CONF_PATH, T(state_dir), 0, NULL, NULL, "directory for durable state" },
	{ "control_socket", CONF_PATH, T(control_socket), 0, NULL, NULL,
	  "the control socket" },
	{ "control_group", CONF_GROUP, T(control_gid), 0, NULL, NULL,
	  "group whose members may run read-only control commands" },
	{ "control_admin_group", CONF_GROUP, T(control_admin_gid), 0, NULL, NULL,
	  "group whose members may run every control command" },
	{ "settle", CONF_DURATION, T(settle_ms), 0, NULL, NULL, "quiet period of a file" },
	{ "rescan_interval", CONF_DURATION, T(rescan_ms), 0, NULL, NULL, "full rescans" },
	{ "poll_interval", CONF_DURATION, T(poll_ms), 0, NULL, NULL, "poll-mode rescans" },
	{ "scan_threads", CONF_COUNT, T(scan_threads), 0, NULL, NULL,
	  "threads stat'ing files in a scan (default: one per CPU, up to 8)" },
	{ "ignore_suffixes", CONF_STRLIST, T(ignore_suffixes), 0, NULL, NULL,
	  "names ignored while being written" },
	{ "collections", CONF_LIST, T(collections), 0, NULL, &conf_collection_table,
	  "collections and their landing directories" },
	{ "sink", CONF_SECTION, T(sink), 0, NULL, &conf_sink_table, "where observations go" },
	{ "spool_dir", CONF_PATH, T(spool_dir), 0, NULL, NULL, "where fetched objects land" },
	{ "s3", CONF_SECTION, T(s3), 0, NULL, &conf_s3_table, "the S3-compatible store" },
	{ "webhook", CONF_SECTION, T(webhook), 0, NULL, &conf_webhook_table,
	  "HTTP endpoint for bucket notifications" },
	{ "amqp", CONF_SECTION, T(amqp), 0, NULL, &conf_amqp_table, "the AMQP broker" },
	{ "storage", CONF_SECTION, T(storage), 0, NULL, &conf_storage_table,
	  "where files are stored before their observation is pushed (default: not at all)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef T
static const struct conf_table conf_top_table = { conf_top_keys, sizeof(struct conf), NULL,
	NULL };

static void __attribute__((format(printf, 3, 4)))
conf_error(struct conf_ctx *ctx, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msgbuf_vat(&ctx->errors, ctx->path, node != NULL ? node->start_mark.line + 1 : 1, fmt,
	    ap);
	va_end(ap);
}

static void
conf_strlist_add(struct conf_strlist *l, char *s)
{
	l->v = xreallocarray(l->v, l->n + 2, sizeof *l->v);
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

static void
conf_strlist_clear(struct conf_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
conf_init_storage(struct conf_storage *s)
{
	s->si.txn_threshold = (uint64_t)5 << 30;
	s->si.segment_size = (uint64_t)2 << 30;
	s->s3.multipart_threshold = (uint64_t)64 << 20;
	s->s3.part_size = (uint64_t)16 << 20;
	s->timeout_ms = 120000;
	s->concurrency = 4;
	s->retry.initial_ms = 30000;
	s->retry.max_ms = 3600000;
	s->retry.attempts = 10;
}

struct conf *
conf_new(void)
{
	struct conf *cfg;

	cfg = xcalloc(1, sizeof *cfg);
	cfg->log_target = LOG_TARGET_AUTO;
	cfg->log_level = LOG_INFO;
	cfg->state_dir = xstrdup(LOCALSTATEDIR "/lib/caom2ingest");
	cfg->control_socket = xstrdup(RUNSTATEDIR "/caom2ingest/control.sock");
	cfg->control_gid = -1;
	cfg->control_admin_gid = -1;
	cfg->settle_ms = 2000;
	cfg->rescan_ms = 300000;
	cfg->poll_ms = 10000;
	conf_strlist_add(&cfg->ignore_suffixes, xstrdup(".tmp"));
	conf_strlist_add(&cfg->ignore_suffixes, xstrdup(".part"));
	cfg->sink.repo.timeout_ms = 120000;
	cfg->sink.repo.concurrency = 8;
	cfg->sink.repo.retry.initial_ms = 30000;
	cfg->sink.repo.retry.max_ms = 3600000;
	cfg->sink.repo.retry.attempts = 10;
	cfg->s3.timeout_ms = 60000;
	cfg->s3.concurrency = 8;
	cfg->s3.reconcile_ms = 3600000;
	cfg->s3.retry.initial_ms = 10000;
	cfg->s3.retry.max_ms = 3600000;
	cfg->s3.retry.attempts = 10;
	cfg->webhook.max_body = 65536;
	cfg->amqp.prefetch = 100;
	conf_init_storage(&cfg->storage);
	return cfg;
}

void
conf_free(struct conf *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	conf_free_table(&conf_top_table, cfg);
	free(cfg);
}

int
conf_parse_duration(const char *text, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	unsigned long long n;
	char *end;
	size_t i;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (n > UINT64_MAX / units[i].ms)
				return -1;
			*ms = n * units[i].ms;
			return 0;
		}
	}
	return -1;
}

static const char *
conf_node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

static char *
conf_path_value(struct conf_ctx *ctx, const char *value)
{
	if (value[0] == '/' || ctx->dir == NULL)
		return xstrdup(value);
	return xasprintf("%s/%s", ctx->dir, value);
}

static void
conf_set_enum(struct conf_ctx *ctx, const char *name, const struct conf_key *key,
    const yaml_node_t *node, const char *value, int *dst)
{
	char *list = NULL, *tmp;
	size_t i;

	for (i = 0; key->choices[i] != NULL; i++) {
		if (strcmp(key->choices[i], value) == 0) {
			*dst = (int)i;
			return;
		}
	}
	for (i = 0; key->choices[i] != NULL; i++) {
		tmp = xasprintf("%s%s%s", list ? list : "", list ? ", " : "", key->choices[i]);
		free(list);
		list = tmp;
	}
	conf_error(ctx, node, "%s: '%s' is not one of %s", name, value, list);
	free(list);
}

static void
conf_set_action(struct conf_ctx *ctx, const char *name, const yaml_node_t *node,
    const char *value, struct conf_action *a)
{
	free(a->dir);
	a->dir = NULL;
	if (strcmp(value, "keep") == 0)
		a->kind = CONF_KEEP;
	else if (strcmp(value, "delete") == 0)
		a->kind = CONF_DELETE;
	else if (strncmp(value, "move:", 5) == 0 && value[5] != '\0') {
		a->kind = CONF_MOVE;
		a->dir = conf_path_value(ctx, value + 5);
	} else
		conf_error(ctx, node, "%s: '%s' is not keep, delete or move:DIRECTORY", name,
		    value);
}

static void
conf_set_duration(struct conf_ctx *ctx, const char *name, const yaml_node_t *node,
    const char *value, uint64_t *dst)
{
	if (conf_parse_duration(value, dst) != 0)
		conf_error(ctx, node, "%s: '%s' is not a duration (such as 500ms, 2s, 5m, 1h)",
		    name, value);
}

static void
conf_set_group(struct conf_ctx *ctx, const char *name, const yaml_node_t *node,
    const char *value, long *dst)
{
	struct group *gr;
	char *end;
	long gid;

	gid = strtol(value, &end, 10);
	if (*end == '\0' && gid >= 0) {
		*dst = gid;
		return;
	}
	if ((gr = getgrnam(value)) == NULL) {
		conf_error(ctx, node, "%s: no group named '%s'", name, value);
		return;
	}
	*dst = (long)gr->gr_gid;
}

static void
conf_set_count(struct conf_ctx *ctx, const char *name, const yaml_node_t *node,
    const char *value, long *dst)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > 100000)
		conf_error(ctx, node, "%s: '%s' is not a whole number from 1 to 100000", name, value);
	else
		*dst = n;
}

/* Bytes with an optional binary unit (K, KiB, M, MiB, G, GiB, T, TiB); 0 or -1. */
static int
conf_parse_size(const char *text, uint64_t *bytes)
{
	static const struct { const char *unit; int shift; } units[] = {
		{ "", 0 }, { "B", 0 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GiB", 30 }, { "T", 40 }, { "TiB", 40 },
	};
	unsigned long long n;
	char *end;
	size_t i;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno != 0 || n == 0)
		return -1;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (n > UINT64_MAX >> units[i].shift)
				return -1;
			*bytes = (uint64_t)n << units[i].shift;
			return 0;
		}
	}
	return -1;
}

static void
conf_set_bool(struct conf_ctx *ctx, const char *name, const yaml_node_t *node,
    const char *value, int *dst)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcmp(value, yes[i]) == 0 || strcmp(value, no[i]) == 0) {
			*dst = strcmp(value, yes[i]) == 0;
			return;
		}
	}
	conf_error(ctx, node, "%s: '%s' is not true or false", name, value);
}

/* Store a scalar value of any scalar type at dst. */
static void
conf_set_scalar(struct conf_ctx *ctx, const char *name, const struct conf_key *key,
    const yaml_node_t *node, void *dst)
{
	const char *value = (const char *)node->data.scalar.value;

	if (value[0] == '\0') {
		conf_error(ctx, node, "%s: must not be empty", name);
		return;
	}
	switch (key->type) {
	case CONF_STRING:
	case CONF_PATH:
		free(*(char **)dst);
		*(char **)dst = key->type == CONF_PATH ? conf_path_value(ctx, value) :
		    xstrdup(value);
		break;
	case CONF_DURATION:
		conf_set_duration(ctx, name, node, value, dst);
		break;
	case CONF_ENUM:
		conf_set_enum(ctx, name, key, node, value, dst);
		break;
	case CONF_LOGLEVEL:
		if (log_level_from_name(value, dst) != 0 || *(int *)dst < LOG_ERR)
			conf_error(ctx, node, "%s: '%s' is not one of debug, info, notice, "
			    "warning, error", name, value);
		break;
	case CONF_BOOL:
		conf_set_bool(ctx, name, node, value, dst);
		break;
	case CONF_ACTION:
		conf_set_action(ctx, name, node, value, dst);
		break;
	case CONF_GROUP:
		conf_set_group(ctx, name, node, value, dst);
		break;
	case CONF_COUNT:
		conf_set_count(ctx, name, node, value, dst);
		break;
	case CONF_SIZE:
		if (conf_parse_size(value, dst) != 0)
			conf_error(ctx, node, "%s: '%s' is not a size in bytes (such as 65536, "
			    "64KiB, 16MiB, 5GiB)", name, value);
		break;
	default:
		break;
	}
}

static void
conf_set_strlist(struct conf_ctx *ctx, const char *name, const struct conf_key *key,
    yaml_node_t *node, struct conf_strlist *l)
{
	yaml_node_item_t *it;
	yaml_node_t *item;
	const char *v;

	conf_strlist_clear(l);
	if (node->type == YAML_MAPPING_NODE) {
		conf_error(ctx, node, "%s: expected a list, got a mapping", name);
		return;
	}
	for (it = node->type == YAML_SEQUENCE_NODE ? node->data.sequence.items.start : NULL;
	    it != NULL && it < node->data.sequence.items.top; it++) {
		item = yaml_document_get_node(ctx->doc, *it);
		if (item->type != YAML_SCALAR_NODE || item->data.scalar.length == 0) {
			conf_error(ctx, item, "%s: items must be non-empty strings", name);
			continue;
		}
		v = (const char *)item->data.scalar.value;
		conf_strlist_add(l, key->type == CONF_PATHLIST ? conf_path_value(ctx, v) :
		    xstrdup(v));
	}
	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length > 0) {
		v = (const char *)node->data.scalar.value;
		conf_strlist_add(l, key->type == CONF_PATHLIST ? conf_path_value(ctx, v) :
		    xstrdup(v));
	}
}

static void
conf_set_list(struct conf_ctx *ctx, const char *name, const struct conf_key *key,
    yaml_node_t *node, struct conf_list *l)
{
	const struct conf_table *sub = key->sub;
	yaml_node_item_t *it;
	yaml_node_t *item;
	char *iname;
	void *elem;

	if (node->type != YAML_SEQUENCE_NODE) {
		conf_error(ctx, node, "%s: expected a list, got %s", name, conf_node_kind(node));
		return;
	}
	for (it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
		item = yaml_document_get_node(ctx->doc, *it);
		iname = xasprintf("%s[%zu]", name, l->n + 1);
		l->v = xreallocarray(l->v, l->n + 1, sub->size);
		elem = (char *)l->v + l->n++ * sub->size;
		memset(elem, 0, sub->size);
		if (sub->init != NULL)
			sub->init(elem);
		if (item->type != YAML_MAPPING_NODE)
			conf_error(ctx, item, "%s: expected a mapping, got %s", iname,
			    conf_node_kind(item));
		else
			conf_mapping(ctx, item, sub, iname, elem);
		free(iname);
	}
}

static void
conf_set_value(struct conf_ctx *ctx, const char *name, const struct conf_key *key,
    yaml_node_t *node, void *dst)
{
	if (key->type == CONF_SECTION && node->type != YAML_MAPPING_NODE)
		conf_error(ctx, node, "%s: expected a mapping, got %s", name, conf_node_kind(node));
	else if (key->type == CONF_SECTION)
		conf_mapping(ctx, node, key->sub, name, dst);
	else if (key->type == CONF_LIST)
		conf_set_list(ctx, name, key, node, dst);
	else if (key->type == CONF_STRLIST || key->type == CONF_PATHLIST)
		conf_set_strlist(ctx, name, key, node, dst);
	else if (node->type != YAML_SCALAR_NODE)
		conf_error(ctx, node, "%s: expected a value, got %s", name, conf_node_kind(node));
	else
		conf_set_scalar(ctx, name, key, node, dst);
}

static const struct conf_key *
conf_find_key(const struct conf_table *t, const char *name)
{
	const struct conf_key *key;

	for (key = t->keys; key->name != NULL; key++) {
		if (strcmp(key->name, name) == 0)
			return key;
	}
	return NULL;
}

/* The key node named name in map, or NULL. */
static yaml_node_t *
conf_lookup(struct conf_ctx *ctx, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(ctx->doc, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((char *)k->data.scalar.value, name) == 0)
			return k;
	}
	return NULL;
}

/* Report keys given twice and required keys missing from map. */
static void
conf_check_keys(struct conf_ctx *ctx, yaml_node_t *map, const struct conf_table *t,
    const char *prefix)
{
	const struct conf_key *key;
	yaml_node_pair_t *p;
	yaml_node_t *k, *first;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(ctx->doc, p->key);
		if (k == NULL || k->type != YAML_SCALAR_NODE)
			continue;
		first = conf_lookup(ctx, map, (char *)k->data.scalar.value);
		if (first != k)
			conf_error(ctx, k, "duplicate key '%s%s%s' (first at line %zu)",
			    prefix, *prefix ? "." : "", (char *)k->data.scalar.value,
			    first->start_mark.line + 1);
	}
	for (key = t->keys; key->name != NULL; key++) {
		if (key->required && conf_lookup(ctx, map, key->name) == NULL)
			conf_error(ctx, map, "%s%s%s is required", prefix, *prefix ? "." : "",
			    key->name);
	}
}

static void
conf_pair(struct conf_ctx *ctx, yaml_node_pair_t *pair, const struct conf_table *t,
    const char *prefix, void *base)
{
	yaml_node_t *k = yaml_document_get_node(ctx->doc, pair->key);
	yaml_node_t *v = yaml_document_get_node(ctx->doc, pair->value);
	const struct conf_key *key;
	char *name;

	if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE) {
		conf_error(ctx, k, "keys must be plain names");
		return;
	}
	name = xasprintf("%s%s%s", prefix, *prefix ? "." : "", (char *)k->data.scalar.value);
	if ((key = conf_find_key(t, (char *)k->data.scalar.value)) == NULL)
		conf_error(ctx, k, "unknown key '%s'", name);
	else
		conf_set_value(ctx, name, key, v, (char *)base + key->offset);
	free(name);
}

static void
conf_mapping(struct conf_ctx *ctx, yaml_node_t *map, const struct conf_table *t,
    const char *prefix, void *base)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k;

	conf_check_keys(ctx, map, t, prefix);
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(ctx->doc, pair->key);
		/* a duplicate was reported by conf_check_keys; the first one counts */
		if (k == NULL || k->type != YAML_SCALAR_NODE ||
		    conf_lookup(ctx, map, (char *)k->data.scalar.value) == k)
			conf_pair(ctx, pair, t, prefix, base);
	}
	if (t->check != NULL)
		t->check(ctx, map, prefix, base);
}

/* Compile a rule now, so a bad pattern is reported with its file and line. */
static void
conf_check_rule(struct conf_ctx *ctx, const yaml_node_t *node, const char *prefix, void *item)
{
	const struct conf_rule *r = item;
	struct rules_spec spec = { r->match, r->observation, r->product, r->uri, r->blueprint,
		(const char *const *)r->expect.v, r->wait_ms };
	struct rules *rules;
	char *cause = NULL;

	if (r->match == NULL || r->observation == NULL || r->product == NULL || r->uri == NULL)
		return;		/* already reported as required */
	if (r->legacy.config != NULL || r->legacy.defaults != NULL || r->legacy.override != NULL) {
		struct legacy *lg = NULL;

		if (r->blueprint != NULL)
			conf_error(ctx, node, "%s: blueprint and legacy exclude each other", prefix);
		else if (legacy_load(r->legacy.config, r->legacy.defaults, r->legacy.override, &lg,
		    &cause) != 0) {
			conf_error(ctx, node, "%s.legacy: %s", prefix, cause);
			free(cause);
			cause = NULL;
		}
		legacy_free(lg);
	}
	if ((rules = rules_new("check", NULL, NULL, &spec, 1, &cause)) == NULL) {
		/* cause reads "rule 1: FIELD: ..."; name the key path instead */
		conf_error(ctx, node, "%s.%s", prefix, cause + strlen("rule 1: "));
		free(cause);
		return;
	}
	rules_free(rules);
}

static void
conf_init_collection(void *item)
{
	struct conf_collection *c = item;

	c->on_success.kind = CONF_KEEP;
	c->on_failure.kind = CONF_KEEP;
	conf_init_storage(&c->storage);
}

/*
 * Why p cannot be an announce_from prefix, or NULL: an http(s):// prefix
 * names its host and ends with '/' after it; a file:// one is an absolute,
 * plain directory (no '%', no "." or ".." segment) ending with '/'.
 */
static const char *
conf_bad_announce_prefix(const char *p)
{
	const char *rest;
	size_t len = strlen(p);

	if (len == 0 || p[len - 1] != '/')
		return "a prefix must end with '/'";
	if (strncmp(p, "file:///", 8) == 0) {
		rest = p + 7;
		if (strchr(rest, '%') != NULL || strstr(rest, "/./") != NULL ||
		    strstr(rest, "/../") != NULL || strstr(rest, "//") != NULL)
			return "a file:// prefix must be a plain absolute directory";
		return NULL;
	}
	if (strncmp(p, "https://", 8) == 0)
		rest = p + 8;
	else if (strncmp(p, "http://", 7) == 0)
		rest = p + 7;
	else
		return "an http://, https:// or file:/// prefix expected";
	if (*rest == '/' || strchr(rest, '/') == NULL)
		return "an http(s):// prefix must name its host, then '/'";
	return NULL;
}

static void
conf_check_collection(struct conf_ctx *ctx, const yaml_node_t *node, const char *prefix,
    void *item)
{
	struct conf_collection *c = item;
	const yaml_node_t *at;
	const char *why;
	size_t i;

	c->line = node->start_mark.line + 1;
	if (c->landing.n == 0 && c->buckets.n == 0 && c->queues.n == 0)
		conf_error(ctx, node, "%s: a landing directory, a bucket or a queue is required",
		    prefix);
	if (c->rules.n == 0)
		conf_error(ctx, node, "%s.rules: at least one rule is required", prefix);
	at = c->announce_from.n > 0 ? conf_lookup(ctx, (yaml_node_t *)(uintptr_t)node,
	    "announce_from") : NULL;
	for (i = 0; i < c->announce_from.n; i++)
		if ((why = conf_bad_announce_prefix(c->announce_from.v[i])) != NULL)
			conf_error(ctx, at != NULL ? at : node, "%s.announce_from: '%s': %s",
			    prefix, c->announce_from.v[i], why);
}

/* A storage section names one place: si, s3 or directory. */
static void
conf_check_storage(struct conf_ctx *ctx, const yaml_node_t *node, const char *prefix,
    void *item)
{
	static const char *const kinds[] = { "si", "s3", "directory" };
	yaml_node_t *map = (yaml_node_t *)(uintptr_t)node;
	struct conf_storage *s = item;
	size_t i, n = 0;

	s->line = node->start_mark.line + 1;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		n += conf_lookup(ctx, map, kinds[i]) != NULL;
	if (n != 1)
		conf_error(ctx, node, "%s: %s", prefix, n == 0 ?
		    "one of si, s3 or directory is required" :
		    "si, s3 and directory exclude each other");
	if (s->s3.part_size < ((uint64_t)5 << 20))
		conf_error(ctx, node, "%s.s3.part_size: at least 5MiB (S3's smallest part)",
		    prefix);
}

/* Free what the table's keys own inside base (not base itself). */
static void
conf_free_table(const struct conf_table *t, void *base)
{
	const struct conf_key *key;
	struct conf_list *l;
	size_t i;
	void *dst;

	for (key = t->keys; key->name != NULL; key++) {
		dst = (char *)base + key->offset;
		if (key->type == CONF_STRING || key->type == CONF_PATH)
			free(*(char **)dst);
		else if (key->type == CONF_STRLIST || key->type == CONF_PATHLIST)
			conf_strlist_clear(dst);
		else if (key->type == CONF_ACTION)
			free(((struct conf_action *)dst)->dir);
		else if (key->type == CONF_SECTION)
			conf_free_table(key->sub, dst);
		else if (key->type == CONF_LIST) {
			l = dst;
			for (i = 0; i < l->n; i++)
				conf_free_table(key->sub, (char *)l->v + i * key->sub->size);
			free(l->v);
		}
	}
}

/* Check what only the whole file can tell: unique collection names. */
static void
conf_check_top(struct conf_ctx *ctx, struct conf *cfg)
{
	const struct conf_collection *a, *b;
	yaml_node_t at;
	size_t i, j;

	memset(&at, 0, sizeof at);
	for (i = 0; i < cfg->collections.n; i++) {
		a = &cfg->collections.v[i];
		for (j = 0; j < i; j++) {
			b = &cfg->collections.v[j];
			if (a->name == NULL || b->name == NULL || strcmp(a->name, b->name) != 0)
				continue;
			at.start_mark.line = (size_t)(a->line > 0 ? a->line - 1 : 0);
			conf_error(ctx, &at, "collections[%zu]: name '%s' is already used by "
			    "collections[%zu] (line %d)", i + 1, a->name, j + 1, b->line);
		}
		at.start_mark.line = (size_t)(a->line > 0 ? a->line - 1 : 0);
		if (a->buckets.n > 0 && cfg->s3.endpoint == NULL)
			conf_error(ctx, &at, "collections[%zu].buckets: needs an s3 section with "
			    "an endpoint", i + 1);
		if (a->queues.n > 0 && cfg->amqp.url == NULL)
			conf_error(ctx, &at, "collections[%zu].queues: needs an amqp section with "
			    "a url", i + 1);
		if (a->storage.s3.bucket != NULL && cfg->s3.endpoint == NULL)
			conf_error(ctx, &at, "collections[%zu].storage.s3: needs an s3 section "
			    "with an endpoint", i + 1);
	}
	at.start_mark.line = (size_t)(cfg->storage.line > 0 ? cfg->storage.line - 1 : 0);
	if (cfg->storage.s3.bucket != NULL && cfg->s3.endpoint == NULL)
		conf_error(ctx, &at, "storage.s3: needs an s3 section with an endpoint");
}

const struct conf_storage *
conf_storage_of(const struct conf *cfg, const struct conf_collection *c)
{
	const struct conf_storage *s = c != NULL && c->storage.line > 0 ? &c->storage :
	    &cfg->storage;

	return s->line > 0 ? s : NULL;
}

static void
conf_document(struct conf_ctx *ctx, struct conf *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(ctx->doc);

	if (root == NULL)
		return;		/* an empty file: all defaults */
	if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)
		return;
	if (root->type != YAML_MAPPING_NODE) {
		conf_error(ctx, root, "expected a mapping of keys at the top, got %s",
		    conf_node_kind(root));
		return;
	}
	conf_mapping(ctx, root, &conf_top_table, "", cfg);
	conf_check_top(ctx, cfg);
}

static void
conf_syntax_error(struct conf_ctx *ctx, const yaml_parser_t *parser)
{
	yaml_node_t fake;

	memset(&fake, 0, sizeof fake);
	fake.start_mark = parser->problem_mark;
	if (parser->context != NULL)
		conf_error(ctx, &fake, "YAML syntax error: %s (%s at line %zu)",
		    parser->problem, parser->context, parser->context_mark.line + 1);
	else
		conf_error(ctx, &fake, "YAML syntax error: %s",
		    parser->problem ? parser->problem : "unreadable");
}

static void
conf_parse_text(struct conf_ctx *ctx, const char *text, size_t len, struct conf *cfg)
{
	yaml_parser_t parser;
	yaml_document_t doc;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		conf_syntax_error(ctx, &parser);
		yaml_parser_delete(&parser);
		return;
	}
	ctx->doc = &doc;
	conf_document(ctx, cfg);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

static char *
conf_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int
conf_load(const char *path, struct conf **out, char **errors)
{
	struct conf_ctx ctx;
	struct conf *cfg;
	char *text;
	size_t len;

	*out = NULL;
	*errors = NULL;
	if (fileio_read(path, &text, &len, errors) != 0)
		return -1;
	memset(&ctx, 0, sizeof ctx);
	ctx.path = path;
	ctx.dir = conf_dirname(path);
	cfg = conf_new();
	cfg->path = xstrdup(path);
	conf_parse_text(&ctx, text, len, cfg);
	free(text);
	free(ctx.dir);
	if (ctx.errors.n > 0) {
		conf_free(cfg);
		*errors = msgbuf_take(&ctx.errors);
		return -1;
	}
	*out = cfg;
	return 0;
}
