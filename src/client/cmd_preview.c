/*
 * cmd_preview.c - `caom2ingest preview`: make a preview (and a thumbnail) of
 * one FITS file offline, with the options a naming rule's previews take, so
 * that the settings can be tried (see caom2ingest(1)).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/preview.h"
#include "client/client.h"
#include "conf/conf.h"
#include "lib/xmalloc.h"

struct preview_args {
	const char		*file;
	const char		*out[2];	/* preview, thumbnail */
	long			 size[2];
	int			 print_limits;
	struct preview_opts	 o;
};

static int
preview_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "caom2ingest preview: %s\n", why);
	fprintf(stderr, "usage: caom2ingest preview FILE [-o OUT] [--size N]\n"
	    "           [-t THUMBNAIL [--thumbnail-size N]] [--format png|jpeg]\n"
	    "           [--hdu N|auto] [--kind auto|image|spectrum]\n"
	    "           [--scale zscale|minmax|percentile [--low P] [--high P]]\n"
	    "           [--stretch linear|sqrt|log|asinh|power [--exponent A]] [--invert]\n"
	    "           [--quality Q] [--timeout DURATION] [--print-limits]\n");
	return CLIENT_EXIT_USAGE;
}

static int
preview_size(const char *arg, long *size)
{
	char *end;

	errno = 0;
	*size = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || *size < 1 || *size > PREVIEW_SIZE_MAX)
		return -1;
	return 0;
}

/* An option of the table: the library's own names, or one of ours. */
static int
preview_option(struct preview_args *a, const char *name, const char *arg)
{
	char *cause = NULL;
	int r;

	if (strcmp(name, "size") == 0 || strcmp(name, "thumbnail-size") == 0) {
		if (preview_size(arg, &a->size[name[0] == 't']) == 0)
			return 0;
		cause = xasprintf("--%s: '%s' is not a size from 1 to %d", name, arg,
		    PREVIEW_SIZE_MAX);
	} else if (strcmp(name, "timeout") == 0) {
		if (conf_parse_duration(arg, &a->o.timeout_ms) == 0)
			return 0;
		cause = xasprintf("--timeout: '%s' is not a duration", arg);
	} else if (preview_opts_set(&a->o, name, arg, &cause) == 0)
		return 0;
	r = preview_usage(cause);
	free(cause);
	return r;
}

static int
preview_parse(int argc, char **argv, struct preview_args *a)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "thumbnail", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 0 },
		{ "thumbnail-size", required_argument, NULL, 0 },
		{ "format", required_argument, NULL, 0 },
		{ "hdu", required_argument, NULL, 0 },
		{ "kind", required_argument, NULL, 0 },
		{ "scale", required_argument, NULL, 0 },
		{ "low", required_argument, NULL, 0 },
		{ "high", required_argument, NULL, 0 },
		{ "stretch", required_argument, NULL, 0 },
		{ "exponent", required_argument, NULL, 0 },
		{ "quality", required_argument, NULL, 0 },
		{ "timeout", required_argument, NULL, 0 },
		{ "invert", no_argument, NULL, 'i' },
		{ "print-limits", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, idx, r;

	memset(a, 0, sizeof *a);
	preview_opts_init(&a->o);
	a->size[0] = 1024;
	a->size[1] = 256;
	optind = 0;	/* 0: GNU getopt starts afresh (permuting: FILE may come first) */
	while ((ch = getopt_long(argc, argv, "o:t:h", opts, &idx)) != -1) {
		if (ch == 0 && (r = preview_option(a, opts[idx].name, optarg)) != 0)
			return r;
		else if (ch == 'o' || ch == 't')
			a->out[ch == 't'] = optarg;
		else if (ch == 'i')
			a->o.invert = 1;
		else if (ch == 'p')
			a->print_limits = 1;
		else if (ch == 'h' || ch == '?')
			return preview_usage(NULL);
	}
	if (optind != argc - 1)
		return preview_usage(optind >= argc ? "a FILE is required" : "one FILE at a time");
	a->file = argv[optind];
	return 0;
}

/* STEM_prev.jpg in the current directory: STEM is the name without .fits[.fz|.gz]. */
static char *
preview_default_out(const char *file)
{
	static const char *const suffixes[] = { ".fits.fz", ".fits.gz", ".fits", ".fit",
		".fz", ".gz", NULL };
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t n = strlen(base), s;
	int i;

	for (i = 0; suffixes[i] != NULL; i++) {
		s = strlen(suffixes[i]);
		if (n > s && strcmp(base + n - s, suffixes[i]) == 0) {
			n -= s;
			break;
		}
	}
	return xasprintf("%.*s_prev.jpg", (int)n, base);
}

static int
preview_write(const char *path, const struct preview_output *out)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");

	if (fp == NULL || fwrite(out->data, 1, out->len, fp) != out->len ||
	    (fp != stdout ? fclose(fp) : fflush(fp)) != 0) {
		fprintf(stderr, "caom2ingest preview: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fp != stdout)
		printf("%s: %dx%d %s, %zu bytes\n", path, out->width, out->height,
		    out->format == PREVIEW_FORMAT_PNG ? "PNG" : "JPEG", out->len);
	return 0;
}

static void
preview_print_limits(const struct preview_info *in)
{
	printf("hdu=%d kind=%s naxis=%ldx%ld stride=%ld read=%ldx%ld float32=%d "
	    "vmin=%.17g vmax=%.17g\n", in->hdu, preview_kind_names[in->kind], in->naxis1,
	    in->naxis2, in->stride, in->nx, in->ny, in->float32, in->vmin, in->vmax);
}

int
client_preview(int argc, char **argv)
{
	struct preview_output outs[2];
	struct preview_info info;
	struct preview_args a;
	char *cause = NULL, *dflt = NULL;
	size_t n = 0, i, k[2];
	int r, j;

	if ((r = preview_parse(argc, argv, &a)) != 0)
		return r;
	if (preview_opts_check(&a.o, &cause) != 0) {
		r = preview_usage(cause);
		free(cause);
		return r;
	}
	if (a.out[0] == NULL && (!a.print_limits || a.out[1] != NULL))
		a.out[0] = dflt = preview_default_out(a.file);
	memset(outs, 0, sizeof outs);
	for (j = 0; j < 2; j++) {
		if (a.out[j] == NULL)
			continue;
		outs[n].size = a.size[j];
		outs[n].format = preview_format_of(a.out[j]);
		if (outs[n].format == PREVIEW_FORMAT_AUTO)
			outs[n].format = a.o.format != PREVIEW_FORMAT_AUTO ? a.o.format :
			    PREVIEW_FORMAT_JPEG;
		k[n++] = (size_t)j;
	}
	if (n == 0) {		/* --print-limits alone: the preview's reading, not written */
		outs[0].size = a.size[0];
		outs[0].format = PREVIEW_FORMAT_PNG;
	}
	r = CLIENT_EXIT_OK;
	if (preview_make(a.file, &a.o, outs, n > 0 ? n : 1, &info, &cause) != 0) {
		fprintf(stderr, "caom2ingest preview: %s\n", cause);
		free(cause);
		r = CLIENT_EXIT_FAIL;
	}
	if (r == CLIENT_EXIT_OK && a.print_limits)
		preview_print_limits(&info);
	for (i = 0; r == CLIENT_EXIT_OK && i < n; i++) {
		if (preview_write(a.out[k[i]], &outs[i]) != 0)
			r = CLIENT_EXIT_FAIL;
	}
	for (i = 0; i < (n > 0 ? n : 1); i++)
		preview_output_clear(&outs[i]);
	free(dflt);
	preview_cleanup();
	return r;
}
