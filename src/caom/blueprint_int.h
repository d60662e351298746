/*
 * blueprint_int.h - what the blueprint (blueprint.c) and its two file
 * formats (blueprint_load.c, legacy.c) share beyond blueprint.h: a plan's
 * values to edit, and the axis configuration and guessing the formats ask
 * for. Those three files only include it (t/layers.sh checks).
 */
#ifndef CAOM2INGEST_BLUEPRINT_INT_H
#define CAOM2INGEST_BLUEPRINT_INT_H

#include <stddef.h>

#include "caom/blueprint.h"

struct msgbuf;

/* A plan: the blueprint's own (HDU 0 and the default for every HDU) or an
 * extension's. A value's kind is BP_UNSET when the plan does not have it. */
struct bp_plan {
	struct bp_value	 v[BP_NKEYS];
	unsigned	 next_seq;	/* the seq of the next key set */
};

/* Free a value's strings and zero it. */
void bp_value_clear(struct bp_value *v);
/* Add keyword kw to a value's list, at the front when front is set. */
void bp_value_add_kw(struct bp_value *v, const char *kw, int front);
/* Whether kw is in a value's list. */
int bp_value_has_kw(const struct bp_value *v, const char *kw);

/* The plan for HDU ext (0: the blueprint's), created when create is set; NULL
 * when there is none and create is not set. */
struct bp_plan *bp_plan_for(struct blueprint *bp, int ext, int create);
/* Put v (taken; zeroed) into p at key, keeping the key's place when it is set. */
void bp_plan_put(struct bp_plan *p, enum bp_key_id key, struct bp_value *v);

/*
 * Configure an axis on WCS axis a (position: x and y) unless it is
 * configured already: its standard keywords, and with override also its keys
 * in the plan (the legacy format does; the text format only guesses).
 */
void bp_configure_position(struct blueprint *bp, int x, int y, int override);
void bp_configure_energy(struct blueprint *bp, int a, int override);
void bp_configure_time(struct blueprint *bp, int a, int override);
/* Polarization, observable or custom. */
void bp_configure_simple(struct blueprint *bp, enum bp_axis axis, int a, int override);
/* Configure the axes the plan's keys imply (_guess_axis_info); what cannot be
 * is added to e as "file[:LINE]: message". */
void bp_guess_axes(struct blueprint *bp, const char *file, struct msgbuf *e);

/* Whether function values may be loaded (bp_allow_functions). */
int bp_functions_allowed(const struct blueprint *bp);
/* Remember the file bp was loaded from (for bp_bind_functions' messages). */
void bp_set_source(struct blueprint *bp, const char *name);

/* n bytes of s without leading and trailing white space (allocated). */
char *bp_strip_dup(const char *s, size_t n);

#endif
