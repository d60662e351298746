#!/bin/sh
# t/lua-astro.sh - the Lua helper library (caom2.*) against astropy: dates
# to MJD and back, time bounds (across a leap second too), sexagesimal
# angles, FK5 precession to J2000, WGS84 geocentric locations, each within
# a relative 1e-12 of what astropy computes (python3-astropy, test only).
. "$srcdir/t/tap.sh"

eval=$top_builddir/t/lua-eval
script=$srcdir/t/data/lua/astro.lua

plan_lazy
out=$("$eval" "$script" 'iso_values()' 2>&1)
is "2016-05-12T03:04:05.598 2000-01-01T12:00:00 2016-12-31T23:59:60.136 1970-01-01T00:00:00.000 caom2.mjd: 'yesterday' is not a date caom2.ra_deg: '12:61:00' is not a right ascension (hours) 86400.0" \
	"$out" "caom2.iso, iso_from_unix, unix and the messages of bad input"

# Debian's python3 (where python3-astropy is), before any other on PATH.
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import astropy' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
	skip 1 "python3-astropy is not installed (packaging/install-deps installs it)"
	exit 0
fi
"$eval" "$script" 'results()' > "$tmp/lua.txt" 2> "$tmp/err"
is 0 "$?" "the helper library runs: $(cat "$tmp/err")"
"$py" - "$tmp/lua.txt" > "$tmp/check.txt" 2>&1 <<'PY'
import sys, warnings
warnings.simplefilter('ignore')
from datetime import datetime, timezone
from astropy.time import Time, TimeDelta
from astropy.coordinates import SkyCoord, FK5, EarthLocation
from astropy import units as u

def mjd(s):
    return Time(s, scale='utc').mjd

def bounds(start, exposure):
    t = Time(start, format='mjd') if isinstance(start, float) else Time(start)
    return t.mjd, (t + TimeDelta(exposure, format='sec')).mjd

def fk5(ra, dec, eq):
    c = SkyCoord(ra, dec, unit='deg', frame=FK5(equinox=eq)).transform_to(FK5(equinox='J2000'))
    return c.ra.degree, c.dec.degree

def sexa(ra, dec):
    c = SkyCoord(ra, dec, unit=(u.hourangle, u.deg))
    return c.ra.degree, c.dec.degree

def geo(lat, lon, h):
    l = EarthLocation.from_geodetic(lon, lat, h, 'WGS84')
    return l.x.value, l.y.value, l.z.value

unix = datetime.fromtimestamp(1592377201, tz=timezone.utc).replace(tzinfo=None)
t = Time(57520.127842569444, format='mjd')
expected = {
    'mjd_iso': [mjd('2016-05-12T03:04:05.678')],
    'mjd_blank': [mjd('2000-01-01 12:00:00')],
    'mjd_date': [mjd('1995-02-12')],
    'mjd_slash': [Time(datetime.strptime('1995/02/12', '%Y/%m/%d')).mjd],
    'mjd_fits_old': [Time(datetime.strptime('12/02/95', '%d/%m/%y')).mjd],
    'mjd_leap': [mjd('2016-12-31T23:59:60.5')],
    'mjd_unix': [Time(unix).mjd],
    'unix_mjd': [(t.datetime.replace(tzinfo=timezone.utc)).timestamp()],
    'bounds': list(bounds('2016-05-12T03:04:05.678', 1800)),
    'bounds_mjd': list(bounds(57520.5, 0.25)),
    'bounds_leap': list(bounds('2016-12-31T23:50:00', 1200)),
    'ra': [sexa('12:34:56.78', '0:0:0')[0]],
    'ra_blank': [sexa('05 06 07.8', '0 0 0')[0]],
    'dec': [sexa('0:0:0', '-05:06:07.8')[1]],
    'dec_small': [sexa('0:0:0', '-00:30:00')[1]],
    'dec_plus': [sexa('0:0:0', '+48:31:12.5')[1]],
    'fk5_1950': list(fk5(188.73658333333333, -5.102166666666667, 'J1950')),
    'fk5_1975': list(fk5(350.1, 61.2, 'J1975.5')),
    'fk5_2016': list(fk5(0.5, -89.5, 'J2016.4')),
    'fk5_1900': list(fk5(83.63308, 22.0145, 'J1900')),
    'geo_dao12': list(geo(48.52092, -123.42006, 225.0)),
    'geo_omm': list(geo(45.455, -71.1525, 1108)),
    'geo_south': list(geo(-30.1697, -70.8065, 2200)),
}
seen = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    seen[name] = float(value)
bad = 0
for name, values in expected.items():
    for i, want in enumerate(values, 1):
        key = '%s.%d' % (name, i)
        got = seen.get(key)
        tol = 1e-12 * max(abs(want), 1e-3 if name.startswith('unix') else 1.0)
        if got is None or abs(got - want) > tol:
            print('MISMATCH %s: lua %r astropy %r' % (key, got, want))
            bad += 1
        else:
            print('ok %s: %r (astropy %r, diff %.3g)' % (key, got, want, abs(got - want)))
print('checked %d values, %d mismatches' % (sum(len(v) for v in expected.values()), bad))
PY
diag "$(cat "$tmp/check.txt")"
is 0 "$(grep -c '^MISMATCH' "$tmp/check.txt")" "every value within 1e-12 of astropy"
like "$(tail -1 "$tmp/check.txt")" "^checked 36 values" "and all of them were checked"
