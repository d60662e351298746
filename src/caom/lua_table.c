/*
 * lua_table.c - lookup tables for ctx.lookup: CSV files (the first row names
 * the columns; a lookup matches the first columns) and YAML files (nested
 * mappings; a lookup walks one level per key). Loaded once per
 * configuration, read-only afterwards, shared by every thread's state.
 *
 * The CSV reader is written here (RFC 4180: quoted fields, "" escapes,
 * CRLF) because libcsv is not in Debian 12 main and the format is small;
 * YAML goes through libyaml's document API like the configuration.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "caom/lua_rt_int.h"
#include "lib/fileio.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

#define MAX_DEPTH	64

enum tn_type { TN_NULL, TN_STR, TN_INT, TN_FLOAT, TN_BOOL, TN_MAP, TN_SEQ };

struct tnode {
	enum tn_type	 type;
	char		*s;		/* the text as written (scalars) */
	long long	 i;
	double		 d;
	int		 b;
	char		**keys;		/* TN_MAP */
	struct tnode	**vals;		/* TN_MAP values, TN_SEQ items */
	size_t		 n;
	struct strmap	*index;		/* TN_MAP: key -> index + 1 */
};

struct lua_table {
	int		 csv;
	struct tnode	*root;		/* YAML: the mapping; CSV: a sequence of row mappings */
	char		**cells;	/* CSV: rows x columns, raw text (NULL empty) */
	size_t		 ncols;
	size_t		 nrows;
	struct strmap	*first;		/* CSV: first column -> first row + 1 */
	size_t		*next;		/* CSV: next row with the same first column + 1 */
};

/* ---- nodes ---- */

static void
tn_free(struct tnode *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		if (t->keys != NULL)
			free(t->keys[i]);
		tn_free(t->vals[i]);
	}
	free(t->keys);
	free(t->vals);
	strmap_free(t->index);
	free(t->s);
	free(t);
}

/* A scalar typed from its text: integer, float, boolean (yaml only) or string. */
static struct tnode *
tn_scalar(const char *text, int plain, int yaml)
{
	struct tnode *t = xcalloc(1, sizeof *t);
	char *end;

	t->s = xstrdup(text);
	t->type = TN_STR;
	if (!plain)
		return t;
	if (text[0] == '\0' || (yaml && (strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
	    strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0))) {
		t->type = TN_NULL;
		return t;
	}
	if (yaml && (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 ||
	    strcmp(text, "TRUE") == 0 || strcmp(text, "false") == 0 ||
	    strcmp(text, "False") == 0 || strcmp(text, "FALSE") == 0)) {
		t->type = TN_BOOL;
		t->b = tolower((unsigned char)text[0]) == 't';
		return t;
	}
	errno = 0;
	t->i = strtoll(text, &end, 10);
	if (*end == '\0' && errno == 0 && end != text) {
		t->type = TN_INT;
		t->d = (double)t->i;
		return t;
	}
	t->d = strtod(text, &end);
	if (*end == '\0' && end != text && strpbrk(text, "0123456789") != NULL &&
	    strpbrk(text, "xX") == NULL)
		t->type = TN_FLOAT;
	return t;
}

static void
tn_map_add(struct tnode *m, const char *key, struct tnode *v)
{
	m->keys = xreallocarray(m->keys, m->n + 1, sizeof *m->keys);
	m->vals = xreallocarray(m->vals, m->n + 1, sizeof *m->vals);
	m->keys[m->n] = xstrdup(key);
	m->vals[m->n] = v;
	m->n++;
	strmap_put(m->index, key, (void *)(uintptr_t)m->n);
}

static struct tnode *
tn_map_get(const struct tnode *m, const char *key)
{
	uintptr_t i;

	if (m == NULL || m->type != TN_MAP || (i = (uintptr_t)strmap_get(m->index, key)) == 0)
		return NULL;
	return m->vals[i - 1];
}

static void
tn_push(lua_State *L, const struct tnode *t)
{
	size_t i;

	switch (t->type) {
	case TN_NULL:
		lua_pushnil(L);
		break;
	case TN_STR:
		lua_pushstring(L, t->s);
		break;
	case TN_INT:
		lua_pushinteger(L, (lua_Integer)t->i);
		break;
	case TN_FLOAT:
		lua_pushnumber(L, t->d);
		break;
	case TN_BOOL:
		lua_pushboolean(L, t->b);
		break;
	case TN_MAP:
		lua_createtable(L, 0, (int)t->n);
		for (i = 0; i < t->n; i++) {
			tn_push(L, t->vals[i]);
			lua_setfield(L, -2, t->keys[i]);
		}
		break;
	case TN_SEQ:
		lua_createtable(L, (int)t->n, 0);
		for (i = 0; i < t->n; i++) {
			tn_push(L, t->vals[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	}
}

static struct tnode *
tn_new(enum tn_type type)
{
	struct tnode *t = xcalloc(1, sizeof *t);

	t->type = type;
	if (type == TN_MAP)
		t->index = strmap_new();
	return t;
}

/* ---- YAML ---- */

static struct tnode *
yaml_node(yaml_document_t *doc, yaml_node_t *node, const char *path, int depth, char **cause)
{
	struct tnode *t, *v;
	yaml_node_pair_t *pair;
	yaml_node_item_t *item;
	yaml_node_t *k;

	if (depth > MAX_DEPTH) {
		*cause = xasprintf("%s: nested deeper than %d levels", path, MAX_DEPTH);
		return NULL;
	}
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return tn_scalar((const char *)node->data.scalar.value,
		    node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, 1);
	case YAML_SEQUENCE_NODE:
		t = tn_new(TN_SEQ);
		for (item = node->data.sequence.items.start;
		    item < node->data.sequence.items.top; item++) {
			if ((v = yaml_node(doc, yaml_document_get_node(doc, *item), path,
			    depth + 1, cause)) == NULL)
				goto fail;
			t->vals = xreallocarray(t->vals, t->n + 1, sizeof *t->vals);
			t->vals[t->n++] = v;
		}
		return t;
	case YAML_MAPPING_NODE:
		t = tn_new(TN_MAP);
		for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top;
		    pair++) {
			k = yaml_document_get_node(doc, pair->key);
			if (k->type != YAML_SCALAR_NODE) {
				*cause = xasprintf("%s:%zu: a key must be a scalar", path,
				    k->start_mark.line + 1);
				goto fail;
			}
			if (tn_map_get(t, (const char *)k->data.scalar.value) != NULL) {
				*cause = xasprintf("%s:%zu: duplicate key '%s'", path,
				    k->start_mark.line + 1, (const char *)k->data.scalar.value);
				goto fail;
			}
			if ((v = yaml_node(doc, yaml_document_get_node(doc, pair->value), path,
			    depth + 1, cause)) == NULL)
				goto fail;
			tn_map_add(t, (const char *)k->data.scalar.value, v);
		}
		return t;
	default:
		return tn_new(TN_NULL);
	}
fail:
	tn_free(t);
	return NULL;
}

static int
yaml_table(const char *path, const char *buf, size_t len, struct lua_table *t, char **cause)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int r = -1;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		*cause = xasprintf("%s:%zu: %s", path, parser.problem_mark.line + 1,
		    parser.problem != NULL ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE)
		*cause = xasprintf("%s: a lookup table is a mapping (KEY: VALUE, one level per "
		    "lookup key)", path);
	else if ((t->root = yaml_node(&doc, root, path, 0, cause)) != NULL)
		r = 0;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return r;
}

/* ---- CSV ---- */

struct csv {
	const char	*p, *end;
	const char	*path;
	size_t		 line;
};

/* One field into *out (NULL when empty); *eol set at the end of a record. 0 or -1. */
static int
csv_field(struct csv *c, char **out, int *eol, char **cause)
{
	const char *start;
	size_t cap = 16, n = 0;
	char *buf;

	*out = NULL;
	*eol = 0;
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	if (c->p < c->end && *c->p == '"') {
		buf = xmalloc(cap);
		for (c->p++;; c->p++) {
			if (c->p >= c->end) {
				free(buf);
				*cause = xasprintf("%s:%zu: unterminated quoted field", c->path,
				    c->line);
				return -1;
			}
			if (*c->p == '"' && (c->p + 1 >= c->end || c->p[1] != '"'))
				break;
			if (*c->p == '"')
				c->p++;
			if (*c->p == '\n')
				c->line++;
			if (n + 1 >= cap)
				buf = xreallocarray(buf, cap *= 2, 1);
			buf[n++] = *c->p;
		}
		buf[n] = '\0';
		*out = buf;
		c->p++;
		while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
			c->p++;
	} else {
		start = c->p;
		while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
			c->p++;
		n = (size_t)(c->p - start);
		while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
			n--;
		if (n > 0)
			*out = xstrndup(start, n);
	}
	if (c->p < c->end && *c->p == ',') {
		c->p++;
		return 0;
	}
	if (c->p < c->end && *c->p != '\r' && *c->p != '\n') {
		free(*out);
		*cause = xasprintf("%s:%zu: text after a quoted field", c->path, c->line);
		return -1;
	}
	if (c->p < c->end && *c->p == '\r')
		c->p++;
	if (c->p < c->end && *c->p == '\n')
		c->p++;
	*eol = 1;
	return 0;
}

/* One record into *fields and *n; 0, 1 at the end of the input, or -1. */
static int
csv_record(struct csv *c, char ***fields, size_t *n, char **cause)
{
	char *f;
	int eol;

	*fields = NULL;
	*n = 0;
	while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
		c->line += *c->p == '\n';
		c->p++;
	}
	if (c->p >= c->end)
		return 1;
	c->line++;
	do {
		if (csv_field(c, &f, &eol, cause) == -1)
			return -1;
		*fields = xreallocarray(*fields, *n + 1, sizeof **fields);
		(*fields)[(*n)++] = f;
	} while (!eol);
	return 0;
}

static void
csv_free_fields(char **f, size_t n)
{
	while (n > 0)
		free(f[--n]);
	free(f);
}

/* Index the rows by their first column. */
static void
csv_index(struct lua_table *t)
{
	size_t r, prev;
	const char *k;
	uintptr_t head;

	t->first = strmap_new();
	t->next = xcalloc(t->nrows + 1, sizeof *t->next);
	for (r = t->nrows; r-- > 0;) {
		if ((k = t->cells[r * t->ncols]) == NULL)
			continue;
		head = (uintptr_t)strmap_get(t->first, k);
		prev = head;
		t->next[r] = prev;
		strmap_put(t->first, k, (void *)(uintptr_t)(r + 1));
	}
}

/* Drop the names row: cells[r * ncols + c] is then row r's column c. */
static void
csv_drop_names(struct lua_table *t)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		free(t->cells[i]);
	memmove(t->cells, t->cells + t->ncols, t->nrows * t->ncols * sizeof *t->cells);
}

static int
csv_table(const char *path, const char *buf, size_t len, struct lua_table *t, char **cause)
{
	struct csv c = { buf, buf + len, path, 0 };
	struct tnode *row;
	char **f;
	size_t n, i;
	int r;

	t->csv = 1;
	if ((r = csv_record(&c, &f, &n, cause)) != 0) {
		if (r == 1)
			*cause = xasprintf("%s: empty (the first row names the columns)", path);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (f[i] == NULL) {
			*cause = xasprintf("%s:%zu: column %zu has no name", path, c.line, i + 1);
			goto fail;
		}
		for (r = 0; (size_t)r < i; r++) {
			if (strcmp(f[r], f[i]) == 0) {
				*cause = xasprintf("%s:%zu: column %s is named twice", path, c.line,
				    f[i]);
				goto fail;
			}
		}
	}
	t->ncols = n;
	t->cells = f;			/* row 0 of cells holds the names for now */
	t->root = tn_new(TN_SEQ);
	while ((r = csv_record(&c, &f, &n, cause)) == 0) {
		if (n != t->ncols) {
			*cause = xasprintf("%s:%zu: %zu fields where the first row names %zu",
			    path, c.line, n, t->ncols);
			csv_free_fields(f, n);
			csv_drop_names(t);
			return -1;
		}
		row = tn_new(TN_MAP);
		for (i = 0; i < n; i++) {
			if (f[i] != NULL)
				tn_map_add(row, t->cells[i], tn_scalar(f[i], 1, 0));
		}
		t->cells = xreallocarray(t->cells, (t->nrows + 2) * t->ncols, sizeof *t->cells);
		memcpy(t->cells + (t->nrows + 1) * t->ncols, f, n * sizeof *f);
		free(f);
		t->root->vals = xreallocarray(t->root->vals, t->root->n + 1, sizeof *t->root->vals);
		t->root->vals[t->root->n++] = row;
		t->nrows++;
	}
	csv_drop_names(t);
	if (r == -1)
		return -1;
	csv_index(t);
	return 0;
fail:
	csv_free_fields(f, n);
	return -1;
}

/* ---- the table ---- */

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int
lua_table_load(const char *path, struct lua_table **out, char **cause)
{
	struct lua_table *t = xcalloc(1, sizeof *t);
	char *buf;
	size_t len;
	int r;

	*out = NULL;
	if (fileio_read(path, &buf, &len, cause) == -1) {
		free(t);
		return -1;
	}
	if (has_suffix(path, ".csv"))
		r = csv_table(path, buf, len, t, cause);
	else if (has_suffix(path, ".yml") || has_suffix(path, ".yaml"))
		r = yaml_table(path, buf, len, t, cause);
	else {
		*cause = xasprintf("%s: a lookup table is a .csv or a .yml file", path);
		r = -1;
	}
	free(buf);
	if (r == -1) {
		lua_table_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void
lua_table_free(struct lua_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	tn_free(t->root);
	if (t->cells != NULL) {
		for (i = 0; i < t->nrows * t->ncols; i++)
			free(t->cells[i]);
	}
	free(t->cells);
	strmap_free(t->first);
	free(t->next);
	free(t);
}

/* The key at idx as text into buf (numbers as Lua writes integers; floats %.14g). */
static const char *
key_text(lua_State *L, int idx, char *buf, size_t size)
{
	if (lua_type(L, idx) == LUA_TSTRING)
		return lua_tostring(L, idx);
	if (lua_isinteger(L, idx)) {
		snprintf(buf, size, "%lld", (long long)lua_tointeger(L, idx));
		return buf;
	}
	if (lua_type(L, idx) == LUA_TNUMBER) {
		snprintf(buf, size, "%.14g", (double)lua_tonumber(L, idx));
		return buf;
	}
	luaL_error(L, "ctx.lookup: a key is a string or a number, not a %s", luaL_typename(L, idx));
	return NULL;
}

/* Does CSV cell text equal the key at idx (numbers compared as numbers)? */
static int
cell_matches(lua_State *L, const char *cell, int idx)
{
	char buf[64], *end;
	double d;

	if (cell == NULL)
		return 0;
	if (lua_type(L, idx) == LUA_TNUMBER) {
		d = strtod(cell, &end);
		return end != cell && *end == '\0' && d == (double)lua_tonumber(L, idx);
	}
	return strcmp(cell, key_text(L, idx, buf, sizeof buf)) == 0;
}

static void
csv_lookup(lua_State *L, const struct lua_table *t, int first, int nkeys)
{
	size_t r, k, start, end;
	char buf[64];
	uintptr_t head = 0;

	if ((size_t)nkeys > t->ncols)
		luaL_error(L, "ctx.lookup: %d keys for a table of %d columns", nkeys, (int)t->ncols);
	if (lua_type(L, first) == LUA_TSTRING) {
		head = (uintptr_t)strmap_get(t->first, key_text(L, first, buf, sizeof buf));
		if (head == 0) {
			lua_pushnil(L);
			return;
		}
	}
	start = head != 0 ? head - 1 : 0;
	end = t->nrows;
	for (r = start; r < end; r = head != 0 ? (t->next[r] != 0 ? t->next[r] - 1 : end) : r + 1) {
		for (k = 0; k < (size_t)nkeys; k++) {
			if (!cell_matches(L, t->cells[r * t->ncols + k], first + (int)k))
				break;
		}
		if (k == (size_t)nkeys) {
			tn_push(L, t->root->vals[r]);
			return;
		}
	}
	lua_pushnil(L);
}

void
lua_table_lookup(lua_State *L, const struct lua_table *t, int first, int nkeys)
{
	const struct tnode *n = t->root, *v;
	char buf[64];
	int k;

	if (t->csv) {
		csv_lookup(L, t, first, nkeys);
		return;
	}
	for (k = 0; k < nkeys && n != NULL; k++) {
		v = tn_map_get(n, key_text(L, first + k, buf, sizeof buf));
		if (v == NULL && lua_isinteger(L, first + k) == 0 &&
		    lua_type(L, first + k) == LUA_TNUMBER &&
		    lua_tonumber(L, first + k) == floor(lua_tonumber(L, first + k))) {
			snprintf(buf, sizeof buf, "%.0f", (double)lua_tonumber(L, first + k));
			v = tn_map_get(n, buf);
		}
		n = v;
	}
	if (n == NULL)
		lua_pushnil(L);
	else
		tn_push(L, n);
}
