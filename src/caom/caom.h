/*
 * caom.h - the CAOM-2.4 model in C (see shared/reference/caom/xsd/CAOM-2.4.xsd).
 *
 * Conventions (uniform over every struct here):
 *   - Field names are the XSD/Java names in snake_case (observationID ->
 *     observation_id, positionAxis1 -> position_axis1, sampleSNR -> sample_snr).
 *   - Strings and URIs: char * (xstrdup'ed, owned); NULL means absent.
 *   - Optional scalars: a value plus an int flag named has_<field>, e.g.
 *     "double equinox; int has_equinox;". The value means nothing unless the
 *     flag is non-zero. Doubles are double, 32-bit ints (sequenceNumber,
 *     calibrationLevel, Chunk.naxis and the *Axis indices, vertex type) int,
 *     64-bit ints (contentLength, naxis1/2, CoordFunction1D.naxis, Slice.bin,
 *     plane dimensions) int64_t, booleans int (0/1).
 *   - Required scalars (XSD minOccurs=1: RefCoord.pix/val, Dimension2D.naxis1/2,
 *     CoordFunction1D.naxis/delta, Slice.bin, ...) have no flag.
 *   - Dates: int64_t milliseconds since 1970-01-01T00:00:00 UTC (+ has_ flag).
 *   - Required sub-objects are embedded by value (CoordAxis1D.axis,
 *     RefCoord inside ranges and functions, SpatialWCS.axis, ...); optional
 *     sub-objects are pointers, NULL when absent, allocated with the matching
 *     caom_<type>_new() (or xcalloc) and released by caom_<type>_free();
 *     the embedded axes are emptied by caom_coord_axis1d/2d_clear().
 *   - Sets (keywords, read groups, provenance inputs, members, energy bands,
 *     polarization states) are struct caom_strlist, kept sorted and unique:
 *     strings lexically, enumerations (energy bands, Stokes states) in
 *     declaration order. Always add through caom_strlist_add*().
 *   - Lists of value objects are an array of structs plus a count
 *     (e.g. "struct caom_coord_range1d *samples; size_t nsamples;").
 *   - Child entities are arrays of pointers plus a count, in insertion order
 *     (planes, artifacts, parts, chunks); use the find/add helpers below.
 *   - Every entity starts with struct caom_entity (UUID, lastModified,
 *     maxLastModified, checksums, metaProducer). _new() gives a random UUID.
 *   - Every _free() accepts NULL and frees everything reachable.
 */
#ifndef CAOM2INGEST_CAOM_H
#define CAOM2INGEST_CAOM_H

#include <stddef.h>
#include <stdint.h>

/* A sorted, duplicate-free set of strings. */
struct caom_strlist {
	char		**v;
	size_t		  n;
};

/* Enumeration orders for the ranked sets (NULL-terminated). */
extern const char *const caom_energy_bands[];
extern const char *const caom_polarization_states[];

/* ---- WCS value objects ---- */

struct caom_axis {
	char		*ctype;		/* required */
	char		*cunit;
};

struct caom_ref_coord {
	double		 pix;
	double		 val;
};

struct caom_coord2d {
	struct caom_ref_coord coord1;
	struct caom_ref_coord coord2;
};

struct caom_value_coord2d {
	double		 coord1;
	double		 coord2;
};

struct caom_dimension2d {
	int64_t		 naxis1;
	int64_t		 naxis2;
};

struct caom_coord_error {
	double		 syser;
	int		 has_syser;
	double		 rnder;
	int		 has_rnder;
};

struct caom_coord_range1d {
	struct caom_ref_coord start;
	struct caom_ref_coord end;
};

struct caom_coord_bounds1d {
	struct caom_coord_range1d *samples;
	size_t		 nsamples;
};

struct caom_coord_function1d {
	int64_t		 naxis;
	double		 delta;
	struct caom_ref_coord ref_coord;
};

struct caom_coord_axis1d {
	struct caom_axis axis;
	struct caom_coord_error *error;
	struct caom_coord_range1d *range;
	struct caom_coord_bounds1d *bounds;
	struct caom_coord_function1d *function;
};

struct caom_coord_range2d {
	struct caom_coord2d start;
	struct caom_coord2d end;
};

struct caom_coord_circle2d {
	struct caom_value_coord2d center;
	double		 radius;
};

struct caom_coord_polygon2d {
	struct caom_value_coord2d *vertices;
	size_t		 nvertices;
};

struct caom_coord_function2d {
	struct caom_dimension2d dimension;
	struct caom_coord2d ref_coord;
	double		 cd11;
	int		 has_cd11;
	double		 cd12;
	int		 has_cd12;
	double		 cd21;
	int		 has_cd21;
	double		 cd22;
	int		 has_cd22;
};

struct caom_coord_axis2d {
	struct caom_axis axis1;
	struct caom_axis axis2;
	struct caom_coord_error *error1;
	struct caom_coord_error *error2;
	struct caom_coord_range2d *range;
	/* CoordBounds2D: at most one of these two is set. */
	struct caom_coord_circle2d *bounds_circle;
	struct caom_coord_polygon2d *bounds_polygon;
	struct caom_coord_function2d *function;
};

struct caom_slice {
	struct caom_axis axis;
	int64_t		 bin;
};

struct caom_observable_axis {
	struct caom_slice dependent;
	struct caom_slice *independent;
};

struct caom_energy_transition {
	char		*species;	/* required */
	char		*transition;	/* required */
};

struct caom_spatial_wcs {
	struct caom_coord_axis2d axis;
	char		*coordsys;
	double		 equinox;
	int		 has_equinox;
	double		 resolution;
	int		 has_resolution;
};

struct caom_spectral_wcs {
	struct caom_coord_axis1d axis;
	char		*specsys;	/* required in 2.4 */
	char		*ssysobs;
	char		*ssyssrc;
	double		 restfrq;
	int		 has_restfrq;
	double		 restwav;
	int		 has_restwav;
	double		 velosys;
	int		 has_velosys;
	double		 zsource;
	int		 has_zsource;
	double		 velang;
	int		 has_velang;
	char		*bandpass_name;
	double		 resolving_power;
	int		 has_resolving_power;
	struct caom_energy_transition *transition;
};

struct caom_temporal_wcs {
	struct caom_coord_axis1d axis;
	char		*timesys;
	char		*trefpos;
	double		 mjdref;
	int		 has_mjdref;
	double		 exposure;
	int		 has_exposure;
	double		 resolution;
	int		 has_resolution;
};

struct caom_polarization_wcs {
	struct caom_coord_axis1d axis;
};

struct caom_custom_wcs {
	struct caom_coord_axis1d axis;
};

/* ---- Plane computed (and observation) value objects ---- */

struct caom_point {
	double		 cval1;
	double		 cval2;
};

struct caom_vertex {
	double		 cval1;
	double		 cval2;
	int		 type;		/* 0 move, 1 line, 2 close */
};

struct caom_circle {
	struct caom_point center;
	double		 radius;
};

struct caom_multi_polygon {
	struct caom_vertex *vertices;
	size_t		 nvertices;
};

struct caom_polygon {
	struct caom_point *points;
	size_t		 npoints;
	struct caom_multi_polygon samples;
};

struct caom_interval {
	double		 lower;
	double		 upper;
};

struct caom_sampled_interval {
	double		 lower;
	double		 upper;
	struct caom_interval *samples;
	size_t		 nsamples;
};

struct caom_position {
	/* Shape: at most one of these two is set (xsi:type Circle/Polygon). */
	struct caom_circle *bounds_circle;
	struct caom_polygon *bounds_polygon;
	struct caom_dimension2d *dimension;
	double		 resolution;
	int		 has_resolution;
	struct caom_interval *resolution_bounds;
	double		 sample_size;
	int		 has_sample_size;
	int		 time_dependent;
	int		 has_time_dependent;
};

struct caom_energy {
	struct caom_sampled_interval *bounds;
	int64_t		 dimension;
	int		 has_dimension;
	double		 resolving_power;
	int		 has_resolving_power;
	struct caom_interval *resolving_power_bounds;
	double		 sample_size;
	int		 has_sample_size;
	char		*bandpass_name;
	struct caom_strlist energy_bands;	/* ranked by caom_energy_bands */
	double		 restwav;
	int		 has_restwav;
	struct caom_energy_transition *transition;
};

struct caom_time {
	struct caom_sampled_interval *bounds;
	int64_t		 dimension;
	int		 has_dimension;
	double		 resolution;
	int		 has_resolution;
	struct caom_interval *resolution_bounds;
	double		 sample_size;
	int		 has_sample_size;
	double		 exposure;
	int		 has_exposure;
};

struct caom_polarization {
	struct caom_strlist states;	/* ranked by caom_polarization_states */
	int64_t		 dimension;
	int		 has_dimension;
};

struct caom_custom_axis {
	char		*ctype;		/* required */
	struct caom_sampled_interval *bounds;
	int64_t		 dimension;
	int		 has_dimension;
};

struct caom_provenance {
	char		*name;		/* required */
	char		*version;
	char		*project;
	char		*producer;
	char		*run_id;
	char		*reference;
	int64_t		 last_executed;
	int		 has_last_executed;
	struct caom_strlist keywords;
	struct caom_strlist inputs;	/* plane URIs */
};

struct caom_metrics {
	double		 source_number_density;
	int		 has_source_number_density;
	double		 background;
	int		 has_background;
	double		 background_stddev;
	int		 has_background_stddev;
	double		 flux_density_limit;
	int		 has_flux_density_limit;
	double		 mag_limit;
	int		 has_mag_limit;
	double		 sample_snr;
	int		 has_sample_snr;
};

struct caom_observable {
	char		*ucd;		/* required */
};

struct caom_data_quality {
	char		*flag;		/* required: "junk" */
};

struct caom_algorithm {
	char		*name;		/* required */
};

struct caom_proposal {
	char		*id;		/* required */
	char		*pi;
	char		*project;
	char		*title;
	struct caom_strlist keywords;
};

struct caom_target {
	char		*name;		/* required */
	char		*target_id;
	char		*type;		/* "object" | "field" */
	int		 standard;
	int		 has_standard;
	double		 redshift;
	int		 has_redshift;
	int		 moving;
	int		 has_moving;
	struct caom_strlist keywords;
};

struct caom_target_position {
	char		*coordsys;	/* required */
	double		 equinox;
	int		 has_equinox;
	struct caom_point coordinates;
};

struct caom_requirements {
	char		*flag;		/* required: "fail" */
};

struct caom_telescope {
	char		*name;		/* required */
	double		 geo_location_x;
	int		 has_geo_location_x;
	double		 geo_location_y;
	int		 has_geo_location_y;
	double		 geo_location_z;
	int		 has_geo_location_z;
	struct caom_strlist keywords;
};

struct caom_instrument {
	char		*name;		/* required */
	struct caom_strlist keywords;
};

struct caom_environment {
	double		 seeing;
	int		 has_seeing;
	double		 humidity;
	int		 has_humidity;
	double		 elevation;
	int		 has_elevation;
	double		 tau;
	int		 has_tau;
	double		 wavelength_tau;
	int		 has_wavelength_tau;
	double		 ambient_temp;
	int		 has_ambient_temp;
	int		 photometric;
	int		 has_photometric;
};

/* ---- Entities ---- */

struct caom_entity {
	uint8_t		 id[16];			/* UUID, big-endian bytes */
	int64_t		 last_modified;			/* ms since 1970 UTC */
	int		 has_last_modified;
	int64_t		 max_last_modified;
	int		 has_max_last_modified;
	uint8_t		 meta_checksum[16];		/* raw MD5 */
	int		 has_meta_checksum;
	uint8_t		 acc_meta_checksum[16];
	int		 has_acc_meta_checksum;
	char		*meta_producer;			/* URI or NULL */
};

struct caom_chunk {
	struct caom_entity ent;
	char		*product_type;
	int		 naxis;
	int		 has_naxis;
	int		 observable_axis;
	int		 has_observable_axis;
	int		 position_axis1;
	int		 has_position_axis1;
	int		 position_axis2;
	int		 has_position_axis2;
	int		 energy_axis;
	int		 has_energy_axis;
	int		 time_axis;
	int		 has_time_axis;
	int		 polarization_axis;
	int		 has_polarization_axis;
	int		 custom_axis;
	int		 has_custom_axis;
	struct caom_observable_axis *observable;
	struct caom_spatial_wcs *position;
	struct caom_spectral_wcs *energy;
	struct caom_temporal_wcs *time;
	struct caom_polarization_wcs *polarization;
	struct caom_custom_wcs *custom;
};

struct caom_part {
	struct caom_entity ent;
	char		*name;		/* required */
	char		*product_type;
	struct caom_chunk **chunks;
	size_t		 nchunks;
};

struct caom_artifact {
	struct caom_entity ent;
	char		*uri;		/* required */
	char		*product_type;	/* required */
	char		*release_type;	/* required: "data" | "meta" */
	int64_t		 content_release;
	int		 has_content_release;
	struct caom_strlist content_read_groups;
	char		*content_type;
	int64_t		 content_length;
	int		 has_content_length;
	char		*content_checksum;	/* URI, e.g. "md5:..." */
	struct caom_part **parts;
	size_t		 nparts;
};

struct caom_plane {
	struct caom_entity ent;
	char		*product_id;	/* required */
	char		*creator_id;
	int64_t		 meta_release;
	int		 has_meta_release;
	struct caom_strlist meta_read_groups;
	int64_t		 data_release;
	int		 has_data_release;
	struct caom_strlist data_read_groups;
	char		*data_product_type;
	int		 calibration_level;
	int		 has_calibration_level;
	struct caom_provenance *provenance;
	struct caom_observable *observable;
	struct caom_metrics *metrics;
	struct caom_data_quality *quality;
	struct caom_position *position;
	struct caom_energy *energy;
	struct caom_time *time;
	struct caom_polarization *polarization;
	struct caom_custom_axis *custom;
	struct caom_artifact **artifacts;
	size_t		 nartifacts;
};

enum caom_obs_kind {
	CAOM_OBS_SIMPLE,
	CAOM_OBS_DERIVED	/* 2.3's CompositeObservation reads as this */
};

struct caom_observation {
	struct caom_entity ent;
	enum caom_obs_kind kind;
	char		*collection;		/* required */
	char		*observation_id;	/* required */
	int64_t		 meta_release;
	int		 has_meta_release;
	struct caom_strlist meta_read_groups;
	int		 sequence_number;
	int		 has_sequence_number;
	struct caom_algorithm algorithm;	/* name required */
	char		*type;
	char		*intent;		/* "science" | "calibration" */
	struct caom_proposal *proposal;
	struct caom_target *target;
	struct caom_target_position *target_position;
	struct caom_requirements *requirements;
	struct caom_telescope *telescope;
	struct caom_instrument *instrument;
	struct caom_environment *environment;
	struct caom_plane **planes;
	size_t		 nplanes;
	struct caom_strlist members;		/* observation URIs (derived only) */
};

/* ---- Entities: life cycle and navigation ---- */

/* New observation with a random UUID; collection/observation_id may be NULL. */
struct caom_observation *caom_observation_new(enum caom_obs_kind kind, const char *collection,
    const char *observation_id);
/* Free an observation and everything under it; NULL is accepted. */
void caom_observation_free(struct caom_observation *obs);
/* New plane with a random UUID. */
struct caom_plane *caom_plane_new(const char *product_id);
/* Free a plane and its artifacts; NULL is accepted. */
void caom_plane_free(struct caom_plane *plane);
/* New artifact with a random UUID (product/release type left NULL). */
struct caom_artifact *caom_artifact_new(const char *uri);
/* Free an artifact and its parts; NULL is accepted. */
void caom_artifact_free(struct caom_artifact *artifact);
/* New part with a random UUID. */
struct caom_part *caom_part_new(const char *name);
/* Free a part and its chunks; NULL is accepted. */
void caom_part_free(struct caom_part *part);
/* New empty chunk with a random UUID. */
struct caom_chunk *caom_chunk_new(void);
/* Free a chunk; NULL is accepted. */
void caom_chunk_free(struct caom_chunk *chunk);

/* The plane with this productID, or NULL. */
struct caom_plane *caom_observation_find_plane(const struct caom_observation *obs,
    const char *product_id);
/* The plane with this productID, appended (new UUID) when absent. */
struct caom_plane *caom_observation_add_plane(struct caom_observation *obs,
    const char *product_id);
/* The artifact with this URI, or NULL. */
struct caom_artifact *caom_plane_find_artifact(const struct caom_plane *plane, const char *uri);
/* The artifact with this URI, appended when absent. */
struct caom_artifact *caom_plane_add_artifact(struct caom_plane *plane, const char *uri);
/* The part with this name, or NULL. */
struct caom_part *caom_artifact_find_part(const struct caom_artifact *artifact, const char *name);
/* The part with this name, appended when absent. */
struct caom_part *caom_artifact_add_part(struct caom_artifact *artifact, const char *name);
/* Append a new empty chunk to a part. */
struct caom_chunk *caom_part_add_chunk(struct caom_part *part);
/* Free all chunks of a part. */
void caom_part_clear_chunks(struct caom_part *part);

/* ---- Optional value objects: zeroed _new() and deep _free() (NULL accepted) ---- */

#define CAOM_VALUE_TYPES(X) \
	X(coord_error) X(coord_range1d) X(coord_bounds1d) X(coord_function1d) \
	X(coord_range2d) X(coord_circle2d) X(coord_polygon2d) X(coord_function2d) \
	X(slice) X(observable_axis) X(energy_transition) X(spatial_wcs) \
	X(spectral_wcs) X(temporal_wcs) X(polarization_wcs) X(custom_wcs) \
	X(circle) X(polygon) X(interval) X(sampled_interval) X(dimension2d) \
	X(position) X(energy) X(time) X(polarization) X(custom_axis) \
	X(provenance) X(metrics) X(observable) X(data_quality) X(proposal) \
	X(target) X(target_position) X(requirements) X(telescope) X(instrument) \
	X(environment)

#define CAOM_DECLARE_VALUE(t) \
	struct caom_##t *caom_##t##_new(void); \
	void caom_##t##_free(struct caom_##t *);
CAOM_VALUE_TYPES(CAOM_DECLARE_VALUE)
#undef CAOM_DECLARE_VALUE

/* ---- Embedded value objects ---- */

/* Free what a CoordAxis1D holds (axis, error, range, bounds, function) and zero it. */
void caom_coord_axis1d_clear(struct caom_coord_axis1d *a);
/* Free what a CoordAxis2D holds (axes, errors, range, bounds, function) and zero it. */
void caom_coord_axis2d_clear(struct caom_coord_axis2d *a);

/* ---- Sets ---- */

/* Add s to a lexically sorted set (no-op when present). */
void caom_strlist_add(struct caom_strlist *l, const char *s);
/* Add s to a set ranked by order (unknown values sort last, lexically). */
void caom_strlist_add_ranked(struct caom_strlist *l, const char *s, const char *const *order);
/* True when s is in the set. */
int caom_strlist_has(const struct caom_strlist *l, const char *s);
/* Empty the set. */
void caom_strlist_clear(struct caom_strlist *l);

/* ---- UUIDs and dates ---- */

/* Fill id with a random (version 4) UUID. */
void caom_uuid_generate(uint8_t id[16]);
/* The value of a hexadecimal digit, or -1. */
int caom_hexval(int c);
/* Format id as 36 lower-case characters plus NUL. */
void caom_uuid_format(const uint8_t id[16], char out[37]);
/* Parse a UUID in 8-4-4-4-12 hex form; 0 or -1. */
int caom_uuid_parse(const char *s, uint8_t id[16]);
/* Format ms since 1970 as yyyy-MM-ddTHH:mm:ss.SSS (UTC) plus NUL. */
void caom_date_format(int64_t ms, char out[32]);
/* Parse yyyy-MM-dd[(T| )HH:mm:ss[.f...]][Z] as UTC; 0 or -1. */
int caom_date_parse(const char *s, int64_t *ms);

#endif
