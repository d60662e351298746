/*
 * map.h - the mapping engine: FITS headers + blueprint -> CAOM-2 observation.
 *
 * The semantics are the reference tools' (caom2utils FitsParser and
 * FitsWcsParser): the blueprint is first applied to the headers (standard
 * WCS keywords overridden, defaults filled in), then each CAOM attribute is
 * read from its keyword list (HDU 0 for Observation/Plane/Artifact, each
 * HDU for its Chunk), and every data HDU's WCS is interpreted with wcslib
 * (wcs.h) and completed from the blueprint. Existing values survive when the
 * headers say nothing (augment semantics); other planes and artifacts of
 * the observation are left alone.
 */
#ifndef CAOM2INGEST_MAP_H
#define CAOM2INGEST_MAP_H

#include "caom/blueprint.h"
#include "caom/caom.h"
#include "caom/fits.h"

struct lua_rt_session;

struct map_input {
	const char		*product_id;	/* the plane */
	const char		*uri;		/* the artifact */
	struct fits_file	*fits;		/* headers (modified), NULL: not FITS */
	const char		*path;		/* the local file (BINTABLE columns), or NULL */
	const struct blueprint	*bp;		/* its function values bound (bp_bind_functions) */
	struct lua_rt_session	*lua;		/* calls them (lua_rt.h); NULL: none */
};

/* SimpleObservation, or DerivedObservation when the blueprint names members. */
enum caom_obs_kind map_observation_kind(const struct blueprint *bp);

/*
 * Augment obs with one file. A function value is called (lua_rt_call) with
 * ctx.ext the HDU its key is read for (0 for the Observation, Plane and
 * Artifact keys); nil is an absent keyword, a string of an enumerated
 * attribute is checked (lua_rt_check_enum), and a Lua error (or a function
 * value with no session) fails the mapping naming the key and the function.
 * Warnings (values that could not be used) are
 * appended to *warnings as lines (may be NULL). 0, or -1 with *cause.
 */
int map_augment(struct caom_observation *obs, const struct map_input *in, char **warnings,
    char **cause);

#endif
