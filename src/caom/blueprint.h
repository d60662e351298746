/*
 * blueprint.h - how a collection's FITS headers map to CAOM-2 attributes.
 *
 * A blueprint holds, for each of the 195 keys of blueprint_keys.h, where the
 * value comes from: a list of header keywords with an optional default, a
 * literal, None, a BINTABLE column, or a collection function ("get_x()",
 * "get_x(header)"): accepted only when the caller has said it will bind the
 * functions (bp_allow_functions), and bound by name with bp_bind_functions
 * (the mapping calls them through lua_rt.h).
 * The plan applies to every HDU; "extension N" plans override Chunk keys for
 * HDU N. Which WCS axis is which (position, energy, time, ...) is configured
 * from the keys used, as the reference tools (caom2utils ObsBlueprint) do.
 *
 * Two file formats fill one, each its own module: the blueprint text format
 * (blueprint_load.h) and the legacy fits2caom2 .config/.default/.override
 * triple (legacy.h). Both report errors as "FILE:LINE: message". What the
 * three share beyond this contract is in blueprint_int.h.
 */
#ifndef CAOM2INGEST_BLUEPRINT_H
#define CAOM2INGEST_BLUEPRINT_H

#include <stddef.h>

enum bp_kind {
	BP_UNSET = 0,	/* the key is not in the plan */
	BP_LIST,	/* header keywords, first truthy wins, then the default */
	BP_LITERAL,	/* a value */
	BP_NONE,	/* explicitly no value */
	BP_FUNCTION,	/* a collection function "name(args)" in lit, bound as fn */
	BP_TABLE	/* a BINTABLE column: kw[0] in extension table_ext */
};

struct bp_value {
	enum bp_kind	 kind;
	char		**kw;		/* BP_LIST keywords, BP_TABLE column */
	size_t		 nkw;
	char		*def;		/* BP_LIST default or NULL */
	char		*lit;		/* BP_LITERAL text, BP_FUNCTION name(args) */
	int		 table_ext;
	int		 fn;		/* BP_FUNCTION: the bound function's id, -1 until bound */
	unsigned	 seq;		/* insertion order in its plan */
	unsigned	 line;		/* where it was set (0: built in) */
};

/* The axes a blueprint reads from WCS, in the reference's order. */
enum bp_axis {
	BP_AXIS_POSITION,
	BP_AXIS_ENERGY,
	BP_AXIS_TIME,
	BP_AXIS_POLARIZATION,
	BP_AXIS_OBSERVABLE,
	BP_AXIS_CUSTOM,
	BP_NAXES
};

/*
 * The keys by name at compile time, one per line of blueprint_keys.h: the
 * name with each '.' as '_' after BPK_ ("Plane.dataProductType" is
 * BPK_Plane_dataProductType), in the table's (the reference's) order.
 */
enum bp_key_id {
#define BPK(id, name) BPK_##id,
#include "caom/blueprint_keys.h"
#undef BPK
	BP_NKEYS
};
_Static_assert(BP_NKEYS == 195, "the reference tools accept 195 blueprint keys");

struct blueprint;

/* The key of a name read from a file (an enum bp_key_id), or -1 when it is
 * not a blueprint key. */
int bp_key(const char *name);
/* The name of key ("Observation.type"), for messages ("(no key)" for BP_NKEYS). */
const char *bp_key_name(enum bp_key_id key);

/* The reference's default blueprint (OBSID, OBSTYPE, DATE-OBS, RELEASE...). */
struct blueprint *blueprint_new(void);
/* Free a blueprint; NULL is accepted. */
void blueprint_free(struct blueprint *bp);

/*
 * Accept function values in what is loaded into bp from now on (the caller
 * will bind them with bp_bind_functions); without this each one is an error
 * "FILE:LINE: KEY: unknown function get_x (no functions: file is configured)".
 */
void bp_allow_functions(struct blueprint *bp);
/*
 * Bind every function value of the plan and of every extension plan: bind
 * returns the id of call ("get_x(header)") or -1 with *why ("FILE.lua
 * defines no such global", allocated). 0, or -1 with *cause listing each
 * unbound value as "BLUEPRINT:LINE: unknown function get_x (WHY)".
 */
int bp_bind_functions(struct blueprint *bp, int (*bind)(void *arg, const char *call,
    char **why), void *arg, char **cause);
/* Whether bp holds function values (bound or not). */
int bp_has_functions(const struct blueprint *bp);

/* The value for key in HDU ext (extension plan first, then the plan); NULL when
 * unset or when key is not a key (bp_key's -1). */
const struct bp_value *bp_get(const struct blueprint *bp, enum bp_key_id key, int ext);
/* The standard WCS keyword(s) of key ("CTYPE3", "ZNAXIS,NAXIS"), or NULL. */
const char *bp_wcs_std(const struct blueprint *bp, enum bp_key_id key);
/* Whether an axis is configured, and its 1-based WCS index (position: first of two). */
int bp_axis_configured(const struct blueprint *bp, enum bp_axis axis);
/* The number of WCS axes configured (position counts two). */
int bp_configured_axes(const struct blueprint *bp);
/* Whether HDU ext gets a chunk (Chunk = {ignore} says no). */
int bp_has_chunk(const struct blueprint *bp, int ext);
/* The extension numbers with their own plan, ascending; returns the count. */
size_t bp_extensions(const struct blueprint *bp, const int **exts);
/* Plan keys (enum bp_key_id values) in insertion order (ext 0 = the plan);
 * returns the count. Free *keys. */
size_t bp_plan_keys(const struct blueprint *bp, int ext, int **keys);
/* The blueprint in the text format (keys in reference order, then the extension
 * plans), which blueprint_load reads back to the same blueprint. Free the result. */
char *blueprint_dump(const struct blueprint *bp);

#endif
