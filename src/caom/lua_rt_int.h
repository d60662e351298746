/*
 * lua_rt_int.h - what the Lua runtime's modules share (internal to
 * lua_rt.c, lua_model.c, lua_astro.c and lua_table.c).
 */
#ifndef CAOM2INGEST_LUA_RT_INT_H
#define CAOM2INGEST_LUA_RT_INT_H

#include <lua.h>
#include <lauxlib.h>

#include "caom/lua_rt.h"

struct caom_desc;
struct fits_card;
struct fits_hdu;
struct lua_rt_script;
struct lua_table;

/* Something a visitor detached: freed when the visit ends (proxies may still point at it). */
struct lua_grave {
	const struct caom_desc	*desc;
	void			*obj;		/* a struct of desc, or an array of them */
	size_t			 n;		/* array length */
	int			 array;		/* obj is an array of n structs, not one */
};

/* What a script load hands to the protected loader. */
struct load_args {
	struct lua_rt_script	*sc;
	const char		*text;		/* the source being compiled */
	size_t			 len;
	int			 compile_status;
};

/* One thread's Lua state for one runtime. */
struct lua_rt_state {
	struct lua_rt		*rt;
	lua_State		*L;
	struct lua_rt_state	*next;		/* this thread's other states */
	size_t			 used;		/* bytes the Lua allocator holds */
	size_t			 limit;
	size_t			 charged;	/* model bytes added by this visit */
	int			 mem_hit;	/* the last allocation was refused */
	int			 model_hit;	/* a visitor's additions went over the limit */
	uint64_t		 steps;		/* instructions of this call (in hook periods) */
	uint64_t		 budget;
	int			 budget_hit;
	int			 broken;	/* rebuild before the next call */
	int			*env_refs;	/* per script: its global table */
	int			*fn_refs;	/* per bound function */
	size_t			 nbound;	/* fn_refs made */
	int			 ctx_ref;	/* this session's ctx table, or LUA_NOREF */
	unsigned		 gen;		/* proxies made before are dead */
	struct lua_rt_session	*sess;		/* the session running, or NULL */
	int			 cur_fn;	/* the call being made */
	int			 cur_ext;
	size_t			 cur_script;	/* the visitor being run */
	struct caom_observation	*cur_obs;
	struct load_args	*load;		/* the script being loaded */
	struct lua_grave	*graves;	/* what this visit detached */
	size_t			 ngraves;
};

/* The state of L. */
struct lua_rt_state *lua_rt_state_of(lua_State *L);
/* Count bytes a visitor added to the model against the memory limit (raises when over). */
void lua_rt_charge(lua_State *L, size_t bytes);
/* The HDU of the header userdata at idx (raises when it is not one or has expired). */
const struct fits_hdu *lua_rt_check_header(lua_State *L, int idx);
/* Push the value of a header card, typed as cfitsio types it (nil when valueless). */
void lua_rt_push_card(lua_State *L, const struct fits_card *c);

/* lua_model.c: the CAOM-2 model as userdata driven by caom_desc.h. */
void lua_model_open(lua_State *L);
/* Push a proxy for obs (valid until the state's generation changes). */
void lua_model_push(lua_State *L, struct caom_observation *obs);
/* Free what the visit detached. */
void lua_model_bury(struct lua_rt_state *st);

/* lua_astro.c: the helper library, left on the stack as a table. */
int lua_astro_open(lua_State *L);

/* lua_table.c: lookup tables, immutable once loaded, shared by threads. */
int lua_table_load(const char *path, struct lua_table **out, char **cause);
void lua_table_free(struct lua_table *t);
/* Push the entry for the nkeys keys at stack index first.. (nil when absent). */
void lua_table_lookup(lua_State *L, const struct lua_table *t, int first, int nkeys);

#endif
