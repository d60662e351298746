/*
 * numfmt.c - doubles as text and as integers, the reference's way (see
 * numfmt.h).
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/numfmt.h"

/* Python repr layout of a "%.Ne" text: fixed for exponents -4..15, else d.ddde+XX. */
static size_t
numfmt_repr(const char *e, char *buf)
{
	char digits[24], *p = buf;
	size_t nd = 0;
	int exp10, i;

	if (*e == '-')
		*p++ = *e++;
	for (; *e != 'e'; e++) {
		if (*e != '.')
			digits[nd++] = *e;
	}
	exp10 = atoi(e + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (exp10 < -4 || exp10 >= 16) {
		*p++ = digits[0];
		if (nd > 1) {
			*p++ = '.';
			memcpy(p, digits + 1, nd - 1);
			p += nd - 1;
		}
		return (size_t)(p - buf) + (size_t)sprintf(p, "e%c%02d", exp10 < 0 ? '-' : '+',
		    abs(exp10));
	}
	if (exp10 < 0) {
		p += sprintf(p, "0.");
		for (i = -1; i > exp10; i--)
			*p++ = '0';
		memcpy(p, digits, nd);
		p += nd;
	} else {
		for (i = 0; i <= exp10; i++)
			*p++ = (size_t)i < nd ? digits[i] : '0';
		*p++ = '.';
		if ((size_t)exp10 + 1 >= nd)
			*p++ = '0';
		for (i = exp10 + 1; (size_t)i < nd; i++)
			*p++ = digits[i];
	}
	*p = '\0';
	return (size_t)(p - buf);
}

size_t
numfmt_double(double v, char buf[32])
{
	char tmp[40];
	int prec;

	if (isnan(v))
		return (size_t)snprintf(buf, 32, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, 32, "%sINF", v < 0 ? "-" : "");
	if (v == 0)
		return (size_t)snprintf(buf, 32, "%s0.0", signbit(v) ? "-" : "");
	if (fabs(v) < 1e15 && v == trunc(v))
		return (size_t)snprintf(buf, 32, "%.0f.0", v);
	/* 15 digits almost always do; subnormals may need far fewer. */
	for (prec = fabs(v) < DBL_MIN ? 1 : 15; prec < 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof tmp, "%.16e", v);
	return numfmt_repr(tmp, buf);
}

long long
numfmt_ll(double d)
{
	if (!(d >= -9.2e18))
		return d > 0 ? 0 : (isnan(d) ? 0 : (long long)-9.2e18);
	if (d > 9.2e18)
		return (long long)9.2e18;
	return (long long)d;
}
