/*
 * bench/bench_caom.c - serialise + checksum CAOM-2 observations many times in
 * one process: the per-observation cost of the mapping stage's output side.
 *
 * usage: bench_caom [-n ITERATIONS] FILE.xml...
 * For each document: read once, then ITERATIONS times compute every checksum
 * and write the CAOM-2.4 text. Prints the mean time per iteration and the
 * peak RSS of the process.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
bench_one(const char *path, long n)
{
	struct caom_observation *obs;
	char *cause = NULL, *text;
	size_t len = 0, total = 0;
	double t0, t1;
	long i;

	if (caom_xml_read_file(path, &obs, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return -1;
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		checksum_compute(obs);
		text = caom_xml_write(obs, &len);
		total += len;
		free(text);
	}
	t1 = now();
	printf("%-40s %8ld iterations %10.1f us/observation (checksum + CAOM-2.4 text, %zu bytes)\n",
	    strrchr(path, '/') ? strrchr(path, '/') + 1 : path, n, (t1 - t0) / (double)n * 1e6,
	    total / (size_t)n);
	caom_observation_free(obs);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	long n = 2000;
	int ch, i, r = 0;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		if (ch != 'n' || (n = atol(optarg)) <= 0) {
			fprintf(stderr, "usage: bench_caom [-n ITERATIONS] FILE.xml...\n");
			return 2;
		}
	}
	caom_xml_init();
	for (i = optind; i < argc; i++)
		r |= bench_one(argv[i], n) != 0;
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
	caom_xml_cleanup();
	return r;
}
