/*
 * fits.c - every HDU's header from a FITS file (cfitsio) or a header dump.
 *
 * One card parser serves both: cfitsio hands over each raw 80-column record
 * (fits_read_record), a dump is cut into the same records. Cards are parsed
 * here rather than with hdr_parse_value so that dumps, which cfitsio cannot
 * open, get exactly the same treatment.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fitsio.h>

#include "caom/fits.h"
#include "caom/numfmt.h"
#include "lib/fileio.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

#define FITS_CARD	80

struct fits_builder {
	struct fits_file *f;
	size_t		  cap_hdus;
};

/*
 * Every string of a file's cards lives in one arena, freed at once with the
 * file: a 40-extension header has ~17,000 cards, and three malloc/free pairs
 * per card were a fifth of the mapping time. Strings are never freed alone;
 * a replaced value (fits_hdu_set, CONTINUE) stays in the arena until then.
 */
struct fits_arena {
	struct fits_arena *next;
	size_t		   used, cap;
	char		   data[];
};

#define FITS_ARENA_CHUNK	(64 * 1024)

static char *
fa_alloc(struct fits_file *f, size_t n)
{
	struct fits_arena *a = f->arena_, *c;
	size_t cap;

	if (a == NULL || a->cap - a->used < n) {
		cap = n > FITS_ARENA_CHUNK ? n : FITS_ARENA_CHUNK;
		c = xmalloc(sizeof *c + cap);
		c->used = 0;
		c->cap = cap;
		if (a != NULL && n > FITS_ARENA_CHUNK) {
			/* a big one-off: keep filling the current chunk afterwards */
			c->next = a->next;
			a->next = c;
			c->used = n;
			return c->data;
		}
		c->next = a;
		f->arena_ = a = c;
	}
	a->used += n;
	return a->data + a->used - n;
}

static char *
fa_strndup(struct fits_file *f, const char *s, size_t len)
{
	char *out = fa_alloc(f, len + 1);

	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

static char *
hdr_trim(struct fits_file *f, const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return fa_strndup(f, s, len);
}

/* Parse a quoted string starting at s (after the quote); *end past the close. */
static char *
hdr_parse_string(struct fits_file *f, const char *s, const char *lim, const char **end)
{
	char *out = fa_alloc(f, (size_t)(lim - s) + 1);
	size_t n = 0;

	while (s < lim) {
		if (*s == '\'') {
			if (s + 1 < lim && s[1] == '\'') {
				out[n++] = '\'';
				s += 2;
				continue;
			}
			s++;
			break;
		}
		out[n++] = *s++;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	*end = s;
	return out;
}

/* [+-]?(digits[.digits]|.digits)([EeDd][+-]?digits)? : what strtod takes whole. */
static int
hdr_plain_float(const char *v)
{
	const char *p = v + (*v == '+' || *v == '-');
	size_t mant = strspn(p, "0123456789"), frac = 0;

	p += mant;
	if (*p == '.') {
		frac = strspn(p + 1, "0123456789");
		p += 1 + frac;
	}
	if (mant + frac == 0)
		return 0;
	if (*p == 'E' || *p == 'e' || *p == 'D' || *p == 'd') {
		p += 1 + (p[1] == '+' || p[1] == '-');
		if (!isdigit((unsigned char)*p))
			return 0;
		p += strspn(p, "0123456789");
	}
	return *p == '\0';
}

static enum fits_vtype
hdr_classify(const char *v)
{
	const char *p;
	char *end;
	int digit = 0;

	if ((v[0] == 'T' || v[0] == 'F') && v[1] == '\0')
		return FITS_LOGICAL;
	if (v[0] == '(')
		return FITS_COMPLEX;
	for (p = v; *p != '\0' && (isdigit((unsigned char)*p) || *p == '+' || *p == '-'); p++)
		digit |= isdigit((unsigned char)*p);
	if (*p == '\0' && digit)
		return FITS_INTEGER;
	/* the common case without strtod, which is slow; the rest as strtod says */
	if (hdr_plain_float(v))
		return FITS_FLOAT;
	strtod(v, &end);
	if (end != v && (*end == '\0' || *end == 'D' || *end == 'd'))
		return FITS_FLOAT;
	return FITS_UNDEFINED;	/* not a valid value: kept as text, typed undefined */
}

/* The value field of a card (after "= "), into c. */
static void
hdr_parse_value(struct fits_file *f, const char *s, const char *lim, struct fits_card *c)
{
	const char *end, *slash;

	while (s < lim && *s == ' ')
		s++;
	if (s < lim && *s == '\'') {
		c->value = hdr_parse_string(f, s + 1, lim, &end);
		c->type = FITS_STRING;
		s = end;
	} else {
		slash = memchr(s, '/', (size_t)(lim - s));
		end = slash != NULL ? slash : lim;
		c->value = hdr_trim(f, s, (size_t)(end - s));
		c->type = c->value[0] == '\0' ? FITS_UNDEFINED : hdr_classify(c->value);
		if (c->value[0] == '\0')
			c->value = NULL;
		s = end;
	}
	if ((slash = memchr(s, '/', (size_t)(lim - s))) != NULL) {
		for (slash++; slash < lim && *slash == ' '; slash++)
			;
		c->comment = hdr_trim(f, slash, (size_t)(lim - slash));
	}
}

/* Parse one card of len <= 80 bytes. */
static void
hdr_parse_card(struct fits_file *f, const char *s, size_t len, struct fits_card *c)
{
	const char *lim = s + len, *eq;
	size_t klen;

	memset(c, 0, sizeof *c);
	c->type = FITS_NOVALUE;
	if (len >= 9 && strncmp(s, "HIERARCH ", 9) == 0 &&
	    (eq = memchr(s, '=', len)) != NULL) {
		c->key = hdr_trim(f, s + 9, (size_t)(eq - s - 9));
		hdr_parse_value(f, eq + 1, lim, c);
		return;
	}
	klen = len < 8 ? len : 8;
	c->key = hdr_trim(f, s, klen);
	if (len >= 10 && s[8] == '=' && s[9] == ' ')
		hdr_parse_value(f, s + 10, lim, c);
	else if (len > 8 && strcmp(c->key, "CONTINUE") != 0)
		c->comment = hdr_trim(f, s + 8, len - 8);
	else if (len > 8)
		hdr_parse_value(f, s + 8, lim, c);	/* CONTINUE  'text&' */
}

static struct fits_hdu *
hdr_new_hdu(struct fits_builder *b)
{
	struct fits_file *f = b->f;
	struct fits_hdu *h;

	if (f->nhdus == b->cap_hdus) {
		b->cap_hdus = b->cap_hdus ? b->cap_hdus * 2 : 4;
		f->hdus = xreallocarray(f->hdus, b->cap_hdus, sizeof *f->hdus);
	}
	h = &f->hdus[f->nhdus];
	memset(h, 0, sizeof *h);
	h->index = (int)f->nhdus++;
	h->file_ = f;
	return h;
}

/* Join a CONTINUE card to the long string before it ('&' continuation). */
static int
hdr_continue(struct fits_file *f, struct fits_hdu *h, const struct fits_card *c)
{
	struct fits_card *prev;
	size_t len, clen;
	char *joined;

	if (strcmp(c->key, "CONTINUE") != 0 || h->ncards == 0 || c->type != FITS_STRING)
		return 0;
	prev = &h->cards[h->ncards - 1];
	if (prev->type != FITS_STRING || prev->value == NULL ||
	    (len = strlen(prev->value)) == 0 || prev->value[len - 1] != '&')
		return 0;
	clen = strlen(c->value);
	joined = fa_alloc(f, len - 1 + clen + 1);
	memcpy(joined, prev->value, len - 1);
	memcpy(joined + len - 1, c->value, clen + 1);
	prev->value = joined;
	return 1;
}

/* Add a parsed card to the last HDU (merging CONTINUE cards). */
static void
hdr_add_card(struct fits_builder *b, const char *s, size_t len)
{
	struct fits_hdu *h = &b->f->hdus[b->f->nhdus - 1];
	struct fits_card c;

	hdr_parse_card(b->f, s, len > FITS_CARD ? FITS_CARD : len, &c);
	if (hdr_continue(b->f, h, &c))
		return;
	if (h->ncards == h->cap_) {
		h->cap_ = h->cap_ ? h->cap_ * 2 : 64;
		h->cards = xreallocarray(h->cards, h->cap_, sizeof *h->cards);
	}
	h->cards[h->ncards++] = c;
}

static int
hdr_is_end(const char *s, size_t len)
{
	size_t i;

	if (len < 3 || strncmp(s, "END", 3) != 0)
		return 0;
	for (i = 3; i < len; i++) {
		if (s[i] != ' ')
			return 0;
	}
	return 1;
}

/*
 * How a dump is cut into HDUs. Dumps one card a line are read as the
 * reference reads them (caom2utils data_util._clean_headers, then astropy's
 * Header.fromstring per HDU): an END card, a Gemini/AstroData marker line
 * ("--- HDU n ---"; "--- PHU ---" opens the first HDU, and so does the first
 * "--- HDU 0") and the end of the file each close an HDU; an HDU without
 * cards is no HDU; blank lines and lines with no '=' that are not COMMENT or
 * HISTORY are dropped (so "# HDU 0 in x.fits:" lines, blank-keyword cards
 * and CONTINUE cards without '=' are not cards). Dumps of 80-column records
 * without newlines (not a reference format) keep every record; END cards and
 * the end of the file close their HDUs.
 */
struct dump_state {
	struct fits_builder *b;
	int		     open;	/* the last HDU takes cards */
	int		     first;	/* a PHU or HDU 0 marker was seen */
	int		     valued;	/* some card has KEY = value */
};

static void
dump_card(struct dump_state *d, const char *s, size_t len)
{
	const struct fits_card *c;
	struct fits_hdu *h;

	if (!d->open) {
		hdr_new_hdu(d->b);
		d->open = 1;
	}
	hdr_add_card(d->b, s, len);
	h = &d->b->f->hdus[d->b->f->nhdus - 1];
	c = &h->cards[h->ncards - 1];
	if (c->type != FITS_NOVALUE)
		d->valued = 1;
}

static int
dump_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/* One line of a dump, as _clean_headers takes it. */
static void
dump_line(struct dump_state *d, const char *s, size_t len)
{
	const char *t = s;
	size_t tlen = len;

	while (tlen > 0 && isspace((unsigned char)*t)) {
		t++;
		tlen--;
	}
	while (tlen > 0 && isspace((unsigned char)t[tlen - 1]))
		tlen--;
	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (tlen == 0)
		return;
	if (dump_prefix(s, len, "--- PHU ---"))
		d->first = 1;
	else if (dump_prefix(s, len, "--- HDU 0")) {
		if (d->first)
			d->open = 0;
		d->first = 1;
	} else if (dump_prefix(s, len, "--- HDU") || (tlen == 3 && memcmp(t, "END", 3) == 0))
		d->open = 0;
	else if (memchr(s, '=', len) != NULL || dump_prefix(s, len, "COMMENT") ||
	    dump_prefix(s, len, "HISTORY"))
		dump_card(d, s, len);
}

/* One 80-column record of a dump without newlines. */
static void
dump_record(struct dump_state *d, const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (hdr_is_end(s, len))
		d->open = 0;
	else if (len > 0)
		dump_card(d, s, len);
}

/* True when the first record is not printable text (a PNG, a tarball, ...). */
static int
hdr_binary(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < FITS_CARD; i++) {
		if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
			continue;
		if ((unsigned char)buf[i] < 32 || (unsigned char)buf[i] > 126)
			return 1;
	}
	return 0;
}

int
fits_read_dump(const char *name, const char *buf, size_t len, struct fits_file **out,
    char **cause)
{
	struct fits_builder b = { xcalloc(1, sizeof(struct fits_file)), 0 };
	struct dump_state d = { &b, 0, 0, 0 };
	const char *p = buf, *lim = buf + len, *nl;
	int lines = memchr(buf, '\n', len < 81 ? len : 81) != NULL;
	size_t n;

	b.f->path = xstrdup(name);
	if (hdr_binary(buf, len))
		p = lim;	/* reported below as not FITS */
	while (p < lim) {
		if (lines) {
			nl = memchr(p, '\n', (size_t)(lim - p));
			n = (size_t)((nl != NULL ? nl : lim) - p);
			dump_line(&d, p, n);
			p += n + (nl != NULL);
		} else {
			n = (size_t)(lim - p) < FITS_CARD ? (size_t)(lim - p) : FITS_CARD;
			dump_record(&d, p, n);
			p += n;
		}
	}
	/* a text file that merely has an '=' somewhere is no header */
	if (b.f->nhdus == 0 || !d.valued) {
		*cause = xasprintf("%s: not a FITS file or header dump", name);
		fits_file_free(b.f);
		return -1;
	}
	*out = b.f;
	return 0;
}

static char *
hdr_cfitsio_error(const char *path, int hdu, int status)
{
	char text[FLEN_STATUS], msg[FLEN_ERRMSG] = "";

	fits_get_errstatus(status, text);
	fits_read_errmsg(msg);
	fits_clear_errmsg();
	if (hdu < 0)
		return xasprintf("%s: %s%s%s", path, text, msg[0] ? ": " : "", msg);
	return xasprintf("%s: HDU %d: %s%s%s", path, hdu, text, msg[0] ? ": " : "", msg);
}

/* A plain file must hold all of an HDU's data; a short one was cut off. */
static int
hdr_check_size(fitsfile *fp, const char *path, int hdu, off_t size, char **cause)
{
	LONGLONG head = 0, data = 0, end = 0;
	int status = 0;

	if (size < 0 || fits_get_hduaddrll(fp, &head, &data, &end, &status) != 0)
		return 0;
	if (end > (LONGLONG)size) {
		*cause = xasprintf("%s: HDU %d: truncated (its data ends at byte %lld, the file "
		    "has %lld)", path, hdu, (long long)end, (long long)size);
		return -1;
	}
	return 0;
}

static int
hdr_read_hdu(fitsfile *fp, struct fits_builder *b, const char *path, int hdu, off_t size,
    char **cause)
{
	char card[FLEN_CARD];
	int status = 0, nkeys = 0, i, type;

	if (fits_movabs_hdu(fp, hdu + 1, &type, &status) != 0 ||
	    fits_get_hdrspace(fp, &nkeys, NULL, &status) != 0) {
		*cause = hdr_cfitsio_error(path, hdu, status);
		return -1;
	}
	hdr_new_hdu(b);
	for (i = 1; i <= nkeys; i++) {
		if (fits_read_record(fp, i, card, &status) != 0) {
			*cause = hdr_cfitsio_error(path, hdu, status);
			return -1;
		}
		hdr_add_card(b, card, strlen(card));
	}
	return hdr_check_size(fp, path, hdu, size, cause);
}

static int
hdr_read_cfitsio(const char *path, off_t size, struct fits_file **out, char **cause)
{
	struct fits_builder b = { xcalloc(1, sizeof(struct fits_file)), 0 };
	fitsfile *fp = NULL;
	int status = 0, nhdus = 0, i, r = 0;

	b.f->path = xstrdup(path);
	/* gzip: cfitsio's file driver uncompresses; otherwise the raw disk file,
	 * whose .fz tables keep their raw headers (and a name's "[...]" is not
	 * taken for an extended filename). Trying the disk file first for gzip
	 * failed on CI now and then, with the first attempt's error reported. */
	if ((size < 0 ? fits_open_file(&fp, path, READONLY, &status) :
	    fits_open_diskfile(&fp, path, READONLY, &status)) != 0) {
		*cause = hdr_cfitsio_error(path, -1, status);
		fits_file_free(b.f);
		return -1;
	}
	if (fits_get_num_hdus(fp, &nhdus, &status) != 0) {
		*cause = hdr_cfitsio_error(path, -1, status);
		r = -1;
	}
	for (i = 0; r == 0 && i < nhdus; i++)
		r = hdr_read_hdu(fp, &b, path, i, size, cause);
	status = 0;
	fits_close_file(fp, &status);
	if (r != 0) {
		fits_file_free(b.f);
		return -1;
	}
	*out = b.f;
	return 0;
}

int
fits_read(const char *path, struct fits_file **out, char **cause)
{
	unsigned char head[81];
	struct stat st;
	size_t n, len;
	FILE *fp;
	char *buf;
	int r;

	if ((fp = fopen(path, "rb")) == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(head, 1, sizeof head, fp);
	fclose(fp);
	/* gzip, or 80-column records without newlines and SIMPLE first: FITS. */
	if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		return hdr_read_cfitsio(path, -1, out, cause);	/* size unknown: gzip */
	if (n >= 9 && memcmp(head, "SIMPLE  =", 9) == 0 && memchr(head, '\n', n) == NULL)
		return hdr_read_cfitsio(path, stat(path, &st) == 0 ? st.st_size : -1, out, cause);
	if (fileio_read(path, &buf, &len, cause) != 0)
		return -1;
	r = fits_read_dump(path, buf, len, out, cause);
	free(buf);
	return r;
}

/* Read up to len bytes (fewer only at the end of the file); -1 on error. */
static ssize_t
hdr_read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		if ((r = read(fd, buf + got, len - got)) < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
fits_header_complete(const char *path)
{
	char block[2880];
	ssize_t got;
	size_t i;
	int fd, r = -1, first = 1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((got = hdr_read_full(fd, block, sizeof block)) >= 0) {
		if (first && (got < 9 || memcmp(block, "SIMPLE  =", 9) != 0)) {
			r = 1;	/* not (uncompressed) FITS: complete as far as we judge */
			break;
		}
		first = 0;
		for (i = 0; r < 0 && i + FITS_CARD <= (size_t)got; i += FITS_CARD) {
			if (hdr_is_end(block + i, FITS_CARD))
				r = 1;
		}
		if (r == 1)
			break;
		if (got < (ssize_t)sizeof block) {	/* end of file, no END card */
			r = 0;
			break;
		}
	}
	close(fd);
	return r;
}

int
fits_name_is_fits(const char *path)
{
	static const char *const sfx[] = { ".fits", ".fit", ".fz", ".fits.gz", ".fit.gz",
		".header", ".hdr" };
	size_t len = strlen(path), i, n;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		n = strlen(sfx[i]);
		if (len > n && strcasecmp(path + len - n, sfx[i]) == 0)
			return 1;
	}
	return 0;
}

void
fits_file_free(struct fits_file *f)
{
	struct fits_arena *a, *next;
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nhdus; i++) {
		free(f->hdus[i].cards);
		strmap_free(f->hdus[i].index_);
	}
	for (a = f->arena_; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	free(f->hdus);
	free(f->path);
	free(f);
}

const struct fits_card *
fits_hdu_find(const struct fits_hdu *hdu, const char *key)
{
	struct fits_hdu *h = (struct fits_hdu *)(uintptr_t)hdu;	/* the index is a cache */
	uintptr_t i;

	if (h->index_ == NULL) {
		h->index_ = strmap_new_borrowed();	/* keys live in the file's arena */
		for (i = h->ncards; i-- > 0;)	/* backwards: the first card wins */
			if (h->cards[i].key[0] != '\0')
				strmap_put(h->index_, h->cards[i].key, (void *)(i + 1));
	}
	i = (uintptr_t)strmap_get(h->index_, key);
	return i != 0 ? &h->cards[i - 1] : NULL;
}

const char *
fits_hdu_value(const struct fits_hdu *hdu, const char *key)
{
	const struct fits_card *c = fits_hdu_find(hdu, key);

	return c != NULL ? c->value : NULL;
}

int
fits_hdu_double(const struct fits_hdu *hdu, const char *key, double *out)
{
	const char *v = fits_hdu_value(hdu, key);
	char buf[96], *end, *d;

	if (v == NULL || strlen(v) >= sizeof buf)
		return -1;
	strcpy(buf, v);
	if ((d = strpbrk(buf, "Dd")) != NULL)
		*d = 'E';
	*out = strtod(buf, &end);
	while (*end == ' ')
		end++;
	return end != buf && *end == '\0' ? 0 : -1;
}

int
fits_hdu_long(const struct fits_hdu *hdu, const char *key, long long *out)
{
	double d;

	/* range first: converting an out-of-range double to an integer is undefined */
	if (fits_hdu_double(hdu, key, &d) != 0 || !(d >= -9.2e18 && d <= 9.2e18) ||
	    d != (double)(long long)d)
		return -1;
	*out = (long long)d;
	return 0;
}

int
fits_hdu_naxis(const struct fits_hdu *hdu, long long *naxisn, int max)
{
	const char *prefix = fits_hdu_find(hdu, "ZNAXIS") != NULL ? "ZNAXIS" : "NAXIS";
	long long naxis = 0;
	char key[32];
	int i;

	if (fits_hdu_long(hdu, prefix, &naxis) != 0 || naxis < 0 || naxis > 999)
		return 0;
	for (i = 0; i < naxis && i < max; i++) {
		snprintf(key, sizeof key, "%s%d", prefix, i + 1);
		if (fits_hdu_long(hdu, key, &naxisn[i]) != 0)
			naxisn[i] = 0;
	}
	return (int)naxis;
}

int
fits_hdu_has_data(const struct fits_hdu *hdu)
{
	long long n[999], bitpix = 0;
	int naxis, i;

	naxis = fits_hdu_naxis(hdu, n, 999);
	if (naxis <= 0)
		return 0;
	for (i = 0; i < naxis; i++) {
		if (n[i] <= 0)
			return 0;
	}
	if (fits_hdu_long(hdu, fits_hdu_find(hdu, "ZBITPIX") ? "ZBITPIX" : "BITPIX", &bitpix) != 0)
		return 0;
	return bitpix != 0;
}

void
fits_hdu_set(struct fits_hdu *hdu, const char *key, enum fits_vtype type, const char *value)
{
	struct fits_card *c = (struct fits_card *)(uintptr_t)fits_hdu_find(hdu, key);

	if (c == NULL) {
		if (hdu->ncards == hdu->cap_) {
			hdu->cap_ = hdu->cap_ ? hdu->cap_ * 2 : 16;
			hdu->cards = xreallocarray(hdu->cards, hdu->cap_, sizeof *hdu->cards);
		}
		c = &hdu->cards[hdu->ncards++];
		memset(c, 0, sizeof *c);
		c->key = fa_strndup(hdu->file_, key, strlen(key));
		strmap_put(hdu->index_, c->key, (void *)(uintptr_t)hdu->ncards);
	}
	c->value = value != NULL ? fa_strndup(hdu->file_, value, strlen(value)) : NULL;
	c->type = value != NULL ? type : FITS_UNDEFINED;
}

/* ---- values typed as astropy types them ---- */

int
fits_parse_double(const char *s, double *out)
{
	char buf[128], *end, *d;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	if ((d = strpbrk(buf, "Dd")) != NULL && d != buf && isdigit((unsigned char)d[-1]))
		*d = 'E';
	*out = strtod(buf, &end);
	while (isspace((unsigned char)*end))
		end++;
	return end != buf && *end == '\0' ? 0 : -1;
}

int
fits_hdu_typed(const struct fits_hdu *hdu, const char *key, struct fits_hval *v)
{
	const struct fits_card *c;

	if (hdu == NULL || (c = fits_hdu_find(hdu, key)) == NULL || c->value == NULL)
		return -1;
	memset(v, 0, sizeof *v);
	switch (c->type) {
	case FITS_LOGICAL:
		v->t = FITS_H_BOOL;
		v->b = c->value[0] == 'T';
		break;
	case FITS_INTEGER:
		v->t = FITS_H_INT;
		v->i = strtoll(c->value, NULL, 10);
		v->d = (double)v->i;
		break;
	case FITS_FLOAT:
		v->t = FITS_H_FLOAT;
		if (fits_parse_double(c->value, &v->d) != 0)
			v->d = NAN;
		break;
	default:
		v->t = FITS_H_STR;
		v->s = c->value;
		break;
	}
	return 0;
}

int
fits_hval_truthy(const struct fits_hval *v)
{
	switch (v->t) {
	case FITS_H_BOOL:
		return v->b;
	case FITS_H_INT:
		return v->i != 0;
	case FITS_H_FLOAT:
		return v->d != 0;
	default:
		return v->s[0] != '\0';
	}
}

const char *
fits_hval_str(const struct fits_hval *v, char buf[40])
{
	switch (v->t) {
	case FITS_H_BOOL:
		return v->b ? "True" : "False";
	case FITS_H_INT:
		snprintf(buf, 40, "%lld", v->i);
		return buf;
	case FITS_H_FLOAT:
		numfmt_double(v->d, buf);
		return buf;
	default:
		return v->s;
	}
}

/* Is value a number that _set_by_type makes a float? */
static int
hdr_typed_float(const char *value, double *d)
{
	const char *s;
	int decimal = *value != '\0';

	for (s = value; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			decimal = 0;
	}
	return fits_parse_double(value, d) == 0 && ((*d != 0 && !decimal) ||
	    (value[0] == '0' && value[1] == '.'));
}

void
fits_hdu_set_typed(struct fits_hdu *hdu, const char *key, const char *value)
{
	char buf[40], *end;
	double d;
	long long i;

	if (hdr_typed_float(value, &d)) {
		snprintf(buf, sizeof buf, "%.17g", d);
		if (strpbrk(buf, ".eEn") == NULL)
			strcat(buf, ".0");
		fits_hdu_set(hdu, key, FITS_FLOAT, buf);
		return;
	}
	i = strtoll(value, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (end != value && *end == '\0' && i != 0) {
		snprintf(buf, sizeof buf, "%lld", i);
		fits_hdu_set(hdu, key, FITS_INTEGER, buf);
	} else
		fits_hdu_set(hdu, key, FITS_STRING, value);
}

/*
 * One 80-column record for c into out (81 bytes); 0 or -1 when it does not
 * fit. Built by hand rather than with snprintf: it runs for every WCS card of
 * every HDU mapped. Same layout as "%-8s= %20s" and "%-8s= 'text    '".
 */
static int
hdr_render(const struct fits_card *c, char *out)
{
	size_t klen, n, i;

	if (c->value == NULL || c->key[0] == '\0' || (klen = strlen(c->key)) > 8)
		return -1;
	memset(out, ' ', 80);
	out[80] = '\0';
	memcpy(out, c->key, klen);
	out[8] = '=';
	n = 10;
	if (c->type == FITS_STRING) {
		out[n++] = '\'';
		for (i = 0; c->value[i] != '\0'; i++) {
			if (n + (c->value[i] == '\'') + 2 > 80)
				return -1;
			if (c->value[i] == '\'')
				out[n++] = '\'';
			out[n++] = c->value[i];
		}
		n = n < 19 ? 19 : n;	/* at least 8 characters between the quotes */
		out[n] = '\'';
		return 0;
	}
	i = strlen(c->value);
	if (i > 70)
		return -1;
	memcpy(out + (i < 20 ? 30 - i : 10), c->value, i);
	return 0;
}

char *
fits_hdu_records(const struct fits_hdu *hdu, int *ncards)
{
	char *buf = xmalloc(hdu->ncards * 80 + 1), rec[81];
	size_t i;
	int n = 0;

	buf[0] = '\0';
	for (i = 0; i < hdu->ncards; i++) {
		if (hdr_render(&hdu->cards[i], rec) == 0)
			memcpy(buf + 80 * n++, rec, 81);
	}
	*ncards = n;
	return buf;
}

int
fits_read_column(const char *path, int hdu, const char *column, char ***values,
    size_t *nvalues, char **cause)
{
	fitsfile *fp = NULL;
	int status = 0, type = 0, col = 0, typecode = 0, dispw = 0;
	long nrows = 0, repeat = 0, width = 0, r;
	char **v = NULL, *cell, name[FLEN_VALUE];

	*values = NULL;
	*nvalues = 0;
	snprintf(name, sizeof name, "%s", column);
	if (fits_open_file(&fp, path, READONLY, &status) != 0 ||
	    fits_movabs_hdu(fp, hdu + 1, &type, &status) != 0 ||
	    ((type == BINARY_TBL || type == ASCII_TBL) &&
	    (fits_get_colnum(fp, CASEINSEN, name, &col, &status) != 0 ||
	    fits_get_num_rows(fp, &nrows, &status) != 0 ||
	    fits_get_coltype(fp, col, &typecode, &repeat, &width, &status) != 0 ||
	    fits_get_col_display_width(fp, col, &dispw, &status) != 0))) {
		*cause = hdr_cfitsio_error(path, hdu, status);
		status = 0;
		if (fp != NULL)
			fits_close_file(fp, &status);
		return -1;
	}
	if (type != BINARY_TBL && type != ASCII_TBL) {
		*cause = xasprintf("%s: HDU %d: not a table (column %s wanted)", path, hdu, column);
		fits_close_file(fp, &status);
		return -1;
	}
	if (dispw < (int)repeat)
		dispw = (int)repeat;
	v = xcalloc((size_t)nrows + 1, sizeof *v);
	for (r = 0; r < nrows; r++) {
		cell = xcalloc(1, (size_t)dispw + 2);
		if (fits_read_col_str(fp, col, r + 1, 1, 1, NULL, &cell, NULL, &status) != 0) {
			*cause = hdr_cfitsio_error(path, hdu, status);
			free(cell);
			break;
		}
		for (width = (long)strlen(cell); width > 0 && (cell[width - 1] == ' ' ||
		    cell[width - 1] == '\t'); width--)
			;
		cell[width] = '\0';
		v[r] = cell;
	}
	status = 0;
	fits_close_file(fp, &status);
	if (r < nrows) {
		/* nothing half read is handed back */
		while (r-- > 0)
			free(v[r]);
		free(v);
		return -1;
	}
	*nvalues = (size_t)nrows;
	*values = v;
	return 0;
}
