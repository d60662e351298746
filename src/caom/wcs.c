/*
 * wcs.c - one HDU's WCS as CAOM-2 chunk axes (see wcs.h).
 *
 * Each function corresponds to the reference's FitsWcsParser method for
 * the axis (augment_position, augment_energy, ...); the rules about which
 * values are kept are the reference's, because the output must equal what
 * the reference tools write.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wcslib/wcs.h>
#include <wcslib/wcsfix.h>
#include <wcslib/wcshdr.h>
#include <wcslib/wcsmath.h>

#include "caom/caom.h"
#include "caom/fits.h"
#include "caom/numfmt.h"
#include "caom/wcs.h"
#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

struct wcs_map {
	struct wcsprm		*all;
	int			 nwcs;
	struct wcsprm		*w;		/* the primary description */
	const struct fits_hdu	*h;
	const char		*path;
};

/* ---- parsing ---- */

/*
 * Keywords wcspih may use; the rest of a header is not worth rendering: its
 * flex scanner costs about a microsecond per record. The prefixes follow the
 * rules of wcspih.l; keys that merely share a prefix with them and that
 * wcspih discards (NAXISn, PCOUNT, DATE, MJDATE, ZNAXISn...) are left out.
 */
static int
wcspih_keyword(const char *k)
{
	static const char *const prefixes[] = {
		"WCS", "CRPIX", "CDELT", "CROTA", "CUNIT", "CTYPE", "CRVAL", "LONPOLE",
		"LATPOLE", "RESTFR", "RESTWAV", "PV", "PS", "PROJP", "CNAME", "CRDER", "CSYER",
		"CZPHS", "CPERI", "TIME", "TREF", "PLEPHEM", "TELAPSE", "MJD-", "MJDREF", "JD",
		"DATE-", "DATEREF", "TSTART", "TSTOP", "BEPOCH", "JEPOCH", "EQUINOX", "EPOCH",
		"RADE", "SPECSYS", "SSYS", "VELO", "VELREF", "ZSOURCE", "VELANGL", "OBSGEO",
		"VSOURCE", "XPOSURE",
	};
	size_t i;

	if (isdigit((unsigned char)k[0]))
		return 1;
	/* most cards fail here: no prefix starts with another letter */
	if (k[0] == '\0' || strchr("WCPLRTMJDBESVZOXN", k[0]) == NULL)
		return 0;
	if (strcmp(k, "NAXIS") == 0)
		return 1;
	/* PCi_ja, CDi_ja (not PCOUNT, CDELT is above) */
	if ((k[0] == 'P' && k[1] == 'C') || (k[0] == 'C' && k[1] == 'D'))
		return isdigit((unsigned char)k[2]) || strncmp(k, "CDELT", 5) == 0;
	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		if (prefixes[i][0] == k[0] && strncmp(k, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	}
	return 0;
}

/* The WCS cards of h as 80-column records (see fits_hdu_records); *n receives their count. */
static char *
wcspih_records(const struct fits_hdu *h, int *n)
{
	struct fits_hdu sub;
	char *rec;
	size_t c;

	memset(&sub, 0, sizeof sub);
	sub.cards = xcalloc(h->ncards + 1, sizeof *sub.cards);
	for (c = 0; c < h->ncards; c++) {
		if (wcspih_keyword(h->cards[c].key))
			sub.cards[sub.ncards++] = h->cards[c];
	}
	rec = fits_hdu_records(&sub, n);
	free(sub.cards);
	return rec;
}

/* The description without an alternate letter, fixed as wcsfix does; NULL when none. */
static struct wcsprm *
wcs_map_primary(struct wcsprm *all, int nwcs)
{
	struct wcserr info[NWCSFIX];
	int stat[NWCSFIX], i, j;

	for (i = 0; i < nwcs; i++) {
		if (all[i].alt[0] == ' ' || all[i].alt[0] == '\0')
			break;
	}
	if (i == nwcs)
		return NULL;
	memset(info, 0, sizeof info);
	wcsfixi(0, NULL, &all[i], stat, info);
	for (j = 0; j < NWCSFIX; j++)
		free(info[j].msg);
	return &all[i];
}

struct wcs_map *
wcs_map_open(const struct fits_hdu *hdu, const char *path)
{
	struct wcs_map *w;
	char *rec;
	int n = 0, nreject = 0;

	if (hdu == NULL)
		return NULL;
	w = xcalloc(1, sizeof *w);
	w->h = hdu;
	w->path = path;
	rec = wcspih_records(hdu, &n);
	if (n == 0 || wcspih(rec, n, WCSHDR_all, 0, &nreject, &w->nwcs, &w->all) != 0) {
		free(rec);
		free(w);
		return NULL;
	}
	free(rec);
	if ((w->w = wcs_map_primary(w->all, w->nwcs)) == NULL) {
		wcs_map_close(w);
		return NULL;
	}
	return w;
}

void
wcs_map_close(struct wcs_map *w)
{
	if (w == NULL)
		return;
	if (w->all != NULL)
		wcsvfree(&w->nwcs, &w->all);
	free(w);
}

/* ---- axes ---- */

static const char *const ra_types[] = { "RA", "GLON", "ELON", "HLON", "SLON", NULL };
static const char *const dec_types[] = { "DEC", "GLAT", "ELAT", "HLAT", "SLAT", NULL };
static const char *const energy_types[] = { "FREQ", "ENER", "WAVN", "VRAD", "WAVE", "VOPT",
	"ZOPT", "AWAV", "VELO", "BETA", NULL };
static const char *const time_types[] = { "TIME", "TAI", "TT", "TDT", "ET", "IAT", "UT1",
	"UTC", "GMT", "GPS", "TCG", "TCB", "TDB", "LOCAL", NULL };
static const char *const pol_types[] = { "STOKES", NULL };
static const char *const obs_types[] = { "observable", "FLUX", NULL };
static const char *const custom_types[] = { "RM", "FDEP", NULL };

/* Is ctype's type (what precedes the first '-') one of list? */
static int
ctype_in(const char *ctype, const char *const *list)
{
	size_t n = strcspn(ctype, "-"), i;

	for (i = 0; list[i] != NULL; i++) {
		if (n > 0 && strlen(list[i]) == n && strncmp(ctype, list[i], n) == 0)
			return 1;
		if (n == 0 && strcmp(ctype, list[i]) == 0)
			return 1;
	}
	return 0;
}

/* _get_axis_index: the first WCS axis of one of these types, or -1. */
static int
axis_index(const struct wcs_map *w, const char *const *types)
{
	int i;

	for (i = 0; i < w->w->naxis; i++) {
		if (ctype_in(w->w->ctype[i], types))
			return i;
	}
	return -1;
}

/* FitsWcsParser._get_axis_length: ZNAXISn, else NAXISn; -1 when neither. */
static long long
axis_length(const struct wcs_map *w, int axis1)
{
	struct fits_hval v;
	char k[24];

	snprintf(k, sizeof k, "ZNAXIS%d", axis1);
	if (fits_hdu_typed(w->h, k, &v) != 0 || (v.t == FITS_H_STR && v.s[0] == '\0')) {
		snprintf(k, sizeof k, "NAXIS%d", axis1);
		if (fits_hdu_typed(w->h, k, &v) != 0 || (v.t == FITS_H_STR && v.s[0] == '\0'))
			return -1;
	}
	if (v.t == FITS_H_INT)
		return v.i;
	if (v.t == FITS_H_FLOAT)
		return numfmt_ll(v.d);
	if (v.t == FITS_H_STR)
		return strtoll(v.s, NULL, 10);
	return -1;
}

/* astropy's str(Unit): "m/s" is written "m / s". */
static char *
unit_str(const char *u)
{
	char *out = xmalloc(strlen(u) * 3 + 1), *p = out;

	if (u[0] == '\0') {
		free(out);
		return NULL;
	}
	for (; *u != '\0'; u++) {
		if (*u == '/' && p > out && p[-1] != ' ') {
			strcpy(p, " / ");
			p += 3;
		} else
			*p++ = *u;
	}
	*p = '\0';
	return out;
}

static void
axis_set(struct caom_axis *a, const char *ctype, const char *cunit)
{
	free(a->ctype);
	free(a->cunit);
	a->ctype = xstrdup(ctype);
	a->cunit = cunit != NULL ? unit_str(cunit) : NULL;
}

/* A value wcslib read (neither its UNDEFINED marker nor NaN). */
static int
defined(double v)
{
	return !undefined(v) && !isnan(v);
}

static struct caom_coord_error *
coord_error(const struct wcs_map *w, int i)
{
	struct caom_coord_error *e;

	if (w->w->csyer == NULL || w->w->crder == NULL || undefined(w->w->csyer[i]) ||
	    undefined(w->w->crder[i]) || isnan(w->w->csyer[i]) || isnan(w->w->crder[i]))
		return NULL;
	e = caom_coord_error_new();
	e->syser = w->w->csyer[i];
	e->has_syser = 1;
	e->rnder = w->w->crder[i];
	e->has_rnder = 1;
	return e;
}

static int
has_cd(const struct wcs_map *w)
{
	return (w->w->altlin & 2) != 0;
}

static double
cd_at(const struct wcs_map *w, int r, int c)
{
	return w->w->cd[r * w->w->naxis + c];
}

static double
delta_of(const struct wcs_map *w, int i)
{
	return has_cd(w) ? cd_at(w, i, i) : w->w->cdelt[i];
}

/* A CoordAxis1D from WCS axis i: axis, error, and a function when delta != 0 (or always). */
static void
axis1d_from_wcs(const struct wcs_map *w, int i, long long length, int errors, int always,
    struct caom_coord_axis1d *a)
{
	double delta = delta_of(w, i);

	caom_coord_axis1d_clear(a);
	axis_set(&a->axis, w->w->ctype[i], w->w->cunit[i]);
	if (errors)
		a->error = coord_error(w, i);
	if (delta != 0 || always) {
		a->function = caom_coord_function1d_new();
		a->function->naxis = length;
		a->function->delta = delta;
		a->function->ref_coord.pix = w->w->crpix[i];
		a->function->ref_coord.val = w->w->crval[i];
	}
}

/* ---- position ---- */

/* The CoordFunction2D of axes x and y (n1 by n2 pixels). */
static struct caom_coord_function2d *
position_function(const struct wcs_map *w, int x, int y, long long n1, long long n2)
{
	struct caom_coord_function2d *f = caom_coord_function2d_new();

	f->dimension.naxis1 = n1;
	f->dimension.naxis2 = n2;
	f->ref_coord.coord1.pix = w->w->crpix[x];
	f->ref_coord.coord1.val = w->w->crval[x];
	f->ref_coord.coord2.pix = w->w->crpix[y];
	f->ref_coord.coord2.val = w->w->crval[y];
	if (has_cd(w)) {
		f->cd11 = cd_at(w, x, x);
		f->cd12 = cd_at(w, x, y);
		f->cd21 = cd_at(w, y, x);
		f->cd22 = cd_at(w, y, y);
	} else {
		f->cd11 = w->w->cdelt[x];
		f->cd12 = w->w->crota[x];
		f->cd21 = w->w->crota[y];
		f->cd22 = w->w->cdelt[y];
	}
	f->has_cd11 = f->has_cd12 = 1;
	f->has_cd21 = f->has_cd22 = 1;
	return f;
}

/* RADESYS and EQUINOX into p. */
static void
position_frame(const struct wcs_map *w, struct caom_spatial_wcs *p)
{
	free(p->coordsys);
	p->coordsys = w->w->radesys[0] != '\0' ? xstrdup(w->w->radesys) : NULL;
	if (undefined(w->w->equinox) || isnan(w->w->equinox))
		p->has_equinox = 0;
	else if (w->w->equinox >= 1800 && w->w->equinox <= 2500) {
		p->equinox = w->w->equinox;
		p->has_equinox = 1;
	}
}

void
wcs_map_position(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn)
{
	struct caom_coord_axis2d *a;
	long long n1, n2;
	int x = axis_index(w, ra_types), y = axis_index(w, dec_types);

	if (x < 0 && y < 0)
		return;
	if (x < 0 || y < 0) {
		msgbuf_add(warn, "%s: HDU %d: only one position axis (ra/dec) in the WCS; no "
		    "position", w->path, w->h->index);
		return;
	}
	ch->position_axis1 = x + 1;
	ch->position_axis2 = y + 1;
	ch->has_position_axis1 = ch->has_position_axis2 = 1;
	n1 = axis_length(w, x + 1);
	n2 = axis_length(w, y + 1);
	if (n1 <= 0 || n2 <= 0)
		return;
	if (ch->position == NULL)
		ch->position = caom_spatial_wcs_new();
	a = &ch->position->axis;
	caom_coord_axis2d_clear(a);
	axis_set(&a->axis1, w->w->ctype[x], w->w->cunit[x]);
	axis_set(&a->axis2, w->w->ctype[y], w->w->cunit[y]);
	a->error1 = coord_error(w, x);
	a->error2 = coord_error(w, y);
	/* without a CD matrix the reference reads CROTA, which astropy refuses when absent */
	if (has_cd(w) || (w->w->altlin & 4))
		a->function = position_function(w, x, y, n1, n2);
	position_frame(w, ch->position);
}

/* ---- energy ---- */

/* The spectral reference values (specsys, rest frequency, velocities...) into e. */
static void
energy_frame(const struct wcs_map *w, struct caom_spectral_wcs *e)
{
	free(e->specsys);
	e->specsys = xstrdup(w->w->specsys);
	free(e->ssysobs);
	e->ssysobs = w->w->ssysobs[0] != '\0' ? xstrdup(w->w->ssysobs) : NULL;
	if (defined(w->w->restfrq) && w->w->restfrq != 0) {
		e->restfrq = w->w->restfrq;
		e->has_restfrq = 1;
	}
	if (defined(w->w->restwav) && w->w->restwav != 0) {
		e->restwav = w->w->restwav;
		e->has_restwav = 1;
	}
	e->has_velosys = defined(w->w->velosys);
	e->velosys = w->w->velosys;
	e->has_zsource = defined(w->w->zsource);
	e->zsource = w->w->zsource;
	free(e->ssyssrc);
	e->ssyssrc = w->w->ssyssrc[0] != '\0' ? xstrdup(w->w->ssyssrc) : NULL;
	e->has_velang = defined(w->w->velangl);
	e->velang = w->w->velangl;
}

void
wcs_map_energy(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn)
{
	long long n;
	int i = axis_index(w, energy_types);

	(void)warn;
	if (i < 0 || (n = axis_length(w, i + 1)) < 0 || n == 0)
		return;
	ch->energy_axis = i + 1;
	ch->has_energy_axis = 1;
	if (ch->energy == NULL)
		ch->energy = caom_spectral_wcs_new();
	axis1d_from_wcs(w, i, n, 1, 0, &ch->energy->axis);
	energy_frame(w, ch->energy);
}

/* ---- time ---- */

/* A numeric header value (a number, or text that is one) into *field; *has says whether. */
static void
typed_double(const struct fits_hdu *h, const char *kw, double *field, int *has)
{
	struct fits_hval v;

	*has = 0;
	if (fits_hdu_typed(h, kw, &v) != 0)
		return;
	if (v.t == FITS_H_FLOAT || v.t == FITS_H_INT) {
		*field = v.d;
		*has = 1;
	} else if (v.t == FITS_H_STR && fits_parse_double(v.s, field) == 0)
		*has = 1;
}

/* _finish_chunk_time: the values the reference reads from the header itself. */
static void
time_frame(const struct fits_hdu *h, struct caom_temporal_wcs *t)
{
	struct fits_hval v;
	char buf[40];

	typed_double(h, "EXPTIME", &t->exposure, &t->has_exposure);
	typed_double(h, "TIMEDEL", &t->resolution, &t->has_resolution);
	free(t->timesys);
	t->timesys = xstrdup(fits_hdu_typed(h, "TIMESYS", &v) == 0 ? fits_hval_str(&v, buf) :
	    "UTC");
	free(t->trefpos);
	t->trefpos = fits_hdu_typed(h, "TREFPOS", &v) == 0 ? xstrdup(fits_hval_str(&v, buf)) :
	    NULL;
	typed_double(h, fits_hdu_find(h, "MJDREF") ? "MJDREF" : "MJDDATE", &t->mjdref,
	    &t->has_mjdref);
}

void
wcs_map_time(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn)
{
	long long n;
	int i = axis_index(w, time_types);

	(void)warn;
	if (i < 0)
		return;
	ch->time_axis = i + 1;
	ch->has_time_axis = 1;
	if ((n = axis_length(w, i + 1)) <= 0)
		return;
	if (ch->time == NULL)
		ch->time = caom_temporal_wcs_new();
	axis1d_from_wcs(w, i, n, 1, 1, &ch->time->axis);
	time_frame(w->h, ch->time);
}

/* ---- polarization, custom, observable ---- */

void
wcs_map_polarization(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn)
{
	long long n;
	int i = axis_index(w, pol_types);

	(void)warn;
	if (i < 0 || (n = axis_length(w, i + 1)) <= 0)
		return;
	ch->polarization_axis = i + 1;
	ch->has_polarization_axis = 1;
	if (ch->polarization == NULL)
		ch->polarization = caom_polarization_wcs_new();
	axis1d_from_wcs(w, i, n, 0, 0, &ch->polarization->axis);
}

void
wcs_map_custom(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn)
{
	long long n;
	int i = axis_index(w, custom_types);

	(void)warn;
	if (i < 0 || (n = axis_length(w, i + 1)) <= 0)
		return;
	ch->custom_axis = i + 1;
	ch->has_custom_axis = 1;
	if (ch->custom == NULL)
		ch->custom = caom_custom_wcs_new();
	axis1d_from_wcs(w, i, n, 0, 0, &ch->custom->axis);
}

void
wcs_map_observable(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn)
{
	struct caom_axis *dep;
	struct fits_hval ct, cu, px;
	char k[3][24], b1[40], b2[40];
	int i = axis_index(w, obs_types);

	(void)warn;
	if (i < 0)
		return;
	ch->observable_axis = i + 1;
	ch->has_observable_axis = 1;
	snprintf(k[0], sizeof k[0], "CTYPE%d", i + 1);
	snprintf(k[1], sizeof k[1], "CUNIT%d", i + 1);
	snprintf(k[2], sizeof k[2], "CRPIX%d", i + 1);
	if (fits_hdu_typed(w->h, k[0], &ct) != 0 || fits_hdu_typed(w->h, k[1], &cu) != 0 ||
	    fits_hdu_typed(w->h, k[2], &px) != 0)
		return;
	if (ch->observable == NULL)
		ch->observable = caom_observable_axis_new();
	dep = &ch->observable->dependent.axis;
	free(dep->ctype);
	free(dep->cunit);
	dep->ctype = xstrdup(fits_hval_str(&ct, b1));
	dep->cunit = xstrdup(fits_hval_str(&cu, b2));
	ch->observable->dependent.bin = px.t == FITS_H_STR ? strtoll(px.s, NULL, 10) :
	    numfmt_ll(px.d);
}
