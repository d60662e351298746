/*
 * preview.c - previews and thumbnails (see preview.h): the options, and an
 * image's way from the pixels read to the encoded file (limits once, then
 * for each output: area-averaged into its box, stretched, inverted,
 * flipped, encoded).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caom/preview.h"
#include "caom/preview_int.h"
#include "lib/xmalloc.h"

const char *const preview_kind_names[] = { "auto", "image", "spectrum", NULL };
const char *const preview_scale_names[] = { "zscale", "minmax", "percentile", NULL };
const char *const preview_stretch_names[] = { "linear", "sqrt", "log", "asinh", "power",
	NULL };
const char *const preview_format_names[] = { "auto", "png", "jpeg", NULL };

void
preview_opts_init(struct preview_opts *o)
{
	memset(o, 0, sizeof *o);
	o->hdu = -1;
	o->kind = PREVIEW_KIND_AUTO;
	o->scale = PREVIEW_ZSCALE;
	o->low = 1;
	o->high = 99;
	o->stretch = PREVIEW_LINEAR;
	o->exponent = 2;
	o->format = PREVIEW_FORMAT_AUTO;
	o->quality = 90;
	o->timeout_ms = 30000;
}

/* value as one of names into *dst; 0, or -1 with *cause listing them. */
static int
opts_choice(const char *name, const char *const *names, const char *value, int *dst,
    char **cause)
{
	char *list = NULL, *tmp;
	int i;

	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], value) == 0 || (names == preview_format_names &&
		    strcmp(value, "jpg") == 0 && i == PREVIEW_FORMAT_JPEG)) {
			*dst = i;
			return 0;
		}
	}
	for (i = 0; names[i] != NULL; i++) {
		tmp = xasprintf("%s%s%s", list ? list : "", list ? ", " : "", names[i]);
		free(list);
		list = tmp;
	}
	*cause = xasprintf("%s: '%s' is not one of %s", name, value, list);
	free(list);
	return -1;
}

static int
opts_number(const char *name, const char *value, double lo, double hi, double *dst,
    char **cause)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (value[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < lo || v > hi) {
		*cause = xasprintf("%s: '%s' is not a number from %g to %g", name, value, lo, hi);
		return -1;
	}
	*dst = v;
	return 0;
}

static int
opts_hdu(struct preview_opts *o, const char *value, char **cause)
{
	double v;

	if (strcmp(value, "auto") == 0) {
		o->hdu = -1;
		return 0;
	}
	if (opts_number("hdu", value, 0, 9999, &v, cause) != 0 || v != floor(v)) {
		free(*cause);
		*cause = xasprintf("hdu: '%s' is not auto or an HDU index (0 is the primary)",
		    value);
		return -1;
	}
	o->hdu = (int)v;
	return 0;
}

static int
opts_bool(const char *name, const char *value, int *dst, char **cause)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	int i;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
			*dst = strcasecmp(value, yes[i]) == 0;
			return 0;
		}
	}
	*cause = xasprintf("%s: '%s' is not true or false", name, value);
	return -1;
}

int
preview_opts_set(struct preview_opts *o, const char *name, const char *value, char **cause)
{
	double q;

	if (strcmp(name, "hdu") == 0)
		return opts_hdu(o, value, cause);
	if (strcmp(name, "kind") == 0)
		return opts_choice(name, preview_kind_names, value, &o->kind, cause);
	if (strcmp(name, "scale") == 0)
		return opts_choice(name, preview_scale_names, value, &o->scale, cause);
	if (strcmp(name, "stretch") == 0)
		return opts_choice(name, preview_stretch_names, value, &o->stretch, cause);
	if (strcmp(name, "format") == 0)
		return opts_choice(name, preview_format_names, value, &o->format, cause);
	if (strcmp(name, "low") == 0)
		return opts_number(name, value, 0, 100, &o->low, cause);
	if (strcmp(name, "high") == 0)
		return opts_number(name, value, 0, 100, &o->high, cause);
	if (strcmp(name, "exponent") == 0)
		return opts_number(name, value, 1e-6, 1e6, &o->exponent, cause);
	if (strcmp(name, "invert") == 0)
		return opts_bool(name, value, &o->invert, cause);
	if (strcmp(name, "quality") == 0) {
		if (opts_number(name, value, 1, 100, &q, cause) != 0)
			return -1;
		o->quality = (int)q;
		return 0;
	}
	*cause = xasprintf("no preview option named '%s'", name);
	return -1;
}

int
preview_opts_check(const struct preview_opts *o, char **cause)
{
	if (o->low >= o->high) {
		*cause = xasprintf("low (%g) must be below high (%g)", o->low, o->high);
		return -1;
	}
	return 0;
}

int
preview_format_of(const char *name)
{
	size_t n = strlen(name);

	if (n > 4 && strcasecmp(name + n - 4, ".png") == 0)
		return PREVIEW_FORMAT_PNG;
	if ((n > 4 && strcasecmp(name + n - 4, ".jpg") == 0) ||
	    (n > 5 && strcasecmp(name + n - 5, ".jpeg") == 0))
		return PREVIEW_FORMAT_JPEG;
	return PREVIEW_FORMAT_AUTO;
}

const char *
preview_content_type(int format)
{
	return format == PREVIEW_FORMAT_PNG ? "image/png" : "image/jpeg";
}

void
preview_output_clear(struct preview_output *out)
{
	free(out->data);
	out->data = NULL;
	out->len = 0;
	out->width = out->height = 0;
}

/* Where each source column or row falls in the output: cell c0 with weight
 * w0 (in source pixels), the rest (1 - w0) in c0 + 1. */
struct pv_span {
	long	 c0;
	double	 w0;
};

static struct pv_span *
pv_spans(long n, long out)
{
	struct pv_span *s = xreallocarray(NULL, (size_t)n, sizeof *s);
	double f = (double)n / (double)out, edge;
	long i;

	for (i = 0; i < n; i++) {
		s[i].c0 = (long)floor((double)i / f);
		if (s[i].c0 >= out)
			s[i].c0 = out - 1;
		edge = (double)(s[i].c0 + 1) * f;
		s[i].w0 = s[i].c0 + 1 < out && edge < (double)(i + 1) ? edge - (double)i : 1.0;
	}
	return s;
}

/* Add source row y (weight wy) into the output row's sums. */
static void
pv_add_row(const double *row, long nx, const struct pv_span *sx, double wy, double *sum,
    double *wsum)
{
	long x;
	double w;

	for (x = 0; x < nx; x++) {
		if (!isfinite(row[x]))
			continue;
		w = wy * sx[x].w0;
		sum[sx[x].c0] += w * row[x];
		wsum[sx[x].c0] += w;
		if (sx[x].w0 < 1.0) {
			w = wy * (1.0 - sx[x].w0);
			sum[sx[x].c0 + 1] += w * row[x];
			wsum[sx[x].c0 + 1] += w;
		}
	}
}

/* The grid area-averaged into w x h means (NaN where no finite value falls),
 * rows in FITS order; NULL when the deadline passes. */
static double *
pv_average(const double *v, long nx, long ny, long w, long h,
    const struct preview_deadline *dl)
{
	struct pv_span *sx = pv_spans(nx, w), *sy = pv_spans(ny, h);
	double *mean = xreallocarray(NULL, (size_t)w * (size_t)h, sizeof *mean);
	double *sum = xcalloc((size_t)w * 2, sizeof *sum), *wsum = sum + w;
	long y = 0, j, x;

	for (j = 0; j < h && mean != NULL; j++) {
		memset(sum, 0, (size_t)w * 2 * sizeof *sum);
		/* the rows that fall in output row j: wholly, or their first part
		 * (w0), or, for the row before, its rest */
		if (y > 0 && sy[y - 1].c0 == j - 1 && sy[y - 1].w0 < 1.0)
			pv_add_row(v + (y - 1) * nx, nx, sx, 1.0 - sy[y - 1].w0, sum, wsum);
		for (; y < ny && sy[y].c0 == j; y++)
			pv_add_row(v + y * nx, nx, sx, sy[y].w0, sum, wsum);
		for (x = 0; x < w; x++)
			mean[j * w + x] = wsum[x] > 0 ? sum[x] / wsum[x] : NAN;
		if (j % 64 == 63 && preview_expired(dl)) {
			free(mean);
			mean = NULL;
		}
	}
	free(sum);
	free(sx);
	free(sy);
	return mean;
}

/* Means to grey bytes, stretched and inverted, the last FITS row on top. */
static unsigned char *
pv_grey(const struct preview_opts *o, double vmin, double vmax, const double *mean, long w,
    long h)
{
	unsigned char *grey = xreallocarray(NULL, (size_t)w, (size_t)h), *row;
	double y;
	long i, j;
	int b;

	for (j = 0; j < h; j++) {
		row = grey + (size_t)(h - 1 - j) * (size_t)w;
		for (i = 0; i < w; i++) {
			y = isfinite(mean[j * w + i]) ? preview_stretch(o, vmin, vmax,
			    mean[j * w + i]) : 0;
			if (o->invert)
				y = 1 - y;
			b = (int)(y * 256);	/* matplotlib's colormap lookup: floor(y * N) */
			row[i] = (unsigned char)(b < 0 ? 0 : b > 255 ? 255 : b);
		}
	}
	return grey;
}

/* The output box: the plane scaled into size x size, never enlarged, and
 * never more pixels than the source (nx x ny) has. */
static void
pv_box(long naxis1, long naxis2, long nx, long ny, long size, long *w, long *h)
{
	double f = fmin(1.0, fmin((double)size / (double)naxis1, (double)size / (double)naxis2));

	*w = (long)lround((double)naxis1 * f);
	*h = (long)lround((double)naxis2 * f);
	*w = *w < 1 ? 1 : *w > nx ? nx : *w;
	*h = *h < 1 ? 1 : *h > ny ? ny : *h;
}

/* What the outputs of an image are made from: the pixels read, or, for an
 * output no larger than one already made, that one's means (a quarter of
 * the work for a thumbnail; the same area averages where the cells align). */
struct pv_source {
	double		*mean;		/* the largest output's means, or NULL */
	long		 mw, mh;
};

static int
pv_encode(const struct preview_opts *o, int channels, long w, long h, unsigned char *px,
    struct preview_output *out, const char *path, char **cause)
{
	int format = out->format != PREVIEW_FORMAT_AUTO ? out->format : o->format;
	char *why = NULL;
	int r;

	r = preview_encode(format, o->quality, (int)w, (int)h, channels, px, &out->data,
	    &out->len, &why);
	free(px);
	if (r != 0) {
		*cause = xasprintf("%s: %s", path, why);
		free(why);
		return -1;
	}
	out->width = (int)w;
	out->height = (int)h;
	return 0;
}

static int
pv_image(const struct preview_data *d, const struct preview_opts *o,
    const struct preview_info *info, const struct preview_deadline *dl, struct pv_source *src,
    struct preview_output *out, const char *path, char **cause)
{
	double *mean;
	long w, h;

	pv_box(d->naxis1, d->naxis2, d->nx, d->ny, out->size, &w, &h);
	if (src->mean != NULL && w <= src->mw && h <= src->mh)
		mean = pv_average(src->mean, src->mw, src->mh, w, h, dl);
	else
		mean = pv_average(d->v, d->nx, d->ny, w, h, dl);
	if (mean == NULL) {
		*cause = xasprintf("%s: preview timed out after %llu ms", path,
		    (unsigned long long)dl->ms);
		return -1;
	}
	if (pv_encode(o, 1, w, h, pv_grey(o, info->vmin, info->vmax, mean, w, h), out, path,
	    cause) != 0) {
		free(mean);
		return -1;
	}
	if (src->mean == NULL || (long)w * h > src->mw * src->mh) {
		free(src->mean);
		src->mean = mean;
		src->mw = w;
		src->mh = h;
	} else
		free(mean);
	return 0;
}

static int
pv_spectrum(const struct preview_data *d, const struct preview_opts *o,
    struct preview_output *out, const char *path, char **cause)
{
	unsigned char *px = NULL;
	char *why = NULL;
	int w, h;

	if (preview_plot(d, o, out->size, &px, &w, &h, &why) != 0) {
		*cause = xasprintf("%s: HDU %d: %s", path, d->hdu, why);
		free(why);
		return -1;
	}
	return pv_encode(o, 3, w, h, px, out, path, cause);
}

/* The outputs' order: the largest first, so the others can come from its means. */
static void
pv_order(const struct preview_output *outs, size_t n, size_t *order)
{
	size_t i, j, t;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && outs[order[j]].size > outs[order[j - 1]].size; j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
}

static void
pv_info(const struct preview_data *d, struct preview_info *info)
{
	info->hdu = d->hdu;
	info->kind = d->kind;
	info->naxis1 = d->naxis1;
	info->naxis2 = d->naxis2;
	info->stride = d->stride;
	info->nx = d->nx;
	info->ny = d->ny;
	info->float32 = d->float32;
	info->read_pixels = d->read_pixels;
}

int
preview_make(const char *path, const struct preview_opts *o, struct preview_output *outs,
    size_t nouts, struct preview_info *info, char **cause)
{
	struct preview_opts flux = *o;
	struct preview_deadline dl;
	struct preview_data d;
	struct preview_info local;
	struct pv_source src;
	size_t i, *order;
	long box = 1;
	int r = 0;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof *info);
	for (i = 0; i < nouts; i++) {
		if (outs[i].size < 1 || outs[i].size > PREVIEW_SIZE_MAX) {
			*cause = xasprintf("%s: a preview size of %ld is not 1 to %d", path,
			    outs[i].size, PREVIEW_SIZE_MAX);
			return -1;
		}
		box = outs[i].size > box ? outs[i].size : box;
	}
	preview_deadline_start(&dl, o->timeout_ms);
	if (preview_read(path, o, box, &dl, &d, cause) != 0)
		return -1;
	memset(&src, 0, sizeof src);
	pv_info(&d, info);
	flux.scale = PREVIEW_MINMAX;	/* a spectrum's flux: its whole range */
	if (preview_limits_n(d.v, (size_t)d.nx * (size_t)d.ny, d.nfinite, d.float32, d.kind ==
	    PREVIEW_KIND_SPECTRUM ? &flux : o, &info->vmin, &info->vmax) != 0) {
		*cause = xasprintf("%s: HDU %d: no finite pixel value", path, d.hdu);
		r = -1;
	}
	order = xcalloc(nouts + 1, sizeof *order);
	pv_order(outs, nouts, order);
	for (i = 0; r == 0 && i < nouts; i++) {
		if (d.kind == PREVIEW_KIND_SPECTRUM)
			r = pv_spectrum(&d, o, &outs[order[i]], path, cause);
		else
			r = pv_image(&d, o, info, &dl, &src, &outs[order[i]], path, cause);
	}
	for (i = 0; r != 0 && i < nouts; i++)
		preview_output_clear(&outs[i]);
	free(order);
	free(src.mean);
	preview_data_free(&d);
	return r;
}
