/*
 * conf.c - the YAML configuration file into a struct, table-driven.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf.h"
#include "xmalloc.h"

enum conf_type {
	CONF_PATH,		/* string; relative to the file's directory */
	CONF_DURATION,	/* uint64_t milliseconds */
	CONF_ENUM,		/* int index into choices */
	CONF_LOGLEVEL		/* int syslog priority */
};

struct conf_key {
	const char		*name;
	enum conf_type	 type;
	size_t			 offset;
	const char *const	*choices;	/* CONF_ENUM */
	uint64_t		 max;		/* CONF_DURATION, 0: none */
	const char		*help;
};

static const char *const conf_log_targets[] = { "auto", "journal", "stderr", NULL };

#define OFF(f) offsetof(struct conf, f)
static const struct conf_key conf_keys[] = {
	{ "log", CONF_ENUM, OFF(log_target), conf_log_targets, 0,
	  "where records go: auto (journal when stderr is the journal), journal, stderr" },
	{ "log_level", CONF_LOGLEVEL, OFF(log_level), NULL, 0,
	  "most verbose level logged: debug, info, notice, warning, error" },
	{ "state_dir", CONF_PATH, OFF(state_dir), NULL, 0,
	  "directory for durable state" },
	{ NULL, 0, 0, NULL, 0, NULL }
};
#undef OFF

/* Errors collected while loading one file. */
struct conf_ctx {
	const char	*path;
	char		*dir;		/* directory of path, for relative paths */
	char		*errors;
	int		 nerrors;
	yaml_document_t	*doc;
};

static void __attribute__((format(printf, 3, 4)))
conf_error(struct conf_ctx *ctx, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	char *msg, *all;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	all = xasprintf("%s%s%s:%zu: %s", ctx->errors ? ctx->errors : "",
	    ctx->errors ? "\n" : "", ctx->path,
	    node != NULL ? node->start_mark.line + 1 : 1, msg);
	free(ctx->errors);
	free(msg);
	ctx->errors = all;
	ctx->nerrors++;
}

struct conf *
conf_new(void)
{
	struct conf *cfg;

	cfg = xcalloc(1, sizeof *cfg);
	cfg->log_target = LOG_TARGET_AUTO;
	cfg->log_level = LOG_INFO;
	cfg->state_dir = xstrdup(LOCALSTATEDIR "/lib/caom2ingest");
	return cfg;
}

void
conf_free(struct conf *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->state_dir);
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
conf_set_enum(struct conf_ctx *ctx, const struct conf_key *key,
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
		tmp = xasprintf("%s%s%s", list ? list : "", list ? ", " : "",
		    key->choices[i]);
		free(list);
		list = tmp;
	}
	conf_error(ctx, node, "%s: '%s' is not one of %s", key->name, value, list);
	free(list);
}

static void
conf_set_scalar(struct conf_ctx *ctx, const struct conf_key *key,
    const yaml_node_t *node, void *base)
{
	const char *value = (const char *)node->data.scalar.value;
	char **str = (char **)((char *)base + key->offset);
	uint64_t *u64 = (uint64_t *)((char *)base + key->offset);
	int *i = (int *)((char *)base + key->offset);

	if (value[0] == '\0') {
		conf_error(ctx, node, "%s: must not be empty", key->name);
		return;
	}
	switch (key->type) {
	case CONF_PATH:
		free(*str);
		*str = conf_path_value(ctx, value);
		break;
	case CONF_DURATION:
		if (conf_parse_duration(value, u64) != 0)
			conf_error(ctx, node, "%s: '%s' is not a duration "
			    "(such as 500ms, 2s, 5m, 1h)", key->name, value);
		else if (key->max != 0 && *u64 > key->max)
			conf_error(ctx, node, "%s: '%s' is more than the maximum "
			    "of %" PRIu64 "s", key->name, value, key->max / 1000);
		break;
	case CONF_ENUM:
		conf_set_enum(ctx, key, node, value, i);
		break;
	case CONF_LOGLEVEL:
		if (log_level_from_name(value, i) != 0 || *i < LOG_ERR)
			conf_error(ctx, node, "%s: '%s' is not one of debug, info, "
			    "notice, warning, error", key->name, value);
		break;
	}
}

static const struct conf_key *
conf_find_key(const char *name)
{
	const struct conf_key *key;

	for (key = conf_keys; key->name != NULL; key++) {
		if (strcmp(key->name, name) == 0)
			return key;
	}
	return NULL;
}

static void
conf_pair(struct conf_ctx *ctx, yaml_node_pair_t *pair, void *base)
{
	yaml_node_t *k = yaml_document_get_node(ctx->doc, pair->key);
	yaml_node_t *v = yaml_document_get_node(ctx->doc, pair->value);
	const struct conf_key *key;
	const char *name;

	if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE) {
		conf_error(ctx, k, "keys must be plain names");
		return;
	}
	name = (const char *)k->data.scalar.value;
	if ((key = conf_find_key(name)) == NULL) {
		conf_error(ctx, k, "unknown key '%s'", name);
		return;
	}
	if (v->type != YAML_SCALAR_NODE) {
		conf_error(ctx, v, "%s: expected a value, got %s", name,
		    conf_node_kind(v));
		return;
	}
	conf_set_scalar(ctx, key, v, base);
}

/* Report a key given twice in one mapping (YAML allows it; we do not). */
static void
conf_check_duplicates(struct conf_ctx *ctx, yaml_node_t *map)
{
	yaml_node_pair_t *p, *q;
	yaml_node_t *a, *b;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		a = yaml_document_get_node(ctx->doc, p->key);
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			b = yaml_document_get_node(ctx->doc, q->key);
			if (a != NULL && b != NULL && a->type == YAML_SCALAR_NODE &&
			    b->type == YAML_SCALAR_NODE &&
			    strcmp((char *)a->data.scalar.value,
			    (char *)b->data.scalar.value) == 0) {
				conf_error(ctx, a, "duplicate key '%s' (first at line %zu)",
				    (char *)a->data.scalar.value, b->start_mark.line + 1);
				break;
			}
		}
	}
}

static void
conf_mapping(struct conf_ctx *ctx, yaml_node_t *map, void *base)
{
	yaml_node_pair_t *pair;

	conf_check_duplicates(ctx, map);
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++)
		conf_pair(ctx, pair, base);
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
	conf_mapping(ctx, root, cfg);
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
conf_parse_file(struct conf_ctx *ctx, FILE *fp, struct conf *cfg)
{
	yaml_parser_t parser;
	yaml_document_t doc;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, fp);
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
	FILE *fp;

	*out = NULL;
	*errors = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		*errors = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.path = path;
	ctx.dir = conf_dirname(path);
	cfg = conf_new();
	cfg->path = xstrdup(path);
	conf_parse_file(&ctx, fp, cfg);
	fclose(fp);
	free(ctx.dir);
	if (ctx.nerrors > 0) {
		conf_free(cfg);
		*errors = ctx.errors;
		return -1;
	}
	*out = cfg;
	return 0;
}
