/*
 * blueprint.c - the blueprint itself: its keys, its values, its plans and
 * how its WCS axes are configured, given or guessed from the keys used
 * (caom2utils ObsBlueprint, configure_*, _guess_axis_info). The two file
 * formats that fill it are blueprint_load.c and legacy.c.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/blueprint.h"
#include "caom/blueprint_int.h"
#include "lib/msgbuf.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

#define BPK(id, name) name,
static const char *const bp_names[] = {
#include "caom/blueprint_keys.h"
};
#undef BPK
_Static_assert(sizeof bp_names / sizeof bp_names[0] == BP_NKEYS, "one name per key");

struct bp_ext {
	int		 ext;
	struct bp_plan	*plan;
};

struct blueprint {
	struct bp_plan	 plan;
	struct bp_ext	*exts;		/* sorted by ext */
	size_t		 nexts;
	int		*ext_numbers;	/* for bp_extensions */
	char		*wcs_std[BP_NKEYS];
	int		 configured[BP_NAXES];
	int		 index[BP_NAXES][2];
	int		 allow_fn;	/* bp_allow_functions */
	char		*source;	/* the file loaded, for messages */
};

/* ---- Keys ---- */

static struct strmap *bp_index;
static pthread_once_t bp_index_once = PTHREAD_ONCE_INIT;

static void
bp_index_build(void)
{
	size_t i;

	bp_index = strmap_new_borrowed();
	for (i = 0; i < BP_NKEYS; i++)
		strmap_put(bp_index, bp_names[i], (void *)(uintptr_t)(i + 1));
}

int
bp_key(const char *name)
{
	pthread_once(&bp_index_once, bp_index_build);
	return (int)(uintptr_t)strmap_get(bp_index, name) - 1;
}

const char *
bp_key_name(enum bp_key_id key)
{
	return (unsigned)key < BP_NKEYS ? bp_names[key] : "(no key)";
}

/* ---- Values ---- */

void
bp_value_clear(struct bp_value *v)
{
	size_t i;

	for (i = 0; i < v->nkw; i++)
		free(v->kw[i]);
	free(v->kw);
	free(v->def);
	free(v->lit);
	memset(v, 0, sizeof *v);
}

void
bp_value_add_kw(struct bp_value *v, const char *kw, int front)
{
	v->kw = xreallocarray(v->kw, v->nkw + 1, sizeof *v->kw);
	if (front) {
		memmove(v->kw + 1, v->kw, v->nkw * sizeof *v->kw);
		v->kw[0] = xstrdup(kw);
	} else
		v->kw[v->nkw] = xstrdup(kw);
	v->nkw++;
}

int
bp_value_has_kw(const struct bp_value *v, const char *kw)
{
	size_t i;

	for (i = 0; i < v->nkw; i++) {
		if (strcmp(v->kw[i], kw) == 0)
			return 1;
	}
	return 0;
}

void
bp_plan_put(struct bp_plan *p, enum bp_key_id key, struct bp_value *v)
{
	unsigned seq = p->v[key].kind != BP_UNSET ? p->v[key].seq : p->next_seq++;

	bp_value_clear(&p->v[key]);
	p->v[key] = *v;
	p->v[key].seq = seq;
	memset(v, 0, sizeof *v);
}

static void
plan_list(struct bp_plan *p, enum bp_key_id key, const char *def, ...)
{
	struct bp_value v = { .kind = BP_LIST };
	const char *kw;
	va_list ap;

	va_start(ap, def);
	while ((kw = va_arg(ap, const char *)) != NULL)
		bp_value_add_kw(&v, kw, 0);
	va_end(ap);
	v.def = def != NULL ? xstrdup(def) : NULL;
	bp_plan_put(p, key, &v);
}

static void
plan_literal(struct bp_plan *p, enum bp_key_id key, const char *lit, unsigned line)
{
	struct bp_value v = { .kind = BP_LITERAL, .lit = xstrdup(lit), .line = line };

	bp_plan_put(p, key, &v);
}

static void
plan_free(struct bp_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < BP_NKEYS; i++)
		bp_value_clear(&p->v[i]);
}

/* ---- The blueprint ---- */

struct blueprint *
blueprint_new(void)
{
	struct blueprint *bp = xcalloc(1, sizeof *bp);
	struct bp_plan *p = &bp->plan;

	/* caom2utils ObsBlueprint's defaults, in its order */
	plan_list(p, BPK_Observation_metaRelease, NULL, "DATE", "DATE-OBS", "UTCOBS",
	    "UTCDATE", "UTC-DATE", "MJDOBS", "MJD_OBS", NULL);
	plan_list(p, BPK_Observation_instrument_name, NULL, "INSTRUME", NULL);
	plan_list(p, BPK_Observation_type, NULL, "OBSTYPE", NULL);
	plan_list(p, BPK_Observation_environment_ambientTemp, NULL, "TEMPERAT", NULL);
	plan_list(p, BPK_Observation_algorithm_name, "exposure", "PROCNAME", NULL);
	plan_list(p, BPK_Observation_instrument_keywords, NULL, "INSTMODE", NULL);
	plan_list(p, BPK_Observation_proposal_id, NULL, "RUNID", NULL);
	plan_list(p, BPK_Observation_target_name, NULL, "OBJECT", NULL);
	plan_list(p, BPK_Observation_telescope_name, NULL, "TELESCOP", NULL);
	plan_list(p, BPK_Observation_telescope_geoLocationX, NULL, "OBSGEO-X", NULL);
	plan_list(p, BPK_Observation_telescope_geoLocationY, NULL, "OBSGEO-Y", NULL);
	plan_list(p, BPK_Observation_telescope_geoLocationZ, NULL, "OBSGEO-Z", NULL);
	plan_list(p, BPK_Observation_observationID, NULL, "OBSID", NULL);
	plan_list(p, BPK_Plane_calibrationLevel, "1", NULL);
	plan_list(p, BPK_Plane_dataProductType, "image", NULL);
	plan_list(p, BPK_Plane_metaRelease, NULL, "RELEASE", "REL_DATE", NULL);
	plan_list(p, BPK_Plane_dataRelease, NULL, "RELEASE", "REL_DATE", NULL);
	plan_list(p, BPK_Plane_productID, NULL, "RUNID", NULL);
	plan_list(p, BPK_Plane_provenance_name, NULL, "XPRVNAME", NULL);
	plan_list(p, BPK_Plane_provenance_project, NULL, "ADC_ARCH", NULL);
	plan_list(p, BPK_Plane_provenance_producer, NULL, "ORIGIN", NULL);
	plan_list(p, BPK_Plane_provenance_reference, NULL, "XREFER", NULL);
	plan_list(p, BPK_Plane_provenance_lastExecuted, NULL, "DATE-FTS", NULL);
	plan_list(p, BPK_Artifact_releaseType, "data", NULL);
	plan_literal(p, BPK_Chunk, "include", 0);
	bp->wcs_std[BPK_Chunk_naxis] = xstrdup("ZNAXIS,NAXIS");
	return bp;
}

void
blueprint_free(struct blueprint *bp)
{
	size_t i;

	if (bp == NULL)
		return;
	plan_free(&bp->plan);
	for (i = 0; i < bp->nexts; i++) {
		plan_free(bp->exts[i].plan);
		free(bp->exts[i].plan);
	}
	free(bp->exts);
	free(bp->ext_numbers);
	for (i = 0; i < BP_NKEYS; i++)
		free(bp->wcs_std[i]);
	free(bp->source);
	free(bp);
}

struct bp_plan *
bp_plan_for(struct blueprint *bp, int ext, int create)
{
	size_t i;

	if (ext == 0)
		return &bp->plan;
	for (i = 0; i < bp->nexts; i++) {
		if (bp->exts[i].ext == ext)
			return bp->exts[i].plan;
		if (bp->exts[i].ext > ext)
			break;
	}
	if (!create)
		return NULL;
	bp->exts = xreallocarray(bp->exts, bp->nexts + 1, sizeof *bp->exts);
	memmove(bp->exts + i + 1, bp->exts + i, (bp->nexts - i) * sizeof *bp->exts);
	bp->exts[i].ext = ext;
	bp->exts[i].plan = xcalloc(1, sizeof *bp->exts[i].plan);
	bp->nexts++;
	return bp->exts[i].plan;
}

const struct bp_value *
bp_get(const struct blueprint *bp, enum bp_key_id key, int ext)
{
	const struct bp_plan *p;

	if ((unsigned)key >= BP_NKEYS)
		return NULL;
	if (ext > 0 && (p = bp_plan_for((struct blueprint *)(uintptr_t)bp, ext, 0)) != NULL &&
	    p->v[key].kind != BP_UNSET)
		return &p->v[key];
	return bp->plan.v[key].kind != BP_UNSET ? &bp->plan.v[key] : NULL;
}

const char *
bp_wcs_std(const struct blueprint *bp, enum bp_key_id key)
{
	return (unsigned)key < BP_NKEYS ? bp->wcs_std[key] : NULL;
}

int
bp_axis_configured(const struct blueprint *bp, enum bp_axis axis)
{
	return bp->configured[axis] ? bp->index[axis][0] : 0;
}

int
bp_configured_axes(const struct blueprint *bp)
{
	int n = 0, a;

	for (a = 0; a < BP_NAXES; a++)
		n += bp->configured[a] ? (a == BP_AXIS_POSITION ? 2 : 1) : 0;
	return n;
}

int
bp_has_chunk(const struct blueprint *bp, int ext)
{
	const struct bp_plan *p;
	enum bp_key_id k = BPK_Chunk;

	p = bp_plan_for((struct blueprint *)(uintptr_t)bp, ext, 0);
	if (ext > 0 && p != NULL)
		return p->v[k].kind != BP_LITERAL || strcmp(p->v[k].lit, "{ignore}") != 0;
	if (ext == 0 && bp->plan.v[k].kind == BP_LITERAL)
		return strcmp(bp->plan.v[k].lit, "{ignore}") != 0;
	return 1;
}

size_t
bp_extensions(const struct blueprint *bp, const int **exts)
{
	struct blueprint *b = (struct blueprint *)(uintptr_t)bp;
	size_t i;

	free(b->ext_numbers);
	b->ext_numbers = xcalloc(bp->nexts + 1, sizeof *b->ext_numbers);
	for (i = 0; i < bp->nexts; i++)
		b->ext_numbers[i] = bp->exts[i].ext;
	*exts = b->ext_numbers;
	return bp->nexts;
}

static const struct bp_plan *seq_plan;

static int
seq_cmp(const void *a, const void *b)
{
	unsigned x = seq_plan->v[*(const int *)a].seq, y = seq_plan->v[*(const int *)b].seq;

	return x < y ? -1 : x > y;
}

size_t
bp_plan_keys(const struct blueprint *bp, int ext, int **keys)
{
	const struct bp_plan *p = bp_plan_for((struct blueprint *)(uintptr_t)bp, ext, 0);
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	size_t i, n = 0;

	*keys = xcalloc(BP_NKEYS, sizeof **keys);
	if (p == NULL)
		return 0;
	for (i = 0; i < BP_NKEYS; i++) {
		if (p->v[i].kind != BP_UNSET)
			(*keys)[n++] = (int)i;
	}
	pthread_mutex_lock(&lock);	/* qsort has no context argument */
	seq_plan = p;
	qsort(*keys, n, sizeof **keys, seq_cmp);
	pthread_mutex_unlock(&lock);
	return n;
}

static void
dump_value(FILE *fp, const char *name, const struct bp_value *v)
{
	size_t i;

	fprintf(fp, "%s = ", name);
	switch (v->kind) {
	case BP_LIST:
		fputc('[', fp);
		for (i = 0; i < v->nkw; i++)
			fprintf(fp, "%s'%s'", i ? ", " : "", v->kw[i]);
		fprintf(fp, "], default = %s\n", v->def != NULL ? v->def : "None");
		break;
	case BP_TABLE:
		fprintf(fp, "('BINTABLE', '%s', %d)\n", v->kw[0], v->table_ext);
		break;
	case BP_NONE:
		fputs("None\n", fp);
		break;
	default:
		fprintf(fp, "%s\n", v->lit);
		break;
	}
}

char *
blueprint_dump(const struct blueprint *bp)
{
	char *out = NULL;
	size_t len = 0, i, j;
	FILE *fp = open_memstream(&out, &len);

	if (fp == NULL)
		abort();
	for (i = 0; i < BP_NKEYS; i++) {
		if (bp->plan.v[i].kind != BP_UNSET)
			dump_value(fp, bp_names[i], &bp->plan.v[i]);
	}
	for (j = 0; j < bp->nexts; j++) {
		fprintf(fp, "\nextension %d:\n", bp->exts[j].ext);
		for (i = 0; i < BP_NKEYS; i++) {
			if (bp->exts[j].plan->v[i].kind != BP_UNSET)
				dump_value(fp, bp_names[i], &bp->exts[j].plan->v[i]);
		}
	}
	fclose(fp);
	return out;
}

/* ---- Axis configuration (ObsBlueprint.configure_*) ---- */

/* A key and its WCS keyword: a prefix followed by the axis number, or whole. */
struct axis_kw {
	enum bp_key_id	 key;
	const char	*kw;
};

/* The keys of a 1-D axis a: its axis, its errors, its function. */
#define AXIS_1D_AXIS(a) \
	{ BPK_Chunk_##a##_axis_axis_ctype, "CTYPE" }, { BPK_Chunk_##a##_axis_axis_cunit, "CUNIT" }
#define AXIS_1D_ERROR(a) \
	{ BPK_Chunk_##a##_axis_error_syser, "CSYER" }, { BPK_Chunk_##a##_axis_error_rnder, "CRDER" }
#define AXIS_1D_FUNCTION(a) \
	{ BPK_Chunk_##a##_axis_function_naxis, "NAXIS" }, \
	{ BPK_Chunk_##a##_axis_function_delta, "CDELT" }, \
	{ BPK_Chunk_##a##_axis_function_refCoord_pix, "CRPIX" }, \
	{ BPK_Chunk_##a##_axis_function_refCoord_val, "CRVAL" }

static const struct axis_kw energy_kw[] = {
	AXIS_1D_AXIS(energy), AXIS_1D_ERROR(energy), AXIS_1D_FUNCTION(energy)
};
static const struct axis_kw time_kw[] = {
	AXIS_1D_AXIS(time), AXIS_1D_ERROR(time), AXIS_1D_FUNCTION(time)
};
static const struct axis_kw polarization_kw[] = {
	AXIS_1D_AXIS(polarization), AXIS_1D_FUNCTION(polarization)
};
static const struct axis_kw custom_kw[] = { AXIS_1D_AXIS(custom), AXIS_1D_FUNCTION(custom) };
static const struct axis_kw observable_kw[] = {
	{ BPK_Chunk_observable_axis_axis_ctype, "CTYPE" },
	{ BPK_Chunk_observable_axis_axis_cunit, "CUNIT" },
	{ BPK_Chunk_observable_axis_function_refCoord_pix, "CRPIX" },
};

#define NITEMS(a) (sizeof (a) / sizeof (a)[0])

/* wcs_std[key] = prefix followed by a (when a > 0). */
static void
std_set(struct blueprint *bp, enum bp_key_id key, const char *prefix, int a)
{
	free(bp->wcs_std[key]);
	bp->wcs_std[key] = a > 0 ? xasprintf("%s%d", prefix, a) : xstrdup(prefix);
}

/* Key with keyword prefix+a into the plan (override) and wcs_std. */
static void
axis_key(struct blueprint *bp, int override, enum bp_key_id key, const char *prefix, int a)
{
	char *kw = xasprintf("%s%d", prefix, a);

	if (override)
		plan_list(&bp->plan, key, NULL, kw, NULL);
	std_set(bp, key, prefix, a);
	free(kw);
}

/* The n keys of k on axis a. */
static void
axis_keys(struct blueprint *bp, int override, const struct axis_kw *k, size_t n, int a)
{
	size_t i;

	for (i = 0; i < n; i++)
		axis_key(bp, override, k[i].key, k[i].kw, a);
}

/* Key with the keyword kw (no axis number) into the plan (override) and wcs_std. */
static void
fixed_key(struct blueprint *bp, int override, enum bp_key_id key, const char *kw)
{
	if (override)
		plan_list(&bp->plan, key, NULL, kw, NULL);
	std_set(bp, key, kw, 0);
}

void
bp_configure_position(struct blueprint *bp, int x, int y, int override)
{
	static const struct { enum bp_key_id key; const char *fmt; int which; } k[] = {
		{ BPK_Chunk_position_axis_axis1_ctype, "CTYPE", 0 },
		{ BPK_Chunk_position_axis_axis1_cunit, "CUNIT", 0 },
		{ BPK_Chunk_position_axis_axis2_ctype, "CTYPE", 1 },
		{ BPK_Chunk_position_axis_axis2_cunit, "CUNIT", 1 },
		{ BPK_Chunk_position_axis_error1_syser, "CSYER", 0 },
		{ BPK_Chunk_position_axis_error1_rnder, "CRDER", 0 },
		{ BPK_Chunk_position_axis_error2_syser, "CSYER", 1 },
		{ BPK_Chunk_position_axis_error2_rnder, "CRDER", 1 },
		{ BPK_Chunk_position_axis_function_refCoord_coord1_pix, "CRPIX", 0 },
		{ BPK_Chunk_position_axis_function_refCoord_coord1_val, "CRVAL", 0 },
		{ BPK_Chunk_position_axis_function_refCoord_coord2_pix, "CRPIX", 1 },
		{ BPK_Chunk_position_axis_function_refCoord_coord2_val, "CRVAL", 1 },
	};
	static const enum bp_key_id cd[4] = {
		BPK_Chunk_position_axis_function_cd11, BPK_Chunk_position_axis_function_cd12,
		BPK_Chunk_position_axis_function_cd21, BPK_Chunk_position_axis_function_cd22,
	};
	static const enum bp_key_id naxis[2] = {
		BPK_Chunk_position_axis_function_dimension_naxis1,
		BPK_Chunk_position_axis_function_dimension_naxis2,
	};
	char kw[32], kw2[32];
	int a[2] = { x, y };
	size_t i;

	if (bp->configured[BP_AXIS_POSITION])
		return;
	if (override) {
		plan_list(&bp->plan, BPK_Chunk_position_coordsys, NULL, "RADESYS", NULL);
		plan_list(&bp->plan, BPK_Chunk_position_equinox, NULL, "EQUINOX", "EPOCH", NULL);
	}
	std_set(bp, BPK_Chunk_position_coordsys, "RADESYS", 0);
	std_set(bp, BPK_Chunk_position_equinox, "EQUINOX", 0);
	for (i = 0; i < NITEMS(k); i++)
		axis_key(bp, override, k[i].key, k[i].fmt, a[k[i].which]);
	for (i = 0; i < 4; i++) {
		snprintf(kw, sizeof kw, "CD%d_%d", a[i / 2], a[i % 2]);
		fixed_key(bp, override, cd[i], kw);
	}
	for (i = 0; i < 2; i++) {
		snprintf(kw, sizeof kw, "ZNAXIS%d", a[i]);
		snprintf(kw2, sizeof kw2, "NAXIS%d", a[i]);
		if (override)
			plan_list(&bp->plan, naxis[i], NULL, kw, kw2, NULL);
		std_set(bp, naxis[i], "NAXIS", a[i]);
	}
	bp->configured[BP_AXIS_POSITION] = 1;
	bp->index[BP_AXIS_POSITION][0] = x;
	bp->index[BP_AXIS_POSITION][1] = y;
}

void
bp_configure_energy(struct blueprint *bp, int a, int override)
{
	static const struct axis_kw sys[] = {
		{ BPK_Chunk_energy_specsys, "SPECSYS" }, { BPK_Chunk_energy_ssysobs, "SSYSOBS" },
		{ BPK_Chunk_energy_restfrq, "RESTFRQ" }, { BPK_Chunk_energy_restwav, "RESTWAV" },
		{ BPK_Chunk_energy_velosys, "VELOSYS" }, { BPK_Chunk_energy_zsource, "ZSOURCE" },
		{ BPK_Chunk_energy_ssyssrc, "SSYSSRC" }, { BPK_Chunk_energy_velang, "VELANG" },
	};
	size_t i;

	if (bp->configured[BP_AXIS_ENERGY])
		return;
	for (i = 0; i < NITEMS(sys); i++)
		fixed_key(bp, override, sys[i].key, sys[i].kw);
	if (override) {
		plan_list(&bp->plan, BPK_Chunk_energy_bandpassName, NULL, NULL);
		plan_list(&bp->plan, BPK_Chunk_energy_resolvingPower, NULL, NULL);
	}
	axis_keys(bp, override, energy_kw, NITEMS(energy_kw), a);
	bp->configured[BP_AXIS_ENERGY] = 1;
	bp->index[BP_AXIS_ENERGY][0] = a;
}

void
bp_configure_time(struct blueprint *bp, int a, int override)
{
	static const struct axis_kw sys[] = {
		{ BPK_Chunk_time_timesys, "TIMESYS" }, { BPK_Chunk_time_trefpos, "TREFPOS" },
		{ BPK_Chunk_time_mjdref, "MJDREF" }, { BPK_Chunk_time_resolution, "TIMEDEL" },
	};
	size_t i;

	if (bp->configured[BP_AXIS_TIME])
		return;
	if (override)
		plan_list(&bp->plan, BPK_Chunk_time_exposure, NULL, "EXPTIME", "INTTIME", NULL);
	std_set(bp, BPK_Chunk_time_exposure, "EXPTIME", 0);
	for (i = 0; i < NITEMS(sys); i++)
		fixed_key(bp, override, sys[i].key, sys[i].kw);
	axis_keys(bp, override, time_kw, NITEMS(time_kw), a);
	bp->configured[BP_AXIS_TIME] = 1;
	bp->index[BP_AXIS_TIME][0] = a;
}

void
bp_configure_simple(struct blueprint *bp, enum bp_axis axis, int a, int override)
{
	if (bp->configured[axis])
		return;
	if (axis == BP_AXIS_OBSERVABLE)
		axis_keys(bp, override, observable_kw, NITEMS(observable_kw), a);
	else if (axis == BP_AXIS_POLARIZATION)
		axis_keys(bp, override, polarization_kw, NITEMS(polarization_kw), a);
	else
		axis_keys(bp, override, custom_kw, NITEMS(custom_kw), a);
	bp->configured[axis] = 1;
	bp->index[axis][0] = a;
}

/* ---- Guessing axes from a loaded blueprint (_guess_axis_info) ---- */

enum { G_RA, G_DEC, G_ENERGY, G_TIME, G_POL, G_OBS, G_CUSTOM, G_N };

struct guess {
	int	 index[G_N];
	int	 set[G_N];
};

static int
key_prefix(const char *key, const char *prefix)
{
	return strncmp(key, prefix, strlen(prefix)) == 0;
}

static int
key_suffix(const char *key, const char *suffix)
{
	size_t a = strlen(key), b = strlen(suffix);

	return a >= b && strcmp(key + a - b, suffix) == 0;
}

/* Which axis a Chunk key belongs to, or -1. */
static int
guess_axis_of(const char *key)
{
	if (key_prefix(key, "Chunk.energy"))
		return G_ENERGY;
	if (key_prefix(key, "Chunk.polarization"))
		return G_POL;
	if (key_prefix(key, "Chunk.time"))
		return G_TIME;
	if (key_prefix(key, "Chunk.position") && key_suffix(key, "axis1.ctype"))
		return G_RA;
	if (key_prefix(key, "Chunk.position") && key_suffix(key, "axis2.ctype"))
		return G_DEC;
	if (key_prefix(key, "Chunk.observable"))
		return G_OBS;
	if (key_prefix(key, "Chunk.custom"))
		return G_CUSTOM;
	return -1;
}

/* "CTYPEn..." names axis n (the last digit of the part before any '-'). */
static int
ctype_index(const char *s)
{
	size_t n;

	if (strncmp(s, "CTYPE", 5) != 0)
		return 0;
	n = strcspn(s, "-");
	if (n == 0 || !isdigit((unsigned char)s[n - 1]) || !isdigit((unsigned char)s[strlen(s) - 1]))
		return 0;
	return s[n - 1] - '0';
}

/* _get_configured_index: the default, or the lowest free index when it is taken. */
static int
guess_next_index(const struct guess *g, int axis)
{
	static const int defaults[G_N] = { 1, 2, 3, 4, 5, 6, 7 };
	int max = 0, min = 7, used = 0, a;

	for (a = 0; a < G_N; a++) {
		if (!g->set[a])
			continue;
		if (g->index[a] > max)
			max = g->index[a];
		if (g->index[a] < min)
			min = g->index[a];
		if (g->index[a] == defaults[axis])
			used = 1;
	}
	if (!used)
		return defaults[axis];
	return min == 1 ? max + 1 : (min < 1 ? min : 1);
}

/*
 * No key names the position axes (no axis1/axis2 ctype). Position then
 * goes on WCS axes 1 and 2 when no other axis takes them, as the
 * reference's default is; when another axis does, the blueprint has no
 * position at all, as a reference blueprint configured without
 * configure_position_axes (DAO's sky camera: time 1, observable 2) - where
 * the reference's load_from_file refuses. Other position keys then would
 * be silently unused, so they are an error, with their line.
 */
static void
guess_default_position(struct blueprint *bp, const struct guess *g, const int *keys,
    size_t count, const char *file, struct msgbuf *e)
{
	static const char *const axis_name[G_N] = { "ra", "dec", "energy", "time",
		"polarization", "observable", "custom" };
	const char *name;
	size_t i;
	int a;

	for (a = G_ENERGY; a < G_N; a++) {
		if (g->set[a] && (g->index[a] == 1 || g->index[a] == 2))
			break;
	}
	if (a == G_N) {
		bp_configure_position(bp, 1, 2, 0);
		return;
	}
	for (i = 0; i < count; i++) {
		name = bp_key_name(keys[i]);
		if (key_prefix(name, "Chunk.position.")) {
			msgbuf_at(e, file, bp->plan.v[keys[i]].line, "%s: a position key, but no "
			    "position axes: WCS axis %d is the %s axis (name them with "
			    "Chunk.position.axis.axis1.ctype and axis2.ctype)", name, g->index[a],
			    axis_name[a]);
			return;
		}
	}
}

void
bp_guess_axes(struct blueprint *bp, const char *file, struct msgbuf *e)
{
	struct guess g;
	const struct bp_value *v;
	int *keys, a, n;
	size_t i, j, count;

	memset(&g, 0, sizeof g);
	count = bp_plan_keys(bp, 0, &keys);
	for (i = 0; i < count; i++) {
		v = &bp->plan.v[keys[i]];
		for (j = 0; j < (v->kind == BP_LIST ? v->nkw : (v->kind == BP_LITERAL ? 1u : 0u));
		    j++) {
			n = ctype_index(v->kind == BP_LIST ? v->kw[j] : v->lit);
			if (n == 0)
				continue;
			if ((a = guess_axis_of(bp_key_name(keys[i]))) < 0) {
				msgbuf_at(e, file, v->line, "%s: a CTYPEn keyword names a WCS axis, "
				    "but %s is not a Chunk axis key", bp_key_name(keys[i]),
				    bp_key_name(keys[i]));
				continue;
			}
			g.index[a] = n;
			g.set[a] = 1;
		}
	}
	for (i = 0; i < count; i++) {
		a = guess_axis_of(bp_key_name(keys[i]));
		if (a < 0 || g.set[a])
			continue;
		g.index[a] = guess_next_index(&g, a);
		g.set[a] = 1;
	}
	if (g.set[G_RA] && g.set[G_DEC])
		bp_configure_position(bp, g.index[G_RA], g.index[G_DEC], 0);
	else if (g.set[G_RA] || g.set[G_DEC])
		msgbuf_at(e, file, 0, "only one position axis found (ra/dec): %d/%d",
		    g.index[G_RA], g.index[G_DEC]);
	else
		guess_default_position(bp, &g, keys, count, file, e);
	free(keys);
	if (g.set[G_TIME])
		bp_configure_time(bp, g.index[G_TIME], 0);
	if (g.set[G_ENERGY])
		bp_configure_energy(bp, g.index[G_ENERGY], 0);
	if (g.set[G_POL])
		bp_configure_simple(bp, BP_AXIS_POLARIZATION, g.index[G_POL], 0);
	if (g.set[G_OBS])
		bp_configure_simple(bp, BP_AXIS_OBSERVABLE, g.index[G_OBS], 0);
	if (g.set[G_CUSTOM])
		bp_configure_simple(bp, BP_AXIS_CUSTOM, g.index[G_CUSTOM], 0);
}

/* ---- Shared by the two file formats ---- */

char *
bp_strip_dup(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* ---- Functions ---- */

void
bp_allow_functions(struct blueprint *bp)
{
	bp->allow_fn = 1;
}

int
bp_functions_allowed(const struct blueprint *bp)
{
	return bp->allow_fn;
}

void
bp_set_source(struct blueprint *bp, const char *name)
{
	free(bp->source);
	bp->source = xstrdup(name);
}

/* Plan values by line, for messages in the file's order. */
static int
bind_cmp(const void *a, const void *b)
{
	const struct bp_value *x = *(const struct bp_value *const *)a;
	const struct bp_value *y = *(const struct bp_value *const *)b;

	return x->line < y->line ? -1 : x->line > y->line;
}

static void
bind_plan(struct bp_plan *p, const char *source, int (*bind)(void *, const char *, char **),
    void *arg, struct msgbuf *e)
{
	struct bp_value *v[BP_NKEYS];
	char *why;
	size_t i, n = 0;

	for (i = 0; i < BP_NKEYS; i++) {
		if (p->v[i].kind == BP_FUNCTION)
			v[n++] = &p->v[i];
	}
	qsort(v, n, sizeof *v, bind_cmp);
	for (i = 0; i < n; i++) {
		why = NULL;
		if ((v[i]->fn = bind(arg, v[i]->lit, &why)) < 0) {
			msgbuf_at(e, source, v[i]->line, "unknown function %.*s (%s)",
			    (int)strcspn(v[i]->lit, "( "), v[i]->lit,
			    why != NULL ? why : "not bound");
			v[i]->fn = -1;
		}
		free(why);
	}
}

int
bp_bind_functions(struct blueprint *bp, int (*bind)(void *, const char *, char **),
    void *arg, char **cause)
{
	struct msgbuf e = { 0 };
	const char *source = bp->source != NULL ? bp->source : "blueprint";
	size_t i;

	bind_plan(&bp->plan, source, bind, arg, &e);
	for (i = 0; i < bp->nexts; i++)
		bind_plan(bp->exts[i].plan, source, bind, arg, &e);
	if (e.n > 0) {
		*cause = msgbuf_take(&e);
		return -1;
	}
	return 0;
}

static int
plan_has_functions(const struct bp_plan *p)
{
	size_t i;

	for (i = 0; i < BP_NKEYS; i++) {
		if (p->v[i].kind == BP_FUNCTION)
			return 1;
	}
	return 0;
}

int
bp_has_functions(const struct blueprint *bp)
{
	size_t i;

	if (plan_has_functions(&bp->plan))
		return 1;
	for (i = 0; i < bp->nexts; i++) {
		if (plan_has_functions(bp->exts[i].plan))
			return 1;
	}
	return 0;
}
