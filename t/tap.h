/*
 * tap.h - a small TAP producer with C TAP Harness's names.
 *
 * plan(n) first (or plan_lazy()), then ok()/is_*() per check; the program
 * exits 0 and lets the TAP stream carry failures (automake's tap-driver.sh
 * reads it).
 */
#ifndef CAOM2INGEST_TAP_H
#define CAOM2INGEST_TAP_H

#include <stddef.h>

/* Announce n tests. */
void plan(unsigned long n);
/* Print the plan at exit from the number of tests run. */
void plan_lazy(void);
/* Skip the whole program with a reason (prints 1..0 # SKIP). */
void skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* One check: success when cond is true. Returns cond. */
int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Integer equality. */
int is_int(long long wanted, long long seen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* String equality (NULL equals NULL only). */
int is_string(const char *wanted, const char *seen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Double equality within a relative tolerance. */
int is_double(double wanted, double seen, double epsilon, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Skip n checks with a reason. */
void skip(unsigned long n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a diagnostic line ("# ..."). */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Abort the test program ("Bail out!"). */
void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Directory of test data: $srcdir/t/data (or ./t/data). Caller frees. */
char *test_data_path(const char *name);
/* Path of the shared reference tree (../shared/reference) or NULL. Caller frees. */
char *test_reference_path(const char *name);

#endif
