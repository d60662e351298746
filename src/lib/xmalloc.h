/*
 * xmalloc.h - allocation wrappers that never return NULL.
 *
 * On allocation failure these print a message and abort: there is nothing
 * sensible a daemon can do when malloc fails.
 */
#ifndef CAOM2INGEST_XMALLOC_H
#define CAOM2INGEST_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* Allocate size bytes. */
void *xmalloc(size_t size);
/* Allocate nmemb zeroed elements of size bytes. */
void *xcalloc(size_t nmemb, size_t size);
/* Resize ptr to nmemb elements of size bytes (overflow-checked). */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
/* Duplicate a string; NULL gives NULL. */
char *xstrdup(const char *s);
/* Duplicate at most n bytes of s, always NUL-terminated. */
char *xstrndup(const char *s, size_t n);
/* Allocate and format a string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Allocate and format a string from a va_list. */
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
