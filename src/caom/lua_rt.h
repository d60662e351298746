/*
 * lua_rt.h - collection code in sandboxed Lua 5.4: blueprint functions,
 * visitors and lookup tables.
 *
 * A struct lua_rt holds the scripts of one configuration load: each script
 * is compiled (and its top level run once, to find its globals) when it is
 * added, then kept as bytecode. Blueprint values written as functions
 * ("get_time_exposure()", "get_x(header)") are bound by name to the global
 * functions of the function scripts (lua_rt_bind); visitor scripts define
 * "visit(obs, ctx)". Once built, a lua_rt is shared read-only by every
 * thread: each thread that maps gets its own Lua state, made from the
 * bytecode on first use (and again after a reload, or after a call that
 * exceeded the memory limit).
 *
 * The sandbox: the base, string, table, math, utf8 and coroutine libraries,
 * os.time/clock/date/difftime, and the helper library "caom2"; no io, os
 * (else), package, debug, require, dofile, loadfile or string.dump, and load
 * of text only. Each state has a memory limit (a counting allocator) and
 * each call an instruction budget (a count hook); exceeding either fails
 * that call with a message naming the script and the function.
 *
 * A session maps one file: lua_rt_begin .. lua_rt_end on one thread, with
 * the calls and visits in between. Errors come back as "FILE:LINE: message"
 * plus a Lua traceback, through char **cause.
 */
#ifndef CAOM2INGEST_LUA_RT_H
#define CAOM2INGEST_LUA_RT_H

#include <stddef.h>
#include <stdint.h>

struct caom_observation;
struct fits_file;
struct strmap;

/* Limits; 0 means the default. */
struct lua_rt_limits {
	size_t		 memory;	/* bytes per Lua state (default 64 MiB, at least 1 MiB) */
	uint64_t	 instructions;	/* Lua VM instructions per call (default 50,000,000) */
};

#define LUA_RT_DEFAULT_MEMORY		((size_t)64 << 20)
#define LUA_RT_DEFAULT_INSTRUCTIONS	((uint64_t)50000000)

/* What a script is for. */
enum lua_rt_role {
	LUA_RT_FUNCTIONS,	/* globals bound to blueprint values */
	LUA_RT_VISITOR		/* defines visit(obs, ctx) */
};

struct lua_rt;
struct lua_rt_session;

/* What a function returned. */
enum lua_rt_vtype {
	LUA_RT_NIL,		/* nil: not set, as an absent keyword */
	LUA_RT_BOOL,
	LUA_RT_INT,
	LUA_RT_FLOAT,
	LUA_RT_STRING
};

struct lua_rt_value {
	enum lua_rt_vtype type;
	int		 b;		/* LUA_RT_BOOL */
	long long	 i;		/* LUA_RT_INT */
	double		 d;		/* LUA_RT_FLOAT (and LUA_RT_INT as a double) */
	char		*s;		/* LUA_RT_STRING, owned */
};

/* The file a session maps. */
struct lua_rt_input {
	const struct fits_file	*fits;		/* its headers, or NULL */
	const char		*uri;		/* ctx.uri (the artifact URI), or NULL */
	const char		*file;		/* ctx.file (the file's name), or NULL */
	const struct strmap	*groups;	/* ctx.groups: name -> char * value, or NULL */
};

/* ---- building (one thread, before sharing) ---- */

/* An empty runtime with these limits (NULL: the defaults). */
struct lua_rt *lua_rt_new(const struct lua_rt_limits *limits);
/*
 * Drop the owner's reference: the runtime is freed once no thread's state
 * uses it any more (states of the calling thread are closed now, those of
 * other threads on their next lua_rt_begin or at thread exit; a state in a
 * session is closed after it). NULL is accepted.
 */
void lua_rt_free(struct lua_rt *rt);
/* Compile and run a script file (messages name it as given); 0 or -1, *cause "FILE:LINE: ...". */
int lua_rt_load(struct lua_rt *rt, enum lua_rt_role role, const char *path, char **cause);
/* The same from memory; name stands for the file in messages. */
int lua_rt_load_text(struct lua_rt *rt, enum lua_rt_role role, const char *name,
    const char *text, size_t len, char **cause);
/*
 * Bind a blueprint function value ("get_x()", "get_x(header)", "get_x")
 * to the global function of that name in the function scripts (the last
 * loaded wins). Returns its id (>= 0), or -1 with *cause when no function
 * script defines it; the caller adds the blueprint's file and line.
 */
int lua_rt_bind(struct lua_rt *rt, const char *call, char **cause);
/* The name bound as id ("get_x"). */
const char *lua_rt_fn_name(const struct lua_rt *rt, int id);
/* Load lookup table name for ctx.lookup from a .csv (first row names the columns) or .yml file. */
int lua_rt_table(struct lua_rt *rt, const char *name, const char *path, char **cause);
/* The number of visitor scripts. */
size_t lua_rt_nvisitors(const struct lua_rt *rt);

/* ---- mapping (any thread) ---- */

/* Start mapping in; NULL with *cause when this thread's state cannot be made. */
struct lua_rt_session *lua_rt_begin(struct lua_rt *rt, const struct lua_rt_input *in,
    char **cause);
/* Call function id with ctx for HDU ext; 0 with *out set (free with lua_rt_value_clear), or -1. */
int lua_rt_call(struct lua_rt_session *s, int id, int ext, struct lua_rt_value *out,
    char **cause);
/*
 * Run every visitor, in load order, on obs (ctx.ext 0). 0, or -1 with
 * *cause: obs is then valid but partly visited, and should be dropped.
 */
int lua_rt_visit(struct lua_rt_session *s, struct caom_observation *obs, char **cause);
/* End the session; NULL is accepted. */
void lua_rt_end(struct lua_rt_session *s);

/*
 * Is value allowed for the enumerated attribute named by a blueprint key
 * ("Plane.dataProductType", "Observation.target.type", "Chunk.productType")?
 * 0 (also for keys that are no enumeration), or -1 with *cause. For the
 * values blueprint functions return; visitors are checked the same way.
 */
int lua_rt_check_enum(const char *key, const char *value, char **cause);
/* Free what v owns and make it nil. */
void lua_rt_value_clear(struct lua_rt_value *v);
/* Close this thread's Lua states (before a thread or the program ends). */
void lua_rt_thread_cleanup(void);

#endif
