/*
 * t/lua-eval.c - call one function of a Lua function script, the way a
 * blueprint value would, and print what it returns (for shell tests):
 *
 *     t/lua-eval SCRIPT.lua FUNCTION [FILE.fits.header]
 *
 * Exit 0 with the value on stdout ("nil" for nil), or 1 with the error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "caom/fits.h"
#include "caom/lua_rt.h"

int
main(int argc, char **argv)
{
	struct lua_rt *rt;
	struct lua_rt_session *s;
	struct lua_rt_input in = { NULL, NULL, NULL, NULL };
	struct lua_rt_value v;
	struct fits_file *f = NULL;
	char *cause = NULL;
	int id, r = 1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: lua-eval SCRIPT.lua FUNCTION [FILE]\n");
		return 2;
	}
	rt = lua_rt_new(NULL);
	if (argc == 4 && fits_read(argv[3], &f, &cause) == -1)
		goto out;
	in.fits = f;
	in.file = argc == 4 ? argv[3] : NULL;
	if (lua_rt_load(rt, LUA_RT_FUNCTIONS, argv[1], &cause) == -1 ||
	    (id = lua_rt_bind(rt, argv[2], &cause)) == -1 ||
	    (s = lua_rt_begin(rt, &in, &cause)) == NULL)
		goto out;
	if (lua_rt_call(s, id, 0, &v, &cause) == 0) {
		r = 0;
		switch (v.type) {
		case LUA_RT_NIL:
			printf("nil\n");
			break;
		case LUA_RT_BOOL:
			printf("%s\n", v.b ? "true" : "false");
			break;
		case LUA_RT_INT:
			printf("%lld\n", v.i);
			break;
		case LUA_RT_FLOAT:
			printf("%.17g\n", v.d);
			break;
		case LUA_RT_STRING:
			printf("%s\n", v.s);
			break;
		}
		lua_rt_value_clear(&v);
	}
	lua_rt_end(s);
out:
	if (r != 0)
		fprintf(stderr, "lua-eval: %s\n", cause != NULL ? cause : "failed");
	free(cause);
	fits_file_free(f);
	lua_rt_free(rt);
	lua_rt_thread_cleanup();
	return r;
}
