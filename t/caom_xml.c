/*
 * t/caom_xml.c - CAOM-2 XML: number and date text, read -> write -> read
 * round trips (checksums compared), writer output against the XSD, reader
 * errors naming file, line and element (t/data/xml/bad-*.xml), every
 * reference case's expected.xml, and document verification.
 */
#include "config.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "caom/numfmt.h"
#include "tap.h"
#include "lib/xmalloc.h"

static const struct {
	double		 v;
	const char	*text;
} doubles[] = {
	{ 1.0, "1.0" },
	{ -2.0, "-2.0" },
	{ 0.5, "0.5" },
	{ 65000.0, "65000.0" },
	{ 3.7e-07, "3.7e-07" },
	{ 2.78e-05, "2.78e-05" },
	{ 0.0001, "0.0001" },
	{ 1.5e-05, "1.5e-05" },
	{ 1e15, "1000000000000000.0" },
	{ 1e16, "1e+16" },
	{ 1.5e16, "1.5e+16" },
	{ 0.1 + 0.2, "0.30000000000000004" },
	{ 58062.0407733, "58062.0407733" },
	{ -5464228.6, "-5464228.6" },
	{ 123456789.125, "123456789.125" },
	{ 5e-324, "5e-324" },
	{ 1.7976931348623157e308, "1.7976931348623157e+308" },
	{ 0.0, "0.0" },
};

static void
test_doubles(void)
{
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
		numfmt_double(doubles[i].v, buf);
		is_string(doubles[i].text, buf, "double %s", doubles[i].text);
	}
	numfmt_double(-0.0, buf);
	is_string("-0.0", buf, "double -0.0");
	numfmt_double(NAN, buf);
	is_string("NaN", buf, "double NaN (XSD spelling)");
	numfmt_double(-INFINITY, buf);
	is_string("-INF", buf, "double -INF");
}

static void
is_date(const char *in, const char *want)
{
	char out[32];
	int64_t ms;

	if (caom_date_parse(in, &ms) == -1) {
		ok(want == NULL, "date \"%s\" refused", in);
		return;
	}
	caom_date_format(ms, out);
	is_string(want, out, "date \"%s\"", in);
}

static void
test_dates(void)
{
	is_date("2012-07-11T13:26:37.123", "2012-07-11T13:26:37.123");
	is_date("1999-01-01T00:00:00.0", "1999-01-01T00:00:00.000");
	is_date("2017-11-05T00:58:47", "2017-11-05T00:58:47.000");
	is_date("2017-11-05 00:58:47.5", "2017-11-05T00:58:47.500");
	is_date("2016-02-29", "2016-02-29T00:00:00.000");
	is_date("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999");
	is_date("2017-02-29", NULL);
	is_date("2017-11-05T25:00:00", NULL);
	is_date("2017-11-05T00:00:00.", NULL);
	is_date("2017-11-05x", NULL);
}

static void
test_uuid_sets(void)
{
	struct caom_strlist l = { NULL, 0 };
	uint8_t id[16];
	char text[37];

	ok(caom_uuid_parse("2E9BFA08-630d-4df9-94dd-e139f7ee1a39", id) == 0, "uuid parses");
	caom_uuid_format(id, text);
	is_string("2e9bfa08-630d-4df9-94dd-e139f7ee1a39", text, "uuid formats lower case");
	ok(caom_uuid_parse("2e9bfa08-630d-4df9-94dd-e139f7ee1a3", id) == -1, "short uuid");
	caom_uuid_generate(id);
	ok((id[6] >> 4) == 4 && (id[8] & 0xc0) == 0x80, "random uuid is version 4");
	caom_strlist_add(&l, "b");
	caom_strlist_add(&l, "a");
	caom_strlist_add(&l, "b");
	ok(l.n == 2 && strcmp(l.v[0], "a") == 0, "set: sorted, no duplicates");
	caom_strlist_clear(&l);
	caom_strlist_add_ranked(&l, "Optical", caom_energy_bands);
	caom_strlist_add_ranked(&l, "Radio", caom_energy_bands);
	caom_strlist_add_ranked(&l, "X-ray", caom_energy_bands);
	ok(l.n == 3 && strcmp(l.v[0], "Radio") == 0 && strcmp(l.v[2], "X-ray") == 0,
	    "energy bands in declaration order");
	caom_strlist_clear(&l);
}

static const struct {
	const char	*file;
	const char	*error;		/* after "<path>:" */
} bad[] = {
	{ "bad-malformed.xml",
	  "4: Opening and ending tag mismatch: observationID line 4 and observationid" },
	{ "bad-element.xml", "10: <caom2:bogus>: unexpected element in Proposal" },
	{ "bad-double.xml", "10: <caom2:redshift>: bad double \"abc\"" },
	{ "bad-int.xml", "5: <caom2:sequenceNumber>: bad integer \"99999999999\"" },
	{ "bad-date.xml", "5: <caom2:metaRelease>: bad date \"2024-13-01T00:00:00\"" },
	{ "bad-missing.xml", "9: <caom2:plane>: missing <caom2:productID>" },
	{ "bad-uuid.xml",
	  "2: <caom2:Observation>: bad id \"00000000-0000-0000-0000-00000000000z\"" },
	{ "bad-checksum.xml", "2: <caom2:Observation>: bad metaChecksum \"sha1:123\"" },
	{ "bad-namespace.xml", "2: <caom2:Observation>: not a CAOM-2.3 or CAOM-2.4 "
	  "Observation (namespace http://www.opencadc.org/caom2/xml/v2.2)" },
	{ "bad-members.xml", "8: <caom2:members>: only allowed in a DerivedObservation" },
	{ "bad-dtd.xml", "2: a DTD is not allowed in a CAOM document" },
	{ "bad-text.xml", "8: <caom2:Observation>: unexpected text \"stray\"" },
	{ "bad-duplicate.xml", "4: <caom2:collection>: duplicate element" },
	{ "bad-choice.xml", "12: <caom2:bounds>: unknown xsi:type \"Ellipse\" in Position" },
};

static void
test_bad(void)
{
	struct caom_observation *obs;
	char *path, *want, *cause, *tmp;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		path = xasprintf("xml/%s", bad[i].file);
		tmp = test_data_path(path);
		free(path);
		path = tmp;
		want = xasprintf("%s:%s", path, bad[i].error);
		cause = NULL;
		obs = NULL;
		ok(caom_xml_read_file(path, &obs, &cause) == -1 && obs == NULL, "%s refused",
		    bad[i].file);
		is_string(want, cause, "%s: error names file, line, element", bad[i].file);
		free(cause);
		free(want);
		free(path);
	}
	cause = NULL;
	ok(caom_xml_read_file("/nonexistent/x.xml", &obs, &cause) == -1, "missing file");
	is_string("/nonexistent/x.xml: No such file or directory", cause, "missing file error");
	free(cause);
	cause = NULL;
	ok(caom_xml_read_file("/", &obs, &cause) == -1, "a directory is refused");
	is_string("/: not a regular file", cause, "as not a regular file");
	free(cause);
	cause = NULL;
	ok(caom_xml_read_memory("mem", "", 0, &obs, &cause) == -1 && cause != NULL &&
	    strncmp(cause, "mem:", 4) == 0, "empty document refused");
	free(cause);
}

/* Read path; NULL (and diagnostics) on error. */
static struct caom_observation *
read_doc(const char *path)
{
	struct caom_observation *obs = NULL;
	char *cause = NULL;

	if (caom_xml_read_file(path, &obs, &cause) == -1) {
		diag("%s", cause);
		free(cause);
	}
	return obs;
}

/* The whole content of a file, NUL-terminated. */
static char *
slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp, *mem;
	int c;

	if ((fp = fopen(path, "r")) == NULL || (mem = open_memstream(&buf, &len)) == NULL)
		bail("cannot read %s", path);
	while ((c = getc(fp)) != EOF)
		putc(c, mem);
	fclose(mem);
	fclose(fp);
	return buf;
}

/* Validate the document at path as caom_xml_validate_memory does, named by its path. */
static int
validate_file(const char *path, const char *xsd, char **cause)
{
	char *text = slurp(path);
	int rc = caom_xml_validate_memory(path, text, strlen(text), xsd, cause);

	free(text);
	return rc;
}

static void
test_small(void)
{
	struct caom_observation *obs;
	char *path, *text, *file, *report;
	size_t len;
	FILE *mem;

	path = test_data_path("xml/small-2.4.xml");
	obs = read_doc(path);
	ok(obs != NULL, "small-2.4.xml reads");
	file = slurp(path);
	text = obs != NULL ? caom_xml_write(obs, NULL) : xstrdup("");
	ok(strcmp(file, text) == 0, "writer reproduces small-2.4.xml byte for byte");
	ok(strstr(text, "<caom2:chunks/>\n") != NULL, "empty chunks written as <caom2:chunks/>");
	ok(strstr(text, "M31 &amp; friends") != NULL, "text escaped");
	if ((mem = open_memstream(&report, &len)) == NULL)
		bail("open_memstream");
	is_int(0, caom_xml_verify_file(path, NULL, mem), "verify: checksums match");
	fclose(mem);
	is_string("", report, "verify: nothing reported");
	free(report);
	free(text);
	free(file);
	free(path);
	caom_observation_free(obs);
}

static void
test_tampered(void)
{
	char *path, *report, *want;
	size_t len;
	FILE *mem;

	path = test_data_path("xml/bad-tampered.xml");
	if ((mem = open_memstream(&report, &len)) == NULL)
		bail("open_memstream");
	is_int(1, caom_xml_verify_file(path, NULL, mem), "verify: a changed value fails");
	fclose(mem);
	want = xasprintf("%s: SimpleObservation 00000000-0000-0000-0000-000000000001: "
	    "metaChecksum expected md5:919ac18302c9a56a7c71a9b50decafc0 computed "
	    "md5:dec51fb95e8a3d6ae274d8b18a9e0e05\n"
	    "%s: SimpleObservation 00000000-0000-0000-0000-000000000001: "
	    "accMetaChecksum expected md5:71b373996cc45a80b46186aba2aa9f75 computed "
	    "md5:c7c6005d737621f5f4041f59d0c98973\n", path, path);
	is_string(want, report, "verify: entity, id, checksum, expected and computed");
	free(want);
	free(report);
	free(path);
}

/* Built through the API: empty containers and a fresh tree. */
static struct caom_observation *
built(void)
{
	struct caom_observation *obs;
	struct caom_artifact *a;
	struct caom_plane *p;

	obs = caom_observation_new(CAOM_OBS_DERIVED, "TEST", "built");
	obs->algorithm.name = xstrdup("stack");
	obs->type = xstrdup("line 1\r\nline 2 <&> \"q\"");
	obs->ent.meta_producer = xstrdup("test:producer?a=1&b=2");
	caom_strlist_add(&obs->members, "caom:TEST/b");
	caom_strlist_add(&obs->members, "caom:TEST/a");
	p = caom_observation_add_plane(obs, "empty");
	p = caom_observation_add_plane(obs, "p");
	a = caom_plane_add_artifact(p, "cadc:TEST/x.fits");
	a->product_type = xstrdup("science");
	a->release_type = xstrdup("data");
	caom_artifact_add_part(a, "0");
	caom_part_add_chunk(caom_artifact_add_part(a, "1"));
	checksum_compute(obs);
	return obs;
}

static void
test_built(const char *xsd)
{
	struct caom_observation *obs = built(), *back = NULL;
	char *text, *cause = NULL;
	size_t len;

	ok(caom_observation_add_plane(obs, "p") == obs->planes[1], "add_plane finds existing");
	text = caom_xml_write(obs, &len);
	ok(strstr(text, "<caom2:artifacts/>") != NULL && strstr(text, "<caom2:chunks/>") != NULL,
	    "empty artifacts and chunks are written");
	ok(strstr(text, "<caom2:observationURI>caom:TEST/a</caom2:observationURI>\n"
	    "    <caom2:observationURI>caom:TEST/b") != NULL, "members sorted");
	ok(caom_xml_read_memory("built", text, len, &back, &cause) == 0 &&
	    checksum_verify(back, NULL, NULL, NULL) == 0, "built tree round trips");
	if (xsd == NULL)
		skip(1, "no XSD");
	else if (!ok(caom_xml_validate_memory("built", text, len, xsd, &cause) == 0,
	    "built tree is valid CAOM-2.4"))
		diag("%s", cause);
	free(cause);
	free(text);
	caom_observation_free(back);
	caom_observation_free(obs);
}

/* read -> write -> read: the stored checksums still verify, the text is stable. */
static void
round_trip(const char *path, const char *label, const char *xsd)
{
	struct caom_observation *a, *b = NULL;
	char *t1, *t2, *cause = NULL;
	size_t len;

	if (!ok((a = read_doc(path)) != NULL, "%s reads", label)) {
		skip(4, "unreadable");
		return;
	}
	checksum_compute(a);
	t1 = caom_xml_write(a, &len);
	ok(caom_xml_read_memory(label, t1, len, &b, &cause) == 0, "%s: written text reads", label);
	if (b != NULL)
		checksum_compute(b);
	ok(b != NULL && memcmp(a->ent.acc_meta_checksum, b->ent.acc_meta_checksum, 16) == 0,
	    "%s: round trip keeps every value (accMetaChecksum)", label);
	t2 = b != NULL ? caom_xml_write(b, NULL) : xstrdup("");
	ok(strcmp(t1, t2) == 0, "%s: written text is stable", label);
	if (xsd == NULL)
		skip(1, "no XSD");
	else if (!ok(caom_xml_validate_memory(label, t1, len, xsd, &cause) == 0,
	    "%s: writer output is valid CAOM-2.4", label))
		diag("%s", cause);
	free(cause);
	free(t1);
	free(t2);
	caom_observation_free(a);
	caom_observation_free(b);
}

static void
test_vectors(const char *xsd)
{
	static const char *const names[] = {
		"SampleComposite-CAOM-2.3.xml", "SampleDerived-CAOM-2.4.xml",
		"sample-composite-caom24.xml", "sample-derived-caom24.xml",
	};
	char *rel, *path, *cause = NULL;
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		rel = xasprintf("caom/checksum-vectors/%s", names[i]);
		path = test_reference_path(rel);
		round_trip(path, names[i], xsd);
		if (!ok(validate_file(path, xsd, &cause) == 0,
		    "%s is valid against the schema of its namespace", names[i]))
			diag("%s", cause);
		free(cause);
		cause = NULL;
		free(path);
		free(rel);
	}
}

static void
test_cases(const char *xsd)
{
	char *dir, *path;
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((dir = test_reference_path("caom/cases")) == NULL || (d = opendir(dir)) == NULL)
		bail("cannot open the reference cases");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s/expected.xml", dir, de->d_name);
		round_trip(path, de->d_name, xsd);
		free(path);
		n++;
	}
	closedir(d);
	ok(n >= 10, "%d reference cases", n);
	free(dir);
}

static void
test_invalid(const char *xsd)
{
	char *path, *want, *cause = NULL;

	path = test_data_path("xml/bad-order.xml");
	want = xasprintf("%s:3: Element '{http://www.opencadc.org/caom2/xml/v2.4}observationID': "
	    "This element is not expected. Expected is ( "
	    "{http://www.opencadc.org/caom2/xml/v2.4}collection ).", path);
	ok(validate_file(path, xsd, &cause) == -1, "out-of-order document is invalid");
	is_string(want, cause, "schema error names file and line");
	free(cause);
	cause = NULL;
	free(path);
	free(want);
	path = test_data_path("xml/small-2.4.xml");
	ok(validate_file(path, xsd, &cause) == 0, "small-2.4.xml is valid");
	is_int(0, caom_xml_verify_file(path, xsd, stderr), "verify with schema");
	free(path);
	free(cause);
}

int
main(void)
{
	char *xsd;

	plan_lazy();
	caom_xml_init();
	test_doubles();
	test_dates();
	test_uuid_sets();
	test_bad();
	test_small();
	test_tampered();
	xsd = test_reference_path("caom/xsd");
	test_built(xsd);
	if (xsd == NULL) {
		skip(1, "../shared/reference is not available: vectors, cases, schema");
		return 0;
	}
	test_invalid(xsd);
	test_vectors(xsd);
	test_cases(xsd);
	free(xsd);
	caom_xml_cleanup();
	return 0;
}
