/*
 * t/blueprint.c - the blueprint (blueprint.c: the key table and its
 * identifiers, the axis configuration guessed from the keys used, Chunk =
 * {ignore}, dumps that load back), its text format (blueprint_load.c: values,
 * extension plans, every kind of bad line with its FILE:LINE message) and
 * the legacy fits2caom2 .config/.default/.override triple (legacy.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "caom/legacy.h"
#include "tap.h"

/* blueprint_new() with len bytes of text loaded; NULL and *cause on failure. */
static struct blueprint *
load_n(const char *name, const char *text, size_t len, char **cause)
{
	struct blueprint *bp = blueprint_new();

	*cause = NULL;
	if (blueprint_load_text(bp, name, text, len, cause) != 0) {
		blueprint_free(bp);
		return NULL;
	}
	return bp;
}

static struct blueprint *
load(const char *name, const char *text, char **cause)
{
	return load_n(name, text, strlen(text), cause);
}

/* Load text that must load; bail otherwise. */
static struct blueprint *
load_ok(const char *name, const char *text)
{
	struct blueprint *bp;
	char *cause;

	if ((bp = load(name, text, &cause)) == NULL)
		bail("%s does not load: %s", name, cause);
	return bp;
}

/* len bytes of text must be refused with exactly want. */
static void
check_errors_n(const char *what, const char *text, size_t len, const char *want)
{
	struct blueprint *bp;
	char *cause = NULL;

	bp = load_n("bad.bp", text, len, &cause);
	ok(bp == NULL, "%s: refused", what);
	is_string(want, cause, "%s: message", what);
	blueprint_free(bp);
	free(cause);
}

static void
check_errors(const char *what, const char *text, const char *want)
{
	check_errors_n(what, text, strlen(text), want);
}

/* The kind of key in ext, BP_UNSET when bp_get says NULL. */
static int
kind_of(const struct blueprint *bp, enum bp_key_id key, int ext)
{
	const struct bp_value *v = bp_get(bp, key, ext);

	return v != NULL ? (int)v->kind : BP_UNSET;
}

/* The literal of key in ext, or NULL. */
static const char *
lit_of(const struct blueprint *bp, enum bp_key_id key, int ext)
{
	const struct bp_value *v = bp_get(bp, key, ext);

	return v != NULL && v->kind == BP_LITERAL ? v->lit : NULL;
}

/* The keyword list of key in ext as "A,B" ("" for an empty list, NULL when not a list). */
static char *
kw_of(const struct blueprint *bp, enum bp_key_id key, int ext)
{
	const struct bp_value *v = bp_get(bp, key, ext);
	size_t i, n = 1;
	char *s;

	if (v == NULL || v->kind != BP_LIST)
		return NULL;
	for (i = 0; i < v->nkw; i++)
		n += strlen(v->kw[i]) + 1;
	if ((s = calloc(1, n)) == NULL)
		bail("out of memory");
	for (i = 0; i < v->nkw; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, v->kw[i]);
	}
	return s;
}

static void
is_kw(const char *want, const struct blueprint *bp, enum bp_key_id key, int ext,
    const char *what)
{
	char *s = kw_of(bp, key, ext);

	is_string(want, s, "%s", what);
	free(s);
}

/* The default of key's list in ext, or NULL. */
static const char *
def_of(const struct blueprint *bp, enum bp_key_id key, int ext)
{
	const struct bp_value *v = bp_get(bp, key, ext);

	return v != NULL && v->kind == BP_LIST ? v->def : NULL;
}

/* Whether s contains line as a whole line. */
static int
has_line(const char *s, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = s; p != NULL && (p = strstr(p, line)) != NULL; p++) {
		if ((p == s || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

/* Whether id is name with each '.' as '_'. */
static int
key_id_rule(const char *id, const char *name)
{
	for (; *id != '\0' && *name != '\0'; id++, name++) {
		if (*id != (*name == '.' ? '_' : *name))
			return 0;
	}
	return *id == '\0' && *name == '\0';
}

/* Every line of the table: its identifier follows the rule and bp_key agrees. */
static void
test_key_table(void)
{
	int bad_rule = 0, bad_key = 0, n = 0;

#define BPK(id, name) do { \
	bad_rule += !key_id_rule(#id, name); \
	bad_key += bp_key(name) != BPK_##id; \
	n++; \
} while (0);
#include "caom/blueprint_keys.h"
#undef BPK
	is_int(BP_NKEYS, n, "the table has BP_NKEYS lines");
	is_int(0, bad_rule, "every identifier is its name with '.' as '_'");
	is_int(0, bad_key, "bp_key gives every name its identifier");
}

static void
test_keys(void)
{
	struct blueprint *bp = blueprint_new();

	is_int(195, BP_NKEYS, "195 blueprint keys, as the reference");
	is_int(BPK_Plane_dataProductType, bp_key("Plane.dataProductType"),
	    "bp_key gives a name's identifier");
	is_int(-1, bp_key("Chunk.nosuch"), "an unknown key name is -1");
	ok(bp_get(bp, bp_key("Chunk.nosuch"), 0) == NULL && bp_get(bp, BP_NKEYS, 0) == NULL,
	    "bp_get out of range is NULL");
	test_key_table();
	/* the reference's defaults */
	is_kw("OBSID", bp, BPK_Observation_observationID, 0, "default: observationID from OBSID");
	is_kw("DATE,DATE-OBS,UTCOBS,UTCDATE,UTC-DATE,MJDOBS,MJD_OBS", bp,
	    BPK_Observation_metaRelease, 0, "default: metaRelease keywords in order");
	is_string("exposure", def_of(bp, BPK_Observation_algorithm_name, 0),
	    "default: algorithm.name defaults to exposure");
	is_string("include", lit_of(bp, BPK_Chunk, 0), "default: Chunk = include");
	is_string("ZNAXIS,NAXIS", bp_wcs_std(bp, BPK_Chunk_naxis), "Chunk.naxis std keywords");
	ok(bp_wcs_std(bp, BPK_Chunk_energy_axis_axis_ctype) == NULL,
	    "no energy std keyword before any axis is configured");
	is_int(BP_UNSET, kind_of(bp, BPK_Observation_intent, 0), "an unset key is NULL");
	ok(bp_has_chunk(bp, 0) && bp_has_chunk(bp, 1), "every HDU has a chunk by default");
	blueprint_free(bp);
}

static const char good_text[] =
    "# a comment line\n"
    "Observation.target.name = ['OBJECT', 'TARGNAME'], default = M31   # trailing comment\n"
    "Observation.type = OBJECT\n"
    "Plane.provenance.name = None\n"
    "Plane.productID = ad:X/f(1).fits\n"
    "Observation.algorithm.name = [\"PROCNAME\"], default=None\n"
    "Observation.instrument.name = ['INSTRUME'], default\n"
    "DerivedObservation.members = ('BINTABLE', 'Filename', 1)\n"
    "\n"
    "Chunk.energy.bandpassName = ['FILTER']\n"
    "Chunk.time.exposure = ['EXPTIME']\n"
    "   \t\n"
    "extension 1:\n"
    "Chunk.energy.bandpassName = ['FILTER1'], default = r\n"
    "Chunk.time.exposure = 30.5\n"
    "Chunk.position.coordsys = None\n"
    "extension 3 :\n"
    "Chunk.time.exposure = ['EXPTIM3']\n";

static void
test_good(void)
{
	struct blueprint *bp = load_ok("good.bp", good_text), *again;
	const struct bp_value *v;
	const int *exts;
	char *dump, *dump2, *cause = NULL;
	int *keys;
	size_t n;

	/* (a) kinds, keywords, defaults, literals */
	is_int(BP_LIST, kind_of(bp, BPK_Observation_target_name, 0), "a keyword list");
	is_kw("OBJECT,TARGNAME", bp, BPK_Observation_target_name, 0, "its keywords, in order");
	is_string("M31", def_of(bp, BPK_Observation_target_name, 0),
	    "its default (trailing comment dropped)");
	v = bp_get(bp, BPK_Observation_target_name, 0);
	is_int(2, v != NULL ? v->line : 0, "the line it was set on");
	is_int(BP_LITERAL, kind_of(bp, BPK_Observation_type, 0), "a literal");
	is_string("OBJECT", lit_of(bp, BPK_Observation_type, 0), "its value");
	is_int(BP_NONE, kind_of(bp, BPK_Plane_provenance_name, 0), "None");
	is_string("ad:X/f(1).fits", lit_of(bp, BPK_Plane_productID, 0),
	    "a value with '/' and parentheses is a literal, not a function call");
	is_kw("PROCNAME", bp, BPK_Observation_algorithm_name, 0, "a double-quoted keyword");
	ok(def_of(bp, BPK_Observation_algorithm_name, 0) == NULL,
	    "default=None replaces the built-in default with none");
	is_kw("INSTRUME", bp, BPK_Observation_instrument_name, 0, "', default' with no value");
	ok(def_of(bp, BPK_Observation_instrument_name, 0) == NULL, "gives no default");
	v = bp_get(bp, BPK_DerivedObservation_members, 0);
	ok(v != NULL && v->kind == BP_TABLE && v->nkw == 1 && strcmp(v->kw[0], "Filename") == 0 &&
	    v->table_ext == 1, "a BINTABLE column reference");

	/* per-extension lookup: the extension plan first, then the plan */
	is_kw("FILTER", bp, BPK_Chunk_energy_bandpassName, 0, "HDU 0: the plan's list");
	ok(def_of(bp, BPK_Chunk_energy_bandpassName, 0) == NULL, "HDU 0: no default");
	is_kw("FILTER1", bp, BPK_Chunk_energy_bandpassName, 1, "HDU 1: the extension's list");
	is_string("r", def_of(bp, BPK_Chunk_energy_bandpassName, 1), "HDU 1: its default");
	is_kw("FILTER", bp, BPK_Chunk_energy_bandpassName, 2, "HDU 2 (no plan): the plan's list");
	is_kw("FILTER", bp, BPK_Chunk_energy_bandpassName, 3,
	    "HDU 3 (a plan without the key): the plan's list");
	is_string("30.5", lit_of(bp, BPK_Chunk_time_exposure, 1), "HDU 1: a literal");
	is_kw("EXPTIM3", bp, BPK_Chunk_time_exposure, 3, "HDU 3: 'extension 3 :' is accepted");
	is_kw("EXPTIME", bp, BPK_Chunk_time_exposure, 0, "HDU 0: the plan");
	is_int(BP_NONE, kind_of(bp, BPK_Chunk_position_coordsys, 1), "HDU 1: None");
	is_kw("OBJECT,TARGNAME", bp, BPK_Observation_target_name, 1,
	    "a non-Chunk key asked for HDU 1 comes from the plan");
	n = bp_extensions(bp, &exts);
	ok(n == 2 && exts[0] == 1 && exts[1] == 3, "extensions 1 and 3, ascending");

	/* plan keys keep the built-in place of a key set again, new keys go last */
	n = bp_plan_keys(bp, 0, &keys);
	ok(n > 3 && keys[1] == BPK_Observation_instrument_name &&
	    keys[2] == BPK_Observation_type && keys[n - 1] == BPK_Chunk_time_exposure,
	    "plan keys in insertion order");
	free(keys);
	n = bp_plan_keys(bp, 1, &keys);
	ok(n == 3 && keys[0] == BPK_Chunk_energy_bandpassName &&
	    keys[2] == BPK_Chunk_position_coordsys, "extension 1 keys in insertion order");
	free(keys);
	n = bp_plan_keys(bp, 2, &keys);
	is_int(0, (long long)n, "no keys for an HDU without a plan");
	free(keys);

	/* the dump, and loading the dump gives the same blueprint */
	dump = blueprint_dump(bp);
	ok(has_line(dump, "Observation.target.name = ['OBJECT', 'TARGNAME'], default = M31"),
	    "dump: a list with a default");
	ok(has_line(dump, "Plane.provenance.name = None"), "dump: None");
	ok(has_line(dump, "DerivedObservation.members = ('BINTABLE', 'Filename', 1)"),
	    "dump: a table reference");
	ok(strstr(dump, "\n\nextension 1:\nChunk.position.coordsys = None\n"
	    "Chunk.energy.bandpassName = ['FILTER1'], default = r\n"
	    "Chunk.time.exposure = 30.5\n\nextension 3:\nChunk.time.exposure = ['EXPTIM3'], "
	    "default = None\n") != NULL, "dump: the extension plans, keys in reference order");
	ok(strstr(dump, "Observation.observationID = ['OBSID'], default = None\n") != NULL,
	    "dump: built-in keys too");
	again = load("dump.bp", dump, &cause);
	ok(again != NULL, "the dump loads");
	if (again == NULL)
		diag("%s", cause);
	dump2 = again != NULL ? blueprint_dump(again) : NULL;
	is_string(dump, dump2, "and dumps the same");
	free(dump2);
	blueprint_free(again);

	/* the axes guessed from the keys used */
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 1 &&
	    bp_axis_configured(bp, BP_AXIS_ENERGY) == 3 &&
	    bp_axis_configured(bp, BP_AXIS_TIME) == 4, "axes: position 1, energy 3, time 4");
	is_string("CRVAL3", bp_wcs_std(bp, BPK_Chunk_energy_axis_function_refCoord_val),
	    "and their standard keywords");
	free(dump);
	blueprint_free(bp);
	free(cause);
}

static void
test_errors(void)
{
	static const char nul_text[] = "Observation.type = A\nObservation.type = B\0C\n";

	check_errors("unknown key", "Observation.nosuch = ['X']\n",
	    "bad.bp:1: unknown key 'Observation.nosuch'");
	check_errors("syntax error", "Observation.type = A\nObservation.type OBJECT\n",
	    "bad.bp:2: syntax error: expected KEY = VALUE or 'extension N:'");
	check_errors("bad extension line", "extension one:\n",
	    "bad.bp:1: syntax error: expected KEY = VALUE or 'extension N:'");
	check_errors("malformed default", "Observation.target.name = ['A'] default = B\n",
	    "bad.bp:1: Observation.target.name: malformed default in '['A'] default = B' "
	    "(expected ['KEYWORD'], default = VALUE)");
	check_errors("non-Chunk key in an extension",
	    "extension 1:\nChunk.time.exposure = 1\nObservation.type = OBJECT\n",
	    "bad.bp:3: Observation.type: only Chunk keys can follow 'extension 1:'");
	check_errors("unknown function", "Plane.productID = foo(uri)\n",
	    "bad.bp:1: Plane.productID: unknown function foo (no functions: file is "
	    "configured)");
	check_errors("unterminated list", "Observation.target.name = ['OBJECT'\n",
	    "bad.bp:1: Observation.target.name: unterminated keyword list '['OBJECT''");
	check_errors("table: not BINTABLE", "DerivedObservation.members = ('IMAGE', 'F', 1)\n",
	    "bad.bp:1: DerivedObservation.members: malformed table reference (expected "
	    "('BINTABLE', 'COLUMN', EXTENSION))");
	check_errors("table: extension 0", "DerivedObservation.members = ('BINTABLE', 'F', 0)\n",
	    "bad.bp:1: DerivedObservation.members: malformed table reference (expected "
	    "('BINTABLE', 'COLUMN', EXTENSION))");
	check_errors("table: two parts", "DerivedObservation.members = ('BINTABLE', 'F')\n",
	    "bad.bp:1: DerivedObservation.members: malformed table reference (expected "
	    "('BINTABLE', 'COLUMN', EXTENSION))");
	check_errors("table: four parts",
	    "DerivedObservation.members = ('BINTABLE', 'F', 1, 2)\n",
	    "bad.bp:1: DerivedObservation.members: malformed table reference (expected "
	    "('BINTABLE', 'COLUMN', EXTENSION))");
	check_errors_n("a NUL byte", nul_text, sizeof nul_text - 1,
	    "bad.bp:2: NUL byte: not a text file");
	/* every error of a file, in line order */
	check_errors("every error",
	    "Observation.nosuch = ['X']\n"
	    "Observation.type OBJECT\n"
	    "Observation.target.name = ['A'] default = B\n"
	    "Plane.productID = foo(uri)\n"
	    "Observation.telescope.name = ['TELESCOP'\n"
	    "DerivedObservation.members = ('IMAGE', 'F', 1)\n"
	    "Observation.intent = science\n"
	    "extension 1:\n"
	    "Observation.type = OBJECT\n"
	    "Chunk.nosuch = 1\n"
	    "Chunk.time.exposure = 1\n",
	    "bad.bp:1: unknown key 'Observation.nosuch'\n"
	    "bad.bp:2: syntax error: expected KEY = VALUE or 'extension N:'\n"
	    "bad.bp:3: Observation.target.name: malformed default in '['A'] default = B' "
	    "(expected ['KEYWORD'], default = VALUE)\n"
	    "bad.bp:4: Plane.productID: unknown function foo (no functions: file is "
	    "configured)\n"
	    "bad.bp:5: Observation.telescope.name: unterminated keyword list '['TELESCOP''\n"
	    "bad.bp:6: DerivedObservation.members: malformed table reference (expected "
	    "('BINTABLE', 'COLUMN', EXTENSION))\n"
	    "bad.bp:9: Observation.type: only Chunk keys can follow 'extension 1:'\n"
	    "bad.bp:10: unknown key 'Chunk.nosuch'");
	/* axis errors, reported once the lines are fine */
	check_errors("CTYPEn on a non-axis key", "Observation.type = ['CTYPE3']\n",
	    "bad.bp:1: Observation.type: a CTYPEn keyword names a WCS axis, but "
	    "Observation.type is not a Chunk axis key");
	check_errors("one position axis", "Chunk.position.axis.axis1.ctype = ['CTYPE1']\n",
	    "bad.bp: only one position axis found (ra/dec): 1/0");
	check_errors("axis 2 taken, a position key", "Chunk.time.axis.axis.ctype = ['CTYPE1']\n"
	    "Chunk.observable.axis.axis.ctype = ['CTYPE2']\n"
	    "Chunk.position.equinox = 2000.0\n",
	    "bad.bp:3: Chunk.position.equinox: a position key, but no position axes: WCS axis 1 "
	    "is the time axis (name them with Chunk.position.axis.axis1.ctype and axis2.ctype)");
}

static void
test_load_file(void)
{
	struct blueprint *bp = blueprint_new();
	char *cause = NULL;

	ok(blueprint_load(bp, "/nonexistent/x.bp", &cause) == -1, "a missing file is refused");
	is_string("/nonexistent/x.bp: No such file or directory", cause, "with the path");
	free(cause);
	cause = NULL;
	ok(blueprint_load(bp, "/", &cause) == -1, "a directory is refused");
	is_string("/: not a regular file", cause, "as not a regular file");
	free(cause);
	blueprint_free(bp);
}

/* (c) which WCS axis is which */
static void
test_axes(void)
{
	struct blueprint *bp;
	char *path, *cause = NULL;

	bp = load_ok("axes.bp",
	    "Chunk.position.axis.axis1.ctype = ['CTYPE3'], default=RA---TAN\n"
	    "Chunk.position.axis.axis2.ctype = ['CTYPE4']\n"
	    "Chunk.energy.specsys = ['SPECSYS'], default=TOPOCENT\n"
	    "Chunk.energy.axis.axis.ctype = WAVE\n"
	    "Chunk.energy.axis.function.naxis = 4200\n"
	    "Chunk.time.axis.axis.ctype = ['CTYPE5']\n");
	is_int(3, bp_axis_configured(bp, BP_AXIS_POSITION), "position on axes 3...");
	is_string("CTYPE4", bp_wcs_std(bp, BPK_Chunk_position_axis_axis2_ctype), "...and 4");
	is_int(5, bp_axis_configured(bp, BP_AXIS_TIME), "time on axis 5 (CTYPE5)");
	is_int(1, bp_axis_configured(bp, BP_AXIS_ENERGY),
	    "energy: its default 3 is taken and the lowest used index is not 1: axis 1");
	is_int(0, bp_axis_configured(bp, BP_AXIS_POLARIZATION), "no polarization");
	is_int(0, bp_axis_configured(bp, BP_AXIS_OBSERVABLE), "no observable");
	is_int(4, bp_configured_axes(bp), "4 WCS axes");
	is_string("CRVAL1", bp_wcs_std(bp, BPK_Chunk_energy_axis_function_refCoord_val),
	    "energy refCoord.val std keyword CRVAL1");
	is_string("CTYPE5", bp_wcs_std(bp, BPK_Chunk_time_axis_axis_ctype),
	    "time ctype std keyword CTYPE5");
	is_string("CD3_4", bp_wcs_std(bp, BPK_Chunk_position_axis_function_cd12),
	    "position cd12 std keyword CD3_4");
	is_string("NAXIS4", bp_wcs_std(bp,
	    BPK_Chunk_position_axis_function_dimension_naxis2), "naxis2 std keyword NAXIS4");
	is_string("SPECSYS", bp_wcs_std(bp, BPK_Chunk_energy_specsys), "specsys std keyword");
	is_string("EXPTIME", bp_wcs_std(bp, BPK_Chunk_time_exposure), "exposure std keyword");
	is_int(BP_UNSET, kind_of(bp, BPK_Chunk_energy_axis_function_refCoord_val, 0),
	    "guessing axes does not put keys in the plan");
	is_string("WAVE", lit_of(bp, BPK_Chunk_energy_axis_axis_ctype, 0),
	    "a literal CTYPE value stays a literal");
	blueprint_free(bp);

	bp = load_ok("energy.bp", "Chunk.energy.axis.function.refCoord.val = ['CRVAL']\n");
	is_int(1, bp_axis_configured(bp, BP_AXIS_POSITION), "energy only: position on 1...");
	is_string("CTYPE2", bp_wcs_std(bp, BPK_Chunk_position_axis_axis2_ctype), "...and 2");
	is_int(3, bp_axis_configured(bp, BP_AXIS_ENERGY), "energy only: energy on 3");
	is_int(0, bp_axis_configured(bp, BP_AXIS_TIME), "energy only: no time");
	is_int(3, bp_configured_axes(bp), "3 WCS axes");
	is_string("CRVAL3", bp_wcs_std(bp, BPK_Chunk_energy_axis_function_refCoord_val),
	    "energy refCoord.val std keyword CRVAL3");
	blueprint_free(bp);

	bp = load_ok("all.bp",
	    "Chunk.time.exposure = 1\n"
	    "Chunk.polarization.axis.axis.ctype = STOKES\n"
	    "Chunk.custom.axis.axis.ctype = FARADAY\n");
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 1 &&
	    bp_axis_configured(bp, BP_AXIS_TIME) == 4 &&
	    bp_axis_configured(bp, BP_AXIS_POLARIZATION) == 5 &&
	    bp_axis_configured(bp, BP_AXIS_CUSTOM) == 7 &&
	    bp_axis_configured(bp, BP_AXIS_ENERGY) == 0, "default indices: time 4, pol 5, custom 7");
	blueprint_free(bp);

	bp = load_ok("gemini.bp",
	    "Observation.type = OBJECT\n"
	    "DerivedObservation.members = ('BINTABLE', 'Filename', 1)\n"
	    "Chunk.position.axis.axis1.ctype = CTYPE1\n"
	    "Chunk.position.axis.axis2.ctype = CTYPE2\n");
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 1 && bp_configured_axes(bp) == 2,
	    "literal CTYPE1/CTYPE2 name the position axes");
	blueprint_free(bp);

	/* no position key and another axis on WCS axis 1 or 2: no position (DAO's sky camera) */
	bp = load_ok("skycam.bp",
	    "Chunk.time.axis.axis.ctype = ['CTYPE1'], default = TIME\n"
	    "Chunk.observable.axis.axis.ctype = ['CTYPE2'], default = FLUX\n"
	    "Chunk.energy.axis.axis.ctype = WAVE\n");
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 0 &&
	    bp_axis_configured(bp, BP_AXIS_TIME) == 1 &&
	    bp_axis_configured(bp, BP_AXIS_OBSERVABLE) == 2 &&
	    bp_axis_configured(bp, BP_AXIS_ENERGY) == 3 && bp_configured_axes(bp) == 3,
	    "time on 1, observable on 2, no position key: no position; energy 3");
	is_string(NULL, bp_wcs_std(bp, BPK_Chunk_position_axis_axis1_ctype),
	    "no position: no position std keyword");
	blueprint_free(bp);
	bp = load_ok("energy1.bp", "Chunk.energy.axis.axis.ctype = ['CTYPE1']\n");
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 0 &&
	    bp_axis_configured(bp, BP_AXIS_ENERGY) == 1 && bp_configured_axes(bp) == 1,
	    "energy on 1, no position key: energy alone");
	blueprint_free(bp);
	bp = load_ok("energy2pos.bp", "Chunk.energy.axis.axis.ctype = ['CTYPE1']\n"
	    "Chunk.position.axis.axis1.ctype = ['CTYPE2']\n"
	    "Chunk.position.axis.axis2.ctype = ['CTYPE3']\n"
	    "Chunk.position.equinox = 2000.0\n");
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 2 &&
	    bp_axis_configured(bp, BP_AXIS_ENERGY) == 1,
	    "energy on 1 and the position named on 2/3: both");
	blueprint_free(bp);
	bp = load_ok("energy3.bp", "Chunk.energy.axis.axis.ctype = ['CTYPE3']\n"
	    "Chunk.position.equinox = 2000.0\n");
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 1 && bp_configured_axes(bp) == 3,
	    "WCS axes 1 and 2 free, no axis1/axis2 ctype: position on 1/2 (the default)");
	blueprint_free(bp);

	/* the reference's apass blueprint: position 3/4, time 5, energy 1, observable 6 */
	path = test_reference_path("caom/cases/apass-catalog/dao_c122_2016_012725.blueprint");
	if (path == NULL)
		skip(2, "no reference tree");
	else {
		bp = blueprint_new();
		ok(blueprint_load(bp, path, &cause) == 0, "the apass blueprint loads");
		if (cause != NULL)
			diag("%s", cause);
		ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 3 &&
		    bp_axis_configured(bp, BP_AXIS_TIME) == 5 &&
		    bp_axis_configured(bp, BP_AXIS_ENERGY) == 1 &&
		    bp_axis_configured(bp, BP_AXIS_OBSERVABLE) == 6,
		    "apass: position 3, time 5, energy 1, observable 6");
		blueprint_free(bp);
		free(cause);
		free(path);
	}
}

/* (d) Chunk = {ignore} */
static void
test_ignore(void)
{
	struct blueprint *bp;

	bp = load_ok("ignore0.bp", "Chunk = {ignore}\n");
	ok(!bp_has_chunk(bp, 0), "Chunk = {ignore} in the plan: HDU 0 has no chunk");
	ok(bp_has_chunk(bp, 1) && bp_has_chunk(bp, 2), "but HDUs 1 and 2 do");
	blueprint_free(bp);
	bp = load_ok("ignore2.bp", "extension 2:\nChunk = {ignore}\nextension 3:\n"
	    "Chunk.time.exposure = 1\n");
	ok(bp_has_chunk(bp, 0) && bp_has_chunk(bp, 1), "after 'extension 2:': HDUs 0 and 1 have one");
	ok(!bp_has_chunk(bp, 2), "HDU 2 has none");
	ok(bp_has_chunk(bp, 3), "HDU 3 (a plan without Chunk) has one");
	blueprint_free(bp);
	bp = load_ok("include.bp", "Chunk = {ignore}\nextension 1:\nChunk = include\n");
	ok(!bp_has_chunk(bp, 0) && bp_has_chunk(bp, 1), "an extension may include again");
	blueprint_free(bp);
}

/* (e) legacy fits2caom2 files */
static const char lg_config[] =
    "Observation.target.name = OBJECT\n"
    "Plane.provenance.name = provenance.name\n";
static const char lg_default[] =
    "provenance.name = PIPE\n"
    "CTYPE1 = RA---TAN\n"
    "CTYPE2 = DEC--TAN\n"
    "CTYPE3 = WAVE\n";
static const char lg_override[] =
    "Observation.type = OBJECT\n"
    "provenance.name = OVERRIDDEN\n"
    "nosuchname = 1\n"
    "?ad:X/f.fits#[1]\n"
    "CRVAL3 = 5\n";

static struct legacy *
lg_load(const char *config, const char *defaults, const char *overrides)
{
	struct legacy *lg = NULL;
	char *cause = NULL;

	if (legacy_load_text(config, config ? strlen(config) : 0, defaults,
	    defaults ? strlen(defaults) : 0, overrides, overrides ? strlen(overrides) : 0,
	    &lg, &cause) != 0)
		bail("legacy files do not load: %s", cause);
	return lg;
}

static void
test_legacy(void)
{
	struct legacy *lg = lg_load(lg_config, lg_default, lg_override);
	struct blueprint *bp = NULL;
	char *warnings = NULL, *cause = NULL, *dump;
	const int *exts;

	ok(legacy_blueprint(lg, "ad:X/f.fits", &bp, &warnings, &cause) == 0, "a legacy blueprint");
	is_int(1, bp_axis_configured(bp, BP_AXIS_POSITION), "CTYPE1/2: position on 1/2");
	is_int(3, bp_axis_configured(bp, BP_AXIS_ENERGY), "CTYPE3 = WAVE: energy on 3");
	is_int(0, bp_axis_configured(bp, BP_AXIS_TIME), "no time");
	is_kw("CTYPE3", bp, BPK_Chunk_energy_axis_axis_ctype, 0, "energy ctype from CTYPE3");
	is_string("WAVE", def_of(bp, BPK_Chunk_energy_axis_axis_ctype, 0), "default WAVE");
	is_string("RA---TAN", def_of(bp, BPK_Chunk_position_axis_axis1_ctype, 0),
	    "default RA---TAN");
	is_kw("CRVAL3", bp, BPK_Chunk_energy_axis_function_refCoord_val, 0,
	    "legacy axes put their keywords in the plan");
	is_int(BP_LITERAL, kind_of(bp, BPK_Plane_provenance_name, 0),
	    "provenance.name (a config name) overridden...");
	is_string("OVERRIDDEN", lit_of(bp, BPK_Plane_provenance_name, 0), "...to OVERRIDDEN");
	is_string("OBJECT", lit_of(bp, BPK_Observation_type, 0), "a CAOM key overridden by name");
	is_kw("OBJECT", bp, BPK_Observation_target_name, 0, "config: OBJECT kept once");
	ok(warnings != NULL && has_line(warnings,
	    "override:3: nosuchname: names no CAOM attribute or header keyword (ignored)"),
	    "a warning names override:3 for nosuchname");
	if (warnings != NULL)
		diag("warnings: %s", warnings);
	is_int(1, (long long)bp_extensions(bp, &exts), "one extension plan...");
	is_int(1, exts[0], "...for HDU 1");
	is_string("5", lit_of(bp, BPK_Chunk_energy_axis_function_refCoord_val, 1),
	    "?uri#[1] CRVAL3 = 5: an extension-1 literal");
	is_kw("CRVAL3", bp, BPK_Chunk_energy_axis_function_refCoord_val, 2,
	    "HDU 2 keeps the plan's list");
	dump = blueprint_dump(bp);
	ok(strstr(dump, "\nextension 1:\nChunk.energy.axis.function.refCoord.val = 5\n") != NULL,
	    "the dump shows the extension 1 literal");
	free(dump);
	blueprint_free(bp);
	free(warnings);
	bp = NULL;
	warnings = NULL;

	ok(legacy_blueprint(lg, "ad:X/other.fits", &bp, NULL, &cause) == 0, "another URI");
	is_int(0, (long long)bp_extensions(bp, &exts), "has no extension plan");
	is_string("OVERRIDDEN", lit_of(bp, BPK_Plane_provenance_name, 0),
	    "but the top-level overrides");
	blueprint_free(bp);
	bp = NULL;
	ok(legacy_blueprint(lg, NULL, &bp, &warnings, &cause) == 0, "no URI");
	is_int(0, (long long)bp_extensions(bp, &exts), "has no extension plan either");
	blueprint_free(bp);
	free(warnings);
	legacy_free(lg);

	/* defaults without overrides; config keywords go in front */
	lg = lg_load("Observation.target.name = TARGNAME\nPlane.provenance.name = provenance.name\n",
	    lg_default, NULL);
	bp = NULL;
	ok(legacy_blueprint(lg, "ad:X/f.fits", &bp, NULL, &cause) == 0, "no override file");
	is_kw("XPRVNAME", bp, BPK_Plane_provenance_name, 0, "provenance.name keeps its keyword");
	is_string("PIPE", def_of(bp, BPK_Plane_provenance_name, 0), "and gets the default PIPE");
	is_kw("TARGNAME,OBJECT", bp, BPK_Observation_target_name, 0,
	    "a config keyword goes in front of the list");
	blueprint_free(bp);
	legacy_free(lg);

	/* the built-in config alone, no CTYPEs: position on 1/2 only */
	lg = lg_load(NULL, NULL, NULL);
	bp = NULL;
	ok(legacy_blueprint(lg, "ad:X/f.fits", &bp, NULL, &cause) == 0, "built-in config only");
	ok(bp_axis_configured(bp, BP_AXIS_POSITION) == 1 && bp_configured_axes(bp) == 2,
	    "position on 1/2, nothing else");
	blueprint_free(bp);
	legacy_free(lg);

	/* an unrecognised CTYPE */
	lg = lg_load(lg_config, "provenance.name = PIPE\nCTYPE3 = BOGUS\n", NULL);
	bp = NULL;
	ok(legacy_blueprint(lg, "ad:X/f.fits", &bp, NULL, &cause) == -1 && bp == NULL,
	    "an unrecognised CTYPE is refused");
	is_string("default:2: CTYPE3: unrecognised CTYPE 'BOGUS'", cause, "naming file and line");
	free(cause);
	cause = NULL;
	legacy_free(lg);

	lg = lg_load(NULL, "CTYPE1 = RA---TAN\n", NULL);
	bp = NULL;
	ok(legacy_blueprint(lg, NULL, &bp, NULL, &cause) == -1 && bp == NULL,
	    "a lone RA axis is refused");
	ok(cause != NULL && strstr(cause, "only one position axis found (ra/dec): 1/0") != NULL,
	    "as one position axis");
	free(cause);
	cause = NULL;
	legacy_free(lg);

	/* syntax errors in every file are all reported */
	lg = NULL;
	ok(legacy_load_text("= X\n", 4, "A = 1\n= Y\n", 10, "?ad:X/f.fits#[x]\nB\0 = 1\n", 24,
	    &lg, &cause) == -1 && lg == NULL, "bad legacy files are refused");
	is_string("config:1: syntax error: '= VALUE' without a name\n"
	    "default:2: syntax error: '= VALUE' without a name\n"
	    "override:1: malformed section '?ad:X/f.fits#[x]' (expected ?URI or ?URI#[N])\n"
	    "override:2: NUL byte: not a text file", cause, "with every error");
	free(cause);
}

/* A binder that knows get_a only (id 7). */
static int
bind_a(void *arg, const char *call, char **why)
{
	(*(int *)arg)++;
	if (strncmp(call, "get_a(", 6) == 0)
		return 7;
	*why = strdup("f.lua defines no such global");
	return -1;
}

/* Function values load once allowed; bp_bind_functions binds them in every plan. */
static void
test_functions(void)
{
	const char *text = "Observation.type = get_b()\nPlane.calibrationLevel = get_a(header)\n"
	    "extension 1:\nChunk.time.exposure = get_c(uri)\n";
	struct blueprint *bp = blueprint_new();
	const struct bp_value *v;
	char *cause = NULL;
	int calls = 0;

	bp_allow_functions(bp);
	ok(blueprint_load_text(bp, "f.bp", text, strlen(text), &cause) == 0,
	    "function values load when allowed");
	ok(bp_has_functions(bp), "bp_has_functions");
	ok(bp_bind_functions(bp, bind_a, &calls, &cause) == -1, "unknown functions: -1");
	is_int(3, calls, "every function value is bound (plan and extension plan)");
	is_string("f.bp:1: unknown function get_b (f.lua defines no such global)\n"
	    "f.bp:4: unknown function get_c (f.lua defines no such global)", cause,
	    "each unknown one with the blueprint's file:line, in line order");
	v = bp_get(bp, BPK_Plane_calibrationLevel, 0);
	ok(v != NULL && v->kind == BP_FUNCTION && v->fn == 7, "the known one has its id");
	v = bp_get(bp, BPK_Chunk_time_exposure, 1);
	ok(v != NULL && v->kind == BP_FUNCTION && v->fn == -1, "an unknown one stays -1");
	free(cause);
	blueprint_free(bp);
}

int
main(void)
{
	plan_lazy();
	test_functions();
	test_keys();
	test_good();
	test_errors();
	test_load_file();
	test_axes();
	test_ignore();
	test_legacy();
	return 0;
}
