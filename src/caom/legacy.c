/*
 * legacy.c - the legacy fits2caom2 .config/.default/.override files and the
 * blueprint they make for an artifact (the reference's load_config and
 * update_blueprint), errors and warnings as FILE:LINE lines.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "caom/blueprint.h"
#include "caom/blueprint_int.h"
#include "caom/legacy.h"
#include "lib/fileio.h"
#include "lib/msgbuf.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

struct lg_entry {
	char		*key;
	char		*value;
	unsigned	 line;
};

struct lg_dict {
	struct lg_entry	*e;
	size_t		 n;
};

struct lg_section {
	char		*uri;
	int		 ext;
	struct lg_dict	 d;
};

struct lg_file {
	char		*name;
	struct lg_dict	 top;
	struct lg_section *sec;
	size_t		 nsec;
};

struct legacy {
	struct lg_file	 config;	/* the built-in config updated by the file */
	struct lg_file	 defaults;
	struct lg_file	 overrides;
};

static const char *const lg_builtin[][2] = {
#include "caom/legacy_default.h"
};

/* Python dict assignment: replace the value in place, or append. */
static void
dict_put(struct lg_dict *d, const char *key, const char *value, unsigned line)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (strcmp(d->e[i].key, key) == 0) {
			free(d->e[i].value);
			d->e[i].value = xstrdup(value);
			d->e[i].line = line;
			return;
		}
	}
	d->e = xreallocarray(d->e, d->n + 1, sizeof *d->e);
	d->e[d->n].key = xstrdup(key);
	d->e[d->n].value = xstrdup(value);
	d->e[d->n++].line = line;
}

static const struct lg_entry *
dict_get(const struct lg_dict *d, const char *key)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (strcmp(d->e[i].key, key) == 0)
			return &d->e[i];
	}
	return NULL;
}

static void
dict_free(struct lg_dict *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->e[i].key);
		free(d->e[i].value);
	}
	free(d->e);
}

static void
lg_file_free(struct lg_file *f)
{
	size_t i;

	dict_free(&f->top);
	for (i = 0; i < f->nsec; i++) {
		free(f->sec[i].uri);
		dict_free(&f->sec[i].d);
	}
	free(f->sec);
	free(f->name);
}

static struct lg_dict *
lg_section(struct lg_file *f, const char *uri, int ext)
{
	size_t i;

	for (i = 0; i < f->nsec; i++) {
		if (strcmp(f->sec[i].uri, uri) == 0 && f->sec[i].ext == ext)
			return &f->sec[i].d;
	}
	f->sec = xreallocarray(f->sec, f->nsec + 1, sizeof *f->sec);
	memset(&f->sec[f->nsec], 0, sizeof f->sec[f->nsec]);
	f->sec[f->nsec].uri = xstrdup(uri);
	f->sec[f->nsec].ext = ext;
	return &f->sec[f->nsec++].d;
}

/* load_config: name = value lines, ?uri and ?uri#[n] sections. */
static int
lg_parse(struct lg_file *f, const char *name, const char *text, size_t len, struct msgbuf *e)
{
	const char *p = text, *end = text + len, *nl;
	struct lg_dict *cur = &f->top;
	char *line, *eq, *key, *val, *uri, *h;
	unsigned lineno = 0;
	long ext;
	unsigned n0 = e->n;

	free(f->name);
	f->name = xstrdup(name);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		lineno++;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			msgbuf_at(e, name, lineno, "NUL byte: not a text file");
			p = nl + 1;
			continue;
		}
		line = xstrndup(p, (size_t)(nl - p));
		p = nl + 1;
		if (line[0] == '?') {
			if ((h = strstr(line, "#[")) == NULL) {
				uri = bp_strip_dup(line + 1, strlen(line + 1));
				ext = 0;
			} else {
				uri = bp_strip_dup(line + 1, (size_t)(h - line - 1));
				ext = strtol(h + 2, &val, 10);
				while (*val == ' ')
					val++;
				if (val == h + 2 || *val != ']' || ext < 0 || ext > 100000) {
					msgbuf_at(e, name, lineno, "malformed section '%s' (expected "
					    "?URI or ?URI#[N])", line);
					free(uri);
					free(line);
					continue;
				}
			}
			cur = lg_section(f, uri, (int)ext);
			free(uri);
		} else if ((eq = strchr(line, '=')) != NULL && line[0] != '#') {
			key = bp_strip_dup(line, (size_t)(eq - line));
			val = bp_strip_dup(eq + 1, strlen(eq + 1));
			if (key[0] == '\0')
				msgbuf_at(e, name, lineno, "syntax error: '= VALUE' without a name");
			else
				dict_put(cur, key, val, lineno);
			free(key);
			free(val);
		}
		free(line);
	}
	return e->n > n0 ? -1 : 0;
}

void
legacy_free(struct legacy *lg)
{
	if (lg == NULL)
		return;
	lg_file_free(&lg->config);
	lg_file_free(&lg->defaults);
	lg_file_free(&lg->overrides);
	free(lg);
}

int
legacy_load_text(const char *config, size_t config_len, const char *defaults,
    size_t defaults_len, const char *overrides, size_t overrides_len, struct legacy **out,
    char **cause)
{
	struct legacy *lg = xcalloc(1, sizeof *lg);
	struct msgbuf e = { 0 };
	size_t i;

	for (i = 0; i < sizeof lg_builtin / sizeof lg_builtin[0]; i++)
		dict_put(&lg->config.top, lg_builtin[i][0], lg_builtin[i][1], 0);
	lg->config.name = xstrdup("(built-in config)");
	if (config != NULL)
		lg_parse(&lg->config, "config", config, config_len, &e);
	if (defaults != NULL)
		lg_parse(&lg->defaults, "default", defaults, defaults_len, &e);
	else
		lg->defaults.name = xstrdup("default");
	if (overrides != NULL)
		lg_parse(&lg->overrides, "override", overrides, overrides_len, &e);
	else
		lg->overrides.name = xstrdup("override");
	if (e.n > 0) {
		legacy_free(lg);
		*cause = msgbuf_take(&e);
		return -1;
	}
	*out = lg;
	return 0;
}

int
legacy_load(const char *config, const char *defaults, const char *overrides,
    struct legacy **out, char **cause)
{
	const char *paths[3] = { config, defaults, overrides };
	char *text[3] = { NULL, NULL, NULL };
	size_t len[3] = { 0, 0, 0 };
	int i, r = -1;

	for (i = 0; i < 3; i++) {
		if (paths[i] != NULL && fileio_read(paths[i], &text[i], &len[i], cause) != 0)
			goto out;
	}
	if ((r = legacy_load_text(text[0], len[0], text[1], len[1], text[2], len[2], out,
	    cause)) == 0) {
		for (i = 0; i < 3; i++) {
			struct lg_file *f = i == 0 ? &(*out)->config :
			    (i == 1 ? &(*out)->defaults : &(*out)->overrides);

			if (paths[i] != NULL) {
				free(f->name);
				f->name = xstrdup(paths[i]);
			}
		}
	} else if (*cause != NULL) {
		/* messages name "config"/"default"/"override": say which files */
		char *c = xasprintf("%s\n(config %s, default %s, override %s)", *cause,
		    config ? config : "built-in", defaults ? defaults : "none",
		    overrides ? overrides : "none");
		free(*cause);
		*cause = c;
	}
out:
	for (i = 0; i < 3; i++)
		free(text[i]);
	return r;
}

/* Python str.isupper(): at least one cased character and no lower-case one. */
static int
py_isupper(const char *s)
{
	int cased = 0;

	for (; *s != '\0'; s++) {
		if (islower((unsigned char)*s))
			return 0;
		if (isupper((unsigned char)*s))
			cased = 1;
	}
	return cased;
}

/* The reference's ConvertFromJava: name -> CAOM keys. */
struct lg_convert {
	struct strmap	*inv_plan;	/* keyword -> struct keylist * */
	struct strmap	*inv_config;	/* config value -> struct keylist * */
};

struct keylist {
	enum bp_key_id	*k;
	size_t		 n;
};

static void
keylist_add(struct strmap *m, const char *name, enum bp_key_id key)
{
	struct keylist *l = strmap_get(m, name);

	if (l == NULL) {
		l = xcalloc(1, sizeof *l);
		strmap_put(m, name, l);
	}
	l->k = xreallocarray(l->k, l->n + 1, sizeof *l->k);
	l->k[l->n++] = key;
}

static void
keylist_free(const char *name, void *v, void *arg)
{
	struct keylist *l = v;

	(void)name;
	(void)arg;
	free(l->k);
	free(l);
}

static void
convert_init(struct lg_convert *c, const struct blueprint *bp, const struct legacy *lg)
{
	const struct bp_value *v;
	int *keys, k;
	size_t i, j, n;

	c->inv_plan = strmap_new();
	c->inv_config = strmap_new();
	n = bp_plan_keys(bp, 0, &keys);
	for (i = 0; i < n; i++) {
		v = bp_get(bp, keys[i], 0);
		for (j = 0; v->kind == BP_LIST && j < v->nkw; j++)
			keylist_add(c->inv_plan, v->kw[j], keys[i]);
	}
	free(keys);
	for (i = 0; i < lg->config.top.n; i++) {
		if ((k = bp_key(lg->config.top.e[i].key)) >= 0)
			keylist_add(c->inv_config, lg->config.top.e[i].value, k);
	}
}

static void
convert_free(struct lg_convert *c)
{
	strmap_each(c->inv_plan, keylist_free, NULL);
	strmap_each(c->inv_config, keylist_free, NULL);
	strmap_free(c->inv_plan);
	strmap_free(c->inv_config);
}

/* get_caom2_elements: the keys a name stands for (one key itself, or via the maps). */
static const enum bp_key_id *
convert_keys(const struct lg_convert *c, const char *name, size_t *n, enum bp_key_id *one)
{
	struct keylist *l;
	int k;

	if ((k = bp_key(name)) >= 0) {
		*one = (enum bp_key_id)k;
		*n = 1;
		return one;
	}
	if ((l = strmap_get(c->inv_config, name)) != NULL ||
	    (l = strmap_get(c->inv_plan, name)) != NULL) {
		*n = l->n;
		return l->k;
	}
	*n = 0;
	return NULL;
}

/* _update_axis_info: CTYPEn entries of the defaults and overrides say which axis is which. */
static int
lg_axes(struct blueprint *bp, const struct legacy *lg, struct msgbuf *e)
{
	static const char *const energy[] = { "FREQ", "ENER", "WAVN", "VRAD", "WAVE", "VOPT",
		"ZOPT", "AWAV", "VELO", "BETA", NULL };
	static const char *const timek[] = { "TIME", "TAI", "TT", "TDT", "ET", "IAT", "UT1",
		"UTC", "GMT", "GPS", "TCG", "TCB", "TDB", "LOCAL", NULL };
	static const char *const ra[] = { "RA", "GLON", "ELON", "HLON", "SLON", NULL };
	static const char *const dec[] = { "DEC", "GLAT", "ELAT", "HLAT", "SLAT", NULL };
	static const char *const pol[] = { "STOKES", NULL };
	static const char *const obs[] = { "observable", "FLUX", NULL };
	static const char *const *const kinds[] = { energy, pol, timek, ra, dec, obs };
	const struct lg_file *files[2] = { &lg->defaults, &lg->overrides };
	const struct lg_entry *en, *ig;
	int axis[6] = { 0, 0, 0, 0, 0, 0 }, f, a, found;
	unsigned n0 = e->n;
	size_t i, j, len;
	char *head;

	for (f = 0; f < 2; f++) {
		for (i = 0; i < files[f]->top.n; i++) {
			en = &files[f]->top.e[i];
			len = strlen(en->key);
			if (strncmp(en->key, "CTYPE", 5) != 0 || !isdigit((unsigned char)en->key[len - 1]))
				continue;
			head = xstrndup(en->value, strcspn(en->value, "-"));
			for (a = 0, found = 0; a < 6 && !found; a++) {
				for (j = 0; kinds[a][j] != NULL; j++) {
					if (strcmp(head, kinds[a][j]) == 0) {
						axis[a] = en->key[len - 1] - '0';
						found = 1;
						break;
					}
				}
			}
			if (!found)
				msgbuf_at(e, files[f]->name, en->line, "%s: unrecognised CTYPE '%s'",
				    en->key, en->value);
			free(head);
		}
	}
	if (e->n > n0)
		return -1;
#define IGNORED(name) ((ig = dict_get(&lg->config.top, name)) != NULL && \
	strcmp(ig->value, "{ignore}") == 0)
	if (!IGNORED("Chunk.position")) {
		if (axis[3] && axis[4])
			bp_configure_position(bp, axis[3], axis[4], 1);
		else if (axis[3] || axis[4]) {
			msgbuf_at(e, "override", 0, "only one position axis found (ra/dec): %d/%d",
			    axis[3], axis[4]);
			return -1;
		} else if (axis[0] == 1 || axis[0] == 2 || axis[1] == 1 || axis[1] == 2 ||
		    axis[2] == 1 || axis[2] == 2 || axis[5] == 1 || axis[5] == 2) {
			msgbuf_at(e, files[1]->name, 0, "cannot determine the position axes: WCS axis "
			    "1 or 2 is taken by another axis");
			return -1;
		} else
			bp_configure_position(bp, 1, 2, 1);
	}
	if (axis[2] && !IGNORED("Chunk.time"))
		bp_configure_time(bp, axis[2], 1);
	if (axis[0] && !IGNORED("Chunk.energy"))
		bp_configure_energy(bp, axis[0], 1);
	if (axis[1] && !IGNORED("Chunk.polarization"))
		bp_configure_simple(bp, BP_AXIS_POLARIZATION, axis[1], 1);
	if (axis[5] && !IGNORED("Chunk.observable"))
		bp_configure_simple(bp, BP_AXIS_OBSERVABLE, axis[5], 1);
#undef IGNORED
	return 0;
}

static void
lg_set_literal(struct bp_plan *p, enum bp_key_id key, const char *value, unsigned line)
{
	struct bp_value v = { .kind = strcmp(value, "None") == 0 ? BP_NONE : BP_LITERAL,
		.line = line };

	if (v.kind == BP_LITERAL)
		v.lit = xstrdup(value);
	bp_plan_put(p, key, &v);
}

static void
lg_warn(struct msgbuf *w, const struct lg_file *f, const struct lg_entry *en, const char *what)
{
	msgbuf_at(w, f->name, en->line, "%s: %s", en->key, what);
}

/* Config: upper-case keyword values go in front of the attribute's keyword list. */
static void
lg_apply_config(struct bp_plan *p, const struct legacy *lg, const struct lg_convert *c,
    struct msgbuf *w)
{
	const struct lg_entry *en;
	struct bp_value *v;
	const enum bp_key_id *keys;
	enum bp_key_id one;
	size_t i, j, n;

	for (i = 0; i < lg->config.top.n; i++) {
		en = &lg->config.top.e[i];
		if (!py_isupper(en->value) || strchr(en->value, '.') != NULL)
			continue;
		if ((keys = convert_keys(c, en->key, &n, &one)) == NULL) {
			lg_warn(w, &lg->config, en, "not a CAOM key (ignored)");
			continue;
		}
		for (j = 0; j < n; j++) {
			v = &p->v[keys[j]];
			if (v->kind == BP_LIST) {
				if (!bp_value_has_kw(v, en->value))
					bp_value_add_kw(v, en->value, 1);
			} else if (v->kind == BP_UNSET) {
				struct bp_value nv = { .kind = BP_LIST, .line = en->line };

				bp_value_add_kw(&nv, en->value, 0);
				bp_plan_put(p, keys[j], &nv);
			} else
				lg_warn(w, &lg->config, en, "has a value already; keyword ignored");
		}
	}
}

static void
lg_apply_defaults(struct bp_plan *p, const struct legacy *lg, const struct lg_convert *c,
    struct msgbuf *w)
{
	const struct lg_entry *en;
	struct bp_value *v;
	const enum bp_key_id *keys;
	enum bp_key_id one;
	size_t i, j, n;

	for (i = 0; i < lg->defaults.top.n; i++) {
		en = &lg->defaults.top.e[i];
		if ((keys = convert_keys(c, en->key, &n, &one)) == NULL) {
			lg_warn(w, &lg->defaults, en, "names no CAOM attribute or header keyword "
			    "(ignored)");
			continue;
		}
		for (j = 0; j < n; j++) {
			v = &p->v[keys[j]];
			if (v->kind == BP_LIST) {
				free(v->def);
				v->def = en->value[0] != '\0' ? xstrdup(en->value) : NULL;
			} else
				lg_set_literal(p, keys[j], en->value, en->line);
		}
	}
}

static void
lg_override_dict(struct blueprint *bp, const struct lg_file *f, const struct lg_dict *d,
    int ext, const struct lg_convert *c, struct msgbuf *w)
{
	const struct lg_entry *en;
	const enum bp_key_id *keys;
	enum bp_key_id one;
	size_t i, j, n;

	for (i = 0; i < d->n; i++) {
		en = &d->e[i];
		if (strcmp(en->key, "BITPIX") == 0)
			continue;
		if ((keys = convert_keys(c, en->key, &n, &one)) == NULL) {
			lg_warn(w, f, en, "names no CAOM attribute or header keyword (ignored)");
			continue;
		}
		for (j = 0; j < n; j++) {
			if (ext > 0 && strncmp(bp_key_name(keys[j]), "Chunk", 5) != 0) {
				lg_warn(w, f, en, "only Chunk attributes can be set per HDU (ignored)");
				continue;
			}
			lg_set_literal(bp_plan_for(bp, ext, 1), keys[j], en->value, en->line);
		}
	}
}

int
legacy_blueprint(const struct legacy *lg, const char *uri, struct blueprint **out,
    char **warnings, char **cause)
{
	struct blueprint *bp = blueprint_new();
	struct msgbuf e = { 0 }, w = { 0 };
	struct lg_convert c;
	size_t i;

	if (lg_axes(bp, lg, &e) != 0) {
		blueprint_free(bp);
		*cause = msgbuf_take(&e);
		return -1;
	}
	convert_init(&c, bp, lg);
	lg_apply_config(bp_plan_for(bp, 0, 0), lg, &c, &w);
	lg_apply_defaults(bp_plan_for(bp, 0, 0), lg, &c, &w);
	lg_override_dict(bp, &lg->overrides, &lg->overrides.top, 0, &c, &w);
	for (i = 0; uri != NULL && i < lg->overrides.nsec; i++) {
		if (strcmp(lg->overrides.sec[i].uri, uri) == 0)
			lg_override_dict(bp, &lg->overrides, &lg->overrides.sec[i].d,
			    lg->overrides.sec[i].ext, &c, &w);
	}
	convert_free(&c);
	if (warnings != NULL)
		*warnings = msgbuf_take(&w);
	else
		msgbuf_clear(&w);
	*out = bp;
	return 0;
}
