/*
 * lua_astro.c - the helper library of collection scripts (the global table
 * "caom2"): what the pipelines re-implement each time, with ERFA (the
 * library under astropy's time and coordinate code) so the numbers agree
 * with the reference's astropy to the last digits.
 *
 *   caom2.mjd(date)              ISO/FITS date (or an MJD) -> MJD (UTC)
 *   caom2.iso(mjd [, digits])    MJD -> "YYYY-MM-DDThh:mm:ss.sss" (UTC)
 *   caom2.mjd_from_unix(s)       Unix seconds -> MJD; caom2.unix_from_mjd(mjd) back
 *   caom2.unix(date)             ISO date -> Unix seconds; caom2.iso_from_unix(s)
 *   caom2.time_bounds(start, exposure)  start (date or MJD) + seconds -> mjd, mjd
 *   caom2.ra_deg(text), caom2.dec_deg(text)  sexagesimal hours / degrees -> degrees
 *   caom2.fk5_to_j2000(ra, dec, equinox)     FK5 J-equinox -> FK5 J2000 (degrees)
 *   caom2.geocentric(lat, lon, height)       WGS84 geodetic -> geocentric x, y, z (m)
 *   caom2.prefixed(header, prefix)           values of the keywords starting with prefix
 *   caom2.keys(header [, prefix])            keywords (card order, first of each)
 *   caom2.plane_uri(c, o, p), caom2.observation_uri(c, o)
 *   caom2.add_inputs, caom2.members_from_inputs, caom2.to_derived (in Lua, below)
 *
 * Functions that cannot convert their input return nil and a message.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erfa.h>
#include <erfam.h>

#include "caom/fits.h"
#include "caom/lua_rt_int.h"

#define DJM0		2400000.5	/* JD of MJD 0 */
#define UNIX_MJD	40587.0		/* MJD of 1970-01-01 */

/* The helpers written in Lua over the model API; run with the caom2 table. */
static const char astro_prelude[] =
	"local caom2 = ...\n"
	"function caom2.add_inputs(plane, header, prefix, to_uri)\n"
	"  local n = 0\n"
	"  for _, v in ipairs(caom2.prefixed(header, prefix)) do\n"
	"    local uri = to_uri(v)\n"
	"    if uri ~= nil then\n"
	"      if plane.provenance == nil then\n"
	"        error('caom2.add_inputs: the plane has no provenance (set plane.provenance = "
	"{name = ...} first)', 2)\n"
	"      end\n"
	"      plane.provenance.inputs:add(uri)\n"
	"      n = n + 1\n"
	"    end\n"
	"  end\n"
	"  return n\n"
	"end\n"
	"function caom2.members_from_inputs(obs)\n"
	"  for _, plane in ipairs(obs.planes) do\n"
	"    local p = plane.provenance\n"
	"    if p ~= nil then\n"
	"      for _, uri in ipairs(p.inputs) do\n"
	"        local o = uri:match('^(caom:[^/]+/[^/]+)/[^/]+$')\n"
	"        if o ~= nil then obs.members:add(o) end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"function caom2.to_derived(obs, algorithm)\n"
	"  obs.kind = 'DerivedObservation'\n"
	"  obs.algorithm.name = algorithm or 'composite'\n"
	"end\n";

static int
astro_fail(lua_State *L, const char *fmt, const char *arg)
{
	lua_pushnil(L);
	lua_pushfstring(L, fmt, arg);
	return 2;
}

/* ---- dates ---- */

/* Exactly n digits at *sp. */
static int
digits(const char **sp, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*sp)[i]))
			return -1;
		*v = *v * 10 + ((*sp)[i] - '0');
	}
	*sp += n;
	return 0;
}

/* [T| ]hh:mm[:ss[.f]] at *sp into h, mi, sec (0 when absent). */
static int
parse_clock(const char **sp, int *h, int *mi, double *sec)
{
	const char *s = *sp;
	char *end;

	*h = *mi = 0;
	*sec = 0;
	if (*s != 'T' && *s != ' ')
		return 0;
	s++;
	if (digits(&s, 2, h) == -1 || *s++ != ':' || digits(&s, 2, mi) == -1)
		return -1;
	if (*s == ':') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		*sec = strtod(s, &end);
		s = end;
	}
	*sp = s;
	return 0;
}

/*
 * A date as FITS and astropy write them: YYYY-MM-DD[Thh:mm[:ss[.f]]][Z],
 * the same with a blank for T, YYYY/MM/DD, and the old FITS DD/MM/YY
 * [hh:mm:ss] (19YY). 0, or -1.
 */
static int
parse_date(const char *s, int *y, int *m, int *d, int *h, int *mi, double *sec)
{
	int yy;

	while (isspace((unsigned char)*s))
		s++;
	if (digits(&s, 4, y) == 0 && (*s == '-' || *s == '/')) {
		char sep = *s++;

		if (digits(&s, 2, m) == -1 || *s++ != sep || digits(&s, 2, d) == -1)
			return -1;
	} else {
		if (digits(&s, 2, d) == -1 || *s++ != '/' || digits(&s, 2, m) == -1 ||
		    *s++ != '/' || digits(&s, 2, &yy) == -1)
			return -1;
		*y = 1900 + yy;
	}
	if (parse_clock(&s, h, mi, sec) == -1)
		return -1;
	if (*s == 'Z')
		s++;
	while (isspace((unsigned char)*s))
		s++;
	return *s == '\0' ? 0 : -1;
}

/* The two-part UTC Julian date of the date or MJD at idx; 0, or -1. */
static int
utc_jd(lua_State *L, int idx, double *d1, double *d2)
{
	int y, m, d, h, mi;
	double sec;
	const char *s;

	if (lua_type(L, idx) == LUA_TNUMBER) {
		*d1 = DJM0;
		*d2 = (double)lua_tonumber(L, idx);
		return 0;
	}
	if ((s = lua_tostring(L, idx)) == NULL)
		return -1;
	if (parse_date(s, &y, &m, &d, &h, &mi, &sec) == -1)
		return -1;
	return eraDtf2d("UTC", y, m, d, h, mi, sec, d1, d2) < 0 ? -1 : 0;
}

static int
astro_mjd(lua_State *L)
{
	double d1, d2;

	luaL_checkany(L, 1);
	if (utc_jd(L, 1, &d1, &d2) == -1)
		return astro_fail(L, "caom2.mjd: '%s' is not a date", luaL_tolstring(L, 1, NULL));
	lua_pushnumber(L, (d1 - DJM0) + d2);
	return 1;
}

static int
astro_iso(lua_State *L)
{
	double mjd = luaL_checknumber(L, 1);
	int ndp = (int)luaL_optinteger(L, 2, 3), ihmsf[4], y, m, d;
	char frac[16] = "";

	if (ndp < 0 || ndp > 9)
		return luaL_error(L, "caom2.iso: digits must be 0..9");
	if (eraD2dtf("UTC", ndp, DJM0, mjd, &y, &m, &d, ihmsf) < 0)
		return astro_fail(L, "caom2.iso: %s is out of range", luaL_tolstring(L, 1, NULL));
	if (ndp > 0)
		snprintf(frac, sizeof frac, ".%0*d", ndp, ihmsf[3]);
	lua_pushfstring(L, "%d-%s%d-%s%dT%s%d:%s%d:%s%d%s", y, m < 10 ? "0" : "", m,
	    d < 10 ? "0" : "", d, ihmsf[0] < 10 ? "0" : "", ihmsf[0], ihmsf[1] < 10 ? "0" : "",
	    ihmsf[1], ihmsf[2] < 10 ? "0" : "", ihmsf[2], frac);
	return 1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Unix seconds -> MJD through the civil date, as astropy reads a datetime. */
static int
unix_mjd(double t, double *mjd)
{
	double day = floor(t / 86400), rem = t - day * 86400, d1, d2;
	long long z = (long long)day + 719468, era, doe, yoe, doy, mp, y;
	int m, d, h, mi;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (int)(doy - (153 * mp + 2) / 5 + 1);
	m = (int)(mp < 10 ? mp + 3 : mp - 9);
	y = yoe + era * 400 + (m <= 2);
	h = (int)(rem / 3600);
	mi = (int)((rem - h * 3600) / 60);
	if (eraDtf2d("UTC", (int)y, m, d, h, mi, rem - h * 3600 - mi * 60, &d1, &d2) < 0)
		return -1;
	*mjd = (d1 - DJM0) + d2;
	return 0;
}

static int
astro_mjd_from_unix(lua_State *L)
{
	double mjd;

	if (unix_mjd(luaL_checknumber(L, 1), &mjd) == -1)
		return astro_fail(L, "caom2.mjd_from_unix: %s is out of range",
		    luaL_tolstring(L, 1, NULL));
	lua_pushnumber(L, mjd);
	return 1;
}

/* MJD (UTC) -> Unix seconds; 0 or -1. */
static int
mjd_unix(double mjd, double *t)
{
	int y, m, d, ihmsf[4];

	if (eraD2dtf("UTC", 9, DJM0, mjd, &y, &m, &d, ihmsf) < 0)
		return -1;
	*t = (double)days_from_civil(y, m, d) * 86400 + ihmsf[0] * 3600 + ihmsf[1] * 60 +
	    ihmsf[2] + ihmsf[3] * 1e-9;
	return 0;
}

static int
astro_unix_from_mjd(lua_State *L)
{
	double t;

	if (mjd_unix(luaL_checknumber(L, 1), &t) == -1)
		return astro_fail(L, "caom2.unix_from_mjd: %s is out of range",
		    luaL_tolstring(L, 1, NULL));
	lua_pushnumber(L, t);
	return 1;
}

static int
astro_unix(lua_State *L)
{
	double d1, d2, t;

	luaL_checkany(L, 1);
	if (utc_jd(L, 1, &d1, &d2) == -1 || mjd_unix((d1 - DJM0) + d2, &t) == -1)
		return astro_fail(L, "caom2.unix: '%s' is not a date", luaL_tolstring(L, 1, NULL));
	lua_pushnumber(L, t);
	return 1;
}

static int
astro_iso_from_unix(lua_State *L)
{
	double mjd;

	if (unix_mjd(luaL_checknumber(L, 1), &mjd) == -1)
		return astro_fail(L, "caom2.iso_from_unix: %s is out of range",
		    luaL_tolstring(L, 1, NULL));
	lua_settop(L, 0);
	lua_pushnumber(L, mjd);
	return astro_iso(L);
}

/* start + exposure seconds in TAI, as astropy adds a TimeDelta to a UTC Time. */
static int
astro_time_bounds(lua_State *L)
{
	double d1, d2, t1, t2, u1, u2, exposure;

	luaL_checkany(L, 1);
	exposure = luaL_checknumber(L, 2);
	if (utc_jd(L, 1, &d1, &d2) == -1)
		return astro_fail(L, "caom2.time_bounds: '%s' is not a date",
		    luaL_tolstring(L, 1, NULL));
	if (eraUtctai(d1, d2, &t1, &t2) < 0 || eraTaiutc(t1, t2 + exposure / 86400.0, &u1,
	    &u2) < 0)
		return astro_fail(L, "caom2.time_bounds: '%s' is out of range",
		    luaL_tolstring(L, 1, NULL));
	lua_pushnumber(L, (d1 - DJM0) + d2);
	lua_pushnumber(L, (u1 - DJM0) + u2);
	return 2;
}

/* ---- angles ---- */

/*
 * Sexagesimal "[+-]A[:B[:C]]" (separators ':' or blanks, or the letters
 * h/d, m, s) into sign * (A + B/60 + C/3600) as astropy's hms_to_hours and
 * dms_to_degrees do; a plain number is taken as is. 0, or -1.
 */
static int
sexagesimal(const char *s, double *out)
{
	double v[3] = { 0, 0, 0 }, sign = 1;
	char *end;
	int n = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-' || *s == '+')
		sign = *s++ == '-' ? -1 : 1;
	while (n < 3) {
		while (isspace((unsigned char)*s))
			s++;
		if (!isdigit((unsigned char)*s) && *s != '.')
			break;
		/* Whole numbers by hand (exact, and strtod is most of the cost). */
		for (v[n] = 0, end = (char *)(uintptr_t)s; isdigit((unsigned char)*end) &&
		    end - s < 15; end++)
			v[n] = v[n] * 10 + (*end - '0');
		if (*end == '.' || *end == 'e' || *end == 'E' || isdigit((unsigned char)*end)) {
			v[n] = strtod(s, &end);
			if (end == s)
				return -1;
		}
		n++;
		s = end;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ':' || strchr("hdm'\"s", *s) != NULL) {
			if (*s == '\0')
				break;
			s++;
		}
	}
	while (isspace((unsigned char)*s))
		s++;
	if (n == 0 || *s != '\0' || v[1] >= 60 || v[2] >= 60 || v[1] < 0 || v[2] < 0)
		return -1;
	if (n > 1 && (v[0] != floor(v[0]) || (n > 2 && v[1] != floor(v[1]))))
		return -1;
	*out = sign * (v[0] + v[1] / 60.0 + v[2] / 3600.0);
	return 0;
}

/* astropy's hourangle -> degree factor: (15 deg in radians) / (1 deg in radians), not 15. */
static const double hour_deg = (15.0 * (M_PI / 180.0)) / (M_PI / 180.0);

static int
astro_ra_deg(lua_State *L)
{
	double h;

	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_pushnumber(L, lua_tonumber(L, 1) * hour_deg);
		return 1;
	}
	if (sexagesimal(luaL_checkstring(L, 1), &h) == -1)
		return astro_fail(L, "caom2.ra_deg: '%s' is not a right ascension (hours)",
		    lua_tostring(L, 1));
	lua_pushnumber(L, h * hour_deg);
	return 1;
}

static int
astro_dec_deg(lua_State *L)
{
	double d;

	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_pushnumber(L, lua_tonumber(L, 1));
		return 1;
	}
	if (sexagesimal(luaL_checkstring(L, 1), &d) == -1 || fabs(d) > 90)
		return astro_fail(L, "caom2.dec_deg: '%s' is not a declination (degrees)",
		    lua_tostring(L, 1));
	lua_pushnumber(L, d);
	return 1;
}

/* A Julian epoch: a number, or "J1950", "J1950.5", "1950". */
static int
julian_epoch(lua_State *L, int idx, double *epoch)
{
	const char *s;
	char *end;

	if (lua_type(L, idx) == LUA_TNUMBER) {
		*epoch = lua_tonumber(L, idx);
		return 0;
	}
	if ((s = lua_tostring(L, idx)) == NULL)
		return -1;
	if (*s == 'J' || *s == 'j')
		s++;
	*epoch = strtod(s, &end);
	return end != s && *end == '\0' ? 0 : -1;
}

/* The IAU 2006 precession matrix of a Julian epoch (TT), as astropy's FK5 uses it. */
static void
precession(double epoch, double rp[3][3])
{
	double djm0, djm, rb[3][3], rbp[3][3];

	eraEpj2jd(epoch, &djm0, &djm);
	eraBp06(djm0, djm, rb, rp, rbp);
}

/* The matrix from FK5 at epoch to FK5 J2000, the last one kept per thread (eraBp06 is slow). */
static void
fk5_matrix(double epoch, double m[3][3])
{
	static _Thread_local double last_epoch, last[3][3];
	static _Thread_local int have;
	double from[3][3], to[3][3], fromt[3][3];

	if (!have || last_epoch != epoch) {
		/* astropy: the matrix to J2000 times the transpose of the one to the equinox. */
		precession(epoch, from);
		precession(2000.0, to);
		eraTr(from, fromt);
		eraRxr(to, fromt, last);
		last_epoch = epoch;
		have = 1;
	}
	memcpy(m, last, sizeof last);
}

static int
astro_fk5_to_j2000(lua_State *L)
{
	double ra = luaL_checknumber(L, 1), dec = luaL_checknumber(L, 2), epoch;
	double m[3][3], p[3], q[3], a, b;
	const double d2r = M_PI / 180.0, r2d = 180.0 / M_PI;

	if (julian_epoch(L, 3, &epoch) == -1)
		return astro_fail(L, "caom2.fk5_to_j2000: '%s' is not a Julian equinox",
		    luaL_tolstring(L, 3, NULL));
	fk5_matrix(epoch, m);
	eraS2c(ra * d2r, dec * d2r, p);
	eraRxp(m, p, q);
	eraC2s(q, &a, &b);
	lua_pushnumber(L, eraAnp(a) * r2d);
	lua_pushnumber(L, b * r2d);
	return 2;
}

/*
 * Wrap a longitude in degrees into [wrap - 360, wrap) as astropy's
 * Angle.wrap_at does (only when it must: the rounding is part of the result).
 */
static double
astropy_wrap(double v, double wrap)
{
	double floor_ = wrap - 360.0, wraps = floor((v - floor_) / 360.0);

	if (!isfinite(wraps) || wraps == 0)
		return v;
	v -= wraps * 360.0;
	if (v >= wrap)
		v -= 360.0;
	if (v < floor_)
		v += 360.0;
	return v;
}

static int
astro_geocentric(lua_State *L)
{
	double lat = luaL_checknumber(L, 1), lon = luaL_checknumber(L, 2);
	double height = luaL_checknumber(L, 3), xyz[3];
	const double d2r = M_PI / 180.0;

	/*
	 * EarthLocation.from_geodetic wraps at 180 degrees, then its geodetic
	 * representation holds a Longitude (wrapped at 360) and hands that to gd2gc.
	 */
	lon = astropy_wrap(astropy_wrap(lon, 180.0), 360.0);
	if (eraGd2gc(ERFA_WGS84, lon * d2r, lat * d2r, height, xyz) != 0)
		return astro_fail(L, "caom2.geocentric: latitude %s is out of range",
		    luaL_tolstring(L, 1, NULL));
	lua_pushnumber(L, xyz[0]);
	lua_pushnumber(L, xyz[1]);
	lua_pushnumber(L, xyz[2]);
	return 3;
}

/* ---- headers and URIs ---- */

static int
astro_prefixed(lua_State *L)
{
	const struct fits_hdu *h = lua_rt_check_header(L, 1);
	size_t plen, i;
	const char *prefix = luaL_checklstring(L, 2, &plen);
	lua_Integer n = 0;

	lua_newtable(L);
	for (i = 0; i < h->ncards; i++) {
		if (strncmp(h->cards[i].key, prefix, plen) != 0 || h->cards[i].value == NULL)
			continue;
		lua_rt_push_card(L, &h->cards[i]);
		if (lua_isnil(L, -1))
			lua_pop(L, 1);
		else
			lua_rawseti(L, -2, ++n);
	}
	return 1;
}

static int
astro_keys(lua_State *L)
{
	const struct fits_hdu *h = lua_rt_check_header(L, 1);
	size_t plen = 0, i;
	const char *prefix = luaL_optlstring(L, 2, "", &plen);
	lua_Integer n = 0;

	lua_newtable(L);		/* the result */
	lua_newtable(L);		/* keys seen */
	for (i = 0; i < h->ncards; i++) {
		const char *k = h->cards[i].key;

		if (k[0] == '\0' || strncmp(k, prefix, plen) != 0 || h->cards[i].value == NULL)
			continue;
		if (lua_getfield(L, -1, k) != LUA_TNIL) {
			lua_pop(L, 1);
			continue;
		}
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, k);
		lua_pushstring(L, k);
		lua_rawseti(L, -3, ++n);
	}
	lua_pop(L, 1);
	return 1;
}

static int
astro_plane_uri(lua_State *L)
{
	lua_pushfstring(L, "caom:%s/%s/%s", luaL_checkstring(L, 1), luaL_checkstring(L, 2),
	    luaL_checkstring(L, 3));
	return 1;
}

static int
astro_observation_uri(lua_State *L)
{
	lua_pushfstring(L, "caom:%s/%s", luaL_checkstring(L, 1), luaL_checkstring(L, 2));
	return 1;
}

int
lua_astro_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "mjd", astro_mjd }, { "iso", astro_iso },
		{ "mjd_from_unix", astro_mjd_from_unix }, { "unix_from_mjd", astro_unix_from_mjd },
		{ "unix", astro_unix }, { "iso_from_unix", astro_iso_from_unix },
		{ "time_bounds", astro_time_bounds }, { "ra_deg", astro_ra_deg },
		{ "dec_deg", astro_dec_deg }, { "fk5_to_j2000", astro_fk5_to_j2000 },
		{ "geocentric", astro_geocentric }, { "prefixed", astro_prefixed },
		{ "keys", astro_keys }, { "plane_uri", astro_plane_uri },
		{ "observation_uri", astro_observation_uri }, { NULL, NULL }
	};

	luaL_newlib(L, fns);
	if (luaL_loadbufferx(L, astro_prelude, sizeof astro_prelude - 1, "=caom2", "t") != LUA_OK)
		lua_error(L);
	lua_pushvalue(L, -2);
	lua_call(L, 1, 0);
	return 1;
}
