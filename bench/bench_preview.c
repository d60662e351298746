/*
 * bench/bench_preview.c - previews made in C: a preview (1024, JPEG) and a
 * thumbnail (256, JPEG) of a 4096 x 4096 float32 image, and of a 1-D
 * spectrum (PNG plots), each from the file on disk (the page cache), as the
 * daemon's worker makes them; the median and the fastest of N runs (wall
 * clock) and the median CPU time (what a loaded machine does not inflate),
 * and the process's peak RSS.
 *
 * usage: bench_preview -m DIR        write DIR/image4k.fits and DIR/spectrum.fits
 *        bench_preview [-n N] IMAGE.fits SPECTRUM.fits
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fitsio.h>

#include "caom/preview.h"

#define IMG_N		4096
#define SPEC_N		200000

static double
now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A deterministic sky: noise, a gradient and a few hundred stars. */
static float *
sky(void)
{
	float *v = malloc(sizeof *v * IMG_N * IMG_N);
	uint64_t s = 88172645463325252ULL;
	long i, k, x, y, cx, cy;

	if (v == NULL)
		return NULL;
	for (i = 0; i < (long)IMG_N * IMG_N; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v[i] = (float)(1000 + 0.01 * (double)(i % IMG_N) + (double)(s % 1000) / 20.0);
	}
	for (k = 0; k < 400; k++) {
		cx = (long)((k * 7919) % IMG_N);
		cy = (long)((k * 104729) % IMG_N);
		for (y = cy - 5; y <= cy + 5; y++)
			for (x = cx - 5; x <= cx + 5; x++)
				if (x >= 0 && y >= 0 && x < IMG_N && y < IMG_N)
					v[y * IMG_N + x] += (float)(5000 * exp(-((x - cx) * (x - cx) +
					    (y - cy) * (y - cy)) / 4.0));
	}
	return v;
}

static int
write_fits(const char *path, int naxis, long *naxes, float *v, long n, int spectrum)
{
	char name[4096];
	fitsfile *fp;
	int status = 0;

	snprintf(name, sizeof name, "!%s", path);
	fits_create_file(&fp, name, &status);
	fits_create_img(fp, FLOAT_IMG, naxis, naxes, &status);
	if (spectrum) {
		fits_write_key_str(fp, "CTYPE1", "WAVE", NULL, &status);
		fits_write_key_str(fp, "CUNIT1", "Angstrom", NULL, &status);
		fits_write_key_dbl(fp, "CRVAL1", 3500.0, -10, NULL, &status);
		fits_write_key_dbl(fp, "CRPIX1", 1.0, -10, NULL, &status);
		fits_write_key_dbl(fp, "CDELT1", 0.03, -10, NULL, &status);
	}
	fits_write_img(fp, TFLOAT, 1, n, v, &status);
	fits_close_file(fp, &status);
	if (status != 0)
		fprintf(stderr, "bench_preview: %s: cfitsio status %d\n", path, status);
	return status != 0;
}

static int
make_files(const char *dir)
{
	long naxes[2] = { IMG_N, IMG_N }, one[1] = { SPEC_N }, i;
	float *v = sky(), f[SPEC_N];
	char path[4096];
	int r;

	if (v == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/image4k.fits", dir);
	r = write_fits(path, 2, naxes, v, (long)IMG_N * IMG_N, 0);
	free(v);
	for (i = 0; i < SPEC_N; i++)
		f[i] = (float)(1 + 1e-6 * (double)i - 0.5 * exp(-0.5 * pow(((double)(i % 20000) -
		    10000) / 15, 2)) + 0.01 * sin((double)i * 1.7));
	snprintf(path, sizeof path, "%s/spectrum.fits", dir);
	return r | write_fits(path, 1, one, f, SPEC_N, 1);
}

/* N runs of a preview + thumbnail of path; median and fastest in ms. */
static int
bench(const char *what, const char *path, int format, long n)
{
	struct preview_output outs[2];
	struct preview_opts o;
	double *t = calloc((size_t)n, sizeof *t), *c = calloc((size_t)n, sizeof *c), t0, c0;
	size_t bytes = 0;
	char *cause = NULL;
	long i;

	preview_opts_init(&o);
	for (i = 0; i < n; i++) {
		memset(outs, 0, sizeof outs);
		outs[0].size = 1024;
		outs[1].size = 256;
		outs[0].format = outs[1].format = format;
		t0 = now(CLOCK_MONOTONIC);
		c0 = now(CLOCK_PROCESS_CPUTIME_ID);
		if (preview_make(path, &o, outs, 2, NULL, &cause) != 0) {
			fprintf(stderr, "bench_preview: %s\n", cause);
			free(cause);
			free(t);
			free(c);
			return -1;
		}
		t[i] = (now(CLOCK_MONOTONIC) - t0) * 1e3;
		c[i] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e3;
		bytes = outs[0].len + outs[1].len;
		preview_output_clear(&outs[0]);
		preview_output_clear(&outs[1]);
	}
	qsort(t, (size_t)n, sizeof *t, cmp);
	qsort(c, (size_t)n, sizeof *c, cmp);
	printf("C      %-34s median %8.1f ms  fastest %8.1f ms  cpu %8.1f ms  (%ld runs; "
	    "%zu bytes out)\n", what, t[n / 2], t[0], c[n / 2], n, bytes);
	free(t);
	free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	long n = 20;
	int ch;

	while ((ch = getopt(argc, argv, "m:n:")) != -1) {
		if (ch == 'm')
			return make_files(optarg);
		if (ch == 'n')
			n = atol(optarg);
		else
			return 2;
	}
	if (argc - optind != 2 || n < 1) {
		fprintf(stderr, "usage: bench_preview -m DIR | bench_preview [-n N] IMAGE SPECTRUM\n");
		return 2;
	}
	if (bench("4096x4096 float32: 1024 + 256 JPEG", argv[optind], PREVIEW_FORMAT_JPEG, n) != 0 ||
	    bench("1-D spectrum, 200000 points: plots", argv[optind + 1], PREVIEW_FORMAT_PNG,
	    n) != 0)
		return 1;
	getrusage(RUSAGE_SELF, &ru);
	printf("C      peak RSS %ld MiB\n", ru.ru_maxrss / 1024);
	preview_cleanup();
	return 0;
}
