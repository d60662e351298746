/*
 * msgbuf.h - a growing list of message lines (errors or warnings), joined
 * with '\n', for the "all errors of a file are reported" convention: the
 * mapping engine's warnings, the blueprint and configuration parsers'
 * errors, libxml2's validation errors.
 */
#ifndef CAOM2INGEST_MSGBUF_H
#define CAOM2INGEST_MSGBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Zero-initialise ({0}); msgbuf_take or msgbuf_clear ends it. Lines are
 * separated by '\n' (an empty line still counts and is still separated). */
struct msgbuf {
	char		*s;		/* the lines so far, NUL-terminated; NULL: none */
	size_t		 len;		/* strlen(s) */
	unsigned	 n;		/* lines added */
};

/* Append one line (printf format; no trailing newline). */
void msgbuf_add(struct msgbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append one line from a va_list. */
void msgbuf_vadd(struct msgbuf *m, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append one "FILE:LINE: message" line ("FILE: message" when line is 0). */
void msgbuf_at(struct msgbuf *m, const char *file, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* msgbuf_at from a va_list. */
void msgbuf_vat(struct msgbuf *m, const char *file, unsigned long line, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));
/* The lines (malloc'ed; NULL when there are none); m is empty again. */
char *msgbuf_take(struct msgbuf *m);
/* Drop the lines. */
void msgbuf_clear(struct msgbuf *m);

/* The first max bytes of len bytes of s (NULL: none) as one line: newlines and tabs as
 * spaces, trailing spaces dropped (a service's error text in a message). Malloc'ed. */
char *msgbuf_oneline(const char *s, size_t len, size_t max);

#endif
