/*
 * t/preview.c - previews made from pixels: PNG and JPEG decoded back
 * (libpng, libjpeg) and checked for their size, aspect ratio and
 * orientation (the brightest star where the FITS file has it, the last
 * FITS row on top), inversion, the stretches (exact grey levels of a
 * gradient), no enlargement, the strided read's bound, HDU choice, cubes,
 * tile-compressed and gzipped files, a spectrum plot, the options' errors,
 * and bad input (not FITS, truncated, absurdly large, no finite pixel, a
 * deadline) failing with a message naming the file.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>
#include <jpeglib.h>
#include <png.h>

#include "caom/preview.h"
#include "lib/xmalloc.h"
#include "tap.h"

static char dir[] = "/tmp/caom2ingest-preview.XXXXXX";
/* What the last make() and decode() returned (evaluated before ok()'s message). */
static int made, decoded;

/* A decoded image: grey (channels 1) or RGB (3). */
struct decoded {
	int		 w, h, channels;
	unsigned char	*px;
};

static int
decode_png(const unsigned char *data, size_t len, struct decoded *d)
{
	png_image im;

	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&im, data, len))
		return -1;
	d->channels = (im.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
	im.format = d->channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
	d->w = (int)im.width;
	d->h = (int)im.height;
	d->px = xmalloc(PNG_IMAGE_SIZE(im));
	if (!png_image_finish_read(&im, NULL, d->px, 0, NULL)) {
		free(d->px);
		return -1;
	}
	return 0;
}

static int
decode_jpeg(const unsigned char *data, size_t len, struct decoded *d)
{
	struct jpeg_decompress_struct c;
	struct jpeg_error_mgr e;
	JSAMPROW row;

	c.err = jpeg_std_error(&e);
	jpeg_create_decompress(&c);
	jpeg_mem_src(&c, (unsigned char *)(uintptr_t)data, (unsigned long)len);
	if (jpeg_read_header(&c, TRUE) != JPEG_HEADER_OK) {
		jpeg_destroy_decompress(&c);
		return -1;
	}
	jpeg_start_decompress(&c);
	d->w = (int)c.output_width;
	d->h = (int)c.output_height;
	d->channels = c.output_components;
	d->px = xmalloc((size_t)d->w * (size_t)d->h * (size_t)d->channels);
	while (c.output_scanline < c.output_height) {
		row = d->px + (size_t)c.output_scanline * (size_t)d->w * (size_t)d->channels;
		jpeg_read_scanlines(&c, &row, 1);
	}
	jpeg_finish_decompress(&c);
	jpeg_destroy_decompress(&c);
	return 0;
}

static int
decode(const struct preview_output *out, struct decoded *d)
{
	memset(d, 0, sizeof *d);
	if (out->len > 8 && memcmp(out->data, "\x89PNG", 4) == 0)
		return decode_png(out->data, out->len, d);
	if (out->len > 3 && out->data[0] == 0xff && out->data[1] == 0xd8)
		return decode_jpeg(out->data, out->len, d);
	return -1;
}

/* Where the brightest (or darkest) pixels of a grey image are: the centroid
 * of those at the extreme value (zscale saturates a star's core). */
static void
extreme(const struct decoded *d, int darkest, int *x, int *y)
{
	int i, best = -1, v;
	double sx = 0, sy = 0, n = 0;

	for (i = 0; i < d->w * d->h; i++) {
		v = darkest ? 255 - d->px[i] : d->px[i];
		best = v > best ? v : best;
	}
	for (i = 0; i < d->w * d->h; i++) {
		v = darkest ? 255 - d->px[i] : d->px[i];
		if (v == best) {
			sx += i % d->w;
			sy += i / d->w;
			n++;
		}
	}
	*x = (int)lround(sx / n);
	*y = (int)lround(sy / n);
}

/* Write a float image (nan-free unless v holds NaN) of naxis axes. */
static char *
write_image(const char *name, int bitpix, int naxis, const long *naxes, const double *v,
    const char *extra)
{
	char *path = xasprintf("%s/%s", dir, name), *cname = xasprintf("!%s%s", path,
	    extra != NULL ? extra : "");
	long n = 1;
	fitsfile *fp;
	int status = 0, i;

	for (i = 0; i < naxis; i++)
		n *= naxes[i];
	fits_create_file(&fp, cname, &status);
	fits_create_img(fp, bitpix, naxis, (long *)(uintptr_t)naxes, &status);
	if (naxis == 1) {
		fits_write_key_str(fp, "CTYPE1", "WAVE", NULL, &status);
		fits_write_key_str(fp, "CUNIT1", "nm", NULL, &status);
		fits_write_key_dbl(fp, "CRVAL1", 400.0, -10, NULL, &status);
		fits_write_key_dbl(fp, "CRPIX1", 1.0, -10, NULL, &status);
		fits_write_key_dbl(fp, "CDELT1", 0.1, -10, NULL, &status);
	}
	if (bitpix < 0 || cname[strlen(cname) - 1] != ']')
		fits_write_img(fp, TDOUBLE, 1, n, (double *)(uintptr_t)v, &status);
	fits_close_file(fp, &status);
	if (status != 0)
		bail("cannot write %s: cfitsio status %d", path, status);
	free(cname);
	return path;
}

/* Noise with one bright star at (sx, sy) (0-based FITS pixel, row 0 at the bottom). */
static double *
star_field(long n1, long n2, double sx, double sy)
{
	double *v = xreallocarray(NULL, (size_t)(n1 * n2), sizeof *v);
	long x, y;

	for (y = 0; y < n2; y++) {
		for (x = 0; x < n1; x++) {
			v[y * n1 + x] = 100 + (double)((x * 7 + y * 13) % 11) +
			    20000 * exp(-((x - sx) * (x - sx) + (y - sy) * (y - sy)) / 18.0);
		}
	}
	return v;
}

static int
make(const char *path, const struct preview_opts *o, struct preview_output *outs, size_t n,
    struct preview_info *info, char **cause)
{
	return preview_make(path, o, outs, n, info, cause);
}

static void
test_orientation(void)
{
	long naxes[2] = { 400, 200 };
	double *v = star_field(400, 200, 300, 150);
	char *path = write_image("star.fits", FLOAT_IMG, 2, naxes, v, NULL), *cause = NULL;
	struct preview_output outs[2] = { { 100, PREVIEW_FORMAT_PNG, NULL, 0, 0, 0 },
		{ 256, PREVIEW_FORMAT_JPEG, NULL, 0, 0, 0 } };
	struct preview_opts o;
	struct preview_info info;
	struct decoded d = { 0 };
	int x = -1, y = -1, corner;

	preview_opts_init(&o);
	made = make(path, &o, outs, 2, &info, &cause);
	ok(made == 0, "a 400x200 star field: preview and "
	    "thumbnail made%s%s", cause ? ": " : "", cause ? cause : "");
	decoded = decode(&outs[0], &d);
	corner = decoded == 0 ? d.px[0] : -1;
	ok(decoded == 0 && d.w == 100 && d.h == 50 && d.channels == 1,
	    "the PNG decodes to 100x50 grey (the box 100, aspect 2:1 kept): %dx%d", d.w, d.h);
	extreme(&d, 0, &x, &y);
	/* FITS (300, 150) of 400x200, bottom-up: 3/4 across, 1/4 down from the top */
	ok(abs(x - 75) <= 1 && abs(y - 12) <= 1, "its brightest pixel is where the star is, "
	    "the last FITS row on top: (%d, %d), wanted (75, 12)", x, y);
	free(d.px);
	decoded = decode(&outs[1], &d);
	ok(decoded == 0 && d.w == 256 && d.h == 128 && d.channels == 1,
	    "the JPEG decodes to 256x128 grey: %dx%d", d.w, d.h);
	extreme(&d, 0, &x, &y);
	ok(abs(x - 192) <= 2 && abs(y - 31) <= 2, "the JPEG's brightest pixel: (%d, %d), wanted "
	    "(192, 31)", x, y);
	ok(outs[1].width == 256 && outs[1].height == 128, "the output records its size");
	free(d.px);
	preview_output_clear(&outs[0]);
	preview_output_clear(&outs[1]);
	o.invert = 1;		/* the same outputs: the same pixels read, the same limits */
	made = make(path, &o, outs, 2, NULL, &cause);
	decoded = decode(&outs[0], &d);
	ok(made == 0 && decoded == 0, "inverted");
	extreme(&d, 1, &x, &y);
	ok(abs(x - 75) <= 1 && abs(y - 12) <= 1 && abs(d.px[0] - (255 - corner)) <= 1,
	    "inverted: the star is the darkest pixel (%d, %d), the sky 255 - its grey (%d, %d)",
	    x, y, d.px[0], corner);
	free(d.px);
	preview_output_clear(&outs[0]);
	preview_output_clear(&outs[1]);
	free(v);
	free(path);
}

static void
test_aspect(void)
{
	long tall[2] = { 100, 300 }, small[2] = { 50, 40 };
	double *v = star_field(100, 300, 20, 280), *w = star_field(50, 40, 10, 10);
	char *p1 = write_image("tall.fits", FLOAT_IMG, 2, tall, v, NULL);
	char *p2 = write_image("small.fits", FLOAT_IMG, 2, small, w, NULL), *cause = NULL;
	struct preview_output out = { 64, PREVIEW_FORMAT_PNG, NULL, 0, 0, 0 };
	struct preview_opts o;
	struct decoded d = { 0 };
	int x = -1, y = -1;

	preview_opts_init(&o);
	made = make(p1, &o, &out, 1, NULL, &cause);
	decoded = decode(&out, &d);
	ok(made == 0 && decoded == 0 && d.w == 21 &&
	    d.h == 64, "a 100x300 image in a 64 box: 21x64 (%dx%d)", d.w, d.h);
	extreme(&d, 0, &x, &y);
	ok(abs(x - 4) <= 1 && abs(y - 4) <= 1, "its star near the top left: (%d, %d)", x, y);
	free(d.px);
	preview_output_clear(&out);
	out.size = 1024;
	made = make(p2, &o, &out, 1, NULL, &cause);
	decoded = decode(&out, &d);
	ok(made == 0 && decoded == 0 && d.w == 50 &&
	    d.h == 40, "a 50x40 image in a 1024 box keeps its size (%dx%d)", d.w, d.h);
	free(d.px);
	preview_output_clear(&out);
	free(v);
	free(w);
	free(p1);
	free(p2);
}

/* A horizontal ramp 0..1 (minmax): each stretch's grey level at x = 1/4. */
static void
test_stretches(void)
{
	static const struct { int stretch; double want; const char *name; } cases[] = {
		{ PREVIEW_LINEAR, 0.25, "linear" },
		{ PREVIEW_SQRT, 0.5, "sqrt" },
		{ PREVIEW_LOG, 0.79977552, "log (a = 1000)" },	/* log(251)/log(1001) */
		{ PREVIEW_ASINH, 0.54940249, "asinh (a = 0.1)" },	/* asinh(2.5)/asinh(10) */
		{ PREVIEW_POWER, 0.0625, "power (a = 2)" },
	};
	long naxes[2] = { 257, 8 }, i;
	double v[257 * 8];
	char *path, *cause = NULL;
	struct preview_output out = { 1024, PREVIEW_FORMAT_PNG, NULL, 0, 0, 0 };
	struct preview_opts o;
	struct decoded d = { 0 };
	size_t k;

	for (i = 0; i < 257 * 8; i++)
		v[i] = (double)(i % 257) / 256.0;
	path = write_image("ramp.fits", DOUBLE_IMG, 2, naxes, v, NULL);
	preview_opts_init(&o);
	o.scale = PREVIEW_MINMAX;
	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		o.stretch = cases[k].stretch;
		is_double(cases[k].want, preview_stretch(&o, 0, 1, 0.25), 1e-7,
		    "%s stretch of 0.25", cases[k].name);
		if (make(path, &o, &out, 1, NULL, &cause) != 0 || decode(&out, &d) != 0) {
			ok(0, "%s: %s", cases[k].name, cause ? cause : "not decoded");
			free(cause);
	cause = NULL;
			continue;
		}
		ok(d.px[64] == (int)floor(cases[k].want * 256) && d.px[0] == 0 && d.px[256] == 255,
		    "%s: the ramp's grey at 1/4 is %d (wanted %d), 0 and 255 at its ends",
		    cases[k].name, d.px[64], (int)floor(cases[k].want * 256));
		free(d.px);
		preview_output_clear(&out);
	}
	free(path);
}

static void
test_stride(void)
{
	long naxes[2] = { 3000, 1000 };
	double *v = star_field(3000, 1000, 2250, 750);
	char *path = write_image("wide.fits", FLOAT_IMG, 2, naxes, v, NULL), *cause = NULL;
	struct preview_output out = { 256, PREVIEW_FORMAT_JPEG, NULL, 0, 0, 0 };
	struct preview_opts o;
	struct preview_info info;
	struct decoded d = { 0 };
	int x = -1, y = -1;

	preview_opts_init(&o);
	made = make(path, &o, &out, 1, &info, &cause);
	decoded = decode(&out, &d);
	ok(made == 0 && decoded == 0 && d.w == 256 &&
	    d.h == 85, "a 3000x1000 image into 256: 256x85 (%dx%d)", d.w, d.h);
	ok(info.stride == 6 && info.nx == 500 && info.ny == 167, "read with a stride of 6: "
	    "%ldx%ld (stride %ld)", info.nx, info.ny, info.stride);
	ok(info.read_pixels <= (uint64_t)(4.0 * 256 * 85), "no more than 4 times the output's "
	    "pixels read: %llu for %d", (unsigned long long)info.read_pixels, 256 * 85);
	extreme(&d, 0, &x, &y);
	ok(abs(x - 192) <= 2 && abs(y - 21) <= 2, "the star survives the stride: (%d, %d)", x, y);
	free(d.px);
	preview_output_clear(&out);
	free(v);
	free(path);
}

static void
test_hdus(void)
{
	long cube[3] = { 60, 40, 3 }, one[1] = { 3000 }, i;
	double *v = xreallocarray(NULL, 60 * 40 * 3, sizeof *v), *s;
	char *pc, *ps, *pe, *pz, *pg, *cause = NULL, *name;
	struct preview_output out = { 128, PREVIEW_FORMAT_PNG, NULL, 0, 0, 0 };
	struct preview_opts o;
	struct preview_info info;
	struct decoded d = { 0 };
	fitsfile *fp;
	int status = 0;

	s = star_field(60, 40, 45, 30);
	memcpy(v, s, 60 * 40 * sizeof *v);
	for (i = 60 * 40; i < 60 * 40 * 3; i++)
		v[i] = 1e9;	/* planes 2 and 3 would wash it out */
	pc = write_image("cube.fits", FLOAT_IMG, 3, cube, v, NULL);
	preview_opts_init(&o);
	made = make(pc, &o, &out, 1, &info, &cause);
	ok(made == 0 && info.naxis1 == 60 && info.naxis2 == 40 &&
	    info.vmax < 1e9, "a cube: its first plane (vmax %g)", info.vmax);
	preview_output_clear(&out);
	for (i = 0; i < 3000; i++)
		v[i] = 1 + (i > 1000 && i < 1010 ? -0.5 : 0);
	ps = write_image("spec.fits", FLOAT_IMG, 1, one, v, NULL);
	out.size = 400;
	made = make(ps, &o, &out, 1, &info, &cause);
	ok(made == 0 && info.kind == PREVIEW_KIND_SPECTRUM &&
	    decode(&out, &d) == 0 && d.w == 400 && d.h == 300 && d.channels == 3,
	    "1-D data: a 400x300 RGB spectrum plot (%dx%d, %d channels)", d.w, d.h, d.channels);
	free(d.px);
	preview_output_clear(&out);
	o.kind = PREVIEW_KIND_IMAGE;
	made = make(ps, &o, &out, 1, NULL, &cause);
	ok(made != 0 && strstr(cause, "one-dimensional") != NULL,
	    "kind image of 1-D data: %s", cause ? cause : "no error");
	free(cause);
	cause = NULL;
	o.kind = PREVIEW_KIND_AUTO;
	o.hdu = 5;
	made = make(ps, &o, &out, 1, NULL, &cause);
	ok(made != 0 && strstr(cause, "spec.fits: HDU 5") != NULL,
	    "an HDU that is not there: %s", cause ? cause : "no error");
	free(cause);
	cause = NULL;
	o.hdu = -1;
	/* an empty primary, then the image in HDU 1 */
	pe = xasprintf("%s/ext.fits", dir);
	name = xasprintf("!%s", pe);
	fits_create_file(&fp, name, &status);
	fits_create_img(fp, BYTE_IMG, 0, NULL, &status);
	fits_create_img(fp, DOUBLE_IMG, 3, cube, &status);
	fits_write_img(fp, TDOUBLE, 1, 60 * 40, s, &status);
	fits_close_file(fp, &status);
	free(name);
	cause = NULL;
	made = status == 0 ? make(pe, &o, &out, 1, &info, &cause) : -1;
	ok(made == 0 && info.hdu == 1,
	    "auto: the image in HDU 1 after an empty primary (hdu %d)", info.hdu);
	preview_output_clear(&out);
	pz = write_image("comp.fits.fz", DOUBLE_IMG, 2, cube, s, "[compress G]");
	made = make(pz, &o, &out, 1, &info, &cause);
	ok(made == 0 && info.hdu == 1 && info.naxis1 == 60,
	    "a tile-compressed image (HDU %d, %ldx%ld)%s%s", info.hdu, info.naxis1, info.naxis2,
	    cause ? ": " : "", cause ? cause : "");
	preview_output_clear(&out);
	pg = write_image("gz.fits.gz", DOUBLE_IMG, 2, cube, s, NULL);
	made = make(pg, &o, &out, 1, &info, &cause);
	ok(made == 0 && info.naxis1 == 60,
	    "a gzipped file%s%s", cause ? ": " : "", cause ? cause : "");
	preview_output_clear(&out);
	free(v);
	free(s);
	free(pc);
	free(ps);
	free(pe);
	free(pz);
	free(pg);
}

/* Where the plot's line dips lowest: the column of its lowest coloured pixel. */
static void
test_plot(void)
{
	long one[1] = { 5000 }, i;
	double *v = xreallocarray(NULL, 5000, sizeof *v);
	char *path, *cause = NULL;
	struct preview_output out = { 1024, PREVIEW_FORMAT_PNG, NULL, 0, 0, 0 };
	struct preview_opts o;
	struct decoded d = { 0 };
	int x, y, low = -1, lowx = -1, white = 0;
	unsigned char *p;

	for (i = 0; i < 5000; i++)
		v[i] = 1 + 1e-4 * (double)i - 0.6 * exp(-0.5 * pow(((double)i - 2000) / 8, 2));
	path = write_image("line.fits", FLOAT_IMG, 1, one, v, NULL);
	preview_opts_init(&o);
	made = make(path, &o, &out, 1, NULL, &cause);
	decoded = decode(&out, &d);
	ok(made == 0 && decoded == 0 && d.w == 1024 &&
	    d.h == 768, "a 5000-point spectrum: a 1024x768 plot");
	for (y = 0; y < d.h; y++) {
		for (x = 0; x < d.w; x++) {
			p = d.px + ((size_t)y * (size_t)d.w + (size_t)x) * 3;
			white += p[0] == 255 && p[1] == 255 && p[2] == 255;
			if (p[2] > 100 && p[0] < 60 && y > low) {	/* the line's blue */
				low = y;
				lowx = x;
			}
		}
	}
	ok(white > d.w * d.h / 2, "on a white background");
	/* the line at 2000 of 0..4999, in a frame from x = 104 to 1000 */
	ok(lowx >= 104 + (int)(0.4 * 896) - 12 && lowx <= 104 + (int)(0.4 * 896) + 12,
	    "the absorption line is drawn where its wavelength is: column %d", lowx);
	free(d.px);
	preview_output_clear(&out);
	free(v);
	free(path);
}

static void
test_options(void)
{
	static const struct { const char *name, *value, *error; } bad[] = {
		{ "scale", "log", "scale: 'log' is not one of zscale, minmax, percentile" },
		{ "stretch", "cube", "stretch: 'cube' is not one of linear, sqrt, log, asinh, "
		  "power" },
		{ "low", "x", "low: 'x' is not a number from 0 to 100" },
		{ "high", "101", "high: '101' is not a number from 0 to 100" },
		{ "hdu", "-1", "hdu: '-1' is not auto or an HDU index (0 is the primary)" },
		{ "exponent", "0", "exponent: '0' is not a number from 1e-06 to 1e+06" },
		{ "invert", "maybe", "invert: 'maybe' is not true or false" },
		{ "quality", "0", "quality: '0' is not a number from 1 to 100" },
		{ "size", "5", "no preview option named 'size'" },
	};
	struct preview_opts o;
	char *cause = NULL;
	size_t i;

	preview_opts_init(&o);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ok(preview_opts_set(&o, bad[i].name, bad[i].value, &cause) != 0 &&
		    cause != NULL && strcmp(cause, bad[i].error) == 0, "%s: %s", bad[i].name,
		    cause ? cause : "accepted");
		free(cause);
	cause = NULL;
		cause = NULL;
	}
	ok(preview_opts_set(&o, "hdu", "2", &cause) == 0 && o.hdu == 2 &&
	    preview_opts_set(&o, "format", "jpg", &cause) == 0 && o.format ==
	    PREVIEW_FORMAT_JPEG && preview_opts_set(&o, "invert", "true", &cause) == 0 &&
	    o.invert, "good values are taken");
	o.low = 50;
	o.high = 10;
	ok(preview_opts_check(&o, &cause) != 0 && strcmp(cause, "low (50) must be below high "
	    "(10)") == 0, "low must be below high");
	free(cause);
	cause = NULL;
	is_int(PREVIEW_FORMAT_PNG, preview_format_of("x_prev.PNG"), ".png is PNG");
	is_int(PREVIEW_FORMAT_JPEG, preview_format_of("x_prev.jpeg"), ".jpeg is JPEG");
	is_int(PREVIEW_FORMAT_AUTO, preview_format_of("x_prev"), "no suffix: AUTO");
}

static void
expect_error(const char *path, const struct preview_opts *o, const char *want,
    const char *what)
{
	struct preview_output out = { 256, PREVIEW_FORMAT_JPEG, NULL, 0, 0, 0 };
	char *cause = NULL;
	int r;

	r = make(path, o, &out, 1, NULL, &cause);
	ok(r != 0 && cause != NULL && strstr(cause, path) != NULL && strstr(cause, want) != NULL &&
	    out.data == NULL, "%s: %s", what, cause ? cause : "no error");
	free(cause);
	cause = NULL;
	preview_output_clear(&out);
}

static void
test_bad(void)
{
	char *junk = xasprintf("%s/junk.fits", dir), *trunc = xasprintf("%s/trunc.fits", dir);
	char *nan, *big, *card;
	long naxes[2] = { 30, 20 }, i;
	double v[600], *b;
	struct preview_opts o;
	FILE *fp;

	preview_opts_init(&o);
	fp = fopen(junk, "w");
	for (i = 0; i < 5000; i++)
		fputc((int)((i * 7919) % 251), fp);
	fclose(fp);
	expect_error(junk, &o, "cfitsio", "not FITS");
	/* a header for 100000 x 100000 floats (40 GB) and one block of data */
	fp = fopen(trunc, "w");
	for (i = 0; i < 36; i++) {
		card = xasprintf("%-80s", i == 0 ? "SIMPLE  =                    T" :
		    i == 1 ? "BITPIX  =                  -32" : i == 2 ?
		    "NAXIS   =                    2" : i == 3 ? "NAXIS1  =               100000" :
		    i == 4 ? "NAXIS2  =               100000" : i == 5 ? "END" : "");
		fputs(card, fp);
		free(card);
	}
	for (i = 0; i < 2880; i++)
		fputc(0, fp);
	fclose(fp);
	expect_error(trunc, &o, "cfitsio", "a 100000x100000 image with one block of data");
	for (i = 0; i < 600; i++)
		v[i] = NAN;
	nan = write_image("nan.fits", FLOAT_IMG, 2, naxes, v, NULL);
	expect_error(nan, &o, "no finite pixel value", "an image of NaN only");
	naxes[0] = naxes[1] = 4000;
	b = star_field(4000, 4000, 10, 10);
	big = write_image("big.fits", FLOAT_IMG, 2, naxes, b, NULL);
	free(b);
	o.timeout_ms = 1;
	expect_error(big, &o, "preview timed out after 1 ms", "a 4000x4000 image with 1 ms");
	free(junk);
	free(trunc);
	free(nan);
	free(big);
}

int
main(void)
{
	char *rm;

	plan_lazy();
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", dir);
	test_orientation();
	test_aspect();
	test_stretches();
	test_stride();
	test_hdus();
	test_plot();
	test_options();
	test_bad();
	preview_cleanup();
	rm = xasprintf("rm -rf %s", dir);
	if (system(rm) != 0)
		diag("could not remove %s", dir);
	free(rm);
	return 0;
}
