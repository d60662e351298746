/*
 * caom.c - the CAOM-2.4 model: field tables, life cycle, sets, UUIDs, dates.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "caom/caom.h"
#include "caom/caom_desc.h"
#include "lib/xmalloc.h"

const char *const caom_energy_bands[] = {
	"Radio", "Millimeter", "Infrared", "Optical", "UV", "EUV", "X-ray", "Gamma-ray", NULL
};

const char *const caom_polarization_states[] = {
	"I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX",
	"POLI", "FPOLI", "EPOLI", "CPOLI", "NPOLI", NULL
};

/* ---- field tables ---- */

#define OFF(f)		offsetof(T, f)
#define HAS(f)		offsetof(T, has_##f)
#define FIELD(x, t, o, a, d, i, xs, ord, fl) { x, t, o, a, d, i, xs, ord, fl }
#define FEND		FIELD(NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0)
#define FSTR(x, f, fl)	FIELD(x, CAOM_F_STRING, OFF(f), CAOM_NOAUX, NULL, NULL, NULL, NULL, fl)
#define FOPT(x, t, f)	FIELD(x, CAOM_F_##t, OFF(f), HAS(f), NULL, NULL, NULL, NULL, 0)
#define FREQ(x, t, f)	FIELD(x, CAOM_F_##t, OFF(f), CAOM_NOAUX, NULL, NULL, NULL, NULL, \
			    CAOM_F_REQUIRED)
#define FSET(x, f, i, o, fl) \
			FIELD(x, CAOM_F_SET, OFF(f), CAOM_NOAUX, NULL, i, NULL, o, fl)
#define FOBJ(x, f, d)	FIELD(x, CAOM_F_OBJ, OFF(f), CAOM_NOAUX, &d, NULL, NULL, NULL, 0)
#define FINL(x, f, d)	FIELD(x, CAOM_F_INLINE, OFF(f), CAOM_NOAUX, &d, NULL, NULL, NULL, \
			    CAOM_F_REQUIRED)
#define FLIST(x, f, i, d) \
			FIELD(x, CAOM_F_LIST, OFF(f), OFF(n##f), &d, i, NULL, NULL, CAOM_F_REQUIRED)
#define FALT(x, f, d, i, xs) \
			FIELD(x, CAOM_F_OBJ, OFF(f), CAOM_NOAUX, &d, i, xs, NULL, 0)
#define FKIDS(x, f, d, i, fl) \
			FIELD(x, CAOM_F_CHILDREN, OFF(f), OFF(n##f), &d, i, NULL, NULL, fl)
#define DESC(n, t, f, e) { n, sizeof(t), e, f, { NULL }, 0 }

static struct caom_desc desc_axis, desc_ref_coord, desc_coord2d, desc_value_coord2d;
static struct caom_desc desc_dimension2d, desc_coord_error, desc_coord_range1d;
static struct caom_desc desc_coord_bounds1d, desc_coord_function1d, desc_coord_axis1d;
static struct caom_desc desc_coord_range2d, desc_coord_circle2d, desc_coord_polygon2d;
static struct caom_desc desc_coord_function2d, desc_coord_axis2d, desc_slice;
static struct caom_desc desc_observable_axis, desc_energy_transition, desc_spatial_wcs;
static struct caom_desc desc_spectral_wcs, desc_temporal_wcs, desc_polarization_wcs;
static struct caom_desc desc_custom_wcs, desc_point, desc_vertex, desc_circle;
static struct caom_desc desc_multi_polygon, desc_polygon, desc_interval;
static struct caom_desc desc_sampled_interval, desc_position, desc_energy, desc_time;
static struct caom_desc desc_polarization, desc_custom_axis, desc_provenance;
static struct caom_desc desc_metrics, desc_observable, desc_data_quality, desc_algorithm;
static struct caom_desc desc_proposal, desc_target, desc_target_position;
static struct caom_desc desc_requirements, desc_telescope, desc_instrument;
static struct caom_desc desc_environment;

#define T struct caom_axis
static const struct caom_field f_axis[] = {
	FSTR("ctype", ctype, CAOM_F_REQUIRED),
	FSTR("cunit", cunit, 0),
	FEND
};
#undef T

#define T struct caom_ref_coord
static const struct caom_field f_ref_coord[] = {
	FREQ("pix", DOUBLE, pix),
	FREQ("val", DOUBLE, val),
	FEND
};
#undef T

#define T struct caom_coord2d
static const struct caom_field f_coord2d[] = {
	FINL("coord1", coord1, desc_ref_coord),
	FINL("coord2", coord2, desc_ref_coord),
	FEND
};
#undef T

#define T struct caom_value_coord2d
static const struct caom_field f_value_coord2d[] = {
	FREQ("coord1", DOUBLE, coord1),
	FREQ("coord2", DOUBLE, coord2),
	FEND
};
#undef T

#define T struct caom_dimension2d
static const struct caom_field f_dimension2d[] = {
	FREQ("naxis1", INT64, naxis1),
	FREQ("naxis2", INT64, naxis2),
	FEND
};
#undef T

#define T struct caom_coord_error
static const struct caom_field f_coord_error[] = {
	FOPT("syser", DOUBLE, syser),
	FOPT("rnder", DOUBLE, rnder),
	FEND
};
#undef T

#define T struct caom_coord_range1d
static const struct caom_field f_coord_range1d[] = {
	FINL("start", start, desc_ref_coord),
	FINL("end", end, desc_ref_coord),
	FEND
};
#undef T

#define T struct caom_coord_bounds1d
static const struct caom_field f_coord_bounds1d[] = {
	FLIST("samples", samples, "range", desc_coord_range1d),
	FEND
};
#undef T

#define T struct caom_coord_function1d
static const struct caom_field f_coord_function1d[] = {
	FREQ("naxis", INT64, naxis),
	FREQ("delta", DOUBLE, delta),
	FINL("refCoord", ref_coord, desc_ref_coord),
	FEND
};
#undef T

#define T struct caom_coord_axis1d
static const struct caom_field f_coord_axis1d[] = {
	FINL("axis", axis, desc_axis),
	FOBJ("error", error, desc_coord_error),
	FOBJ("range", range, desc_coord_range1d),
	FOBJ("bounds", bounds, desc_coord_bounds1d),
	FOBJ("function", function, desc_coord_function1d),
	FEND
};
#undef T

#define T struct caom_coord_range2d
static const struct caom_field f_coord_range2d[] = {
	FINL("start", start, desc_coord2d),
	FINL("end", end, desc_coord2d),
	FEND
};
#undef T

#define T struct caom_coord_circle2d
static const struct caom_field f_coord_circle2d[] = {
	FINL("center", center, desc_value_coord2d),
	FREQ("radius", DOUBLE, radius),
	FEND
};
#undef T

#define T struct caom_coord_polygon2d
static const struct caom_field f_coord_polygon2d[] = {
	FLIST("vertices", vertices, "vertex", desc_value_coord2d),
	FEND
};
#undef T

#define T struct caom_coord_function2d
static const struct caom_field f_coord_function2d[] = {
	FINL("dimension", dimension, desc_dimension2d),
	FINL("refCoord", ref_coord, desc_coord2d),
	FOPT("cd11", DOUBLE, cd11),
	FOPT("cd12", DOUBLE, cd12),
	FOPT("cd21", DOUBLE, cd21),
	FOPT("cd22", DOUBLE, cd22),
	FEND
};
#undef T

#define T struct caom_coord_axis2d
static const struct caom_field f_coord_axis2d[] = {
	FINL("axis1", axis1, desc_axis),
	FINL("axis2", axis2, desc_axis),
	FOBJ("error1", error1, desc_coord_error),
	FOBJ("error2", error2, desc_coord_error),
	FOBJ("range", range, desc_coord_range2d),
	FALT("bounds", bounds_circle, desc_coord_circle2d, "circle", NULL),
	FALT("bounds", bounds_polygon, desc_coord_polygon2d, "polygon", NULL),
	FOBJ("function", function, desc_coord_function2d),
	FEND
};
#undef T

#define T struct caom_slice
static const struct caom_field f_slice[] = {
	FINL("axis", axis, desc_axis),
	FREQ("bin", INT64, bin),
	FEND
};
#undef T

#define T struct caom_observable_axis
static const struct caom_field f_observable_axis[] = {
	FINL("dependent", dependent, desc_slice),
	FOBJ("independent", independent, desc_slice),
	FEND
};
#undef T

#define T struct caom_energy_transition
static const struct caom_field f_energy_transition[] = {
	FSTR("species", species, CAOM_F_REQUIRED),
	FSTR("transition", transition, CAOM_F_REQUIRED),
	FEND
};
#undef T

#define T struct caom_spatial_wcs
static const struct caom_field f_spatial_wcs[] = {
	FINL("axis", axis, desc_coord_axis2d),
	FSTR("coordsys", coordsys, 0),
	FOPT("equinox", DOUBLE, equinox),
	FOPT("resolution", DOUBLE, resolution),
	FEND
};
#undef T

#define T struct caom_spectral_wcs
static const struct caom_field f_spectral_wcs[] = {
	FINL("axis", axis, desc_coord_axis1d),
	FSTR("specsys", specsys, 0),
	FSTR("ssysobs", ssysobs, 0),
	FSTR("ssyssrc", ssyssrc, 0),
	FOPT("restfrq", DOUBLE, restfrq),
	FOPT("restwav", DOUBLE, restwav),
	FOPT("velosys", DOUBLE, velosys),
	FOPT("zsource", DOUBLE, zsource),
	FOPT("velang", DOUBLE, velang),
	FSTR("bandpassName", bandpass_name, 0),
	FOPT("resolvingPower", DOUBLE, resolving_power),
	FOBJ("transition", transition, desc_energy_transition),
	FEND
};
#undef T

#define T struct caom_temporal_wcs
static const struct caom_field f_temporal_wcs[] = {
	FINL("axis", axis, desc_coord_axis1d),
	FSTR("timesys", timesys, 0),
	FSTR("trefpos", trefpos, 0),
	FOPT("mjdref", DOUBLE, mjdref),
	FOPT("exposure", DOUBLE, exposure),
	FOPT("resolution", DOUBLE, resolution),
	FEND
};
#undef T

#define T struct caom_polarization_wcs
static const struct caom_field f_polarization_wcs[] = {
	FINL("axis", axis, desc_coord_axis1d),
	FEND
};
#undef T

#define T struct caom_custom_wcs
static const struct caom_field f_custom_wcs[] = {
	FINL("axis", axis, desc_coord_axis1d),
	FEND
};
#undef T

#define T struct caom_point
static const struct caom_field f_point[] = {
	FREQ("cval1", DOUBLE, cval1),
	FREQ("cval2", DOUBLE, cval2),
	FEND
};
#undef T

#define T struct caom_vertex
static const struct caom_field f_vertex[] = {
	FREQ("cval1", DOUBLE, cval1),
	FREQ("cval2", DOUBLE, cval2),
	FREQ("type", INT32, type),
	FEND
};
#undef T

#define T struct caom_circle
static const struct caom_field f_circle[] = {
	FINL("center", center, desc_point),
	FREQ("radius", DOUBLE, radius),
	FEND
};
#undef T

#define T struct caom_multi_polygon
static const struct caom_field f_multi_polygon[] = {
	FLIST("vertices", vertices, "vertex", desc_vertex),
	FEND
};
#undef T

#define T struct caom_polygon
static const struct caom_field f_polygon[] = {
	FLIST("points", points, "point", desc_point),
	FINL("samples", samples, desc_multi_polygon),
	FEND
};
#undef T

#define T struct caom_interval
static const struct caom_field f_interval[] = {
	FREQ("lower", DOUBLE, lower),
	FREQ("upper", DOUBLE, upper),
	FEND
};
#undef T

#define T struct caom_sampled_interval
static const struct caom_field f_sampled_interval[] = {
	FREQ("lower", DOUBLE, lower),
	FREQ("upper", DOUBLE, upper),
	FLIST("samples", samples, "sample", desc_interval),
	FEND
};
#undef T

#define T struct caom_position
static const struct caom_field f_position[] = {
	FALT("bounds", bounds_circle, desc_circle, NULL, "Circle"),
	FALT("bounds", bounds_polygon, desc_polygon, NULL, "Polygon"),
	FOBJ("dimension", dimension, desc_dimension2d),
	FOPT("resolution", DOUBLE, resolution),
	FOBJ("resolutionBounds", resolution_bounds, desc_interval),
	FOPT("sampleSize", DOUBLE, sample_size),
	FOPT("timeDependent", BOOL, time_dependent),
	FEND
};
#undef T

#define T struct caom_energy
static const struct caom_field f_energy[] = {
	FOBJ("bounds", bounds, desc_sampled_interval),
	FOPT("dimension", INT64, dimension),
	FOPT("resolvingPower", DOUBLE, resolving_power),
	FOBJ("resolvingPowerBounds", resolving_power_bounds, desc_interval),
	FOPT("sampleSize", DOUBLE, sample_size),
	FSTR("bandpassName", bandpass_name, 0),
	FSET("energyBands", energy_bands, "emBand", caom_energy_bands, 0),
	FSET("emBand", energy_bands, NULL, caom_energy_bands, CAOM_F_READONLY),
	FOPT("restwav", DOUBLE, restwav),
	FOBJ("transition", transition, desc_energy_transition),
	FEND
};
#undef T

#define T struct caom_time
static const struct caom_field f_time[] = {
	FOBJ("bounds", bounds, desc_sampled_interval),
	FOPT("dimension", INT64, dimension),
	FOPT("resolution", DOUBLE, resolution),
	FOBJ("resolutionBounds", resolution_bounds, desc_interval),
	FOPT("sampleSize", DOUBLE, sample_size),
	FOPT("exposure", DOUBLE, exposure),
	FEND
};
#undef T

#define T struct caom_polarization
static const struct caom_field f_polarization[] = {
	FSET("states", states, "state", caom_polarization_states, 0),
	FOPT("dimension", INT64, dimension),
	FEND
};
#undef T

#define T struct caom_custom_axis
static const struct caom_field f_custom_axis[] = {
	FSTR("ctype", ctype, CAOM_F_REQUIRED),
	FOBJ("bounds", bounds, desc_sampled_interval),
	FOPT("dimension", INT64, dimension),
	FEND
};
#undef T

#define T struct caom_provenance
static const struct caom_field f_provenance[] = {
	FSTR("name", name, CAOM_F_REQUIRED),
	FSTR("version", version, 0),
	FSTR("project", project, 0),
	FSTR("producer", producer, 0),
	FSTR("runID", run_id, 0),
	FSTR("reference", reference, 0),
	FOPT("lastExecuted", DATE, last_executed),
	FSET("keywords", keywords, "keyword", NULL, 0),
	FSET("inputs", inputs, "planeURI", NULL, 0),
	FEND
};
#undef T

#define T struct caom_metrics
static const struct caom_field f_metrics[] = {
	FOPT("sourceNumberDensity", DOUBLE, source_number_density),
	FOPT("background", DOUBLE, background),
	FOPT("backgroundStddev", DOUBLE, background_stddev),
	FOPT("fluxDensityLimit", DOUBLE, flux_density_limit),
	FOPT("magLimit", DOUBLE, mag_limit),
	FOPT("sampleSNR", DOUBLE, sample_snr),
	FEND
};
#undef T

#define T struct caom_observable
static const struct caom_field f_observable[] = {
	FSTR("ucd", ucd, CAOM_F_REQUIRED),
	FEND
};
#undef T

#define T struct caom_data_quality
static const struct caom_field f_data_quality[] = {
	FSTR("flag", flag, CAOM_F_REQUIRED),
	FEND
};
#undef T

#define T struct caom_algorithm
static const struct caom_field f_algorithm[] = {
	FSTR("name", name, CAOM_F_REQUIRED),
	FEND
};
#undef T

#define T struct caom_proposal
static const struct caom_field f_proposal[] = {
	FSTR("id", id, CAOM_F_REQUIRED),
	FSTR("pi", pi, 0),
	FSTR("project", project, 0),
	FSTR("title", title, 0),
	FSET("keywords", keywords, "keyword", NULL, 0),
	FEND
};
#undef T

#define T struct caom_target
static const struct caom_field f_target[] = {
	FSTR("name", name, CAOM_F_REQUIRED),
	FSTR("targetID", target_id, 0),
	FSTR("type", type, 0),
	FOPT("standard", BOOL, standard),
	FOPT("redshift", DOUBLE, redshift),
	FOPT("moving", BOOL, moving),
	FSET("keywords", keywords, "keyword", NULL, 0),
	FEND
};
#undef T

#define T struct caom_target_position
static const struct caom_field f_target_position[] = {
	FSTR("coordsys", coordsys, CAOM_F_REQUIRED),
	FOPT("equinox", DOUBLE, equinox),
	FINL("coordinates", coordinates, desc_point),
	FEND
};
#undef T

#define T struct caom_requirements
static const struct caom_field f_requirements[] = {
	FSTR("flag", flag, CAOM_F_REQUIRED),
	FEND
};
#undef T

#define T struct caom_telescope
static const struct caom_field f_telescope[] = {
	FSTR("name", name, CAOM_F_REQUIRED),
	FOPT("geoLocationX", DOUBLE, geo_location_x),
	FOPT("geoLocationY", DOUBLE, geo_location_y),
	FOPT("geoLocationZ", DOUBLE, geo_location_z),
	FSET("keywords", keywords, "keyword", NULL, 0),
	FEND
};
#undef T

#define T struct caom_instrument
static const struct caom_field f_instrument[] = {
	FSTR("name", name, CAOM_F_REQUIRED),
	FSET("keywords", keywords, "keyword", NULL, 0),
	FEND
};
#undef T

#define T struct caom_environment
static const struct caom_field f_environment[] = {
	FOPT("seeing", DOUBLE, seeing),
	FOPT("humidity", DOUBLE, humidity),
	FOPT("elevation", DOUBLE, elevation),
	FOPT("tau", DOUBLE, tau),
	FOPT("wavelengthTau", DOUBLE, wavelength_tau),
	FOPT("ambientTemp", DOUBLE, ambient_temp),
	FOPT("photometric", BOOL, photometric),
	FEND
};
#undef T

#define T struct caom_chunk
static const struct caom_field f_chunk[] = {
	FSTR("productType", product_type, 0),
	FOPT("naxis", INT32, naxis),
	FOPT("observableAxis", INT32, observable_axis),
	FOPT("positionAxis1", INT32, position_axis1),
	FOPT("positionAxis2", INT32, position_axis2),
	FOPT("energyAxis", INT32, energy_axis),
	FOPT("timeAxis", INT32, time_axis),
	FOPT("polarizationAxis", INT32, polarization_axis),
	FOPT("customAxis", INT32, custom_axis),
	FOBJ("observable", observable, desc_observable_axis),
	FOBJ("position", position, desc_spatial_wcs),
	FOBJ("energy", energy, desc_spectral_wcs),
	FOBJ("time", time, desc_temporal_wcs),
	FOBJ("polarization", polarization, desc_polarization_wcs),
	FOBJ("custom", custom, desc_custom_wcs),
	FEND
};
#undef T

#define T struct caom_part
static const struct caom_field f_part[] = {
	FSTR("name", name, CAOM_F_REQUIRED),
	FSTR("productType", product_type, 0),
	FKIDS("chunks", chunks, caom_desc_chunk, "chunk", CAOM_F_ALWAYS),
	FEND
};
#undef T

#define T struct caom_artifact
static const struct caom_field f_artifact[] = {
	FSTR("uri", uri, CAOM_F_REQUIRED),
	FSTR("productType", product_type, CAOM_F_REQUIRED),
	FSTR("releaseType", release_type, CAOM_F_REQUIRED),
	FOPT("contentRelease", DATE, content_release),
	FSET("contentReadGroups", content_read_groups, "groupURI", NULL, 0),
	FSTR("contentType", content_type, 0),
	FOPT("contentLength", INT64, content_length),
	FSTR("contentChecksum", content_checksum, 0),
	FKIDS("parts", parts, caom_desc_part, "part", CAOM_F_ALWAYS),
	FEND
};
#undef T

#define T struct caom_plane
static const struct caom_field f_plane[] = {
	FSTR("productID", product_id, CAOM_F_REQUIRED),
	FSTR("creatorID", creator_id, 0),
	FOPT("metaRelease", DATE, meta_release),
	FSET("metaReadGroups", meta_read_groups, "groupURI", NULL, 0),
	FOPT("dataRelease", DATE, data_release),
	FSET("dataReadGroups", data_read_groups, "groupURI", NULL, 0),
	FSTR("dataProductType", data_product_type, 0),
	FOPT("calibrationLevel", INT32, calibration_level),
	FOBJ("provenance", provenance, desc_provenance),
	FOBJ("observable", observable, desc_observable),
	FOBJ("metrics", metrics, desc_metrics),
	FOBJ("quality", quality, desc_data_quality),
	FOBJ("position", position, desc_position),
	FOBJ("energy", energy, desc_energy),
	FOBJ("time", time, desc_time),
	FOBJ("polarization", polarization, desc_polarization),
	FOBJ("custom", custom, desc_custom_axis),
	FKIDS("artifacts", artifacts, caom_desc_artifact, "artifact", CAOM_F_ALWAYS),
	FEND
};
#undef T

#define T struct caom_observation
static const struct caom_field f_observation[] = {
	FSTR("collection", collection, CAOM_F_REQUIRED),
	FSTR("observationID", observation_id, CAOM_F_REQUIRED),
	FOPT("metaRelease", DATE, meta_release),
	FSET("metaReadGroups", meta_read_groups, "groupURI", NULL, 0),
	FOPT("sequenceNumber", INT32, sequence_number),
	FINL("algorithm", algorithm, desc_algorithm),
	FSTR("type", type, 0),
	FSTR("intent", intent, 0),
	FOBJ("proposal", proposal, desc_proposal),
	FOBJ("target", target, desc_target),
	FOBJ("targetPosition", target_position, desc_target_position),
	FOBJ("requirements", requirements, desc_requirements),
	FOBJ("telescope", telescope, desc_telescope),
	FOBJ("instrument", instrument, desc_instrument),
	FOBJ("environment", environment, desc_environment),
	FKIDS("planes", planes, caom_desc_plane, "plane", 0),
	FSET("members", members, "observationURI", NULL, CAOM_F_DERIVED),
	FEND
};
#undef T

static struct caom_desc desc_axis = DESC("Axis", struct caom_axis, f_axis, 0);
static struct caom_desc desc_ref_coord = DESC("RefCoord", struct caom_ref_coord, f_ref_coord, 0);
static struct caom_desc desc_coord2d = DESC("Coord2D", struct caom_coord2d, f_coord2d, 0);
static struct caom_desc desc_value_coord2d =
    DESC("ValueCoord2D", struct caom_value_coord2d, f_value_coord2d, 0);
static struct caom_desc desc_dimension2d =
    DESC("Dimension2D", struct caom_dimension2d, f_dimension2d, 0);
static struct caom_desc desc_coord_error =
    DESC("CoordError", struct caom_coord_error, f_coord_error, 0);
static struct caom_desc desc_coord_range1d =
    DESC("CoordRange1D", struct caom_coord_range1d, f_coord_range1d, 0);
static struct caom_desc desc_coord_bounds1d =
    DESC("CoordBounds1D", struct caom_coord_bounds1d, f_coord_bounds1d, 0);
static struct caom_desc desc_coord_function1d =
    DESC("CoordFunction1D", struct caom_coord_function1d, f_coord_function1d, 0);
static struct caom_desc desc_coord_axis1d =
    DESC("CoordAxis1D", struct caom_coord_axis1d, f_coord_axis1d, 0);
static struct caom_desc desc_coord_range2d =
    DESC("CoordRange2D", struct caom_coord_range2d, f_coord_range2d, 0);
static struct caom_desc desc_coord_circle2d =
    DESC("CoordCircle2D", struct caom_coord_circle2d, f_coord_circle2d, 0);
static struct caom_desc desc_coord_polygon2d =
    DESC("CoordPolygon2D", struct caom_coord_polygon2d, f_coord_polygon2d, 0);
static struct caom_desc desc_coord_function2d =
    DESC("CoordFunction2D", struct caom_coord_function2d, f_coord_function2d, 0);
static struct caom_desc desc_coord_axis2d =
    DESC("CoordAxis2D", struct caom_coord_axis2d, f_coord_axis2d, 0);
static struct caom_desc desc_slice = DESC("Slice", struct caom_slice, f_slice, 0);
static struct caom_desc desc_observable_axis =
    DESC("ObservableAxis", struct caom_observable_axis, f_observable_axis, 0);
static struct caom_desc desc_energy_transition =
    DESC("EnergyTransition", struct caom_energy_transition, f_energy_transition, 0);
static struct caom_desc desc_spatial_wcs =
    DESC("SpatialWCS", struct caom_spatial_wcs, f_spatial_wcs, 0);
static struct caom_desc desc_spectral_wcs =
    DESC("SpectralWCS", struct caom_spectral_wcs, f_spectral_wcs, 0);
static struct caom_desc desc_temporal_wcs =
    DESC("TemporalWCS", struct caom_temporal_wcs, f_temporal_wcs, 0);
static struct caom_desc desc_polarization_wcs =
    DESC("PolarizationWCS", struct caom_polarization_wcs, f_polarization_wcs, 0);
static struct caom_desc desc_custom_wcs =
    DESC("CustomWCS", struct caom_custom_wcs, f_custom_wcs, 0);
static struct caom_desc desc_point = DESC("Point", struct caom_point, f_point, 0);
static struct caom_desc desc_vertex = DESC("Vertex", struct caom_vertex, f_vertex, 0);
static struct caom_desc desc_circle = DESC("Circle", struct caom_circle, f_circle, 0);
static struct caom_desc desc_multi_polygon =
    DESC("MultiPolygon", struct caom_multi_polygon, f_multi_polygon, 0);
static struct caom_desc desc_polygon = DESC("Polygon", struct caom_polygon, f_polygon, 0);
static struct caom_desc desc_interval = DESC("Interval", struct caom_interval, f_interval, 0);
static struct caom_desc desc_sampled_interval =
    DESC("SampledInterval", struct caom_sampled_interval, f_sampled_interval, 0);
static struct caom_desc desc_position = DESC("Position", struct caom_position, f_position, 0);
static struct caom_desc desc_energy = DESC("Energy", struct caom_energy, f_energy, 0);
static struct caom_desc desc_time = DESC("Time", struct caom_time, f_time, 0);
static struct caom_desc desc_polarization =
    DESC("Polarization", struct caom_polarization, f_polarization, 0);
static struct caom_desc desc_custom_axis =
    DESC("CustomAxis", struct caom_custom_axis, f_custom_axis, 0);
static struct caom_desc desc_provenance =
    DESC("Provenance", struct caom_provenance, f_provenance, 0);
static struct caom_desc desc_metrics = DESC("Metrics", struct caom_metrics, f_metrics, 0);
static struct caom_desc desc_observable =
    DESC("Observable", struct caom_observable, f_observable, 0);
static struct caom_desc desc_data_quality =
    DESC("DataQuality", struct caom_data_quality, f_data_quality, 0);
static struct caom_desc desc_algorithm =
    DESC("Algorithm", struct caom_algorithm, f_algorithm, 0);
static struct caom_desc desc_proposal = DESC("Proposal", struct caom_proposal, f_proposal, 0);
static struct caom_desc desc_target = DESC("Target", struct caom_target, f_target, 0);
static struct caom_desc desc_target_position =
    DESC("TargetPosition", struct caom_target_position, f_target_position, 0);
static struct caom_desc desc_requirements =
    DESC("Requirements", struct caom_requirements, f_requirements, 0);
static struct caom_desc desc_telescope =
    DESC("Telescope", struct caom_telescope, f_telescope, 0);
static struct caom_desc desc_instrument =
    DESC("Instrument", struct caom_instrument, f_instrument, 0);
static struct caom_desc desc_environment =
    DESC("Environment", struct caom_environment, f_environment, 0);
struct caom_desc caom_desc_chunk = DESC("Chunk", struct caom_chunk, f_chunk, 1);
struct caom_desc caom_desc_part = DESC("Part", struct caom_part, f_part, 1);
struct caom_desc caom_desc_artifact = DESC("Artifact", struct caom_artifact, f_artifact, 1);
struct caom_desc caom_desc_plane = DESC("Plane", struct caom_plane, f_plane, 1);
struct caom_desc caom_desc_observation =
    DESC("Observation", struct caom_observation, f_observation, 1);

static struct caom_desc *const caom_all_descs[] = {
	&desc_axis, &desc_ref_coord, &desc_coord2d, &desc_value_coord2d, &desc_dimension2d,
	&desc_coord_error, &desc_coord_range1d, &desc_coord_bounds1d, &desc_coord_function1d,
	&desc_coord_axis1d, &desc_coord_range2d, &desc_coord_circle2d, &desc_coord_polygon2d,
	&desc_coord_function2d, &desc_coord_axis2d, &desc_slice, &desc_observable_axis,
	&desc_energy_transition, &desc_spatial_wcs, &desc_spectral_wcs, &desc_temporal_wcs,
	&desc_polarization_wcs, &desc_custom_wcs, &desc_point, &desc_vertex, &desc_circle,
	&desc_multi_polygon, &desc_polygon, &desc_interval, &desc_sampled_interval,
	&desc_position, &desc_energy, &desc_time, &desc_polarization, &desc_custom_axis,
	&desc_provenance, &desc_metrics, &desc_observable, &desc_data_quality, &desc_algorithm,
	&desc_proposal, &desc_target, &desc_target_position, &desc_requirements,
	&desc_telescope, &desc_instrument, &desc_environment, &caom_desc_chunk,
	&caom_desc_part, &caom_desc_artifact, &caom_desc_plane, &caom_desc_observation,
	NULL
};

/* ---- generic helpers over the tables ---- */

static pthread_once_t caom_desc_once = PTHREAD_ONCE_INIT;

static void
caom_desc_sort(struct caom_desc *d)
{
	const struct caom_field *f;
	size_t i, n = 0;

	for (f = d->fields; f->name != NULL; f++) {
		if (f->type == CAOM_F_CHILDREN || (f->flags & CAOM_F_READONLY))
			continue;
		if (n == CAOM_DESC_MAX)
			abort();
		/* Insertion sort: stable, so alternatives keep their order. */
		for (i = n++; i > 0 && strcmp(d->sorted[i - 1]->name, f->name) > 0; i--)
			d->sorted[i] = d->sorted[i - 1];
		d->sorted[i] = f;
	}
	d->nsorted = n;
}

static void
caom_desc_init_all(void)
{
	size_t i;

	for (i = 0; caom_all_descs[i] != NULL; i++)
		caom_desc_sort(caom_all_descs[i]);
}

void
caom_desc_init(void)
{
	pthread_once(&caom_desc_once, caom_desc_init_all);
}

void *
caom_desc_getptr(const void *obj, size_t off)
{
	void *p;

	memcpy(&p, (const char *)obj + off, sizeof p);
	return p;
}

void
caom_desc_setptr(void *obj, size_t off, void *p)
{
	memcpy((char *)obj + off, &p, sizeof p);
}

size_t
caom_desc_count(const void *obj, size_t aux)
{
	return *(const size_t *)(const void *)((const char *)obj + aux);
}

int
caom_desc_isset(const struct caom_field *f, const void *obj)
{
	if (f->aux == CAOM_NOAUX)
		return 1;
	return *(const int *)(const void *)((const char *)obj + f->aux) != 0;
}

static void
caom_desc_free_obj(const struct caom_desc *d, void *obj)
{
	if (obj == NULL)
		return;
	caom_desc_clear(d, obj);
	free(obj);
}

static void
caom_desc_clear_array(const struct caom_field *f, void *obj)
{
	char *arr = caom_desc_getptr(obj, f->off);
	size_t i, n = caom_desc_count(obj, f->aux);

	for (i = 0; i < n; i++) {
		if (f->type == CAOM_F_LIST)
			caom_desc_clear(f->desc, arr + i * f->desc->size);
		else
			caom_desc_free_obj(f->desc, caom_desc_getptr(arr, i * sizeof(void *)));
	}
	free(arr);
}

static void
caom_desc_clear_field(const struct caom_field *f, void *obj)
{
	char *p = (char *)obj + f->off;

	switch (f->type) {
	case CAOM_F_STRING:
		free(caom_desc_getptr(obj, f->off));
		break;
	case CAOM_F_SET:
		caom_strlist_clear((struct caom_strlist *)(void *)p);
		break;
	case CAOM_F_OBJ:
		caom_desc_free_obj(f->desc, caom_desc_getptr(obj, f->off));
		break;
	case CAOM_F_INLINE:
		caom_desc_clear(f->desc, p);
		break;
	case CAOM_F_LIST:
	case CAOM_F_CHILDREN:
		caom_desc_clear_array(f, obj);
		break;
	default:
		break;
	}
}

void
caom_desc_clear(const struct caom_desc *d, void *obj)
{
	const struct caom_field *f;

	if (d->entity)
		free(((struct caom_entity *)obj)->meta_producer);
	for (f = d->fields; f->name != NULL; f++) {
		if (!(f->flags & CAOM_F_READONLY))
			caom_desc_clear_field(f, obj);
	}
}

/* ---- scalar text ---- */

/* s without XML white space at both ends, copied into buf; -1 when too long. */
static int
caom_trim(const char *s, char *buf, size_t size)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
	    s[n - 1] == '\r'))
		n--;
	if (n == 0 || n >= size)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

static int
caom_parse_double(const char *s, double *v)
{
	char *end;

	if (strpbrk(s, "xX") != NULL)
		return -1;
	errno = 0;
	*v = strtod(s, &end);
	if (*end != '\0' || (errno != 0 && errno != ERANGE))
		return -1;
	if (isnan(*v))
		*v = NAN;	/* one NaN: payloads and signs do not survive the text */
	return 0;
}

static int
caom_parse_int64(const char *s, int64_t *v)
{
	long long ll;
	char *end;

	errno = 0;
	ll = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*v = ll;
	return 0;
}

static int
caom_parse_bool(const char *s, int *v)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "T") == 0)
		*v = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcmp(s, "F") == 0)
		*v = 0;
	else
		return -1;
	return 0;
}

/* Parse text t for scalar field f into p; 0 or -1. */
static int
caom_parse_scalar(const struct caom_field *f, const char *t, void *p)
{
	char buf[64];
	int64_t i64;

	if (caom_trim(t, buf, sizeof buf) == -1)
		return -1;
	switch (f->type) {
	case CAOM_F_DOUBLE:
		return caom_parse_double(buf, p);
	case CAOM_F_INT32:
		if (caom_parse_int64(buf, &i64) == -1 || i64 < INT32_MIN || i64 > INT32_MAX)
			return -1;
		*(int *)p = (int)i64;
		return 0;
	case CAOM_F_INT64:
		return caom_parse_int64(buf, p);
	case CAOM_F_BOOL:
		return caom_parse_bool(buf, p);
	case CAOM_F_DATE:
		return caom_date_parse(buf, p);
	default:
		return -1;
	}
}

int
caom_desc_parse(const struct caom_field *f, const char *text, void *obj)
{
	if (f->type == CAOM_F_STRING) {
		free(caom_desc_getptr(obj, f->off));
		caom_desc_setptr(obj, f->off, xstrdup(text));
		return 0;
	}
	if (f->type == CAOM_F_SET) {
		caom_strlist_add_ranked((struct caom_strlist *)(void *)((char *)obj + f->off),
		    text, f->order);
		return 0;
	}
	if (caom_parse_scalar(f, text, (char *)obj + f->off) == -1)
		return -1;
	if (f->aux != CAOM_NOAUX)
		*(int *)(void *)((char *)obj + f->aux) = 1;
	return 0;
}

const char *
caom_desc_type_name(enum caom_ftype t)
{
	static const char *const names[] = {
		"string", "double", "integer", "long", "boolean", "date", "set", "object",
		"object", "list", "children"
	};

	return names[t];
}

/* ---- optional value objects ---- */

#define CAOM_DEFINE_VALUE(t) \
	struct caom_##t * \
	caom_##t##_new(void) \
	{ \
		return xcalloc(1, sizeof(struct caom_##t)); \
	} \
	void \
	caom_##t##_free(struct caom_##t *p) \
	{ \
		caom_desc_free_obj(&desc_##t, p); \
	}
CAOM_VALUE_TYPES(CAOM_DEFINE_VALUE)
#undef CAOM_DEFINE_VALUE

void
caom_coord_axis1d_clear(struct caom_coord_axis1d *a)
{
	caom_desc_clear(&desc_coord_axis1d, a);
	memset(a, 0, sizeof *a);
}

void
caom_coord_axis2d_clear(struct caom_coord_axis2d *a)
{
	caom_desc_clear(&desc_coord_axis2d, a);
	memset(a, 0, sizeof *a);
}

/* ---- entities ---- */

static void *
caom_entity_new(size_t size)
{
	struct caom_entity *e = xcalloc(1, size);

	caom_uuid_generate(e->id);
	return e;
}

struct caom_observation *
caom_observation_new(enum caom_obs_kind kind, const char *collection,
    const char *observation_id)
{
	struct caom_observation *obs = caom_entity_new(sizeof *obs);

	obs->kind = kind;
	obs->collection = xstrdup(collection);
	obs->observation_id = xstrdup(observation_id);
	return obs;
}

void
caom_observation_free(struct caom_observation *obs)
{
	caom_desc_free_obj(&caom_desc_observation, obs);
}

struct caom_plane *
caom_plane_new(const char *product_id)
{
	struct caom_plane *plane = caom_entity_new(sizeof *plane);

	plane->product_id = xstrdup(product_id);
	return plane;
}

void
caom_plane_free(struct caom_plane *plane)
{
	caom_desc_free_obj(&caom_desc_plane, plane);
}

struct caom_artifact *
caom_artifact_new(const char *uri)
{
	struct caom_artifact *artifact = caom_entity_new(sizeof *artifact);

	artifact->uri = xstrdup(uri);
	return artifact;
}

void
caom_artifact_free(struct caom_artifact *artifact)
{
	caom_desc_free_obj(&caom_desc_artifact, artifact);
}

struct caom_part *
caom_part_new(const char *name)
{
	struct caom_part *part = caom_entity_new(sizeof *part);

	part->name = xstrdup(name);
	return part;
}

void
caom_part_free(struct caom_part *part)
{
	caom_desc_free_obj(&caom_desc_part, part);
}

struct caom_chunk *
caom_chunk_new(void)
{
	return caom_entity_new(sizeof(struct caom_chunk));
}

void
caom_chunk_free(struct caom_chunk *chunk)
{
	caom_desc_free_obj(&caom_desc_chunk, chunk);
}

static long
caom_plane_index(const struct caom_observation *obs, const char *product_id)
{
	size_t i;

	for (i = 0; i < obs->nplanes; i++) {
		if (obs->planes[i]->product_id != NULL &&
		    strcmp(obs->planes[i]->product_id, product_id) == 0)
			return (long)i;
	}
	return -1;
}

struct caom_plane *
caom_observation_find_plane(const struct caom_observation *obs, const char *product_id)
{
	long i = caom_plane_index(obs, product_id);

	return i < 0 ? NULL : obs->planes[i];
}

struct caom_plane *
caom_observation_add_plane(struct caom_observation *obs, const char *product_id)
{
	struct caom_plane *plane;

	if ((plane = caom_observation_find_plane(obs, product_id)) != NULL)
		return plane;
	plane = caom_plane_new(product_id);
	obs->planes = xreallocarray(obs->planes, obs->nplanes + 1, sizeof *obs->planes);
	obs->planes[obs->nplanes++] = plane;
	return plane;
}

static long
caom_artifact_index(const struct caom_plane *plane, const char *uri)
{
	size_t i;

	for (i = 0; i < plane->nartifacts; i++) {
		if (plane->artifacts[i]->uri != NULL &&
		    strcmp(plane->artifacts[i]->uri, uri) == 0)
			return (long)i;
	}
	return -1;
}

struct caom_artifact *
caom_plane_find_artifact(const struct caom_plane *plane, const char *uri)
{
	long i = caom_artifact_index(plane, uri);

	return i < 0 ? NULL : plane->artifacts[i];
}

struct caom_artifact *
caom_plane_add_artifact(struct caom_plane *plane, const char *uri)
{
	struct caom_artifact *artifact;

	if ((artifact = caom_plane_find_artifact(plane, uri)) != NULL)
		return artifact;
	artifact = caom_artifact_new(uri);
	plane->artifacts = xreallocarray(plane->artifacts, plane->nartifacts + 1,
	    sizeof *plane->artifacts);
	plane->artifacts[plane->nartifacts++] = artifact;
	return artifact;
}

static long
caom_part_index(const struct caom_artifact *artifact, const char *name)
{
	size_t i;

	for (i = 0; i < artifact->nparts; i++) {
		if (artifact->parts[i]->name != NULL &&
		    strcmp(artifact->parts[i]->name, name) == 0)
			return (long)i;
	}
	return -1;
}

struct caom_part *
caom_artifact_find_part(const struct caom_artifact *artifact, const char *name)
{
	long i = caom_part_index(artifact, name);

	return i < 0 ? NULL : artifact->parts[i];
}

struct caom_part *
caom_artifact_add_part(struct caom_artifact *artifact, const char *name)
{
	struct caom_part *part;

	if ((part = caom_artifact_find_part(artifact, name)) != NULL)
		return part;
	part = caom_part_new(name);
	artifact->parts = xreallocarray(artifact->parts, artifact->nparts + 1,
	    sizeof *artifact->parts);
	artifact->parts[artifact->nparts++] = part;
	return part;
}

struct caom_chunk *
caom_part_add_chunk(struct caom_part *part)
{
	struct caom_chunk *chunk = caom_chunk_new();

	part->chunks = xreallocarray(part->chunks, part->nchunks + 1, sizeof *part->chunks);
	part->chunks[part->nchunks++] = chunk;
	return chunk;
}

void
caom_part_clear_chunks(struct caom_part *part)
{
	size_t i;

	for (i = 0; i < part->nchunks; i++)
		caom_chunk_free(part->chunks[i]);
	free(part->chunks);
	part->chunks = NULL;
	part->nchunks = 0;
}

/* ---- sets ---- */

/* Rank of s in order: its index, or past the end for unknown values. */
static size_t
caom_rank(const char *s, const char *const *order)
{
	size_t i;

	for (i = 0; order[i] != NULL; i++) {
		if (strcmp(order[i], s) == 0)
			return i;
	}
	return i;
}

static int
caom_strlist_cmp(const char *a, const char *b, const char *const *order)
{
	size_t ra, rb;

	if (order != NULL) {
		ra = caom_rank(a, order);
		rb = caom_rank(b, order);
		if (ra != rb)
			return ra < rb ? -1 : 1;
	}
	return strcmp(a, b);
}

/* Binary search: index where s is or would go; *found set when present. */
static size_t
caom_strlist_search(const struct caom_strlist *l, const char *s, const char *const *order,
    int *found)
{
	size_t lo = 0, hi = l->n, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = caom_strlist_cmp(l->v[mid], s, order);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
caom_strlist_add_ranked(struct caom_strlist *l, const char *s, const char *const *order)
{
	size_t i;
	int found;

	i = caom_strlist_search(l, s, order, &found);
	if (found)
		return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof *l->v);
	l->v[i] = xstrdup(s);
	l->n++;
}

void
caom_strlist_add(struct caom_strlist *l, const char *s)
{
	caom_strlist_add_ranked(l, s, NULL);
}

int
caom_strlist_has(const struct caom_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], s) == 0)
			return 1;
	}
	return 0;
}

void
caom_strlist_clear(struct caom_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- UUIDs ---- */

static void
caom_random(uint8_t *buf, size_t len)
{
	ssize_t n;
	int fd;

	while (len > 0) {
		n = getrandom(buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf += n;
		len -= (size_t)n;
	}
	if (len == 0)
		return;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1 ||
	    read(fd, buf, len) != (ssize_t)len)
		abort();
	close(fd);
}

void
caom_uuid_generate(uint8_t id[16])
{
	caom_random(id, 16);
	id[6] = (id[6] & 0x0f) | 0x40;
	id[8] = (id[8] & 0x3f) | 0x80;
}

void
caom_uuid_format(const uint8_t id[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	char *p = out;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[id[i] >> 4];
		*p++ = hex[id[i] & 0xf];
	}
	*p = '\0';
}

int
caom_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
caom_uuid_parse(const char *s, uint8_t id[16])
{
	size_t i, pos = 0;
	int hi, lo;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (s[pos++] != '-')
				return -1;
		}
		if ((hi = caom_hexval((unsigned char)s[pos])) < 0 ||
		    (lo = caom_hexval((unsigned char)s[pos + 1])) < 0)
			return -1;
		id[i] = (uint8_t)(hi << 4 | lo);
		pos += 2;
	}
	return s[pos] == '\0' ? 0 : -1;
}

/* ---- dates ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
caom_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The civil date of a day count from 1970-01-01. */
static void
caom_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

void
caom_date_format(int64_t ms, char out[32])
{
	int64_t days, rem, y;
	int m, d;

	days = ms / 86400000;
	rem = ms % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	caom_civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%03d", (long long)y, m, d,
	    (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
	    (int)(rem % 1000));
}

/* Number of days in month m of year y. */
static int
caom_month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (m == 2 && leap);
}

/* Parse exactly n digits at *sp into *v, advancing *sp; 0 or -1. */
static int
caom_digits(const char **sp, int n, int *v)
{
	const char *s = *sp;
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	*sp = s + n;
	return 0;
}

/* Parse the optional [T ]HH:mm:ss[.fff] part into ms of the day; 0 or -1. */
static int
caom_date_time(const char **sp, int64_t *ms)
{
	const char *s = *sp;
	int h, mi, sec, frac = 0, scale = 100, c;

	*ms = 0;
	if (*s != 'T' && *s != ' ')
		return 0;
	s++;
	if (caom_digits(&s, 2, &h) == -1 || *s++ != ':' || caom_digits(&s, 2, &mi) == -1 ||
	    *s++ != ':' || caom_digits(&s, 2, &sec) == -1)
		return -1;
	if (h > 23 || mi > 59 || sec > 60)
		return -1;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10) {
			c = *s - '0';
			frac += c * scale;
		}
	}
	*ms = ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac;
	*sp = s;
	return 0;
}

int
caom_date_parse(const char *s, int64_t *ms)
{
	int y, m, d;
	int64_t tod;

	if (caom_digits(&s, 4, &y) == -1 || *s++ != '-' || caom_digits(&s, 2, &m) == -1 ||
	    *s++ != '-' || caom_digits(&s, 2, &d) == -1)
		return -1;
	if (m < 1 || m > 12 || d < 1 || d > caom_month_days(y, m))
		return -1;
	if (caom_date_time(&s, &tod) == -1)
		return -1;
	if (*s == 'Z')
		s++;
	if (*s != '\0')
		return -1;
	*ms = caom_days_from_civil(y, m, d) * 86400000 + tod;
	return 0;
}
