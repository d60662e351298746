/*
 * mkimage.c - write the synthetic FITS images the preview tests read:
 * gradients, noise, stars, NaNs and BLANKs, constants, tiny images, cubes,
 * length-1 axes, scaled and unsigned integers, tile-compressed images, an
 * image in an extension, a large image (read with a stride), and 1-D
 * spectra. The pixels come from a fixed-seed generator: the same files
 * every time.
 *
 * usage: mkimage DIR        writes DIR/NAME.fits[.fz] and lists the names
 *        mkimage -n N1 N2 OUT.fits  one N1 x N2 float32 image of stars (benchmarks)
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fitsio.h>

#define NULLV	(-1e30)		/* a pixel written as BLANK */

struct img {
	const char	*name;
	int		 bitpix;
	int		 naxis;
	long		 naxes[3];
	void		(*fill)(double *v, long n1, long n2, long n3);
	double		 bscale, bzero;
	long		 blank;		/* 0: none */
	int		 compress;	/* cfitsio compression type, 0: none */
	int		 extension;	/* the image in HDU 1 after an empty primary */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double
uniform(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double
gauss(void)
{
	return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static void
fill_gradient(double *v, long n1, long n2, long n3)
{
	long i;

	for (i = 0; i < n1 * n2 * n3; i++)
		v[i] = 10 + 0.5 * (double)(i % n1) + 0.25 * (double)(i / n1 % n2);
}

static void
fill_noise(double *v, long n1, long n2, long n3)
{
	long i;

	for (i = 0; i < n1 * n2 * n3; i++)
		v[i] = 1000 + 30 * gauss();
}

/* A sky of noise with Gaussian stars; star 0 is the brightest, at 1/4, 3/4. */
static void
fill_stars(double *v, long n1, long n2, long n3)
{
	long i, x, y, k, r = 6;
	double cx, cy, amp, s;

	fill_noise(v, n1, n2, n3);
	for (k = 0; k < 60; k++) {
		cx = k == 0 ? (double)n1 / 4 : uniform() * (double)n1;
		cy = k == 0 ? (double)n2 * 3 / 4 : uniform() * (double)n2;
		amp = k == 0 ? 60000 : 200 + 5000 * uniform();
		s = 1.2 + 1.5 * uniform();
		for (y = (long)cy - r; y <= (long)cy + r; y++) {
			for (x = (long)cx - r; x <= (long)cx + r; x++) {
				if (x < 0 || y < 0 || x >= n1 || y >= n2)
					continue;
				i = y * n1 + x;
				v[i] += amp * exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) /
				    (2 * s * s));
			}
		}
	}
}

static void
fill_nans(double *v, long n1, long n2, long n3)
{
	long i;

	fill_stars(v, n1, n2, n3);
	for (i = 0; i < n1 * n2; i++) {
		if (i % n1 < n1 / 5 || uniform() < 0.07)
			v[i] = NAN;
	}
}

static void
fill_blanks(double *v, long n1, long n2, long n3)
{
	long i;

	fill_noise(v, n1, n2, n3);
	for (i = 0; i < n1 * n2; i++) {
		if (uniform() < 0.1)
			v[i] = NULLV;
	}
}

static void
fill_infs(double *v, long n1, long n2, long n3)
{
	long i;

	fill_noise(v, n1, n2, n3);
	for (i = 0; i < n1 * n2; i += 37)
		v[i] = i % 2 ? INFINITY : -INFINITY;
}

static void
fill_constant(double *v, long n1, long n2, long n3)
{
	long i;

	for (i = 0; i < n1 * n2 * n3; i++)
		v[i] = 42;
}

/* Cosmic rays and a saturated column over noise. */
static void
fill_outliers(double *v, long n1, long n2, long n3)
{
	long i;

	fill_noise(v, n1, n2, n3);
	for (i = 0; i < n1 * n2; i++) {
		if (i % n1 == n1 / 3)
			v[i] = 65000;
		else if (uniform() < 0.02)
			v[i] = 20000 + 40000 * uniform();
	}
}

static void
fill_bimodal(double *v, long n1, long n2, long n3)
{
	long i;

	for (i = 0; i < n1 * n2 * n3; i++)
		v[i] = (i / n1 < n2 / 2 ? 0 : 1000) + gauss();
}

static void
fill_small(double *v, long n1, long n2, long n3)
{
	long i;

	for (i = 0; i < n1 * n2 * n3; i++)
		v[i] = 1e-7 * (1 + 0.01 * gauss()) - 3e-9 * (double)(i % n1);
}

static void
fill_huge(double *v, long n1, long n2, long n3)
{
	long i;

	for (i = 0; i < n1 * n2 * n3; i++)
		v[i] = 1e30 * (2 + gauss());
}

/* Planes that differ: the first one is shown. */
static void
fill_cube(double *v, long n1, long n2, long n3)
{
	long i;

	fill_stars(v, n1, n2, 1);
	for (i = n1 * n2; i < n1 * n2 * n3; i++)
		v[i] = 1e6 + 1e5 * gauss();
}

/* An absorption line on a sloping continuum. */
static void
fill_spectrum(double *v, long n1, long n2, long n3)
{
	long i;
	double x;

	(void)n2;
	(void)n3;
	for (i = 0; i < n1; i++) {
		x = (double)i;
		v[i] = 1 + 1e-4 * x + 0.02 * gauss() - 0.6 * exp(-0.5 * pow((x - 0.4 * (double)n1) /
		    8, 2));
	}
}

static const struct img images[] = {
	{ "gradient", FLOAT_IMG, 2, { 300, 200 }, fill_gradient, 1, 0, 0, 0, 0 },
	{ "gradient_int16", SHORT_IMG, 2, { 257, 129 }, fill_gradient, 1, 0, 0, 0, 0 },
	{ "noise", FLOAT_IMG, 2, { 512, 512 }, fill_noise, 1, 0, 0, 0, 0 },
	{ "noise_float64", DOUBLE_IMG, 2, { 333, 222 }, fill_noise, 1, 0, 0, 0, 0 },
	{ "stars", FLOAT_IMG, 2, { 640, 480 }, fill_stars, 1, 0, 0, 0, 0 },
	{ "stars_uint16", SHORT_IMG, 2, { 400, 300 }, fill_stars, 1, 32768, 0, 0, 0 },
	{ "stars_int32", LONG_IMG, 2, { 256, 256 }, fill_stars, 1, 0, 0, 0, 0 },
	{ "nans", FLOAT_IMG, 2, { 500, 400 }, fill_nans, 1, 0, 0, 0, 0 },
	{ "blank_int16", SHORT_IMG, 2, { 300, 300 }, fill_blanks, 1, 0, -32768, 0, 0 },
	{ "infinities", FLOAT_IMG, 2, { 200, 150 }, fill_infs, 1, 0, 0, 0, 0 },
	{ "constant", FLOAT_IMG, 2, { 100, 100 }, fill_constant, 1, 0, 0, 0, 0 },
	{ "constant_int32", LONG_IMG, 2, { 64, 32 }, fill_constant, 1, 0, 0, 0, 0 },
	{ "tiny_3x3", FLOAT_IMG, 2, { 3, 3 }, fill_noise, 1, 0, 0, 0, 0 },
	{ "tiny_2x2", FLOAT_IMG, 2, { 2, 2 }, fill_noise, 1, 0, 0, 0, 0 },
	{ "thin_2000x3", FLOAT_IMG, 2, { 2000, 3 }, fill_stars, 1, 0, 0, 0, 0 },
	{ "outliers", FLOAT_IMG, 2, { 420, 380 }, fill_outliers, 1, 0, 0, 0, 0 },
	{ "bimodal", FLOAT_IMG, 2, { 300, 300 }, fill_bimodal, 1, 0, 0, 0, 0 },
	{ "small_values", DOUBLE_IMG, 2, { 200, 100 }, fill_small, 1, 0, 0, 0, 0 },
	{ "huge_values", FLOAT_IMG, 2, { 150, 150 }, fill_huge, 1, 0, 0, 0, 0 },
	{ "scaled_int16", SHORT_IMG, 2, { 310, 205 }, fill_stars, 0.37, -12.5, 0, 0, 0 },
	{ "scaled_int32", LONG_IMG, 2, { 210, 190 }, fill_stars, 2.5, 100, 0, 0, 0 },
	{ "int8", BYTE_IMG, 2, { 200, 200 }, fill_gradient, 1, 0, 0, 0, 0 },
	{ "cube", FLOAT_IMG, 3, { 160, 120, 4 }, fill_cube, 1, 0, 0, 0, 0 },
	{ "squeezed_1x200x150", FLOAT_IMG, 3, { 1, 200, 150 }, fill_stars, 1, 0, 0, 0, 0 },
	{ "extension", FLOAT_IMG, 2, { 240, 180 }, fill_stars, 1, 0, 0, 0, 1 },
	{ "rice_uint16", SHORT_IMG, 2, { 350, 250 }, fill_stars, 1, 32768, 0, RICE_1, 0 },
	{ "gzip_float32", FLOAT_IMG, 2, { 300, 260 }, fill_nans, 1, 0, 0, GZIP_1, 0 },
	{ "large_2500x2100", FLOAT_IMG, 2, { 2500, 2100 }, fill_stars, 1, 0, 0, 0, 0 },
	{ "spectrum", FLOAT_IMG, 1, { 5000 }, fill_spectrum, 1, 0, 0, 0, 0 },
};

static int
write_spectrum_wcs(fitsfile *fp, int *status)
{
	fits_write_key_str(fp, "CTYPE1", "WAVE", NULL, status);
	fits_write_key_str(fp, "CUNIT1", "Angstrom", NULL, status);
	fits_write_key_dbl(fp, "CRVAL1", 4000.0, -10, NULL, status);
	fits_write_key_dbl(fp, "CRPIX1", 1.0, -10, NULL, status);
	fits_write_key_dbl(fp, "CDELT1", 0.5, -10, NULL, status);
	fits_write_key_str(fp, "BUNIT", "erg/s/cm2/Angstrom", NULL, status);
	return *status;
}

/* cfitsio converts no type when it compresses: the image's own type, then. */
static void
write_compressed(fitsfile *fp, const struct img *im, const double *v, long n, int *status)
{
	unsigned short *u = NULL;
	float *f = NULL;
	long i;

	if (im->bitpix == FLOAT_IMG && (f = calloc((size_t)n, sizeof *f)) != NULL) {
		for (i = 0; i < n; i++)
			f[i] = (float)v[i];
		fits_write_img(fp, TFLOAT, 1, n, f, status);
	} else if ((u = calloc((size_t)n, sizeof *u)) != NULL) {
		for (i = 0; i < n; i++)
			u[i] = (unsigned short)v[i];
		fits_write_img(fp, TUSHORT, 1, n, u, status);
	}
	free(f);
	free(u);
}

static int
write_image(const char *path, const struct img *im, const double *v, long n)
{
	fitsfile *fp = NULL;
	char name[4096];
	int status = 0, unsigned16;
	double nulval = NULLV;

	snprintf(name, sizeof name, "!%s", path);
	if (fits_create_file(&fp, name, &status) != 0)
		return status;
	if (im->compress != 0) {
		fits_set_compression_type(fp, im->compress, &status);
		if (im->bitpix < 0)
			fits_set_quantize_level(fp, 0.0, &status);	/* lossless */
	}
	if (im->extension)
		fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
	/* unsigned 16 bits: cfitsio writes BZERO itself (compressed images need it so) */
	unsigned16 = im->bitpix == SHORT_IMG && im->bscale == 1 && im->bzero == 32768;
	fits_create_img(fp, unsigned16 ? USHORT_IMG : im->bitpix, im->naxis,
	    (long *)(uintptr_t)im->naxes, &status);
	if (!unsigned16 && (im->bscale != 1 || im->bzero != 0)) {
		fits_write_key_dbl(fp, "BSCALE", im->bscale, -15, NULL, &status);
		fits_write_key_dbl(fp, "BZERO", im->bzero, -15, NULL, &status);
		fits_set_bscale(fp, im->bscale, im->bzero, &status);
	}
	if (im->blank != 0)
		fits_write_key_lng(fp, "BLANK", im->blank, NULL, &status);
	fits_write_key_str(fp, "OBJECT", im->name, NULL, &status);
	if (im->naxis == 1)
		write_spectrum_wcs(fp, &status);
	if (im->compress != 0)
		write_compressed(fp, im, v, n, &status);
	else if (im->blank != 0)
		fits_write_imgnull(fp, TDOUBLE, 1, n, (double *)(uintptr_t)v, &nulval, &status);
	else
		fits_write_img(fp, TDOUBLE, 1, n, (double *)(uintptr_t)v, &status);
	fits_close_file(fp, &status);
	return status;
}

static void
fill_clip(const struct img *im, double *v, long n)
{
	double lo, hi, r;
	long i;

	if (im->bitpix < 0)
		return;
	lo = im->bitpix == 8 ? 0 : im->bitpix == 16 ? -32768 : -2147483648.0;
	hi = im->bitpix == 8 ? 255 : im->bitpix == 16 ? 32767 : 2147483647.0;
	for (i = 0; i < n; i++) {
		if (v[i] == NULLV || !isfinite(v[i]))
			continue;
		r = nearbyint((v[i] - im->bzero) / im->bscale);
		v[i] = fmin(fmax(r, lo + 1), hi) * im->bscale + im->bzero;
	}
}

static int
make_one(const char *dir, const struct img *im)
{
	long n = im->naxes[0] * (im->naxis > 1 ? im->naxes[1] : 1) *
	    (im->naxis > 2 ? im->naxes[2] : 1);
	double *v = calloc((size_t)n, sizeof *v);
	char path[4096];
	int status;

	if (v == NULL)
		return 1;
	im->fill(v, im->naxes[0], im->naxis > 1 ? im->naxes[1] : 1, im->naxis > 2 ?
	    im->naxes[2] : 1);
	fill_clip(im, v, n);
	snprintf(path, sizeof path, "%s/%s.fits%s", dir, im->name, im->compress ? ".fz" : "");
	status = write_image(path, im, v, n);
	free(v);
	if (status != 0) {
		fprintf(stderr, "mkimage: %s: cfitsio status %d\n", path, status);
		return 1;
	}
	printf("%s\n", path);
	return 0;
}

/* One n1 x n2 float32 image of stars at path (the benchmarks'). */
static int
make_big(long n1, long n2, const char *path)
{
	struct img big = { "stars", FLOAT_IMG, 2, { n1, n2 }, fill_stars, 1, 0, 0, 0, 0 };
	double *v;
	int status;

	if (n1 < 1 || n2 < 1 || (v = calloc((size_t)(n1 * n2), sizeof *v)) == NULL)
		return 2;
	fill_stars(v, n1, n2, 1);
	status = write_image(path, &big, v, n1 * n2);
	free(v);
	return status != 0;
}

int
main(int argc, char **argv)
{
	size_t i;
	int bad = 0;

	if (argc == 5 && strcmp(argv[1], "-n") == 0)
		return make_big(atol(argv[2]), atol(argv[3]), argv[4]);
	if (argc != 2) {
		fprintf(stderr, "usage: mkimage DIR | mkimage -n N1 N2 OUT.fits\n");
		return 2;
	}
	for (i = 0; i < sizeof images / sizeof images[0]; i++)
		bad |= make_one(argv[1], &images[i]);
	return bad;
}
