/*
 * t/msgbuf.c - the message-line accumulator: lines joined with '\n',
 * "FILE:LINE: message", empty lines, take and clear, many lines.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/msgbuf.h"
#include "tap.h"

static void __attribute__((format(printf, 2, 3)))
add_v(struct msgbuf *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msgbuf_vadd(m, fmt, ap);
	va_end(ap);
}

static void
test_lines(void)
{
	struct msgbuf m = { 0 };
	char *s;

	ok(msgbuf_take(&m) == NULL, "no lines: NULL");
	msgbuf_add(&m, "first %d", 1);
	is_string("first 1", m.s, "one line, no newline");
	add_v(&m, "second %s", "two");
	msgbuf_at(&m, "a.yml", 12, "bad key '%s'", "x");
	msgbuf_at(&m, "a.yml", 0, "cannot open");
	is_int(4, m.n, "four lines counted");
	is_int((long long)strlen(m.s), (long long)m.len, "len is the text's length");
	s = msgbuf_take(&m);
	is_string("first 1\nsecond two\na.yml:12: bad key 'x'\na.yml: cannot open", s,
	    "joined with newlines; FILE:LINE: and FILE: prefixes");
	ok(m.s == NULL && m.len == 0 && m.n == 0, "take empties the buffer");
	free(s);
	msgbuf_add(&m, "again");
	s = msgbuf_take(&m);
	is_string("again", s, "a taken buffer starts over");
	free(s);
}

static void
test_empty_lines(void)
{
	struct msgbuf m = { 0 };
	char *s;

	msgbuf_add(&m, "%s", "");
	msgbuf_add(&m, "after");
	msgbuf_add(&m, "%s", "");
	is_int(3, m.n, "empty lines count");
	s = msgbuf_take(&m);
	is_string("\nafter\n", s, "an empty first line is still separated from the next");
	free(s);
	msgbuf_add(&m, "%s", "");
	s = msgbuf_take(&m);
	ok(s != NULL && *s == '\0', "one empty line is not 'no lines'");
	free(s);
}

static void
test_many(void)
{
	struct msgbuf m = { 0 };
	size_t i, lines = 0;
	char *s, *p;
	int good = 1;

	for (i = 0; i < 5000; i++)
		msgbuf_at(&m, "big.blueprint", i + 1, "line %zu", i);
	is_int(5000, m.n, "5000 lines");
	s = msgbuf_take(&m);
	for (p = s; p != NULL; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL) {
		if (lines == 4999 && strcmp(p, "big.blueprint:5000: line 4999") != 0)
			good = 0;
		lines++;
	}
	ok(good && lines == 5000, "every line there, in order");
	free(s);
	msgbuf_add(&m, "dropped");
	msgbuf_clear(&m);
	ok(m.s == NULL && m.n == 0, "clear drops the lines");
	msgbuf_clear(&m);
	ok(m.s == NULL, "clearing an empty buffer is harmless");
}

static void
test_oneline(void)
{
	char *t;

	t = msgbuf_oneline("bad\trequest\r\nline two  \n", 24, 100);
	is_string("bad request  line two", t, "oneline: newlines and tabs as spaces, trailing dropped");
	free(t);
	t = msgbuf_oneline("0123456789", 10, 4);
	is_string("0123", t, "oneline: at most max bytes");
	free(t);
	t = msgbuf_oneline(NULL, 0, 10);
	is_string("", t, "oneline: no text is an empty line");
	free(t);
}

int
main(void)
{
	plan(17);
	test_oneline();
	test_lines();
	test_empty_lines();
	test_many();
	return 0;
}
