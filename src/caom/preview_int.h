/*
 * preview_int.h - the parts of the preview module (see preview.h) between
 * themselves: reading the pixels (preview_read.c), plotting a spectrum
 * (preview_plot.c) and encoding PNG and JPEG (preview_encode.c).
 */
#ifndef CAOM2INGEST_PREVIEW_INT_H
#define CAOM2INGEST_PREVIEW_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "caom/preview.h"

/* When a call must give up (CLOCK_MONOTONIC); set 0: never. */
struct preview_deadline {
	int		 set;
	struct timespec	 end;
	uint64_t	 ms;		/* for the message */
};

/* Start a deadline ms from now (0: none). */
void preview_deadline_start(struct preview_deadline *dl, uint64_t ms);
/* 1 when it has passed. */
int preview_expired(const struct preview_deadline *dl);

/* What was read of the chosen HDU. */
struct preview_data {
	int		 kind;		/* IMAGE or SPECTRUM */
	int		 hdu;
	long		 naxis1, naxis2; /* the plane, squeezed */
	long		 stride;
	long		 nx, ny;	/* the values held: nx * ny, FITS order */
	int		 float32;
	double		*v;
	double		*world;		/* spectra: nx spectral coordinates, or NULL */
	char		 xlabel[96];	/* spectra: axis labels and a title */
	char		 ylabel[96];
	char		 title[96];
	uint64_t	 read_pixels;
	size_t		 nfinite;	/* of the values held */
};

/* Read the HDU o chooses of path, strided for an output box of box pixels
 * (images) or to PREVIEW_SPECTRUM_MAX points (spectra). 0, or -1 with *cause. */
int preview_read(const char *path, const struct preview_opts *o, long box,
    const struct preview_deadline *dl, struct preview_data *d, char **cause);
/* Free what preview_read allocated. */
void preview_data_free(struct preview_data *d);

/* preview_limits of n values of which nfinite are finite (SIZE_MAX: not counted). */
int preview_limits_n(const double *v, size_t n, size_t nfinite, int float32,
    const struct preview_opts *o, double *vmin, double *vmax);

/* A spectrum plot of size x 3/4 size pixels as RGB rows (malloc'ed); 0, or -1 with *cause. */
int preview_plot(const struct preview_data *d, const struct preview_opts *o, long size,
    unsigned char **rgb, int *width, int *height, char **cause);

/* Encode width x height pixels of channels (1 grey, 3 RGB) bytes as PNG or
 * JPEG into *out (malloc'ed) and *len; 0, or -1 with *cause. */
int preview_encode(int format, int quality, int width, int height, int channels,
    const unsigned char *pixels, unsigned char **out, size_t *len, char **cause);

#endif
