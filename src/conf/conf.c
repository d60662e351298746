/*
 * conf.c - the YAML configuration file into a struct, table-driven.
 *
 * libyaml's document API gives a node tree with line marks; each mapping is
 * walked against a key table, each key's type says how to store its value.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "caom/legacy.h"
#include "caom/lua_code.h"
#include "caom/preview.h"
#include "conf/conf.h"
#include "conf/conf_preview.h"
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
	CONF_FILE,		/* char *, a path that must name a regular file */
	CONF_FILELIST,		/* struct conf_strlist of such paths */
	CONF_NAMEDFILES		/* struct conf_named_files: a mapping NAME: FILE */,
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
	int		 offline;	/* a collection file alone: no sources needed */
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

#define PO(f) offsetof(struct conf_preview_out, f)
static const struct conf_key conf_preview_out_keys[] = {
	{ "uri", CONF_STRING, PO(uri), 1, NULL, NULL, "artifact URI template (the rule's "
	  "${product}, ${observation}, groups, ${file}, ${collection}); .jpg or .png" },
	{ "size", CONF_COUNT, PO(size), 0, NULL, NULL,
	  "the box in pixels (preview 1024, thumbnail 256)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef PO
static const struct conf_table conf_preview_out_table = { conf_preview_out_keys, 0, NULL,
	NULL };

static const char *const conf_preview_errors[] = { "warn", "fail", NULL };
#define PV(f) offsetof(struct conf_previews, f)
static const struct conf_key conf_previews_keys[] = {
	{ "preview", CONF_SECTION, PV(preview), 0, NULL, &conf_preview_out_table,
	  "the preview (productType preview, releaseType data)" },
	{ "thumbnail", CONF_SECTION, PV(thumbnail), 0, NULL, &conf_preview_out_table,
	  "the thumbnail (productType thumbnail, releaseType meta)" },
	{ "hdu", CONF_STRING, PV(hdu), 0, NULL, NULL,
	  "auto (the first HDU with two axes, else with one) or an index" },
	{ "kind", CONF_ENUM, PV(kind), 0, preview_kind_names, NULL,
	  "auto, image or spectrum (a plot; 2-D: averaged across DISPAXIS)" },
	{ "scale", CONF_ENUM, PV(scale), 0, preview_scale_names, NULL,
	  "zscale (astropy's ZScaleInterval), minmax or percentile" },
	{ "low", CONF_STRING, PV(low), 0, NULL, NULL, "percentile: the lower one (1)" },
	{ "high", CONF_STRING, PV(high), 0, NULL, NULL, "percentile: the upper one (99)" },
	{ "stretch", CONF_ENUM, PV(stretch), 0, preview_stretch_names, NULL,
	  "linear, sqrt, log, asinh or power" },
	{ "exponent", CONF_STRING, PV(exponent), 0, NULL, NULL, "power: the exponent (2)" },
	{ "invert", CONF_BOOL, PV(invert), 0, NULL, NULL, "white background" },
	{ "format", CONF_ENUM, PV(format), 0, preview_format_names, NULL,
	  "png or jpeg (auto: the URI's suffix)" },
	{ "quality", CONF_COUNT, PV(quality), 0, NULL, NULL, "JPEG quality, 1 to 100 (90)" },
	{ "timeout", CONF_DURATION, PV(timeout_ms), 0, NULL, NULL,
	  "longest time per file (30s)" },
	{ "on_error", CONF_ENUM, PV(on_error), 0, conf_preview_errors, NULL,
	  "warn (the observation goes on without) or fail" },
	{ "directory", CONF_PATH, PV(directory), 0, NULL, NULL,
	  "where the files go (default: the directory sink's, else STATE_DIR/previews)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef PV
static void conf_check_previews(struct conf_ctx *, const yaml_node_t *, const char *, void *);
static void conf_check_rule_previews(struct conf_ctx *, const yaml_node_t *, const char *,
    const struct conf_rule *);
static const struct conf_table conf_previews_table = { conf_previews_keys, 0, NULL,
	conf_check_previews };

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
	{ "previews", CONF_SECTION, R(previews), 0, NULL, &conf_previews_table,
	  "a preview and a thumbnail of each file" },
	{ "functions", CONF_FILE, R(code.functions), 0, NULL, NULL,
	  "Lua file of blueprint functions, in place of the collection's (for the Lua runtime)" },
	{ "visit", CONF_FILELIST, R(code.visit), 0, NULL, NULL,
	  "Lua visitor files, in place of the collection's (for the Lua runtime)" },
	{ "tables", CONF_NAMEDFILES, R(code.tables), 0, NULL, NULL,
	  "lookup tables NAME: FILE.csv|FILE.yml, over the collection's (for the Lua runtime)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef R
static void conf_init_rule(void *);
static const struct conf_table conf_rule_table = {
	conf_rule_keys, sizeof(struct conf_rule), conf_init_rule, conf_check_rule
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
	{ "functions", CONF_FILE, C(code.functions), 0, NULL, NULL,
	  "Lua file of blueprint functions (for the Lua runtime)" },
	{ "visit", CONF_FILELIST, C(code.visit), 0, NULL, NULL,
	  "Lua visitor files, run in order (for the Lua runtime)" },
	{ "tables", CONF_NAMEDFILES, C(code.tables), 0, NULL, NULL,
	  "lookup tables NAME: FILE.csv|FILE.yml (for the Lua runtime)" },
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

#define HT(f) offsetof(struct conf_http, f)
static const struct conf_key conf_http_keys[] = {
	{ "listen", CONF_STRING, HT(listen), 1, NULL, NULL,
	  "ADDR:PORT of the metrics and status page (127.0.0.1:9464: loopback only)" },
	{ "token_file", CONF_PATH, HT(token_file), 0, NULL, NULL,
	  "bearer token every request must carry" },
	{ "refresh", CONF_DURATION, HT(refresh_ms), 0, NULL, NULL,
	  "how often counts are read again from the state store when it changed (2s)" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};
#undef HT
static const struct conf_table conf_http_table = { conf_http_keys, 0, NULL, NULL };

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
	{ "lua_memory", CONF_COUNT, T(lua_memory), 0, NULL, NULL,
	  "MiB of memory per Lua state (default 64)" },
	{ "lua_instructions", CONF_COUNT, T(lua_instructions), 0, NULL, NULL,
	  "millions of Lua instructions per function call or visit (default 50)" },
	{ "collections", CONF_LIST, T(collections), 0, NULL, &conf_collection_table,
	  "collections and their landing directories" },
	{ "sink", CONF_SECTION, T(sink), 0, NULL, &conf_sink_table, "where observations go" },
	{ "spool_dir", CONF_PATH, T(spool_dir), 0, NULL, NULL, "where fetched objects land" },
	{ "s3", CONF_SECTION, T(s3), 0, NULL, &conf_s3_table, "the S3-compatible store" },
	{ "webhook", CONF_SECTION, T(webhook), 0, NULL, &conf_webhook_table,
	  "HTTP endpoint for bucket notifications" },
	{ "amqp", CONF_SECTION, T(amqp), 0, NULL, &conf_amqp_table, "the AMQP broker" },
	{ "include", CONF_PATHLIST, T(include), 0, NULL, NULL,
	  "collection files to read (globs, relative to this file)" },
	{ "http", CONF_SECTION, T(http), 0, NULL, &conf_http_table,
	  "HTTP endpoint for operators: Prometheus metrics and the status page" },
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
	size_t i, j;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->collections.n; i++) {
		for (j = 0; j < cfg->collections.v[i].rules.n; j++)
			lua_rt_free(cfg->collections.v[i].rules.v[j].lua);
	}
	free(cfg->path);
	conf_free_table(&conf_top_table, cfg);
	conf_strlist_clear(&cfg->files);
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

/* A file the collection code needs: it must be there, a regular file. 0 or -1 (reported). */
static int
conf_check_file(struct conf_ctx *ctx, const char *name, const yaml_node_t *node,
    const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		conf_error(ctx, node, "%s: %s: %s", name, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_error(ctx, node, "%s: %s: not a regular file", name, path);
		return -1;
	}
	return 0;
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
	case CONF_FILE:
		free(*(char **)dst);
		*(char **)dst = key->type != CONF_STRING ? conf_path_value(ctx, value) :
		    xstrdup(value);
		if (key->type == CONF_FILE)
			conf_check_file(ctx, name, node, *(char **)dst);
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
conf_strlist_item(struct conf_ctx *ctx, const char *name, const struct conf_key *key,
    const yaml_node_t *node, const char *v, struct conf_strlist *l)
{
	if (key->type == CONF_STRLIST) {
		conf_strlist_add(l, xstrdup(v));
		return;
	}
	conf_strlist_add(l, conf_path_value(ctx, v));
	if (key->type == CONF_FILELIST)
		conf_check_file(ctx, name, node, l->v[l->n - 1]);
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
		conf_strlist_item(ctx, name, key, item, v, l);
	}
	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length > 0) {
		v = (const char *)node->data.scalar.value;
		conf_strlist_item(ctx, name, key, node, v, l);
	}
}

static void
conf_named_files_clear(struct conf_named_files *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].path);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* A lookup table's name: a Lua identifier, so that scripts can spell it plainly. */
static int
conf_table_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")] ==
	    '\0';
}

static int
conf_table_file_ok(const char *path)
{
	static const char *const sfx[] = { ".csv", ".yml", ".yaml" };
	size_t len = strlen(path), i, n;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		n = strlen(sfx[i]);
		if (len > n && strcasecmp(path + len - n, sfx[i]) == 0)
			return 1;
	}
	return 0;
}

/* tables: {NAME: FILE, ...}, each FILE a .csv or .yml file that is there. */
static void
conf_set_named_files(struct conf_ctx *ctx, const char *name, yaml_node_t *node,
    struct conf_named_files *t)
{
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *kname;
	size_t i;

	conf_named_files_clear(t);
	if (node->type != YAML_MAPPING_NODE) {
		conf_error(ctx, node, "%s: expected a mapping of NAME: FILE, got %s", name,
		    conf_node_kind(node));
		return;
	}
	for (p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(ctx->doc, p->key);
		v = yaml_document_get_node(ctx->doc, p->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE ||
		    !conf_table_name_ok(kname = (const char *)k->data.scalar.value)) {
			conf_error(ctx, k, "%s: a table name is a letter or '_', then letters, "
			    "digits or '_'", name);
			continue;
		}
		for (i = 0; i < t->n && strcmp(t->v[i].name, kname) != 0; i++)
			;
		if (i < t->n) {
			conf_error(ctx, k, "%s: table '%s' is given twice", name, kname);
			continue;
		}
		if (v->type != YAML_SCALAR_NODE || v->data.scalar.length == 0) {
			conf_error(ctx, v, "%s.%s: expected a file name", name, kname);
			continue;
		}
		t->v = xreallocarray(t->v, t->n + 1, sizeof *t->v);
		t->v[t->n].name = xstrdup(kname);
		t->v[t->n].path = conf_path_value(ctx, (const char *)v->data.scalar.value);
		if (!conf_table_file_ok(t->v[t->n].path))
			conf_error(ctx, v, "%s.%s: %s: a table is a .csv, .yml or .yaml file", name,
			    kname, t->v[t->n].path);
		else
			conf_check_file(ctx, name, v, t->v[t->n].path);
		t->n++;
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
	else if (key->type == CONF_STRLIST || key->type == CONF_PATHLIST ||
	    key->type == CONF_FILELIST)
		conf_set_strlist(ctx, name, key, node, dst);
	else if (key->type == CONF_NAMEDFILES)
		conf_set_named_files(ctx, name, node, dst);
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

/* The line of key name in map, else of map (for conf_check.c's messages). */
static int
conf_key_line(struct conf_ctx *ctx, const yaml_node_t *map, const char *name)
{
	const yaml_node_t *k = conf_lookup(ctx, (yaml_node_t *)(uintptr_t)map, name);

	return (int)(k != NULL ? k : map)->start_mark.line + 1;
}

/* Compile a rule now, so a bad pattern is reported with its file and line. */
static void
conf_check_rule(struct conf_ctx *ctx, const yaml_node_t *node, const char *prefix, void *item)
{
	const struct conf_rule *r = item;

	((struct conf_rule *)item)->blueprint_line = conf_key_line(ctx, node, "blueprint");
	struct rules_spec spec = { r->match, r->observation, r->product, r->uri, r->blueprint,
		(const char *const *)r->expect.v, r->wait_ms };
	struct rules *rules;
	char *cause = NULL;

	((struct conf_rule *)item)->line = (int)node->start_mark.line + 1;
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
	if (conf_preview_wanted(&r->previews))
		conf_check_rule_previews(ctx, node, prefix, r);
}

static void
conf_init_rule(void *item)
{
	struct conf_previews *p = &((struct conf_rule *)item)->previews;

	p->preview.size = 1024;
	p->thumbnail.size = 256;
	p->quality = 90;
	p->timeout_ms = 30000;
}

static void
conf_check_previews(struct conf_ctx *ctx, const yaml_node_t *node, const char *prefix,
    void *item)
{
	if (!conf_preview_wanted(item))
		conf_error(ctx, node, "%s: a preview or a thumbnail (with its uri) is required",
		    prefix);
}

/* What conf_preview_check finds wrong with the rule's previews, line by line. */
static void
conf_check_rule_previews(struct conf_ctx *ctx, const yaml_node_t *node, const char *prefix,
    const struct conf_rule *r)
{
	char *errors = NULL, *line, *save = NULL;

	if (conf_preview_check(r, &errors) == 0)
		return;
	for (line = strtok_r(errors, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		conf_error(ctx, node, "%s.%s", prefix, line);
	free(errors);
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
	c->file = ctx->path;
	c->landing_line = conf_key_line(ctx, node, "landing");
	c->on_success_line = conf_key_line(ctx, node, "on_success");
	c->on_failure_line = conf_key_line(ctx, node, "on_failure");
	/* prefix is "" for the collection of a collection file */
	if (!ctx->offline && c->landing.n == 0 && c->buckets.n == 0 && c->queues.n == 0)
		conf_error(ctx, node, "%s%sa landing directory, a bucket or a queue is required",
		    prefix, *prefix ? ": " : "");
	if (c->rules.n == 0)
		conf_error(ctx, node, "%s%srules: at least one rule is required", prefix,
		    *prefix ? "." : "");
	at = c->announce_from.n > 0 ? conf_lookup(ctx, (yaml_node_t *)(uintptr_t)node,
	    "announce_from") : NULL;
	for (i = 0; i < c->announce_from.n; i++)
		if ((why = conf_bad_announce_prefix(c->announce_from.v[i])) != NULL)
			conf_error(ctx, at != NULL ? at : node, "%s%sannounce_from: '%s': %s",
			    prefix, *prefix ? "." : "", c->announce_from.v[i], why);
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
		if (key->type == CONF_STRING || key->type == CONF_PATH || key->type == CONF_FILE)
			free(*(char **)dst);
		else if (key->type == CONF_STRLIST || key->type == CONF_PATHLIST ||
		    key->type == CONF_FILELIST)
			conf_strlist_clear(dst);
		else if (key->type == CONF_NAMEDFILES)
			conf_named_files_clear(dst);
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

/*
 * How the checks of the whole configuration name collection i: by its index
 * when the file loaded defines it (collections[N], or [N] in a collection
 * file loaded alone), else by name (it comes from a collection file, which
 * the message names).
 */
static char *
conf_coll_label(const struct conf_ctx *ctx, const struct conf *cfg, size_t i)
{
	const struct conf_collection *c = &cfg->collections.v[i];

	if (c->file == cfg->path)
		return xasprintf(ctx->offline ? "[%zu]" : "collections[%zu]", i + 1);
	return xasprintf("collection '%s'", c->name != NULL ? c->name : "?");
}

static void __attribute__((format(printf, 3, 4)))
conf_coll_error(struct conf_ctx *ctx, const struct conf_collection *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msgbuf_vat(&ctx->errors, c->file != NULL ? c->file : ctx->path,
	    (unsigned long)(c->line > 0 ? c->line : 1), fmt, ap);
	va_end(ap);
}

/*
 * A rule's collection code: its scripts compiled (with the global limits)
 * and, when its blueprint is one file, the blueprint's function values
 * bound to them; what is wrong is reported at the rule's line.
 */
static void
conf_build_code(struct conf_ctx *ctx, const struct conf *cfg, const struct conf_collection *c,
    struct conf_rule *r, const char *prefix)
{
	/* the rule's functions and visit in place of the collection's; tables: both */
	const struct conf_strlist *visit = r->code.visit.n > 0 ? &r->code.visit : &c->code.visit;
	const struct conf_named_files *rt = &r->code.tables, *ct = &c->code.tables;
	struct lua_code_spec spec;
	struct blueprint *bp;
	yaml_node_t at;
	char **names, **paths, *cause = NULL, *line, *save = NULL;
	size_t i, k, n = 0;

	memset(&spec, 0, sizeof spec);
	spec.functions = r->code.functions != NULL ? r->code.functions : c->code.functions;
	spec.visit = (const char *const *)visit->v;
	spec.nvisit = visit->n;
	spec.ntables = rt->n + ct->n;
	if (!lua_code_wanted(&spec))
		return;
	/* a file that is not there was reported where its key is */
	if (spec.functions != NULL && access(spec.functions, R_OK) != 0)
		return;
	for (i = 0; i < visit->n; i++)
		if (access(visit->v[i], R_OK) != 0)
			return;
	for (i = 0; i < rt->n + ct->n; i++)
		if (access(i < rt->n ? rt->v[i].path : ct->v[i - rt->n].path, R_OK) != 0)
			return;
	memset(&at, 0, sizeof at);
	at.start_mark.line = (size_t)(r->line > 0 ? r->line - 1 : 0);
	if (r->legacy.config != NULL || r->legacy.defaults != NULL || r->legacy.override != NULL) {
		conf_error(ctx, &at, "%s: functions, visit and tables go with a blueprint, not "
		    "legacy", prefix);
		return;
	}
	names = xcalloc(spec.ntables + 1, sizeof *names);
	paths = xcalloc(spec.ntables + 1, sizeof *paths);
	for (i = 0; i < rt->n; i++) {
		names[n] = rt->v[i].name;
		paths[n++] = rt->v[i].path;
	}
	for (i = 0; i < ct->n; i++) {
		for (k = 0; k < rt->n && strcmp(rt->v[k].name, ct->v[i].name) != 0; k++)
			;
		if (k == rt->n) {	/* a name of both is the rule's */
			names[n] = ct->v[i].name;
			paths[n++] = ct->v[i].path;
		}
	}
	spec.ntables = n;
	spec.table_names = (const char *const *)names;
	spec.table_paths = (const char *const *)paths;
	spec.limits.memory = (size_t)cfg->lua_memory << 20;
	spec.limits.instructions = (uint64_t)cfg->lua_instructions * 1000000;
	if ((r->lua = lua_code_build(&spec, &cause)) == NULL)
		goto fail;
	r->lua_functions = spec.functions;
	/* a templated blueprint (${group}) is bound when a file names it */
	if (r->blueprint != NULL && strstr(r->blueprint, "${") == NULL &&
	    access(r->blueprint, R_OK) == 0) {
		bp = blueprint_new();
		bp_allow_functions(bp);
		if (blueprint_load(bp, r->blueprint, &cause) == 0)
			lua_code_bind(r->lua, r->lua_functions, bp, &cause);
		blueprint_free(bp);
	}
fail:
	for (line = cause != NULL ? strtok_r(cause, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		conf_error(ctx, &at, "%s: %s", prefix, line);
	free(cause);
	free(names);
	free(paths);
}

/* Check what only the whole configuration can tell: unique collection names. */
static void
conf_check_top(struct conf_ctx *ctx, struct conf *cfg)
{
	struct conf_collection *a;
	const struct conf_collection *b;
	const char *sep;
	char *la, *lb;
	size_t i, j;

	for (i = 0; i < cfg->collections.n; i++) {
		a = &cfg->collections.v[i];
		la = conf_coll_label(ctx, cfg, i);
		for (j = 0; j < i; j++) {
			b = &cfg->collections.v[j];
			if (a->name == NULL || b->name == NULL || strcmp(a->name, b->name) != 0)
				continue;
			lb = conf_coll_label(ctx, cfg, j);
			if (a->file == b->file)
				conf_coll_error(ctx, a, "%s: name '%s' is already used by %s (line %d)",
				    la, a->name, lb, b->line);
			else
				conf_coll_error(ctx, a, "%s: name '%s' is already used by %s (%s:%d)",
				    la, a->name, lb, b->file, b->line);
			free(lb);
		}
		sep = a->file == cfg->path ? "." : ": ";
		if (!ctx->offline && a->buckets.n > 0 && cfg->s3.endpoint == NULL)
			conf_coll_error(ctx, a, "%s%sbuckets: needs an s3 section with an endpoint",
			    la, sep);
		if (!ctx->offline && a->queues.n > 0 && cfg->amqp.url == NULL)
			conf_coll_error(ctx, a, "%s%squeues: needs an amqp section with a url", la,
			    sep);
		if (!ctx->offline && a->storage.s3.bucket != NULL && cfg->s3.endpoint == NULL)
			conf_coll_error(ctx, a, "%s%sstorage.s3: needs an s3 section with an endpoint",
			    la, sep);
		for (j = 0; j < a->rules.n; j++) {
			char *prefix = xasprintf("%s%srules[%zu]", la, sep, j + 1);

			conf_build_code(ctx, cfg, a, &a->rules.v[j], prefix);
			free(prefix);
		}
		free(la);
	}
	if (!ctx->offline && cfg->storage.s3.bucket != NULL && cfg->s3.endpoint == NULL) {
		yaml_node_t at;

		memset(&at, 0, sizeof at);
		at.start_mark.line = (size_t)(cfg->storage.line > 0 ? cfg->storage.line - 1 : 0);
		conf_error(ctx, &at, "storage.s3: needs an s3 section with an endpoint");
	}
}

const struct conf_storage *
conf_storage_of(const struct conf *cfg, const struct conf_collection *c)
{
	const struct conf_storage *s = c != NULL && c->storage.line > 0 ? &c->storage :
	    &cfg->storage;

	return s->line > 0 ? s : NULL;
}

/* ---- Collection files (include: GLOB...) ---- */

/* One collection from node into cfg->collections; prefix names it in messages. */
static void
conf_add_collection(struct conf_ctx *ctx, struct conf *cfg, yaml_node_t *node,
    const char *prefix)
{
	struct conf_list *l = (struct conf_list *)(void *)&cfg->collections;
	const struct conf_table *t = &conf_collection_table;
	void *elem;

	l->v = xreallocarray(l->v, l->n + 1, t->size);
	elem = (char *)l->v + l->n++ * t->size;
	memset(elem, 0, t->size);
	t->init(elem);
	conf_mapping(ctx, node, t, prefix, elem);
}

/* A collection file's document: one collection (a mapping) or a list of them. */
static void
conf_collection_document(struct conf_ctx *ctx, struct conf *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(ctx->doc), *item;
	yaml_node_item_t *it;
	char *prefix;
	size_t k = 0;

	if (root == NULL || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
		return;		/* an empty file: no collection */
	if (root->type == YAML_MAPPING_NODE) {
		conf_add_collection(ctx, cfg, root, "");
		return;
	}
	if (root->type != YAML_SEQUENCE_NODE) {
		conf_error(ctx, root, "expected a collection (a mapping) or a list of them, got %s",
		    conf_node_kind(root));
		return;
	}
	for (it = root->data.sequence.items.start; it < root->data.sequence.items.top; it++) {
		item = yaml_document_get_node(ctx->doc, *it);
		prefix = xasprintf("[%zu]", ++k);
		if (item->type != YAML_MAPPING_NODE)
			conf_error(ctx, item, "%s: expected a collection (a mapping), got %s", prefix,
			    conf_node_kind(item));
		else
			conf_add_collection(ctx, cfg, item, prefix);
		free(prefix);
	}
}

static void conf_parse_text(struct conf_ctx *, const char *, size_t, struct conf *,
    void (*)(struct conf_ctx *, struct conf *));
static char *conf_dirname(const char *);

/* Read the collection file path into cfg, its errors with its name; 0 or -1 (unreadable). */
static int
conf_read_collections(struct conf_ctx *ctx, struct conf *cfg, const char *path, char **cause)
{
	struct conf_ctx sub;
	char *text;
	size_t len;

	if (fileio_read(path, &text, &len, cause) != 0)
		return -1;
	conf_strlist_add(&cfg->files, xstrdup(path));
	memset(&sub, 0, sizeof sub);
	sub.path = cfg->files.v[cfg->files.n - 1];	/* the collections' file: lives with cfg */
	sub.dir = conf_dirname(path);
	sub.offline = ctx->offline;
	sub.errors = ctx->errors;	/* one list of errors: handed over and back */
	conf_parse_text(&sub, text, len, cfg, conf_collection_document);
	ctx->errors = sub.errors;
	free(sub.dir);
	free(text);
	return 0;
}

/* Has the file at real path been read already (the configuration or a collection file)? */
static int
conf_read_already(struct conf_strlist *seen, const char *real)
{
	size_t i;

	for (i = 0; i < seen->n; i++) {
		if (strcmp(seen->v[i], real) == 0)
			return 1;
	}
	conf_strlist_add(seen, xstrdup(real));
	return 0;
}

/* Every file the include globs match, in glob order; at is the include key. */
static void
conf_includes(struct conf_ctx *ctx, struct conf *cfg, const yaml_node_t *at)
{
	struct conf_strlist seen = { NULL, 0 };
	char *self = realpath(cfg->path, NULL), *real, *cause = NULL;
	glob_t g;
	size_t i, k;
	int r;

	if (self != NULL)
		conf_read_already(&seen, self);
	for (i = 0; i < cfg->include.n; i++) {
		memset(&g, 0, sizeof g);
		r = glob(cfg->include.v[i], GLOB_ERR, NULL, &g);
		if (r == GLOB_NOMATCH && strpbrk(cfg->include.v[i], "*?[") == NULL)
			conf_error(ctx, at, "include: %s: %s", cfg->include.v[i], strerror(ENOENT));
		else if (r != 0 && r != GLOB_NOMATCH)
			conf_error(ctx, at, "include: %s: %s", cfg->include.v[i],
			    r == GLOB_NOSPACE ? "out of memory" : "a directory cannot be read");
		for (k = 0; r == 0 && k < g.gl_pathc; k++) {
			if ((real = realpath(g.gl_pathv[k], NULL)) != NULL &&
			    conf_read_already(&seen, real)) {
				if (self != NULL && strcmp(real, self) == 0)
					conf_error(ctx, at, "include: %s is this configuration file",
					    g.gl_pathv[k]);
				free(real);
				continue;	/* matched twice: read once */
			}
			free(real);
			if (conf_read_collections(ctx, cfg, g.gl_pathv[k], &cause) != 0) {
				conf_error(ctx, at, "include: %s", cause);
				free(cause);
				cause = NULL;
			}
		}
		globfree(&g);
	}
	conf_strlist_clear(&seen);
	free(self);
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
	if (cfg->include.n > 0)
		conf_includes(ctx, cfg, conf_lookup(ctx, root, "include"));
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
conf_parse_text(struct conf_ctx *ctx, const char *text, size_t len, struct conf *cfg,
    void (*document)(struct conf_ctx *, struct conf *))
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
	document(ctx, cfg);
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

/* Load path as a configuration (conf_document) or a collection file alone. */
static int
conf_load_as(const char *path, int offline, struct conf **out, char **errors)
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
	cfg = conf_new();
	cfg->path = xstrdup(path);
	conf_strlist_add(&cfg->files, xstrdup(path));
	ctx.path = cfg->path;	/* collections defined here point at it */
	ctx.dir = conf_dirname(path);
	ctx.offline = offline;
	if (offline) {
		conf_parse_text(&ctx, text, len, cfg, conf_collection_document);
		conf_check_top(&ctx, cfg);
	} else
		conf_parse_text(&ctx, text, len, cfg, conf_document);
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

int
conf_load(const char *path, struct conf **out, char **errors)
{
	return conf_load_as(path, 0, out, errors);
}

int
conf_load_collections(const char *path, struct conf **out, char **errors)
{
	return conf_load_as(path, 1, out, errors);
}
