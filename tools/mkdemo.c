/*
 * mkdemo.c - make a small real FITS file from a header dump, for demo.sh.
 *
 * A header dump (*.fits.header) is a file's headers as text: 80-column
 * cards, one a line, each HDU ending with an END card. mkdemo writes the
 * same HDUs with cfitsio, every card kept, but with axes shrunk so that
 * each HDU's pixels take at most BYTES bytes (-b; default 4096), and the
 * linear WCS rescaled so the frame still covers the same world coordinates
 * (CRPIXj, CDELTi, CDi_j, PCi_j, for every alternate WCS too). A HISTORY
 * card records the change. The pixels are a smooth source (a Gaussian on
 * every axis longer than 1) with a little deterministic noise, so the same
 * dump always gives the same bytes.
 *
 * usage: mkdemo [-b BYTES] DUMP OUT.fits
 * Exit codes: 0 written, 1 bad dump or write error (OUT removed), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fitsio.h>

#define MKDEMO_AXES	9	/* the most axes an HDU may have here */
#define CARD_LEN	80

struct hdu {
	char		(*cards)[CARD_LEN + 1];
	size_t		 ncards;
	size_t		 line;			/* where it starts in the dump */
	int		 bitpix;
	int		 naxis;
	long		 naxes[MKDEMO_AXES];	/* as in the dump */
	long		 small[MKDEMO_AXES];	/* as written */
	double		 f[MKDEMO_AXES];	/* old pixels per new pixel, axis by axis */
	double		 bscale;
	double		 bzero;
};

struct dump {
	const char	*path;
	struct hdu	*hdus;
	size_t		 nhdus;
};

static const char *progname = "mkdemo";

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-b BYTES] DUMP OUT.fits\n", progname);
}

static void *
xrealloc(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(1);
	}
	if ((p = realloc(p, n * size)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(1);
	}
	return p;
}

/* The keyword of a card: its first 8 columns without trailing blanks. */
static void
card_key(const char *card, char key[9])
{
	int n;

	memcpy(key, card, 8);
	key[8] = '\0';
	for (n = 8; n > 0 && key[n - 1] == ' '; n--)
		key[n - 1] = '\0';
}

/* The value of a card as a number; 0 when it has one, -1 when not. */
static int
card_number(const char *card, double *v)
{
	char value[FLEN_VALUE], comment[FLEN_COMMENT], *end, *p;
	int status = 0;

	if (strncmp(card + 8, "= ", 2) != 0)
		return -1;
	if (fits_parse_value((char *)(uintptr_t)card, value, comment, &status) != 0)
		return -1;
	for (p = value; *p != '\0'; p++) {
		if (*p == 'D' || *p == 'd')
			*p = 'E';	/* FITS allows a Fortran exponent */
	}
	errno = 0;
	*v = strtod(value, &end);
	while (*end == ' ')
		end++;
	return value[0] == '\0' || *end != '\0' || errno != 0 ? -1 : 0;
}

/* A keyword's value in one HDU, or -1 when absent or not a number. */
static int
hdu_number(const struct hdu *h, const char *key, double *v)
{
	char k[9];
	size_t i;

	for (i = 0; i < h->ncards; i++) {
		card_key(h->cards[i], k);
		if (strcmp(k, key) == 0)
			return card_number(h->cards[i], v);
	}
	return -1;
}

static int
dump_error(const struct dump *d, size_t line, const char *msg, const char *arg)
{
	fprintf(stderr, "%s: %s:%zu: %s%s\n", progname, d->path, line, msg, arg);
	return -1;
}

static void
hdu_add(struct hdu *h, const char *line, size_t len)
{
	h->cards = xrealloc(h->cards, h->ncards + 1, sizeof *h->cards);
	memset(h->cards[h->ncards], ' ', CARD_LEN);
	memcpy(h->cards[h->ncards], line, len);
	h->cards[h->ncards][CARD_LEN] = '\0';
	h->ncards++;
}

/* FITS cards hold printable ASCII only. */
static int
printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	}
	return 1;
}

/* Read the dump: cards of up to 80 columns, one a line, HDUs ending with END. */
static int
dump_read(struct dump *d)
{
	char *line = NULL, key[9];
	size_t cap = 0, lineno = 0;
	ssize_t len;
	struct hdu *h = NULL;
	FILE *fp;
	int r = 0;

	if ((fp = fopen(d->path, "r")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", progname, d->path, strerror(errno));
		return -1;
	}
	while (r == 0 && (len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (h == NULL && strspn(line, " ") == (size_t)len)
			continue;	/* blank lines between HDUs */
		if (len > CARD_LEN) {
			r = dump_error(d, lineno, "a card is longer than 80 columns", "");
			break;
		}
		if (!printable(line, (size_t)len)) {
			r = dump_error(d, lineno, "a card holds a character that is not printable "
			    "ASCII", "");
			break;
		}
		if (h == NULL) {
			d->hdus = xrealloc(d->hdus, d->nhdus + 1, sizeof *d->hdus);
			h = &d->hdus[d->nhdus++];
			memset(h, 0, sizeof *h);
			h->line = lineno;
		}
		hdu_add(h, line, (size_t)len);
		card_key(h->cards[h->ncards - 1], key);
		if (strcmp(key, "END") == 0)
			h = NULL;
	}
	if (r == 0 && ferror(fp))
		r = dump_error(d, lineno, "read error: ", strerror(errno));
	else if (r == 0 && h != NULL)
		r = dump_error(d, h->line, "this HDU has no END card", "");
	else if (r == 0 && d->nhdus == 0)
		r = dump_error(d, lineno, "no HDU", "");
	free(line);
	fclose(fp);
	return r;
}

/* The structure of HDU i: first card, BITPIX, NAXIS, NAXISn, BSCALE, BZERO. */
static int
hdu_structure(const struct dump *d, size_t i)
{
	struct hdu *h = &d->hdus[i];
	const char *first = i == 0 ? "SIMPLE  =                    T" :
	    "XTENSION= 'IMAGE   '";
	char key[16];
	double v;
	int n;

	if (strncmp(h->cards[0], first, strlen(first)) != 0)
		return dump_error(d, h->line, i == 0 ? "the first HDU must start with SIMPLE = T" :
		    "an extension must start with XTENSION = 'IMAGE' (only images are made)", "");
	if (hdu_number(h, "BITPIX", &v) != 0 || (v != 8 && v != 16 && v != 32 && v != 64 &&
	    v != -32 && v != -64))
		return dump_error(d, h->line, "BITPIX is missing or not a FITS BITPIX", "");
	h->bitpix = (int)v;
	if (hdu_number(h, "NAXIS", &v) != 0 || v < 0 || v > MKDEMO_AXES || v != floor(v))
		return dump_error(d, h->line, "NAXIS is missing or not 0 to 9", "");
	h->naxis = (int)v;
	for (n = 0; n < h->naxis; n++) {
		snprintf(key, sizeof key, "NAXIS%d", n + 1);
		if (hdu_number(h, key, &v) != 0 || v < 0 || v > 1e9 || v != floor(v))
			return dump_error(d, h->line, "missing or bad ", key);
		h->naxes[n] = h->small[n] = (long)v;
		h->f[n] = 1.0;
	}
	if (hdu_number(h, "BSCALE", &h->bscale) != 0 || h->bscale == 0)
		h->bscale = 1.0;
	if (hdu_number(h, "BZERO", &h->bzero) != 0)
		h->bzero = 0.0;
	return 0;
}

/* Shrink the axes longer than 1, all by about the same factor, to fit bytes. */
static void
hdu_shrink(struct hdu *h, long bytes)
{
	double total = 1, s;
	long maxpix = bytes / (labs(h->bitpix) / 8), pix;
	int n, k = 0, big;

	for (n = 0; n < h->naxis; n++) {
		total *= (double)h->naxes[n];
		k += h->naxes[n] > 1;
	}
	if (maxpix < 1)
		maxpix = 1;
	if (h->naxis == 0 || total <= (double)maxpix)
		return;
	s = pow(total / (double)maxpix, 1.0 / k);
	for (n = 0; n < h->naxis; n++) {
		h->small[n] = (long)floor((double)h->naxes[n] / s);
		if (h->small[n] < 1)
			h->small[n] = 1;
	}
	for (;;) {	/* rounding: give up pixels on the longest axis */
		for (n = 0, pix = 1, big = 0; n < h->naxis; n++) {
			pix *= h->small[n];
			if (h->small[n] > h->small[big])
				big = n;
		}
		if (pix <= maxpix || h->small[big] == 1)
			break;
		h->small[big]--;
	}
	for (n = 0; n < h->naxis; n++)
		h->f[n] = (double)h->naxes[n] / (double)h->small[n];
}

/* The factor of 1-based WCS axis j (1 for axes beyond NAXIS). */
static double
axis_factor(const struct hdu *h, int j)
{
	return j >= 1 && j <= h->naxis ? h->f[j - 1] : 1.0;
}

/*
 * A linear WCS keyword to rescale: CRPIXj, CDELTi, CDi_j or PCi_j, with an
 * optional alternate-WCS letter. 1 with the new value in *v, 0 when the card
 * is another one or keeps its value.
 */
static int
wcs_rescale(const struct hdu *h, const char *key, double *v)
{
	int i, j, used = 0;
	char alt = '\0';

	if (sscanf(key, "CRPIX%d%n", &j, &used) == 1 && (key[used] == '\0' ||
	    (key[used + 1] == '\0' && (alt = key[used]) >= 'A' && alt <= 'Z'))) {
		*v = (*v - 0.5) / axis_factor(h, j) + 0.5;
		return axis_factor(h, j) != 1.0;
	}
	if (sscanf(key, "CDELT%d%n", &i, &used) == 1 && (key[used] == '\0' ||
	    (key[used + 1] == '\0' && (alt = key[used]) >= 'A' && alt <= 'Z'))) {
		*v *= axis_factor(h, i);
		return axis_factor(h, i) != 1.0;
	}
	if (sscanf(key, "CD%d_%d%n", &i, &j, &used) == 2 && (key[used] == '\0' ||
	    (key[used + 1] == '\0' && (alt = key[used]) >= 'A' && alt <= 'Z'))) {
		*v *= axis_factor(h, j);
		return axis_factor(h, j) != 1.0;
	}
	if (sscanf(key, "PC%d_%d%n", &i, &j, &used) == 2 && (key[used] == '\0' ||
	    (key[used + 1] == '\0' && (alt = key[used]) >= 'A' && alt <= 'Z'))) {
		*v *= axis_factor(h, j) / axis_factor(h, i);
		return axis_factor(h, j) != axis_factor(h, i);
	}
	return 0;
}

static int
is_structural(const char *key, int primary)
{
	static const char *const keys[] = { "SIMPLE", "XTENSION", "BITPIX", "NAXIS",
		"EXTEND", "PCOUNT", "GCOUNT", "END", NULL };
	int i, n;

	for (i = 0; keys[i] != NULL; i++) {
		if (strcmp(key, keys[i]) == 0)
			return strcmp(key, "EXTEND") != 0 || primary;
	}
	return sscanf(key, "NAXIS%d", &n) == 1;
}

/* Write the cards of h after the ones cfitsio wrote, rescaling the WCS. */
static int
hdu_write_cards(fitsfile *fp, const struct hdu *h, int primary, int *status)
{
	char key[9], value[FLEN_VALUE], comment[FLEN_COMMENT];
	double v;
	size_t i;

	for (i = 0; i < h->ncards && *status == 0; i++) {
		card_key(h->cards[i], key);
		if (is_structural(key, primary))
			continue;
		if (card_number(h->cards[i], &v) == 0 && wcs_rescale(h, key, &v)) {
			fits_parse_value(h->cards[i], value, comment, status);
			fits_write_key_dbl(fp, key, v, -15, comment[0] ? comment : NULL, status);
		} else
			fits_write_record(fp, h->cards[i], status);
		if (strncmp(key, "CROTA", 5) == 0 && card_number(h->cards[i], &v) == 0 &&
		    v != 0 && h->naxis >= 2 && h->f[0] != h->f[1])
			fprintf(stderr, "%s: warning: %s = %g is kept as it is: the axes were "
			    "shrunk by different factors\n", progname, key, v);
	}
	return *status;
}

static void
hdu_history(fitsfile *fp, const struct hdu *h, int *status)
{
	char text[80];
	int n, any = 0;

	for (n = 0; n < h->naxis; n++) {
		if (h->small[n] == h->naxes[n])
			continue;
		snprintf(text, sizeof text, "mkdemo: NAXIS%d %ld -> %ld", n + 1, h->naxes[n],
		    h->small[n]);
		fits_write_history(fp, text, status);
		any = 1;
	}
	if (any)
		fits_write_history(fp, "mkdemo: CRPIX, CDELT, CD and PC rescaled to the same "
		    "world range", status);
	fits_write_history(fp, "mkdemo: made from a header dump; the pixels are synthetic",
	    status);
}

/* Raw pixel values: base + amp * (smooth source + 1% noise), within the type. */
static void
hdu_pixels(const struct hdu *h, unsigned seed, double *px, long npix)
{
	double lo, hi, p1, p2, floor_, span, g, noise;
	long i, rest, x;
	int n;

	switch (h->bitpix) {
	case 8: lo = 0, hi = 255; break;
	case 16: lo = -32768, hi = 32767; break;
	case 32: lo = -2147483648.0, hi = 2147483647.0; break;
	case 64: lo = -9007199254740992.0, hi = 9007199254740992.0; break;
	default: lo = -65535, hi = 65535; break;
	}
	p1 = h->bzero + h->bscale * lo;
	p2 = h->bzero + h->bscale * hi;
	floor_ = fmin(p1, p2);
	if (floor_ < 0 && fmax(p1, p2) > 0)
		floor_ = 0;	/* counts are not negative */
	span = fmin(fmax(p1, p2) - floor_, 65535);
	for (i = 0; i < npix; i++) {
		for (n = 0, rest = i, g = 1; n < h->naxis; n++) {
			x = rest % h->small[n];
			rest /= h->small[n];
			if (h->small[n] > 1)
				g *= exp(-0.5 * pow((x + 0.5 - h->small[n] / 2.0) /
				    (0.25 * h->small[n]), 2));
		}
		seed = seed * 1103515245u + 12345u;
		noise = ((seed >> 16) & 0x7fff) / 32767.0 * 0.02 - 0.01;
		px[i] = (floor_ + span * (0.02 + 0.3 * (g + noise)) - h->bzero) / h->bscale;
		px[i] = fmin(fmax(px[i], lo), hi);
	}
}

static int
hdu_write(fitsfile *fp, const struct hdu *h, size_t index, int *status)
{
	long npix = 1;
	double *px;
	int n;

	fits_create_img(fp, h->bitpix, h->naxis, (long *)(uintptr_t)h->small, status);
	if (hdu_write_cards(fp, h, index == 0, status) != 0)
		return *status;
	hdu_history(fp, h, status);
	for (n = 0; n < h->naxis; n++)
		npix *= h->small[n];
	if (h->naxis == 0 || npix == 0)
		return *status;
	px = xrealloc(NULL, (size_t)npix, sizeof *px);
	hdu_pixels(h, 20160729u + (unsigned)index, px, npix);
	fits_set_bscale(fp, 1.0, 0.0, status);	/* px holds raw values */
	fits_write_img(fp, TDOUBLE, 1, npix, px, status);
	free(px);
	return *status;
}

static int
write_fits(const struct dump *d, const char *out)
{
	char msg[FLEN_ERRMSG];
	fitsfile *fp = NULL;
	int status = 0, cstatus = 0;
	struct stat st;
	size_t i;

	/* replace a regular file; never remove anything else (such as /dev/null) */
	if (lstat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: %s: exists and is not a regular file\n", progname, out);
		return -1;
	}
	if (unlink(out) != 0 && errno != ENOENT) {
		fprintf(stderr, "%s: %s: %s\n", progname, out, strerror(errno));
		return -1;
	}
	fits_create_diskfile(&fp, out, &status);
	for (i = 0; i < d->nhdus && status == 0; i++) {
		if (hdu_write(fp, &d->hdus[i], i, &status) != 0)
			break;
	}
	if (fp != NULL)
		fits_close_file(fp, &cstatus);
	if (status == 0)
		status = cstatus;
	if (status == 0)
		return 0;
	fits_get_errstatus(status, msg);
	if (i < d->nhdus)
		fprintf(stderr, "%s: %s: HDU %zu: %s\n", progname, out, i, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", progname, out, msg);
	while (fits_read_errmsg(msg))
		fprintf(stderr, "%s:   %s\n", progname, msg);
	unlink(out);
	return -1;
}

int
main(int argc, char **argv)
{
	struct dump d = { NULL, NULL, 0 };
	long bytes = 4096;
	char *end;
	size_t i;
	int ch, r = 0;

	while ((ch = getopt(argc, argv, "b:h")) != -1) {
		switch (ch) {
		case 'b':
			errno = 0;
			bytes = strtol(optarg, &end, 10);
			if (*end != '\0' || errno != 0 || bytes < 1) {
				fprintf(stderr, "%s: -b takes a number of bytes\n", progname);
				return 2;
			}
			break;
		default:
			usage();
			return ch == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != 2) {
		usage();
		return 2;
	}
	d.path = argv[optind];
	if (dump_read(&d) != 0)
		r = 1;
	for (i = 0; r == 0 && i < d.nhdus; i++) {
		if (hdu_structure(&d, i) != 0)
			r = 1;
		else
			hdu_shrink(&d.hdus[i], bytes);
	}
	if (r == 0 && write_fits(&d, argv[optind + 1]) != 0)
		r = 1;
	for (i = 0; i < d.nhdus; i++)
		free(d.hdus[i].cards);
	free(d.hdus);
	return r;
}
