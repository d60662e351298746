/*
 * t/rules.c - naming rules: the configuration example, include/exclude
 * globs, first match wins, and each kind of bad rule with its message.
 */
#include "config.h"

#include <stdlib.h>

#include "conf/rules.h"
#include "tap.h"

static const char *const include[] = { "*.fits", "*.fits.fz", "*.fits.gz", NULL };
static const char *const exclude[] = { "*_junk.*", NULL };

static void
test_example(void)
{
	static const struct rules_spec specs[] = {
		{ "^(?<obs>C[0-9]{6}_[0-9]{4})_(?<kind>SCI|CAL)\\.fits(\\.fz|\\.gz)?$",
		  "${obs}", "${obs}_${kind}", "cadc:${collection}/${file}",
		  "/etc/caom2ingest/blueprints/omm.blueprint", NULL, 0 },
		{ "^(?<any>.*)\\.fits$", "${any}", "raw", "cadc:OMM/${file}", NULL, NULL, 0 },
	};
	struct rules_result res;
	struct rules *r;
	char *cause = NULL;

	r = rules_new("OMM", include, exclude, specs, 2, &cause);
	ok(r != NULL, "the example rules compile");
	if (r == NULL)
		bail("%s", cause);
	is_int(RULES_MATCHED, rules_classify(r, "/srv/landing/omm/C170324_0028_SCI.fits.fz", &res),
	    "a science file matches");
	is_string("C170324_0028", res.observation, "observation from a named group");
	is_string("C170324_0028_SCI", res.product, "product from two groups");
	is_string("cadc:OMM/C170324_0028_SCI.fits.fz", res.uri, "${collection} and ${file}");
	is_string("/etc/caom2ingest/blueprints/omm.blueprint", res.blueprint, "blueprint");
	is_int(0, res.rule, "the first rule matched");
	rules_result_free(&res);
	is_int(RULES_MATCHED, rules_classify(r, "odd.fits", &res), "a second rule catches the rest");
	is_int(1, res.rule, "the second rule matched");
	ok(res.blueprint == NULL, "a rule without blueprint gives none");
	rules_result_free(&res);
	is_int(RULES_EXCLUDED, rules_classify(r, "/l/notes.txt", &res), "not included");
	is_int(RULES_EXCLUDED, rules_classify(r, "/l/C170324_0028_junk.fits", &res), "excluded");
	is_int(RULES_EXCLUDED, rules_classify(r, "/l/.C170324_0028_SCI.fits", &res),
	    "a hidden name does not match a leading *");
	is_int(RULES_NO_MATCH, rules_classify(r, "/l/x.fits.gz", &res),
	    "included but matching no rule");
	rules_free(r);
}

static void
check_bad(const struct rules_spec *spec, const char *want, const char *what)
{
	struct rules *r;
	char *cause = NULL;

	r = rules_new("OMM", NULL, NULL, spec, 1, &cause);
	ok(r == NULL, "%s is refused", what);
	is_string(want, cause, "%s: message", what);
	free(cause);
	rules_free(r);
}

static void
test_bad(void)
{
	static const struct rules_spec bad_re = { "^(?<obs>[0-9+$", "${obs}", "p", "u", NULL, NULL, 0 };
	static const struct rules_spec bad_name = { "^(?<obs>.*)$", "${ob}", "p", "u", NULL, NULL, 0 };
	static const struct rules_spec no_uri = { "^(?<obs>.*)$", "${obs}", "p", NULL, NULL, NULL, 0 };
	static const char *const bad_list[] = { "${kind}.fits", NULL };
	static const struct rules_spec bad_expect = { "^(?<obs>.*)$", "x", "p", "u", NULL,
		bad_list, 0 };
	static const struct rules_spec bad_bp = { "^(?<obs>.*)$", "x", "p", "u", "${kind}.bp", NULL, 0 };

	check_bad(&bad_re, "rule 1: match: missing terminating ] for character class "
	    "at offset 14", "an unbalanced pattern");
	check_bad(&bad_name, "rule 1: observation: ${ob} is neither a named group of the "
	    "pattern nor file or collection", "an unknown group");
	check_bad(&no_uri, "rule 1: uri is required", "a rule without uri");
	check_bad(&bad_bp, "rule 1: blueprint: ${kind} is neither a named group of the "
	    "pattern nor file or collection", "an unknown group in blueprint");
	check_bad(&bad_expect, "rule 1: expect: ${kind} is neither a named group of the "
	    "pattern nor file or collection", "an unknown group in expect");
}

static void
test_expect(void)
{
	static const char *const expect[] = { "${obs}_SCI.fits", "${obs}_CAL.fits", NULL };
	static const struct rules_spec specs[] = {
		{ "^(?<obs>C[0-9]+)_(?<kind>SCI|CAL)\\.fits$", "${obs}", "${obs}_${kind}", "u",
		  NULL, expect, 5000 },
		{ "^(?<obs>D[0-9]+)\\.fits$", "${obs}", "p", "u", NULL, expect + 1, 0 },
	};
	struct rules_result res;
	struct rules *r;
	char *cause = NULL;

	r = rules_new("OMM", NULL, NULL, specs, 2, &cause);
	ok(r != NULL, "rules with expect compile");
	if (r == NULL)
		bail("%s", cause);
	is_int(RULES_MATCHED, rules_classify(r, "/l/C12_CAL.fits", &res), "a member matches");
	ok(res.expect != NULL && res.expect[2] == NULL, "two expected names");
	is_string("C12_SCI.fits", res.expect != NULL ? res.expect[0] : NULL,
	    "expected names are rendered with the match's groups");
	is_string("C12_CAL.fits", res.expect != NULL ? res.expect[1] : NULL, "in order");
	is_int(5000, (long long)res.wait_ms, "with the rule's wait");
	rules_result_free(&res);
	is_int(RULES_MATCHED, rules_classify(r, "/l/D7.fits", &res), "another rule");
	is_int(RULES_DEFAULT_WAIT_MS, (long long)res.wait_ms, "a wait defaults to 10 minutes");
	rules_result_free(&res);
	rules_free(r);
}

static void
test_optional_group(void)
{
	static const struct rules_spec spec = {
		"^(?<obs>[a-z]+)(?<suffix>_[0-9])?\\.fits$", "${obs}${suffix}", "p", "u", NULL, NULL, 0 };
	struct rules_result res;
	struct rules *r;
	char *cause = NULL;

	r = rules_new("X", NULL, NULL, &spec, 1, &cause);
	is_int(RULES_MATCHED, rules_classify(r, "abc.fits", &res), "no include list: all included");
	is_string("abc", res.observation, "an unset group expands to nothing");
	rules_result_free(&res);
	rules_free(r);
	rules_free(NULL);
}

int
main(void)
{
	plan(34);
	test_example();
	test_bad();
	test_optional_group();
	test_expect();
	return 0;
}
