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

struct map_input {
	const char		*product_id;	/* the plane */
	const char		*uri;		/* the artifact */
	struct fits_file	*fits;		/* headers (modified), NULL: not FITS */
	const char		*path;		/* the local file (BINTABLE columns), or NULL */
	const struct blueprint	*bp;
};

/* SimpleObservation, or DerivedObservation when the blueprint names members. */
enum caom_obs_kind map_observation_kind(const struct blueprint *bp);

/*
 * Augment obs with one file. Warnings (values that could not be used) are
 * appended to *warnings as lines (may be NULL). 0, or -1 with *cause.
 */
int map_augment(struct caom_observation *obs, const struct map_input *in, char **warnings,
    char **cause);

#endif
