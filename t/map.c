/*
 * t/map.c (the program t/map_engine) - the mapping engine of
 * src/caom/map.h: every error and warning it gives, each reached with a
 * small header made here (a header dump in memory, or a FITS file written
 * with cfitsio for the BINTABLE members) and a blueprint in the text format
 * (blueprint_new() alone, and a legacy configuration, for the one error a
 * blueprint text cannot give), and checked against its exact text; what
 * map_augment returns and leaves in the observation each time; and
 * mappings that succeed, so that an engine that maps nothing cannot pass.
 * map_augment writes into the headers it is given: every mapping here gets
 * a header of its own.
 *
 * The program is not called t/map: its log would be t/map.log, which is
 * t/map.sh's, and automake's rule for the program would run it in place of
 * t/map.sh.
 *
 * The messages (FILE is the header's name, URI the artifact's) and the
 * tests that reach them:
 *
 * Errors (map_augment returns -1 with *cause; warnings are still given):
 *   URI: the blueprint configures no WCS axis                test_no_axis
 *   URI: no value for Plane.dataProductType                  test_plane_required
 *   URI: no value for Plane.calibrationLevel                 test_plane_required
 *   URI: the blueprint sets KEY, but C/O is a SimpleObservation
 *       KEY DerivedObservation.members, CompositeObservation.members
 *                                                            test_members_simple
 *   URI: KEY comes from a table, but the file's bytes are not here
 *                                                            test_members_table
 *   CAUSE (KEY), CAUSE from fits_read_column:
 *       FILE: HDU N: not a table (column C wanted)           test_members_table
 *       FILE: HDU N: cfitsio's text (file gone, table cut short)
 *                                                            test_members_table
 *   mapping failed                                           not reachable:
 *       map_augment fails only when augment_plane, augment_parts or
 *       augment_members does, and they fail only through fail(), which
 *       sets the cause
 *
 * Warnings (lines of *warnings; the mapping goes on):
 *   FILE|URI: HDU N: KEY: 'VALUE' is not a number (ignored)
 *       set_double: a literal, a string, a logical           test_warn_number
 *       two_doubles, one_double: an axis from the blueprint  test_warn_chunk
 *   FILE|URI: HDU N: KEY: 'VALUE' is not an integer (ignored)
 *       set_int, no file (URI named)                         test_plane_required
 *       Observation.sequenceNumber                           test_warn_integer
 *       one_long: Chunk.observable.dependent.bin             test_warn_chunk
 *   FILE: HDU N: KEY: 'VALUE' is not a date (ignored)        test_warn_date
 *       (once for Observation.metaRelease)
 *   FILE: the blueprint configures extension N, the file has M HDUs
 *                                                            test_warn_extension
 *   FILE: HDU N: only one position axis (ra/dec) in the WCS; no position
 *                                                            test_warn_one_position
 *
 * The other -1s of map.c are not failures of map_augment: parse_double,
 * mv_double, mv_long and parse_date refusing a value give the warnings
 * above; axis_index finding no axis of a kind and axis_length finding no
 * NAXISn leave the axis out (test_axis_length). A blueprint without position
 * keys whose other axes take WCS axes 1 or 2 maps without position
 * (test_no_position).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "caom/legacy.h"
#include "caom/caom.h"
#include "caom/fits.h"
#include "caom/map.h"
#include "lib/xmalloc.h"
#include "tap.h"

#define URI	"cadc:TEST/obs1.fits"
#define FILE_	"obs1.fits.header"

static char dir[] = "/tmp/caom2ingest-map.XXXXXX";

/*
 * A header dump named FILE_ from cards "KEY=VALUE" (VALUE as FITS writes
 * it: 'text', 12, 1.5, T) and "END" lines, NULL-terminated; bail when it
 * does not read.
 */
static struct fits_file *
dump(const char *card, ...)
{
	struct fits_file *f = NULL;
	char *buf = NULL, *cause = NULL;
	const char *eq;
	size_t len = 0;
	va_list ap;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		bail("open_memstream: %s", strerror(errno));
	va_start(ap, card);
	for (; card != NULL; card = va_arg(ap, const char *)) {
		if ((eq = strchr(card, '=')) == NULL)
			fprintf(fp, "%s\n", card);
		else
			fprintf(fp, "%-8.*s= %s\n", (int)(eq - card), card, eq + 1);
	}
	va_end(ap);
	fclose(fp);
	if (fits_read_dump(FILE_, buf, len, &f, &cause) != 0)
		bail("the test's header does not read: %s", cause);
	free(buf);
	return f;
}

/* A blueprint: the default one with text loaded over it; bail when it does not load. */
static struct blueprint *
bp_text(const char *text)
{
	struct blueprint *bp = blueprint_new();
	char *cause = NULL;

	if (blueprint_load_text(bp, "t.bp", text, strlen(text), &cause) != 0)
		bail("the test's blueprint does not load: %s", cause);
	return bp;
}

/* map_augment of URI as plane p1, with *warnings and *cause reset first. */
static int
map(struct caom_observation *obs, struct fits_file *f, const char *path,
    const struct blueprint *bp, char **warnings, char **cause)
{
	struct map_input in = { "p1", URI, f, path, bp, NULL };

	if (warnings != NULL)
		*warnings = NULL;
	*cause = NULL;
	return map_augment(obs, &in, warnings, cause);
}

static struct caom_observation *
obs_new(enum caom_obs_kind kind)
{
	return caom_observation_new(kind, "TEST", "obs1");
}

/* The artifact of URI in plane p1, or NULL. */
static struct caom_artifact *
artifact(const struct caom_observation *obs)
{
	struct caom_plane *p = caom_observation_find_plane(obs, "p1");

	return p != NULL ? caom_plane_find_artifact(p, URI) : NULL;
}

/* The first chunk of part name of the artifact, or NULL. */
static struct caom_chunk *
chunk(const struct caom_observation *obs, const char *name)
{
	struct caom_artifact *a = artifact(obs);
	struct caom_part *p = a != NULL ? caom_artifact_find_part(a, name) : NULL;

	return p != NULL && p->nchunks > 0 ? p->chunks[0] : NULL;
}

/* A one-HDU image without WCS, for tests about other things. */
static struct fits_file *
plain_image(void)
{
	return dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=4",
	    "TELESCOP='CFHT 3.6m'", "MEMBERS='TEST/a TEST/b'", "END", NULL);
}

/* ---- Success, for contrast ---- */

static void
test_success(void)
{
	struct fits_file *f = dump("SIMPLE=T", "BITPIX=-32", "NAXIS=3", "NAXIS1=10",
	    "NAXIS2=20", "NAXIS3=5", "CTYPE1='RA---TAN'", "CTYPE2='DEC--TAN'", "CTYPE3='FREQ'",
	    "CUNIT3='Hz'", "CRPIX1=5.0", "CRPIX2=10.0", "CRPIX3=1.0", "CRVAL1=10.5",
	    "CRVAL2=41.25", "CRVAL3=1.4E9", "CDELT3=1.0E6", "CD1_1=-0.0001", "CD1_2=0.0",
	    "CD2_1=0.0", "CD2_2=0.0001", "EQUINOX=2000.0", "RADESYS='FK5'",
	    "TELESCOP='CFHT 3.6m'", "OBJECT='M31'", "DATE-OBS='2020-01-02T03:04:05'",
	    "SEQNUM=7.0", "END", NULL);
	struct blueprint *bp = bp_text("Plane.calibrationLevel = 2\n"
	    "Observation.sequenceNumber = ['SEQNUM']\n"
	    "Chunk.energy.axis.axis.ctype = ['CTYPE3']\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_plane *pl;
	struct caom_artifact *a;
	struct caom_chunk *ch;
	char *warn, *cause;

	ok(map(obs, f, NULL, bp, &warn, &cause) == 0, "success: a header with WCS maps");
	is_string(NULL, cause, "success: no cause");
	is_string(NULL, warn, "success: no warnings (*warnings NULL)");
	is_string("CFHT 3.6m", obs->telescope ? obs->telescope->name : NULL,
	    "success: telescope from TELESCOP (default blueprint)");
	is_string("M31", obs->target ? obs->target->name : NULL, "success: target from OBJECT");
	is_int(1577934245000LL, obs->has_meta_release ? obs->meta_release : -1,
	    "success: Observation.metaRelease from DATE-OBS");
	is_int(7, obs->has_sequence_number ? obs->sequence_number : -1,
	    "success: sequenceNumber 7.0 read as an integer");
	is_string("science", obs->intent, "success: intent defaults to science");
	pl = caom_observation_find_plane(obs, "p1");
	is_string("image", pl ? pl->data_product_type : NULL, "success: dataProductType image");
	is_int(2, pl && pl->has_calibration_level ? pl->calibration_level : -1,
	    "success: calibrationLevel 2 (a literal)");
	a = artifact(obs);
	is_string("science", a ? a->product_type : NULL, "success: artifact productType");
	is_string("data", a ? a->release_type : NULL, "success: artifact releaseType");
	ch = chunk(obs, "0");
	ok(ch != NULL, "success: part 0 has a chunk");
	is_int(3, ch && ch->has_naxis ? ch->naxis : -1, "success: chunk naxis 3");
	is_int(1, ch && ch->has_position_axis1 ? ch->position_axis1 : -1,
	    "success: positionAxis1 1");
	is_int(2, ch && ch->has_position_axis2 ? ch->position_axis2 : -1,
	    "success: positionAxis2 2");
	is_string("RA---TAN", ch && ch->position ? ch->position->axis.axis1.ctype : NULL,
	    "success: position axis1 RA---TAN");
	ok(ch && ch->position && ch->position->axis.function &&
	    ch->position->axis.function->dimension.naxis1 == 10 &&
	    ch->position->axis.function->dimension.naxis2 == 20,
	    "success: position function 10 x 20");
	is_double(-0.0001, ch && ch->position && ch->position->axis.function ?
	    ch->position->axis.function->cd11 : 0, 1e-12, "success: cd11 from CD1_1");
	is_double(41.25, ch && ch->position && ch->position->axis.function ?
	    ch->position->axis.function->ref_coord.coord2.val : 0, 1e-12,
	    "success: coord2 val from CRVAL2");
	is_string("FK5", ch && ch->position ? ch->position->coordsys : NULL,
	    "success: coordsys FK5");
	is_int(3, ch && ch->has_energy_axis ? ch->energy_axis : -1,
	    "success: the energy axis configured on 3 (CTYPE3 in the blueprint)");
	is_string("FREQ", ch && ch->energy ? ch->energy->axis.axis.ctype : NULL,
	    "success: energy ctype FREQ");
	is_string("Hz", ch && ch->energy ? ch->energy->axis.axis.cunit : NULL,
	    "success: energy cunit Hz");
	ok(ch && ch->energy && ch->energy->axis.function &&
	    ch->energy->axis.function->naxis == 5 && ch->energy->axis.function->delta == 1e6 &&
	    ch->energy->axis.function->ref_coord.val == 1.4e9,
	    "success: energy function: 5 pixels, delta 1e6 (CDELT3), 1.4e9 at pixel 1");
	ok(ch && ch->time == NULL && !ch->has_time_axis, "success: no time axis configured");
	free(warn);
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

/* ---- Errors ---- */

/* The default blueprint (blueprint_new) or a legacy one with Chunk.position = {ignore}. */
static void
test_no_axis(void)
{
	struct blueprint *bp = blueprint_new(), *lbp = NULL;
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct fits_file *f = plain_image();
	struct legacy *lg = NULL;
	const char *config = "Chunk.position = {ignore}\n";
	char *warn, *cause, *lcause = NULL;

	is_int(0, bp_configured_axes(bp), "no axis: the default blueprint configures none");
	is_int(-1, map(obs, f, NULL, bp, &warn, &cause), "no axis: a FITS file is refused");
	is_string(URI ": the blueprint configures no WCS axis", cause, "no axis: message");
	is_string(NULL, warn, "no axis: no warnings");
	ok(artifact(obs) != NULL && artifact(obs)->nparts == 0,
	    "no axis: the artifact has no part");
	ok(obs->telescope == NULL, "no axis: the observation's fields are not mapped");
	free(cause);
	caom_observation_free(obs);

	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(0, map(obs, NULL, NULL, bp, &warn, &cause),
	    "no axis: a file that is not FITS maps (no parts to make)");
	is_string(NULL, cause, "no axis: not FITS: no cause");
	ok(artifact(obs) != NULL, "no axis: not FITS: the artifact is there");
	free(warn);
	caom_observation_free(obs);

	if (legacy_load_text(config, strlen(config), NULL, 0, NULL, 0, &lg, &lcause) != 0 ||
	    legacy_blueprint(lg, URI, &lbp, NULL, &lcause) != 0)
		bail("the legacy configuration does not load: %s", lcause);
	fits_file_free(f);
	f = plain_image();
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(-1, map(obs, f, NULL, lbp, &warn, &cause),
	    "no axis: legacy Chunk.position = {ignore}: refused");
	is_string(URI ": the blueprint configures no WCS axis", cause,
	    "no axis: legacy: message");
	free(cause);
	free(warn);
	caom_observation_free(obs);
	blueprint_free(lbp);
	legacy_free(lg);
	blueprint_free(bp);
	fits_file_free(f);
}

/* dataProductType and calibrationLevel must have a value; with no file, messages name the URI. */
static void
test_plane_required(void)
{
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct blueprint *bp = bp_text("Plane.dataProductType = None\n");
	struct caom_plane *pl;
	char *warn, *cause;

	is_int(-1, map(obs, NULL, NULL, bp, &warn, &cause), "dataProductType None: refused");
	is_string(URI ": no value for Plane.dataProductType", cause,
	    "dataProductType None: message");
	is_string(NULL, warn, "dataProductType None: no warnings");
	pl = caom_observation_find_plane(obs, "p1");
	ok(pl != NULL && pl->nartifacts == 0, "dataProductType None: no artifact added");
	free(cause);
	caom_observation_free(obs);
	blueprint_free(bp);

	/* a keyword the header lacks keeps the current value, when there is one */
	bp = bp_text("Plane.dataProductType = ['DPTYPE']\n");
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(-1, map(obs, NULL, NULL, bp, &warn, &cause),
	    "dataProductType from an absent keyword, new plane: refused");
	is_string(URI ": no value for Plane.dataProductType", cause,
	    "dataProductType absent: message");
	free(cause);
	caom_observation_free(obs);
	obs = obs_new(CAOM_OBS_SIMPLE);
	pl = caom_observation_add_plane(obs, "p1");
	pl->data_product_type = xstrdup("cube");
	is_int(0, map(obs, NULL, NULL, bp, &warn, &cause),
	    "dataProductType absent, existing plane: maps");
	is_string("cube", pl->data_product_type, "dataProductType absent: the plane's value kept");
	caom_observation_free(obs);
	blueprint_free(bp);

	bp = bp_text("Plane.calibrationLevel = None\n");
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(-1, map(obs, NULL, NULL, bp, &warn, &cause), "calibrationLevel None: refused");
	is_string(URI ": no value for Plane.calibrationLevel", cause,
	    "calibrationLevel None: message");
	is_string(NULL, warn, "calibrationLevel None: no warnings");
	pl = caom_observation_find_plane(obs, "p1");
	ok(pl != NULL && pl->nartifacts == 0, "calibrationLevel None: no artifact added");
	free(cause);
	caom_observation_free(obs);
	blueprint_free(bp);

	bp = bp_text("Plane.calibrationLevel = raw\n");
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(-1, map(obs, NULL, NULL, bp, &warn, &cause), "calibrationLevel raw: refused");
	is_string(URI ": no value for Plane.calibrationLevel", cause,
	    "calibrationLevel raw: message");
	is_string(URI ": HDU 0: Plane.calibrationLevel: 'raw' is not an integer (ignored)", warn,
	    "calibrationLevel raw: the warning names the URI (no file), given on failure too");
	free(cause);
	free(warn);
	caom_observation_free(obs);

	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(-1, map(obs, NULL, NULL, bp, NULL, &cause),
	    "calibrationLevel raw, warnings NULL: refused");
	is_string(URI ": no value for Plane.calibrationLevel", cause,
	    "calibrationLevel raw, warnings NULL: message");
	free(cause);
	caom_observation_free(obs);

	obs = obs_new(CAOM_OBS_SIMPLE);
	pl = caom_observation_add_plane(obs, "p1");
	pl->calibration_level = 3;
	pl->has_calibration_level = 1;
	is_int(0, map(obs, NULL, NULL, bp, &warn, &cause),
	    "calibrationLevel raw, existing plane at 3: maps");
	is_int(3, pl->has_calibration_level ? pl->calibration_level : -1,
	    "calibrationLevel raw: the plane's 3 kept");
	is_string(URI ": HDU 0: Plane.calibrationLevel: 'raw' is not an integer (ignored)", warn,
	    "calibrationLevel raw: the same warning on success");
	free(warn);
	caom_observation_free(obs);

	blueprint_free(bp);
}

static void
test_members_simple(void)
{
	static const char *const keys[] = { "DerivedObservation.members",
		"CompositeObservation.members" };
	struct fits_file *f;
	struct caom_observation *obs;
	struct blueprint *bp;
	char text[128], want[256], *warn, *cause;
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(text, sizeof text, "%s = ['MEMBERS']\n", keys[i]);
		bp = bp_text(text);
		is_int(CAOM_OBS_DERIVED, map_observation_kind(bp), "%s: a DerivedObservation",
		    keys[i]);
		f = plain_image();
		obs = obs_new(CAOM_OBS_SIMPLE);
		is_int(-1, map(obs, f, NULL, bp, &warn, &cause),
		    "%s on a SimpleObservation: refused", keys[i]);
		snprintf(want, sizeof want, "%s: the blueprint sets %s, but TEST/obs1 is a "
		    "SimpleObservation", URI, keys[i]);
		is_string(want, cause, "%s on a SimpleObservation: message", keys[i]);
		ok(obs->members.n == 0 && obs->telescope == NULL,
		    "%s on a SimpleObservation: no members, observation fields not mapped",
		    keys[i]);
		free(cause);
		free(warn);
		caom_observation_free(obs);
		fits_file_free(f);

		f = plain_image();
		obs = obs_new(CAOM_OBS_DERIVED);
		is_int(0, map(obs, f, NULL, bp, &warn, &cause),
		    "%s on a DerivedObservation: maps", keys[i]);
		ok(obs->members.n == 2 && strcmp(obs->members.v[0], "TEST/a") == 0 &&
		    strcmp(obs->members.v[1], "TEST/b") == 0, "%s: members from MEMBERS", keys[i]);
		caom_observation_free(obs);
		blueprint_free(bp);
		fits_file_free(f);
	}
	f = plain_image();
	bp = bp_text("DerivedObservation.members = None\n");
	is_int(CAOM_OBS_SIMPLE, map_observation_kind(bp), "members None: a SimpleObservation");
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "members None: a SimpleObservation maps");
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

/*
 * A FITS file at dir/name: an empty primary HDU and, in HDU 1, a BINTABLE
 * whose column MEMBER holds the nrows rows, or (rows NULL) a 2x2 image.
 */
static char *
write_fits(const char *name, const char *const *rows, long nrows)
{
	char *path = xasprintf("%s/%s", dir, name), *bang = xasprintf("!%s", path);
	char ttype0[] = "MEMBER", tform0[] = "16A", *ttype[] = { ttype0 }, *tform[] = { tform0 };
	long naxes[2] = { 2, 2 };
	short pix[4] = { 0 };
	fitsfile *fp;
	int status = 0;

	fits_create_file(&fp, bang, &status);
	fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
	if (rows != NULL) {
		fits_create_tbl(fp, BINARY_TBL, nrows, 1, ttype, tform, NULL, "MEMBERS", &status);
		fits_write_col_str(fp, 1, 1, 1, nrows, (char **)(uintptr_t)rows, &status);
	} else {
		fits_create_img(fp, SHORT_IMG, 2, naxes, &status);
		fits_write_img(fp, TSHORT, 1, 4, pix, &status);
	}
	fits_close_file(fp, &status);
	if (status != 0)
		bail("cannot write %s: cfitsio status %d", path, status);
	free(bang);
	return path;
}

static struct fits_file *
read_fits(const char *path)
{
	struct fits_file *f = NULL;
	char *cause = NULL;

	if (fits_read(path, &f, &cause) != 0)
		bail("%s", cause);
	return f;
}

/* Does s start with prefix and end with suffix? */
static int
frames(const char *s, const char *prefix, const char *suffix)
{
	size_t n = s != NULL ? strlen(s) : 0, p = strlen(prefix), q = strlen(suffix);

	return s != NULL && n >= p + q && strncmp(s, prefix, p) == 0 &&
	    strcmp(s + n - q, suffix) == 0;
}

/* fits_read_column must fail with want as its cause, handing back no values. */
static void
column_fails(const char *path, const char *want, int exact, const char *what)
{
	static char *sentinel[1];
	char **values = sentinel, *cause = NULL;
	size_t n = 99;

	is_int(-1, fits_read_column(path, 1, "MEMBER", &values, &n, &cause),
	    "%s: fits_read_column fails", what);
	ok(values == NULL && n == 0, "%s: fits_read_column hands back no values", what);
	if (exact)
		is_string(want, cause, "%s: fits_read_column's message", what);
	else
		ok(frames(cause, want, ""), "%s: fits_read_column's message starts '%s'", what,
		    want);
	free(cause);
}

static void
test_members_table(void)
{
	static const char *const rows[] = { "m1", "caom:OTHER/m2" };
	struct blueprint *bp = bp_text("DerivedObservation.members = ('BINTABLE', 'MEMBER', 1)\n");
	struct caom_observation *obs;
	struct fits_file *f;
	const char **many;
	char *path, *want, *warn, *cause;
	long i;

	/* the table read */
	path = write_fits("members.fits", rows, 2);
	f = read_fits(path);
	obs = obs_new(CAOM_OBS_DERIVED);
	is_int(0, map(obs, f, path, bp, &warn, &cause), "members from a BINTABLE: maps");
	ok(obs->members.n == 2 && strcmp(obs->members.v[0], "caom:OTHER/m2") == 0 &&
	    strcmp(obs->members.v[1], "caom:TEST/m1") == 0,
	    "members from a BINTABLE: caom:TEST/m1 (collection added) and caom:OTHER/m2");
	caom_observation_free(obs);
	fits_file_free(f);

	/* the same without the file's bytes */
	f = read_fits(path);
	obs = obs_new(CAOM_OBS_DERIVED);
	is_int(-1, map(obs, f, NULL, bp, &warn, &cause), "members from a table, no path: refused");
	is_string(URI ": DerivedObservation.members comes from a table, but the file's bytes "
	    "are not here", cause, "members from a table, no path: message");
	ok(obs->members.n == 0, "members from a table, no path: no members");
	free(cause);
	caom_observation_free(obs);
	fits_file_free(f);
	free(path);

	/* HDU 1 an image */
	path = write_fits("image.fits", NULL, 0);
	want = xasprintf("%s: HDU 1: not a table (column MEMBER wanted)", path);
	column_fails(path, want, 1, "an image HDU");
	free(want);
	f = read_fits(path);
	obs = obs_new(CAOM_OBS_DERIVED);
	is_int(-1, map(obs, f, path, bp, &warn, &cause), "members from an image HDU: refused");
	want = xasprintf("%s: HDU 1: not a table (column MEMBER wanted) "
	    "(DerivedObservation.members)", path);
	is_string(want, cause, "members from an image HDU: message");
	free(want);
	free(cause);
	caom_observation_free(obs);
	fits_file_free(f);
	free(path);

	/* the file gone once its header is read: cfitsio's text inside map.c's */
	path = write_fits("gone.fits", rows, 2);
	f = read_fits(path);
	if (unlink(path) != 0)
		bail("unlink %s: %s", path, strerror(errno));
	want = xasprintf("%s: HDU 1: could not open the named file", path);
	obs = obs_new(CAOM_OBS_DERIVED);
	is_int(-1, map(obs, f, path, bp, &warn, &cause), "members, file gone: refused");
	ok(frames(cause, want, " (DerivedObservation.members)"),
	    "members, file gone: '%s...' + ' (DerivedObservation.members)'", want);
	diag("members, file gone: %s", cause != NULL ? cause : "(null)");
	free(want);
	free(cause);
	caom_observation_free(obs);
	fits_file_free(f);
	free(path);

	/* a table cut short after 180 of its 400 rows (one 2880-byte block) */
	many = xcalloc(400, sizeof *many);
	for (i = 0; i < 400; i++)
		many[i] = "row";
	path = write_fits("short.fits", many, 400);
	f = read_fits(path);
	if (truncate(path, 2880 * 3) != 0)
		bail("truncate %s: %s", path, strerror(errno));
	want = xasprintf("%s: HDU 1: tried to move past end of file", path);
	column_fails(path, want, 0, "a table cut short");
	obs = obs_new(CAOM_OBS_DERIVED);
	is_int(-1, map(obs, f, path, bp, &warn, &cause), "members, table cut short: refused");
	ok(frames(cause, want, " (DerivedObservation.members)"),
	    "members, table cut short: '%s...' + ' (DerivedObservation.members)'", want);
	diag("members, table cut short: %s", cause != NULL ? cause : "(null)");
	ok(obs->members.n == 0, "members, table cut short: no members");
	free(want);
	free(cause);
	caom_observation_free(obs);
	fits_file_free(f);
	free(path);
	free(many);
	blueprint_free(bp);
}

/* ---- Warnings ---- */

static void
test_warn_number(void)
{
	struct fits_file *f = dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=4",
	    "SEEING='poor'", "HUMID=T", "END", NULL);
	struct blueprint *bp = bp_text("Plane.metrics.background = lots\n"
	    "Artifact.contentLength = big\n"
	    "Observation.environment.seeing = ['SEEING']\n"
	    "Observation.environment.humidity = ['HUMID']\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_plane *pl;
	char *warn, *cause;

	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "numbers: maps despite bad numbers");
	is_string(FILE_ ": HDU 0: Plane.metrics.background: 'lots' is not a number (ignored)\n"
	    FILE_ ": HDU 0: Artifact.contentLength: 'big' is not a number (ignored)\n"
	    FILE_ ": HDU 0: Observation.environment.seeing: 'poor' is not a number (ignored)\n"
	    FILE_ ": HDU 0: Observation.environment.humidity: 'True' is not a number (ignored)",
	    warn, "numbers: one line each (a literal, a string, a logical), naming the file");
	pl = caom_observation_find_plane(obs, "p1");
	ok(pl != NULL && pl->metrics == NULL, "numbers: no metrics");
	ok(artifact(obs) != NULL && !artifact(obs)->has_content_length,
	    "numbers: no content length");
	ok(obs->environment == NULL, "numbers: no environment");
	free(warn);
	caom_observation_free(obs);

	/* the same with no *warnings: they are dropped */
	fits_file_free(f);
	f = dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=4", "SEEING='poor'",
	    "HUMID=T", "END", NULL);
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(0, map(obs, f, NULL, bp, NULL, &cause), "numbers: warnings NULL: maps");
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

static void
test_warn_integer(void)
{
	struct fits_file *f = dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=4",
	    "SEQNUM=1.5", "END", NULL);
	struct blueprint *bp = bp_text("Observation.sequenceNumber = ['SEQNUM']\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	char *warn, *cause;

	obs->sequence_number = 4;
	obs->has_sequence_number = 1;
	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "sequenceNumber 1.5: maps");
	is_string(FILE_ ": HDU 0: Observation.sequenceNumber: '1.5' is not an integer (ignored)",
	    warn, "sequenceNumber 1.5: message");
	ok(!obs->has_sequence_number, "sequenceNumber 1.5: no sequence number (not kept)");
	free(warn);
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

static void
test_warn_date(void)
{
	struct fits_file *f = dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=4",
	    "RELEASE='soon'", "CRELEASE=20200101", "DATE-OBS='2020-01-02T03:04:05'", "END", NULL);
	struct blueprint *bp = bp_text("Artifact.contentRelease = ['CRELEASE']\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_plane *pl;
	char *warn, *cause;

	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "dates: maps");
	is_string(FILE_ ": HDU 0: Plane.metaRelease: 'soon' is not a date (ignored)\n"
	    FILE_ ": HDU 0: Plane.dataRelease: 'soon' is not a date (ignored)\n"
	    FILE_ ": HDU 0: Artifact.contentRelease: '20200101' is not a date (ignored)", warn,
	    "dates: RELEASE (default blueprint, both releases) and an integer");
	pl = caom_observation_find_plane(obs, "p1");
	ok(pl != NULL && !pl->has_meta_release && !pl->has_data_release,
	    "dates: no plane releases");
	ok(artifact(obs) != NULL && !artifact(obs)->has_content_release,
	    "dates: no content release");
	is_int(1577934245000LL, obs->has_meta_release ? obs->meta_release : -1,
	    "dates: a good one is read (DATE-OBS)");
	free(warn);
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);

	f = dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=4",
	    "DATE-OBS='yesterday'", "END", NULL);
	bp = bp_text("");
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "DATE-OBS yesterday: maps");
	is_string(FILE_ ": HDU 0: Observation.metaRelease: 'yesterday' is not a date (ignored)",
	    warn, "DATE-OBS yesterday: one warning");
	ok(!obs->has_meta_release, "DATE-OBS yesterday: no metaRelease");
	free(warn);
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

/* Two HDUs: no data in 0, an RA---TAN/DEC--TAN image in 1. */
static struct fits_file *
two_hdus(const char *ctype2)
{
	return dump("SIMPLE=T", "BITPIX=8", "NAXIS=0", "END",
	    "XTENSION='IMAGE'", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=6", "PCOUNT=0",
	    "GCOUNT=1", "CTYPE1='RA---TAN'", ctype2, "CRPIX1=2.0", "CRPIX2=3.0",
	    "CRVAL1=10.0", "CRVAL2=20.0", "CD1_1=0.001", "CD1_2=0.0", "CD2_1=0.0",
	    "CD2_2=0.001", "END", NULL);
}

static void
test_warn_extension(void)
{
	struct fits_file *f = two_hdus("CTYPE2='DEC--TAN'");
	struct blueprint *bp = bp_text("extension 2:\nChunk.position.resolution = 0.5\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_chunk *ch;
	char *warn, *cause;

	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "extension 2 of 2 HDUs: maps");
	is_string(FILE_ ": the blueprint configures extension 2, the file has 2 HDUs", warn,
	    "extension 2 of 2 HDUs: message");
	ch = chunk(obs, "1");
	ok(ch != NULL && ch->position != NULL && !ch->position->has_resolution,
	    "extension 2 of 2 HDUs: HDU 1 has a position, without the resolution");
	free(warn);
	caom_observation_free(obs);
	blueprint_free(bp);

	fits_file_free(f);
	f = two_hdus("CTYPE2='DEC--TAN'");
	bp = bp_text("extension 1:\nChunk.position.resolution = 0.5\n");
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "extension 1 of 2 HDUs: maps");
	is_string(NULL, warn, "extension 1 of 2 HDUs: no warning");
	ch = chunk(obs, "1");
	is_double(0.5, ch && ch->position && ch->position->has_resolution ?
	    ch->position->resolution : 0, 1e-12, "extension 1 of 2 HDUs: HDU 1's resolution");
	ok(artifact(obs) && caom_artifact_find_part(artifact(obs), "0") &&
	    caom_artifact_find_part(artifact(obs), "0")->nchunks == 0,
	    "extension 1 of 2 HDUs: HDU 0 (no data): a part without chunks");
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

static void
test_warn_one_position(void)
{
	struct fits_file *f = two_hdus("CTYPE2='FREQ'");
	struct blueprint *bp = bp_text("");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_chunk *ch;
	char *warn, *cause;

	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "RA without DEC: maps");
	is_string(FILE_ ": HDU 1: only one position axis (ra/dec) in the WCS; no position", warn,
	    "RA without DEC: message names HDU 1");
	ch = chunk(obs, "1");
	ok(ch != NULL && ch->position == NULL && !ch->has_position_axis1 &&
	    !ch->has_position_axis2, "RA without DEC: no position, no position axes");
	free(warn);
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

/*
 * Axes from the blueprint (in HDU 1): an energy range and function, an
 * observable. The blueprint's values of standard WCS keys go into the
 * header first (CRPIX3, CDELT3, NAXIS3...), and an energy axis the WCS
 * gives with a function is not taken from the blueprint; so the energy
 * type comes from the default of a keyword the header lacks (defaults are
 * written after the standard keys, BANDTYPE only): the WCS has no CTYPE3.
 */
#define ENERGY_CTYPE "Chunk.energy.axis.axis.ctype = ['BANDTYPE'], default = WAVE\n"

static struct fits_file *
spectrum(void)
{
	return dump("SIMPLE=T", "BITPIX=8", "NAXIS=0", "END",
	    "XTENSION='IMAGE'", "BITPIX=16", "NAXIS=1", "NAXIS1=8", "PCOUNT=0", "GCOUNT=1",
	    "END", NULL);
}

static void
test_warn_chunk(void)
{
	struct fits_file *f = spectrum();
	struct blueprint *bp = bp_text(ENERGY_CTYPE
	    "Chunk.energy.axis.range.start.pix = left\n"
	    "Chunk.energy.axis.range.start.val = 1\n"
	    "Chunk.energy.axis.function.refCoord.pix = 1\n"
	    "Chunk.energy.axis.function.refCoord.val = 5e-7\n"
	    "Chunk.energy.axis.function.delta = wide\n"
	    "Chunk.energy.axis.function.naxis = 8\n"
	    "Chunk.observable.dependent.axis.ctype = flux\n"
	    "Chunk.observable.dependent.axis.cunit = Jy\n"
	    "Chunk.observable.dependent.bin = many\n");
	struct blueprint *good = bp_text(ENERGY_CTYPE
	    "Chunk.energyAxis = 1\n"
	    "Chunk.energy.axis.function.refCoord.pix = 1\n"
	    "Chunk.energy.axis.function.refCoord.val = 5e-7\n"
	    "Chunk.energy.axis.function.delta = 1e-9\n"
	    "Chunk.energy.axis.function.naxis = 8\n"
	    "Chunk.observable.dependent.axis.ctype = flux\n"
	    "Chunk.observable.dependent.axis.cunit = Jy\n"
	    "Chunk.observable.dependent.bin = 2\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_chunk *ch;
	char *warn, *cause;

	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "blueprint axes, bad numbers: maps");
	is_string(FILE_ ": HDU 1: Chunk.energy.axis.range.start.pix: 'left' is not a number "
	    "(ignored)\n"
	    FILE_ ": HDU 1: Chunk.energy.axis.function.delta: 'wide' is not a number (ignored)\n"
	    FILE_ ": HDU 1: Chunk.observable.dependent.bin: 'many' is not an integer (ignored)",
	    warn, "blueprint axes, bad numbers: range, delta, bin, in HDU 1");
	ch = chunk(obs, "1");
	ok(ch != NULL && ch->energy != NULL && ch->energy->axis.axis.ctype != NULL &&
	    strcmp(ch->energy->axis.axis.ctype, "WAVE") == 0 && ch->energy->axis.range == NULL &&
	    ch->energy->axis.function == NULL && !ch->has_energy_axis,
	    "blueprint axes, bad numbers: an energy axis WAVE, no range, no function, no index");
	ok(ch != NULL && ch->observable == NULL, "blueprint axes, bad numbers: no observable");
	free(warn);
	caom_observation_free(obs);

	/* the mapping wrote into the header (BANDTYPE = 'WAVE' now): a new one */
	fits_file_free(f);
	f = spectrum();
	obs = obs_new(CAOM_OBS_SIMPLE);
	is_int(0, map(obs, f, NULL, good, &warn, &cause), "blueprint axes, good numbers: maps");
	is_string(NULL, warn, "blueprint axes, good numbers: no warnings");
	ch = chunk(obs, "1");
	ok(ch != NULL && ch->energy != NULL && ch->energy->axis.function != NULL &&
	    ch->energy->axis.function->naxis == 8 && ch->energy->axis.function->delta == 1e-9 &&
	    ch->energy->axis.function->ref_coord.val == 5e-7,
	    "blueprint axes, good numbers: the energy function (8 pixels, 1e-9, 5e-7 at 1)");
	is_string("WAVE", ch && ch->energy ? ch->energy->axis.axis.ctype : NULL,
	    "blueprint axes, good numbers: energy ctype WAVE (the default)");
	is_int(1, ch && ch->has_energy_axis ? ch->energy_axis : -1,
	    "blueprint axes, good numbers: Chunk.energyAxis 1");
	ok(ch != NULL && ch->observable != NULL && ch->observable->dependent.bin == 2 &&
	    strcmp(ch->observable->dependent.axis.ctype, "flux") == 0,
	    "blueprint axes, good numbers: the observable (flux, bin 2)");
	caom_observation_free(obs);
	blueprint_free(good);
	blueprint_free(bp);
	fits_file_free(f);
}

/*
 * No position key, time on WCS axis 1 and the observable on 2 (DAO's sky
 * camera): the blueprint loads without position, and the chunk has time
 * and observable on their axes, no position and no position axes.
 */
static void
test_no_position(void)
{
	struct fits_file *f = dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=1292",
	    "NAXIS2=964", "EXPTIME=5.0", NULL);
	struct blueprint *bp = bp_text(
	    "Chunk.time.axis.axis.ctype = ['CTYPE1'], default = TIME\n"
	    "Chunk.time.axis.axis.cunit = d\n"
	    "Chunk.time.axis.function.naxis = 1\n"
	    "Chunk.time.axis.function.delta = 5.787037037037037e-05\n"
	    "Chunk.time.axis.function.refCoord.pix = 0.5\n"
	    "Chunk.time.axis.function.refCoord.val = 59017.2916796875\n"
	    "Chunk.observable.axis.axis.ctype = ['CTYPE2'], default = FLUX\n"
	    "Chunk.observable.axis.axis.cunit = COUNTS\n"
	    "Chunk.observable.axis.function.refCoord.pix = 1\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_chunk *ch;
	char *warn, *cause;

	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "no position key, time on 1: maps");
	is_string(NULL, warn, "no position key, time on 1: no warnings");
	ch = chunk(obs, "0");
	ok(ch != NULL && ch->position == NULL && !ch->has_position_axis1 &&
	    !ch->has_position_axis2, "no position key: no position, no position axes");
	is_int(2, ch && ch->has_naxis ? ch->naxis : -1, "no position key: naxis 2");
	is_int(1, ch && ch->has_time_axis ? ch->time_axis : -1, "no position key: timeAxis 1");
	is_int(2, ch && ch->has_observable_axis ? ch->observable_axis : -1,
	    "no position key: observableAxis 2");
	ok(ch && ch->time && ch->time->axis.function && ch->time->axis.function->naxis == 1 &&
	    ch->time->axis.function->ref_coord.val == 59017.2916796875 &&
	    strcmp(ch->time->axis.axis.ctype, "TIME") == 0,
	    "no position key: the time function from the blueprint (TIME, 1 pixel)");
	ok(ch && ch->observable && strcmp(ch->observable->dependent.axis.ctype, "FLUX") == 0 &&
	    ch->observable->dependent.bin == 1, "no position key: the observable (FLUX, bin 1)");
	free(warn);
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

/*
 * A WCS axis whose NAXISn is absent is left out (axis_length -1), without a
 * message; the blueprint's ctype alone then gives an axis without function
 * and without index.
 */
static void
test_axis_length(void)
{
	struct fits_file *f = dump("SIMPLE=T", "BITPIX=16", "NAXIS=2", "NAXIS1=4", "NAXIS2=4",
	    "CTYPE1='RA---TAN'", "CTYPE2='DEC--TAN'", "CTYPE3='FREQ'", "CRVAL3=1.0E9",
	    "CDELT3=1.0E6", "CRPIX3=1.0", "END", NULL);
	struct blueprint *bp = bp_text("Chunk.energy.axis.axis.ctype = ['CTYPE3']\n");
	struct caom_observation *obs = obs_new(CAOM_OBS_SIMPLE);
	struct caom_chunk *ch;
	char *warn, *cause;

	is_int(0, map(obs, f, NULL, bp, &warn, &cause), "CTYPE3 without NAXIS3: maps");
	is_string(NULL, warn, "CTYPE3 without NAXIS3: no warning");
	ch = chunk(obs, "0");
	ok(ch != NULL && ch->energy != NULL && ch->energy->axis.function == NULL &&
	    !ch->has_energy_axis, "CTYPE3 without NAXIS3: no energy function, no energy axis");
	is_string("FREQ", ch && ch->energy ? ch->energy->axis.axis.ctype : NULL,
	    "CTYPE3 without NAXIS3: the blueprint's ctype (CTYPE3) kept");
	ok(ch != NULL && ch->position != NULL && ch->has_position_axis1,
	    "CTYPE3 without NAXIS3: the position is there");
	caom_observation_free(obs);
	blueprint_free(bp);
	fits_file_free(f);
}

int
main(void)
{
	plan(139);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	test_success();
	test_no_axis();
	test_plane_required();
	test_members_simple();
	test_members_table();
	test_warn_number();
	test_warn_integer();
	test_warn_date();
	test_warn_extension();
	test_warn_one_position();
	test_warn_chunk();
	test_axis_length();
	test_no_position();
	{
		char *cmd = xasprintf("rm -rf %s", dir);

		if (system(cmd) != 0)
			diag("cleanup failed");
		free(cmd);
	}
	return 0;
}
