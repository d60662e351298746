/*
 * msgbuf.c - a growing list of message lines (see msgbuf.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

/* Append l (taken) as a line. */
static void
msgbuf_push(struct msgbuf *m, char *l)
{
	size_t n = strlen(l);

	m->s = xreallocarray(m->s, m->len + n + 2, 1);
	if (m->n > 0)
		m->s[m->len++] = '\n';
	memcpy(m->s + m->len, l, n + 1);
	m->len += n;
	m->n++;
	free(l);
}

void
msgbuf_vadd(struct msgbuf *m, const char *fmt, va_list ap)
{
	msgbuf_push(m, xvasprintf(fmt, ap));
}

void
msgbuf_add(struct msgbuf *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msgbuf_vadd(m, fmt, ap);
	va_end(ap);
}

void
msgbuf_vat(struct msgbuf *m, const char *file, unsigned long line, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);

	if (line > 0)
		msgbuf_push(m, xasprintf("%s:%lu: %s", file, line, msg));
	else
		msgbuf_push(m, xasprintf("%s: %s", file, msg));
	free(msg);
}

void
msgbuf_at(struct msgbuf *m, const char *file, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msgbuf_vat(m, file, line, fmt, ap);
	va_end(ap);
}

char *
msgbuf_take(struct msgbuf *m)
{
	char *s = m->s;

	memset(m, 0, sizeof *m);
	return s;
}

void
msgbuf_clear(struct msgbuf *m)
{
	free(msgbuf_take(m));
}

char *
msgbuf_oneline(const char *s, size_t len, size_t max)
{
	char *t = xstrndup(s != NULL ? s : "", len < max ? len : max);
	size_t i;

	for (i = 0; t[i] != '\0'; i++) {
		if (t[i] == '\n' || t[i] == '\r' || t[i] == '\t')
			t[i] = ' ';
	}
	while (i > 0 && t[i - 1] == ' ')
		t[--i] = '\0';
	return t;
}
