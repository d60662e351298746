#!/bin/sh
# t/daemon-preview.sh - the daemon makes a preview and a thumbnail of each
# file whose rule has previews, writes them beside the observation (the
# directory sink) and adds them to its plane as artifacts with their size,
# MD5 and content type; a spectrum gets a plot; a file that changes gets new
# previews; a file that is not FITS, a truncated 40 GB image and one over
# its time limit are warnings (the observation goes on without) or, with
# on_error: fail, fail their observation; none stalls the daemon. With the
# repository sink the previews go to STATE_DIR/previews.
. "$srcdir/t/tap.sh"
. "$srcdir/t/repo.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
mkimage=$top_builddir/t/mkimage
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
command -v curl >/dev/null || skip_all "curl not installed"
plan 27

land=$tmp/landing
out=$tmp/out
mkdir -p "$land/pv" "$land/fail" "$land/slow" "$land/repo" "$out" "$tmp/img"
"$mkimage" "$tmp/img" >/dev/null || bail "t/mkimage failed"
start_repo_server

# rule RULE-COLLECTION EXTRA: a rule with a preview (JPEG, 256) and a
# thumbnail (PNG, 64), and EXTRA keys of previews
rule() {
	cat <<RULE
    rules:
      - match: '^(?<o>[a-z0-9_]+)\\.fits\$'
        observation: '\${o}'
        product: '\${o}'
        uri: 'cadc:$1/\${file}'
        previews:
          preview: {uri: 'cadc:$1/\${product}_prev.jpg', size: 256}
          thumbnail: {uri: 'cadc:$1/\${o}_prev_64.png', size: 64}
$2
RULE
}
conf() {
	cat <<CONF
log: stderr
state_dir: $tmp/state$1
control_socket: $tmp/control$1.sock
settle: 200ms
CONF
}
{
	conf ""
	echo "collections:"
	echo "  - name: PV"
	echo "    landing: $land/pv"
	rule PV ""
	echo "  - name: FAIL"
	echo "    landing: $land/fail"
	rule FAIL "          on_error: fail"
	echo "  - name: SLOW"
	echo "    landing: $land/slow"
	rule SLOW "          timeout: 1ms"
	echo "sink: {directory: $out}"
} > "$tmp/c.yml"
{
	conf 2
	echo "collections:"
	echo "  - name: REPO"
	echo "    landing: $land/repo"
	rule REPO ""
	echo "sink: {repo: {url: $root/torkeep/observations, timeout: 5s}}"
} > "$tmp/r.yml"

log=$tmp/daemon.log
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
"$daemon" -f -c "$tmp/r.yml" 2>>"$tmp/repo-daemon.log" & rpid=$!
stop() {
	kill -TERM "$dpid" "$rpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
}
at_exit stop
wait_for 10 test -S "$tmp/control.sock" || bail "the daemon did not start"

# land NAME SRC DIR: SRC into the landing directory DIR as NAME, renamed into place
land() { cp "$2" "$3/.$1.tmp" && mv "$3/.$1.tmp" "$3/$1"; }

# artifacts XML: one line per artifact: uri productType releaseType
# contentType contentLength contentChecksum
artifacts() {
	python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
ns = {"c": "http://www.opencadc.org/caom2/xml/v2.4"}
for a in ET.parse(sys.argv[1]).getroot().iter("{%s}artifact" % ns["c"]):
    get = lambda k: (a.findtext("c:" + k, "", ns) or "-")
    print(" ".join(get(k) for k in ("uri", "productType", "releaseType", "contentType",
                                      "contentLength", "contentChecksum")))
PY
}
md5() { echo "md5:$(md5sum "$1" | cut -d' ' -f1)"; }
size() { wc -c < "$1" | tr -d ' '; }

land stars.fits "$tmp/img/stars.fits" "$land/pv"
ok "a star field is ingested" wait_for 20 test -s "$out/PV/stars.xml"
ok "its preview is written beside the observation" test -s "$out/PV/stars_prev.jpg"
ok "and its thumbnail" test -s "$out/PV/stars_prev_64.png"
is "ffd8" "$(od -An -tx1 -N2 "$out/PV/stars_prev.jpg" | tr -d ' ')" "the preview is a JPEG"
is "89504e47" "$(od -An -tx1 -N4 "$out/PV/stars_prev_64.png" | tr -d ' ')" \
    "the thumbnail a PNG"
artifacts "$out/PV/stars.xml" > "$tmp/a1"
is "cadc:PV/stars_prev.jpg preview data image/jpeg $(size "$out/PV/stars_prev.jpg") $(md5 "$out/PV/stars_prev.jpg")" \
    "$(grep '_prev.jpg' "$tmp/a1")" "the plane has the preview: productType preview, data, its size and MD5"
is "cadc:PV/stars_prev_64.png thumbnail meta image/png $(size "$out/PV/stars_prev_64.png") $(md5 "$out/PV/stars_prev_64.png")" \
    "$(grep '_prev_64' "$tmp/a1")" "and the thumbnail: productType thumbnail, meta"
like "$(grep 'stars.fits' "$tmp/a1")" "^cadc:PV/stars.fits science data application/fits" \
    "beside the file's own artifact"
ok "the observation verifies (XSD and checksums)" "$client" verify --xsd-dir "$xsd" "$out/PV/stars.xml"
ok "the log says what was written" grep -q "stars.fits: preview cadc:PV/stars_prev.jpg written to $out/PV/stars_prev.jpg" "$log"

land spectrum.fits "$tmp/img/spectrum.fits" "$land/pv"
ok "a 1-D spectrum gets a plot" wait_for 20 test -s "$out/PV/spectrum_prev.jpg"
ok "in its plane" wait_for 5 grep -q "cadc:PV/spectrum_prev_64.png" "$out/PV/spectrum.xml"

# the file changes: new previews, new checksums in the observation
old=$(md5 "$out/PV/stars_prev.jpg")
land stars.fits "$tmp/img/gradient.fits" "$land/pv"
ok "a changed file gets a new preview" wait_for 20 sh -c "test \"\$(md5sum < '$out/PV/stars_prev.jpg' | cut -d' ' -f1)\" != '${old#md5:}'"
ok "and the observation records it" wait_for 10 sh -c "grep -q '$(md5 "$out/PV/stars_prev.jpg")' '$out/PV/stars.xml'"

# bad input: not FITS; a header for 100000 x 100000 floats with one block of data
head -c 20000 /dev/urandom > "$tmp/junk.fits"
{
	for c in "SIMPLE  =                    T" "BITPIX  =                  -32" \
	    "NAXIS   =                    2" "NAXIS1  =               100000" \
	    "NAXIS2  =               100000" "END"; do printf '%-80s' "$c"; done
	head -c $((2880 - 480)) /dev/zero | tr '\0' ' '
	head -c 2880 /dev/zero
} > "$tmp/huge.fits"
land junk.fits "$tmp/junk.fits" "$land/pv"
land huge.fits "$tmp/huge.fits" "$land/pv"
ok "a file that is not FITS: its observation is stored" wait_for 20 test -s "$out/PV/junk.xml"
ok "without previews, and a warning says why" grep -q "no preview (the observation goes on without): $land/pv/junk.fits: cfitsio: " "$log"
is "" "$(artifacts "$out/PV/junk.xml" | grep _prev)" "no preview artifact in its plane"
ok "a truncated 40 GB image: stored, without previews" wait_for 20 test -s "$out/PV/huge.xml"
ok "with a warning naming cfitsio's reason" grep -q "no preview (the observation goes on without): $land/pv/huge.fits: HDU 0: cfitsio: " "$log"

land junk.fits "$tmp/junk.fits" "$land/fail"
ok "on_error: fail: the observation fails, saying why" \
    wait_for 20 grep -q "observation FAIL/junk failed (attempt 1): preview: $land/fail/junk.fits: cfitsio: " "$log"
ok_not "and nothing is stored for it" test -e "$out/FAIL/junk.xml"

land large.fits "$tmp/img/large_2500x2100.fits" "$land/slow"
ok "a preview over its time limit (1 ms) is a warning" \
    wait_for 20 grep -q "no preview (the observation goes on without): $land/slow/large.fits: preview timed out after 1 ms" "$log"
ok "and the observation is stored" wait_for 10 test -s "$out/SLOW/large.xml"

land stars2.fits "$tmp/img/stars.fits" "$land/pv"
ok "other files keep flowing" wait_for 20 test -s "$out/PV/stars2_prev.jpg"
ok "the daemon is still running" kill -0 "$dpid"

# the repository sink: the files go to STATE_DIR/previews/COLLECTION
land stars.fits "$tmp/img/stars.fits" "$land/repo"
ok "with the repository sink the preview goes to STATE_DIR/previews" \
    wait_for 20 test -s "$tmp/state2/previews/REPO/stars_prev.jpg"
ok "and the repository's observation has it" wait_for 10 sh -c \
    "curl -s '$root/torkeep/observations/REPO/stars' | grep -q '$(md5 "$tmp/state2/previews/REPO/stars_prev.jpg")'"
