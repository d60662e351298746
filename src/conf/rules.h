/*
 * rules.h - naming rules: a file name to its collection's observation ID,
 * product ID, artifact URI and blueprint.
 *
 * A rule set belongs to one collection: include and exclude globs (on the
 * file name), then ordered rules, each a PCRE2 pattern matched against the
 * file name with templates for the results. Templates substitute ${NAME}
 * with a named group of the pattern, ${file} with the file name and
 * ${collection} with the collection; every ${...} is checked when the rule
 * set is built. The first rule that matches wins.
 */
#ifndef CAOM2INGEST_RULES_H
#define CAOM2INGEST_RULES_H

#include <stddef.h>
#include <stdint.h>

struct rules;

/* One rule as configured. */
struct rules_spec {
	const char	*match;		/* PCRE2 pattern, required */
	const char	*observation;	/* template, required */
	const char	*product;	/* template, required */
	const char	*uri;		/* template, required */
	const char	*blueprint;	/* template or path, may be NULL */
	const char *const *expect;	/* templates of the names of the files the
					 * observation waits for; NULL-terminated,
					 * may be NULL (no wait) */
	uint64_t	 wait_ms;	/* how long at most (0: RULES_DEFAULT_WAIT_MS) */
};

#define RULES_DEFAULT_WAIT_MS	(10 * 60 * 1000)

/* What a file name classifies to; strings owned by the caller (rules_result_free). */
struct rules_result {
	char		*observation;
	char		*product;
	char		*uri;
	char		*blueprint;
	char	       **expect;	/* expected file names (NULL-terminated), or NULL */
	uint64_t	 wait_ms;	/* how long to wait for them */
	int		 rule;		/* index of the rule that matched */
};

enum rules_outcome {
	RULES_MATCHED,
	RULES_EXCLUDED,		/* not included, or excluded by a glob */
	RULES_NO_MATCH		/* included, but no rule matches */
};

/* Build a rule set; NULL with *cause ("rule N: match: ...") on a bad pattern or template. */
struct rules *rules_new(const char *collection, const char *const *include,
    const char *const *exclude, const struct rules_spec *specs, size_t n, char **cause);
/* Free; NULL is accepted. */
void rules_free(struct rules *r);
/* Classify the file at path by its name; fills *out when RULES_MATCHED. */
enum rules_outcome rules_classify(const struct rules *r, const char *path,
    struct rules_result *out);
/* Free the strings of a result. */
void rules_result_free(struct rules_result *res);

#endif
