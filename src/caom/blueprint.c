/*
 * blueprint.c - the blueprint model, the blueprint text format and the
 * legacy fits2caom2 .config/.default/.override format.
 *
 * The behaviour follows the reference tools (caom2utils ObsBlueprint,
 * load_from_file, _guess_axis_info, legacy update_blueprint) so that
 * existing mapping files give the same observations; where the reference
 * crashes or silently ignores a line, we report FILE:LINE instead.
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
#include "lib/fileio.h"
#include "lib/msgbuf.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

#define BPK(id, name) name,
static const char *const bp_names[] = {
#include "caom/blueprint_keys.h"
};
#undef BPK
_Static_assert(sizeof bp_names / sizeof bp_names[0] == BP_NKEYS, "one name per key");

struct bp_plan {
	struct bp_value	 v[BP_NKEYS];
	unsigned	 next_seq;
};

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

/* ---- Values ---- */

static void
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

static void
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

static int
bp_value_has_kw(const struct bp_value *v, const char *kw)
{
	size_t i;

	for (i = 0; i < v->nkw; i++) {
		if (strcmp(v->kw[i], kw) == 0)
			return 1;
	}
	return 0;
}

/* Put v (ownership taken) into plan p at key, keeping the key's place when set. */
static void
plan_put(struct bp_plan *p, enum bp_key_id key, struct bp_value *v)
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
	plan_put(p, key, &v);
}

static void
plan_literal(struct bp_plan *p, enum bp_key_id key, const char *lit, unsigned line)
{
	struct bp_value v = { .kind = BP_LITERAL, .lit = xstrdup(lit), .line = line };

	plan_put(p, key, &v);
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
	free(bp);
}

/* The plan for HDU ext (0: the plan), created when create is set. */
static struct bp_plan *
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

static void
configure_position(struct blueprint *bp, int x, int y, int override)
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

static void
configure_energy(struct blueprint *bp, int a, int override)
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

static void
configure_time(struct blueprint *bp, int a, int override)
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

static void
configure_simple(struct blueprint *bp, enum bp_axis axis, int a, int override)
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

static void
guess_axes(struct blueprint *bp, const char *file, struct msgbuf *e)
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
			if ((a = guess_axis_of(bp_names[keys[i]])) < 0) {
				msgbuf_at(e, file, v->line, "%s: a CTYPEn keyword names a WCS axis, "
				    "but %s is not a Chunk axis key", bp_names[keys[i]],
				    bp_names[keys[i]]);
				continue;
			}
			g.index[a] = n;
			g.set[a] = 1;
		}
	}
	for (i = 0; i < count; i++) {
		a = guess_axis_of(bp_names[keys[i]]);
		if (a < 0 || g.set[a])
			continue;
		g.index[a] = guess_next_index(&g, a);
		g.set[a] = 1;
	}
	free(keys);
	if (g.set[G_RA] && g.set[G_DEC])
		configure_position(bp, g.index[G_RA], g.index[G_DEC], 0);
	else if (g.set[G_RA] || g.set[G_DEC])
		msgbuf_at(e, file, 0, "only one position axis found (ra/dec): %d/%d",
		    g.index[G_RA], g.index[G_DEC]);
	else {
		for (a = G_ENERGY; a < G_N; a++) {
			if (g.index[a] == 1 || g.index[a] == 2) {
				msgbuf_at(e, file, 0, "cannot determine the position axes: WCS axis "
				    "%d is taken by another axis", g.index[a]);
				break;
			}
		}
		if (a == G_N)
			configure_position(bp, 1, 2, 0);
	}
	if (g.set[G_TIME])
		configure_time(bp, g.index[G_TIME], 0);
	if (g.set[G_ENERGY])
		configure_energy(bp, g.index[G_ENERGY], 0);
	if (g.set[G_POL])
		configure_simple(bp, BP_AXIS_POLARIZATION, g.index[G_POL], 0);
	if (g.set[G_OBS])
		configure_simple(bp, BP_AXIS_OBSERVABLE, g.index[G_OBS], 0);
	if (g.set[G_CUSTOM])
		configure_simple(bp, BP_AXIS_CUSTOM, g.index[G_CUSTOM], 0);
}

/* ---- The blueprint text format (ObsBlueprint.load_from_file) ---- */

static char *
strip_dup(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

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
		item = strip_dup(s, (size_t)(comma - s));
		for (r = w = item; *r != '\0'; r++) {
			if (*r != '[' && *r != ']' && *r != '\'' && *r != '"')
				*w++ = *r;
		}
		*w = '\0';
		r = strip_dup(item, strlen(item));
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

/* One VALUE into v; 0, or -1 with a message in *msg. */
static int
parse_value(const char *raw, struct bp_value *v, char **msg)
{
	char *val = strip_dup(raw, strlen(raw)), *d, *def, *p;
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
		def = strip_dup(def, strlen(def));
		if (strstr(def, "None") == NULL && def[0] != '\0')
			v->def = def;
		else
			free(def);
	} else if (val[0] == '(') {
		for (p = strtok(val + 1, ",)"); p != NULL && n < 4; p = strtok(NULL, ",)")) {
			parts[n] = strip_dup(p, strlen(p));
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
	} else if (is_function(val)) {
		/* no collection function is compiled in: every call is unknown */
		*msg = xasprintf("unknown function %.*s (no collection function of that "
		    "name is registered)", (int)strcspn(val, "("), val);
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
	key = strip_dup(line, (size_t)(eq - line));
	if ((k = bp_key(key)) < 0)
		msgbuf_at(e, name, lineno, "unknown key '%s'", key);
	else if (*ext > 0 && strncmp(key, "Chunk", 5) != 0)
		msgbuf_at(e, name, lineno, "%s: only Chunk keys can follow 'extension %d:'", key, *ext);
	else if (parse_value(eq + 1, &v, &msg) != 0) {
		msgbuf_at(e, name, lineno, "%s: %s", key, msg);
		free(msg);
	} else {
		v.line = lineno;
		plan_put(bp_plan_for(bp, *ext, 1), k, &v);
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
		guess_axes(bp, name, &e);
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

	if (file_slurp(path, &text, &len, cause) != 0)
		return -1;
	r = blueprint_load_text(bp, path, text, len, cause);
	free(text);
	return r;
}

/* ---- Legacy fits2caom2 files ---- */

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
				uri = strip_dup(line + 1, strlen(line + 1));
				ext = 0;
			} else {
				uri = strip_dup(line + 1, (size_t)(h - line - 1));
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
			key = strip_dup(line, (size_t)(eq - line));
			val = strip_dup(eq + 1, strlen(eq + 1));
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
		if (paths[i] != NULL && file_slurp(paths[i], &text[i], &len[i], cause) != 0)
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
	int		*k;
	size_t		 n;
};

static void
keylist_add(struct strmap *m, const char *name, int key)
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
		v = &bp->plan.v[keys[i]];
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
static const int *
convert_keys(const struct lg_convert *c, const char *name, size_t *n, int *one)
{
	struct keylist *l;

	if ((*one = bp_key(name)) >= 0) {
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
			configure_position(bp, axis[3], axis[4], 1);
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
			configure_position(bp, 1, 2, 1);
	}
	if (axis[2] && !IGNORED("Chunk.time"))
		configure_time(bp, axis[2], 1);
	if (axis[0] && !IGNORED("Chunk.energy"))
		configure_energy(bp, axis[0], 1);
	if (axis[1] && !IGNORED("Chunk.polarization"))
		configure_simple(bp, BP_AXIS_POLARIZATION, axis[1], 1);
	if (axis[5] && !IGNORED("Chunk.observable"))
		configure_simple(bp, BP_AXIS_OBSERVABLE, axis[5], 1);
#undef IGNORED
	return 0;
}

static void
lg_set_literal(struct bp_plan *p, int key, const char *value, unsigned line)
{
	struct bp_value v = { .kind = strcmp(value, "None") == 0 ? BP_NONE : BP_LITERAL,
		.line = line };

	if (v.kind == BP_LITERAL)
		v.lit = xstrdup(value);
	plan_put(p, key, &v);
}

static void
lg_warn(struct msgbuf *w, const struct lg_file *f, const struct lg_entry *en, const char *what)
{
	msgbuf_at(w, f->name, en->line, "%s: %s", en->key, what);
}

/* Config: upper-case keyword values go in front of the attribute's keyword list. */
static void
lg_apply_config(struct blueprint *bp, const struct legacy *lg, const struct lg_convert *c,
    struct msgbuf *w)
{
	const struct lg_entry *en;
	struct bp_value *v;
	const int *keys;
	size_t i, j, n;
	int one;

	for (i = 0; i < lg->config.top.n; i++) {
		en = &lg->config.top.e[i];
		if (!py_isupper(en->value) || strchr(en->value, '.') != NULL)
			continue;
		if ((keys = convert_keys(c, en->key, &n, &one)) == NULL) {
			lg_warn(w, &lg->config, en, "not a CAOM key (ignored)");
			continue;
		}
		for (j = 0; j < n; j++) {
			v = &bp->plan.v[keys[j]];
			if (v->kind == BP_LIST) {
				if (!bp_value_has_kw(v, en->value))
					bp_value_add_kw(v, en->value, 1);
			} else if (v->kind == BP_UNSET) {
				struct bp_value nv = { .kind = BP_LIST, .line = en->line };

				bp_value_add_kw(&nv, en->value, 0);
				plan_put(&bp->plan, keys[j], &nv);
			} else
				lg_warn(w, &lg->config, en, "has a value already; keyword ignored");
		}
	}
}

static void
lg_apply_defaults(struct blueprint *bp, const struct legacy *lg, const struct lg_convert *c,
    struct msgbuf *w)
{
	const struct lg_entry *en;
	struct bp_value *v;
	const int *keys;
	size_t i, j, n;
	int one;

	for (i = 0; i < lg->defaults.top.n; i++) {
		en = &lg->defaults.top.e[i];
		if ((keys = convert_keys(c, en->key, &n, &one)) == NULL) {
			lg_warn(w, &lg->defaults, en, "names no CAOM attribute or header keyword "
			    "(ignored)");
			continue;
		}
		for (j = 0; j < n; j++) {
			v = &bp->plan.v[keys[j]];
			if (v->kind == BP_LIST) {
				free(v->def);
				v->def = en->value[0] != '\0' ? xstrdup(en->value) : NULL;
			} else
				lg_set_literal(&bp->plan, keys[j], en->value, en->line);
		}
	}
}

static void
lg_override_dict(struct blueprint *bp, const struct lg_file *f, const struct lg_dict *d,
    int ext, const struct lg_convert *c, struct msgbuf *w)
{
	const struct lg_entry *en;
	const int *keys;
	size_t i, j, n;
	int one;

	for (i = 0; i < d->n; i++) {
		en = &d->e[i];
		if (strcmp(en->key, "BITPIX") == 0)
			continue;
		if ((keys = convert_keys(c, en->key, &n, &one)) == NULL) {
			lg_warn(w, f, en, "names no CAOM attribute or header keyword (ignored)");
			continue;
		}
		for (j = 0; j < n; j++) {
			if (ext > 0 && strncmp(bp_names[keys[j]], "Chunk", 5) != 0) {
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
	lg_apply_config(bp, lg, &c, &w);
	lg_apply_defaults(bp, lg, &c, &w);
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
