/*
 * map.c - the mapping engine (see map.h).
 *
 * The order of operations and the many small rules here (which value wins,
 * when an object is created, which WCS values are kept) are those of the
 * reference caom2utils FitsParser/BlueprintParser, because the output must
 * equal what the reference tools write for the same files; the comments
 * name the reference function each part corresponds to. Header values are
 * typed by fits.h, each HDU's WCS is read by wcs.h (FitsWcsParser); this
 * file applies the blueprint to the headers, reads the blueprint's values
 * and completes the WCS from them, then fills in the plane, the artifact,
 * its parts and chunks, and the observation.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caom/lua_rt.h"
#include "caom/map.h"
#include "caom/numfmt.h"
#include "caom/wcs.h"
#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

/* ---- Mapping context and the first error ---- */

struct mctx {
	const struct map_input	*in;
	const struct blueprint	*bp;
	struct fits_file	*f;
	struct caom_observation	*obs;
	struct msgbuf		 warn;
	char			*error;		/* the first fatal error */
	char			*fn_error;	/* the first failed function call */
};

static int
fail(struct mctx *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct mctx *m, const char *fmt, ...)
{
	va_list ap;

	if (m->error == NULL) {
		va_start(ap, fmt);
		m->error = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The header of HDU i, or NULL. */
static struct fits_hdu *
hdu(struct mctx *m, int i)
{
	return m->f != NULL && i >= 0 && (size_t)i < m->f->nhdus ? &m->f->hdus[i] : NULL;
}

/* ---- Blueprint values (FitsParser._get_from_list) ---- */

enum mv_state {
	MV_ABSENT,	/* nothing: keep the current value */
	MV_NULL,	/* explicitly no value */
	MV_DEFAULT,	/* a default: used when there is no current value */
	MV_VALUE
};

struct mv {
	enum mv_state	 st;
	struct fits_hval v;
	char		 num[40];
	char		*own;		/* a function's result */
	const char	*key;
	int		 index;
};

static void
mv_free(struct mv *v)
{
	free(v->own);
	v->own = NULL;
}

/* A keyword list: the first keyword with a true value, else the default. */
static void
get_list(struct mctx *m, const struct bp_value *b, struct mv *r)
{
	size_t i;

	for (i = 0; i < b->nkw; i++) {
		if (fits_hdu_typed(hdu(m, r->index), b->kw[i], &r->v) == 0 &&
		    fits_hval_truthy(&r->v)) {
			r->st = MV_VALUE;
			return;
		}
	}
	memset(&r->v, 0, sizeof r->v);
	r->v.t = FITS_H_STR;
	if (b->def != NULL) {
		r->st = MV_DEFAULT;
		r->v.s = b->def;
	}
}

/* A function value: call it for HDU r->index (a failure is kept in m->fn_error). */
static void
get_function(struct mctx *m, const struct bp_value *b, struct mv *r)
{
	struct lua_rt_value v;
	char *cause = NULL;

	if (m->fn_error != NULL)
		return;		/* the mapping has failed already */
	if (m->in->lua == NULL || b->fn < 0) {
		m->fn_error = xasprintf("%s: function %s is not bound (no functions file)",
		    r->key, b->lit);
		return;
	}
	memset(&v, 0, sizeof v);
	if (lua_rt_call(m->in->lua, b->fn, r->index, &v, &cause) != 0) {
		m->fn_error = xasprintf("%s = %s: %s", r->key, b->lit, cause);
		free(cause);
		return;
	}
	switch (v.type) {
	case LUA_RT_NIL:
		break;		/* absent, as a missing keyword */
	case LUA_RT_BOOL:
		r->st = MV_VALUE;
		r->v.t = FITS_H_BOOL;
		r->v.b = v.b;
		break;
	case LUA_RT_INT:
		r->st = MV_VALUE;
		r->v.t = FITS_H_INT;
		r->v.i = v.i;
		r->v.d = (double)v.i;
		break;
	case LUA_RT_FLOAT:
		r->st = MV_VALUE;
		r->v.t = FITS_H_FLOAT;
		r->v.d = v.d;
		break;
	case LUA_RT_STRING:
		if (lua_rt_check_enum(r->key, v.s, &cause) != 0) {
			m->fn_error = xasprintf("%s = %s: %s", r->key, b->lit, cause);
			free(cause);
			break;
		}
		r->st = MV_VALUE;
		r->own = v.s;
		v.s = NULL;
		r->v.s = r->own;
		break;
	}
	lua_rt_value_clear(&v);
}

/* The blueprint's value of key for HDU index (free it with mv_free). */
static struct mv
get(struct mctx *m, enum bp_key_id key, int index)
{
	const struct bp_value *b;
	struct mv r;

	memset(&r, 0, sizeof r);
	r.key = bp_key_name(key);
	r.index = index;
	r.v.t = FITS_H_STR;
	if ((b = bp_get(m->bp, key, index)) == NULL)
		return r;
	switch (b->kind) {
	case BP_LIST:
		get_list(m, b, &r);
		break;
	case BP_LITERAL:
		if (b->lit[0] != '\0') {
			r.st = strcmp(b->lit, "None") == 0 ? MV_NULL : MV_VALUE;
			r.v.s = b->lit;
		}
		break;
	case BP_NONE:
		r.st = MV_NULL;
		break;
	case BP_FUNCTION:
		get_function(m, b, &r);
		break;
	default:
		break;
	}
	return r;
}

static int
mv_has(const struct mv *v, int has_current)
{
	return v->st == MV_VALUE || (v->st == MV_DEFAULT && !has_current);
}

static const char *
mv_text(struct mv *v)
{
	return fits_hval_str(&v->v, v->num);
}

static void
warn_value(struct mctx *m, const struct mv *v, const char *what)
{
	char buf[40];

	msgbuf_add(&m->warn, "%s: HDU %d: %s: '%s' is not %s (ignored)",
	    m->f != NULL ? m->f->path : m->in->uri, v->index, v->key, fits_hval_str(&v->v, buf),
	    what);
}

/* A string attribute. */
static void
set_str(struct mctx *m, char **field, enum bp_key_id key, int index)
{
	struct mv v = get(m, key, index);

	if (v.st == MV_NULL) {
		free(*field);
		*field = NULL;
	} else if (mv_has(&v, *field != NULL)) {
		free(*field);
		*field = xstrdup(mv_text(&v));
	}
	mv_free(&v);
}

/* A one-string value object's string (a UCD, a flag): cur or key's value; NULL when empty. */
static char *
set_single(struct mctx *m, const char *cur, enum bp_key_id key)
{
	char *s = cur != NULL ? xstrdup(cur) : NULL;

	set_str(m, &s, key, 0);
	if (s != NULL && s[0] == '\0') {
		free(s);
		s = NULL;
	}
	return s;
}

/* _to_float of a value; 0 or -1. */
static int
mv_double(struct mctx *m, struct mv *v, double *out)
{
	if (v->v.t == FITS_H_FLOAT || v->v.t == FITS_H_INT) {
		*out = v->v.d;
		return 0;
	}
	if (v->v.t == FITS_H_STR && fits_parse_double(v->v.s, out) == 0)
		return 0;
	warn_value(m, v, "a number");
	return -1;
}

static void
set_double(struct mctx *m, double *field, int *has, enum bp_key_id key, int index)
{
	struct mv v = get(m, key, index);
	double d;

	if (v.st == MV_NULL)
		*has = 0;
	else if (mv_has(&v, *has) && mv_double(m, &v, &d) == 0) {
		*field = d;
		*has = 1;
	}
	mv_free(&v);
}

static int
mv_long(struct mctx *m, struct mv *v, long long *out)
{
	double d;
	char *end;

	if (v->v.t == FITS_H_INT) {
		*out = v->v.i;
		return 0;
	}
	if (v->v.t == FITS_H_FLOAT && v->v.d == trunc(v->v.d) && fabs(v->v.d) < 9e18) {
		*out = (long long)v->v.d;
		return 0;
	}
	if (v->v.t == FITS_H_STR) {
		*out = strtoll(v->v.s, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (end != v->v.s && *end == '\0')
			return 0;
		if (fits_parse_double(v->v.s, &d) == 0 && d == trunc(d) && fabs(d) < 9e18) {
			*out = (long long)d;
			return 0;
		}
	}
	warn_value(m, v, "an integer");
	return -1;
}

static void
set_int(struct mctx *m, int *field, int *has, enum bp_key_id key, int index)
{
	struct mv v = get(m, key, index);
	long long n;

	if (v.st == MV_NULL)
		*has = 0;
	else if (mv_has(&v, *has) && mv_long(m, &v, &n) == 0) {
		*field = (int)n;
		*has = 1;
	}
	mv_free(&v);
}

/* _cast_as_bool: a FITS logical, or 'true'/'false'; anything else unsets. */
static void
set_bool(struct mctx *m, int *field, int *has, enum bp_key_id key, int index)
{
	struct mv v = get(m, key, index);

	if (v.st == MV_NULL)
		*has = 0;
	else if (mv_has(&v, *has)) {
		if (v.v.t == FITS_H_BOOL) {
			*field = v.v.b;
			*has = 1;
		} else if (v.v.t == FITS_H_STR && strcmp(v.v.s, "true") == 0) {
			*field = 1;
			*has = 1;
		} else if (v.v.t == FITS_H_STR && strcmp(v.v.s, "false") == 0) {
			*field = 0;
			*has = 1;
		} else
			*has = 0;
	}
	mv_free(&v);
}

/* _get_datetime: the formats the reference accepts, as UTC. */
static int
parse_date(const char *s, int64_t *ms)
{
	static const char *const fmts[] = {
		"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S",
		"%Y/%m/%d,%H:%M:%S", "%Y-%m-%d", "%Y/%m/%d", "%d/%m/%y %H:%M:%S", "%d/%m/%y",
		"%d-%m-%Y",
	};
	struct tm tm;
	const char *end;
	double frac = 0;
	size_t i;

	for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		memset(&tm, 0, sizeof tm);
		if ((end = strptime(s, fmts[i], &tm)) == NULL)
			continue;
		if (*end == '.' && i < 2 && isdigit((unsigned char)end[1])) {
			frac = strtod(end, (char **)(uintptr_t)&end);
		}
		if (*end == 'Z' && i == 0)
			end++;
		if (*end != '\0')
			continue;
		*ms = (int64_t)timegm(&tm) * 1000 + (int64_t)(frac * 1000 + 1e-6);
		return 0;
	}
	return -1;
}

static void
set_date(struct mctx *m, int64_t *field, int *has, enum bp_key_id key, int index)
{
	struct mv v = get(m, key, index);
	int64_t ms;

	if (v.st == MV_NULL)
		*has = 0;
	else if (mv_has(&v, *has)) {
		if (v.v.t == FITS_H_STR && v.v.s[0] == '\0')
			*has = 0;
		else if (v.v.t == FITS_H_STR && parse_date(v.v.s, &ms) == 0) {
			*field = ms;
			*has = 1;
		} else {
			warn_value(m, &v, "a date");
			*has = 0;
		}
	}
	mv_free(&v);
}

/* _get_set_from_list: the first keyword's value (found or not), or a literal. */
static char *
get_set(struct mctx *m, enum bp_key_id key)
{
	const struct bp_value *b = bp_get(m->bp, key, 0);
	struct fits_hval v;
	char buf[40];

	if (b == NULL)
		return NULL;
	if (b->kind == BP_LIST) {
		if (b->nkw > 0 && fits_hdu_typed(hdu(m, 0), b->kw[0], &v) == 0)
			return xstrdup(fits_hval_str(&v, buf));
		return NULL;
	}
	if (b->kind == BP_LITERAL && b->lit[0] != '\0')
		return xstrdup(b->lit);
	return NULL;
}

/* _add_keywords: whitespace-separated words, or the current set kept. */
static void
set_keywords(struct mctx *m, struct caom_strlist *l, enum bp_key_id key)
{
	char *val = get_set(m, key), *tok, *save = NULL;

	if (val == NULL || val[0] == '\0') {
		free(val);
		return;
	}
	caom_strlist_clear(l);
	for (tok = strtok_r(val, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		if (strcmp(tok, "none") != 0)
			caom_strlist_add(l, tok);
	}
	free(val);
}

/* ---- apply_blueprint: the blueprint into the headers ---- */

/* wcs_std's keywords, split at commas, into kws (returns the count). */
static size_t
std_keywords(const char *std, char kws[4][32])
{
	size_t n = 0, len;

	while (std != NULL && *std != '\0' && n < 4) {
		len = strcspn(std, ",");
		snprintf(kws[n++], 32, "%.*s", (int)len, std);
		std += len + (std[len] == ',');
	}
	return n;
}

static int
in_std(const char *kw, char kws[4][32], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(kw, kws[i]) == 0)
			return 1;
	}
	return 0;
}

/* One plan entry, whose standard keywords are kws[n], into one header. */
static void
apply_value(struct fits_hdu *h, const struct bp_value *b, char kws[4][32], size_t n)
{
	char buf[40];
	struct fits_hval v;
	size_t i, j;

	if (b->kind == BP_LIST) {
		for (i = 0; i < b->nkw; i++) {
			if (!in_std(b->kw[i], kws, n) && fits_hdu_typed(h, b->kw[i], &v) == 0) {
				char *text = xstrdup(fits_hval_str(&v, buf));

				for (j = 0; j < n; j++)
					fits_hdu_set_typed(h, kws[j], text);
				free(text);
			}
		}
	} else if (b->kind == BP_LITERAL && strstr(b->lit, "None") == NULL) {
		for (j = 0; j < n; j++)
			fits_hdu_set_typed(h, kws[j], b->lit);
	}
}

/* The plan's entries that name standard WCS keywords, into every header. */
static void
apply_plan(struct mctx *m)
{
	const struct bp_value *b;
	char kws[4][32];
	size_t nkeys, k, h, n;
	int *keys;

	nkeys = bp_plan_keys(m->bp, 0, &keys);
	for (k = 0; k < nkeys; k++) {
		b = bp_get(m->bp, keys[k], 0);
		if ((n = std_keywords(bp_wcs_std(m->bp, keys[k]), kws)) == 0)
			continue;
		for (h = 0; h < m->f->nhdus; h++)
			apply_value(&m->f->hdus[h], b, kws, n);
	}
	free(keys);
}

/* Each extension plan's entries into its own header. */
static void
apply_extensions(struct mctx *m)
{
	const int *exts;
	char kws[4][32];
	size_t nexts, k, nkeys, e, n;
	int *keys, ext;

	nexts = bp_extensions(m->bp, &exts);
	for (k = 0; k < nexts; k++) {
		if ((size_t)(ext = exts[k]) >= m->f->nhdus) {
			msgbuf_add(&m->warn, "%s: the blueprint configures extension %d, the file has "
			    "%zu HDUs", m->f->path, ext, m->f->nhdus);
			continue;
		}
		nkeys = bp_plan_keys(m->bp, ext, &keys);
		for (e = 0; e < nkeys; e++) {
			if ((n = std_keywords(bp_wcs_std(m->bp, keys[e]), kws)) > 0)
				apply_value(&m->f->hdus[ext], bp_get(m->bp, keys[e], ext), kws, n);
		}
		free(keys);
	}
}

/* Defaults: the last keyword of a list gets the default where it has no value. */
static void
apply_defaults(struct mctx *m)
{
	const struct bp_value *b;
	struct fits_hval v;
	const char *last;
	size_t nkeys, k, h;
	int *keys;

	nkeys = bp_plan_keys(m->bp, 0, &keys);
	for (k = 0; k < nkeys; k++) {
		b = bp_get(m->bp, keys[k], 0);
		if (b->kind != BP_LIST || b->def == NULL || b->nkw == 0 ||
		    strchr(b->kw[b->nkw - 1], ',') != NULL)
			continue;
		last = b->kw[b->nkw - 1];
		for (h = 0; h < m->f->nhdus; h++) {
			if (fits_hdu_typed(&m->f->hdus[h], last, &v) != 0 || !fits_hval_truthy(&v))
				fits_hdu_set_typed(&m->f->hdus[h], last, b->def);
		}
	}
	free(keys);
}

/* astropy ignores CDELTi when any CD is present: make the CD diagonal explicit. */
static void
apply_cd_diagonal(struct fits_hdu *h)
{
	const struct fits_card *c;
	char cd[16], cdelt[16];
	int i, any;

	for (i = 1, any = 0; i <= 5 && !any; i++) {
		snprintf(cd, sizeof cd, "CD%d_%d", i, i);
		any = fits_hdu_find(h, cd) != NULL;
	}
	for (i = 1; any && i <= 5; i++) {
		snprintf(cd, sizeof cd, "CD%d_%d", i, i);
		snprintf(cdelt, sizeof cdelt, "CDELT%d", i);
		if ((c = fits_hdu_find(h, cdelt)) != NULL && fits_hdu_find(h, cd) == NULL &&
		    c->value != NULL)
			fits_hdu_set(h, cd, c->type, c->value);
	}
}

/* apply_blueprint: the blueprint's standard WCS keywords and defaults into the headers. */
static void
apply_blueprint(struct mctx *m)
{
	size_t h;

	if (m->f == NULL)
		return;
	apply_plan(m);
	apply_extensions(m);
	apply_defaults(m);
	for (h = 0; h < m->f->nhdus; h++)
		apply_cd_diagonal(&m->f->hdus[h]);
}

/* ---- Completing the WCS from the blueprint (ContentParser._try_*_with_blueprint) ---- */

/* Two values that must both be there (_two_param_constructor); 1 when both are. */
static int
two_doubles(struct mctx *m, enum bp_key_id k1, enum bp_key_id k2, int index, double *a, double *b)
{
	struct mv v1 = get(m, k1, index), v2 = get(m, k2, index);
	int r = mv_has(&v1, 0) && mv_has(&v2, 0) && mv_double(m, &v1, a) == 0 &&
	    mv_double(m, &v2, b) == 0;

	mv_free(&v1);
	mv_free(&v2);
	return r;
}

static int
two_strings(struct mctx *m, enum bp_key_id k1, enum bp_key_id k2, int index, struct caom_axis *out)
{
	struct mv v1 = get(m, k1, index), v2 = get(m, k2, index);
	int r = mv_has(&v1, 0) && mv_has(&v2, 0);

	if (r) {
		out->ctype = xstrdup(mv_text(&v1));
		out->cunit = xstrdup(mv_text(&v2));
	}
	mv_free(&v1);
	mv_free(&v2);
	return r;
}

static int
one_double(struct mctx *m, enum bp_key_id key, int index, double *out)
{
	struct mv v = get(m, key, index);
	int r = mv_has(&v, 0) && mv_double(m, &v, out) == 0;

	mv_free(&v);
	return r;
}

static int
one_long(struct mctx *m, enum bp_key_id key, int index, long long *out)
{
	struct mv v = get(m, key, index);
	int r = mv_has(&v, 0) && mv_long(m, &v, out) == 0;

	mv_free(&v);
	return r;
}

/* _to_int(_get_from_list(key)) assigned without a current value. */
static void
axis_index_from(struct mctx *m, enum bp_key_id key, int index, int *field, int *has)
{
	long long n;

	*has = one_long(m, key, index, &n);
	*field = (int)n;
}

/* A CoordError of both values. */
static struct caom_coord_error *
coord_error_of(double syser, double rnder)
{
	struct caom_coord_error *e = caom_coord_error_new();

	e->syser = syser;
	e->rnder = rnder;
	e->has_syser = e->has_rnder = 1;
	return e;
}

static struct caom_coord_error *
error_dup(const struct caom_coord_error *e)
{
	struct caom_coord_error *c;

	if (e == NULL)
		return NULL;
	c = caom_coord_error_new();
	*c = *e;
	return c;
}

/*
 * The blueprint keys of a 1-D axis (Chunk.LABEL.axis.* and Chunk.LABELAxis),
 * named at compile time: a key the table lacks does not compile. The
 * reference has no Chunk.customAxis: that axis's index is BP_NKEYS (never set).
 */
struct axis1d_keys {
	enum bp_key_id	 ctype, cunit, syser, rnder;
	enum bp_key_id	 start_pix, start_val, end_pix, end_val;
	enum bp_key_id	 ref_pix, ref_val, delta, naxis, axis;
};

#define AXIS1D_KEYS(l, axis) {							\
	BPK_Chunk_##l##_axis_axis_ctype, BPK_Chunk_##l##_axis_axis_cunit,	\
	BPK_Chunk_##l##_axis_error_syser, BPK_Chunk_##l##_axis_error_rnder,	\
	BPK_Chunk_##l##_axis_range_start_pix, BPK_Chunk_##l##_axis_range_start_val, \
	BPK_Chunk_##l##_axis_range_end_pix, BPK_Chunk_##l##_axis_range_end_val,	\
	BPK_Chunk_##l##_axis_function_refCoord_pix,				\
	BPK_Chunk_##l##_axis_function_refCoord_val,				\
	BPK_Chunk_##l##_axis_function_delta, BPK_Chunk_##l##_axis_function_naxis, axis }

static const struct axis1d_keys energy_keys = AXIS1D_KEYS(energy, BPK_Chunk_energyAxis);
static const struct axis1d_keys time_keys = AXIS1D_KEYS(time, BPK_Chunk_timeAxis);
static const struct axis1d_keys polarization_keys =
    AXIS1D_KEYS(polarization, BPK_Chunk_polarizationAxis);
static const struct axis1d_keys custom_keys = AXIS1D_KEYS(custom, BP_NKEYS);

/* The axis (ctype, cunit) and its error from the blueprint; 1 when it names a ctype. */
static int
axis_from_blueprint(struct mctx *m, const struct axis1d_keys *k, int index,
    struct caom_axis *ax, struct caom_coord_error **err)
{
	struct mv c = get(m, k->ctype, index);
	struct mv u = get(m, k->cunit, index);
	double syser, rnder;
	int have = mv_has(&c, 0);

	if (have) {
		ax->ctype = xstrdup(mv_text(&c));
		ax->cunit = mv_has(&u, 0) ? xstrdup(mv_text(&u)) : NULL;
	}
	mv_free(&c);
	mv_free(&u);
	if (two_doubles(m, k->syser, k->rnder, index, &syser, &rnder))
		*err = coord_error_of(syser, rnder);
	return have;
}

/* The range's start and end (pix and val each) from the blueprint; 1 when all four are there. */
static int
range1d_from_blueprint(struct mctx *m, const struct axis1d_keys *k, int index,
    struct caom_ref_coord *s, struct caom_ref_coord *e)
{
	return two_doubles(m, k->start_pix, k->start_val, index, &s->pix, &s->val) &&
	    two_doubles(m, k->end_pix, k->end_val, index, &e->pix, &e->val);
}

/* The function (refCoord, delta, naxis) from the blueprint, and with it the axis index. */
static void
function1d_from_blueprint(struct mctx *m, const struct axis1d_keys *k, int index,
    struct caom_coord_axis1d *out, int *axis_field, int *axis_has)
{
	double pix, val, delta;
	long long len;

	/* a function-less axis built from the blueprint keeps no index either */
	if (!two_doubles(m, k->ref_pix, k->ref_val, index, &pix, &val) ||
	    !one_double(m, k->delta, index, &delta) || !one_long(m, k->naxis, index, &len))
		return;
	out->function = caom_coord_function1d_new();
	out->function->naxis = len;
	out->function->delta = delta;
	out->function->ref_coord.pix = pix;
	out->function->ref_coord.val = val;
	axis_index_from(m, k->axis, index, axis_field, axis_has);
}

/*
 * _get_axis_wcs: a 1-D axis from the blueprint when the WCS gave none or no
 * function, into *out; 1 when one was built (0: *out is empty).
 */
static int
axis1d_from_blueprint(struct mctx *m, const struct axis1d_keys *k, int index,
    const struct caom_coord_axis1d *wcsaxis, struct caom_coord_axis1d *out, int *axis_field,
    int *axis_has)
{
	struct caom_axis ax = { NULL, NULL };
	struct caom_coord_error *err = NULL;
	struct caom_ref_coord s, e;
	int from_wcs = wcsaxis != NULL && wcsaxis->axis.ctype != NULL, have_axis, have_range;

	memset(out, 0, sizeof *out);
	have_axis = from_wcs || axis_from_blueprint(m, k, index, &ax, &err);
	have_range = range1d_from_blueprint(m, k, index, &s, &e);
	if (!have_axis || (!have_range && wcsaxis != NULL && wcsaxis->function != NULL)) {
		free(ax.ctype);
		free(ax.cunit);
		caom_coord_error_free(err);
		return 0;
	}
	if (from_wcs) {
		out->axis.ctype = xstrdup(wcsaxis->axis.ctype);
		out->axis.cunit = wcsaxis->axis.cunit ? xstrdup(wcsaxis->axis.cunit) : NULL;
		out->error = error_dup(wcsaxis->error);
	} else {
		out->axis = ax;
		out->error = err;
	}
	if (have_range) {
		out->range = caom_coord_range1d_new();
		out->range->start = s;
		out->range->end = e;
	} else
		function1d_from_blueprint(m, k, index, out, axis_field, axis_has);
	return 1;
}

/* Replace *dst by the axis the blueprint built; without a function the axis has no index. */
static void
axis1d_install(struct caom_coord_axis1d *dst, const struct caom_coord_axis1d *built,
    int *axis_has)
{
	caom_coord_axis1d_clear(dst);
	*dst = *built;
	if (built->function == NULL)
		*axis_has = 0;
}

/* The transition: both its species and its transition, or none. */
static void
bp_energy_transition(struct mctx *m, struct caom_spectral_wcs *e)
{
	char *species = NULL, *transition = NULL;

	if (e->transition != NULL) {
		species = xstrdup(e->transition->species);
		transition = xstrdup(e->transition->transition);
	}
	set_str(m, &species, BPK_Chunk_energy_transition_species, 0);
	set_str(m, &transition, BPK_Chunk_energy_transition_transition, 0);
	caom_energy_transition_free(e->transition);
	e->transition = NULL;
	if (species != NULL && transition != NULL) {
		e->transition = caom_energy_transition_new();
		e->transition->species = species;
		e->transition->transition = transition;
	} else {
		free(species);
		free(transition);
	}
}

static void
bp_energy(struct mctx *m, int index, struct caom_chunk *ch)
{
	struct caom_coord_axis1d built;
	struct caom_spectral_wcs *e;
	struct mv sp;

	if (axis1d_from_blueprint(m, &energy_keys, index, ch->energy ? &ch->energy->axis : NULL,
	    &built, &ch->energy_axis, &ch->has_energy_axis)) {
		if (ch->energy == NULL)
			ch->energy = caom_spectral_wcs_new();
		axis1d_install(&ch->energy->axis, &built, &ch->has_energy_axis);
		sp = get(m, BPK_Chunk_energy_specsys, index);
		free(ch->energy->specsys);
		ch->energy->specsys = mv_has(&sp, 0) ? xstrdup(mv_text(&sp)) : NULL;
		mv_free(&sp);
	}
	if ((e = ch->energy) == NULL)
		return;
	set_str(m, &e->ssysobs, BPK_Chunk_energy_ssysobs, index);
	set_double(m, &e->restfrq, &e->has_restfrq, BPK_Chunk_energy_restfrq, index);
	set_double(m, &e->restwav, &e->has_restwav, BPK_Chunk_energy_restwav, index);
	set_double(m, &e->velosys, &e->has_velosys, BPK_Chunk_energy_velosys, index);
	set_double(m, &e->zsource, &e->has_zsource, BPK_Chunk_energy_zsource, index);
	set_str(m, &e->ssyssrc, BPK_Chunk_energy_ssyssrc, index);
	set_double(m, &e->velang, &e->has_velang, BPK_Chunk_energy_velang, index);
	set_str(m, &e->bandpass_name, BPK_Chunk_energy_bandpassName, index);
	bp_energy_transition(m, e);
	set_double(m, &e->resolving_power, &e->has_resolving_power, BPK_Chunk_energy_resolvingPower,
	    index);
}

static void
bp_time(struct mctx *m, int index, struct caom_chunk *ch)
{
	struct caom_coord_axis1d built;
	struct caom_temporal_wcs *t;

	if (axis1d_from_blueprint(m, &time_keys, index, ch->time ? &ch->time->axis : NULL, &built,
	    &ch->time_axis, &ch->has_time_axis)) {
		if (ch->time == NULL)
			ch->time = caom_temporal_wcs_new();
		axis1d_install(&ch->time->axis, &built, &ch->has_time_axis);
	}
	if ((t = ch->time) == NULL)
		return;
	set_double(m, &t->exposure, &t->has_exposure, BPK_Chunk_time_exposure, index);
	set_double(m, &t->resolution, &t->has_resolution, BPK_Chunk_time_resolution, index);
	set_str(m, &t->timesys, BPK_Chunk_time_timesys, index);
	set_str(m, &t->trefpos, BPK_Chunk_time_trefpos, index);
	set_double(m, &t->mjdref, &t->has_mjdref, BPK_Chunk_time_mjdref, index);
}

static void
bp_polarization(struct mctx *m, int index, struct caom_chunk *ch)
{
	struct caom_coord_axis1d built;

	if (axis1d_from_blueprint(m, &polarization_keys, index,
	    ch->polarization ? &ch->polarization->axis : NULL, &built, &ch->polarization_axis,
	    &ch->has_polarization_axis)) {
		if (ch->polarization == NULL)
			ch->polarization = caom_polarization_wcs_new();
		axis1d_install(&ch->polarization->axis, &built, &ch->has_polarization_axis);
	}
}

static void
bp_custom(struct mctx *m, int index, struct caom_chunk *ch)
{
	struct caom_coord_axis1d built;

	if (axis1d_from_blueprint(m, &custom_keys, index, ch->custom ? &ch->custom->axis : NULL,
	    &built, &ch->custom_axis, &ch->has_custom_axis)) {
		if (ch->custom == NULL)
			ch->custom = caom_custom_wcs_new();
		axis1d_install(&ch->custom->axis, &built, &ch->has_custom_axis);
	}
}

static void
bp_observable(struct mctx *m, int index, struct caom_chunk *ch)
{
	struct caom_axis ax = { NULL, NULL };
	long long bin;

	if (!two_strings(m, BPK_Chunk_observable_dependent_axis_ctype,
	    BPK_Chunk_observable_dependent_axis_cunit, index, &ax))
		return;
	if (!one_long(m, BPK_Chunk_observable_dependent_bin, index, &bin)) {
		free(ax.ctype);
		free(ax.cunit);
		return;
	}
	caom_observable_axis_free(ch->observable);
	ch->observable = caom_observable_axis_new();
	ch->observable->dependent.axis = ax;
	ch->observable->dependent.bin = bin;
	axis_index_from(m, BPK_Chunk_observableAxis, index, &ch->observable_axis,
	    &ch->has_observable_axis);
}

/* A new 2-D axis with the axes and errors of src (when given). */
static struct caom_coord_axis2d *
axis2d_new_from(const struct caom_coord_axis2d *src)
{
	struct caom_coord_axis2d *a = xcalloc(1, sizeof *a);

	if (src != NULL) {
		a->axis1.ctype = xstrdup(src->axis1.ctype);
		a->axis1.cunit = xstrdup(src->axis1.cunit);
		a->axis2.ctype = xstrdup(src->axis2.ctype);
		a->axis2.cunit = xstrdup(src->axis2.cunit);
		a->error1 = error_dup(src->error1);
		a->error2 = error_dup(src->error2);
	}
	return a;
}

/* Replace *dst by *a (a is consumed). */
static void
axis2d_replace(struct caom_coord_axis2d *dst, struct caom_coord_axis2d *a)
{
	caom_coord_axis2d_clear(dst);
	*dst = *a;
	free(a);
}

/* Both position axes and their errors from the blueprint; 1 when both axes are there. */
static int
position_axes_from_blueprint(struct mctx *m, int index, struct caom_axis *x,
    struct caom_axis *y, struct caom_coord_error **ex, struct caom_coord_error **ey)
{
	double syser, rnder;
	int have_x, have_y;

	have_x = two_strings(m, BPK_Chunk_position_axis_axis1_ctype,
	    BPK_Chunk_position_axis_axis1_cunit, index, x);
	have_y = two_strings(m, BPK_Chunk_position_axis_axis2_ctype,
	    BPK_Chunk_position_axis_axis2_cunit, index, y);
	if (two_doubles(m, BPK_Chunk_position_axis_error1_syser,
	    BPK_Chunk_position_axis_error1_rnder, index, &syser, &rnder))
		*ex = coord_error_of(syser, rnder);
	if (two_doubles(m, BPK_Chunk_position_axis_error2_syser,
	    BPK_Chunk_position_axis_error2_rnder, index, &syser, &rnder))
		*ey = coord_error_of(syser, rnder);
	return have_x && have_y;
}

/* The position range from the blueprint; 1 when all eight values are there. */
static int
range2d_from_blueprint(struct mctx *m, int index, struct caom_coord_range2d *r)
{
	static const enum bp_key_id rk[8] = {
		BPK_Chunk_position_axis_range_start_coord1_pix,
		BPK_Chunk_position_axis_range_start_coord1_val,
		BPK_Chunk_position_axis_range_end_coord1_pix,
		BPK_Chunk_position_axis_range_end_coord1_val,
		BPK_Chunk_position_axis_range_start_coord2_pix,
		BPK_Chunk_position_axis_range_start_coord2_val,
		BPK_Chunk_position_axis_range_end_coord2_pix,
		BPK_Chunk_position_axis_range_end_coord2_val,
	};
	double *v[8] = {
		&r->start.coord1.pix, &r->start.coord1.val, &r->end.coord1.pix, &r->end.coord1.val,
		&r->start.coord2.pix, &r->start.coord2.val, &r->end.coord2.pix, &r->end.coord2.val,
	};
	int i;

	for (i = 0; i < 8; i += 2) {
		if (!two_doubles(m, rk[i], rk[i + 1], index, v[i], v[i + 1]))
			return 0;
	}
	return 1;
}

/* The position function from the blueprint, or NULL unless all its values are there. */
static struct caom_coord_function2d *
function2d_from_blueprint(struct mctx *m, int index)
{
	struct caom_coord_function2d f, *out;
	long long n1, n2;

	memset(&f, 0, sizeof f);
	if (!one_long(m, BPK_Chunk_position_axis_function_dimension_naxis1, index, &n1) ||
	    !one_long(m, BPK_Chunk_position_axis_function_dimension_naxis2, index, &n2) ||
	    !two_doubles(m, BPK_Chunk_position_axis_function_refCoord_coord1_pix,
	    BPK_Chunk_position_axis_function_refCoord_coord1_val, index,
	    &f.ref_coord.coord1.pix, &f.ref_coord.coord1.val) ||
	    !two_doubles(m, BPK_Chunk_position_axis_function_refCoord_coord2_pix,
	    BPK_Chunk_position_axis_function_refCoord_coord2_val, index,
	    &f.ref_coord.coord2.pix, &f.ref_coord.coord2.val) ||
	    !one_double(m, BPK_Chunk_position_axis_function_cd11, index, &f.cd11) ||
	    !one_double(m, BPK_Chunk_position_axis_function_cd12, index, &f.cd12) ||
	    !one_double(m, BPK_Chunk_position_axis_function_cd21, index, &f.cd21) ||
	    !one_double(m, BPK_Chunk_position_axis_function_cd22, index, &f.cd22))
		return NULL;
	f.dimension.naxis1 = n1;
	f.dimension.naxis2 = n2;
	f.has_cd11 = f.has_cd12 = f.has_cd21 = f.has_cd22 = 1;
	out = caom_coord_function2d_new();
	*out = f;
	return out;
}

/*
 * The position axis from the blueprint: a range, or (when the WCS gave no
 * function) a function with the axis indices; the axes are the WCS's when
 * it named both, else the blueprint's. NULL when it builds none.
 */
static struct caom_coord_axis2d *
axis2d_from_blueprint(struct mctx *m, int index, struct caom_chunk *ch)
{
	struct caom_axis x = { NULL, NULL }, y = { NULL, NULL };
	struct caom_coord_error *ex = NULL, *ey = NULL;
	struct caom_coord_function2d *fn = NULL;
	struct caom_coord_axis2d *a = NULL;
	struct caom_coord_range2d range;
	int from_wcs, have_axes, have_range;

	from_wcs = ch->position != NULL && ch->position->axis.axis1.ctype != NULL &&
	    ch->position->axis.axis2.ctype != NULL;
	have_axes = from_wcs || position_axes_from_blueprint(m, index, &x, &y, &ex, &ey);
	have_range = range2d_from_blueprint(m, index, &range);
	if (!have_range && (ch->position == NULL || ch->position->axis.function == NULL) &&
	    (fn = function2d_from_blueprint(m, index)) != NULL && !have_axes) {
		caom_coord_function2d_free(fn);
		fn = NULL;
	}
	if (fn != NULL) {
		axis_index_from(m, BPK_Chunk_positionAxis1, index, &ch->position_axis1,
		    &ch->has_position_axis1);
		axis_index_from(m, BPK_Chunk_positionAxis2, index, &ch->position_axis2,
		    &ch->has_position_axis2);
	}
	if (have_axes && (have_range || fn != NULL)) {
		a = axis2d_new_from(from_wcs ? &ch->position->axis : NULL);
		if (!from_wcs) {
			a->axis1 = x;
			a->axis2 = y;
			a->error1 = ex;
			a->error2 = ey;
			x.ctype = x.cunit = y.ctype = y.cunit = NULL;
			ex = ey = NULL;
		}
		a->function = fn;
		if (have_range) {
			a->range = caom_coord_range2d_new();
			*a->range = range;
		}
	}
	free(x.ctype);
	free(x.cunit);
	free(y.ctype);
	free(y.cunit);
	caom_coord_error_free(ex);
	caom_coord_error_free(ey);
	return a;
}

static void
bp_position(struct mctx *m, int index, struct caom_chunk *ch)
{
	struct caom_coord_axis2d *a;
	struct caom_spatial_wcs *p;

	if ((a = axis2d_from_blueprint(m, index, ch)) != NULL) {
		if (ch->position == NULL)
			ch->position = caom_spatial_wcs_new();
		axis2d_replace(&ch->position->axis, a);
	}
	if ((p = ch->position) == NULL)
		return;
	set_str(m, &p->coordsys, BPK_Chunk_position_coordsys, index);
	set_double(m, &p->equinox, &p->has_equinox, BPK_Chunk_position_equinox, index);
	set_double(m, &p->resolution, &p->has_resolution, BPK_Chunk_position_resolution, index);
}

/* ---- Parts and chunks (FitsParser/ContentParser.augment_artifact) ---- */

static void
chunk_clear(struct caom_chunk *ch)
{
	ch->has_naxis = 0;
}

/* The chunk axes, each read from the WCS and then completed from the blueprint. */
static const struct {
	enum bp_axis	 axis;
	void		(*from_wcs)(const struct wcs_map *, struct caom_chunk *, struct msgbuf *);
	void		(*from_blueprint)(struct mctx *, int, struct caom_chunk *);
} chunk_axes[] = {
	{ BP_AXIS_POSITION, wcs_map_position, bp_position },
	{ BP_AXIS_ENERGY, wcs_map_energy, bp_energy },
	{ BP_AXIS_TIME, wcs_map_time, bp_time },
	{ BP_AXIS_POLARIZATION, wcs_map_polarization, bp_polarization },
	{ BP_AXIS_OBSERVABLE, wcs_map_observable, bp_observable },
	{ BP_AXIS_CUSTOM, wcs_map_custom, bp_custom },
};

/* The part of HDU index with its one chunk: naxis and every configured axis. */
static void
augment_chunk(struct mctx *m, struct caom_artifact *art, int index)
{
	struct caom_part *part;
	struct caom_chunk *ch;
	struct wcs_map *w;
	struct fits_hval v;
	char name[16];
	size_t i;

	snprintf(name, sizeof name, "%d", index);
	part = caom_artifact_add_part(art, name);
	set_str(m, &part->product_type, BPK_Part_productType, index);
	if (part->nchunks == 0)
		caom_part_add_chunk(part);
	ch = part->chunks[0];
	chunk_clear(ch);
	if (fits_hdu_typed(hdu(m, index), "ZNAXIS", &v) == 0 ||
	    fits_hdu_typed(hdu(m, index), "NAXIS", &v) == 0) {
		ch->naxis = (int)(v.t == FITS_H_INT ? v.i : numfmt_ll(v.d));
		ch->has_naxis = 1;
	}
	w = wcs_map_open(hdu(m, index), m->f->path);
	for (i = 0; i < sizeof chunk_axes / sizeof chunk_axes[0]; i++) {
		if (!bp_axis_configured(m->bp, chunk_axes[i].axis))
			continue;
		if (w != NULL)
			chunk_axes[i].from_wcs(w, ch, &m->warn);
		chunk_axes[i].from_blueprint(m, index, ch);
	}
	wcs_map_close(w);
}

static void
augment_artifact_fields(struct mctx *m, struct caom_artifact *a)
{
	set_str(m, &a->product_type, BPK_Artifact_productType, 0);
	set_str(m, &a->release_type, BPK_Artifact_releaseType, 0);
	set_str(m, &a->content_type, BPK_Artifact_contentType, 0);
	{
		int64_t len = a->content_length;
		double d = (double)len;
		int has = a->has_content_length;

		set_double(m, &d, &has, BPK_Artifact_contentLength, 0);
		a->content_length = numfmt_ll(d);
		a->has_content_length = has;
	}
	set_str(m, &a->content_checksum, BPK_Artifact_contentChecksum, 0);
	set_date(m, &a->content_release, &a->has_content_release, BPK_Artifact_contentRelease, 0);
}

static int
augment_parts(struct mctx *m, struct caom_artifact *a)
{
	struct caom_part *part;
	char name[24];
	size_t i;

	if (bp_configured_axes(m->bp) == 0)
		return fail(m, "%s: the blueprint configures no WCS axis", m->in->uri);
	for (i = 0; i < m->f->nhdus; i++) {
		if (fits_hdu_has_data(&m->f->hdus[i]) && bp_has_chunk(m->bp, (int)i)) {
			augment_chunk(m, a, (int)i);
			continue;
		}
		/* a data-less HDU gives an empty part (its old chunks go) */
		snprintf(name, sizeof name, "%zu", i);
		part = caom_artifact_add_part(a, name);
		caom_part_clear_chunks(part);
		set_str(m, &part->product_type, BPK_Part_productType, (int)i);
	}
	return 0;
}

/* ---- Plane (BlueprintParser.augment_plane) ---- */

static void
augment_provenance(struct mctx *m, struct caom_plane *pl)
{
	struct caom_provenance *cur = pl->provenance, *p;
	char *name = cur != NULL && cur->name ? xstrdup(cur->name) : NULL, *inputs, *tok, *save;

	set_str(m, &name, BPK_Plane_provenance_name, 0);
	if (name == NULL || name[0] == '\0') {
		free(name);
		caom_provenance_free(pl->provenance);
		pl->provenance = NULL;
		return;
	}
	if ((p = cur) == NULL)
		p = pl->provenance = caom_provenance_new();
	free(p->name);
	p->name = name;
	set_str(m, &p->version, BPK_Plane_provenance_version, 0);
	set_str(m, &p->project, BPK_Plane_provenance_project, 0);
	set_str(m, &p->producer, BPK_Plane_provenance_producer, 0);
	set_str(m, &p->run_id, BPK_Plane_provenance_runID, 0);
	set_str(m, &p->reference, BPK_Plane_provenance_reference, 0);
	set_date(m, &p->last_executed, &p->has_last_executed, BPK_Plane_provenance_lastExecuted, 0);
	set_keywords(m, &p->keywords, BPK_Plane_provenance_keywords);
	if ((inputs = get_set(m, BPK_Plane_provenance_inputs)) != NULL && inputs[0] != '\0') {
		caom_strlist_clear(&p->inputs);
		save = NULL;
		for (tok = strtok_r(inputs, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
			caom_strlist_add(&p->inputs, tok);
	}
	free(inputs);
}

static void
augment_metrics(struct mctx *m, struct caom_plane *pl)
{
	struct caom_metrics t, *cur = pl->metrics;

	if (cur != NULL)
		t = *cur;
	else
		memset(&t, 0, sizeof t);
	set_double(m, &t.source_number_density, &t.has_source_number_density,
	    BPK_Plane_metrics_sourceNumberDensity, 0);
	set_double(m, &t.background, &t.has_background, BPK_Plane_metrics_background, 0);
	set_double(m, &t.background_stddev, &t.has_background_stddev,
	    BPK_Plane_metrics_backgroundStddev, 0);
	set_double(m, &t.flux_density_limit, &t.has_flux_density_limit,
	    BPK_Plane_metrics_fluxDensityLimit, 0);
	set_double(m, &t.mag_limit, &t.has_mag_limit, BPK_Plane_metrics_magLimit, 0);
	set_double(m, &t.sample_snr, &t.has_sample_snr, BPK_Plane_metrics_sampleSNR, 0);
	if ((t.has_source_number_density && t.source_number_density != 0) ||
	    (t.has_background && t.background != 0) ||
	    (t.has_background_stddev && t.background_stddev != 0) ||
	    (t.has_flux_density_limit && t.flux_density_limit != 0) ||
	    (t.has_mag_limit && t.mag_limit != 0) || (t.has_sample_snr && t.sample_snr != 0)) {
		if (pl->metrics == NULL)
			pl->metrics = caom_metrics_new();
		*pl->metrics = t;
	} else {
		caom_metrics_free(pl->metrics);
		pl->metrics = NULL;
	}
}

static int
augment_plane(struct mctx *m, struct caom_plane *pl)
{
	char *s;

	set_date(m, &pl->meta_release, &pl->has_meta_release, BPK_Plane_metaRelease, 0);
	set_date(m, &pl->data_release, &pl->has_data_release, BPK_Plane_dataRelease, 0);
	set_str(m, &pl->data_product_type, BPK_Plane_dataProductType, 0);
	if (pl->data_product_type == NULL)
		return fail(m, "%s: no value for Plane.dataProductType", m->in->uri);
	set_int(m, &pl->calibration_level, &pl->has_calibration_level, BPK_Plane_calibrationLevel, 0);
	if (!pl->has_calibration_level)
		return fail(m, "%s: no value for Plane.calibrationLevel", m->in->uri);
	set_str(m, &pl->ent.meta_producer, BPK_Plane_metaProducer, 0);
	s = set_single(m, pl->observable != NULL ? pl->observable->ucd : NULL,
	    BPK_Plane_observable_ucd);
	caom_observable_free(pl->observable);
	pl->observable = NULL;
	if (s != NULL) {
		pl->observable = caom_observable_new();
		pl->observable->ucd = s;
	}
	augment_provenance(m, pl);
	augment_metrics(m, pl);
	s = set_single(m, pl->quality != NULL ? pl->quality->flag : NULL, BPK_Plane_dataQuality);
	caom_data_quality_free(pl->quality);
	pl->quality = NULL;
	if (s != NULL) {
		pl->quality = caom_data_quality_new();
		pl->quality->flag = s;
	}
	return 0;
}

/* ---- Observation (ContentParser.augment_observation) ---- */

/* Members from a BINTABLE column of the file (b is a table reference). */
static int
members_from_table(struct mctx *m, const struct bp_value *b, enum bp_key_id which)
{
	char **values = NULL, *cause = NULL, *uri;
	size_t n = 0, i;

	if (m->in->path == NULL || m->f == NULL)
		return fail(m, "%s: %s comes from a table, but the file's bytes are not here",
		    m->in->uri, bp_key_name(which));
	if (fits_read_column(m->in->path, b->table_ext, b->kw[0], &values, &n, &cause) != 0) {
		fail(m, "%s (%s)", cause, bp_key_name(which));
		free(cause);
		return -1;
	}
	/* the reference prepends each row: the set is built last row first */
	for (i = n; i-- > 0;) {
		uri = strncmp(values[i], "caom:", 5) == 0 ? xstrdup(values[i]) :
		    xasprintf("caom:%s/%s", m->obs->collection, values[i]);
		caom_strlist_add(&m->obs->members, uri);
		free(uri);
	}
	for (i = 0; i < n; i++)
		free(values[i]);
	free(values);
	return 0;
}

/* Members as white-space separated URIs. */
static void
members_from_list(struct mctx *m, enum bp_key_id which)
{
	char *list = NULL, *tok, *save = NULL;

	set_str(m, &list, which, 0);
	for (tok = list ? strtok_r(list, " \t", &save) : NULL; tok;
	    tok = strtok_r(NULL, " \t", &save))
		caom_strlist_add(&m->obs->members, tok);
	free(list);
}

static int
augment_members(struct mctx *m)
{
	const struct bp_value *b = NULL;
	enum bp_key_id which = BP_NKEYS;

	if ((b = bp_get(m->bp, BPK_DerivedObservation_members, 1)) != NULL)
		which = BPK_DerivedObservation_members;
	else if ((b = bp_get(m->bp, BPK_CompositeObservation_members, 1)) != NULL)
		which = BPK_CompositeObservation_members;
	if (b == NULL || b->kind == BP_NONE)
		return 0;
	if (m->obs->kind != CAOM_OBS_DERIVED)
		return fail(m, "%s: the blueprint sets %s, but %s/%s is a SimpleObservation",
		    m->in->uri, bp_key_name(which), m->obs->collection, m->obs->observation_id);
	if (b->kind == BP_TABLE)
		return members_from_table(m, b, which);
	members_from_list(m, which);
	return 0;
}

static void
augment_environment(struct mctx *m)
{
	struct caom_environment t, *cur = m->obs->environment;

	if (cur != NULL)
		t = *cur;
	else
		memset(&t, 0, sizeof t);
	set_double(m, &t.seeing, &t.has_seeing, BPK_Observation_environment_seeing, 0);
	set_double(m, &t.humidity, &t.has_humidity, BPK_Observation_environment_humidity, 0);
	set_double(m, &t.elevation, &t.has_elevation, BPK_Observation_environment_elevation, 0);
	set_double(m, &t.tau, &t.has_tau, BPK_Observation_environment_tau, 0);
	set_double(m, &t.wavelength_tau, &t.has_wavelength_tau,
	    BPK_Observation_environment_wavelengthTau, 0);
	set_double(m, &t.ambient_temp, &t.has_ambient_temp, BPK_Observation_environment_ambientTemp,
	    0);
	set_bool(m, &t.photometric, &t.has_photometric, BPK_Observation_environment_photometric, 0);
	if ((t.has_seeing && t.seeing != 0) || (t.has_humidity && t.humidity != 0) ||
	    (t.has_elevation && t.elevation != 0) || (t.has_tau && t.tau != 0) ||
	    (t.has_wavelength_tau && t.wavelength_tau != 0) ||
	    (t.has_ambient_temp && t.ambient_temp != 0)) {
		if (m->obs->environment == NULL)
			m->obs->environment = caom_environment_new();
		*m->obs->environment = t;
	} else {
		caom_environment_free(m->obs->environment);
		m->obs->environment = NULL;
	}
}

static void
augment_target(struct mctx *m)
{
	struct caom_target *t = m->obs->target;
	char *name = t != NULL ? xstrdup(t->name) : NULL;

	set_str(m, &name, BPK_Observation_target_name, 0);
	if (name == NULL || name[0] == '\0') {
		free(name);
		caom_target_free(m->obs->target);
		m->obs->target = NULL;
		return;
	}
	if (t == NULL)
		t = m->obs->target = caom_target_new();
	free(t->name);
	t->name = name;
	set_str(m, &t->type, BPK_Observation_target_type, 0);
	set_bool(m, &t->standard, &t->has_standard, BPK_Observation_target_standard, 0);
	set_double(m, &t->redshift, &t->has_redshift, BPK_Observation_target_redshift, 0);
	set_keywords(m, &t->keywords, BPK_Observation_target_keywords);
	set_bool(m, &t->moving, &t->has_moving, BPK_Observation_target_moving, 0);
	set_str(m, &t->target_id, BPK_Observation_target_targetID, 0);
}

static void
augment_target_position(struct mctx *m)
{
	struct caom_target_position *cur = m->obs->target_position;
	double x = cur ? cur->coordinates.cval1 : 0, y = cur ? cur->coordinates.cval2 : 0;
	double eq = cur ? cur->equinox : 0;
	int hx = cur != NULL, hy = cur != NULL, he = cur ? cur->has_equinox : 0;
	char *sys = cur && cur->coordsys ? xstrdup(cur->coordsys) : NULL;

	set_double(m, &x, &hx, BPK_Observation_target_position_point_cval1, 0);
	set_double(m, &y, &hy, BPK_Observation_target_position_point_cval2, 0);
	set_str(m, &sys, BPK_Observation_target_position_coordsys, 0);
	set_double(m, &eq, &he, BPK_Observation_target_position_equinox, 0);
	if (hx && hy && x != 0 && y != 0) {
		if (m->obs->target_position == NULL)
			m->obs->target_position = caom_target_position_new();
		cur = m->obs->target_position;
		cur->coordinates.cval1 = x;
		cur->coordinates.cval2 = y;
		free(cur->coordsys);
		cur->coordsys = sys != NULL ? sys : xstrdup("");
		cur->equinox = eq;
		cur->has_equinox = he;
	} else {
		free(sys);
		caom_target_position_free(m->obs->target_position);
		m->obs->target_position = NULL;
	}
}

static void
augment_telescope(struct mctx *m)
{
	struct caom_telescope *t = m->obs->telescope;
	char *name = t != NULL ? xstrdup(t->name) : NULL;

	set_str(m, &name, BPK_Observation_telescope_name, 0);
	if (name == NULL || name[0] == '\0') {
		free(name);
		caom_telescope_free(m->obs->telescope);
		m->obs->telescope = NULL;
		return;
	}
	if (t == NULL)
		t = m->obs->telescope = caom_telescope_new();
	free(t->name);
	t->name = name;
	set_double(m, &t->geo_location_x, &t->has_geo_location_x,
	    BPK_Observation_telescope_geoLocationX, 0);
	set_double(m, &t->geo_location_y, &t->has_geo_location_y,
	    BPK_Observation_telescope_geoLocationY, 0);
	set_double(m, &t->geo_location_z, &t->has_geo_location_z,
	    BPK_Observation_telescope_geoLocationZ, 0);
	set_keywords(m, &t->keywords, BPK_Observation_telescope_keywords);
}

static void
augment_instrument(struct mctx *m)
{
	struct caom_instrument *t = m->obs->instrument;
	char *name = t != NULL ? xstrdup(t->name) : NULL;

	set_str(m, &name, BPK_Observation_instrument_name, 0);
	if (name == NULL || name[0] == '\0') {
		free(name);
		caom_instrument_free(m->obs->instrument);
		m->obs->instrument = NULL;
		return;
	}
	if (t == NULL)
		t = m->obs->instrument = caom_instrument_new();
	free(t->name);
	t->name = name;
	set_keywords(m, &t->keywords, BPK_Observation_instrument_keywords);
}

static void
augment_proposal(struct mctx *m)
{
	struct caom_proposal *p = m->obs->proposal;
	char *id = p != NULL ? xstrdup(p->id) : NULL;

	set_str(m, &id, BPK_Observation_proposal_id, 0);
	if (id == NULL || id[0] == '\0') {
		free(id);
		return;		/* the current proposal, if any, stays */
	}
	if (p == NULL)
		p = m->obs->proposal = caom_proposal_new();
	free(p->id);
	p->id = id;
	set_str(m, &p->pi, BPK_Observation_proposal_pi, 0);
	set_str(m, &p->project, BPK_Observation_proposal_project, 0);
	set_str(m, &p->title, BPK_Observation_proposal_title, 0);
	set_keywords(m, &p->keywords, BPK_Observation_proposal_keywords);
}

/* algorithm.name; a derived observation's name is not replaced by "exposure". */
static void
observation_algorithm(struct mctx *m)
{
	struct caom_observation *o = m->obs;
	char *s = o->algorithm.name != NULL ? xstrdup(o->algorithm.name) : NULL;

	set_str(m, &s, BPK_Observation_algorithm_name, 0);
	if (s != NULL && !(o->kind == CAOM_OBS_DERIVED && strcmp(s, "exposure") == 0 &&
	    o->algorithm.name != NULL)) {
		free(o->algorithm.name);
		o->algorithm.name = s;
	} else
		free(s);
}

/* sequenceNumber, unset unless this file gives one. */
static void
observation_sequence(struct mctx *m)
{
	struct mv v = get(m, BPK_Observation_sequenceNumber, 0);
	long long n;

	if (mv_has(&v, 0) && mv_long(m, &v, &n) == 0) {
		m->obs->sequence_number = (int)n;
		m->obs->has_sequence_number = 1;
	} else
		m->obs->has_sequence_number = 0;
	mv_free(&v);
}

static void
augment_observation_fields(struct mctx *m)
{
	struct caom_observation *o = m->obs;
	char *s;

	observation_algorithm(m);
	observation_sequence(m);
	if (o->intent == NULL)
		o->intent = xstrdup("science");
	set_str(m, &o->intent, BPK_Observation_intent, 0);
	set_str(m, &o->type, BPK_Observation_type, 0);
	/* metaRelease and metaProducer were read by map_augment (once: one warning) */
	s = set_single(m, o->requirements != NULL ? o->requirements->flag : NULL,
	    BPK_Observation_requirements_flag);
	caom_requirements_free(o->requirements);
	o->requirements = NULL;
	if (s != NULL) {
		o->requirements = caom_requirements_new();
		o->requirements->flag = s;
	}
	augment_instrument(m);
	augment_proposal(m);
	augment_target(m);
	augment_target_position(m);
	augment_telescope(m);
	augment_environment(m);
}

enum caom_obs_kind
map_observation_kind(const struct blueprint *bp)
{
	const struct bp_value *b;

	if (((b = bp_get(bp, BPK_DerivedObservation_members, 1)) != NULL ||
	    (b = bp_get(bp, BPK_CompositeObservation_members, 1)) != NULL) &&
	    b->kind != BP_NONE)
		return CAOM_OBS_DERIVED;
	return CAOM_OBS_SIMPLE;
}

/* The artifact of this file, with its parts and chunks when it is FITS. */
static int
augment_artifact(struct mctx *m, struct caom_plane *pl)
{
	struct caom_artifact *art = caom_plane_add_artifact(pl, m->in->uri);

	augment_artifact_fields(m, art);
	if (art->product_type == NULL)
		art->product_type = xstrdup("science");
	if (art->release_type == NULL)
		art->release_type = xstrdup("data");
	set_str(m, &art->ent.meta_producer, BPK_Artifact_metaProducer, 0);
	return m->f != NULL ? augment_parts(m, art) : 0;
}

/* Hand back a mapping's warnings, and its first error when r is not 0. */
static int
map_finish(struct mctx *m, int r, char **warnings, char **cause)
{
	if (warnings != NULL)
		*warnings = msgbuf_take(&m->warn);
	else
		msgbuf_clear(&m->warn);
	if (m->fn_error != NULL) {	/* the cause of whatever followed */
		free(m->error);
		m->error = m->fn_error;
		m->fn_error = NULL;
		r = -1;
	}
	free(m->fn_error);
	if (r != 0) {
		*cause = m->error != NULL ? m->error : xstrdup("mapping failed");
		return -1;
	}
	free(m->error);
	return 0;
}

int
map_augment(struct caom_observation *obs, const struct map_input *in, char **warnings,
    char **cause)
{
	struct mctx m;
	struct caom_plane *pl;
	int r;

	memset(&m, 0, sizeof m);
	m.in = in;
	m.bp = in->bp;
	m.f = in->fits;
	m.obs = obs;
	apply_blueprint(&m);
	set_date(&m, &obs->meta_release, &obs->has_meta_release, BPK_Observation_metaRelease, 0);
	set_str(&m, &obs->ent.meta_producer, BPK_Observation_metaProducer, 0);
	pl = caom_observation_add_plane(obs, in->product_id);
	if ((r = augment_plane(&m, pl)) == 0)
		r = augment_artifact(&m, pl);
	if (r == 0 && m.f != NULL && (r = augment_members(&m)) == 0)
		augment_observation_fields(&m);
	return map_finish(&m, r, warnings, cause);
}
