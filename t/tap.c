/*
 * tap.c - a small TAP producer (see tap.h).
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"

static unsigned long tap_run;
static unsigned long tap_planned;
static int tap_lazy;

static void
tap_atexit(void)
{
	fflush(stdout);
	if (tap_lazy)
		printf("1..%lu\n", tap_run);
	else if (tap_planned != tap_run)
		printf("# planned %lu tests but ran %lu\n", tap_planned, tap_run);
	fflush(stdout);
}

void
plan(unsigned long n)
{
	tap_planned = n;
	printf("1..%lu\n", n);
	fflush(stdout);
	atexit(tap_atexit);
}

void
plan_lazy(void)
{
	tap_lazy = 1;
	atexit(tap_atexit);
}

void
skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(0);
}

static int
tap_result(int cond, const char *fmt, va_list ap)
{
	tap_run++;
	printf("%sok %lu", cond ? "" : "not ", tap_run);
	if (fmt != NULL && *fmt != '\0') {
		printf(" - ");
		vprintf(fmt, ap);
	}
	printf("\n");
	fflush(stdout);
	return cond;
}

int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_result(cond, fmt, ap);
	va_end(ap);
	return cond;
}

int
is_int(long long wanted, long long seen, const char *fmt, ...)
{
	va_list ap;
	int cond = wanted == seen;

	va_start(ap, fmt);
	tap_result(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("wanted: %lld\n#   seen: %lld", wanted, seen);
	return cond;
}

int
is_string(const char *wanted, const char *seen, const char *fmt, ...)
{
	va_list ap;
	int cond;

	if (wanted == NULL || seen == NULL)
		cond = wanted == seen;
	else
		cond = strcmp(wanted, seen) == 0;
	va_start(ap, fmt);
	tap_result(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("wanted: %s\n#   seen: %s", wanted ? wanted : "(null)",
		    seen ? seen : "(null)");
	return cond;
}

int
is_double(double wanted, double seen, double epsilon, const char *fmt, ...)
{
	va_list ap;
	int cond;

	cond = wanted == seen ||
	    fabs(wanted - seen) <= epsilon * fmax(fabs(wanted), fabs(seen));
	va_start(ap, fmt);
	tap_result(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("wanted: %.17g\n#   seen: %.17g", wanted, seen);
	return cond;
}

void
skip(unsigned long n, const char *fmt, ...)
{
	va_list ap;

	while (n-- > 0) {
		tap_run++;
		printf("ok %lu # SKIP ", tap_run);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void
bail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(255);
}

char *
test_data_path(const char *name)
{
	const char *srcdir = getenv("srcdir");
	char *p;

	if (srcdir == NULL)
		srcdir = ".";
	if (asprintf(&p, "%s/t/data/%s", srcdir, name) < 0)
		bail("out of memory");
	return p;
}

char *
test_reference_path(const char *name)
{
	const char *env = getenv("CAOM2INGEST_REFERENCE");
	const char *srcdir = getenv("srcdir");
	struct stat st;
	char *p;

	if (srcdir == NULL)
		srcdir = ".";
	if (env != NULL && *env != '\0') {
		if (asprintf(&p, "%s/%s", env, name) < 0)
			bail("out of memory");
	} else if (asprintf(&p, "%s/../shared/reference/%s", srcdir, name) < 0)
		bail("out of memory");
	if (stat(p, &st) != 0) {
		free(p);
		return NULL;
	}
	return p;
}
