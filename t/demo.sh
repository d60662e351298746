#!/bin/sh
# t/demo.sh - the README's demo: ./demo.sh, run in a temporary copy of its
# files, turns every sample header dump into a FITS file that caom2ingestd
# ingests into an observation that verifies, with the values the blueprint
# maps and a preview and a thumbnail; it is re-runnable, --keep/--stop work,
# a failure is reported as one, it works as an unprivileged user, and
# tools/mkdemo refuses bad dumps.
. "$srcdir/t/tap.sh"

client=$top_builddir/src/caom2ingest
mkdemo=$top_builddir/tools/mkdemo
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
ids="dao_c122_2016_007777 dao_c122_2016_007830 dao_c122_2016_012725"
plan 49

# copy_tree DIR: the files demo.sh uses, as they are shipped
copy_tree() {
	mkdir -p "$1/etc" && cp "$srcdir/demo.sh" "$1/" &&
	    cp -R "$srcdir/etc/demo.yml" "$srcdir/etc/demo" "$1/etc/" &&
	    chmod -R u+w "$1"
}

# run_demo DIR OUT [ARGS]: demo.sh of DIR, its output in OUT (hangs are failures)
run_demo() {
	d=$1 o=$2; shift 2
	DEMO_BUILDDIR=$top_builddir CAOM2INGEST_XSD_DIR=$xsd timeout 120 sh "$d/demo.sh" "$@" \
	    > "$o" 2>&1
}

# xml_value FILE ELEMENT-PATH-SUFFIX: the text of the first element whose
# path (names without the caom2: prefix, joined by /) ends so
xml_value() {
	awk -v want="$2" '
	{ line = $0; sub(/^[ \t]+/, "", line) }
	line ~ /^<\?/ { next }
	line ~ /^<\// { depth--; next }
	match(line, /^<caom2:[A-Za-z0-9]+/) {
		name = substr(line, 8, RLENGTH - 7)
		if (line ~ /\/>$/) next
		if (line ~ /<\/caom2:/) {
			val = line; sub(/^<[^>]*>/, "", val); sub(/<\/caom2:[^>]*>$/, "", val)
			p = ""; for (i = 1; i <= depth; i++) p = p "/" st[i]
			p = p "/" name
			if (substr(p, length(p) - length(want) + 1) == want) { print val; exit }
			next
		}
		st[++depth] = name
	}' "$1"
}

tree=$tmp/tree
copy_tree "$tree" || bail "cannot copy the demo's files"
out=$tree/demo/state/observations/DEMO
log=$tree/demo/daemon.log

ok "demo.sh runs to the end" run_demo "$tree" "$tmp/run1.out"
is "$(echo $ids)" "$(cd "$out" 2>/dev/null && ls *.xml | sed 's/\.xml$//' | tr '\n' ' ' |
    sed 's/ $//')" "every sample became an observation, with the expected IDs"
seen=0
for id in $ids; do
	"$client" verify --xsd-dir "$xsd" "$out/$id.xml" >/dev/null 2>&1 && seen=$((seen + 1))
done
is 3 "$seen" "caom2ingest verify accepts all three"

x7777=$out/dao_c122_2016_007777.xml x7830=$out/dao_c122_2016_007830.xml
x12725=$out/dao_c122_2016_012725.xml
is "DAO 1.2-m|DAO 1.2-m|DAO 1.2-m" \
    "$(xml_value "$x7777" /telescope/name)|$(xml_value "$x7830" /telescope/name)|$(xml_value "$x12725" /telescope/name)" \
    "the telescope name is mapped (TELESCOP)"
is "HR 8106|FLAT|HD_92941" \
    "$(xml_value "$x7777" /target/name)|$(xml_value "$x7830" /target/name)|$(xml_value "$x12725" /target/name)" \
    "the target names are mapped (OBJECT)"
is "McKellar Spectrograph" "$(xml_value "$x7777" /instrument/name)" "the instrument is mapped"
is "object science|flat calibration" \
    "$(xml_value "$x7777" /Observation/type) $(xml_value "$x7777" /Observation/intent)|$(xml_value "$x7830" /Observation/type) $(xml_value "$x7830" /Observation/intent)" \
    "type and intent are mapped (OBSTYPE, INTENT)"
is "DAO122_2016C5 Gulliver" "$(xml_value "$x7777" /proposal/id) $(xml_value "$x7777" /proposal/pi)" \
    "the proposal is mapped (DAOPRGID, PINAME)"
is "spectrum 1 2017-07-29T11:46:06.000" \
    "$(xml_value "$x7777" /dataProductType) $(xml_value "$x7777" /calibrationLevel) $(xml_value "$x7777" /plane/dataRelease)" \
    "the plane is a raw spectrum with its release date"
is "12.22416667 74.92555556 FK5 2016.5" \
    "$(xml_value "$x7777" /coord1/val) $(xml_value "$x7777" /coord2/val) $(xml_value "$x7777" /position/coordsys) $(xml_value "$x7777" /position/equinox)" \
    "the position comes from the celestial WCS"
is "" "$(xml_value "$x7830" /position/coordsys)" "the flat has no position"
is "WAVE m 4.588e-07" \
    "$(xml_value "$x7777" /energy/axis/axis/ctype) $(xml_value "$x7777" /energy/axis/axis/cunit) $(xml_value "$x7777" /energy/axis/function/refCoord/val)" \
    "the energy axis comes from the spectral WCS, in SI units"
is "57598.44828 3600.0 5" \
    "$(xml_value "$x7777" /time/axis/function/refCoord/val) $(xml_value "$x7777" /time/exposure) $(xml_value "$x7777" /timeAxis)" \
    "the time axis comes from the temporal WCS and EXPTIME"

# The frame was shrunk, but its WCS covers the wavelengths the dump says.
range() {
	awk -v n="$(xml_value "$1" /energy/axis/function/naxis)" \
	    -v d="$(xml_value "$1" /energy/axis/function/delta)" \
	    -v p="$(xml_value "$1" /energy/axis/function/refCoord/pix)" \
	    -v r="$(xml_value "$1" /energy/axis/function/refCoord/val)" \
	    'BEGIN { printf "%d %.6e %.6e\n", n, r + (0.5 - p) * d, r + (n + 0.5 - p) * d }'
}
"$client" map --observation DEMO dao_c122_2016_007777 \
    --lineage dao_c122_2016_007777/cadc:DEMO/dao_c122_2016_007777.fits \
    --local "$srcdir/etc/demo/dao_c122_2016_007777.fits.header" \
    --blueprint "$srcdir/etc/demo/demo.blueprint" -o "$tmp/dump.xml" 2>"$tmp/map.err"
is "4200 4.514362e-07 4.665562e-07" "$(range "$tmp/dump.xml")" \
    "the dump's spectral range, mapped offline"
like "$(range "$x7777")" "^(1[0-9]{2}|[1-9][0-9]?) 4\.514362e-07 4\.665562e-07$" \
    "the FITS file has fewer pixels and the same spectral range"

parts=$(grep -c '<caom2:part ' "$x12725")
first=$(awk '/<caom2:name>0</ { f = 1 } f && /<caom2:chunks\/>/ { print "none"; exit }
    f && /<caom2:chunk / { print "chunk"; exit }' "$x12725")
second=$(awk '/<caom2:name>1</ { f = 1 } f && /<caom2:chunk / { print "chunk"; exit }' "$x12725")
is "2 0 none chunk" "$parts $(xml_value "$x12725" /parts/part/name) $first $second" \
    "the 2-HDU sample has two parts, the frame (a chunk) in the second only"

# The shipped dumps map cleanly offline too, with no warning.
clean=0
for id in $ids; do
	"$client" map --observation DEMO "$id" --lineage "$id/cadc:DEMO/$id.fits" \
	    --local "$srcdir/etc/demo/$id.fits.header" --blueprint "$srcdir/etc/demo/demo.blueprint" \
	    -o "$tmp/$id.dump.xml" 2>"$tmp/$id.map.err" &&
	    [ ! -s "$tmp/$id.map.err" ] &&
	    "$client" verify --xsd-dir "$xsd" "$tmp/$id.dump.xml" >/dev/null 2>&1 &&
	    clean=$((clean + 1))
done
is 3 "$clean" "caom2ingest map maps each dump with demo.blueprint, silently, and it verifies"

# The artifacts describe the files that landed, which are small valid FITS files.
good=0
for id in $ids; do
	f=$tree/demo/landing/$id.fits
	size=$(wc -c < "$f" 2>/dev/null) || continue
	md5=$(md5sum "$f" | cut -d' ' -f1)
	[ "$(xml_value "$out/$id.xml" /artifact/contentLength)" = "$size" ] &&
	    [ "$(xml_value "$out/$id.xml" /artifact/contentChecksum)" = "md5:$md5" ] &&
	    [ "$(xml_value "$out/$id.xml" /artifact/contentType)" = "application/fits" ] &&
	    [ $((size % 2880)) -eq 0 ] && [ "$size" -le 32000 ] && good=$((good + 1))
done
is 3 "$good" "each artifact has the landed file's size and MD5; each file is a few 2880-byte blocks"
ok_not "no temporary file is left in the landing directory" \
    sh -c "ls -A '$tree/demo/landing' | grep -v '^dao_c122_2016_0[0-9]*\\.fits\$'"

n=0
for id in $ids; do
	grep -q "landing/$id.fits: observation DEMO/$id, product $id" "$log" &&
	    grep -q "observation DEMO/$id stored" "$log" && n=$((n + 1))
done
is 3 "$n" "the log tells each file's classification and each observation stored"
ok "and that the daemon stopped" grep -q "caom2ingestd stopped" "$log"
ok_not "with no warning or error" grep -Eq "]: (warning|error|critical|alert|emergency): " "$log"
ok_not "no daemon is left running" "$client" -s "$tree/demo/control.sock" status
like "$(cat "$tmp/run1.out")" "observations +0 pending, 0 running, 0 retry, 3 done, 0 failed" \
    "the output shows caom2ingest status"
like "$(cat "$tmp/run1.out")" "target +HR 8106" "and what was mapped"
like "$(cat "$tmp/run1.out")" "preview +cadc:DEMO/dao_c122_2016_007777_prev.png, [0-9]+ bytes" \
    "and the preview the daemon made"
good=0
for id in $ids; do
	for p in "${id}_prev.png" "${id}_prev_256.png"; do
		f=$out/$p
		[ "$(od -An -tx1 -N4 "$f" 2>/dev/null | tr -d ' ')" = 89504e47 ] &&
		    grep -q "md5:$(md5sum < "$f" | cut -d' ' -f1)" "$out/$id.xml" && good=$((good + 1))
	done
done
is 6 "$good" "each observation has a PNG preview and thumbnail beside it, with their MD5 in its plane"
like "$(cat "$tmp/run1.out")" "caom2ingestd stopped" "and the log"

# Re-runnable: a second run starts from scratch and gives the same observations.
touch "$tree/demo/landing/leftover.fits"
ok "a second run works" run_demo "$tree" "$tmp/run2.out"
is "$(echo $ids)" "$(cd "$out" 2>/dev/null && ls *.xml | sed 's/\.xml$//' | tr '\n' ' ' |
    sed 's/ $//')" "with the same observations"
ok_not "and demo/ was cleaned first" test -e "$tree/demo/landing/leftover.fits"

# --keep leaves the daemon running; --stop stops it.
ok "demo.sh --keep works" run_demo "$tree" "$tmp/keep.out" --keep
ok "the daemon is still running after it" "$client" -s "$tree/demo/control.sock" status
pid=$(cat "$tree/demo/daemon.pid" 2>/dev/null)
stop_kept() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; }
at_exit stop_kept
run_demo "$tree" "$tmp/stop.out" --stop
like "$(cat "$tmp/stop.out")" "stopped caom2ingestd \\(pid $pid\\)" "demo.sh --stop stops it"
ok "and it is gone" sh -c "test -n '$pid' && ! kill -0 '$pid' 2>/dev/null"

# A sample that fails to ingest fails the demo, with the reason.
bad=$tmp/bad
copy_tree "$bad"
echo "Observation.bogus = 1" >> "$bad/etc/demo/demo.blueprint"
ok_not "a demo whose observations fail exits non-zero" run_demo "$bad" "$tmp/bad.out"
like "$(cat "$tmp/bad.out")" "unknown key 'Observation.bogus'" "and shows why"
ok_not "and stops its daemon" "$client" -s "$bad/demo/control.sock" status

# As an unprivileged user (when the suite runs as root and can switch).
nob=$tmp/nobody
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
    setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$client"; then
	copy_tree "$nob" && chmod 755 "$tmp" && chown -R nobody:nogroup "$nob"
	ok "demo.sh works as nobody" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    env DEMO_BUILDDIR="$top_builddir" CAOM2INGEST_XSD_DIR="$xsd" \
	    timeout 120 sh "$nob/demo.sh"
	is 3 "$(ls "$nob/demo/state/observations/DEMO"/*.xml 2>/dev/null | wc -l | tr -d ' ')" \
	    "and writes the three observations"
else
	skip 2 "not root, or cannot switch to nobody here"
fi

# tools/mkdemo refuses what is not a header dump, and leaves no output then.
printf '%-80s\n%-80s\n%-80s\n' "SIMPLE  =                    T" "BITPIX  =                    8" \
    "NAXIS   =                    0" > "$tmp/noend.header"
"$mkdemo" "$tmp/noend.header" "$tmp/noend.fits" 2>"$tmp/noend.err"
is "1|mkdemo: $tmp/noend.header:1: this HDU has no END card" "$?|$(cat "$tmp/noend.err")" \
    "mkdemo: a dump without END is refused"
ok_not "and nothing is written" test -e "$tmp/noend.fits"
{ printf '%-80s\n' "SIMPLE  =                    T"; printf '%-81s\n' "BITPIX  =   8"; } \
    > "$tmp/long.header"
"$mkdemo" "$tmp/long.header" "$tmp/long.fits" 2>"$tmp/long.err"
is "1|mkdemo: $tmp/long.header:2: a card is longer than 80 columns" "$?|$(cat "$tmp/long.err")" \
    "mkdemo: a card longer than 80 columns is refused, naming its line"
sed 's/^XTENSION= .IMAGE   ./XTENSION= '"'"'BINTABLE'"'"'/' \
    "$srcdir/etc/demo/dao_c122_2016_012725.fits.header" > "$tmp/table.header"
line=$(grep -n '^XTENSION' "$tmp/table.header" | cut -d: -f1)
"$mkdemo" "$tmp/table.header" "$tmp/table.fits" 2>"$tmp/table.err"
is "1|mkdemo: $tmp/table.header:$line: an extension must start with XTENSION = 'IMAGE' (only images are made)" \
    "$?|$(cat "$tmp/table.err")" "mkdemo: a table extension is refused, naming its line"
sed '11s/^.*$/OBJECT  = '"'"'tab	in it'"'"'/' "$srcdir/etc/demo/dao_c122_2016_007830.fits.header" \
    > "$tmp/ctl.header"
"$mkdemo" "$tmp/ctl.header" "$tmp/ctl.fits" 2>"$tmp/ctl.err"
is "1|mkdemo: $tmp/ctl.header:11: a card holds a character that is not printable ASCII" \
    "$?|$(cat "$tmp/ctl.err")" "mkdemo: a control character is refused"
sed '11s/^.*$/obj ct  = 1/' "$srcdir/etc/demo/dao_c122_2016_007830.fits.header" > "$tmp/key.header"
"$mkdemo" "$tmp/key.header" "$tmp/key.fits" 2>"$tmp/key.err"
like "$?|$(cat "$tmp/key.err")" "^1\\|mkdemo: $tmp/key.fits: HDU 0: illegal character in keyword" \
    "mkdemo: what cfitsio refuses while writing fails it"
ok_not "and the partial file is removed" test -e "$tmp/key.fits"
"$mkdemo" "$srcdir/etc/demo/dao_c122_2016_007830.fits.header" /dev/null 2>"$tmp/null.err"
is "1|mkdemo: /dev/null: exists and is not a regular file" "$?|$(cat "$tmp/null.err")" \
    "mkdemo replaces regular files only"
ok "so /dev/null is still there" test -c /dev/null
