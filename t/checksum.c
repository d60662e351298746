/*
 * t/checksum.c - metaChecksum/accMetaChecksum against the Java-computed
 * vectors, the primitive vectors of NOTES.md, the reference digest trace, and
 * detection of a changed value.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "caom/checksum_test.h"
#include "tap.h"
#include "lib/xmalloc.h"

#define NVECTORS	4
#define ENTITIES	31	/* per vector document */

static const char *const vectors[NVECTORS] = {
	"SampleComposite-CAOM-2.3.xml",
	"SampleDerived-CAOM-2.4.xml",
	"sample-composite-caom24.xml",
	"sample-derived-caom24.xml",
};

/* Mismatches seen by the report callback. */
struct seen {
	int				 n;
	struct checksum_mismatch	 first;
};

static void
record(const struct checksum_mismatch *m, void *arg)
{
	struct seen *s = arg;

	if (s->n++ == 0)
		s->first = *m;
}

static void
is_md5(const char *want, const uint8_t md5[16], const char *what)
{
	char hex[37];

	checksum_format(md5, hex);
	is_string(want, hex + 4, "primitive %s", what);
}

static void
test_primitives(void)
{
	uint8_t md5[16];
	int64_t ms;

	checksum_md5_bool(1, md5);
	is_md5("55a54008ad1ba589aa210d2629c1df41", md5, "true");
	checksum_md5_bool(0, md5);
	is_md5("93b885adfe0da089cdf634904fd59f71", md5, "false");
	checksum_md5_string("hello", md5);
	is_md5("5d41402abc4b2a76b9719d911017c592", md5, "\"hello\"");
	checksum_md5_string("  hello\t", md5);
	is_md5("5d41402abc4b2a76b9719d911017c592", md5, "\"hello\" trimmed");
	checksum_md5_int32(3, md5);
	is_md5("584a15a90f2f959d0703594ad447ae93", md5, "int32 3");
	checksum_md5_int64(12345678910LL, md5);
	is_md5("f61cbb413a37d320af998a215530bc78", md5, "int64 12345678910");
	checksum_md5_double(2.2, md5);
	is_md5("0fec383169e99d1a6bebd89d1cd8fad9", md5, "double 2.2");
	ok(caom_date_parse("2012-07-11T13:26:37.123", &ms) == 0, "date parses");
	checksum_md5_date(ms, md5);
	is_md5("aedbcf5e27a17fc2daa5a0e0d7840009", md5, "date 2012-07-11T13:26:37.123");
}

static void
test_format(void)
{
	uint8_t md5[16], back[16];
	char hex[37];

	checksum_md5_string("hello", md5);
	checksum_format(md5, hex);
	is_string("md5:5d41402abc4b2a76b9719d911017c592", hex, "format md5:<hex>");
	ok(checksum_parse(hex, back) == 0 && memcmp(md5, back, 16) == 0, "parse round trip");
	ok(checksum_parse("md5:5d41", back) == -1, "short checksum refused");
	ok(checksum_parse("sha1:5d41402abc4b2a76b9719d911017c592", back) == -1,
	    "other algorithm refused");
}

/* Read a vector document; NULL (and a failed test) on error. */
static struct caom_observation *
read_vector(const char *name)
{
	struct caom_observation *obs = NULL;
	char *rel, *path, *cause = NULL;

	rel = xasprintf("caom/checksum-vectors/%s", name);
	path = test_reference_path(rel);
	if (!ok(path != NULL && caom_xml_read_file(path, &obs, &cause) == 0, "read %s", name))
		diag("%s", cause != NULL ? cause : "missing");
	free(cause);
	free(path);
	free(rel);
	return obs;
}

static void
test_vectors(void)
{
	struct caom_observation *obs;
	size_t i, n, total = 0;
	struct seen s;

	for (i = 0; i < NVECTORS; i++) {
		memset(&s, 0, sizeof s);
		n = 0;
		if ((obs = read_vector(vectors[i])) != NULL)
			checksum_verify(obs, record, &s, &n);
		if (!is_int(0, obs == NULL ? -1 : s.n, "%s: every checksum matches", vectors[i]))
			diag("first: %s %s %s expected %s computed %s", s.first.entity,
			    s.first.id, s.first.which, s.first.expected, s.first.computed);
		is_int(ENTITIES, (long long)n, "%s: %d entities checked", vectors[i], ENTITIES);
		total += n;
		caom_observation_free(obs);
	}
	is_int(NVECTORS * ENTITIES, (long long)total, "%d entities in all", NVECTORS * ENTITIES);
}

/* The MD5 column of every digest update in a trace file, one per line. */
static char *
trace_digests(FILE *fp, const char *marker)
{
	char line[4096], *out, *p;
	size_t len;
	FILE *mem;

	if ((mem = open_memstream(&out, &len)) == NULL)
		bail("open_memstream failed");
	rewind(fp);
	while (fgets(line, sizeof line, fp) != NULL) {
		if (marker != NULL && strncmp(line, marker, strlen(marker)) != 0)
			continue;
		if ((p = strstr(line, " -- ")) != NULL)
			fputs(p + 4, mem);
	}
	fclose(mem);
	return out;
}

static void
test_trace(void)
{
	struct caom_observation *obs;
	char *path, *want, *seen;
	FILE *ref, *mine;

	path = test_reference_path("caom/checksum-vectors/trace-SampleDerived-CAOM-2.4.txt");
	if (path == NULL) {
		skip(3, "reference trace not available");
		return;
	}
	if ((obs = read_vector(vectors[1])) == NULL) {
		skip(2, "vector not readable");
		free(path);
		return;
	}
	if ((ref = fopen(path, "r")) == NULL || (mine = tmpfile()) == NULL)
		bail("cannot open the trace files");
	checksum_set_trace(mine);
	checksum_compute(obs);
	checksum_set_trace(NULL);
	want = trace_digests(ref, "Encoded attribute");
	seen = trace_digests(mine, NULL);
	ok(strlen(want) > 1000, "reference trace has digests");
	ok(strcmp(want, seen) == 0, "every byte sequence fed to MD5 equals the reference trace");
	free(want);
	free(seen);
	fclose(ref);
	fclose(mine);
	caom_observation_free(obs);
	free(path);
}

static void
test_recompute(void)
{
	struct caom_observation *obs;
	uint8_t acc[16];
	size_t n;

	if ((obs = read_vector(vectors[1])) == NULL) {
		skip(2, "vectors not available");
		return;
	}
	memcpy(acc, obs->ent.acc_meta_checksum, 16);
	memset(obs->ent.acc_meta_checksum, 0, 16);
	obs->planes[0]->ent.has_meta_checksum = 0;
	checksum_compute(obs);
	ok(memcmp(acc, obs->ent.acc_meta_checksum, 16) == 0, "compute reproduces the stored acc");
	is_int(0, checksum_verify(obs, NULL, NULL, &n), "computed checksums verify");
	caom_observation_free(obs);
}

static void
test_changed(void)
{
	struct caom_observation *obs;
	struct caom_chunk *chunk;
	struct seen s;

	if ((obs = read_vector(vectors[1])) == NULL) {
		skip(8, "vectors not available");
		return;
	}
	memset(&s, 0, sizeof s);
	obs->environment->seeing += 0.01;
	is_int(2, checksum_verify(obs, record, &s, NULL), "changed seeing: two mismatches");
	is_string("DerivedObservation", s.first.entity, "reported entity type");
	is_string("2e9bfa08-630d-4df9-94dd-e139f7ee1a39", s.first.id, "reported id");
	is_string("md5:5a502c87acd929a940d995ff10f77c72", s.first.expected, "reported expected");
	obs->environment->seeing -= 0.01;

	memset(&s, 0, sizeof s);
	chunk = obs->planes[0]->artifacts[0]->parts[0]->chunks[0];
	chunk->position->axis.function->cd11 = 0.06;
	is_int(6, checksum_verify(obs, record, &s, NULL),
	    "changed cd11: chunk meta and every acc up to the observation");
	is_string("Chunk", s.first.entity, "first mismatch is the chunk");
	is_string("metaChecksum", s.first.which, "... its metaChecksum");
	chunk->position->axis.function->cd11 = 0.05;
	is_int(0, checksum_verify(obs, NULL, NULL, NULL), "restored value verifies again");
	caom_observation_free(obs);
}

static void
test_built(void)
{
	struct caom_observation *obs;
	struct caom_artifact *a;
	struct caom_part *p;
	size_t n;

	obs = caom_observation_new(CAOM_OBS_SIMPLE, "TEST", "built");
	obs->algorithm.name = xstrdup("exposure");
	a = caom_plane_add_artifact(caom_observation_add_plane(obs, "p"), "cadc:TEST/x.fits");
	p = caom_artifact_add_part(a, "0");
	caom_part_add_chunk(p);
	caom_part_add_chunk(p);
	checksum_compute(obs);
	ok(obs->ent.has_acc_meta_checksum && p->chunks[1]->ent.has_meta_checksum,
	    "compute fills every entity");
	is_int(0, checksum_verify(obs, NULL, NULL, &n), "built tree verifies");
	is_int(6, (long long)n, "six entities");
	caom_observation_free(obs);
}

int
main(void)
{
	char *dir;

	plan(9 + 4 + 3 + (3 * NVECTORS + 1) + 3 + 3 + 9);
	caom_xml_init();
	test_primitives();
	test_format();
	test_built();
	if ((dir = test_reference_path("caom/checksum-vectors")) == NULL) {
		skip((3 * NVECTORS + 1) + 3 + 3 + 9, "../shared/reference is not available");
		return 0;
	}
	free(dir);
	test_vectors();
	test_trace();
	test_recompute();
	test_changed();
	return 0;
}
