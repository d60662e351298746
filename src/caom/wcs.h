/*
 * wcs.h - the WCS of one HDU, read with wcslib, as CAOM-2 chunk axes: what
 * the reference's FitsWcsParser makes of a header (caom2utils), before the
 * mapping engine completes it from the blueprint.
 *
 * wcs_map_open parses the header's primary WCS description (wcspih over the
 * header's WCS cards, then wcsfix). Each wcs_map_AXIS call looks for its axis
 * by CTYPE (RA/DEC and the other longitudes and latitudes; FREQ, WAVE...;
 * TIME, UTC...; STOKES; FLUX; RM, FDEP) and, by the reference's rules, sets
 * the chunk's axis index and replaces the chunk's WCS object for that axis
 * with one built from the description; an axis whose length (ZNAXISn, else
 * NAXISn) is missing gets no object. A few values come from the header
 * itself, as the reference reads them: EXPTIME, TIMEDEL, TIMESYS, TREFPOS,
 * MJDREF, and the observable axis's CTYPEn, CUNITn and CRPIXn. The chunk's
 * other axes are left alone.
 *
 * Public names start with wcs_map_: wcslib owns wcs* (wcsini, wcsprm) and
 * defines wcs_ symbols of its own (wcs_errmsg, wcs_celerr), so the module
 * takes a prefix they cannot meet.
 */
#ifndef CAOM2INGEST_WCS_H
#define CAOM2INGEST_WCS_H

struct caom_chunk;
struct fits_hdu;
struct msgbuf;

/* The primary WCS description of one HDU. */
struct wcs_map;

/*
 * The primary WCS description of hdu (NULL accepted), or NULL when it has
 * none. hdu must outlive the result; path names the file in warnings.
 */
struct wcs_map *wcs_map_open(const struct fits_hdu *hdu, const char *path);
/* Free a description; NULL is accepted. */
void wcs_map_close(struct wcs_map *w);

/*
 * The chunk's axes from the description, one call per CAOM axis, all alike
 * so that a caller may keep them in a table. Values that cannot be used are
 * appended to warn as lines ("PATH: HDU n: ...").
 */
void wcs_map_position(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn);
void wcs_map_energy(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn);
void wcs_map_time(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn);
void wcs_map_polarization(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn);
void wcs_map_observable(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn);
void wcs_map_custom(const struct wcs_map *w, struct caom_chunk *ch, struct msgbuf *warn);

#endif
