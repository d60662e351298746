#!/bin/sh
# t/map-lua.sh - `caom2ingest map --functions/--visit/--table`: blueprint
# functions and visitors in Lua change the mapped values (checked exactly in
# the XML, which verifies); unknown functions are reported with the
# blueprint's file and line; a runaway, failing or escaping function fails
# the mapping with its reason (exit 1) and writes nothing.
. "$srcdir/t/tap.sh"

client=$top_builddir/src/caom2ingest
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
plan 34

. "$srcdir/t/mkfits.sh"

mkfits "$tmp/a.fits" "OBJECT  = 'M31     '" "EXPTIME =                 12.5" \
	"NCOMBINE=                    4" "FILTER  = 'r       '" "OBSTYPE = 'object  '"

cat > "$tmp/f.blueprint" <<'EOF'
Observation.type = OBJECT
Observation.target.name = get_target(header)
Observation.instrument.name = get_instrument()
Observation.telescope.name = ['TELESCOP'], default = CFHT
Plane.dataProductType = get_dpt(uri)
Plane.calibrationLevel = get_level()
Plane.provenance.name = get_provname()
Plane.provenance.version = get_version()
Observation.proposal.id = get_nothing()
Chunk.position.axis.axis1.ctype = ['CTYPE1']
Chunk.position.axis.axis2.ctype = ['CTYPE2']
Chunk.position.coordsys = get_coordsys(header)
EOF
cat > "$tmp/filters.csv" <<'EOF'
filter,wavelength,instrument
g,4.8e-7,MegaPrime-g
r,6.2e-7,MegaPrime-r
EOF
cat > "$tmp/f.lua" <<'EOF'
function get_target(ctx)
  return ctx.header.OBJECT .. ' x' .. ctx.header.EXPTIME * ctx.header.NCOMBINE
end
function get_instrument(ctx)
  return ctx.lookup('filters', ctx.header.FILTER).instrument
end
function get_dpt(ctx)
  if ctx.uri:match('%.fits$') then return 'cube' end
  return 'image'
end
function get_level(ctx) return 2 end
function get_nothing(ctx) return nil end
function get_version(ctx) return 7 end
function get_provname(ctx) return 'pipe' end
function get_coordsys(ctx) return 'ICRS-' .. ctx.ext .. '-' .. ctx.file end
EOF
cat > "$tmp/v1.lua" <<'EOF'
function visit(obs, ctx)
  obs.intent = 'calibration'
  for _, p in ipairs(obs.planes) do p.calibrationLevel = p.calibrationLevel + 1 end
end
EOF
cat > "$tmp/v2.lua" <<'EOF'
-- runs after v1.lua: sees its level
function visit(obs, ctx)
  for _, p in ipairs(obs.planes) do
    p.provenance.project = 'level ' .. p.calibrationLevel .. ' ' .. ctx.header.OBSTYPE
  end
end
EOF

out=$tmp/a.xml
"$client" map --observation TEST obs1 --blueprint "$tmp/f.blueprint" --functions "$tmp/f.lua" \
	--visit "$tmp/v1.lua" --visit "$tmp/v2.lua" --table "filters=$tmp/filters.csv" \
	--lineage p1/cadc:TEST/a.fits --local "$tmp/a.fits" -o "$out" 2>"$tmp/err"
is 0 $? "a blueprint with functions maps with --functions (exit 0)"
diag "$(cat "$tmp/err")"
ok "the output is valid CAOM-2.4 with correct checksums" "$client" verify --xsd-dir "$xsd" "$out"
like "$(cat "$out")" "<caom2:name>M31 x50.0</caom2:name>" "a string function reads typed headers"
like "$(cat "$out")" "<caom2:name>MegaPrime-r</caom2:name>" "ctx.lookup reads --table"
like "$(cat "$out")" "<caom2:name>CFHT</caom2:name>" "keyword values still map beside functions"
like "$(cat "$out")" "<caom2:dataProductType>cube</caom2:dataProductType>" "ctx.uri is the artifact URI"
like "$(cat "$out")" "<caom2:coordsys>ICRS-0-a.fits</caom2:coordsys>" \
	"a Chunk function gets ctx.ext (the HDU) and ctx.file"
like "$(cat "$out")" "<caom2:version>7</caom2:version>" "an integer result"
ok_not "nil is not set (no proposal)" grep -q "<caom2:proposal>" "$out"
is "calibration" "$(sed -n 's/.*<caom2:intent>\(.*\)<\/caom2:intent>.*/\1/p' "$out")" \
	"a visitor sets the intent"
is "3" "$(sed -n 's/.*<caom2:calibrationLevel>\(.*\)<\/caom2:calibrationLevel>.*/\1/p' "$out")" \
	"the visitor ran after the function's value 2"
like "$(cat "$out")" "<caom2:project>level 3 object</caom2:project>" \
	"visitors run in order (the second sees the first's change)"

# without --functions: each function value is an error with file:line
"$client" map --observation TEST obs1 --blueprint "$tmp/f.blueprint" \
	--lineage p1/cadc:TEST/a.fits --local "$tmp/a.fits" -o "$tmp/n.xml" 2>"$tmp/err"
is 1 $? "function values without --functions: exit 1"
like "$(cat "$tmp/err")" "f.blueprint:2: Observation.target.name: unknown function get_target \\(no functions: file is configured\\)" \
	"... naming the blueprint's file and line"
is 8 "$(grep -c 'unknown function' "$tmp/err")" "... every function value is reported"

# a functions file that lacks some: each one with the blueprint's line
printf 'function get_target(ctx) return "x" end\nfunction get_dpt(ctx) return "image" end\n' \
	> "$tmp/some.lua"
"$client" map --observation TEST obs1 --blueprint "$tmp/f.blueprint" --functions "$tmp/some.lua" \
	--lineage p1/cadc:TEST/a.fits --local "$tmp/a.fits" -o "$tmp/n.xml" 2>"$tmp/err"
is 1 $? "unknown functions: exit 1"
like "$(cat "$tmp/err")" "f.blueprint:3: unknown function get_instrument \\(.*some.lua defines no such global\\)" \
	"the first unknown one, with file:line"
like "$(cat "$tmp/err")" "f.blueprint:12: unknown function get_coordsys \\(.*some.lua defines no such global\\)" \
	"the last unknown one (all are reported)"
ok_not "no output file" test -e "$tmp/n.xml"

# a syntax error in a script: its file and line
printf 'function get_target(ctx)\n  return (\nend\n' > "$tmp/syntax.lua"
"$client" map --observation TEST obs1 --blueprint "$tmp/f.blueprint" --functions "$tmp/syntax.lua" \
	--lineage p1/cadc:TEST/a.fits --local "$tmp/a.fits" -o "$tmp/n.xml" 2>"$tmp/err"
is 1 $? "a syntax error: exit 1"
like "$(cat "$tmp/err")" "syntax.lua:3:" "... with the script's file and line"

# a runaway, a failing, an escaping function, a bad enumeration value
bad() {
	sed "s|^function get_dpt(ctx)\$|function get_dpt(ctx) $1|" "$tmp/f.lua" > "$tmp/bad.lua"
	"$client" map --observation TEST obs1 --blueprint "$tmp/f.blueprint" \
		--functions "$tmp/bad.lua" --table "filters=$tmp/filters.csv" \
		--lineage p1/cadc:TEST/a.fits --local "$tmp/a.fits" -o "$tmp/bad.xml" 2>"$tmp/err"
}
bad "while true do end"
is 1 $? "an infinite loop fails the mapping (exit 1)"
like "$(cat "$tmp/err")" "Plane.dataProductType = get_dpt\\(uri\\): .*bad.lua:7: instruction budget of [0-9]* exceeded in get_dpt" \
	"... naming the key, the function and the budget"
bad "error('no filter wheel')"
is 1 $? "error() fails the mapping (exit 1)"
like "$(cat "$tmp/err")" "Plane.dataProductType = get_dpt\\(uri\\): .*bad.lua:7: no filter wheel" \
	"... with the message"
like "$(cat "$tmp/err")" "stack traceback" "... and a traceback"
bad "local f = io.open('/etc/passwd')"
is 1 $? "io.open fails the mapping (exit 1)"
like "$(cat "$tmp/err")" "io.open is not available" "... saying io is not there"
bad "do return 'nosuchtype' end"
like "$(cat "$tmp/err")" "Plane.dataProductType = get_dpt\\(uri\\): .*'nosuchtype' is not one of image" \
	"an enumerated attribute's value is checked"
ok_not "no output file after a failed function" test -e "$tmp/bad.xml"

# --- the same code from a collection file: map --collection runs it as the daemon does ---
cat > "$tmp/coll.yml" <<EOF2
name: LUA
functions: $tmp/f.lua
visit: [$tmp/v1.lua]
tables: {filters: $tmp/filters.csv}
rules:
  - match: '^(?<id>[a-z]+)\\.fits\$'
    observation: '\${id}'
    product: '\${id}'
    uri: 'cadc:LUA/\${file}'
    blueprint: $tmp/f.blueprint
EOF2
"$client" map --collection "$tmp/coll.yml" -o "$tmp/coll.xml" "$tmp/a.fits" 2>"$tmp/coll.err"
is 0 "$?" "map --collection with functions and a visitor: exit 0"
like "$(cat "$tmp/coll.xml")" "<caom2:name>M31 x50.0</caom2:name>" "the collection's function mapped the target"
like "$(cat "$tmp/coll.xml")" "<caom2:intent>calibration</caom2:intent>" "and its visitor ran"
ok "and it verifies" "$client" verify --xsd-dir "$xsd" "$tmp/coll.xml"
