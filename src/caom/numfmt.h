/*
 * numfmt.h - a double as the reference tools (Python) render it, for the
 * CAOM-2 writer and the mapping engine alike: as the shortest text that
 * reads back exactly (Python's repr(): 1.0, 3.7e-07, 1e+16; NaN, INF and
 * -INF spelt as the XSD spells them), and as an integer (truncated as
 * Python's int() does, clamped to where C's conversion is defined).
 */
#ifndef CAOM2INGEST_NUMFMT_H
#define CAOM2INGEST_NUMFMT_H

#include <stddef.h>

/* The shortest round-trip text of v into buf (NUL-terminated); returns its length. */
size_t numfmt_double(double v, char buf[32]);
/* d truncated to an integer; NaN is 0, and beyond +-9.2e18 it is +-9.2e18. */
long long numfmt_ll(double d);

#endif
