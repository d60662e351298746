/*
 * preview_read.c - the pixels of the HDU a preview is made of (see
 * preview.h): the HDU chosen, its length-1 axes squeezed, the first plane of
 * a cube, read with cfitsio in strips (a deadline checked between them) and
 * with a stride when the image is much larger than the output; a spectrum's
 * points with their WCS spectral coordinate (wcslib).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>
#include <wcslib/wcs.h>

#include "caom/preview_int.h"
#include "lib/xmalloc.h"

#define RD_AXES		9		/* axes an HDU may have */
#define RD_STRIP	(1L << 18)	/* values read per call */
#define RD_GZIP_MAX	(1ULL << 30)	/* a gzipped file cfitsio uncompresses in memory */
#define RD_SPATIAL_MAX	4096		/* rows averaged into a 2-D spectrum, at most */
#define RD_ROWS_STRIDE	4		/* whole rows read up to this stride */

/* The chosen HDU of an open file. */
struct rd_hdu {
	fitsfile	*fp;
	const char	*path;
	int		 index;
	int		 bitpix;
	int		 naxis;
	long		 naxes[RD_AXES];
	int		 ax[2];		/* the first two axes longer than 1; -1: none */
	int		 ndim;		/* axes longer than 1 */
	int		 compressed;	/* a tile-compressed image */
};

void
preview_deadline_start(struct preview_deadline *dl, uint64_t ms)
{
	memset(dl, 0, sizeof *dl);
	if (ms == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &dl->end);
	dl->end.tv_sec += (time_t)(ms / 1000);
	dl->end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl->end.tv_nsec >= 1000000000L) {
		dl->end.tv_sec++;
		dl->end.tv_nsec -= 1000000000L;
	}
	dl->ms = ms;
	dl->set = 1;
}

int
preview_expired(const struct preview_deadline *dl)
{
	struct timespec now;

	if (!dl->set)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > dl->end.tv_sec ||
	    (now.tv_sec == dl->end.tv_sec && now.tv_nsec >= dl->end.tv_nsec);
}

static char *
rd_error(const char *path, int hdu, int status)
{
	char text[FLEN_STATUS];

	fits_get_errstatus(status, text);
	if (hdu < 0)
		return xasprintf("%s: cfitsio: %s (status %d)", path, text, status);
	return xasprintf("%s: HDU %d: cfitsio: %s (status %d)", path, hdu, text, status);
}

static char *
rd_timeout(const char *path, const struct preview_deadline *dl)
{
	return xasprintf("%s: preview timed out after %llu ms", path, (unsigned long long)dl->ms);
}

/* The uncompressed size a gzip file's trailer states (mod 2^32), or 0. */
static unsigned long long
rd_gzip_size(FILE *fp)
{
	unsigned char t[4];

	if (fseek(fp, -4, SEEK_END) != 0 || fread(t, 1, 4, fp) != 4)
		return 0;
	return (unsigned long long)t[0] | (unsigned long long)t[1] << 8 |
	    (unsigned long long)t[2] << 16 | (unsigned long long)t[3] << 24;
}

/* Open path: gzip through cfitsio's file driver (uncompressed in memory, so
 * bounded), anything else as the raw disk file (no extended file names). */
static int
rd_open(const char *path, fitsfile **fp, char **cause)
{
	unsigned char head[2];
	unsigned long long size = 0;
	int status = 0, gz;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	gz = fread(head, 1, 2, f) == 2 && head[0] == 0x1f && head[1] == 0x8b;
	if (gz)
		size = rd_gzip_size(f);
	fclose(f);
	if (gz && size > RD_GZIP_MAX) {
		*cause = xasprintf("%s: gzipped file of %llu bytes uncompressed: too large for a "
		    "preview", path, size);
		return -1;
	}
	if ((gz ? fits_open_file(fp, path, READONLY, &status) :
	    fits_open_diskfile(fp, path, READONLY, &status)) != 0) {
		*cause = rd_error(path, -1, status);
		return -1;
	}
	return 0;
}

/* The shape of HDU i (0-based); ndim -1 when it is not an image. */
static int
rd_shape(struct rd_hdu *h, int i, int *status)
{
	int type, n;

	h->index = i;
	h->ndim = -1;
	h->ax[0] = h->ax[1] = -1;
	if (fits_movabs_hdu(h->fp, i + 1, &type, status) != 0)
		return -1;
	if (type != IMAGE_HDU)
		return 0;
	if (fits_get_img_param(h->fp, RD_AXES, &h->bitpix, &h->naxis, h->naxes, status) != 0)
		return -1;
	h->compressed = fits_is_compressed_image(h->fp, status);
	if (h->naxis == 0 || h->naxis > RD_AXES)
		return 0;
	for (n = 0, h->ndim = 0; n < h->naxis; n++) {
		if (h->naxes[n] <= 0) {
			h->ndim = -1;
			return 0;
		}
		if (h->naxes[n] > 1 && h->ndim < 2)
			h->ax[h->ndim] = n;
		h->ndim += h->naxes[n] > 1;
	}
	return 0;
}

/* Choose the HDU: o's, or the first with two axes longer than 1, else the first with one. */
static int
rd_choose(struct rd_hdu *h, const struct preview_opts *o, char **cause)
{
	int nhdus = 0, status = 0, i, first1 = -1;

	if (o->hdu >= 0) {
		if (rd_shape(h, o->hdu, &status) != 0) {
			*cause = rd_error(h->path, o->hdu, status);
			return -1;
		}
		if (h->ndim < 0) {
			*cause = xasprintf("%s: HDU %d has no image data", h->path, o->hdu);
			return -1;
		}
		return 0;
	}
	if (fits_get_num_hdus(h->fp, &nhdus, &status) != 0) {
		*cause = rd_error(h->path, -1, status);
		return -1;
	}
	for (i = 0; i < nhdus; i++) {
		if (rd_shape(h, i, &status) != 0) {
			*cause = rd_error(h->path, i, status);
			return -1;
		}
		if (h->ndim >= 2)
			return 0;
		if (h->ndim == 1 && first1 < 0)
			first1 = i;
	}
	if (first1 >= 0 && rd_shape(h, first1, &status) == 0)
		return 0;
	*cause = xasprintf("%s: no HDU holds image data", h->path);
	return -1;
}

static double
rd_key(fitsfile *fp, const char *key, double dflt, int *found)
{
	int status = 0;
	double v;

	if (fits_read_key(fp, TDOUBLE, key, &v, NULL, &status) != 0) {
		if (found != NULL)
			*found = 0;
		return dflt;
	}
	if (found != NULL)
		*found = 1;
	return v;
}

/*
 * Would astropy.io.fits hold these pixels as float32? For BITPIX -32, and
 * for 8- and 16-bit integers that are scaled (BSCALE/BZERO, other than the
 * unsigned convention) or have a BLANK; other integers stay integers,
 * larger scaled ones and BITPIX -64 become float64.
 */
static int
rd_float32(const struct rd_hdu *h, double bscale, double bzero, int blank)
{
	if (h->bitpix == FLOAT_IMG)
		return 1;
	if (h->bitpix != BYTE_IMG && h->bitpix != SHORT_IMG)
		return 0;
	if (bscale == 1 && (bzero == 0 ? !blank :
	    (h->bitpix == SHORT_IMG && bzero == 32768) || (h->bitpix == BYTE_IMG && bzero == -128)))
		return 0;
	return 1;
}

/* Are the pixels float numbers as cfitsio gives them: unscaled float32, or
 * 8- and 16-bit integers (unsigned ones too)? */
static int
rd_asfloat(const struct rd_hdu *h, double bscale, double bzero)
{
	if (h->bitpix == FLOAT_IMG)
		return bscale == 1 && bzero == 0;
	return (h->bitpix == BYTE_IMG || h->bitpix == SHORT_IMG) && bscale == 1 &&
	    (bzero == 0 || bzero == 32768 || bzero == -128);
}

/*
 * astropy scales 8- and 16-bit data in float32: float32(raw) * float32(BSCALE)
 * + float32(BZERO), each step rounded to float32; cfitsio scales in double.
 * The raw integer is recovered from cfitsio's value (exact: it has at most 16
 * bits) and scaled again astropy's way, so that the limits are the same.
 */
static void
rd_scale_float32(double *v, size_t n, double bscale, double bzero)
{
	float raw, s = (float)bscale, z = (float)bzero;
	size_t i;

	if (bscale == 1 && bzero == 0)
		return;
	for (i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		raw = (float)nearbyint((v[i] - bzero) / bscale);
		v[i] = (double)(raw * s + z);
	}
}

/* The finite values of a strip just read (still in the cache). */
static size_t
rd_count_finite(const double *v, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += isfinite(v[i]) != 0;
	return k;
}

/* How a grid is read: as float or double, with null checking or not. */
struct rd_how {
	int		 type;		/* TFLOAT or TDOUBLE */
	int		 nullcheck;	/* BLANK / compressed nulls to NaN; plain floats
					 * need none: their NaN stay NaN */
	void		*buf;		/* a strip or a row */
};

/* The values just read (n of them, spaced by step in buf) into out. */
static void
rd_widen(const struct rd_how *how, size_t n, size_t step, double *out)
{
	const float *f = how->buf;
	const double *dd = how->buf;
	size_t i, k;

	for (i = 0, k = 0; k < n; i += step, k++)
		out[k] = how->type == TFLOAT ? (double)f[i] : dd[i];
}

/* A strip of rows, strided in x by cfitsio (large strides: it converts only
 * the values kept). 0, or a cfitsio status. */
static int
rd_strip(struct rd_hdu *h, struct preview_data *d, const struct rd_how *how, long r,
    long rows, long *fpixel, long *lpixel, long *inc)
{
	double dnul = NAN;
	float fnul = NAN;
	int status = 0, anynul = 0;

	if (h->ax[1] >= 0) {
		fpixel[h->ax[1]] = 1 + r * d->stride;
		lpixel[h->ax[1]] = 1 + (r + rows - 1) * d->stride;
		inc[h->ax[1]] = d->stride;
	}
	if (fits_read_subset(h->fp, how->type, fpixel, lpixel, inc, !how->nullcheck ? NULL :
	    how->type == TFLOAT ? (void *)&fnul : (void *)&dnul, how->buf, &anynul, &status) != 0)
		return status;
	rd_widen(how, (size_t)(rows * d->nx), 1, d->v + r * d->nx);
	d->read_pixels += (uint64_t)(rows * d->nx);
	return 0;
}

/* One whole row (y of the grid), decimated here: cfitsio reads a contiguous
 * run two to three times faster than with an element increment (17 ms
 * against 43 ms for 2048 rows of 4096 floats, measured), which pays for
 * converting every value of the row at small strides. 0, or a status. */
static int
rd_row(struct rd_hdu *h, struct preview_data *d, const struct rd_how *how, long y,
    long *fpixel)
{
	long n1 = h->ax[0] >= 0 ? h->naxes[h->ax[0]] : 1;
	double dnul = NAN;
	float fnul = NAN;
	int status = 0, anynul = 0;

	if (h->ax[1] >= 0)
		fpixel[h->ax[1]] = 1 + y * d->stride;
	if (fits_read_pix(h->fp, how->type, fpixel, n1, !how->nullcheck ? NULL :
	    how->type == TFLOAT ? (void *)&fnul : (void *)&dnul, how->buf, &anynul, &status) != 0)
		return status;
	rd_widen(how, (size_t)d->nx, (size_t)d->stride, d->v + y * d->nx);
	d->read_pixels += (uint64_t)n1;
	return 0;
}

/* Read the strided grid of the plane into d->v (whole rows at strides up
 * to RD_ROWS_STRIDE, else strips strided by cfitsio), checking the deadline
 * as it goes. */
static int
rd_grid(struct rd_hdu *h, struct preview_data *d, struct rd_how *how,
    const struct preview_deadline *dl, char **cause)
{
	long fpixel[RD_AXES], lpixel[RD_AXES], inc[RD_AXES], r, rows, strip, n1;
	int n, status = 0, byrow;

	for (n = 0; n < h->naxis; n++)
		fpixel[n] = lpixel[n] = inc[n] = 1;
	n1 = h->ax[0] >= 0 ? h->naxes[h->ax[0]] : 1;
	if (h->ax[0] >= 0) {
		lpixel[h->ax[0]] = n1;
		inc[h->ax[0]] = d->stride;
	}
	byrow = d->stride <= RD_ROWS_STRIDE && n1 <= RD_STRIP;
	strip = byrow ? 1 : RD_STRIP / d->nx > 0 ? RD_STRIP / d->nx : 1;
	how->buf = xreallocarray(NULL, (size_t)(byrow ? n1 : strip * d->nx),
	    how->type == TFLOAT ? sizeof(float) : sizeof(double));
	for (r = 0; r < d->ny && status == 0; r += rows) {
		if (preview_expired(dl)) {
			free(how->buf);
			*cause = rd_timeout(h->path, dl);
			return -1;
		}
		rows = d->ny - r < strip ? d->ny - r : strip;
		status = byrow ? rd_row(h, d, how, r, fpixel) :
		    rd_strip(h, d, how, r, rows, fpixel, lpixel, inc);
		if (status == 0)
			d->nfinite += rd_count_finite(d->v + r * d->nx, (size_t)(rows * d->nx));
	}
	free(how->buf);
	if (status != 0) {
		*cause = rd_error(h->path, h->index, status);
		return -1;
	}
	return 0;
}

/* The plane of an image, strided for a box of box pixels. */
static int
rd_image(struct rd_hdu *h, long box, const struct preview_deadline *dl,
    struct preview_data *d, char **cause)
{
	struct rd_how how = { TDOUBLE, 1, NULL };
	double ratio, bscale, bzero;
	int blank;

	d->naxis1 = h->ax[0] >= 0 ? h->naxes[h->ax[0]] : 1;
	d->naxis2 = h->ax[1] >= 0 ? h->naxes[h->ax[1]] : 1;
	/* at most twice the box on the longer side: about 4x the output's pixels */
	ratio = (double)(d->naxis1 > d->naxis2 ? d->naxis1 : d->naxis2) / (double)box;
	d->stride = ratio <= 2 ? 1 : (long)ceil(ratio / 2);
	d->nx = (d->naxis1 + d->stride - 1) / d->stride;
	d->ny = (d->naxis2 + d->stride - 1) / d->stride;
	d->v = xreallocarray(NULL, (size_t)d->nx * (size_t)d->ny, sizeof *d->v);
	bscale = rd_key(h->fp, "BSCALE", 1, NULL);
	bzero = rd_key(h->fp, "BZERO", 0, NULL);
	rd_key(h->fp, "BLANK", 0, &blank);
	d->float32 = rd_float32(h, bscale, bzero, blank);
	how.type = rd_asfloat(h, bscale, bzero) ? TFLOAT : TDOUBLE;
	how.nullcheck = h->bitpix > 0 || h->compressed;
	if (rd_grid(h, d, &how, dl, cause) != 0)
		return -1;
	if (d->float32 && h->bitpix > 0)
		rd_scale_float32(d->v, (size_t)d->nx * (size_t)d->ny, bscale, bzero);
	return 0;
}

static void
rd_key_string(fitsfile *fp, const char *key, char *out, size_t len)
{
	char v[FLEN_VALUE];
	int status = 0;

	out[0] = '\0';
	if (fits_read_key(fp, TSTRING, key, v, NULL, &status) == 0)
		snprintf(out, len, "%s", v);
}

/* Words for the common spectral types (FITS WCS paper III). */
static const char *
rd_spectral_name(const char *ctype)
{
	static const struct { const char *type, *name; } names[] = {
		{ "WAVE", "Wavelength" }, { "AWAV", "Air wavelength" }, { "FREQ", "Frequency" },
		{ "ENER", "Energy" }, { "WAVN", "Wavenumber" }, { "VRAD", "Radio velocity" },
		{ "VOPT", "Optical velocity" }, { "VELO", "Velocity" }, { "ZOPT", "Redshift" },
		{ "BETA", "Beta" }, { "VELOCITY", "Velocity" }, { "WAVELENGTH", "Wavelength" },
	};
	char base[FLEN_KEYWORD];
	size_t i;

	snprintf(base, sizeof base, "%.*s", (int)strcspn(ctype, "- "), ctype);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(base, names[i].type) == 0)
			return names[i].name;
	}
	return NULL;
}

/* The spectral coordinate of FITS axis `axis` (1-based) for pixels 1 + i * stride. */
static void
rd_world(struct rd_hdu *h, int axis, struct preview_data *d)
{
	char key[FLEN_KEYWORD], ctype[72], cunit[72];
	const char *name;
	struct wcsprm wcs;
	double crval, crpix, cdelt, pix, img, phi, theta, unit;
	int have, have2, st, ok, inited;
	long i;

	snprintf(key, sizeof key, "CTYPE%d", axis);
	rd_key_string(h->fp, key, ctype, sizeof ctype);
	snprintf(key, sizeof key, "CUNIT%d", axis);
	rd_key_string(h->fp, key, cunit, sizeof cunit);
	snprintf(key, sizeof key, "CRVAL%d", axis);
	crval = rd_key(h->fp, key, 0, &have);
	snprintf(key, sizeof key, "CRPIX%d", axis);
	crpix = rd_key(h->fp, key, 0, NULL);
	snprintf(key, sizeof key, "CD%d_%d", axis, axis);
	cdelt = rd_key(h->fp, key, 0, &have2);
	if (!have2) {
		snprintf(key, sizeof key, "CDELT%d", axis);
		cdelt = rd_key(h->fp, key, 1, &have2);
	}
	d->world = xreallocarray(NULL, (size_t)d->nx, sizeof *d->world);
	memset(&wcs, 0, sizeof wcs);
	wcs.flag = -1;
	ok = inited = (have || have2) && wcsini(1, 1, &wcs) == 0;
	if (ok) {
		snprintf(wcs.ctype[0], sizeof wcs.ctype[0], "%s", ctype);
		snprintf(wcs.cunit[0], sizeof wcs.cunit[0], "%s", cunit);
		wcs.crval[0] = crval;
		wcs.crpix[0] = crpix;
		wcs.cdelt[0] = cdelt;
		wcs.restfrq = rd_key(h->fp, "RESTFRQ", rd_key(h->fp, "RESTFREQ", 0, NULL), NULL);
		wcs.restwav = rd_key(h->fp, "RESTWAV", 0, NULL);
		ok = wcsset(&wcs) == 0;
	}
	/* wcsset gives spectral axes in SI units (m, Hz...): back to the header's */
	unit = 1;
	if (ok && cunit[0] != '\0')
		unit = crval != 0 ? wcs.crval[0] / crval : cdelt != 0 ? wcs.cdelt[0] / cdelt : 1;
	for (i = 0; i < d->nx; i++) {
		pix = 1.0 + (double)(i * d->stride);
		if (ok && wcsp2s(&wcs, 1, 1, &pix, &img, &phi, &theta, &d->world[i], &st) == 0)
			d->world[i] /= unit;
		else
			d->world[i] = have || have2 ? crval + (pix - crpix) * cdelt : pix;
	}
	if (ok && cunit[0] == '\0')
		snprintf(cunit, sizeof cunit, "%s", wcs.cunit[0]);
	if (inited)
		wcsfree(&wcs);
	name = rd_spectral_name(ctype);
	if (!have && !have2)
		snprintf(d->xlabel, sizeof d->xlabel, "pixel");
	else if (cunit[0] != '\0')
		snprintf(d->xlabel, sizeof d->xlabel, "%s [%s]", name ? name : ctype, cunit);
	else
		snprintf(d->xlabel, sizeof d->xlabel, "%s", name ? name : ctype[0] ? ctype : "pixel");
}

/* Average a 2-D spectrum across its spatial axis, into d->v (in place). */
static void
rd_collapse(struct preview_data *d, long nx, long ny, int disp_is_x)
{
	long i, j, n = disp_is_x ? nx : ny, m = disp_is_x ? ny : nx, k;
	double *out = xcalloc((size_t)n, sizeof *out), v, sum;

	for (i = 0; i < n; i++) {
		for (j = 0, sum = 0, k = 0; j < m; j++) {
			v = disp_is_x ? d->v[j * nx + i] : d->v[i * nx + j];
			if (isfinite(v)) {
				sum += v;
				k++;
			}
		}
		out[i] = k > 0 ? sum / (double)k : NAN;
	}
	free(d->v);
	d->v = out;
	d->nx = n;
	d->ny = 1;
	d->nfinite = rd_count_finite(out, (size_t)n);
}

/* A spectrum: 1-D data, or a 2-D image averaged across DISPAXIS's other axis. */
static int
rd_spectrum(struct rd_hdu *h, const struct preview_deadline *dl, struct preview_data *d,
    char **cause)
{
	long n1 = h->ax[0] >= 0 ? h->naxes[h->ax[0]] : 1, n2 = h->ax[1] >= 0 ?
	    h->naxes[h->ax[1]] : 1, disp_n, sx, sy;
	struct rd_how how = { TDOUBLE, 1, NULL };
	int disp_is_x, dispaxis;

	dispaxis = (int)rd_key(h->fp, "DISPAXIS", 1, NULL);
	disp_is_x = h->ax[1] < 0 || dispaxis != h->ax[1] + 1;
	disp_n = disp_is_x ? n1 : n2;
	d->naxis1 = n1;
	d->naxis2 = n2;
	/* one stride for both axes keeps rd_grid simple: the larger of what each needs */
	sx = (disp_n + PREVIEW_SPECTRUM_MAX - 1) / PREVIEW_SPECTRUM_MAX;
	sy = ((disp_is_x ? n2 : n1) + RD_SPATIAL_MAX - 1) / RD_SPATIAL_MAX;
	d->stride = sx > sy ? sx : sy;
	d->nx = (n1 + d->stride - 1) / d->stride;
	d->ny = (n2 + d->stride - 1) / d->stride;
	d->v = xreallocarray(NULL, (size_t)d->nx * (size_t)d->ny, sizeof *d->v);
	if (rd_grid(h, d, &how, dl, cause) != 0)
		return -1;
	if (d->ny > 1 || !disp_is_x)
		rd_collapse(d, d->nx, d->ny, disp_is_x);
	rd_world(h, (disp_is_x ? h->ax[0] : h->ax[1]) + 1, d);
	rd_key_string(h->fp, "BUNIT", d->ylabel, sizeof d->ylabel);
	if (d->ylabel[0] == '\0')
		snprintf(d->ylabel, sizeof d->ylabel, "flux");
	rd_key_string(h->fp, "OBJECT", d->title, sizeof d->title);
	return 0;
}

int
preview_read(const char *path, const struct preview_opts *o, long box,
    const struct preview_deadline *dl, struct preview_data *d, char **cause)
{
	struct rd_hdu h;
	int status = 0, r;

	memset(d, 0, sizeof *d);
	memset(&h, 0, sizeof h);
	h.path = path;
	if (rd_open(path, &h.fp, cause) != 0)
		return -1;
	if ((r = rd_choose(&h, o, cause)) == 0) {
		d->hdu = h.index;
		d->kind = o->kind != PREVIEW_KIND_AUTO ? o->kind : h.ndim == 1 ?
		    PREVIEW_KIND_SPECTRUM : PREVIEW_KIND_IMAGE;
		if (d->kind == PREVIEW_KIND_IMAGE && h.ndim == 1) {
			*cause = xasprintf("%s: HDU %d is one-dimensional: not an image", path,
			    h.index);
			r = -1;
		} else if (d->kind == PREVIEW_KIND_IMAGE)
			r = rd_image(&h, box, dl, d, cause);
		else
			r = rd_spectrum(&h, dl, d, cause);
	}
	fits_close_file(h.fp, &status);
	if (r != 0)
		preview_data_free(d);
	return r;
}

void
preview_data_free(struct preview_data *d)
{
	free(d->v);
	free(d->world);
	d->v = NULL;
	d->world = NULL;
}
