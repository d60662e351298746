#!/bin/sh
# t/map.sh - `caom2ingest map` end to end: real FITS files written here,
# blueprints and legacy files, bad input of every kind, --in, --artifact-info.
. "$srcdir/t/tap.sh"

client=$top_builddir/src/caom2ingest
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
plan 39

. "$srcdir/t/mkfits.sh"

bp=$tmp/test.blueprint
cat > "$bp" <<'EOF'
# a small blueprint
Observation.type = OBJECT
Observation.target.name = ['OBJECT'], default = unknown target
Plane.dataProductType = image
Plane.calibrationLevel = 1
Plane.metaRelease = ['DATE-OBS']
Chunk.position.axis.axis1.ctype = ['CTYPE1']
Chunk.position.axis.axis2.ctype = ['CTYPE2']
EOF

mkfits "$tmp/a.fits" "OBJECT  = 'M31     '" "TELESCOP= 'CFHT 3.6m'"
out=$tmp/a.xml
"$client" map --observation TEST obs1 --blueprint "$bp" --lineage p1/cadc:TEST/a.fits \
	--local "$tmp/a.fits" -o "$out" 2>"$tmp/err"
is 0 $? "a FITS file maps (exit 0)"
ok "the output is valid CAOM-2.4 with correct checksums" "$client" verify --xsd-dir "$xsd" "$out"
like "$(cat "$out")" "<caom2:name>M31</caom2:name>" "the target comes from OBJECT"
like "$(cat "$out")" "<caom2:contentLength>$(wc -c < "$tmp/a.fits")</caom2:contentLength>" \
	"contentLength is the local file's size"
like "$(cat "$out")" "md5:$(md5sum < "$tmp/a.fits" | cut -c1-32)" \
	"contentChecksum is the local file's MD5"
like "$(cat "$out")" "<caom2:contentType>application/fits</caom2:contentType>" "contentType from the name"
like "$(cat "$out")" "<caom2:cd11>-5e-05</caom2:cd11>" "the CD matrix is read with wcslib"
like "$(cat "$out")" "<caom2:metaRelease>2024-03-01T04:05:06.000</caom2:metaRelease>" \
	"dates are parsed"

# the default applies when the keyword is absent
mkfits "$tmp/b.fits"
"$client" map --observation TEST obs2 --blueprint "$bp" --lineage p1/cadc:TEST/b.fits \
	--local "$tmp/b.fits" > "$tmp/b.xml" 2>"$tmp/err"
like "$(cat "$tmp/b.xml")" "<caom2:name>unknown target</caom2:name>" \
	"a keyword list's default applies when no keyword has a value (stdout output)"

# --in: another plane is added, the first one and the target survive
"$client" map --observation TEST obs1 --in "$out" --blueprint "$bp" \
	--lineage p2/cadc:TEST/b.fits --local "$tmp/b.fits" -o "$tmp/ab.xml" 2>"$tmp/err"
is 0 $? "--in augments an existing observation"
is 2 "$(grep -c '<caom2:productID>' "$tmp/ab.xml")" "both planes are there"
like "$(cat "$tmp/ab.xml")" "<caom2:name>CFHT 3.6m</caom2:name>" \
	"an existing value is kept when the new file's headers do not give one"
ok "the augmented observation verifies" "$client" verify --xsd-dir "$xsd" "$tmp/ab.xml"
"$client" map --observation TEST other --in "$out" --blueprint "$bp" \
	--lineage p2/cadc:TEST/b.fits --local "$tmp/b.fits" -o "$tmp/x.xml" 2>"$tmp/err"
is 1 $? "--in with another observation's document is refused"
like "$(cat "$tmp/err")" "holds TEST/obs1, not TEST/other" "... saying which"

# --artifact-info: the storage record wins over the local bytes
printf 'cadc:TEST/a.fits\t123\tmd5:0123456789abcdef0123456789abcdef\t-\n' > "$tmp/info.tsv"
"$client" map --observation TEST obs1 --blueprint "$bp" --lineage p1/cadc:TEST/a.fits \
	--local "$tmp/a.fits" --artifact-info "$tmp/info.tsv" -o "$tmp/i.xml" 2>"$tmp/err"
like "$(cat "$tmp/i.xml")" "<caom2:contentLength>123</caom2:contentLength>" \
	"--artifact-info's length wins"
like "$(cat "$tmp/i.xml")" "md5:0123456789abcdef0123456789abcdef" "--artifact-info's checksum wins"
like "$(cat "$tmp/i.xml")" "application/fits" "an empty info field keeps the local value"

# usage errors: exit 2
"$client" map >/dev/null 2>&1
is 2 $? "no arguments: exit 2"
"$client" map --observation T o --lineage p/u1 p/u2 --local "$tmp/a.fits" >/dev/null 2>&1
is 2 $? "--local and --lineage counts differ: exit 2"
"$client" map --observation T o --lineage p/u --local "$tmp/a.fits" --blueprint "$bp" \
	--config "$bp" >/dev/null 2>&1
is 2 $? "--blueprint with --config: exit 2"
"$client" map --observation T o --lineage p/u --local "$tmp/a.fits" --bogus >/dev/null 2>&1
is 2 $? "an unknown option: exit 2"
"$client" map --observation T o --lineage nouri --local "$tmp/a.fits" 2>"$tmp/err"
is 1 $? "a lineage entry without PRODUCT_ID/URI: exit 1"

# blueprint errors: every one named with file and line, nothing written
cat > "$tmp/bad.blueprint" <<'EOF'
Observation.type = OBJECT
Observation.nosuch = 1
this line has no equals sign
Chunk.time.exposure = get_exposure(uri)
Plane.dataRelease = ['RELEASE'] default = x
EOF
"$client" map --observation T o --blueprint "$tmp/bad.blueprint" --lineage p/cadc:T/a.fits \
	--local "$tmp/a.fits" -o "$tmp/bad.xml" 2>"$tmp/err"
is 1 $? "a bad blueprint: exit 1"
like "$(cat "$tmp/err")" "bad.blueprint:2: unknown key 'Observation.nosuch'" "unknown key with file:line"
like "$(cat "$tmp/err")" "bad.blueprint:3: syntax error" "syntax error with file:line"
like "$(cat "$tmp/err")" "bad.blueprint:4: .*unknown function get_exposure \\(no functions: file is configured\\)" \
	"unknown function with file:line (no functions file)"
like "$(cat "$tmp/err")" "bad.blueprint:5: .*malformed default" "malformed default with file:line"
ok_not "no output file is left behind" test -e "$tmp/bad.xml"

# corrupt input: named with file and HDU
head -c 3000 "$tmp/a.fits" > "$tmp/cut.fits"
"$client" map --observation T o --blueprint "$bp" --lineage p/cadc:T/cut.fits \
	--local "$tmp/cut.fits" 2>"$tmp/err" >/dev/null
is 1 $? "a truncated FITS file: exit 1"
like "$(cat "$tmp/err")" "cut.fits: HDU 0: truncated" "... naming the file and HDU"
echo "not a FITS file" > "$tmp/text.fits"
"$client" map --observation T o --blueprint "$bp" --lineage p/cadc:T/text.fits \
	--local "$tmp/text.fits" 2>"$tmp/err" >/dev/null
is 1 $? "a non-FITS .fits file: exit 1"
like "$(cat "$tmp/err")" "text.fits" "... naming the file"

# legacy files: unresolvable names warn with file:line, a bad CTYPE fails
printf 'Observation.target.name = OBJECT\n' > "$tmp/l.config"
printf 'CTYPE1 = RA---TAN\nCTYPE2 = DEC--TAN\n' > "$tmp/l.default"
printf 'plane.dataProductType = image\nplane.calibrationLevel = 2\nnosuchname = 3\n' > "$tmp/l.override"
"$client" map --observation T o --config "$tmp/l.config" --default "$tmp/l.default" \
	--override "$tmp/l.override" --lineage p/cadc:T/a.fits --local "$tmp/a.fits" \
	-o "$tmp/l.xml" 2>"$tmp/err"
is 0 $? "a legacy config/default/override maps"
like "$(cat "$tmp/err")" "l.override:3: nosuchname: names no CAOM attribute" \
	"an unresolvable legacy name is a warning with file:line"
printf 'CTYPE1 = RA---TAN\nCTYPE2 = BOGUS\n' > "$tmp/bad.default"
"$client" map --observation T o --config "$tmp/l.config" --default "$tmp/bad.default" \
	--override "$tmp/l.override" --lineage p/cadc:T/a.fits --local "$tmp/a.fits" \
	>/dev/null 2>"$tmp/err"
is 1 $? "an unrecognised CTYPE in a legacy file: exit 1"
like "$(cat "$tmp/err")" "bad.default:2: CTYPE2: unrecognised CTYPE 'BOGUS'" "... with file:line"

# -o on a device writes to it and leaves it a device
"$client" map --observation TEST obs1 --blueprint "$bp" --lineage p1/cadc:TEST/a.fits \
	--local "$tmp/a.fits" -o /dev/null 2>"$tmp/err"
is 0 $? "-o /dev/null works"
ok "and /dev/null is still a character device" test -c /dev/null
