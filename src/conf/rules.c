/*
 * rules.c - naming rules with PCRE2 and fnmatch.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/rules.h"
#include "lib/xmalloc.h"

struct rules_rule {
	pcre2_code	*re;
	char		*templ[4];	/* observation, product, uri, blueprint */
	char	       **expect;	/* templates, NULL-terminated, or NULL */
	uint64_t	 wait_ms;
};

struct rules {
	char		 *collection;
	char		**include;
	char		**exclude;
	struct rules_rule *rules;
	size_t		  nrules;
	pcre2_match_data *md;
};

static const char *const rules_fields[] = { "observation", "product", "uri", "blueprint" };

static char **
rules_copy_list(const char *const *list)
{
	size_t i, n = 0;
	char **copy;

	while (list != NULL && list[n] != NULL)
		n++;
	copy = xcalloc(n + 1, sizeof *copy);
	for (i = 0; i < n; i++)
		copy[i] = xstrdup(list[i]);
	return copy;
}

static void
rules_free_list(char **list)
{
	size_t i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/*
 * Expand templ: ${file}, ${collection} and named groups of the match.
 * With md == NULL only checks the names; returns NULL with *bad set to the
 * first unknown name (allocated).
 */
static char *
rules_expand(const struct rules *r, const pcre2_code *re, pcre2_match_data *md,
    const char *templ, const char *file, char **bad)
{
	size_t cap = strlen(templ) + 256, len = 0, vlen;
	char *out = xmalloc(cap), name[128];
	const char *p = templ, *end, *val;
	PCRE2_SIZE *ov = md != NULL ? pcre2_get_ovector_pointer(md) : NULL;
	int group;

	while (*p != '\0') {
		if (p[0] != '$' || p[1] != '{' || (end = strchr(p + 2, '}')) == NULL ||
		    (size_t)(end - p - 2) >= sizeof name) {
			if (len + 2 > cap)
				out = xreallocarray(out, cap *= 2, 1);
			out[len++] = *p++;
			continue;
		}
		memcpy(name, p + 2, (size_t)(end - p - 2));
		name[end - p - 2] = '\0';
		p = end + 1;
		val = NULL;
		vlen = 0;
		if (strcmp(name, "file") == 0)
			val = file, vlen = strlen(file);
		else if (strcmp(name, "collection") == 0)
			val = r->collection, vlen = strlen(r->collection);
		else if ((group = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name)) > 0) {
			if (ov != NULL && ov[2 * group] != PCRE2_UNSET) {
				val = file + ov[2 * group];
				vlen = ov[2 * group + 1] - ov[2 * group];
			} else
				val = "", vlen = 0;
		} else {
			*bad = xstrdup(name);
			free(out);
			return NULL;
		}
		while (len + vlen + 1 > cap)
			out = xreallocarray(out, cap *= 2, 1);
		memcpy(out + len, val, vlen);
		len += vlen;
	}
	out[len] = '\0';
	return out;
}

static int
rules_compile(struct rules *r, struct rules_rule *rule, const struct rules_spec *spec,
    size_t idx, char **cause)
{
	const char *templ[4] = { spec->observation, spec->product, spec->uri, spec->blueprint };
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	char *bad = NULL, *check;
	int err, i;

	rule->re = pcre2_compile((PCRE2_SPTR)spec->match, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF, &err, &off, NULL);
	if (rule->re == NULL) {
		pcre2_get_error_message(err, msg, sizeof msg);
		*cause = xasprintf("rule %zu: match: %s at offset %zu", idx + 1, msg, (size_t)off);
		return -1;
	}
	for (i = 0; i < 4; i++) {
		if (templ[i] == NULL && i < 3) {
			*cause = xasprintf("rule %zu: %s is required", idx + 1, rules_fields[i]);
			return -1;
		}
		if (templ[i] == NULL)
			continue;
		if ((check = rules_expand(r, rule->re, NULL, templ[i], "", &bad)) == NULL) {
			*cause = xasprintf("rule %zu: %s: ${%s} is neither a named group of the "
			    "pattern nor file or collection", idx + 1, rules_fields[i], bad);
			free(bad);
			return -1;
		}
		free(check);
		rule->templ[i] = xstrdup(templ[i]);
	}
	for (i = 0; spec->expect != NULL && spec->expect[i] != NULL; i++) {
		if ((check = rules_expand(r, rule->re, NULL, spec->expect[i], "", &bad)) == NULL) {
			*cause = xasprintf("rule %zu: expect: ${%s} is neither a named group of the "
			    "pattern nor file or collection", idx + 1, bad);
			free(bad);
			return -1;
		}
		free(check);
	}
	if (spec->expect != NULL && spec->expect[0] != NULL)
		rule->expect = rules_copy_list(spec->expect);
	rule->wait_ms = spec->wait_ms != 0 ? spec->wait_ms : RULES_DEFAULT_WAIT_MS;
	return 0;
}

struct rules *
rules_new(const char *collection, const char *const *include, const char *const *exclude,
    const struct rules_spec *specs, size_t n, char **cause)
{
	struct rules *r;
	size_t i;

	r = xcalloc(1, sizeof *r);
	r->collection = xstrdup(collection);
	r->include = rules_copy_list(include);
	r->exclude = rules_copy_list(exclude);
	r->rules = xcalloc(n + 1, sizeof *r->rules);
	r->md = pcre2_match_data_create(64, NULL);
	for (i = 0; i < n; i++) {
		r->nrules++;
		if (rules_compile(r, &r->rules[i], &specs[i], i, cause) != 0) {
			rules_free(r);
			return NULL;
		}
	}
	return r;
}

void
rules_free(struct rules *r)
{
	size_t i;
	int j;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrules; i++) {
		pcre2_code_free(r->rules[i].re);
		for (j = 0; j < 4; j++)
			free(r->rules[i].templ[j]);
		rules_free_list(r->rules[i].expect);
	}
	free(r->rules);
	pcre2_match_data_free(r->md);
	rules_free_list(r->include);
	rules_free_list(r->exclude);
	free(r->collection);
	free(r);
}

static int
rules_glob_any(char **globs, const char *name)
{
	size_t i;

	for (i = 0; globs[i] != NULL; i++) {
		if (fnmatch(globs[i], name, FNM_PERIOD) == 0)
			return 1;
	}
	return 0;
}

static void
rules_fill(const struct rules *r, size_t idx, const char *name, struct rules_result *out)
{
	char *bad = NULL;
	char **dst[4] = { &out->observation, &out->product, &out->uri, &out->blueprint };
	int i;

	out->rule = (int)idx;
	for (i = 0; i < 4; i++) {
		*dst[i] = r->rules[idx].templ[i] == NULL ? NULL :
		    rules_expand(r, r->rules[idx].re, r->md, r->rules[idx].templ[i], name, &bad);
	}
	if (r->rules[idx].expect != NULL) {
		size_t n = 0, k;

		while (r->rules[idx].expect[n] != NULL)
			n++;
		out->expect = xcalloc(n + 1, sizeof *out->expect);
		for (k = 0; k < n; k++)
			out->expect[k] = rules_expand(r, r->rules[idx].re, r->md,
			    r->rules[idx].expect[k], name, &bad);
		out->wait_ms = r->rules[idx].wait_ms;
	}
	free(bad);	/* cannot happen: checked by rules_compile */
}

enum rules_outcome
rules_classify(const struct rules *r, const char *path, struct rules_result *out)
{
	const char *name = strrchr(path, '/');
	size_t i;

	name = name != NULL ? name + 1 : path;
	memset(out, 0, sizeof *out);
	if ((r->include[0] != NULL && !rules_glob_any(r->include, name)) ||
	    rules_glob_any(r->exclude, name))
		return RULES_EXCLUDED;
	for (i = 0; i < r->nrules; i++) {
		if (pcre2_match(r->rules[i].re, (PCRE2_SPTR)name, PCRE2_ZERO_TERMINATED, 0, 0,
		    r->md, NULL) >= 0) {
			rules_fill(r, i, name, out);
			return RULES_MATCHED;
		}
	}
	return RULES_NO_MATCH;
}

void
rules_result_free(struct rules_result *res)
{
	free(res->observation);
	free(res->product);
	free(res->uri);
	free(res->blueprint);
	rules_free_list(res->expect);
	memset(res, 0, sizeof *res);
}
