/*
 * lua_rt.c - the sandboxed Lua runtime: scripts, states per thread, limits,
 * blueprint function calls and visits (see lua_rt.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "caom/fits.h"
#include "caom/lua_rt.h"
#include "caom/lua_rt_int.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

/* The count hook runs every HOOK_PERIOD instructions. */
#define HOOK_PERIOD	1000
#define MIN_MEMORY	((size_t)1 << 20)

struct lua_rt_script {
	char			*name;		/* as given, the chunk name without '@' */
	enum lua_rt_role	 role;
	char			*code;		/* bytecode (lua_dump, with debug info) */
	size_t			 len;
};

struct lua_rt_fn {
	char			*name;		/* the global */
	size_t			 script;	/* which script defines it */
};

struct lua_rt {
	struct lua_rt_limits	 lim;
	struct lua_rt_script	*scripts;
	size_t			 nscripts;
	struct lua_rt_fn	*fns;
	size_t			 nfns;
	struct strmap		*tables;	/* name -> struct lua_table * */
	struct lua_rt_state	*check;		/* the build-time state */
	atomic_int		 refs;		/* the owner + one per thread state */
	atomic_int		 retired;	/* lua_rt_free was called */
};

struct lua_rt_session {
	struct lua_rt_state	*st;
	struct lua_rt_input	 in;
};

/* The header userdata: an HDU of the current session. */
struct lua_hdr {
	const struct fits_hdu	*hdu;
	unsigned		 gen;
};

#define HDR_MT		"caom2.header"
#define HDRS_MT		"caom2.headers"

static pthread_key_t lua_rt_key;
static pthread_once_t lua_rt_once = PTHREAD_ONCE_INIT;

static void rts_free(struct lua_rt_state *st);
static void rt_unref(struct lua_rt *rt);

/* ---- allocation, the count hook, panics ---- */

static void *
rt_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lua_rt_state *st = ud;
	size_t old = ptr != NULL ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		st->used -= old;
		return NULL;
	}
	if (nsize > old && st->used - old + nsize + st->charged > st->limit) {
		st->mem_hit = 1;
		return NULL;
	}
	if ((p = realloc(ptr, nsize)) == NULL)
		return NULL;
	st->used = st->used - old + nsize;
	st->mem_hit = 0;
	return p;
}

/*
 * The count hook. Past the budget it fires on every instruction, so an
 * error caught by a pcall in the script is raised again at once, until it
 * leaves the call.
 */
static void
rt_hook(lua_State *L, lua_Debug *ar)
{
	struct lua_rt_state *st = lua_rt_state_of(L);
	int n;

	(void)ar;
	if (!st->budget_hit) {
		n = lua_gethookcount(L);
		st->steps += (uint64_t)n;
		if (n != HOOK_PERIOD)	/* a coroutine of an earlier call that ran out */
			lua_sethook(L, rt_hook, LUA_MASKCOUNT, HOOK_PERIOD);
		if (st->steps <= st->budget)
			return;
		st->budget_hit = 1;
	}
	lua_sethook(L, rt_hook, LUA_MASKCOUNT, 1);
	luaL_where(L, 0);
	lua_pushfstring(L, "instruction budget of %I exceeded", (lua_Integer)st->budget);
	lua_concat(L, 2);
	lua_error(L);
}

static int
rt_panic(lua_State *L)
{
	log_errx("lua: unprotected error: %s", lua_tostring(L, -1));
	abort();
}

static void
rt_warn(void *ud, const char *msg, int tocont)
{
	(void)ud;
	(void)msg;
	(void)tocont;
}

struct lua_rt_state *
lua_rt_state_of(lua_State *L)
{
	struct lua_rt_state *st;

	memcpy(&st, lua_getextraspace(L), sizeof st);
	return st;
}

void
lua_rt_charge(lua_State *L, size_t bytes)
{
	struct lua_rt_state *st = lua_rt_state_of(L);

	st->charged += bytes;
	if (st->used + st->charged > st->limit) {
		st->model_hit = 1;
		luaL_error(L, "not enough memory");
	}
}

/* ---- the sandbox ---- */

/* Stands for what the sandbox leaves out: raises, naming it. */
static int
sb_denied(lua_State *L)
{
	return luaL_error(L, "%s is not available in collection scripts (the sandbox has no "
	    "io, os, package, debug, require, dofile, loadfile or string.dump)",
	    lua_tostring(L, lua_upvalueindex(1)));
}

static void
sb_push_denied(lua_State *L, const char *what)
{
	lua_pushstring(L, what);
	lua_pushcclosure(L, sb_denied, 1);
}

/* __index of a library stub: any field is denied. */
static int
sb_lib_index(lua_State *L)
{
	const char *lib = lua_tostring(L, lua_upvalueindex(1));
	const char *field = lua_tostring(L, 2);

	return luaL_error(L, "%s.%s is not available in collection scripts (the sandbox has no "
	    "io, os, package, debug, require, dofile, loadfile or string.dump)", lib,
	    field != NULL ? field : "?");
}

/* A library table whose missing fields raise; the table is at the top. */
static void
sb_guard(lua_State *L, const char *lib)
{
	lua_createtable(L, 0, 2);
	lua_pushstring(L, lib);
	lua_pushcclosure(L, sb_lib_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

/* load(chunk [, name [, mode [, env]]]) with text chunks only. */
static int
sb_load(lua_State *L)
{
	int n = lua_gettop(L), with_env = n >= 4;

	if (n >= 3 && !lua_isnil(L, 3)) {
		const char *mode = luaL_checkstring(L, 3);

		if (strcmp(mode, "t") != 0)
			return luaL_error(L, "load: only text chunks are allowed (mode \"t\"), "
			    "not mode \"%s\"", mode);
	}
	lua_settop(L, 4);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_pushliteral(L, "t");
	if (with_env)
		lua_pushvalue(L, 4);
	lua_call(L, with_env ? 4 : 3, LUA_MULTRET);
	return lua_gettop(L) - 4;
}

/* collectgarbage: "count", "collect" and "step" only. */
static int
sb_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "collect");

	if (strcmp(opt, "count") == 0) {
		lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) +
		    (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024);
		return 1;
	}
	if (strcmp(opt, "collect") == 0 || strcmp(opt, "step") == 0) {
		lua_gc(L, strcmp(opt, "collect") == 0 ? LUA_GCCOLLECT : LUA_GCSTEP, 0);
		lua_pushinteger(L, 0);
		return 1;
	}
	return luaL_error(L, "collectgarbage(\"%s\") is not available in collection scripts", opt);
}

/* print: one log line at info, with the script's position. */
static int
sb_print(lua_State *L)
{
	luaL_Buffer b;
	int i, n = lua_gettop(L);

	luaL_where(L, 1);
	luaL_buffinit(L, &b);
	for (i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_info("%sprint: %s", lua_tostring(L, -2), lua_tostring(L, -1));
	return 0;
}

static const char *const sb_os_kept[] = { "clock", "date", "difftime", "time", NULL };

/* os with only clock, date, difftime and time; the rest raises. */
static void
sb_open_os(lua_State *L)
{
	size_t i;

	luaL_requiref(L, "os", luaopen_os, 0);
	lua_createtable(L, 0, 4);
	for (i = 0; sb_os_kept[i] != NULL; i++) {
		lua_getfield(L, -2, sb_os_kept[i]);
		lua_setfield(L, -2, sb_os_kept[i]);
	}
	sb_guard(L, "os");
	lua_setglobal(L, "os");
	lua_pop(L, 1);
}

static int
sb_open(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base }, { LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_TABLIBNAME, luaopen_table }, { LUA_STRLIBNAME, luaopen_string },
		{ LUA_MATHLIBNAME, luaopen_math }, { LUA_UTF8LIBNAME, luaopen_utf8 },
		{ NULL, NULL }
	};
	static const char *const gone[] = { "dofile", "loadfile", "require", NULL };
	static const char *const stubs[] = { "io", "package", "debug", NULL };
	const luaL_Reg *lib;
	size_t i;

	for (lib = libs; lib->func != NULL; lib++) {
		luaL_requiref(L, lib->name, lib->func, 1);
		lua_pop(L, 1);
	}
	sb_open_os(L);
	lua_getglobal(L, "load");
	lua_pushcclosure(L, sb_load, 1);
	lua_setglobal(L, "load");
	lua_pushcfunction(L, sb_collectgarbage);
	lua_setglobal(L, "collectgarbage");
	lua_pushcfunction(L, sb_print);
	lua_setglobal(L, "print");
	for (i = 0; gone[i] != NULL; i++) {
		sb_push_denied(L, gone[i]);
		lua_setglobal(L, gone[i]);
	}
	for (i = 0; stubs[i] != NULL; i++) {
		lua_newtable(L);
		sb_guard(L, stubs[i]);
		lua_setglobal(L, stubs[i]);
	}
	lua_getglobal(L, "string");
	sb_push_denied(L, "string.dump");
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	lua_astro_open(L);
	lua_setglobal(L, "caom2");
	lua_model_open(L);
	return 0;
}

/* ---- errors ---- */

/* The message handler: the error text with a traceback. */
static int
rt_msgh(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			msg = lua_tostring(L, -1);
		else
			msg = lua_pushfstring(L, "(error object is a %s value)",
			    luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* text without the traceback lines of the runtime's own C frames. */
static char *
rt_clean_traceback(const char *text)
{
	char *out = xstrdup(text), *p;

	while ((p = strstr(out, "\n\t[C]: in ?")) != NULL)
		memmove(p, p + 11, strlen(p + 11) + 1);
	return out;
}

/* A failed call or visit: the reason in *cause; what is "get_x()" or "visit()". */
static void
rt_failed(struct lua_rt_state *st, int status, const char *script, const char *what,
    char **cause)
{
	const char *msg = lua_tostring(st->L, -1);
	char *text;
	size_t nl;

	if (status == LUA_ERRMEM || st->mem_hit || st->model_hit) {
		*cause = xasprintf("%s: memory limit of %g MB exceeded in %s", script,
		    (double)st->limit / (1 << 20), what);
		st->broken = 1;
		return;
	}
	text = msg != NULL ? rt_clean_traceback(msg) : xasprintf("%s: error", script);
	nl = strcspn(text, "\n");
	if (st->budget_hit && strstr(text, "instruction budget") == NULL)
		*cause = xasprintf("%s: instruction budget of %llu exceeded in %s\n%s", script,
		    (unsigned long long)st->budget, what, text);
	else
		*cause = xasprintf("%.*s in %s%s", (int)nl, text, what, text + nl);
	free(text);
}

/* ---- states ---- */

static void
rts_reset_call(struct lua_rt_state *st)
{
	if (st->budget_hit)
		lua_sethook(st->L, rt_hook, LUA_MASKCOUNT, HOOK_PERIOD);
	st->steps = 0;
	st->mem_hit = 0;
	st->model_hit = 0;
	st->budget_hit = 0;
}

/* Run the protected function fn with the message handler; LUA_OK or an error status. */
static int
rts_pcall(struct lua_rt_state *st, lua_CFunction fn, int nresults)
{
	rts_reset_call(st);
	lua_pushcfunction(st->L, rt_msgh);
	lua_pushcfunction(st->L, fn);
	return lua_pcall(st->L, 0, nresults, -2);
}

/* A new Lua state with the sandbox, not yet holding any script. */
static int
rts_open(struct lua_rt_state *st, char **cause)
{
	int status;

	st->used = 0;
	st->charged = 0;
	st->ctx_ref = LUA_NOREF;
	if ((st->L = lua_newstate(rt_alloc, st)) == NULL) {
		*cause = xasprintf("cannot create a Lua state (memory limit %zu bytes)", st->limit);
		return -1;
	}
	memcpy(lua_getextraspace(st->L), &st, sizeof st);
	lua_atpanic(st->L, rt_panic);
	lua_setwarnf(st->L, rt_warn, NULL);
	lua_sethook(st->L, rt_hook, LUA_MASKCOUNT, HOOK_PERIOD);
	if ((status = rts_pcall(st, sb_open, 0)) != LUA_OK) {
		*cause = xasprintf("cannot set up the Lua sandbox: %s", lua_tostring(st->L, -1));
		lua_close(st->L);
		st->L = NULL;
		return -1;
	}
	lua_pop(st->L, 1);
	return 0;
}

/*
 * Load script i's bytecode with a global table of its own over the
 * sandbox's, and run its top level (protected).
 */
static int
rts_load_chunk(lua_State *L)
{
	struct lua_rt_state *st = lua_rt_state_of(L);
	struct load_args *a = st->load;
	int r;

	lua_pushfstring(L, "@%s", a->sc->name);
	r = luaL_loadbufferx(L, a->sc->code, a->sc->len, lua_tostring(L, -1), "b");
	if (r != LUA_OK) {
		a->compile_status = r;
		return lua_error(L);
	}
	lua_newtable(L);			/* the script's globals */
	lua_createtable(L, 0, 1);
	lua_pushglobaltable(L);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	st->env_refs[st->cur_script] = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_setupvalue(L, -2, 1);		/* _ENV */
	lua_call(L, 0, 0);
	return 0;
}

static int
rts_run_script(struct lua_rt_state *st, size_t i, char **cause)
{
	struct load_args a = { &st->rt->scripts[i], NULL, 0, LUA_OK };
	lua_State *L = st->L;
	int status;

	st->cur_script = i;
	st->load = &a;
	status = rts_pcall(st, rts_load_chunk, 0);
	st->load = NULL;
	if (status != LUA_OK) {
		if (a.compile_status != LUA_OK && a.compile_status != LUA_ERRMEM)
			*cause = xasprintf("%s: cannot load its bytecode: %s", a.sc->name,
			    lua_tostring(L, -1) != NULL ? lua_tostring(L, -1) : "?");
		else
			rt_failed(st, status, a.sc->name, "its top level", cause);
		lua_pop(L, 2);
		return -1;
	}
	lua_pop(L, 1);
	return 0;
}

/* Push global name of script i's table. */
static void
rts_get_global(struct lua_rt_state *st, size_t i, const char *name)
{
	lua_rawgeti(st->L, LUA_REGISTRYINDEX, st->env_refs[i]);
	lua_getfield(st->L, -1, name);
	lua_remove(st->L, -2);
}

/* Reference the functions bound since this state was made (protected: raises). */
static void
rts_bind_new(lua_State *L, struct lua_rt_state *st)
{
	struct lua_rt *rt = st->rt;
	size_t i;

	if (st->nbound == rt->nfns)
		return;
	st->fn_refs = xreallocarray(st->fn_refs, rt->nfns + 1, sizeof *st->fn_refs);
	for (i = st->nbound; i < rt->nfns; i++) {
		rts_get_global(st, rt->fns[i].script, rt->fns[i].name);
		if (lua_type(L, -1) != LUA_TFUNCTION)
			luaL_error(L, "%s: %s is not a function any more",
			    rt->scripts[rt->fns[i].script].name, rt->fns[i].name);
		st->fn_refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
		st->nbound = i + 1;
	}
}

/* Fill a state with every script of its runtime (from bytecode). */
static int
rts_build(struct lua_rt_state *st, char **cause)
{
	size_t i;

	if (rts_open(st, cause) == -1)
		return -1;
	st->env_refs = xreallocarray(st->env_refs, st->rt->nscripts + 1, sizeof *st->env_refs);
	for (i = 0; i < st->rt->nscripts; i++) {
		if (rts_run_script(st, i, cause) == -1)
			return -1;
	}
	return 0;
}

static struct lua_rt_state *
rts_new(struct lua_rt *rt)
{
	struct lua_rt_state *st = xcalloc(1, sizeof *st);

	st->rt = rt;
	st->limit = rt->lim.memory;
	st->budget = rt->lim.instructions;
	st->ctx_ref = LUA_NOREF;
	return st;
}

static void
rts_close(struct lua_rt_state *st)
{
	lua_model_bury(st);
	if (st->L != NULL)
		lua_close(st->L);
	st->L = NULL;
	st->nbound = 0;
	st->ctx_ref = LUA_NOREF;
	st->gen++;
}

static void
rts_free(struct lua_rt_state *st)
{
	rts_close(st);
	free(st->env_refs);
	free(st->fn_refs);
	free(st->graves);
	free(st);
}

/* ---- the runtime ---- */

struct lua_rt *
lua_rt_new(const struct lua_rt_limits *limits)
{
	struct lua_rt *rt = xcalloc(1, sizeof *rt);
	char *cause = NULL;

	if (limits != NULL)
		rt->lim = *limits;
	if (rt->lim.memory == 0)
		rt->lim.memory = LUA_RT_DEFAULT_MEMORY;
	if (rt->lim.memory < MIN_MEMORY)
		rt->lim.memory = MIN_MEMORY;
	if (rt->lim.instructions == 0)
		rt->lim.instructions = LUA_RT_DEFAULT_INSTRUCTIONS;
	if (rt->lim.instructions < HOOK_PERIOD)
		rt->lim.instructions = HOOK_PERIOD;
	rt->tables = strmap_new();
	atomic_init(&rt->refs, 1);
	atomic_init(&rt->retired, 0);
	rt->check = rts_new(rt);
	if (rts_open(rt->check, &cause) == -1) {
		log_errx("%s", cause);
		abort();
	}
	return rt;
}

static void
rt_free_table(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	lua_table_free(value);
}

static void
rt_destroy(struct lua_rt *rt)
{
	size_t i;

	if (rt->check != NULL)
		rts_free(rt->check);
	for (i = 0; i < rt->nscripts; i++) {
		free(rt->scripts[i].name);
		free(rt->scripts[i].code);
	}
	free(rt->scripts);
	for (i = 0; i < rt->nfns; i++)
		free(rt->fns[i].name);
	free(rt->fns);
	strmap_each(rt->tables, rt_free_table, NULL);
	strmap_free(rt->tables);
	free(rt);
}

static void
rt_unref(struct lua_rt *rt)
{
	if (atomic_fetch_sub(&rt->refs, 1) == 1)
		rt_destroy(rt);
}

static int
writer(lua_State *L, const void *p, size_t sz, void *ud)
{
	struct lua_rt_script *sc = ud;

	(void)L;
	sc->code = xreallocarray(sc->code, sc->len + sz + 1, 1);
	memcpy(sc->code + sc->len, p, sz);
	sc->len += sz;
	return 0;
}

/* Dump the function the load left in the check state as script i's bytecode. */
static int
rt_dump_chunk(lua_State *L)
{
	struct load_args *a = lua_rt_state_of(L)->load;
	struct lua_rt_script *sc = a->sc;
	int r;

	lua_pushfstring(L, "@%s", sc->name);
	r = luaL_loadbufferx(L, a->text, a->len, lua_tostring(L, -1), "t");
	if (r != LUA_OK)
		return lua_error(L);
	lua_dump(L, writer, sc, 0);
	return 0;
}

/* Compile text into script sc's bytecode in the check state; 0 or -1 "FILE:LINE: msg". */
static int
rt_compile(struct lua_rt *rt, struct lua_rt_script *sc, const char *text, size_t len,
    char **cause)
{
	struct load_args a = { sc, text, len, LUA_OK };
	lua_State *L = rt->check->L;
	int status;

	rts_reset_call(rt->check);
	rt->check->load = &a;
	lua_pushcfunction(L, rt_dump_chunk);
	status = lua_pcall(L, 0, 0, 0);
	rt->check->load = NULL;
	if (status != LUA_OK) {
		if (status == LUA_ERRMEM)
			*cause = xasprintf("%s: memory limit exceeded while compiling", sc->name);
		else
			*cause = xstrdup(lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

int
lua_rt_load_text(struct lua_rt *rt, enum lua_rt_role role, const char *name,
    const char *text, size_t len, char **cause)
{
	struct lua_rt_script *sc;
	struct lua_rt_state *st = rt->check;
	size_t i = rt->nscripts;

	rt->scripts = xreallocarray(rt->scripts, i + 1, sizeof *rt->scripts);
	sc = &rt->scripts[i];
	memset(sc, 0, sizeof *sc);
	sc->name = xstrdup(name);
	sc->role = role;
	st->env_refs = xreallocarray(st->env_refs, i + 1, sizeof *st->env_refs);
	st->env_refs[i] = LUA_NOREF;
	if (rt_compile(rt, sc, text, len, cause) == -1 ||
	    rts_run_script(st, i, cause) == -1)
		goto fail;
	if (role == LUA_RT_VISITOR) {
		rts_get_global(st, i, "visit");
		if (lua_type(st->L, -1) != LUA_TFUNCTION) {
			lua_pop(st->L, 1);
			*cause = xasprintf("%s: defines no function visit(obs, ctx)", name);
			goto fail;
		}
		lua_pop(st->L, 1);
	}
	rt->nscripts++;
	return 0;
fail:
	luaL_unref(st->L, LUA_REGISTRYINDEX, st->env_refs[i]);
	free(sc->name);
	free(sc->code);
	return -1;
}

int
lua_rt_load(struct lua_rt *rt, enum lua_rt_role role, const char *path, char **cause)
{
	char *text;
	size_t len;
	int r;

	if (fileio_read(path, &text, &len, cause) == -1)
		return -1;
	r = lua_rt_load_text(rt, role, path, text, len, cause);
	free(text);
	return r;
}

/* The name in "name(args)" into buf; 0, or -1 when it is not an identifier. */
static int
rt_call_name(const char *call, char *buf, size_t size)
{
	size_t n;

	while (isspace((unsigned char)*call))
		call++;
	n = strcspn(call, "( \t");
	if (n == 0 || n >= size || isdigit((unsigned char)call[0]))
		return -1;
	memcpy(buf, call, n);
	buf[n] = '\0';
	for (; *buf != '\0'; buf++) {
		if (!isalnum((unsigned char)*buf) && *buf != '_')
			return -1;
	}
	return 0;
}

int
lua_rt_bind(struct lua_rt *rt, const char *call, char **cause)
{
	struct lua_rt_state *st = rt->check;
	char name[128];
	size_t i;
	int type;

	if (rt_call_name(call, name, sizeof name) == -1) {
		*cause = xasprintf("'%s' does not name a function", call);
		return -1;
	}
	for (i = 0; i < rt->nfns; i++) {
		if (strcmp(rt->fns[i].name, name) == 0)
			return (int)i;
	}
	for (i = rt->nscripts; i-- > 0;) {
		if (rt->scripts[i].role != LUA_RT_FUNCTIONS)
			continue;
		rts_get_global(st, i, name);
		type = lua_type(st->L, -1);
		lua_pop(st->L, 1);
		if (type != LUA_TFUNCTION)
			continue;
		rt->fns = xreallocarray(rt->fns, rt->nfns + 1, sizeof *rt->fns);
		rt->fns[rt->nfns].name = xstrdup(name);
		rt->fns[rt->nfns].script = i;
		return (int)rt->nfns++;
	}
	*cause = xasprintf("unknown function %s (no function script defines a global function "
	    "of that name)", name);
	return -1;
}

const char *
lua_rt_fn_name(const struct lua_rt *rt, int id)
{
	return id >= 0 && (size_t)id < rt->nfns ? rt->fns[id].name : NULL;
}

int
lua_rt_table(struct lua_rt *rt, const char *name, const char *path, char **cause)
{
	struct lua_table *t;

	if (strmap_get(rt->tables, name) != NULL) {
		*cause = xasprintf("table %s is defined twice", name);
		return -1;
	}
	if (lua_table_load(path, &t, cause) == -1)
		return -1;
	strmap_put(rt->tables, name, t);
	return 0;
}

size_t
lua_rt_nvisitors(const struct lua_rt *rt)
{
	size_t i, n = 0;

	for (i = 0; i < rt->nscripts; i++)
		n += rt->scripts[i].role == LUA_RT_VISITOR;
	return n;
}

/* ---- per-thread states ---- */

static void
rt_thread_exit(void *p)
{
	struct lua_rt_state *st = p, *next;

	for (; st != NULL; st = next) {
		next = st->next;
		rt_unref(st->rt);
		rts_free(st);
	}
}

static void
rt_key_init(void)
{
	if (pthread_key_create(&lua_rt_key, rt_thread_exit) != 0)
		abort();
}

/* This thread's states, without those of retired runtimes. */
static struct lua_rt_state *
rt_thread_states(void)
{
	struct lua_rt_state *head, **pp, *st;

	pthread_once(&lua_rt_once, rt_key_init);
	head = pthread_getspecific(lua_rt_key);
	for (pp = &head; (st = *pp) != NULL;) {
		if (atomic_load(&st->rt->retired) && st->sess == NULL) {
			*pp = st->next;
			rt_unref(st->rt);
			rts_free(st);
		} else
			pp = &st->next;
	}
	pthread_setspecific(lua_rt_key, head);
	return head;
}

void
lua_rt_thread_cleanup(void)
{
	pthread_once(&lua_rt_once, rt_key_init);
	rt_thread_exit(pthread_getspecific(lua_rt_key));
	pthread_setspecific(lua_rt_key, NULL);
}

void
lua_rt_free(struct lua_rt *rt)
{
	if (rt == NULL)
		return;
	atomic_store(&rt->retired, 1);
	rt_thread_states();
	rt_unref(rt);
}

/* This thread's state for rt, made when missing or broken. */
static struct lua_rt_state *
rt_state(struct lua_rt *rt, char **cause)
{
	struct lua_rt_state *head = rt_thread_states(), *st;

	for (st = head; st != NULL && st->rt != rt; st = st->next)
		;
	if (st == NULL) {
		st = rts_new(rt);
		atomic_fetch_add(&rt->refs, 1);
		st->next = head;
		pthread_setspecific(lua_rt_key, st);
		st->broken = 1;
	}
	if (st->broken) {
		rts_close(st);
		if (rts_build(st, cause) == -1) {
			rts_close(st);
			return NULL;
		}
		st->broken = 0;
	}
	return st;
}

/* ---- headers ---- */

/* A FITS number as cfitsio reads it (D exponents too); 0 or -1. */
static int
card_double(const char *text, double *v)
{
	char buf[128], *end, *d;

	snprintf(buf, sizeof buf, "%s", text);
	if ((d = strpbrk(buf, "Dd")) != NULL)
		*d = 'E';
	*v = strtod(buf, &end);
	return end == buf ? -1 : 0;
}

void
lua_rt_push_card(lua_State *L, const struct fits_card *c)
{
	long long ll;
	char *end;
	double v;

	switch (c->value == NULL ? FITS_NOVALUE : c->type) {
	case FITS_LOGICAL:
		lua_pushboolean(L, c->value[0] == 'T');
		return;
	case FITS_INTEGER:
		errno = 0;
		ll = strtoll(c->value, &end, 10);
		if (errno == 0 && *end == '\0')
			lua_pushinteger(L, (lua_Integer)ll);
		else if (card_double(c->value, &v) == 0)	/* past 64 bits: a float */
			lua_pushnumber(L, v);
		else
			lua_pushstring(L, c->value);
		return;
	case FITS_FLOAT:
		if (card_double(c->value, &v) == 0)
			lua_pushnumber(L, v);
		else
			lua_pushstring(L, c->value);
		return;
	case FITS_STRING:
	case FITS_COMPLEX:
		lua_pushstring(L, c->value);
		return;
	default:
		lua_pushnil(L);
		return;
	}
}

static struct lua_hdr *
hdr_check(lua_State *L, int idx)
{
	struct lua_hdr *h = luaL_checkudata(L, idx, HDR_MT);

	if (h->gen != lua_rt_state_of(L)->gen)
		luaL_error(L, "a header of a file mapped before (ctx.header is valid during its "
		    "call only)");
	return h;
}

const struct fits_hdu *
lua_rt_check_header(lua_State *L, int idx)
{
	return hdr_check(L, idx)->hdu;
}

/* The keyword at idx, upper case, into buf; NULL when it cannot be a keyword. */
static const char *
hdr_key(lua_State *L, int idx, char *buf, size_t size)
{
	size_t n, i;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING)
		return NULL;
	s = lua_tolstring(L, idx, &n);
	for (i = 0; i < n && !(s[i] >= 'a' && s[i] <= 'z'); i++)
		;
	if (i == n)
		return s;		/* upper case already, as keywords mostly are */
	if (n >= size)
		return NULL;
	for (i = 0; i < n; i++)
		buf[i] = (char)toupper((unsigned char)s[i]);
	buf[n] = '\0';
	return buf;
}

/* __index: the metatable is locked, so argument 1 is a header; only its generation is checked. */
static int
hdr_index(lua_State *L)
{
	struct lua_hdr *h = lua_touserdata(L, 1);
	const struct fits_card *c;
	char buf[80];
	const char *key = hdr_key(L, 2, buf, sizeof buf);

	if (h == NULL || h->gen != lua_rt_state_of(L)->gen)
		hdr_check(L, 1);
	if (key == NULL || (c = fits_hdu_find(h->hdu, key)) == NULL)
		lua_pushnil(L);
	else
		lua_rt_push_card(L, c);
	return 1;
}

static int
hdr_newindex(lua_State *L)
{
	return luaL_error(L, "ctx.header is read-only (a function returns its value instead)");
}

static int
hdr_len(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)hdr_check(L, 1)->hdu->ncards);
	return 1;
}

/* The pairs iterator: keyword, value of each card with a value, in order. */
static int
hdr_next(lua_State *L)
{
	struct lua_hdr *h = hdr_check(L, lua_upvalueindex(1));
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
	const struct fits_card *c;

	for (; (size_t)i < h->hdu->ncards; i++) {
		c = &h->hdu->cards[i];
		if (c->value == NULL || c->type == FITS_NOVALUE || c->type == FITS_UNDEFINED)
			continue;
		lua_pushinteger(L, i + 1);
		lua_replace(L, lua_upvalueindex(2));
		lua_pushstring(L, c->key);
		lua_rt_push_card(L, c);
		return 2;
	}
	return 0;
}

static int
hdr_pairs(lua_State *L)
{
	hdr_check(L, 1);
	lua_pushvalue(L, 1);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, hdr_next, 2);
	return 1;
}

static int
hdr_tostring(lua_State *L)
{
	struct lua_hdr *h = hdr_check(L, 1);

	lua_pushfstring(L, "header of HDU %d (%d cards)", h->hdu->index, (int)h->hdu->ncards);
	return 1;
}

static int
hdrs_index(lua_State *L)
{
	lua_getiuservalue(L, 1, 1);
	lua_pushvalue(L, 2);
	lua_rawget(L, -2);
	return 1;
}

static int
hdrs_len(lua_State *L)
{
	lua_getiuservalue(L, 1, 1);
	lua_getfield(L, -1, "n");
	return 1;
}

static int
hdrs_newindex(lua_State *L)
{
	return luaL_error(L, "ctx.headers is read-only");
}

static void
hdr_metatables(lua_State *L)
{
	static const luaL_Reg hdr[] = {
		{ "__index", hdr_index }, { "__newindex", hdr_newindex }, { "__len", hdr_len },
		{ "__pairs", hdr_pairs }, { "__tostring", hdr_tostring }, { NULL, NULL }
	};
	static const luaL_Reg hdrs[] = {
		{ "__index", hdrs_index }, { "__len", hdrs_len }, { "__newindex", hdrs_newindex },
		{ NULL, NULL }
	};

	luaL_newmetatable(L, HDR_MT);
	luaL_setfuncs(L, hdr, 0);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	luaL_newmetatable(L, HDRS_MT);
	luaL_setfuncs(L, hdrs, 0);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
}

/* ---- ctx ---- */

static int
ctx_lookup(lua_State *L)
{
	struct lua_rt_state *st = lua_rt_state_of(L);
	const char *name = luaL_checkstring(L, 1);
	const struct lua_table *t = strmap_get(st->rt->tables, name);

	if (t == NULL)
		return luaL_error(L, "ctx.lookup: no table named %s (tables: come from the "
		    "configuration's tables:)", name);
	if (lua_gettop(L) < 2)
		return luaL_error(L, "ctx.lookup(%s, key...): no key", name);
	lua_table_lookup(L, t, 2, lua_gettop(L) - 1);
	return 1;
}

static void
ctx_group(const char *key, void *value, void *arg)
{
	lua_State *L = arg;

	lua_pushstring(L, value);
	lua_setfield(L, -2, key);
}

static void
ctx_set_string(lua_State *L, const char *name, const char *value)
{
	if (value == NULL)
		return;
	lua_pushstring(L, value);
	lua_setfield(L, -2, name);
}

/* The headers userdata of the session's file. */
static void
ctx_headers(lua_State *L, struct lua_rt_state *st)
{
	const struct fits_file *f = st->sess->in.fits;
	struct lua_hdr *h;
	size_t i, n = f != NULL ? f->nhdus : 0;

	lua_newuserdatauv(L, 0, 1);
	luaL_setmetatable(L, HDRS_MT);
	lua_createtable(L, (int)n, 1);
	for (i = 0; i < n; i++) {
		h = lua_newuserdatauv(L, sizeof *h, 0);
		h->hdu = &f->hdus[i];
		h->gen = st->gen;
		luaL_setmetatable(L, HDR_MT);
		lua_rawseti(L, -2, (lua_Integer)i);
	}
	lua_pushinteger(L, (lua_Integer)n);
	lua_setfield(L, -2, "n");
	lua_setiuservalue(L, -2, 1);
}

/* Push the session's ctx, made on first use. */
static void
ctx_push(lua_State *L, struct lua_rt_state *st)
{
	const struct lua_rt_input *in = &st->sess->in;

	if (st->ctx_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, st->ctx_ref);
		return;
	}
	if (luaL_getmetatable(L, HDR_MT) == LUA_TNIL)
		hdr_metatables(L);
	lua_pop(L, 1);
	lua_createtable(L, 0, 8);
	ctx_set_string(L, "uri", in->uri);
	ctx_set_string(L, "file", in->file);
	lua_newtable(L);
	if (in->groups != NULL)
		strmap_each(in->groups, ctx_group, L);
	lua_setfield(L, -2, "groups");
	ctx_headers(L, st);
	lua_setfield(L, -2, "headers");
	lua_pushcfunction(L, ctx_lookup);
	lua_setfield(L, -2, "lookup");
	lua_pushvalue(L, -1);
	st->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ctx.ext = ext, ctx.header = that HDU (nil when the file has none). */
static void
ctx_set_ext(lua_State *L, int ext)
{
	lua_pushinteger(L, ext);
	lua_setfield(L, -2, "ext");
	lua_getfield(L, -1, "headers");
	lua_getiuservalue(L, -1, 1);
	lua_rawgeti(L, -1, ext);
	lua_setfield(L, -4, "header");
	lua_pop(L, 2);
}

/* ---- sessions ---- */

struct lua_rt_session *
lua_rt_begin(struct lua_rt *rt, const struct lua_rt_input *in, char **cause)
{
	struct lua_rt_state *st;
	struct lua_rt_session *s;

	if ((st = rt_state(rt, cause)) == NULL)
		return NULL;
	if (st->sess != NULL) {
		*cause = xstrdup("a Lua session is already running on this thread");
		return NULL;
	}
	s = xcalloc(1, sizeof *s);
	s->st = st;
	s->in = *in;
	st->sess = s;
	st->ctx_ref = LUA_NOREF;
	return s;
}

void
lua_rt_end(struct lua_rt_session *s)
{
	struct lua_rt_state *st;

	if (s == NULL)
		return;
	st = s->st;
	if (st->L != NULL && st->ctx_ref != LUA_NOREF)
		luaL_unref(st->L, LUA_REGISTRYINDEX, st->ctx_ref);
	st->ctx_ref = LUA_NOREF;
	st->gen++;
	st->sess = NULL;
	free(s);
}

/* Make sure the session's state is usable (rebuilt after a memory failure). */
static int
sess_ready(struct lua_rt_session *s, char **cause)
{
	struct lua_rt_state *st = s->st;

	if (!st->broken)
		return 0;
	rts_close(st);
	if (rts_build(st, cause) == -1) {
		rts_close(st);
		return -1;
	}
	st->broken = 0;
	return 0;
}

static int
tramp_call(lua_State *L)
{
	struct lua_rt_state *st = lua_rt_state_of(L);

	rts_bind_new(L, st);
	lua_rawgeti(L, LUA_REGISTRYINDEX, st->fn_refs[st->cur_fn]);
	ctx_push(L, st);
	ctx_set_ext(L, st->cur_ext);
	lua_call(L, 1, 1);
	return 1;
}

/* The value at the top into out; 0, or -1 when a function may not return it. */
static int
call_result(lua_State *L, struct lua_rt_value *out)
{
	memset(out, 0, sizeof *out);
	switch (lua_type(L, -1)) {
	case LUA_TNIL:
		out->type = LUA_RT_NIL;
		return 0;
	case LUA_TBOOLEAN:
		out->type = LUA_RT_BOOL;
		out->b = lua_toboolean(L, -1);
		return 0;
	case LUA_TNUMBER:
		if (lua_isinteger(L, -1)) {
			out->type = LUA_RT_INT;
			out->i = (long long)lua_tointeger(L, -1);
			out->d = (double)out->i;
		} else {
			out->type = LUA_RT_FLOAT;
			out->d = (double)lua_tonumber(L, -1);
		}
		return 0;
	case LUA_TSTRING:
		out->type = LUA_RT_STRING;
		out->s = xstrdup(lua_tostring(L, -1));
		return 0;
	default:
		return -1;
	}
}

int
lua_rt_call(struct lua_rt_session *s, int id, int ext, struct lua_rt_value *out,
    char **cause)
{
	struct lua_rt_state *st = s->st;
	struct lua_rt *rt = st->rt;
	const struct lua_rt_fn *fn;
	int status, r = 0;

	memset(out, 0, sizeof *out);
	if (id < 0 || (size_t)id >= rt->nfns) {
		*cause = xasprintf("no Lua function bound as %d", id);
		return -1;
	}
	fn = &rt->fns[id];
	if (sess_ready(s, cause) == -1)
		return -1;
	st->cur_fn = id;
	st->cur_ext = ext;
	status = rts_pcall(st, tramp_call, 1);
	if (status != LUA_OK) {
		char *what = xasprintf("%s()", fn->name);

		rt_failed(st, status, rt->scripts[fn->script].name, what, cause);
		free(what);
		r = -1;
	} else if (call_result(st->L, out) == -1) {
		*cause = xasprintf("%s: %s() returned a %s (a blueprint function returns a "
		    "number, a string, a boolean or nil)", rt->scripts[fn->script].name,
		    fn->name, luaL_typename(st->L, -1));
		r = -1;
	}
	lua_pop(st->L, 2);
	return r;
}

static int
tramp_visit(lua_State *L)
{
	struct lua_rt_state *st = lua_rt_state_of(L);

	lua_rawgeti(L, LUA_REGISTRYINDEX, st->env_refs[st->cur_script]);
	lua_getfield(L, -1, "visit");
	lua_model_push(L, st->cur_obs);
	ctx_push(L, st);
	ctx_set_ext(L, 0);
	lua_call(L, 2, 0);
	return 0;
}

int
lua_rt_visit(struct lua_rt_session *s, struct caom_observation *obs, char **cause)
{
	struct lua_rt_state *st = s->st;
	struct lua_rt *rt = st->rt;
	size_t i;
	int status, r = 0;

	for (i = 0; i < rt->nscripts && r == 0; i++) {
		if (rt->scripts[i].role != LUA_RT_VISITOR)
			continue;
		if (sess_ready(s, cause) == -1)
			return -1;
		st->cur_script = i;
		st->cur_obs = obs;
		st->charged = 0;
		status = rts_pcall(st, tramp_visit, 0);
		if (status != LUA_OK) {
			rt_failed(st, status, rt->scripts[i].name, "visit()", cause);
			lua_pop(st->L, 1);
			r = -1;
		}
		lua_pop(st->L, 1);
		st->gen++;		/* the proxies of this visit are dead */
		st->charged = 0;
		lua_model_bury(st);
		if (st->ctx_ref != LUA_NOREF) {
			/* ctx's headers carry the generation: make a new ctx next time. */
			luaL_unref(st->L, LUA_REGISTRYINDEX, st->ctx_ref);
			st->ctx_ref = LUA_NOREF;
		}
	}
	return r;
}

void
lua_rt_value_clear(struct lua_rt_value *v)
{
	free(v->s);
	memset(v, 0, sizeof *v);
}
