/*
 * lua_code.c - collection code built from files, and blueprints bound to it
 * (see lua_code.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "caom/blueprint.h"
#include "caom/lua_code.h"
#include "lib/xmalloc.h"

struct lua_code_bind_arg {
	struct lua_rt	*rt;
	const char	*functions;
};

int
lua_code_wanted(const struct lua_code_spec *spec)
{
	return spec->functions != NULL || spec->nvisit > 0 || spec->ntables > 0;
}

struct lua_rt *
lua_code_build(const struct lua_code_spec *spec, char **cause)
{
	struct lua_rt *rt = lua_rt_new(&spec->limits);
	size_t i;

	if (spec->functions != NULL &&
	    lua_rt_load(rt, LUA_RT_FUNCTIONS, spec->functions, cause) != 0)
		goto fail;
	for (i = 0; i < spec->nvisit; i++) {
		if (lua_rt_load(rt, LUA_RT_VISITOR, spec->visit[i], cause) != 0)
			goto fail;
	}
	for (i = 0; i < spec->ntables; i++) {
		if (lua_rt_table(rt, spec->table_names[i], spec->table_paths[i], cause) != 0)
			goto fail;
	}
	return rt;
fail:
	lua_rt_free(rt);
	return NULL;
}

static int
lua_code_bind_one(void *arg, const char *call, char **why)
{
	struct lua_code_bind_arg *a = arg;
	char *cause = NULL;
	int id;

	if (a->rt == NULL) {
		*why = xstrdup("no functions: file is configured");
		return -1;
	}
	if ((id = lua_rt_bind(a->rt, call, &cause)) >= 0)
		return id;
	if (strncmp(cause, "unknown function", 16) == 0) {
		free(cause);
		*why = xasprintf("%s defines no such global", a->functions);
	} else
		*why = cause;	/* not a function's name */
	return -1;
}

int
lua_code_bind(struct lua_rt *rt, const char *functions, struct blueprint *bp, char **cause)
{
	struct lua_code_bind_arg a = { functions != NULL ? rt : NULL, functions };

	return bp_bind_functions(bp, lua_code_bind_one, &a, cause);
}
