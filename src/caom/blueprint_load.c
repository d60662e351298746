/*
 * blueprint_load.c - the blueprint text format (caom2utils
 * ObsBlueprint.load_from_file): KEY = VALUE lines and "extension N:"
 * sections over a blueprint; where the reference crashes or silently
 * ignores a line, we report FILE:LINE instead.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "caom/blueprint.h"
#include "caom/blueprint_int.h"
#include "caom/blueprint_load.h"
#include "lib/fileio.h"
#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

/* "['A', 'B']" (brackets and quotes dropped, empty items skipped) into v. */
static void
parse_list(struct bp_value *v, const char *s, size_t n)
{
	const char *end = s + n, *comma;
	char *item, *r, *w;

	while (s <= end) {
		comma = memchr(s, ',', (size_t)(end - s));
		if (comma == NULL)
			comma = end;
		item = bp_strip_dup(s, (size_t)(comma - s));
		for (r = w = item; *r != '\0'; r++) {
			if (*r != '[' && *r != ']' && *r != '\'' && *r != '"')
				*w++ = *r;
		}
		*w = '\0';
		r = bp_strip_dup(item, strlen(item));
		free(item);
		if (r[0] != '\0')
			bp_value_add_kw(v, r, 0);
		free(r);
		s = comma + 1;
	}
}

static int
is_function(const char *s)
{
	return strchr(s, '(') != NULL && strchr(s, ')') != NULL && strchr(s, '/') == NULL;
}

/* One VALUE into v (functions only when allow_fn); 0, or -1 with a message in *msg. */
static int
parse_value(const char *raw, struct bp_value *v, int allow_fn, char **msg)
{
	char *val = bp_strip_dup(raw, strlen(raw)), *d, *def, *p;
	char *parts[4];
	size_t n = 0;
	int r = 0;

	memset(v, 0, sizeof *v);
	if (strstr(val, "default") != NULL) {
		if ((d = strstr(val, ", default")) == NULL) {
			*msg = xasprintf("malformed default in '%s' (expected ['KEYWORD'], default = "
			    "VALUE)", val);
			free(val);
			return -1;
		}
		v->kind = BP_LIST;
		parse_list(v, val, (size_t)(d - val));
		def = d + strlen(", default");
		for (p = def; *p != '\0'; p++) {
			if (*p == '=')
				*p = ' ';
		}
		def = bp_strip_dup(def, strlen(def));
		if (strstr(def, "None") == NULL && def[0] != '\0')
			v->def = def;
		else
			free(def);
	} else if (val[0] == '(') {
		for (p = strtok(val + 1, ",)"); p != NULL && n < 4; p = strtok(NULL, ",)")) {
			parts[n] = bp_strip_dup(p, strlen(p));
			for (d = parts[n]; (d = strpbrk(d, "'\"")) != NULL;)
				memmove(d, d + 1, strlen(d));
			n++;
		}
		if (n != 3 || strcmp(parts[0], "BINTABLE") != 0 || atoi(parts[2]) <= 0) {
			*msg = xasprintf("malformed table reference (expected ('BINTABLE', "
			    "'COLUMN', EXTENSION))");
			r = -1;
		} else {
			v->kind = BP_TABLE;
			bp_value_add_kw(v, parts[1], 0);
			v->table_ext = atoi(parts[2]);
		}
		while (n > 0)
			free(parts[--n]);
	} else if (strchr(val, '[') != NULL) {
		if (strchr(val, ']') == NULL) {
			*msg = xasprintf("unterminated keyword list '%s'", val);
			r = -1;
		} else {
			v->kind = BP_LIST;
			parse_list(v, val, strlen(val));
		}
	} else if (strcmp(val, "None") == 0) {
		v->kind = BP_NONE;
	} else if (is_function(val) && allow_fn) {
		v->kind = BP_FUNCTION;
		v->lit = xstrdup(val);
		v->fn = -1;		/* bp_bind_functions binds it */
	} else if (is_function(val)) {
		*msg = xasprintf("unknown function %.*s (no functions: file is configured)",
		    (int)strcspn(val, "("), val);
		r = -1;
	} else {
		v->kind = BP_LITERAL;
		v->lit = xstrdup(val);
	}
	free(val);
	if (r != 0)
		bp_value_clear(v);
	return r;
}

/* "extension N:"; N or -1. */
static int
parse_extension(const char *line)
{
	const char *s = line;
	char *end;
	long n;

	while (isspace((unsigned char)*s))
		s++;
	if (strncmp(s, "extension", 9) != 0)
		return -1;
	s += 9;
	n = strtol(s, &end, 10);
	if (end == s || n < 0 || n > 100000)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == ':')
		end++;
	while (isspace((unsigned char)*end))
		end++;
	return *end == '\0' ? (int)n : -1;
}

static void
blueprint_line(struct blueprint *bp, const char *name, unsigned lineno, char *line, int *ext,
    struct msgbuf *e)
{
	struct bp_value v;
	char *hash, *eq, *key, *msg = NULL, *s;
	int k, n;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	if ((eq = strchr(line, '=')) == NULL) {
		for (s = line; isspace((unsigned char)*s); s++)
			;
		if (*s == '\0')
			return;
		if ((n = parse_extension(line)) < 0)
			msgbuf_at(e, name, lineno, "syntax error: expected KEY = VALUE or 'extension N:'");
		else
			*ext = n;
		return;
	}
	key = bp_strip_dup(line, (size_t)(eq - line));
	if ((k = bp_key(key)) < 0)
		msgbuf_at(e, name, lineno, "unknown key '%s'", key);
	else if (*ext > 0 && strncmp(key, "Chunk", 5) != 0)
		msgbuf_at(e, name, lineno, "%s: only Chunk keys can follow 'extension %d:'", key, *ext);
	else if (parse_value(eq + 1, &v, bp_functions_allowed(bp), &msg) != 0) {
		msgbuf_at(e, name, lineno, "%s: %s", key, msg);
		free(msg);
	} else {
		v.line = lineno;
		bp_plan_put(bp_plan_for(bp, *ext, 1), k, &v);
	}
	free(key);
}

int
blueprint_load_text(struct blueprint *bp, const char *name, const char *text, size_t len,
    char **cause)
{
	struct msgbuf e = { 0 };
	const char *p = text, *end = text + len, *nl;
	unsigned lineno = 0;
	char *line;
	int ext = 0;

	bp_set_source(bp, name);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		line = xstrndup(p, (size_t)(nl - p));
		lineno++;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL)
			msgbuf_at(&e, name, lineno, "NUL byte: not a text file");
		else
			blueprint_line(bp, name, lineno, line, &ext, &e);
		free(line);
		p = nl + 1;
	}
	if (e.n == 0)
		bp_guess_axes(bp, name, &e);
	if (e.n > 0) {
		*cause = msgbuf_take(&e);
		return -1;
	}
	return 0;
}

int
blueprint_load(struct blueprint *bp, const char *path, char **cause)
{
	size_t len;
	char *text;
	int r;

	if (fileio_read(path, &text, &len, cause) != 0)
		return -1;
	r = blueprint_load_text(bp, path, text, len, cause);
	free(text);
	return r;
}

