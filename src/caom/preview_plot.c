/*
 * preview_plot.c - a spectrum's preview: flux against the spectral
 * coordinate, with a frame, ticks at round values, tick labels, axis labels
 * and a title, drawn with cairo (see preview_int.h). More points than
 * pixel columns are drawn as each column's minimum-to-maximum span, so a
 * spike survives and the drawing costs no more than the plot is wide.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "caom/preview_int.h"
#include "lib/xmalloc.h"

/* The plot's frame in pixels and the data ranges it shows. */
struct plot_frame {
	double	 left, right, top, bottom;	/* the frame's edges */
	double	 x0, x1, y0, y1;		/* data at the edges */
	double	 font;				/* pixels */
	double	 fg[3];
};

static double
plot_sx(const struct plot_frame *f, double x)
{
	return f->left + (x - f->x0) / (f->x1 - f->x0) * (f->right - f->left);
}

static double
plot_sy(const struct plot_frame *f, double y)
{
	return f->bottom - (y - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top);
}

/* A round tick step giving about n ticks over [lo, hi]: 1, 2 or 5 x 10^k. */
static double
plot_step(double lo, double hi, int n)
{
	double raw = (hi - lo) / (n > 1 ? n : 1), mag = pow(10, floor(log10(raw))), r = raw / mag;

	return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static void
plot_label(double v, double step, char *out, size_t len)
{
	int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);

	if (v != 0 && (fabs(v) >= 1e6 || fabs(v) < 1e-4))
		snprintf(out, len, "%.3g", v);
	else
		snprintf(out, len, "%.*f", decimals > 10 ? 10 : decimals, fabs(v) < step * 1e-9 ?
		    0.0 : v);
}

/* Text centred on (x, y) by ax/ay (0 left/top .. 1 right/bottom), rotated by rot. */
static void
plot_text(cairo_t *cr, const char *s, double x, double y, double ax, double ay, double rot)
{
	cairo_text_extents_t te;

	cairo_save(cr);
	cairo_translate(cr, x, y);
	cairo_rotate(cr, rot);
	cairo_text_extents(cr, s, &te);
	cairo_move_to(cr, -te.x_bearing - te.width * ax, -te.y_bearing - te.height * ay);
	cairo_show_text(cr, s);
	cairo_restore(cr);
}

/* Ticks and labels along one axis (x: along the bottom; else the left). */
static void
plot_ticks(cairo_t *cr, const struct plot_frame *f, int x)
{
	double lo = x ? f->x0 : f->y0, hi = x ? f->x1 : f->y1, len = f->font * 0.5, step, v, p;
	int n = x ? (int)((f->right - f->left) / (f->font * 9)) : (int)((f->bottom - f->top) /
	    (f->font * 3));
	char text[32];

	step = plot_step(lo, hi, n < 2 ? 2 : n);
	for (v = ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
		p = x ? plot_sx(f, v) : plot_sy(f, v);
		if (x) {
			cairo_move_to(cr, p, f->bottom);
			cairo_line_to(cr, p, f->bottom - len);
		} else {
			cairo_move_to(cr, f->left, p);
			cairo_line_to(cr, f->left + len, p);
		}
		cairo_stroke(cr);
		plot_label(v, step, text, sizeof text);
		if (x)
			plot_text(cr, text, p, f->bottom + len, 0.5, 0, 0);
		else
			plot_text(cr, text, f->left - len, p, 1, 0.5, 0);
	}
}

/* The data ranges: finite points only, the flux padded by 5%. */
static int
plot_ranges(const struct preview_data *d, struct plot_frame *f)
{
	double pad;
	long i;
	int any = 0;

	for (i = 0; i < d->nx; i++) {
		if (!isfinite(d->v[i]) || !isfinite(d->world[i]))
			continue;
		if (!any) {
			f->x0 = f->x1 = d->world[i];
			f->y0 = f->y1 = d->v[i];
			any = 1;
		}
		f->x0 = fmin(f->x0, d->world[i]);
		f->x1 = fmax(f->x1, d->world[i]);
		f->y0 = fmin(f->y0, d->v[i]);
		f->y1 = fmax(f->y1, d->v[i]);
	}
	if (!any)
		return -1;
	if (f->x1 == f->x0) {
		f->x0 -= 0.5;
		f->x1 += 0.5;
	}
	pad = f->y1 > f->y0 ? (f->y1 - f->y0) * 0.05 : fabs(f->y0) > 0 ? fabs(f->y0) * 0.05 : 1;
	f->y0 -= pad;
	f->y1 += pad;
	return 0;
}

/* One pixel column's span, joined to what the path drew before (if anything). */
static void
plot_span(cairo_t *cr, long col, double lo, double hi, int *drawn)
{
	if (*drawn)
		cairo_line_to(cr, (double)col + 0.5, lo);
	else
		cairo_move_to(cr, (double)col + 0.5, lo);
	cairo_line_to(cr, (double)col + 0.5, hi);
	*drawn = 1;
}

/* The spectrum: a polyline, or each pixel column's span when the points are
 * denser than the columns; a non-finite point is a gap. */
static void
plot_line(cairo_t *cr, const struct preview_data *d, const struct plot_frame *f)
{
	long i, col = 0, c;
	double lo = 0, hi = 0, sx, sy;
	int drawn = 0, pending = 0, dense = d->nx > 2 * (long)(f->right - f->left);

	for (i = 0; i < d->nx; i++) {
		if (!isfinite(d->v[i]) || !isfinite(d->world[i])) {
			if (pending)
				plot_span(cr, col, lo, hi, &drawn);
			drawn = pending = 0;
			continue;
		}
		sx = plot_sx(f, d->world[i]);
		sy = plot_sy(f, d->v[i]);
		if (!dense) {
			if (drawn)
				cairo_line_to(cr, sx, sy);
			else
				cairo_move_to(cr, sx, sy);
			drawn = 1;
			continue;
		}
		c = (long)floor(sx);
		if (pending && c == col) {
			lo = fmin(lo, sy);
			hi = fmax(hi, sy);
			continue;
		}
		if (pending)
			plot_span(cr, col, lo, hi, &drawn);
		col = c;
		lo = hi = sy;
		pending = 1;
	}
	if (pending)
		plot_span(cr, col, lo, hi, &drawn);
	cairo_stroke(cr);
}

static void
plot_draw(cairo_t *cr, const struct preview_data *d, const struct preview_opts *o,
    struct plot_frame *f, int w, int h)
{
	double bg = o->invert ? 0.0 : 1.0, fg = 1.0 - bg;

	cairo_set_source_rgb(cr, bg, bg, bg);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
	    CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, f->font);
	cairo_set_line_width(cr, fmax(1.0, w / 700.0));
	cairo_set_source_rgb(cr, fg, fg, fg);
	cairo_rectangle(cr, f->left, f->top, f->right - f->left, f->bottom - f->top);
	cairo_stroke(cr);
	plot_ticks(cr, f, 1);
	plot_ticks(cr, f, 0);
	plot_text(cr, d->xlabel, (f->left + f->right) / 2, h - f->font * 0.3, 0.5, 1, 0);
	plot_text(cr, d->ylabel, f->font * 0.3, (f->top + f->bottom) / 2, 0.5, 0, -M_PI / 2);
	if (d->title[0] != '\0')
		plot_text(cr, d->title, (f->left + f->right) / 2, f->font * 0.3, 0.5, 0, 0);
	cairo_save(cr);
	cairo_rectangle(cr, f->left, f->top, f->right - f->left, f->bottom - f->top);
	cairo_clip(cr);
	if (o->invert)
		cairo_set_source_rgb(cr, 0.55, 0.8, 1.0);
	else
		cairo_set_source_rgb(cr, 0.0, 0.2, 0.6);
	plot_line(cr, d, f);
	cairo_restore(cr);
}

/* The surface's pixels as RGB rows. */
static unsigned char *
plot_rgb(cairo_surface_t *s, int w, int h)
{
	unsigned char *rgb = xreallocarray(NULL, (size_t)w * (size_t)h, 3), *src;
	int stride = cairo_image_surface_get_stride(s), x, y;
	uint32_t px;

	cairo_surface_flush(s);
	src = cairo_image_surface_get_data(s);
	for (y = 0; y < h; y++) {
		for (x = 0; x < w; x++) {
			memcpy(&px, src + (size_t)y * (size_t)stride + (size_t)x * 4, 4);
			rgb[((size_t)y * (size_t)w + (size_t)x) * 3] = (unsigned char)(px >> 16);
			rgb[((size_t)y * (size_t)w + (size_t)x) * 3 + 1] = (unsigned char)(px >> 8);
			rgb[((size_t)y * (size_t)w + (size_t)x) * 3 + 2] = (unsigned char)px;
		}
	}
	return rgb;
}

int
preview_plot(const struct preview_data *d, const struct preview_opts *o, long size,
    unsigned char **rgb, int *width, int *height, char **cause)
{
	struct plot_frame f;
	cairo_surface_t *s;
	cairo_t *cr;
	int w = (int)size, h = (int)(size * 3 / 4) > 0 ? (int)(size * 3 / 4) : 1;

	memset(&f, 0, sizeof f);
	if (d->world == NULL || plot_ranges(d, &f) != 0) {
		*cause = xstrdup("no finite flux value to plot");
		return -1;
	}
	f.font = fmax(7.0, w / 64.0);
	f.left = f.font * 6.5;
	f.right = w - f.font * 1.5;
	f.top = f.font * 2;
	f.bottom = h - f.font * 3.2;
	if (f.right - f.left < 8 || f.bottom - f.top < 8) {
		*cause = xasprintf("%ld pixels are too few for a plot", size);
		return -1;
	}
	s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		*cause = xasprintf("cairo: %s", cairo_status_to_string(cairo_surface_status(s)));
		cairo_surface_destroy(s);
		return -1;
	}
	cr = cairo_create(s);
	plot_draw(cr, d, o, &f, w, h);
	cairo_destroy(cr);
	*rgb = plot_rgb(s, w, h);
	cairo_surface_destroy(s);
	*width = w;
	*height = h;
	return 0;
}

void
preview_cleanup(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
