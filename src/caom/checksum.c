/*
 * checksum.c - CAOM-2 metaChecksum and accMetaChecksum (see checksum.h).
 *
 * The bytes of one entity are gathered in a buffer and digested once; the
 * field tables of caom_desc.h give the fields in Java field-name order.
 */
#include "config.h"

/*
 * OpenSSL's one-call MD5, deprecated since 3.0 but still part of libcrypto:
 * the EVP route costs a provider fetch (0.4-0.8 ms on a process's first
 * digest, most of a short `caom2ingest map` run) and a context per call,
 * where an observation's checksums are hundreds of small digests.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/md5.h>

#include "caom/caom.h"
#include "caom/caom_desc.h"
#include "caom/checksum.h"
#include "caom/checksum_test.h"
#include "lib/xmalloc.h"

/* One child's UUID and raw accMetaChecksum, sorted for the parent. */
struct checksum_kid {
	uint8_t		 id[16];
	uint8_t		 acc[16];
};

struct checksum_ctx {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	int		 verify;
	checksum_report_fn fn;
	void		*arg;
	int		 nbad;
	size_t		 nentities;
	char		 path[512];	/* dotted field path, tracing only */
};

static FILE *checksum_trace;
static void
checksum_md5(const void *buf, size_t len, uint8_t out[16])
{
	MD5(buf, len, out);
}

int
checksum_fd_md5(int fd, uint8_t out[16])
{
	unsigned char buf[65536];
	MD5_CTX ctx;
	ssize_t n;

	MD5_Init(&ctx);
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		MD5_Update(&ctx, buf, (size_t)n);
	}
	MD5_Final(out, &ctx);
	return 0;
}

void
checksum_set_trace(FILE *fp)
{
	checksum_trace = fp;
}

void
checksum_format(const uint8_t md5[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	memcpy(out, "md5:", 4);
	for (i = 0; i < 16; i++) {
		out[4 + 2 * i] = hex[md5[i] >> 4];
		out[5 + 2 * i] = hex[md5[i] & 0xf];
	}
	out[36] = '\0';
}

int
checksum_parse(const char *s, uint8_t md5[16])
{
	size_t i;
	int hi, lo;

	if (strncmp(s, "md5:", 4) != 0 || strlen(s) != 36)
		return -1;
	for (i = 0; i < 16; i++) {
		if ((hi = caom_hexval((unsigned char)s[4 + 2 * i])) < 0 ||
		    (lo = caom_hexval((unsigned char)s[5 + 2 * i])) < 0)
			return -1;
		md5[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* ---- encoding ---- */

/* Append bytes to the buffer without tracing them. */
static void
checksum_raw(struct checksum_ctx *c, const void *p, size_t n)
{
	if (c->len + n > c->cap) {
		c->cap = (c->len + n) * 2 + 256;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

/* Append the bytes of one value (one digest update in the reference). */
static void
checksum_put(struct checksum_ctx *c, const void *p, size_t n, const char *name)
{
	uint8_t one[16];
	char hex[37];

	checksum_raw(c, p, n);
	if (checksum_trace == NULL)
		return;
	checksum_md5(p, n, one);
	checksum_format(one, hex);
	fprintf(checksum_trace, "%s%s%s -- %s\n", c->path, *c->path ? "." : "", name, hex + 4);
}

/* Big-endian bytes of the low n bytes of v. */
static size_t
checksum_be(uint64_t v, size_t n, uint8_t *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return n;
}

/* The Java String.trim() span of s. */
static const char *
checksum_trim(const char *s, size_t *len)
{
	const char *e;

	while (*s != '\0' && (unsigned char)*s <= ' ')
		s++;
	e = s + strlen(s);
	while (e > s && (unsigned char)e[-1] <= ' ')
		e--;
	*len = (size_t)(e - s);
	return s;
}

static uint64_t
checksum_double_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof u);
	return u;
}

static void
checksum_string(struct checksum_ctx *c, const char *s, const char *name)
{
	size_t len;

	s = checksum_trim(s, &len);
	checksum_put(c, s, len, name);
}

static void
checksum_scalar(struct checksum_ctx *c, const struct caom_field *f, const void *p)
{
	uint8_t b[8];
	size_t n;

	switch (f->type) {
	case CAOM_F_DOUBLE:
		n = checksum_be(checksum_double_bits(*(const double *)p), 8, b);
		break;
	case CAOM_F_INT32:
		n = checksum_be((uint32_t)*(const int *)p, 4, b);
		break;
	case CAOM_F_INT64:
		n = checksum_be((uint64_t)*(const int64_t *)p, 8, b);
		break;
	case CAOM_F_BOOL:
		b[0] = *(const int *)p != 0;
		n = 1;
		break;
	case CAOM_F_DATE:
		n = checksum_be((uint64_t)(*(const int64_t *)p / 1000), 8, b);
		break;
	default:
		return;
	}
	checksum_put(c, b, n, f->name);
}

/* ---- walking the tables ---- */

static void checksum_value(struct checksum_ctx *, const struct caom_desc *, const void *);

/* Recurse into a value object, extending the traced path. */
static void
checksum_object(struct checksum_ctx *c, const struct caom_field *f, const void *obj)
{
	size_t plen = strlen(c->path);

	if (checksum_trace != NULL)
		snprintf(c->path + plen, sizeof c->path - plen, "%s%s", plen ? "." : "", f->name);
	checksum_value(c, f->desc, obj);
	c->path[plen] = '\0';
}

static void
checksum_field(struct checksum_ctx *c, const struct caom_field *f, const void *obj)
{
	const struct caom_strlist *l;
	const char *p = (const char *)obj + f->off, *arr;
	size_t i, n;

	switch (f->type) {
	case CAOM_F_STRING:
		if ((p = caom_desc_getptr(obj, f->off)) != NULL)
			checksum_string(c, p, f->name);
		break;
	case CAOM_F_SET:
		l = (const struct caom_strlist *)(const void *)p;
		for (i = 0; i < l->n; i++)
			checksum_string(c, l->v[i], f->name);
		break;
	case CAOM_F_OBJ:
		if ((p = caom_desc_getptr(obj, f->off)) != NULL)
			checksum_object(c, f, p);
		break;
	case CAOM_F_INLINE:
		checksum_object(c, f, p);
		break;
	case CAOM_F_LIST:
		arr = caom_desc_getptr(obj, f->off);
		n = caom_desc_count(obj, f->aux);
		for (i = 0; i < n; i++)
			checksum_object(c, f, arr + i * f->desc->size);
		break;
	case CAOM_F_CHILDREN:
		break;
	default:
		if (caom_desc_isset(f, obj))
			checksum_scalar(c, f, p);
		break;
	}
}

static void
checksum_value(struct checksum_ctx *c, const struct caom_desc *d, const void *obj)
{
	size_t i;

	for (i = 0; i < d->nsorted; i++)
		checksum_field(c, d->sorted[i], obj);
}

/* ---- entities ---- */

static void
checksum_meta(struct checksum_ctx *c, const struct caom_desc *d, const void *obj,
    uint8_t out[16])
{
	const struct caom_entity *e = obj;

	c->len = 0;
	c->path[0] = '\0';
	checksum_put(c, e->id, 16, "");
	if (e->meta_producer != NULL)
		checksum_string(c, e->meta_producer, "");
	checksum_value(c, d, obj);
	checksum_md5(c->buf, c->len, out);
}

static int
checksum_kid_cmp(const void *a, const void *b)
{
	return memcmp(((const struct checksum_kid *)a)->id, ((const struct checksum_kid *)b)->id,
	    16);
}

static void checksum_entity(struct checksum_ctx *, const struct caom_desc *, void *,
    uint8_t[16]);

/* The children of obj (one CHILDREN field at most), each computed, sorted by UUID. */
static struct checksum_kid *
checksum_children(struct checksum_ctx *c, const struct caom_desc *d, void *obj, size_t *np)
{
	const struct caom_field *f;
	struct checksum_kid *kids;
	char *arr;
	void *kid;
	size_t i, n;

	*np = 0;
	for (f = d->fields; f->name != NULL && f->type != CAOM_F_CHILDREN; f++)
		;
	if (f->name == NULL || (n = caom_desc_count(obj, f->aux)) == 0)
		return NULL;
	arr = caom_desc_getptr(obj, f->off);
	kids = xreallocarray(NULL, n, sizeof *kids);
	for (i = 0; i < n; i++) {
		kid = caom_desc_getptr(arr, i * sizeof(void *));
		memcpy(kids[i].id, ((struct caom_entity *)kid)->id, 16);
		checksum_entity(c, f->desc, kid, kids[i].acc);
	}
	qsort(kids, n, sizeof *kids, checksum_kid_cmp);
	*np = n;
	return kids;
}

static const char *
checksum_entity_name(const struct caom_desc *d, const void *obj)
{
	const struct caom_observation *obs = obj;

	if (d != &caom_desc_observation)
		return d->name;
	return obs->kind == CAOM_OBS_DERIVED ? "DerivedObservation" : "SimpleObservation";
}

static void
checksum_check(struct checksum_ctx *c, const struct caom_desc *d, const void *obj,
    const char *which, int has, const uint8_t stored[16], const uint8_t computed[16])
{
	struct checksum_mismatch m;

	if (has && memcmp(stored, computed, 16) == 0)
		return;
	c->nbad++;
	if (c->fn == NULL)
		return;
	memset(&m, 0, sizeof m);
	m.entity = checksum_entity_name(d, obj);
	caom_uuid_format(((const struct caom_entity *)obj)->id, m.id);
	m.which = which;
	if (has)
		checksum_format(stored, m.expected);
	else
		snprintf(m.expected, sizeof m.expected, "(absent)");
	checksum_format(computed, m.computed);
	c->fn(&m, c->arg);
}

/* Store or check both checksums of one entity. */
static void
checksum_result(struct checksum_ctx *c, const struct caom_desc *d, void *obj,
    const uint8_t meta[16], const uint8_t acc[16])
{
	struct caom_entity *e = obj;

	c->nentities++;
	if (c->verify) {
		checksum_check(c, d, obj, "metaChecksum", e->has_meta_checksum,
		    e->meta_checksum, meta);
		checksum_check(c, d, obj, "accMetaChecksum", e->has_acc_meta_checksum,
		    e->acc_meta_checksum, acc);
		return;
	}
	memcpy(e->meta_checksum, meta, 16);
	e->has_meta_checksum = 1;
	memcpy(e->acc_meta_checksum, acc, 16);
	e->has_acc_meta_checksum = 1;
}

static void
checksum_entity(struct checksum_ctx *c, const struct caom_desc *d, void *obj, uint8_t acc[16])
{
	struct checksum_kid *kids;
	uint8_t meta[16];
	size_t i, n;

	/* Children first, in the reference's (post-)order, so traces compare. */
	kids = checksum_children(c, d, obj, &n);
	checksum_meta(c, d, obj, meta);
	c->len = 0;
	checksum_raw(c, meta, 16);
	for (i = 0; i < n; i++)
		checksum_raw(c, kids[i].acc, 16);
	checksum_md5(c->buf, c->len, acc);
	free(kids);
	checksum_result(c, d, obj, meta, acc);
}

static void
checksum_run(struct checksum_ctx *c, struct caom_observation *obs)
{
	uint8_t acc[16];

	caom_desc_init();
	checksum_entity(c, &caom_desc_observation, obs, acc);
	free(c->buf);
}

void
checksum_compute(struct caom_observation *obs)
{
	struct checksum_ctx c;

	memset(&c, 0, sizeof c);
	checksum_run(&c, obs);
}

int
checksum_verify(const struct caom_observation *obs, checksum_report_fn fn, void *arg,
    size_t *nentities)
{
	struct checksum_ctx c;

	memset(&c, 0, sizeof c);
	c.verify = 1;
	c.fn = fn;
	c.arg = arg;
	/* In verify mode nothing is written through this pointer. */
	checksum_run(&c, (struct caom_observation *)(uintptr_t)obs);
	if (nentities != NULL)
		*nentities = c.nentities;
	return c.nbad;
}

/* ---- primitives ---- */

static void
checksum_md5_bytes(const void *p, size_t n, uint8_t out[16])
{
	checksum_md5(p, n, out);
}

void
checksum_md5_bool(int v, uint8_t out[16])
{
	uint8_t b = v != 0;

	checksum_md5_bytes(&b, 1, out);
}

void
checksum_md5_string(const char *s, uint8_t out[16])
{
	size_t len;

	s = checksum_trim(s, &len);
	checksum_md5_bytes(s, len, out);
}

void
checksum_md5_int32(int32_t v, uint8_t out[16])
{
	uint8_t b[4];

	checksum_md5_bytes(b, checksum_be((uint32_t)v, 4, b), out);
}

void
checksum_md5_int64(int64_t v, uint8_t out[16])
{
	uint8_t b[8];

	checksum_md5_bytes(b, checksum_be((uint64_t)v, 8, b), out);
}

void
checksum_md5_double(double v, uint8_t out[16])
{
	uint8_t b[8];

	checksum_md5_bytes(b, checksum_be(checksum_double_bits(v), 8, b), out);
}

void
checksum_md5_date(int64_t ms, uint8_t out[16])
{
	checksum_md5_int64(ms / 1000, out);
}
