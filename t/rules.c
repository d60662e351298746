/*
 * t/rules.c - naming rules: the configuration example, include/exclude
 * globs, first match wins, and each kind of bad rule with its message.
 */
#include "config.h"

#include <stdlib.h>

#include "rules.h"
#include "tap.h"

static const char *const include[] = { "*.fits", "*.fits.fz", "*.fits.gz", NULL };
static const char *const exclude[] = { "*_junk.*", NULL };

static void
test_example(void)
{
	static const struct rules_spec specs[] = {
		{ "^(?<obs>C[0-9]{6}_[0-9]{4})_(?<kind>SCI|CAL)\\.fits(\\.fz|\\.gz)?$",
		  "${obs}", "${obs}_${kind}", "cadc:${collection}/${file}",
		  "/etc/caom2ingest/blueprints/omm.blueprint" },
		{ "^(?<any>.*)\\.fits$", "${any}", "raw", "cadc:OMM/${file}", NULL },
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
	static const struct rules_spec bad_re = { "^(?<obs>[0-9+$", "${obs}", "p", "u", NULL };
	static const struct rules_spec bad_name = { "^(?<obs>.*)$", "${ob}", "p", "u", NULL };
	static const struct rules_spec no_uri = { "^(?<obs>.*)$", "${obs}", "p", NULL, NULL };
	static const struct rules_spec bad_bp = { "^(?<obs>.*)$", "x", "p", "u", "${kind}.bp" };

	check_bad(&bad_re, "rule 1: match: missing terminating ] for character class "
	    "at offset 14", "an unbalanced pattern");
	check_bad(&bad_name, "rule 1: observation: ${ob} is neither a named group of the "
	    "pattern nor file or collection", "an unknown group");
	check_bad(&no_uri, "rule 1: uri is required", "a rule without uri");
	check_bad(&bad_bp, "rule 1: blueprint: ${kind} is neither a named group of the "
	    "pattern nor file or collection", "an unknown group in blueprint");
}

static void
test_optional_group(void)
{
	static const struct rules_spec spec = {
		"^(?<obs>[a-z]+)(?<suffix>_[0-9])?\\.fits$", "${obs}${suffix}", "p", "u", NULL };
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
	plan(24);
	test_example();
	test_bad();
	test_optional_group();
	return 0;
}
