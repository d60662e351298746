/*
 * preview_scale.c - display limits and stretches, as astropy computes them
 * (astropy.visualization: ZScaleInterval, MinMaxInterval,
 * AsymmetricPercentileInterval, and the stretches), ported to C so that the
 * daemon gives the same limits as the Python pipelines; see preview.h.
 *
 * Where numpy's arithmetic depends on the array's type, the float32 case is
 * followed: np.median of float32 samples sums the two middle values in
 * float32, and np.percentile subtracts its two neighbours in float32.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caom/preview.h"
#include "caom/preview_int.h"
#include "lib/xmalloc.h"

/* ZScaleInterval's defaults. */
#define ZS_SAMPLES	1000
#define ZS_CONTRAST	0.25
#define ZS_MAX_REJECT	0.5
#define ZS_MIN_NPIXELS	5
#define ZS_KREJ		2.5
#define ZS_ITERATIONS	5

static int
scale_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The finite values of v (n of them), in order; *nf receives their count. */
static double *
scale_finite(const double *v, size_t n, size_t *nf)
{
	double *f = xreallocarray(NULL, n > 0 ? n : 1, sizeof *f);
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (isfinite(v[i]))
			f[k++] = v[i];
	}
	*nf = k;
	return f;
}

/* np.median of sorted values (numpy means the middle two in the array's type). */
static double
scale_median(const double *s, size_t n, int float32)
{
	float a, b;

	if (n % 2 == 1)
		return s[n / 2];
	if (!float32)
		return (s[n / 2 - 1] + s[n / 2]) / 2.0;
	a = (float)s[n / 2 - 1];
	b = (float)s[n / 2];
	return (double)((a + b) / 2.0f);
}

/* np.polyfit(x, s, 1, w=~bad): least squares over the good samples, x = 0..n-1. */
static void
scale_fit(const double *s, const unsigned char *bad, size_t n, double *slope,
    double *intercept)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, dx;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (!bad[i]) {
			mx += (double)i;
			my += s[i];
			k++;
		}
	}
	mx /= (double)k;
	my /= (double)k;
	for (i = 0; i < n; i++) {
		if (!bad[i]) {
			dx = (double)i - mx;
			sxx += dx * dx;
			sxy += dx * (s[i] - my);
		}
	}
	*slope = sxx > 0 ? sxy / sxx : 0;
	*intercept = my - *slope * mx;
}

/* The population standard deviation of flat over the good samples. */
static double
scale_std(const double *flat, const unsigned char *bad, size_t n)
{
	double mean = 0, var = 0;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (!bad[i]) {
			mean += flat[i];
			k++;
		}
	}
	mean /= (double)k;
	for (i = 0; i < n; i++) {
		if (!bad[i])
			var += (flat[i] - mean) * (flat[i] - mean);
	}
	return sqrt(var / (double)k);
}

/* np.convolve(bad, ones(ngrow), mode='same') of a boolean mask: a dilation,
 * out[i] = any(bad[i - ngrow/2 .. i - ngrow/2 + ngrow - 1]); the good count. */
static size_t
scale_dilate(unsigned char *bad, unsigned char *tmp, size_t n, size_t ngrow)
{
	size_t i, good = 0;
	long j, lo, hi;

	memcpy(tmp, bad, n);
	for (i = 0; i < n; i++) {
		lo = (long)i - (long)(ngrow / 2);
		hi = lo + (long)ngrow - 1;
		bad[i] = 0;
		for (j = lo < 0 ? 0 : lo; j <= hi && j < (long)n; j++) {
			if (tmp[j]) {
				bad[i] = 1;
				break;
			}
		}
		good += !bad[i];
	}
	return good;
}

/* The rejection loop of ZScaleInterval.get_limits; 1 with the last fit's slope
 * when enough samples remain, else 0. */
static int
scale_zscale_fit(const double *s, size_t npix, size_t minpix, double *slope_out)
{
	unsigned char *bad = xcalloc(npix, 1), *tmp = xcalloc(npix, 1);
	double *flat = xreallocarray(NULL, npix, sizeof *flat), slope = 0, icpt, thr;
	size_t ngood = npix, last = npix + 1, ngrow, i;
	int it;

	ngrow = (size_t)((double)npix * 0.01);
	if (ngrow < 1)
		ngrow = 1;
	for (it = 0; it < ZS_ITERATIONS; it++) {
		if (ngood >= last || ngood < minpix)
			break;
		scale_fit(s, bad, npix, &slope, &icpt);
		for (i = 0; i < npix; i++)
			flat[i] = s[i] - (slope * (double)i + icpt);
		thr = ZS_KREJ * scale_std(flat, bad, npix);
		for (i = 0; i < npix; i++) {
			if (flat[i] < -thr || flat[i] > thr)
				bad[i] = 1;
		}
		last = ngood;
		ngood = scale_dilate(bad, tmp, npix, ngrow);
	}
	free(bad);
	free(tmp);
	free(flat);
	*slope_out = slope;
	return ngood >= minpix;
}

/* ZScaleInterval().get_limits(values) with its defaults. The samples are
 * picked from v directly, without a copy of its finite values; when all are
 * finite, by their index. */
static int
scale_zscale(const double *v, size_t n, size_t nf, int float32, double *vmin, double *vmax)
{
	double *s, slope, median, lo, hi;
	size_t stride, npix = 0, i, skip, minpix, center;

	if (nf == SIZE_MAX) {
		for (i = 0, nf = 0; i < n; i++)
			nf += isfinite(v[i]) != 0;
	}
	if (nf == 0)
		return -1;
	/* stride = int(max(1.0, values.size / n_samples)) over the finite values;
	 * samples = values[::stride][:n_samples] */
	stride = (size_t)fmax(1.0, (double)nf / (double)ZS_SAMPLES);
	s = xreallocarray(NULL, ZS_SAMPLES, sizeof *s);
	for (i = 0; nf == n && i < n && npix < ZS_SAMPLES; i += stride)
		s[npix++] = v[i];
	for (i = 0, skip = 0; nf < n && i < n && npix < ZS_SAMPLES; i++) {
		if (!isfinite(v[i]))
			continue;
		if (skip-- == 0) {	/* finite values 0, stride, 2 * stride, ... */
			s[npix++] = v[i];
			skip = stride - 1;
		}
	}
	qsort(s, npix, sizeof *s, scale_cmp);
	lo = s[0];
	hi = s[npix - 1];
	minpix = (size_t)((double)npix * ZS_MAX_REJECT);
	if (minpix < ZS_MIN_NPIXELS)
		minpix = ZS_MIN_NPIXELS;
	if (scale_zscale_fit(s, npix, minpix, &slope)) {
		slope /= ZS_CONTRAST;
		center = (npix - 1) / 2;
		median = scale_median(s, npix, float32);
		lo = fmax(lo, median - ((double)center - 1) * slope);
		hi = fmin(hi, median + (double)(npix - center) * slope);
	}
	free(s);
	*vmin = lo;
	*vmax = hi;
	return 0;
}

/* np.percentile(sorted, p), method 'linear' (numpy's _lerp). */
static double
scale_percentile(const double *s, size_t n, double p, int float32)
{
	double q = p / 100.0, virt = (double)(n - 1) * q, t, d;
	size_t prev;

	if (virt >= (double)(n - 1))
		return s[n - 1];
	if (virt < 0)
		return s[0];
	prev = (size_t)floor(virt);
	t = virt - (double)prev;
	d = float32 ? (double)((float)s[prev + 1] - (float)s[prev]) : s[prev + 1] - s[prev];
	return t >= 0.5 ? s[prev + 1] - d * (1 - t) : s[prev] + d * t;
}

/* MinMaxInterval: 0, or -1 when no value is finite. */
static int
scale_minmax(const double *v, size_t n, double *vmin, double *vmax)
{
	size_t i;
	int any = 0;

	for (i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		if (!any || v[i] < *vmin)
			*vmin = v[i];
		if (!any || v[i] > *vmax)
			*vmax = v[i];
		any = 1;
	}
	return any ? 0 : -1;
}

int
preview_limits(const double *v, size_t n, int float32, const struct preview_opts *o,
    double *vmin, double *vmax)
{
	return preview_limits_n(v, n, SIZE_MAX, float32, o, vmin, vmax);
}

int
preview_limits_n(const double *v, size_t n, size_t nfinite, int float32,
    const struct preview_opts *o, double *vmin, double *vmax)
{
	double *f;
	size_t nf;

	if (o->scale == PREVIEW_ZSCALE)
		return scale_zscale(v, n, nfinite, float32, vmin, vmax);
	if (o->scale == PREVIEW_MINMAX)
		return scale_minmax(v, n, vmin, vmax);
	f = scale_finite(v, n, &nf);
	if (nf > 0) {
		qsort(f, nf, sizeof *f, scale_cmp);
		*vmin = scale_percentile(f, nf, o->low, float32);
		*vmax = scale_percentile(f, nf, o->high, float32);
	}
	free(f);
	return nf > 0 ? 0 : -1;
}

double
preview_stretch(const struct preview_opts *o, double vmin, double vmax, double v)
{
	double x = v - vmin;

	/* the interval's normalisation, clipped (ImageNormalize, clip=True) */
	if (vmax - vmin != 0)
		x /= vmax - vmin;
	x = x < 0 ? 0 : x > 1 ? 1 : x;
	switch (o->stretch) {
	case PREVIEW_SQRT:
		return sqrt(x);
	case PREVIEW_LOG:		/* LogStretch(a=1000) */
		return log(1000.0 * x + 1.0) / log(1000.0 + 1.0);
	case PREVIEW_ASINH:		/* AsinhStretch(a=0.1) */
		return asinh(x / 0.1) / asinh(1.0 / 0.1);
	case PREVIEW_POWER:		/* PowerStretch(a) */
		return pow(x, o->exponent);
	default:
		return x;
	}
}
