#!/bin/sh
# t/daemon-lua.sh - the real daemon runs a rule's collection code: blueprint
# functions and a visitor change a landed file's observation; a broken
# script or an unknown function is a configuration error with file:line
# (--check-config, start-up, reload: the old configuration stays); a runaway
# function fails only its observation while other files keep flowing.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
plan 17

land=$tmp/landing
out=$tmp/out
mkdir -p "$land" "$out" "$tmp/code"
cat > "$tmp/code/lua.blueprint" <<'BP'
Observation.target.name = get_target(header)
Observation.instrument.name = get_instrument()
Plane.dataProductType = image
Plane.calibrationLevel = get_level()
Chunk.position.axis.axis1.ctype = ['CTYPE1']
Chunk.position.axis.axis2.ctype = ['CTYPE2']
BP
cat > "$tmp/code/filters.csv" <<'EOF'
filter,instrument
r,MegaPrime-r
EOF
cat > "$tmp/code/f.lua" <<'EOF'
function get_target(ctx)
  if ctx.header.OBJECT == 'LOOP' then while true do end end
  return ctx.header.OBJECT .. ' (' .. ctx.file .. ')'
end
function get_instrument(ctx) return ctx.lookup('filters', ctx.header.FILTER).instrument end
function get_level(ctx) return 1 end
EOF
cat > "$tmp/code/v.lua" <<'EOF'
function visit(obs, ctx)
  obs.intent = 'calibration'
  for _, p in ipairs(obs.planes) do p.calibrationLevel = p.calibrationLevel + 1 end
end
EOF
# paths relative to the configuration file
cat > "$tmp/c.yml" <<CONF
log: stderr
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 300ms
lua_instructions: 2
collections:
  - name: LUA
    landing: $land
    rules:
      - match: '^(?<o>[a-z0-9]+)\\.fits\$'
        observation: '\${o}'
        product: '\${o}'
        uri: 'cadc:LUA/\${file}'
        blueprint: code/lua.blueprint
        functions: code/f.lua
        visit: [code/v.lua]
        tables: {filters: code/filters.csv}
sink:
  directory: $out
CONF

out_cc=$("$daemon" -c "$tmp/c.yml" --check-config 2>&1)
is 0 $? "--check-config accepts a rule with functions, a visitor and a table"

# configuration errors: a syntax error, an unknown function, a missing visit()
sed 's|functions: code/f.lua|functions: code/syntax.lua|' "$tmp/c.yml" > "$tmp/syntax.yml"
printf 'function get_target(ctx)\n  return (\nend\n' > "$tmp/code/syntax.lua"
out_cc=$("$daemon" -c "$tmp/syntax.yml" --check-config 2>&1)
is 1 $? "a script with a syntax error: --check-config exits 1"
like "$out_cc" "syntax.yml:10: collections\\[1\\].rules\\[1\\]: .*code/syntax.lua:3:" \
	"... naming the rule and the script's file:line"
sed 's|functions: code/f.lua|functions: code/few.lua|' "$tmp/c.yml" > "$tmp/few.yml"
printf 'function get_target(ctx) return "x" end\n' > "$tmp/code/few.lua"
out_cc=$("$daemon" -c "$tmp/few.yml" --check-config 2>&1)
is 1 $? "an unknown function: --check-config exits 1"
like "$out_cc" "lua.blueprint:2: unknown function get_instrument \\(.*few.lua defines no such global\\)" \
	"... with the blueprint's file:line"
like "$out_cc" "lua.blueprint:4: unknown function get_level" "... every one of them"
"$daemon" -f -c "$tmp/syntax.yml" 2>"$tmp/start.log"
is 1 $? "the daemon does not start with a broken script"

log=$tmp/daemon.log
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 grep -q 'started' "$log"

mkfits "$tmp/m1.fits" "OBJECT  = 'NGC 1275'" "FILTER  = 'r       '"
mv "$tmp/m1.fits" "$land/m1.fits"
ok "a file mapped with functions and a visitor is stored" wait_for 10 test -s "$out/LUA/m1.xml"
like "$(cat "$out/LUA/m1.xml")" "<caom2:name>NGC 1275 \\(m1.fits\\)</caom2:name>" \
	"a function's value (with ctx.file)"
like "$(cat "$out/LUA/m1.xml")" "<caom2:name>MegaPrime-r</caom2:name>" "a table lookup"
like "$(cat "$out/LUA/m1.xml")" "<caom2:intent>calibration</caom2:intent>" "the visitor's change"
like "$(cat "$out/LUA/m1.xml")" "<caom2:calibrationLevel>2</caom2:calibrationLevel>" \
	"the visitor ran after the function"
ok "the stored observation verifies (checksums after the visitor)" \
	"$client" verify --xsd-dir "$xsd" "$out/LUA/m1.xml"

# a runaway function fails its observation only
mkfits "$tmp/loop.fits" "OBJECT  = 'LOOP'" "FILTER  = 'r       '"
mv "$tmp/loop.fits" "$land/loop.fits"
ok "a runaway function fails its observation, with the reason" \
	wait_for 20 grep -q "observation LUA/loop failed.*get_target(header): .*f.lua:2: instruction budget of 2000000 exceeded" "$log"
mkfits "$tmp/m2.fits" "OBJECT  = 'M 87'" "FILTER  = 'r       '"
mv "$tmp/m2.fits" "$land/m2.fits"
ok "other files keep flowing" wait_for 10 test -s "$out/LUA/m2.xml"

# a reload with a broken script keeps the configuration in force
cp "$tmp/code/syntax.lua" "$tmp/code/f.lua"
kill -HUP "$dpid"
ok "a reload with a syntax error is refused" \
	wait_for 5 grep -q 'reload refused: keeping the configuration in force' "$log"
mkfits "$tmp/m3.fits" "OBJECT  = 'M 42'" "FILTER  = 'r       '"
mv "$tmp/m3.fits" "$land/m3.fits"
wait_for 10 test -s "$out/LUA/m3.xml"
like "$(cat "$out/LUA/m3.xml" 2>/dev/null)" "<caom2:name>M 42 \\(m3.fits\\)</caom2:name>" \
	"the old scripts still map after the refused reload"
