/*
 * lua_code.h - a rule's (or the offline tool's) collection code: the
 * runtime of lua_rt.h built from one functions file, visitor files and
 * lookup tables, and a blueprint's function values bound to it.
 */
#ifndef CAOM2INGEST_LUA_CODE_H
#define CAOM2INGEST_LUA_CODE_H

#include <stddef.h>

#include "caom/lua_rt.h"

struct blueprint;

struct lua_code_spec {
	const char		*functions;	/* the functions file, or NULL */
	const char *const	*visit;		/* visitor files, in order */
	size_t			 nvisit;
	const char *const	*table_names;	/* ctx.lookup tables: name and file */
	const char *const	*table_paths;
	size_t			 ntables;
	struct lua_rt_limits	 limits;	/* 0: the defaults */
};

/* Whether spec names any code at all. */
int lua_code_wanted(const struct lua_code_spec *spec);
/* Build the runtime of spec: each file compiled and run once. NULL with *cause ("FILE:LINE: ..."). */
struct lua_rt *lua_code_build(const struct lua_code_spec *spec, char **cause);
/*
 * Bind bp's function values to rt, whose functions file is functions (rt
 * NULL: none is configured). 0, or -1 with *cause, one line per unbound
 * value: "BLUEPRINT:LINE: unknown function get_x (FILE.lua defines no such
 * global)". bp must have been loaded after bp_allow_functions.
 */
int lua_code_bind(struct lua_rt *rt, const char *functions, struct blueprint *bp,
    char **cause);

#endif
