/*
 * collection.c - a configured collection's naming rules as the daemon
 * applies them (the same specs as src/daemon/pipeline.c builds).
 */
#include "config.h"

#include <stdlib.h>

#include "caom/artifact.h"
#include "conf/collection.h"
#include "conf/conf.h"
#include "conf/rules.h"
#include "lib/xmalloc.h"

struct rules *
collection_rules(const struct conf_collection *c, char **cause)
{
	const struct conf_rule *r;
	struct rules_spec *specs;
	struct rules *rules;
	char **legacy;
	size_t i;

	specs = xcalloc(c->rules.n + 1, sizeof *specs);
	legacy = xcalloc(c->rules.n + 1, sizeof *legacy);
	for (i = 0; i < c->rules.n; i++) {
		r = &c->rules.v[i];
		specs[i].match = r->match;
		specs[i].observation = r->observation;
		specs[i].product = r->product;
		specs[i].uri = r->uri;
		specs[i].blueprint = r->blueprint;
		if ((legacy[i] = artifact_legacy_spec(r->legacy.config, r->legacy.defaults,
		    r->legacy.override)) != NULL)
			specs[i].blueprint = legacy[i];
		specs[i].expect = (const char *const *)r->expect.v;
		specs[i].wait_ms = r->wait_ms;
	}
	rules = rules_new(c->name, (const char *const *)c->include.v,
	    (const char *const *)c->exclude.v, specs, c->rules.n, cause);
	for (i = 0; i < c->rules.n; i++)
		free(legacy[i]);
	free(legacy);
	free(specs);
	return rules;
}
