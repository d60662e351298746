-- t/data/lua/astro.lua: the helper library's numbers, one "name value" line
-- each, for t/lua-astro.sh to check against astropy.
local out = {}
local function put(name, ...)
  local v = {...}
  for i = 1, select('#', ...) do
    out[#out + 1] = string.format('%s.%d %.17g', name, i, v[i])
  end
end

function results()
  put('mjd_iso', caom2.mjd('2016-05-12T03:04:05.678'))
  put('mjd_blank', caom2.mjd('2000-01-01 12:00:00'))
  put('mjd_date', caom2.mjd('1995-02-12'))
  put('mjd_slash', caom2.mjd('1995/02/12'))
  put('mjd_fits_old', caom2.mjd('12/02/95'))
  put('mjd_leap', caom2.mjd('2016-12-31T23:59:60.5'))
  put('mjd_unix', caom2.mjd_from_unix(1592377201))
  put('unix_mjd', caom2.unix_from_mjd(57520.127842569444))
  put('bounds', caom2.time_bounds('2016-05-12T03:04:05.678', 1800))
  put('bounds_mjd', caom2.time_bounds(57520.5, 0.25))
  put('bounds_leap', caom2.time_bounds('2016-12-31T23:50:00', 1200))
  put('ra', caom2.ra_deg('12:34:56.78'))
  put('ra_blank', caom2.ra_deg('05 06 07.8'))
  put('dec', caom2.dec_deg('-05:06:07.8'))
  put('dec_small', caom2.dec_deg('-00:30:00'))
  put('dec_plus', caom2.dec_deg('+48:31:12.5'))
  put('fk5_1950', caom2.fk5_to_j2000(188.73658333333333, -5.102166666666667, 1950))
  put('fk5_1975', caom2.fk5_to_j2000(350.1, 61.2, 'J1975.5'))
  put('fk5_2016', caom2.fk5_to_j2000(0.5, -89.5, 2016.4))
  put('fk5_1900', caom2.fk5_to_j2000(83.63308, 22.0145, 1900))
  put('geo_dao12', caom2.geocentric(48.52092, -123.42006, 225.0))
  put('geo_omm', caom2.geocentric(45.455, -71.1525, 1108))
  put('geo_south', caom2.geocentric(-30.1697, -70.8065, 2200))
  return table.concat(out, '\n')
end

function iso_values()
  return table.concat({caom2.iso(57520.127842569444), caom2.iso(51544.5, 0),
    caom2.iso(57753.99999), caom2.iso_from_unix(0),
    tostring(select(2, caom2.mjd('yesterday'))), tostring(select(2, caom2.ra_deg('12:61:00'))),
    tostring(caom2.unix('1970-01-02'))}, ' ')
end
