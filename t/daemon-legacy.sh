#!/bin/sh
# t/daemon-legacy.sh - a rule with a legacy fits2caom2 triple
# (config/default/override): the daemon maps a reference case's header
# dump into the same observation as the reference tools' expected.xml (all
# but the artifact's length, checksum and type, which come from the dump's
# own bytes here); a legacy file that cannot be read is a configuration
# error naming it; blueprint and legacy together are refused.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
ref=${CAOM2INGEST_REFERENCE:-}
case=$ref/caom/cases/cfht-1916216i
[ -n "$ref" ] && [ -d "$case" ] || skip_all "CAOM reference tree absent (../shared/reference)"
plan 6

land=$tmp/landing
out=$tmp/out
mkdir -p "$land" "$out" "$tmp/staging"
cat > "$tmp/c.yml" <<CONF
log: stderr
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
collections:
  - name: CFHT
    landing: $land
    rules:
      - match: '^(?<obs>[0-9]{7})(?<kind>[a-z])\\.fits\\.header\$'
        observation: '\${obs}'
        product: '\${obs}\${kind}'
        uri: 'cadc:CFHT/\${obs}\${kind}.fits.gz'
        legacy:
          config: $case/1916216i.config
          default: $case/caom2espadons.default
          override: $case/1916216i.override
sink:
  directory: $out
CONF
ok "the configuration with a legacy triple is valid" "$daemon" --check-config -c "$tmp/c.yml"

log=$tmp/daemon.log
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 grep -q 'started' "$log"
cp "$case/1916216i.fits.header" "$tmp/staging/1916216i.fits.header"
mv "$tmp/staging/1916216i.fits.header" "$land/1916216i.fits.header"
ok "the header dump is mapped and stored" wait_for 20 test -s "$out/CFHT/1916216.xml"

# the artifact's length, checksum and type describe the dump here, the
# archived .fits.gz in expected.xml: compare everything else
strip() {
	python3 - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = "http://www.opencadc.org/caom2/xml/v2.4"
ET.register_namespace("caom2", ns)
ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
t = ET.parse(sys.argv[1])
for a in t.getroot().iter("{%s}artifact" % ns):
    for name in ("contentLength", "contentChecksum", "contentType"):
        for e in a.findall("{%s}%s" % (ns, name)):
            a.remove(e)
t.write(sys.argv[2], xml_declaration=True, encoding="UTF-8")
PY
}
strip "$case/expected.xml" "$tmp/expected.xml"
strip "$out/CFHT/1916216.xml" "$tmp/actual.xml"
diff=$(python3 "$srcdir/t/caom-compare.py" "$tmp/expected.xml" "$tmp/actual.xml" 2>&1)
is "" "$diff" "the daemon's observation equals the reference's expected.xml"
like "$(grep warning "$log")" "legacy mapping: .*1916216i.override:20: WCSAXES: names no CAOM attribute" \
	"names the legacy files leave unresolved are logged with file and line, as map prints them"

# configuration errors
sed -e 's|override: .*1916216i.override|override: '"$tmp"'/missing.override|' "$tmp/c.yml" > "$tmp/bad.yml"
"$daemon" --check-config -c "$tmp/bad.yml" > "$tmp/bad.out" 2>&1
like "$(cat "$tmp/bad.out")" "legacy: .*missing.override" "a missing override file is a configuration error naming it"
sed -e "s|        legacy:|        blueprint: $tmp/x.blueprint\\n        legacy:|" "$tmp/c.yml" > "$tmp/both.yml"
"$daemon" --check-config -c "$tmp/both.yml" > "$tmp/both.out" 2>&1
like "$(cat "$tmp/both.out")" "blueprint and legacy exclude each other" "blueprint and legacy together are refused"
