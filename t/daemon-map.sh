#!/bin/sh
# t/daemon-map.sh - the daemon maps real FITS files with a collection's
# blueprint into the directory sink; a bad blueprint or a truncated file
# fails that observation with the reason and nothing else.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
plan 15

land=$tmp/landing
out=$tmp/out
mkdir -p "$land/good" "$land/bad" "$out"
cat > "$tmp/good.blueprint" <<'BP'
Observation.target.name = ['OBJECT']
Plane.dataProductType = image
Plane.calibrationLevel = 1
Chunk.position.axis.axis1.ctype = ['CTYPE1']
Chunk.position.axis.axis2.ctype = ['CTYPE2']
BP
printf 'Observation.type = OBJECT\nObservation.bogus = 1\n' > "$tmp/bad.blueprint"
printf "Plane.dataProductType = image\nPlane.calibrationLevel = ['CALLEVEL']\n" > "$tmp/warn.blueprint"
mkdir -p "$land/warn"
cat > "$tmp/c.yml" <<CONF
log: stderr
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 300ms
collections:
  - name: GOOD
    landing: $land/good
    rules:
      - match: '^(?<o>[a-z0-9]+)\\.fits\$'
        observation: '\${o}'
        product: '\${o}'
        uri: 'cadc:GOOD/\${file}'
        blueprint: $tmp/good.blueprint
  - name: BAD
    landing: $land/bad
    rules:
      - match: '^(?<o>[a-z0-9]+)\\.fits\$'
        observation: '\${o}'
        product: '\${o}'
        uri: 'cadc:BAD/\${file}'
        blueprint: $tmp/bad.blueprint
  - name: WARN
    landing: $land/warn
    rules:
      - match: '^(?<o>[a-z0-9]+)\\.fits\$'
        observation: '\${o}'
        product: '\${o}'
        uri: 'cadc:WARN/\${file}'
        blueprint: $tmp/warn.blueprint
sink:
  directory: $out
CONF
log=$tmp/daemon.log
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 grep -q 'started' "$log"

mkfits "$tmp/m1.fits" "OBJECT  = 'NGC 1275'"
mv "$tmp/m1.fits" "$land/good/m1.fits"
ok "a FITS file is mapped and stored" wait_for 10 test -s "$out/GOOD/m1.xml"
like "$(cat "$out/GOOD/m1.xml")" "<caom2:name>NGC 1275</caom2:name>" "its header values are mapped"
like "$(cat "$out/GOOD/m1.xml")" "<caom2:cd22>5e-05</caom2:cd22>" "its WCS is mapped"
ok "the stored observation verifies" "$client" verify --xsd-dir "$xsd" "$out/GOOD/m1.xml"

mkfits "$tmp/m2.fits"
mv "$tmp/m2.fits" "$land/bad/m2.fits"
ok "a bad blueprint fails the observation, naming the line" \
	wait_for 10 grep -q "observation BAD/m2 failed.*bad.blueprint:2: unknown key 'Observation.bogus'" "$log"
ok_not "and nothing is stored for it" test -e "$out/BAD/m2.xml"

# a mapping that fails after a warning: the warning that says why is logged too
mkfits "$tmp/w1.fits" "CALLEVEL= 'raw'"
mv "$tmp/w1.fits" "$land/warn/w1.fits"
ok "a mapping that fails is logged with its reason" \
	wait_for 10 grep -q "observation WARN/w1 failed.*no value for Plane.calibrationLevel" "$log"
ok "and with the warning that explains it" \
	grep -q "w1.fits: mapping: .*HDU 0: Plane.calibrationLevel: .raw. is not an integer (ignored)" "$log" || { grep w1 "$log" | sed "s/^/# /"; false; }

mkfits "$tmp/m3.fits"
head -c 3000 "$tmp/m3.fits" > "$tmp/m3.cut"
mv "$tmp/m3.cut" "$land/good/m3.fits"
ok "a truncated FITS file fails its observation, naming the HDU" \
	wait_for 10 grep -q "observation GOOD/m3 failed.*m3.fits: HDU 0: truncated" "$log"

# a file written in place whose writer stalls in the header: it waits, then completes
mkfits "$tmp/m5.fits" "OBJECT  = 'M5'"
head -c 1200 "$tmp/m5.fits" > "$land/good/m5.fits"
ok "a quiet FITS file without END card is held, with a warning" \
	wait_for 10 grep -q "m5.fits: FITS header without END card yet; waiting" "$log"
ok_not "and neither failed nor stored" sh -c "grep -q 'GOOD/m5 failed' '$log' || test -e '$out/GOOD/m5.xml'"
tail -c +1201 "$tmp/m5.fits" >> "$land/good/m5.fits"
ok "once the writer finishes it is ingested" wait_for 10 test -s "$out/GOOD/m5.xml"
# renamed into place, it is complete by contract: a cut header is an error
head -c 1200 "$tmp/m5.fits" > "$tmp/m6.cut"
mv "$tmp/m6.cut" "$land/good/m6.fits"
ok "a renamed file with a cut header fails its observation, with the reason" \
	wait_for 10 grep -q "observation GOOD/m6 failed.*m6.fits" "$log"

mkfits "$tmp/m4.fits" "OBJECT  = 'M87'"
mv "$tmp/m4.fits" "$land/good/m4.fits"
ok "other files keep flowing" wait_for 10 test -s "$out/GOOD/m4.xml"
ok "the daemon is still running" kill -0 "$dpid"
