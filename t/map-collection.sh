#!/bin/sh
# t/map-collection.sh - `caom2ingest map --collection`: a collection file's
# naming rules choose collection, observation, plane, URI and blueprint for
# each file; files of one observation are mapped together; NAME.header
# stands for NAME; -o, --outdir, --in, --artifact-info; every refusal with
# its message; and the daemon, given the same collection file by include,
# stores the same observations.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"

client=$top_builddir/src/caom2ingest
daemon=$top_builddir/src/caom2ingestd
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
plan 48

# A collection file holding two collections: processed files (_cal) go to
# PROC, the rest to RAW, whose two rules give two planes of one observation.
cdir=$tmp/collections
mkdir -p "$cdir/bp"
cat > "$cdir/bp/raw.blueprint" <<'EOF'
Observation.target.name = ['OBJECT'], default = no target
Plane.dataProductType = image
Plane.calibrationLevel = 1
Chunk.position.axis.axis1.ctype = ['CTYPE1']
Chunk.position.axis.axis2.ctype = ['CTYPE2']
EOF
cat > "$cdir/bp/proc.blueprint" <<'EOF'
Plane.dataProductType = image
Plane.calibrationLevel = 2
EOF
# collection_file FILE [RAW_LANDING PROC_LANDING]
collection_file() {
	cat > "$1" <<EOF
# two collections, tried in order
- name: PROC
${3:+  landing: $3
}  rules:
    - match: '^(?<obs>[a-z]+[0-9]+)_cal\\.fits\$'
      observation: '\${obs}'
      product: '\${obs}_cal'
      uri: 'cadc:\${collection}/\${file}'
      blueprint: bp/proc.blueprint
- name: RAW
${2:+  landing: $2
}  exclude: '*.tmp.fits'
  rules:
    - match: '^(?<obs>[a-z]+[0-9]+)_(?<part>[ab])\\.fits\$'
      observation: '\${obs}'
      product: '\${obs}_\${part}'
      uri: 'cadc:\${collection}/\${file}'
      blueprint: bp/raw.blueprint
    - match: '^(?<obs>[a-z]+[0-9]+)\\.png\$'
      observation: '\${obs}'
      product: '\${obs}_a'
      uri: 'cadc:\${collection}/\${file}'
EOF
}
collection_file "$cdir/test.yml"
files=$tmp/files
mkdir -p "$files"
mkfits "$files/m1_a.fits" "OBJECT  = 'M31     '"
mkfits "$files/m1_b.fits" "OBJECT  = 'M31     '"
mkfits "$files/m1_cal.fits"
mkfits "$files/m2_a.fits" "OBJECT  = 'M33     '"
printf '\211PNG\r\n\032\nnot really a PNG' > "$files/m1.png"

# one observation from two files and a preview: -o
"$client" map --collection "$cdir/test.yml" -o "$tmp/m1.xml" "$files/m1_b.fits" \
	"$files/m1_a.fits" "$files/m1.png" 2>"$tmp/err"
is 0 $? "three files of one observation map (exit 0)"
is "" "$(cat "$tmp/err")" "without a message"
ok "the observation verifies" "$client" verify --xsd-dir "$xsd" "$tmp/m1.xml"
x=$(cat "$tmp/m1.xml")
like "$x" "<caom2:collection>RAW</caom2:collection>" "the rules chose the collection RAW"
like "$x" "<caom2:observationID>m1</caom2:observationID>" "and the observation m1"
is "m1_a m1_b" "$(sed -n 's|.*<caom2:productID>\(.*\)</caom2:productID>|\1|p' "$tmp/m1.xml" |
	tr '\n' ' ' | sed 's/ $//')" "two planes, in path order (m1_a first though given second)"
is "cadc:RAW/m1.png cadc:RAW/m1_a.fits cadc:RAW/m1_b.fits" \
	"$(sed -n 's|.*<caom2:uri>\(.*\)</caom2:uri>|\1|p' "$tmp/m1.xml" | tr '\n' ' ' |
	sed 's/ $//')" "the URIs from the template; the preview is an artifact of plane m1_a"
like "$x" "<caom2:name>M31</caom2:name>" "the blueprint (relative to the collection file) mapped OBJECT"
like "$x" "<caom2:contentLength>$(wc -c < "$files/m1_a.fits")</caom2:contentLength>" \
	"contentLength from the file's bytes"
like "$x" "md5:$(md5sum < "$files/m1_a.fits" | cut -c1-32)" "contentChecksum from the file's bytes"
like "$x" "<caom2:contentType>image/png</caom2:contentType>" "the preview's type from its name"
is 2 "$(grep -c '<caom2:part ' "$tmp/m1.xml")" \
	"two parts, m1_a's and m1_b's: the preview's rule has no blueprint, so no parts"

# the first collection whose rules take a file wins
"$client" map --collection "$cdir/test.yml" "$files/m1_cal.fits" > "$tmp/cal.xml" 2>"$tmp/err"
is 0 $? "a processed file maps, to standard output"
like "$(cat "$tmp/cal.xml")" "<caom2:collection>PROC</caom2:collection>" "in the collection PROC"
like "$(cat "$tmp/cal.xml")" "<caom2:calibrationLevel>2</caom2:calibrationLevel>" \
	"with PROC's blueprint"

# several observations: --outdir DIR/COLLECTION/OBSERVATION_ID.xml
"$client" map --collection "$cdir/test.yml" "$files/m1_a.fits" "$files/m2_a.fits" \
	-o "$tmp/two.xml" 2>"$tmp/err"
is 1 $? "two observations with -o are refused"
is "caom2ingest map: the files make 2 observations: give --outdir DIR for one file each" \
	"$(cat "$tmp/err")" "saying why"
ok_not "and nothing is written" test -e "$tmp/two.xml"
"$client" map --collection "$cdir/test.yml" --outdir "$tmp/outdir" "$files/m1_a.fits" \
	"$files/m1_b.fits" "$files/m1_cal.fits" "$files/m2_a.fits" "$files/m1.png" 2>"$tmp/err"
is 0 $? "--outdir: four files, three observations"
is "PROC/m1.xml RAW/m1.xml RAW/m2.xml" "$(cd "$tmp/outdir" && find . -name '*.xml' |
	sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')" "one file each: DIR/COLLECTION/OBSERVATION_ID.xml"
ok "they verify" "$client" verify --xsd-dir "$xsd" "$tmp/outdir/PROC/m1.xml" \
	"$tmp/outdir/RAW/m1.xml" "$tmp/outdir/RAW/m2.xml"
# ids are random, and the checksums cover them
strip() { sed 's/ caom2:id="[^"]*"//; s/ caom2:[a-zA-Z]*Checksum="[^"]*"//g' "$1"; }
is "$(strip "$tmp/m1.xml")" "$(strip "$tmp/outdir/RAW/m1.xml")" "RAW/m1 is as with -o"

# NAME.header stands for NAME; its artifact's size and checksum come from --artifact-info
# (the dump: m2_a.fits's cards one a line, without its END card)
head -c $((21 * 80)) "$files/m2_a.fits" | fold -w 80 > "$files/m3_a.fits.header"
printf 'cadc:RAW/m3_a.fits\t1234\tmd5:0123456789abcdef0123456789abcdef\t\n' > "$tmp/info.tsv"
"$client" map --collection "$cdir/test.yml" -o "$tmp/m3.xml" "$files/m3_a.fits.header" 2>"$tmp/err"
is 0 $? "a header dump (no END card) maps: its rules saw m3_a.fits"
x=$(cat "$tmp/m3.xml")
like "$x" "<caom2:uri>cadc:RAW/m3_a.fits</caom2:uri>" "the URI names the file the dump stands for"
like "$x" "<caom2:contentType>application/fits</caom2:contentType>" "the type its name gives"
ok_not "no contentLength from the dump's own bytes" grep -q contentLength "$tmp/m3.xml"
like "$x" "<caom2:name>M33</caom2:name>" "its headers are mapped"
"$client" map --collection "$cdir/test.yml" --artifact-info "$tmp/info.tsv" -o "$tmp/m3i.xml" \
	"$files/m3_a.fits.header" 2>"$tmp/err"
like "$(cat "$tmp/m3i.xml")" "<caom2:contentLength>1234</caom2:contentLength>" \
	"--artifact-info gives the length..."
like "$(cat "$tmp/m3i.xml")" "md5:0123456789abcdef0123456789abcdef" "...and the checksum"

# --in: the observation that exists already is augmented
"$client" map --collection "$cdir/test.yml" --in "$tmp/m1.xml" -o "$tmp/m1c.xml" \
	"$files/m1_b.fits" 2>"$tmp/err"
is 0 $? "--in augments the existing observation"
is 2 "$(grep -c '<caom2:productID>' "$tmp/m1c.xml")" "its other plane is kept"
"$client" map --collection "$cdir/test.yml" --in "$tmp/m1.xml" -o "$tmp/x.xml" \
	"$files/m2_a.fits" 2>"$tmp/err"
is 1 $? "--in with an observation none of the files make is refused"
is "caom2ingest map: $tmp/m1.xml holds RAW/m1, which none of the files make" "$(cat "$tmp/err")" \
	"saying which"
ok_not "and writes nothing" test -e "$tmp/x.xml"

# files no rule takes
touch "$files/other.txt" "$files/zz_a.tmp.fits"
"$client" map --collection "$cdir/test.yml" -o "$tmp/x.xml" "$files/m1_a.fits" \
	"$files/other.txt" "$files/zz_a.tmp.fits" 2>"$tmp/err"
is 1 $? "a file no rule takes fails the run"
is "caom2ingest map: $files/other.txt: no naming rule of any collection takes 'other.txt'
caom2ingest map: $files/zz_a.tmp.fits: no naming rule of any collection takes 'zz_a.tmp.fits' (excluded by include/exclude globs)" \
	"$(cat "$tmp/err")" "each named, with why"
ok_not "and nothing is written" test -e "$tmp/x.xml"

# a collection file with errors
printf -- '- name: BAD\n  rules:\n    - match: "(["\n      observation: x\n      product: p\n      uri: u\n' \
	> "$cdir/bad.yml"
"$client" map --collection "$cdir/bad.yml" "$files/m1_a.fits" 2>"$tmp/err"
is 1 $? "a collection file with an error is refused"
is "$cdir/bad.yml:3: [1].rules[1].match: missing terminating ] for character class at offset 2" \
	"$(cat "$tmp/err")" "with its file and line"

# usage
"$client" map --collection "$cdir/test.yml" --lineage p/u --local "$files/m1_a.fits" 2>"$tmp/err"
is 2 $? "--collection with --lineage/--local is a usage error"
"$client" map --collection "$cdir/test.yml" -o a --outdir b "$files/m1_a.fits" 2>"$tmp/err"
is 2 $? "-o with --outdir is a usage error"
"$client" map --collection "$cdir/test.yml" 2>"$tmp/err"
is 2 $? "--collection without files is a usage error"
like "$(head -1 "$tmp/err")" "--collection needs the files to map" "saying so"

# the daemon, including the same collection file, stores the same observations
command -v python3 >/dev/null || { skip 5 "python3 not installed (t/caom-compare.py)"; exit 0; }
land=$tmp/landing
sink=$tmp/sink
mkdir -p "$land/raw" "$land/proc" "$sink"
collection_file "$cdir/landed.yml" "$land/raw" "$land/proc"
cat > "$tmp/c.yml" <<CONF
log: stderr
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 300ms
include: collections/*.yml
sink:
  directory: $sink
CONF
rm "$cdir/test.yml" "$cdir/bad.yml"	# collections/*.yml: landed.yml alone
"$daemon" --check-config -c "$tmp/c.yml" >"$tmp/check" 2>&1
is 0 $? "the daemon takes the collection file by include (--check-config)"
log=$tmp/daemon.log
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 grep -q 'started' "$log"
# paused until every file is classified: one job per observation, with all its files
"$client" -s "$tmp/control.sock" pause >/dev/null
for f in m1_a.fits m1_b.fits m2_a.fits m1.png; do cp "$files/$f" "$land/raw/$f.part"; done
cp "$files/m1_cal.fits" "$land/proc/m1_cal.fits.part"
for f in m1_a.fits m1_b.fits m2_a.fits m1.png; do mv "$land/raw/$f.part" "$land/raw/$f"; done
mv "$land/proc/m1_cal.fits.part" "$land/proc/m1_cal.fits"
wait_for 20 sh -c "test \$(grep -c ': observation \(RAW\|PROC\)/' '$log') -ge 5"
"$client" -s "$tmp/control.sock" resume >/dev/null
ok "the daemon stores the three observations" wait_for 20 sh -c \
	"test -s '$sink/RAW/m1.xml' && test -s '$sink/RAW/m2.xml' && test -s '$sink/PROC/m1.xml'"
# the landed files themselves: the same bytes, so the same facts
"$client" map --collection "$cdir/landed.yml" --outdir "$tmp/offline" "$land/raw/m1_a.fits" \
	"$land/raw/m1_b.fits" "$land/raw/m2_a.fits" "$land/raw/m1.png" "$land/proc/m1_cal.fits" \
	2>"$tmp/err"
for o in RAW/m1 RAW/m2 PROC/m1; do
	d=$(python3 "$srcdir/t/caom-compare.py" "$sink/$o.xml" "$tmp/offline/$o.xml" 2>&1)
	is "" "$d" "$o: map --collection equals what the daemon stored"
done
