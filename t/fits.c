/*
 * t/fits.c - FITS headers: header dumps of the reference cases, a real FITS
 * file, plain/tile-compressed/gzipped files written here with cfitsio, dumps
 * cut into HDUs as the reference cuts them (END, Gemini markers, no END),
 * value parsing (strings, CONTINUE, logicals, numbers), values typed as
 * astropy types them, data detection, and each kind of bad input with its
 * message.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "caom/fits.h"
#include "tap.h"
#include "lib/xmalloc.h"

static char dir[] = "/tmp/caom2ingest-fits.XXXXXX";

/* Write a small image FITS file at path (compressed when compress != 0). */
static void
write_fits(const char *path, int compress)
{
	long naxes[2] = { 20, 10 };
	short pix[200];
	fitsfile *fp;
	int status = 0, i;
	char *name = xasprintf("!%s%s", path, compress ? "[compress R]" : "");

	for (i = 0; i < 200; i++)
		pix[i] = (short)i;
	fits_create_file(&fp, name, &status);
	fits_create_img(fp, SHORT_IMG, 2, naxes, &status);
	fits_write_key_str(fp, "OBJECT", "M31 'core'", "target", &status);
	fits_write_key_dbl(fp, "EXPTIME", 30.5, -8, "seconds", &status);
	fits_write_key_log(fp, "PHOTOMET", 1, NULL, &status);
	fits_write_key_longstr(fp, "LONGSTR", "a very long string value that does not fit in one "
	    "card of eighty columns and so continues on the next card", NULL, &status);
	fits_write_img(fp, TSHORT, 1, 200, pix, &status);
	fits_close_file(fp, &status);
	if (status != 0)
		bail("cannot write %s: status %d", path, status);
	free(name);
}

static void
test_written(void)
{
	char *plain = xasprintf("%s/plain.fits", dir), *fz = xasprintf("%s/c.fits.fz", dir);
	char *gz = xasprintf("%s/plain.fits.gz", dir), *cmd, *cause = NULL;
	struct fits_file *f = NULL;
	const struct fits_hdu *h;
	double d = 0;

	write_fits(plain, 0);
	ok(fits_read(plain, &f, &cause) == 0 && f->nhdus == 1, "a plain FITS file: 1 HDU");
	h = &f->hdus[0];
	is_string("M31 'core'", fits_hdu_value(h, "OBJECT"), "a string with a quote");
	ok(fits_hdu_double(h, "EXPTIME", &d) == 0 && d == 30.5, "a float");
	is_string("T", fits_hdu_value(h, "PHOTOMET"), "a logical");
	is_string("a very long string value that does not fit in one card of eighty columns "
	    "and so continues on the next card", fits_hdu_value(h, "LONGSTR"),
	    "a CONTINUE'd long string is joined");
	ok(fits_hdu_has_data(h), "an image HDU has data");
	fits_file_free(f);
	write_fits(fz, 1);
	ok(fits_read(fz, &f, &cause) == 0 && f->nhdus == 2, "a tile-compressed file: 2 HDUs");
	if (f != NULL && f->nhdus == 2) {
		ok(fits_hdu_find(&f->hdus[1], "ZNAXIS") != NULL, "its raw header shows ZNAXIS");
		ok(fits_hdu_has_data(&f->hdus[1]), "and its data is detected from ZNAXISn");
		ok(!fits_hdu_has_data(&f->hdus[0]), "the empty primary has none");
	} else
		skip(3, "no compressed HDU");
	fits_file_free(f);
	f = NULL;
	cmd = xasprintf("gzip -c %s > %s", plain, gz);
	if (system(cmd) != 0)
		bail("gzip failed");
	ok(fits_read(gz, &f, &cause) == 0 && f->nhdus == 1 &&
	    strcmp(fits_hdu_value(&f->hdus[0], "OBJECT"), "M31 'core'") == 0, "a gzipped file");
	fits_file_free(f);
	free(cmd);
	cmd = xasprintf("head -c 3000 %s > %s/truncated.fits", plain, dir);
	if (system(cmd) != 0)
		bail("head failed");
	free(cmd);
	cmd = xasprintf("%s/truncated.fits", dir);
	ok(fits_read(cmd, &f, &cause) == -1 && strstr(cause, "truncated.fits") != NULL,
	    "a truncated file is an error naming it: %s", cause ? cause : "");
	free(cause);
	free(cmd);
	free(plain);
	free(fz);
	free(gz);
}

static void
check_bad(const char *name, const char *want)
{
	struct fits_file *f = NULL;
	char *path = test_data_path(name), *cause = NULL, *expect;

	expect = xasprintf("%s%s", path, want);
	ok(fits_read(path, &f, &cause) == -1 && f == NULL, "%s is refused", name);
	is_string(expect, cause, "%s: message", name);
	free(expect);
	free(cause);
	free(path);
}

static void
test_reference(void)
{
	char *megacam = test_reference_path("caom/cases/cfht-2087482o/2087482o.fits.header");
	char *gemini = test_reference_path(
	    "caom/cases/gemini-wrgnN20140428S0085_arc/wrgnN20140428S0085_arc.fits");
	struct fits_file *f = NULL;
	char *cause = NULL;
	long long n = 0;

	if (megacam == NULL || gemini == NULL) {
		skip(5, "CAOM reference tree absent");
		return;
	}
	ok(fits_read(megacam, &f, &cause) == 0 && f->nhdus == 41,
	    "the MegaCam dump: 41 HDUs (primary + 40 extensions)");
	ok(f != NULL && fits_hdu_long(&f->hdus[0], "NEXTEND", &n) == 0 && n == 40, "NEXTEND 40");
	ok(f != NULL && fits_hdu_has_data(&f->hdus[1]) && !fits_hdu_has_data(&f->hdus[0]),
	    "data only in the extensions");
	fits_file_free(f);
	ok(fits_read(gemini, &f, &cause) == 0 && f->nhdus == 2, "a real FITS file: 2 HDUs");
	is_string("2020-07-30T15:23:06", f ? fits_hdu_value(&f->hdus[0], "DATE") : NULL,
	    "its DATE");
	fits_file_free(f);
	free(megacam);
	free(gemini);
}

/* A dump from text; NULL with the message in *cause when refused. */
static struct fits_file *
dump(const char *text, char **cause)
{
	struct fits_file *f = NULL;

	free(*cause);
	*cause = NULL;
	if (fits_read_dump("d", text, strlen(text), &f, cause) != 0)
		return NULL;
	return f;
}

/* "KEY1,KEY2|KEY3" : every HDU's card keys in order, HDUs split by '|'. */
static char *
dump_keys(const struct fits_file *f)
{
	char buf[2048];
	size_t n = 0, i, j;

	buf[0] = '\0';
	for (i = 0; f != NULL && i < f->nhdus; i++) {
		for (j = 0; j < f->hdus[i].ncards && n < sizeof buf; j++)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", j ? "," : "",
			    f->hdus[i].cards[j].key);
		if (i + 1 < f->nhdus && n < sizeof buf)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "|");
	}
	return xstrdup(buf);
}

/* Header dumps cut into HDUs as the reference does (caom2utils _clean_headers). */
static void
test_dumps(void)
{
	static const struct {
		const char *what, *text, *keys;
	} cases[] = {
		{ "no END card: the end of the file ends the HDU",
		  "SIMPLE  =                    T\nOBJECT  = 'M31'\n", "SIMPLE,OBJECT" },
		{ "no END after the last of two HDUs",
		  "SIMPLE  = T\nEND\nXTENSION= 'IMAGE'\nNAXIS   = 0", "SIMPLE|XTENSION,NAXIS" },
		{ "Gemini markers: one HDU per marker",
		  "--- PHU ---\nSIMPLE  = T\nINSTRUME= 'GMOS-N'\n\n--- HDU 1 ---\n"
		  "XTENSION= 'BINTABLE'\nNAXIS   = 2\n\n--- HDU 2 ---\nXTENSION= 'IMAGE'\n",
		  "SIMPLE,INSTRUME|XTENSION,NAXIS|XTENSION" },
		{ "PHU then HDU 0: HDU 0 is the second HDU",
		  "--- PHU ---\nSIMPLE  = T\n--- HDU 0 ---\nXTENSION= 'IMAGE'\n",
		  "SIMPLE|XTENSION" },
		{ "HDU 0 first (no PHU marker) opens the first HDU",
		  "--- HDU 0 ---\nSIMPLE  = T\n--- HDU 1 ---\nXTENSION= 'IMAGE'\n",
		  "SIMPLE|XTENSION" },
		{ "END cards and markers together: no empty HDU",
		  "--- PHU ---\nSIMPLE  = T\nEND\n--- HDU 1 ---\nXTENSION= 'IMAGE'\nEND\n"
		  "END\n\n", "SIMPLE|XTENSION" },
		{ "an END with blanks around it ends the HDU",
		  "SIMPLE  = T\n   END   \r\nXTENSION= 'IMAGE'\n", "SIMPLE|XTENSION" },
		{ "lines without '=' are dropped, COMMENT and HISTORY kept",
		  "# HDU 0 in x.fits:\nSIMPLE  = T\n        blank keyword\nCOMMENT a\n"
		  "CONTINUE  'more'\nHISTORY b\nJUNK\nEXPTIME = 5\n",
		  "SIMPLE,COMMENT,HISTORY,EXPTIME" },
	};
	struct fits_file *f;
	char *cause = NULL, *keys;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		f = dump(cases[i].text, &cause);
		keys = dump_keys(f);
		is_string(cases[i].keys, keys, "%s", cases[i].what);
		free(keys);
		fits_file_free(f);
	}
	/* HDU indices follow the markers' order; values are read as before */
	f = dump("--- PHU ---\nSIMPLE  = T\n--- HDU 1 ---\nXTENSION= 'IMAGE'\nNAXIS   = 2\n"
	    "NAXIS1  = 4\nNAXIS2  = 4\nBITPIX  = 16\n", &cause);
	ok(f != NULL && f->nhdus == 2 && f->hdus[1].index == 1 &&
	    fits_hdu_has_data(&f->hdus[1]) && !fits_hdu_has_data(&f->hdus[0]),
	    "Gemini dump: HDU 1 is the data HDU");
	fits_file_free(f);
	/* 80-column records without newlines: END closes an HDU, the end of the file too */
	{
		char rec[3 * 80 + 1];

		snprintf(rec, sizeof rec, "%-80s%-80s%-80s", "XTENSION= 'IMAGE'", "END",
		    "XTENSION= 'TABLE'");
		f = dump(rec, &cause);
		keys = dump_keys(f);
		is_string("XTENSION|XTENSION", keys, "records without newlines: no END at the end");
		free(keys);
		fits_file_free(f);
	}
	ok(dump("END\n\nEND\n", &cause) == NULL, "END cards alone are refused");
	is_string("d: not a FITS file or header dump", cause, "as not a header dump");
	ok(dump("a = b\nsome text\n", &cause) == NULL, "text with an '=' but no card is refused");
	is_string("d: not a FITS file or header dump", cause, "as not a header dump");
	free(cause);
}

/* Card value types, values replaced with fits_hdu_set, and the records rendered for wcslib. */
static void
test_types(void)
{
	static const struct {
		const char *card, *key, *value;
		enum fits_vtype type;
	} cases[] = {
		{ "AINT    =                   12 / c", "AINT", "12", FITS_INTEGER },
		{ "ANEG    =                  -42", "ANEG", "-42", FITS_INTEGER },
		{ "ADEXP   =          -1.5D+03", "ADEXP", "-1.5D+03", FITS_FLOAT },
		{ "AEXP    =                 1e5", "AEXP", "1e5", FITS_FLOAT },
		{ "AFRAC   =                  .5", "AFRAC", ".5", FITS_FLOAT },
		{ "ADOT    =                  5.", "ADOT", "5.", FITS_FLOAT },
		{ "ABADEXP =                1.5E", "ABADEXP", "1.5E", FITS_UNDEFINED },
		{ "AINF    =                 inf", "AINF", "inf", FITS_FLOAT },
		{ "ALOG    =                    T", "ALOG", "T", FITS_LOGICAL },
		{ "ACPLX   =             (1, 2)", "ACPLX", "(1, 2)", FITS_COMPLEX },
		{ "ASTR    = 'it''s  '           / s", "ASTR", "it's", FITS_STRING },
		{ "AWORD   = abc", "AWORD", "abc", FITS_UNDEFINED },
	};
	char buf[4096], *rec, *cause = NULL;
	struct fits_file *f = NULL;
	struct fits_hdu *h;
	const struct fits_card *c;
	size_t i, n = 0;
	int nrec = 0;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", cases[i].card);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "END\n");
	if (fits_read_dump("types", buf, n, &f, &cause) != 0)
		bail("types: %s", cause);
	h = &f->hdus[0];
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c = fits_hdu_find(h, cases[i].key);
		ok(c != NULL && c->type == cases[i].type &&
		    strcmp(c->value != NULL ? c->value : "", cases[i].value) == 0,
		    "%s: type %d, value %s", cases[i].key, (int)cases[i].type, cases[i].value);
	}
	fits_hdu_set(h, "AINT", FITS_FLOAT, "12.5");
	fits_hdu_set(h, "CTYPE1", FITS_STRING, "RA---TAN");
	fits_hdu_set(h, "CUNIT1", FITS_STRING, "deg");
	memset(buf, 'x', 69);
	buf[69] = '\0';
	fits_hdu_set(h, "ALONG", FITS_STRING, buf);	/* 69 characters: too long */
	buf[68] = '\0';
	fits_hdu_set(h, "AFULL", FITS_STRING, buf);	/* 68: exactly one record */
	is_string("12.5", fits_hdu_value(h, "AINT"), "fits_hdu_set replaces a value");
	is_string("RA---TAN", fits_hdu_value(h, "CTYPE1"), "and adds a card, found by key");
	rec = fits_hdu_records(h, &nrec);
	ok(nrec == 15, "records rendered for every card with a value that fits (%d)", nrec);
	ok(strstr(rec, "AINT    =                 12.5") == rec, "a number right-aligned in 20 columns");
	ok(strstr(rec, "ASTR    = 'it''s   '          ") != NULL,
	    "a string quoted, quotes doubled, padded to 8 characters");
	ok(strstr(rec, "CTYPE1  = 'RA---TAN'          ") != NULL, "an 8-character string");
	ok(strstr(rec, "ALONG") == NULL, "a string too long for one record is left out");
	ok((c = fits_hdu_find(h, "AFULL")) != NULL && strstr(rec, "AFULL   = 'xxxxxxxx") != NULL &&
	    strstr(rec, "AFULL   = 'xxxxxxxx")[79] == '\'', "a 68-character string fills a record");
	ok(strlen(rec) == (size_t)nrec * 80, "every record is 80 columns");
	free(rec);
	fits_file_free(f);
}

/* Values typed as astropy types them: type, Python str() and truth; blueprint text re-typed. */
static void
test_typed(void)
{
	static const struct {
		const char *card, *key, *str;
		enum fits_htype type;
		int truthy;
	} cases[] = {
		{ "TINT    =                   12", "TINT", "12", FITS_H_INT, 1 },
		{ "TZERO   =                    0", "TZERO", "0", FITS_H_INT, 0 },
		{ "TFLOAT  =            3.7D-07", "TFLOAT", "3.7e-07", FITS_H_FLOAT, 1 },
		{ "TFZERO  =                  0.", "TFZERO", "0.0", FITS_H_FLOAT, 0 },
		{ "TLOG    =                    F", "TLOG", "False", FITS_H_BOOL, 0 },
		{ "TSTR    = 'M31     '", "TSTR", "M31", FITS_H_STR, 1 },
		{ "TEMPTY  = ''", "TEMPTY", "", FITS_H_STR, 0 },
		{ "TWORD   = abc", "TWORD", "abc", FITS_H_STR, 1 },
	};
	static const struct {
		const char *text, *value;
		enum fits_vtype type;
	} set[] = {
		{ "12", "12", FITS_INTEGER },
		{ "-12", "-12.0", FITS_FLOAT },
		{ "0", "0", FITS_STRING },
		{ "0.5", "0.5", FITS_FLOAT },
		{ "1.5D3", "1500.0", FITS_FLOAT },
		{ "RA---TAN", "RA---TAN", FITS_STRING },
	};
	char buf[1024], num[40], *cause = NULL;
	struct fits_file *f = NULL;
	const struct fits_card *c;
	struct fits_hval v;
	size_t i, n = 0;
	double d = 0;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", cases[i].card);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "COMMENT no value\nEND\n");
	if (fits_read_dump("typed", buf, n, &f, &cause) != 0)
		bail("typed: %s", cause);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&v, 0, sizeof v);
		ok(fits_hdu_typed(&f->hdus[0], cases[i].key, &v) == 0 && v.t == cases[i].type &&
		    strcmp(fits_hval_str(&v, num), cases[i].str) == 0 &&
		    fits_hval_truthy(&v) == cases[i].truthy, "typed %s: type %d, str() %s, %s",
		    cases[i].key, (int)cases[i].type, cases[i].str, cases[i].truthy ? "true" : "false");
	}
	ok(fits_hdu_typed(&f->hdus[0], "COMMENT", &v) == -1, "typed: a card without a value is -1");
	ok(fits_hdu_typed(&f->hdus[0], "NOPE", &v) == -1, "typed: an absent key is -1");
	ok(fits_hdu_typed(NULL, "TINT", &v) == -1, "typed: no HDU is -1");
	ok(fits_parse_double(" 2.5d1 ", &d) == 0 && d == 25, "parse_double: blanks, D exponent");
	ok(fits_parse_double("D1", &d) == -1, "parse_double: no digit before D");
	ok(fits_parse_double("1.5 x", &d) == -1, "parse_double: trailing text");
	for (i = 0; i < sizeof set / sizeof set[0]; i++) {
		fits_hdu_set_typed(&f->hdus[0], "TSET", set[i].text);
		c = fits_hdu_find(&f->hdus[0], "TSET");
		ok(c != NULL && c->type == set[i].type && strcmp(c->value, set[i].value) == 0,
		    "set_typed '%s': type %d, %s", set[i].text, (int)set[i].type, set[i].value);
	}
	fits_file_free(f);
}

int
main(void)
{
	plan(25 + 12 + 9 + 1 + 8 + 6 + 6 + 2 + 14);
	/* the daemon reads headers on worker threads (src/ingest.c) */
	ok(fits_is_reentrant(), "cfitsio is built reentrant (thread-safe)");
	test_types();
	test_typed();
	test_dumps();
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	test_written();
	test_reference();
	check_bad("fits/not-fits.txt", ": not a FITS file or header dump");
	check_bad("fits/binary.png", ": not a FITS file or header dump");
	check_bad("fits/empty.fits.header", ": not a FITS file or header dump");
	{
		char *path = test_data_path("fits/no-end.fits.header"), *cause = NULL;
		struct fits_file *f = NULL;

		ok(fits_read(path, &f, &cause) == 0 && f->nhdus == 1 && f->hdus[0].ncards == 3,
		    "a dump without END card is read: 1 HDU, 3 cards");
		is_string("M31", f != NULL ? fits_hdu_value(&f->hdus[0], "OBJECT") : NULL,
		    "its last card is kept");
		fits_file_free(f);
		free(cause);
		free(path);
	}
	check_bad("fits", ": not a regular file");
	{
		char *cmd = xasprintf("rm -rf %s", dir);

		if (system(cmd) != 0)
			diag("cleanup failed");
		free(cmd);
	}
	return 0;
}
