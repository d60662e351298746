/*
 * lua_model.c - the CAOM-2 model for visitors: every struct of caom.h as
 * Lua userdata, read and written through the field tables of caom_desc.h
 * (so every XSD attribute is there, under its XSD name), rather than by
 * hand-written accessors.
 *
 * A proxy names a heap object (an entity, or a value object reached through
 * a pointer) plus a short path of embedded structs and list elements below
 * it, resolved on every access: nothing dangles when a list grows. What a
 * visitor detaches (a removed plane, a replaced value object) is kept until
 * the visit ends, and every proxy dies with its visit (the generation).
 *
 *   x.attr               string, number, boolean, ISO date string, or nil;
 *                        a value object, a set, a list or children as proxies
 *   x.attr = v           v typed as the XSD says; enumerations checked; nil
 *                        unsets (not a required attribute); a table builds a
 *                        value object (its required attributes given), and a
 *                        proxy of the same type is copied
 *   set:add(s) :remove(s) :has(s) :clear(), #set, set[i]; x.set = {s, ...}
 *   list:add{...} :remove(i) :clear(), #list, list[i]; x.list = {{...}, ...}
 *   kids:add(key, ...) :remove(key | i | proxy) :get(key), #kids, kids[i]
 *   obs.kind             "SimpleObservation" | "DerivedObservation"
 *   x.metaProducer       of every entity
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/caom.h"
#include "caom/caom_desc.h"
#include "caom/lua_rt_int.h"
#include "lib/xmalloc.h"

#define LM_MT		"caom2.model"
#define LM_STEPS	6
#define LM_PATH		128

enum lm_kind { LM_OBJ, LM_SET, LM_LIST, LM_KIDS };

struct lm_step {
	const struct caom_field	*f;		/* INLINE, or LIST (element idx) */
	size_t			 idx;
};

struct lm_ref {
	void			*base;		/* a heap object of bdesc */
	const struct caom_desc	*bdesc;
	unsigned		 gen;
	enum lm_kind		 kind;
	int			 nsteps;
	struct lm_step		 step[LM_STEPS];
	const struct caom_field	*field;		/* SET, LIST, KIDS: the field of the object */
	char			 path[LM_PATH];
};

/* ---- enumerations (XSD and the caom2 vocabularies) ---- */

static const char *const lm_intents[] = { "science", "calibration", NULL };
static const char *const lm_target_types[] = { "object", "field", NULL };
static const char *const lm_status[] = { "fail", NULL };
static const char *const lm_quality[] = { "junk", NULL };
static const char *const lm_release_types[] = { "data", "meta", NULL };
static const char *const lm_product_types[] = {
	"science", "calibration", "auxiliary", "info", "preview", "catalog", "noise", "weight",
	"thumbnail", "bias", "dark", "flat", "wavecal", NULL
};
static const char *const lm_data_product_types[] = {
	"image", "cube", "eventlist", "spectrum", "timeseries", "visibility", "measurements",
	"catalog", "event", "sed", NULL
};

static const struct lm_enum {
	const char		*type;
	const char		*field;
	const char *const	*values;
	int			 open;		/* also a vocabulary URI (with '#') */
} lm_enums[] = {
	{ "Observation", "intent", lm_intents, 0 },
	{ "Target", "type", lm_target_types, 0 },
	{ "Requirements", "flag", lm_status, 0 },
	{ "DataQuality", "flag", lm_quality, 0 },
	{ "Artifact", "releaseType", lm_release_types, 0 },
	{ "Artifact", "productType", lm_product_types, 1 },
	{ "Part", "productType", lm_product_types, 1 },
	{ "Chunk", "productType", lm_product_types, 1 },
	{ "Plane", "dataProductType", lm_data_product_types, 1 },
	{ "Energy", "energyBands", caom_energy_bands, 0 },
	{ "Polarization", "states", caom_polarization_states, 0 },
};

static const struct lm_range {
	const char		*type;
	const char		*field;
	long long		 lo, hi;
} lm_ranges[] = {
	{ "Plane", "calibrationLevel", -1, 4 },
	{ "Vertex", "type", 0, 2 },
};

static const struct lm_enum *
lm_enum_of(const struct caom_desc *d, const struct caom_field *f)
{
	size_t i;

	for (i = 0; i < sizeof lm_enums / sizeof lm_enums[0]; i++) {
		if (strcmp(lm_enums[i].type, d->name) == 0 && strcmp(lm_enums[i].field, f->name) == 0)
			return &lm_enums[i];
	}
	return NULL;
}

/* Raise unless s is allowed for field f of d. */
static void
lm_check_enum(lua_State *L, const struct caom_desc *d, const struct caom_field *f,
    const char *path, const char *s)
{
	const struct lm_enum *e = lm_enum_of(d, f);
	luaL_Buffer b;
	size_t i;

	if (e == NULL || (e->open && strchr(s, '#') != NULL))
		return;
	for (i = 0; e->values[i] != NULL; i++) {
		if (strcmp(e->values[i], s) == 0)
			return;
	}
	luaL_buffinit(L, &b);
	for (i = 0; e->values[i] != NULL; i++) {
		if (i > 0)
			luaL_addstring(&b, ", ");
		luaL_addstring(&b, e->values[i]);
	}
	luaL_pushresult(&b);
	luaL_error(L, "%s.%s: '%s' is not one of %s%s", path, f->name, s, lua_tostring(L, -1),
	    e->open ? " (or a vocabulary URI with '#')" : "");
}

static void
lm_check_range(lua_State *L, const struct caom_desc *d, const struct caom_field *f,
    const char *path, long long v)
{
	size_t i;

	for (i = 0; i < sizeof lm_ranges / sizeof lm_ranges[0]; i++) {
		if (strcmp(lm_ranges[i].type, d->name) == 0 &&
		    strcmp(lm_ranges[i].field, f->name) == 0 &&
		    (v < lm_ranges[i].lo || v > lm_ranges[i].hi))
			luaL_error(L, "%s.%s: %I is not one of %I..%I", path, f->name,
			    (lua_Integer)v, (lua_Integer)lm_ranges[i].lo,
			    (lua_Integer)lm_ranges[i].hi);
	}
}

static const struct {
	const char		*name;
	const struct caom_desc	*desc;
} lm_entities[] = {
	{ "Observation", &caom_desc_observation }, { "Plane", &caom_desc_plane },
	{ "Artifact", &caom_desc_artifact }, { "Part", &caom_desc_part },
	{ "Chunk", &caom_desc_chunk },
};

/* "a, b, c": the values of e. */
static char *
lm_enum_list(const struct lm_enum *e)
{
	size_t i, n = 1;
	char *list;

	for (i = 0; e->values[i] != NULL; i++)
		n += strlen(e->values[i]) + 2;
	list = xcalloc(1, n);
	for (i = 0; e->values[i] != NULL; i++) {
		if (i > 0)
			strcat(list, ", ");
		strcat(list, e->values[i]);
	}
	return list;
}

int
lua_rt_check_enum(const char *key, const char *value, char **cause)
{
	char *list;
	const struct caom_desc *d = NULL;
	const struct caom_field *f = NULL;
	const struct lm_enum *e;
	const char *seg, *dot;
	size_t i, n;

	n = strcspn(key, ".");
	for (i = 0; i < sizeof lm_entities / sizeof lm_entities[0] && d == NULL; i++) {
		if (strlen(lm_entities[i].name) == n && strncmp(lm_entities[i].name, key, n) == 0)
			d = lm_entities[i].desc;
	}
	for (seg = key + n; d != NULL && *seg == '.'; seg = dot) {
		seg++;
		dot = seg + strcspn(seg, ".");
		for (f = d->fields; f->name != NULL; f++) {
			if (strlen(f->name) == (size_t)(dot - seg) &&
			    strncmp(f->name, seg, (size_t)(dot - seg)) == 0)
				break;
		}
		if (f->name == NULL)
			return 0;
		if (*dot == '.')
			d = f->desc;
	}
	if (d == NULL || f == NULL || (e = lm_enum_of(d, f)) == NULL ||
	    (e->open && strchr(value, '#') != NULL))
		return 0;
	for (i = 0; e->values[i] != NULL; i++) {
		if (strcmp(e->values[i], value) == 0)
			return 0;
	}
	list = lm_enum_list(e);
	*cause = xasprintf("%s: '%s' is not one of %s%s", key, value, list,
	    e->open ? " (or a vocabulary URI with '#')" : "");
	free(list);
	return -1;
}

/* ---- graves: what the visit detached ---- */

static void
lm_grave(lua_State *L, const struct caom_desc *d, void *obj, size_t n, int array)
{
	struct lua_rt_state *st = lua_rt_state_of(L);

	if (obj == NULL)
		return;
	st->graves = xreallocarray(st->graves, st->ngraves + 1, sizeof *st->graves);
	st->graves[st->ngraves].desc = d;
	st->graves[st->ngraves].obj = obj;
	st->graves[st->ngraves].n = n;
	st->graves[st->ngraves].array = array;
	st->ngraves++;
}

/* obj, being built, is attached after all: it stays. */
static void
lm_unbury(lua_State *L, void *obj)
{
	struct lua_rt_state *st = lua_rt_state_of(L);
	size_t i;

	for (i = st->ngraves; i-- > 0;) {
		if (st->graves[i].obj == obj) {
			st->graves[i] = st->graves[--st->ngraves];
			return;
		}
	}
}

void
lua_model_bury(struct lua_rt_state *st)
{
	struct lua_grave *g;
	size_t i, j;

	for (i = 0; i < st->ngraves; i++) {
		g = &st->graves[i];
		if (g->array) {
			for (j = 0; j < g->n; j++)
				caom_desc_clear(g->desc, (char *)g->obj + j * g->desc->size);
		} else
			caom_desc_clear(g->desc, g->obj);
		free(g->obj);
	}
	st->ngraves = 0;
}

/* ---- proxies ---- */

/* a then b into out, cut at LM_PATH - 1 bytes (messages only). */
static void
lm_join(char *out, const char *a, const char *b)
{
	size_t na = strnlen(a, LM_PATH - 1), nb = strlen(b);

	memcpy(out, a, na);
	if (nb > LM_PATH - 1 - na)
		nb = LM_PATH - 1 - na;
	memcpy(out + na, b, nb);
	out[na + nb] = '\0';
}

static struct lm_ref *
lm_new(lua_State *L)
{
	struct lm_ref *r = lua_newuserdatauv(L, sizeof *r, 0);

	memset(r, 0, sizeof *r);
	r->gen = lua_rt_state_of(L)->gen;
	luaL_setmetatable(L, LM_MT);
	return r;
}

/* A proxy for the heap object obj of desc d. */
static void
lm_push_heap(lua_State *L, void *obj, const struct caom_desc *d, const char *path)
{
	struct lm_ref *r = lm_new(L);

	r->base = obj;
	r->bdesc = d;
	r->kind = LM_OBJ;
	snprintf(r->path, sizeof r->path, "%s", path);
}

/* A proxy below parent: one more step, or the same object as a SET/LIST/KIDS of field f. */
static void
lm_push_below(lua_State *L, const struct lm_ref *parent, enum lm_kind kind,
    const struct caom_field *f, const struct caom_field *stepf, size_t idx, const char *suffix)
{
	struct lm_ref *r;

	if (stepf != NULL && parent->nsteps == LM_STEPS)
		luaL_error(L, "%s: nested too deep", parent->path);
	r = lm_new(L);
	r->base = parent->base;
	r->bdesc = parent->bdesc;
	r->nsteps = parent->nsteps;
	memcpy(r->step, parent->step, sizeof r->step);
	if (stepf != NULL) {
		r->step[r->nsteps].f = stepf;
		r->step[r->nsteps++].idx = idx;
	}
	r->kind = kind;
	r->field = f;
	lm_join(r->path, parent->path, suffix);
}

static struct lm_ref *
lm_check(lua_State *L, int idx)
{
	struct lm_ref *r = luaL_checkudata(L, idx, LM_MT);

	if (r->gen != lua_rt_state_of(L)->gen)
		luaL_error(L, "%s: from a visit that has ended (obs and what it holds are valid "
		    "during visit() only)", r->path);
	return r;
}

/* The object r names (the holder of r->field for SET/LIST/KIDS) and its desc. */
static void *
lm_resolve(lua_State *L, const struct lm_ref *r, const struct caom_desc **dp)
{
	const struct caom_desc *d = r->bdesc;
	const struct caom_field *f;
	char *p = r->base;
	size_t n;
	int i;

	for (i = 0; i < r->nsteps; i++) {
		f = r->step[i].f;
		if (f->type == CAOM_F_INLINE)
			p += f->off;
		else {
			n = caom_desc_count(p, f->aux);
			if (r->step[i].idx >= n)
				luaL_error(L, "%s: that element was removed", r->path);
			p = (char *)caom_desc_getptr(p, f->off) + r->step[i].idx * f->desc->size;
		}
		d = f->desc;
	}
	*dp = d;
	return p;
}

/* The field name of d: the one that is set when two alternatives share it. */
static const struct caom_field *
lm_field(const struct caom_desc *d, const char *name, const void *obj)
{
	const struct caom_field *f, *first = NULL;

	for (f = d->fields; f->name != NULL; f++) {
		if ((f->flags & CAOM_F_READONLY) || strcmp(f->name, name) != 0)
			continue;
		if (first == NULL)
			first = f;
		if (f->type == CAOM_F_OBJ && obj != NULL && caom_desc_getptr(obj, f->off) != NULL)
			return f;
	}
	return first;
}

static void
lm_no_attribute(lua_State *L, const struct caom_desc *d, const char *path, const char *name)
{
	const struct caom_field *f;
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (f = d->fields; f->name != NULL; f++) {
		if ((f->flags & CAOM_F_READONLY) || (f != d->fields && strcmp(f[-1].name,
		    f->name) == 0))
			continue;
		if (f != d->fields)
			luaL_addstring(&b, ", ");
		luaL_addstring(&b, f->name);
	}
	if (d->entity)
		luaL_addstring(&b, ", metaProducer");
	if (d == &caom_desc_observation)
		luaL_addstring(&b, ", kind");
	luaL_pushresult(&b);
	luaL_error(L, "%s: no attribute '%s' (%s has %s)", path, name, d->name,
	    lua_tostring(L, -1));
}

/* ---- reading ---- */

static void
lm_push_field(lua_State *L, const struct lm_ref *r, void *obj, const struct caom_field *f)
{
	char *p = (char *)obj + f->off, date[LM_PATH], suffix[LM_PATH];
	void *sub;

	snprintf(suffix, sizeof suffix, ".%s", f->name);
	if (f->type <= CAOM_F_DATE && !caom_desc_isset(f, obj)) {
		lua_pushnil(L);
		return;
	}
	switch (f->type) {
	case CAOM_F_STRING:
		sub = caom_desc_getptr(obj, f->off);
		if (sub == NULL)
			lua_pushnil(L);
		else
			lua_pushstring(L, sub);
		break;
	case CAOM_F_DOUBLE:
		lua_pushnumber(L, *(double *)(void *)p);
		break;
	case CAOM_F_INT32:
	case CAOM_F_BOOL:
		if (f->type == CAOM_F_BOOL)
			lua_pushboolean(L, *(int *)(void *)p);
		else
			lua_pushinteger(L, *(int *)(void *)p);
		break;
	case CAOM_F_INT64:
		lua_pushinteger(L, (lua_Integer)*(int64_t *)(void *)p);
		break;
	case CAOM_F_DATE:
		caom_date_format(*(int64_t *)(void *)p, date);
		lua_pushstring(L, date);
		break;
	case CAOM_F_SET:
		lm_push_below(L, r, LM_SET, f, NULL, 0, suffix);
		break;
	case CAOM_F_OBJ:
		if ((sub = caom_desc_getptr(obj, f->off)) == NULL)
			lua_pushnil(L);
		else {
			lm_join(date, "", suffix);
			lm_join(suffix, r->path, date);
			lm_push_heap(L, sub, f->desc, suffix);
		}
		break;
	case CAOM_F_INLINE:
		lm_push_below(L, r, LM_OBJ, NULL, f, 0, suffix);
		break;
	case CAOM_F_LIST:
		lm_push_below(L, r, LM_LIST, f, NULL, 0, suffix);
		break;
	case CAOM_F_CHILDREN:
		lm_push_below(L, r, LM_KIDS, f, NULL, 0, suffix);
		break;
	}
}

static int lm_set_add(lua_State *L);
static int lm_set_remove(lua_State *L);
static int lm_set_has(lua_State *L);
static int lm_set_clear(lua_State *L);
static int lm_list_add(lua_State *L);
static int lm_list_remove(lua_State *L);
static int lm_list_clear(lua_State *L);
static int lm_kids_add(lua_State *L);
static int lm_kids_remove(lua_State *L);
static int lm_kids_get(lua_State *L);

static const luaL_Reg lm_set_methods[] = {
	{ "add", lm_set_add }, { "remove", lm_set_remove }, { "has", lm_set_has },
	{ "clear", lm_set_clear }, { NULL, NULL }
};
static const luaL_Reg lm_list_methods[] = {
	{ "add", lm_list_add }, { "remove", lm_list_remove }, { "clear", lm_list_clear },
	{ NULL, NULL }
};
static const luaL_Reg lm_kids_methods[] = {
	{ "add", lm_kids_add }, { "remove", lm_kids_remove }, { "get", lm_kids_get },
	{ NULL, NULL }
};

static int
lm_method(lua_State *L, const luaL_Reg *m, const char *name)
{
	for (; m->name != NULL; m++) {
		if (strcmp(m->name, name) == 0) {
			lua_pushcfunction(L, m->func);
			return 1;
		}
	}
	return 0;
}

/* The key field of child entities (productID, uri, name), or NULL (chunks). */
static const struct caom_field *
lm_key_field(const struct caom_desc *d)
{
	const struct caom_field *f = d->fields;

	return f->type == CAOM_F_STRING && (f->flags & CAOM_F_REQUIRED) ? f : NULL;
}

/* Index of the child whose key is the string at idx, or -1. */
static long
lm_kid_by_key(lua_State *L, const struct caom_field *f, void *holder, int idx)
{
	const struct caom_field *kf = lm_key_field(f->desc);
	size_t i, n = caom_desc_count(holder, f->aux);
	void **kids = caom_desc_getptr(holder, f->off);
	const char *key = lua_tostring(L, idx), *k;

	for (i = 0; kf != NULL && i < n; i++) {
		k = caom_desc_getptr(kids[i], kf->off);
		if (k != NULL && strcmp(k, key) == 0)
			return (long)i;
	}
	return -1;
}

static void
lm_push_kid(lua_State *L, const struct caom_field *f, void *kid)
{
	lm_push_heap(L, kid, f->desc, f->desc->name);
}

/* coll[i] (1-based) or a method or (children) a key. */
static int
lm_index_coll(lua_State *L, struct lm_ref *r, void *holder)
{
	const struct caom_field *f = r->field;
	lua_Integer i;
	size_t n;
	char suffix[32];
	long k;

	if (lua_type(L, 2) == LUA_TSTRING) {
		const char *name = lua_tostring(L, 2);

		if (lm_method(L, r->kind == LM_SET ? lm_set_methods : r->kind == LM_LIST ?
		    lm_list_methods : lm_kids_methods, name))
			return 1;
		if (r->kind == LM_KIDS && (k = lm_kid_by_key(L, f, holder, 2)) >= 0) {
			lm_push_kid(L, f, ((void **)caom_desc_getptr(holder, f->off))[k]);
			return 1;
		}
		lua_pushnil(L);
		return 1;
	}
	if (!lua_isinteger(L, 2)) {
		lua_pushnil(L);
		return 1;
	}
	i = lua_tointeger(L, 2);
	n = r->kind == LM_SET ? ((struct caom_strlist *)(void *)((char *)holder + f->off))->n :
	    caom_desc_count(holder, f->aux);
	if (i < 1 || (size_t)i > n) {
		lua_pushnil(L);
		return 1;
	}
	if (r->kind == LM_SET)
		lua_pushstring(L, ((struct caom_strlist *)(void *)((char *)holder + f->off))->v[i - 1]);
	else if (r->kind == LM_KIDS)
		lm_push_kid(L, f, ((void **)caom_desc_getptr(holder, f->off))[i - 1]);
	else {
		snprintf(suffix, sizeof suffix, "[%lld]", (long long)i);
		lm_push_below(L, r, LM_OBJ, NULL, f, (size_t)i - 1, suffix);
	}
	return 1;
}

static int
lm_index(lua_State *L)
{
	struct lm_ref *r = lm_check(L, 1);
	const struct caom_desc *d;
	const struct caom_field *f;
	void *obj = lm_resolve(L, r, &d);
	const char *name;

	if (r->kind != LM_OBJ)
		return lm_index_coll(L, r, obj);
	name = luaL_checkstring(L, 2);
	if ((f = lm_field(d, name, obj)) != NULL) {
		lm_push_field(L, r, obj, f);
		return 1;
	}
	if (d->entity && strcmp(name, "metaProducer") == 0) {
		lua_pushstring(L, ((struct caom_entity *)obj)->meta_producer);
		return 1;
	}
	if (d == &caom_desc_observation && strcmp(name, "kind") == 0) {
		lua_pushstring(L, ((struct caom_observation *)obj)->kind == CAOM_OBS_DERIVED ?
		    "DerivedObservation" : "SimpleObservation");
		return 1;
	}
	lm_no_attribute(L, d, r->path, name);
	return 0;
}

/* ---- writing ---- */

static void lm_set_value(lua_State *L, void *obj, const struct caom_desc *d,
    const struct caom_field *f, int v, const char *path);

static void
lm_type_error(lua_State *L, const char *path, const struct caom_field *f, const char *want,
    int v)
{
	luaL_error(L, "%s.%s: expected %s, got %s", path, f->name, want, luaL_typename(L, v));
}

static void
lm_required(lua_State *L, const char *path, const struct caom_field *f)
{
	luaL_error(L, "%s.%s is required (it cannot be nil)", path, f->name);
}

/* The integer at v for field f (a float with an integral value is accepted). */
static long long
lm_integer(lua_State *L, int v, const char *path, const struct caom_field *f)
{
	lua_Number d;

	if (lua_type(L, v) != LUA_TNUMBER)
		lm_type_error(L, path, f, "an integer", v);
	if (lua_isinteger(L, v))
		return (long long)lua_tointeger(L, v);
	d = lua_tonumber(L, v);
	if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
		luaL_error(L, "%s.%s: expected an integer, got %f", path, f->name, (double)d);
	return (long long)d;
}

/* Deep copy of src (a struct of d) into dst, which holds a byte copy of it. */
static void
lm_copy_fix(const struct caom_desc *d, void *dst, const void *src)
{
	const struct caom_field *f;
	const struct caom_strlist *sl;
	struct caom_strlist *dl;
	void *sub, *copy;
	size_t i, n;

	for (f = d->fields; f->name != NULL; f++) {
		if (f->flags & CAOM_F_READONLY)
			continue;
		switch (f->type) {
		case CAOM_F_STRING:
			caom_desc_setptr(dst, f->off, xstrdup(caom_desc_getptr(src, f->off)));
			break;
		case CAOM_F_SET:
			sl = (const void *)((const char *)src + f->off);
			dl = (void *)((char *)dst + f->off);
			memset(dl, 0, sizeof *dl);
			for (i = 0; i < sl->n; i++)
				caom_strlist_add_ranked(dl, sl->v[i], f->order);
			break;
		case CAOM_F_OBJ:
			if ((sub = caom_desc_getptr(src, f->off)) == NULL)
				break;
			copy = xmalloc(f->desc->size);
			memcpy(copy, sub, f->desc->size);
			lm_copy_fix(f->desc, copy, sub);
			caom_desc_setptr(dst, f->off, copy);
			break;
		case CAOM_F_INLINE:
			lm_copy_fix(f->desc, (char *)dst + f->off, (const char *)src + f->off);
			break;
		case CAOM_F_LIST:
			n = caom_desc_count(src, f->aux);
			sub = caom_desc_getptr(src, f->off);
			copy = n > 0 ? xreallocarray(NULL, n, f->desc->size) : NULL;
			if (n > 0)
				memcpy(copy, sub, n * f->desc->size);
			for (i = 0; i < n; i++)
				lm_copy_fix(f->desc, (char *)copy + i * f->desc->size,
				    (const char *)sub + i * f->desc->size);
			caom_desc_setptr(dst, f->off, copy);
			break;
		default:
			break;
		}
	}
}

/* Fill obj (a zeroed struct of d) from the table at v; required attributes must be there. */
static void
lm_fill(lua_State *L, int v, const struct caom_desc *d, void *obj, const char *path)
{
	const struct caom_field *f;
	unsigned long given = 0;
	const char *key;

	v = lua_absindex(L, v);
	lua_pushnil(L);
	while (lua_next(L, v) != 0) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "%s: a %s is built from a table of attribute names",
			    path, d->name);
		key = lua_tostring(L, -2);
		if ((f = lm_field(d, key, NULL)) == NULL)
			lm_no_attribute(L, d, path, key);
		lm_set_value(L, obj, d, f, lua_gettop(L), path);
		given |= 1UL << (f - d->fields);
		lua_pop(L, 1);
	}
	for (f = d->fields; f->name != NULL; f++) {
		if (!(f->flags & CAOM_F_REQUIRED) || (f->flags & CAOM_F_READONLY) ||
		    f->type == CAOM_F_LIST || f->type == CAOM_F_CHILDREN)
			continue;
		if (f->type == CAOM_F_STRING ? caom_desc_getptr(obj, f->off) == NULL :
		    !(given & (1UL << (f - d->fields))))
			luaL_error(L, "%s: a %s needs %s", path, d->name, f->name);
	}
}

/* A new heap struct of d from the table or proxy at v (kept in a grave until attached). */
static void *
lm_build(lua_State *L, int v, const struct caom_desc *d, const char *path)
{
	struct lm_ref *src;
	const struct caom_desc *sd;
	void *obj, *from;

	lua_rt_charge(L, d->size);
	obj = xcalloc(1, d->size);
	lm_grave(L, d, obj, 0, 0);
	if (lua_type(L, v) == LUA_TTABLE)
		lm_fill(L, v, d, obj, path);
	else if ((src = luaL_testudata(L, v, LM_MT)) != NULL && src->kind == LM_OBJ) {
		from = lm_resolve(L, lm_check(L, v), &sd);
		if (sd != d)
			luaL_error(L, "%s: a %s cannot be set from a %s", path, d->name, sd->name);
		memcpy(obj, from, d->size);
		lm_copy_fix(d, obj, from);
	} else
		luaL_error(L, "%s: expected a table (or a %s), got %s", path, d->name,
		    luaL_typename(L, v));
	lm_unbury(L, obj);
	return obj;
}

/* Of the alternatives named like f, the one the value at v can build. */
static const struct caom_field *
lm_choose(lua_State *L, const struct caom_desc *d, const struct caom_field *f, int v,
    const char *path)
{
	const struct caom_field *alt, *found = NULL;
	struct lm_ref *src;
	const struct caom_desc *sd;
	int fits, n = 0;

	if ((src = luaL_testudata(L, v, LM_MT)) != NULL && src->kind == LM_OBJ) {
		lm_resolve(L, lm_check(L, v), &sd);
		for (alt = d->fields; alt->name != NULL; alt++) {
			if (strcmp(alt->name, f->name) == 0 && alt->desc == sd)
				return alt;
		}
		return f;
	}
	if (lua_type(L, v) != LUA_TTABLE)
		return f;
	for (alt = d->fields; alt->name != NULL; alt++) {
		if (strcmp(alt->name, f->name) != 0 || alt->type != CAOM_F_OBJ)
			continue;
		n++;
		fits = 1;
		lua_pushnil(L);
		while (lua_next(L, v) != 0) {
			lua_pop(L, 1);
			if (lua_type(L, -1) != LUA_TSTRING ||
			    lm_field(alt->desc, lua_tostring(L, -1), NULL) == NULL)
				fits = 0;
		}
		if (fits && found != NULL)
			luaL_error(L, "%s.%s: give the attributes of a %s or of a %s", path,
			    f->name, found->desc->name, alt->desc->name);
		if (fits)
			found = alt;
	}
	if (found == NULL && n > 1)
		luaL_error(L, "%s.%s: the table is neither a %s nor a %s", path, f->name,
		    f->desc->name, f[1].desc->name);
	return found != NULL ? found : f;
}

/* Bury the value object(s) of the field(s) named like f. */
static void
lm_clear_obj(lua_State *L, void *obj, const struct caom_desc *d, const struct caom_field *f)
{
	const struct caom_field *alt;

	for (alt = d->fields; alt->name != NULL; alt++) {
		if (alt->type != CAOM_F_OBJ || strcmp(alt->name, f->name) != 0)
			continue;
		lm_grave(L, alt->desc, caom_desc_getptr(obj, alt->off), 0, 0);
		caom_desc_setptr(obj, alt->off, NULL);
	}
}

static void
lm_mark_set(void *obj, const struct caom_field *f, int on)
{
	if (f->aux != CAOM_NOAUX)
		*(int *)(void *)((char *)obj + f->aux) = on;
}

static int
lm_is_derived_only(lua_State *L, void *obj, const struct caom_desc *d,
    const struct caom_field *f)
{
	(void)L;
	return (f->flags & CAOM_F_DERIVED) && d == &caom_desc_observation &&
	    ((struct caom_observation *)obj)->kind != CAOM_OBS_DERIVED;
}

static void
lm_derived_error(lua_State *L, const char *path, const struct caom_field *f)
{
	luaL_error(L, "%s.%s: only a DerivedObservation has %s (set obs.kind = "
	    "'DerivedObservation' first)", path, f->name, f->name);
}

static void
lm_set_string(lua_State *L, void *obj, const struct caom_desc *d, const struct caom_field *f,
    int v, const char *path)
{
	size_t len;
	const char *s;

	if (lua_isnil(L, v)) {
		if (f->flags & CAOM_F_REQUIRED)
			lm_required(L, path, f);
		free(caom_desc_getptr(obj, f->off));
		caom_desc_setptr(obj, f->off, NULL);
		return;
	}
	if (lua_type(L, v) != LUA_TSTRING)
		lm_type_error(L, path, f, "a string", v);
	s = lua_tolstring(L, v, &len);
	if (strlen(s) != len)
		luaL_error(L, "%s.%s: a string with a NUL byte", path, f->name);
	lm_check_enum(L, d, f, path, s);
	lua_rt_charge(L, len + 1);
	free(caom_desc_getptr(obj, f->off));
	caom_desc_setptr(obj, f->off, xstrdup(s));
}

static void
lm_set_scalar(lua_State *L, void *obj, const struct caom_desc *d, const struct caom_field *f,
    int v, const char *path)
{
	char *p = (char *)obj + f->off;
	long long i;
	int64_t ms;

	if (lua_isnil(L, v)) {
		if (f->aux == CAOM_NOAUX)
			lm_required(L, path, f);
		lm_mark_set(obj, f, 0);
		return;
	}
	switch (f->type) {
	case CAOM_F_DOUBLE:
		if (lua_type(L, v) != LUA_TNUMBER)
			lm_type_error(L, path, f, "a number", v);
		*(double *)(void *)p = (double)lua_tonumber(L, v);
		break;
	case CAOM_F_INT32:
		i = lm_integer(L, v, path, f);
		if (i < INT32_MIN || i > INT32_MAX)
			luaL_error(L, "%s.%s: %I is out of the 32-bit range", path, f->name,
			    (lua_Integer)i);
		lm_check_range(L, d, f, path, i);
		*(int *)(void *)p = (int)i;
		break;
	case CAOM_F_INT64:
		*(int64_t *)(void *)p = lm_integer(L, v, path, f);
		break;
	case CAOM_F_BOOL:
		if (lua_type(L, v) != LUA_TBOOLEAN)
			lm_type_error(L, path, f, "a boolean", v);
		*(int *)(void *)p = lua_toboolean(L, v);
		break;
	default:	/* CAOM_F_DATE */
		if (lua_type(L, v) != LUA_TSTRING)
			lm_type_error(L, path, f, "a date string (yyyy-MM-ddTHH:mm:ss.SSS)", v);
		if (caom_date_parse(lua_tostring(L, v), &ms) == -1)
			luaL_error(L, "%s.%s: '%s' is not a date (yyyy-MM-dd[THH:mm:ss[.SSS]])",
			    path, f->name, lua_tostring(L, v));
		*(int64_t *)(void *)p = ms;
		break;
	}
	lm_mark_set(obj, f, 1);
}

/* Check every item of the list-table at v for the set f, then replace the set with them. */
static void
lm_set_set(lua_State *L, void *obj, const struct caom_desc *d, const struct caom_field *f,
    int v, const char *path)
{
	struct caom_strlist *l = (void *)((char *)obj + f->off);
	lua_Integer i, n;

	if (!lua_isnil(L, v) && lm_is_derived_only(L, obj, d, f))
		lm_derived_error(L, path, f);
	if (lua_isnil(L, v)) {
		caom_strlist_clear(l);
		return;
	}
	if (lua_type(L, v) != LUA_TTABLE)
		lm_type_error(L, path, f, "a list of strings", v);
	n = (lua_Integer)lua_rawlen(L, v);
	for (i = 1; i <= n; i++) {
		if (lua_rawgeti(L, v, i) != LUA_TSTRING)
			luaL_error(L, "%s.%s[%I]: expected a string, got %s", path, f->name, i,
			    luaL_typename(L, -1));
		lm_check_enum(L, d, f, path, lua_tostring(L, -1));
		lua_rt_charge(L, lua_rawlen(L, -1) + 1 + sizeof(char *));
		lua_pop(L, 1);
	}
	caom_strlist_clear(l);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, v, i);
		caom_strlist_add_ranked(l, lua_tostring(L, -1), f->order);
		lua_pop(L, 1);
	}
}

/* Replace the list f with the elements built from the list-table at v. */
static void
lm_set_list(lua_State *L, void *obj, const struct caom_field *f, int v, const char *path)
{
	char *arr = NULL, epath[LM_PATH];
	lua_Integer i, n = 0;

	if (!lua_isnil(L, v)) {
		if (lua_type(L, v) != LUA_TTABLE)
			lm_type_error(L, path, f, "a list of tables", v);
		n = (lua_Integer)lua_rawlen(L, v);
	}
	if (n > 0) {
		lua_rt_charge(L, (size_t)n * f->desc->size);
		arr = xreallocarray(NULL, (size_t)n, f->desc->size);
		memset(arr, 0, (size_t)n * f->desc->size);
		lm_grave(L, f->desc, arr, (size_t)n, 1);
		for (i = 1; i <= n; i++) {
			snprintf(epath, sizeof epath, "%s.%s[%lld]", path, f->name, (long long)i);
			lua_rawgeti(L, v, i);
			if (lua_type(L, -1) != LUA_TTABLE)
				luaL_error(L, "%s: expected a table, got %s", epath,
				    luaL_typename(L, -1));
			lm_fill(L, -1, f->desc, arr + (i - 1) * f->desc->size, epath);
			lua_pop(L, 1);
		}
		lm_unbury(L, arr);
	}
	lm_grave(L, f->desc, caom_desc_getptr(obj, f->off), caom_desc_count(obj, f->aux), 1);
	caom_desc_setptr(obj, f->off, arr);
	*(size_t *)(void *)((char *)obj + f->aux) = (size_t)n;
}

/* Set field f of obj (a struct of d, named path) from the value at stack index v. */
static void
lm_set_value(lua_State *L, void *obj, const struct caom_desc *d, const struct caom_field *f,
    int v, const char *path)
{
	char sub[LM_PATH];
	void *built, *old;

	snprintf(sub, sizeof sub, "%s.%s", path, f->name);
	switch (f->type) {
	case CAOM_F_STRING:
		lm_set_string(L, obj, d, f, v, path);
		break;
	case CAOM_F_SET:
		lm_set_set(L, obj, d, f, v, path);
		break;
	case CAOM_F_OBJ:
		if (lua_isnil(L, v)) {
			lm_clear_obj(L, obj, d, f);
			break;
		}
		f = lm_choose(L, d, f, v, path);
		built = lm_build(L, v, f->desc, sub);
		lm_clear_obj(L, obj, d, f);
		caom_desc_setptr(obj, f->off, built);
		break;
	case CAOM_F_INLINE:
		if (lua_isnil(L, v))
			lm_required(L, path, f);
		built = lm_build(L, v, f->desc, sub);
		old = xmalloc(f->desc->size);
		memcpy(old, (char *)obj + f->off, f->desc->size);
		lm_grave(L, f->desc, old, 0, 0);
		memcpy((char *)obj + f->off, built, f->desc->size);
		free(built);
		break;
	case CAOM_F_LIST:
		lm_set_list(L, obj, f, v, path);
		break;
	case CAOM_F_CHILDREN:
		luaL_error(L, "%s.%s: use %s:add(...) and %s:remove(...)", path, f->name, f->name,
		    f->name);
		break;
	default:
		lm_set_scalar(L, obj, d, f, v, path);
		break;
	}
}

static void
lm_set_kind(lua_State *L, struct caom_observation *obs, int v)
{
	const char *s = lua_tostring(L, v);

	if (lua_type(L, v) != LUA_TSTRING)
		luaL_error(L, "Observation.kind: expected a string, got %s", luaL_typename(L, v));
	if (strcmp(s, "DerivedObservation") == 0)
		obs->kind = CAOM_OBS_DERIVED;
	else if (strcmp(s, "SimpleObservation") == 0) {
		if (obs->members.n > 0)
			luaL_error(L, "Observation.kind: a SimpleObservation has no members "
			    "(clear obs.members first)");
		obs->kind = CAOM_OBS_SIMPLE;
	} else
		luaL_error(L, "Observation.kind: '%s' is not one of SimpleObservation, "
		    "DerivedObservation", s);
}

static int
lm_newindex(lua_State *L)
{
	struct lm_ref *r = lm_check(L, 1);
	const struct caom_desc *d;
	const struct caom_field *f;
	void *obj = lm_resolve(L, r, &d);
	const char *name;

	if (r->kind != LM_OBJ)
		return luaL_error(L, "%s: use its methods (add, remove, ...) to change it", r->path);
	name = luaL_checkstring(L, 2);
	if ((f = lm_field(d, name, obj)) != NULL)
		lm_set_value(L, obj, d, f, 3, r->path);
	else if (d->entity && strcmp(name, "metaProducer") == 0) {
		if (!lua_isnil(L, 3) && lua_type(L, 3) != LUA_TSTRING)
			luaL_error(L, "%s.metaProducer: expected a string, got %s", r->path,
			    luaL_typename(L, 3));
		free(((struct caom_entity *)obj)->meta_producer);
		((struct caom_entity *)obj)->meta_producer = xstrdup(lua_tostring(L, 3));
	} else if (d == &caom_desc_observation && strcmp(name, "kind") == 0)
		lm_set_kind(L, obj, 3);
	else
		lm_no_attribute(L, d, r->path, name);
	return 0;
}

/* ---- sets ---- */

static struct caom_strlist *
lm_set_of(lua_State *L, struct lm_ref **rp, void **holder, const struct caom_desc **d)
{
	struct lm_ref *r = lm_check(L, 1);

	if (r->kind != LM_SET)
		luaL_error(L, "%s is not a set", r->path);
	*holder = lm_resolve(L, r, d);
	*rp = r;
	return (void *)((char *)*holder + r->field->off);
}

static int
lm_set_add(lua_State *L)
{
	struct lm_ref *r;
	const struct caom_desc *d;
	void *holder;
	struct caom_strlist *l = lm_set_of(L, &r, &holder, &d);
	const char *s = luaL_checkstring(L, 2);
	char path[LM_PATH];

	snprintf(path, sizeof path, "%.*s", (int)(strlen(r->path) - strlen(r->field->name) - 1),
	    r->path);
	if (lm_is_derived_only(L, holder, d, r->field))
		lm_derived_error(L, path, r->field);
	lm_check_enum(L, d, r->field, path, s);
	lua_rt_charge(L, strlen(s) + 1 + sizeof(char *));
	caom_strlist_add_ranked(l, s, r->field->order);
	return 0;
}

static int
lm_set_remove(lua_State *L)
{
	struct lm_ref *r;
	const struct caom_desc *d;
	void *holder;
	struct caom_strlist *l = lm_set_of(L, &r, &holder, &d);
	const char *s = luaL_checkstring(L, 2);
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) == 0) {
			free(l->v[i]);
			memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof *l->v);
			l->n--;
			lua_pushboolean(L, 1);
			return 1;
		}
	}
	lua_pushboolean(L, 0);
	return 1;
}

static int
lm_set_has(lua_State *L)
{
	struct lm_ref *r;
	const struct caom_desc *d;
	void *holder;
	struct caom_strlist *l = lm_set_of(L, &r, &holder, &d);

	lua_pushboolean(L, caom_strlist_has(l, luaL_checkstring(L, 2)));
	return 1;
}

static int
lm_set_clear(lua_State *L)
{
	struct lm_ref *r;
	const struct caom_desc *d;
	void *holder;

	caom_strlist_clear(lm_set_of(L, &r, &holder, &d));
	return 0;
}

/* ---- lists ---- */

static void *
lm_coll_of(lua_State *L, enum lm_kind kind, struct lm_ref **rp)
{
	const struct caom_desc *d;
	struct lm_ref *r = lm_check(L, 1);

	if (r->kind != kind)
		luaL_error(L, "%s is not a %s", r->path, kind == LM_LIST ? "list" : "collection "
		    "of children");
	*rp = r;
	return lm_resolve(L, r, &d);
}

static int
lm_list_add(lua_State *L)
{
	struct lm_ref *r;
	void *holder = lm_coll_of(L, LM_LIST, &r);
	const struct caom_field *f = r->field;
	size_t n = caom_desc_count(holder, f->aux), size = f->desc->size;
	char *arr, *elem, path[LM_PATH], epath[32];

	snprintf(epath, sizeof epath, "[%zu]", n + 1);
	lm_join(path, r->path, epath);
	lua_rt_charge(L, size);
	elem = xcalloc(1, size);
	lm_grave(L, f->desc, elem, 0, 0);
	if (!lua_isnoneornil(L, 2))
		lm_fill(L, 2, f->desc, elem, path);
	lm_unbury(L, elem);
	arr = xreallocarray(caom_desc_getptr(holder, f->off), n + 1, size);
	memcpy(arr + n * size, elem, size);
	free(elem);
	caom_desc_setptr(holder, f->off, arr);
	*(size_t *)(void *)((char *)holder + f->aux) = n + 1;
	lua_pushinteger(L, (lua_Integer)n + 1);
	return 1;
}

static int
lm_list_remove(lua_State *L)
{
	struct lm_ref *r;
	void *holder = lm_coll_of(L, LM_LIST, &r);
	const struct caom_field *f = r->field;
	size_t n = caom_desc_count(holder, f->aux), size = f->desc->size;
	lua_Integer i = luaL_checkinteger(L, 2);
	char *arr = caom_desc_getptr(holder, f->off), *gone;

	if (i < 1 || (size_t)i > n) {
		lua_pushboolean(L, 0);
		return 1;
	}
	gone = xmalloc(size);
	memcpy(gone, arr + (i - 1) * size, size);
	lm_grave(L, f->desc, gone, 0, 0);
	memmove(arr + (i - 1) * size, arr + i * size, (n - (size_t)i) * size);
	*(size_t *)(void *)((char *)holder + f->aux) = n - 1;
	lua_pushboolean(L, 1);
	return 1;
}

static int
lm_list_clear(lua_State *L)
{
	struct lm_ref *r;
	void *holder = lm_coll_of(L, LM_LIST, &r);
	const struct caom_field *f = r->field;

	lm_grave(L, f->desc, caom_desc_getptr(holder, f->off), caom_desc_count(holder, f->aux), 1);
	caom_desc_setptr(holder, f->off, NULL);
	*(size_t *)(void *)((char *)holder + f->aux) = 0;
	return 0;
}

/* ---- children ---- */

/* The required strings after the key, in order, for kids:add(key, ...). */
static void
lm_kid_args(lua_State *L, void *kid, const struct caom_desc *d, const char *path)
{
	const struct caom_field *f;
	int arg = 3;

	for (f = d->fields + 1; f->name != NULL; f++) {
		if (f->type != CAOM_F_STRING || !(f->flags & CAOM_F_REQUIRED))
			continue;
		if (lua_isnoneornil(L, arg))
			luaL_error(L, "%s: a new %s needs %s (add(%s, ...))", path, d->name,
			    f->name, d->fields[0].name);
		lm_set_string(L, kid, d, f, arg++, path);
	}
}

static int
lm_kids_add(lua_State *L)
{
	struct lm_ref *r;
	void *holder = lm_coll_of(L, LM_KIDS, &r), *kid;
	const struct caom_field *f = r->field, *kf = lm_key_field(f->desc);
	const struct caom_desc *d = f->desc;
	size_t n = caom_desc_count(holder, f->aux);
	void **kids;
	long k;

	if (kf != NULL && lua_type(L, 2) == LUA_TSTRING && (k = lm_kid_by_key(L, f, holder, 2)) >= 0) {
		lm_push_kid(L, f, ((void **)caom_desc_getptr(holder, f->off))[k]);
		return 1;
	}
	lua_rt_charge(L, d->size);
	kid = xcalloc(1, d->size);
	caom_uuid_generate(((struct caom_entity *)kid)->id);
	lm_grave(L, d, kid, 0, 0);
	if (lua_type(L, 2) == LUA_TTABLE)
		lm_fill(L, 2, d, kid, d->name);
	else if (kf != NULL) {
		if (lua_type(L, 2) != LUA_TSTRING)
			luaL_error(L, "%s:add: expected the new %s's %s (a string) or a table, got %s",
			    r->path, d->name, kf->name, luaL_typename(L, 2));
		lm_set_string(L, kid, d, kf, 2, d->name);
		lm_kid_args(L, kid, d, d->name);
	} else if (!lua_isnoneornil(L, 2))
		luaL_error(L, "%s:add: expected nothing or a table, got %s", r->path,
		    luaL_typename(L, 2));
	if (kf != NULL && lua_type(L, 2) == LUA_TTABLE) {
		lua_pushstring(L, caom_desc_getptr(kid, kf->off));
		if (lm_kid_by_key(L, f, holder, -1) >= 0)
			luaL_error(L, "%s:add: there is a %s %s already", r->path, d->name,
			    lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	lm_unbury(L, kid);
	kids = xreallocarray(caom_desc_getptr(holder, f->off), n + 1, sizeof *kids);
	kids[n] = kid;
	caom_desc_setptr(holder, f->off, kids);
	*(size_t *)(void *)((char *)holder + f->aux) = n + 1;
	lm_push_kid(L, f, kid);
	return 1;
}

static int
lm_kids_remove(lua_State *L)
{
	struct lm_ref *r, *x;
	void *holder = lm_coll_of(L, LM_KIDS, &r);
	const struct caom_field *f = r->field;
	size_t n = caom_desc_count(holder, f->aux), i;
	void **kids = caom_desc_getptr(holder, f->off);
	long k = -1;

	if (lua_type(L, 2) == LUA_TSTRING)
		k = lm_kid_by_key(L, f, holder, 2);
	else if (lua_isinteger(L, 2)) {
		if (lua_tointeger(L, 2) >= 1 && (size_t)lua_tointeger(L, 2) <= n)
			k = (long)lua_tointeger(L, 2) - 1;
	} else if ((x = luaL_testudata(L, 2, LM_MT)) != NULL) {
		lm_check(L, 2);
		for (i = 0; i < n; i++) {
			if (x->nsteps == 0 && x->kind == LM_OBJ && x->base == kids[i])
				k = (long)i;
		}
	} else
		luaL_error(L, "%s:remove: expected a key, an index or a %s, got %s", r->path,
		    f->desc->name, luaL_typename(L, 2));
	if (k < 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	lm_grave(L, f->desc, kids[k], 0, 0);
	memmove(kids + k, kids + k + 1, (n - (size_t)k - 1) * sizeof *kids);
	*(size_t *)(void *)((char *)holder + f->aux) = n - 1;
	lua_pushboolean(L, 1);
	return 1;
}

static int
lm_kids_get(lua_State *L)
{
	struct lm_ref *r;
	void *holder = lm_coll_of(L, LM_KIDS, &r);
	long k;

	luaL_checkstring(L, 2);
	if ((k = lm_kid_by_key(L, r->field, holder, 2)) < 0)
		lua_pushnil(L);
	else
		lm_push_kid(L, r->field, ((void **)caom_desc_getptr(holder, r->field->off))[k]);
	return 1;
}

/* ---- metamethods ---- */

static int
lm_len(lua_State *L)
{
	struct lm_ref *r = lm_check(L, 1);
	const struct caom_desc *d;
	void *holder = lm_resolve(L, r, &d);

	if (r->kind == LM_OBJ)
		return luaL_error(L, "%s has no length", r->path);
	if (r->kind == LM_SET)
		lua_pushinteger(L, (lua_Integer)((struct caom_strlist *)(void *)((char *)holder +
		    r->field->off))->n);
	else
		lua_pushinteger(L, (lua_Integer)caom_desc_count(holder, r->field->aux));
	return 1;
}

static int
lm_eq(lua_State *L)
{
	struct lm_ref *a = lm_check(L, 1), *b = lm_check(L, 2);
	const struct caom_desc *d;

	lua_pushboolean(L, a->kind == b->kind && a->field == b->field &&
	    lm_resolve(L, a, &d) == lm_resolve(L, b, &d));
	return 1;
}

static int
lm_tostring(lua_State *L)
{
	struct lm_ref *r = luaL_checkudata(L, 1, LM_MT);

	lua_pushfstring(L, "caom2 %s", r->path);
	return 1;
}

/* pairs(x): the attributes of x that have a value, in XSD order. */
static int
lm_next(lua_State *L)
{
	struct lm_ref *r = lm_check(L, lua_upvalueindex(1));
	const struct caom_desc *d;
	const struct caom_field *f;
	void *obj = lm_resolve(L, r, &d);
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));

	for (f = d->fields + i; f->name != NULL; f++, i++) {
		if ((f->flags & CAOM_F_READONLY) || lm_field(d, f->name, obj) != f)
			continue;
		lm_push_field(L, r, obj, f);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			continue;
		}
		lua_pushinteger(L, i + 1);
		lua_replace(L, lua_upvalueindex(2));
		lua_pushstring(L, f->name);
		lua_insert(L, -2);
		return 2;
	}
	return 0;
}

static int
lm_pairs(lua_State *L)
{
	struct lm_ref *r = lm_check(L, 1);

	if (r->kind != LM_OBJ)
		return luaL_error(L, "%s: use ipairs (or an index loop)", r->path);
	lua_pushvalue(L, 1);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, lm_next, 2);
	return 1;
}

void
lua_model_open(lua_State *L)
{
	static const luaL_Reg mt[] = {
		{ "__index", lm_index }, { "__newindex", lm_newindex }, { "__len", lm_len },
		{ "__eq", lm_eq }, { "__tostring", lm_tostring }, { "__pairs", lm_pairs },
		{ NULL, NULL }
	};

	caom_desc_init();
	luaL_newmetatable(L, LM_MT);
	luaL_setfuncs(L, mt, 0);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

void
lua_model_push(lua_State *L, struct caom_observation *obs)
{
	lm_push_heap(L, obs, &caom_desc_observation, "Observation");
}
