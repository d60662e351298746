/*
 * preview_encode.c - grey or RGB rows into a PNG (libpng) or JPEG (libjpeg)
 * file in memory (see preview_int.h). Both libraries report errors by
 * longjmp; each call has its own state, so encoders on several threads do
 * not meet.
 */
#include "config.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "caom/preview_int.h"
#include "lib/xmalloc.h"

/* A growing buffer the PNG is written into. */
struct enc_buf {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
	char		 error[160];
};

static void
enc_png_write(png_structp png, png_bytep data, png_size_t n)
{
	struct enc_buf *b = png_get_io_ptr(png);

	if (b->len + n > b->cap) {
		while (b->len + n > b->cap)
			b->cap = b->cap > 0 ? b->cap * 2 : 65536;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
enc_png_flush(png_structp png)
{
	(void)png;
}

static void
enc_png_error(png_structp png, png_const_charp msg)
{
	struct enc_buf *b = png_get_error_ptr(png);

	snprintf(b->error, sizeof b->error, "%s", msg);
	png_longjmp(png, 1);
}

static void
enc_png_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* The rows into b; 0, or -1 with b->error. */
static int
enc_png_rows(png_structp png, png_infop info, struct enc_buf *b, int width, int height,
    int channels, const unsigned char *pixels)
{
	int y;

	if (setjmp(png_jmpbuf(png)))
		return -1;
	png_set_write_fn(png, b, enc_png_write, enc_png_flush);
	png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
	    channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
	    PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	/* one cheap filter and a quick level: most of the time went to libpng's
	 * adaptive filtering and zlib level 6, for files a few percent smaller */
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
	png_set_compression_level(png, 3);
	png_write_info(png, info);
	for (y = 0; y < height; y++)
		png_write_row(png, pixels + (size_t)y * (size_t)width * (size_t)channels);
	png_write_end(png, NULL);
	return 0;
}

static int
enc_png(int width, int height, int channels, const unsigned char *pixels, unsigned char **out,
    size_t *len, char **cause)
{
	struct enc_buf b;
	png_structp png;
	png_infop info;
	int r;

	memset(&b, 0, sizeof b);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &b, enc_png_error, enc_png_warning);
	if (png == NULL || (info = png_create_info_struct(png)) == NULL) {
		png_destroy_write_struct(&png, NULL);
		*cause = xstrdup("libpng: cannot start");
		return -1;
	}
	r = enc_png_rows(png, info, &b, width, height, channels, pixels);
	png_destroy_write_struct(&png, &info);
	if (r != 0) {
		free(b.p);
		*cause = xasprintf("libpng: %s", b.error);
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

struct enc_jerr {
	struct jpeg_error_mgr	 mgr;
	jmp_buf			 jb;
	char			 msg[JMSG_LENGTH_MAX];
};

static void
enc_jpeg_exit(j_common_ptr c)
{
	struct enc_jerr *e = (struct enc_jerr *)(void *)c->err;

	(*c->err->format_message)(c, e->msg);
	longjmp(e->jb, 1);
}

static void
enc_jpeg_output(j_common_ptr c)
{
	(void)c;		/* warnings are not worth a word */
}

/* Compress into the memory destination; 0, or -1 with e->msg. */
static int
enc_jpeg_rows(struct jpeg_compress_struct *c, struct enc_jerr *e, int quality, int width,
    int height, int channels, const unsigned char *pixels, unsigned char **buf,
    unsigned long *size)
{
	JSAMPROW row;

	if (setjmp(e->jb))
		return -1;
	jpeg_create_compress(c);
	jpeg_mem_dest(c, buf, size);
	c->image_width = (JDIMENSION)width;
	c->image_height = (JDIMENSION)height;
	c->input_components = channels;
	c->in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(c);
	jpeg_set_quality(c, quality, TRUE);
	jpeg_start_compress(c, TRUE);
	while (c->next_scanline < c->image_height) {
		row = (JSAMPROW)(uintptr_t)(pixels + (size_t)c->next_scanline * (size_t)width *
		    (size_t)channels);
		jpeg_write_scanlines(c, &row, 1);
	}
	jpeg_finish_compress(c);
	return 0;
}

static int
enc_jpeg(int quality, int width, int height, int channels, const unsigned char *pixels,
    unsigned char **out, size_t *len, char **cause)
{
	struct jpeg_compress_struct c;
	struct enc_jerr e;
	unsigned char *buf = NULL;
	unsigned long size = 0;
	int r;

	memset(&c, 0, sizeof c);
	memset(&e, 0, sizeof e);
	c.err = jpeg_std_error(&e.mgr);
	e.mgr.error_exit = enc_jpeg_exit;
	e.mgr.output_message = enc_jpeg_output;
	r = enc_jpeg_rows(&c, &e, quality, width, height, channels, pixels, &buf, &size);
	jpeg_destroy_compress(&c);
	if (r != 0) {
		free(buf);
		*cause = xasprintf("libjpeg: %s", e.msg);
		return -1;
	}
	*out = buf;		/* malloc'ed by libjpeg: free() releases it */
	*len = size;
	return 0;
}

int
preview_encode(int format, int quality, int width, int height, int channels,
    const unsigned char *pixels, unsigned char **out, size_t *len, char **cause)
{
	if (format == PREVIEW_FORMAT_PNG)
		return enc_png(width, height, channels, pixels, out, len, cause);
	return enc_jpeg(quality, width, height, channels, pixels, out, len, cause);
}
