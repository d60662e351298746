/*
 * preview.h - previews and thumbnails made from a FITS file's pixels.
 *
 * An image HDU is read with cfitsio as numbers (BSCALE/BZERO applied, BLANK
 * and IEEE NaN as NaN, tile-compressed images too), its length-1 axes
 * squeezed out and, for a cube, its first plane taken; an image larger than
 * twice the largest output box is read with a stride (fits_read_subset), so
 * that at most about four times the output's pixels are ever held. The
 * display limits come from the pixels read, by zscale (astropy's
 * ZScaleInterval with its defaults, exactly: its sampling, its iterative
 * rejection fit and, for float32 data, numpy's float32 median), the minimum
 * and maximum, or two percentiles (numpy's linear interpolation); values are
 * then normalised to [0, 1], clipped, stretched as astropy's stretches do
 * (linear, sqrt, log with a = 1000, asinh with a = 0.1, power), optionally
 * inverted, and area-averaged into the output box keeping the aspect ratio
 * (an image smaller than the box keeps its size), top row = the last FITS
 * row. Grey PNG (libpng) or JPEG (libjpeg).
 *
 * One-dimensional data (or a 2-D spectrum when asked, averaged across the
 * dispersion axis DISPAXIS) becomes a line plot of the flux against the
 * WCS spectral coordinate (wcslib), with axes, ticks and labels (cairo).
 *
 * Everything here blocks (a worker's job) and is thread-safe (separate
 * calls share nothing; cfitsio must be built reentrant, as Debian's is).
 * Time is bounded by a deadline checked between row strips, memory by the
 * stride.
 */
#ifndef CAOM2INGEST_PREVIEW_H
#define CAOM2INGEST_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#define PREVIEW_SIZE_MAX	4096	/* the largest output box */
#define PREVIEW_SPECTRUM_MAX	(1L << 20)	/* points of a spectrum held, at most */

enum preview_kind { PREVIEW_KIND_AUTO, PREVIEW_KIND_IMAGE, PREVIEW_KIND_SPECTRUM };
enum preview_scale { PREVIEW_ZSCALE, PREVIEW_MINMAX, PREVIEW_PERCENTILE };
enum preview_stretch {
	PREVIEW_LINEAR, PREVIEW_SQRT, PREVIEW_LOG, PREVIEW_ASINH, PREVIEW_POWER
};
enum preview_format { PREVIEW_FORMAT_AUTO, PREVIEW_FORMAT_PNG, PREVIEW_FORMAT_JPEG };

/* The names of each enumeration, in its order, NULL-terminated (for the
 * configuration's choices and the command line). */
extern const char *const preview_kind_names[];
extern const char *const preview_scale_names[];
extern const char *const preview_stretch_names[];
extern const char *const preview_format_names[];

struct preview_opts {
	int		 hdu;		/* 0-based HDU, -1: auto (the first with >= 2
					 * axes longer than 1, else the first with one) */
	int		 kind;		/* enum preview_kind */
	int		 scale;		/* enum preview_scale */
	double		 low, high;	/* percentile limits, 0 <= low < high <= 100 */
	int		 stretch;	/* enum preview_stretch */
	double		 exponent;	/* of the power stretch, > 0 */
	int		 invert;	/* white background (images), dark (plots) */
	int		 format;	/* outputs' format when theirs is AUTO */
	int		 quality;	/* JPEG, 1 .. 100 */
	uint64_t	 timeout_ms;	/* per call, 0: none */
};

/* The defaults: hdu auto, zscale, linear, 1 and 99 percent, exponent 2, JPEG
 * quality 90, timeout 30 s. */
void preview_opts_init(struct preview_opts *o);
/*
 * Set one option from text, by name: hdu (auto or an index), kind, scale,
 * low, high, stretch, exponent, invert (true/false), format (png, jpeg),
 * quality. 0, or -1 with *cause ("NAME: 'VALUE' is not ...").
 */
int preview_opts_set(struct preview_opts *o, const char *name, const char *value,
    char **cause);
/* Are the options consistent (low < high)? 0, or -1 with *cause. */
int preview_opts_check(const struct preview_opts *o, char **cause);
/* The format a file name's suffix says (.png; .jpg, .jpeg), else AUTO. */
int preview_format_of(const char *name);
/* The content type of a format (image/png, image/jpeg; AUTO counts as JPEG). */
const char *preview_content_type(int format);

struct preview_output {
	long		 size;		/* in: the box, 1 .. PREVIEW_SIZE_MAX pixels */
	int		 format;	/* in: enum preview_format (AUTO: the opts') */
	unsigned char	*data;		/* out: the encoded file (free) */
	size_t		 len;
	int		 width, height;	/* out */
};

/* What preview_make read and how it scaled it. */
struct preview_info {
	int		 hdu;		/* 0-based */
	int		 kind;		/* IMAGE or SPECTRUM */
	long		 naxis1, naxis2; /* the plane (after squeezing; naxis2 1 for 1-D) */
	long		 stride;	/* 1: every pixel read */
	long		 nx, ny;	/* pixels read (the strided grid) */
	int		 float32;	/* astropy would hold these pixels as float32 */
	double		 vmin, vmax;	/* the display limits (spectra: of the flux) */
	uint64_t	 read_pixels;	/* values read from the file */
};

/*
 * Make each output of outs from path's data (FITS, tile-compressed, or
 * gzipped up to 1 GiB). 0 with every output's data, or -1 with *cause
 * ("PATH: reason") and none; info (may be NULL) is filled either way as far
 * as it got.
 */
int preview_make(const char *path, const struct preview_opts *o, struct preview_output *outs,
    size_t nouts, struct preview_info *info, char **cause);
/* Free an output's data and reset it (its size and format kept). */
void preview_output_clear(struct preview_output *out);

/*
 * The display limits of n values (NaN and infinities skipped, as astropy
 * does) by o's scale: 0, or -1 when none is finite. float32: the values are
 * float32 numbers (numpy then computes medians and differences in float32).
 */
int preview_limits(const double *v, size_t n, int float32, const struct preview_opts *o,
    double *vmin, double *vmax);
/* Release the font caches cairo and fontconfig keep for plots; at exit only,
 * when no preview is being made on any thread. */
void preview_cleanup(void);
/* A value normalised to [0, 1] between the limits, then stretched (astropy's). */
double preview_stretch(const struct preview_opts *o, double vmin, double vmax, double v);

#endif
