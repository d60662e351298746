#!/bin/sh
# t/verify.sh - `caom2ingest verify` agrees with the Java checksums of the
# reference vectors and fails, naming entity and checksum, on a changed copy.
. "$srcdir/t/tap.sh"

client=$top_builddir/src/caom2ingest
ref=${CAOM2INGEST_REFERENCE:-}
plan 9

"$client" verify 2>/dev/null; is 2 "$?" "verify without a file is a usage error"
"$client" verify "$tmp/missing.xml" >"$tmp/out" 2>&1; rc=$?
is 1 "$rc" "a missing file fails"
if [ -z "$ref" ] || [ ! -d "$ref/caom/checksum-vectors" ]; then
	skip 7 "CAOM reference tree absent"
	exit 0
fi
vec=$ref/caom/checksum-vectors
out=$("$client" verify "$vec"/*.xml); rc=$?
is 0 "$rc" "every checksum vector verifies"
is 4 "$(echo "$out" | grep -c ': OK$')" "four documents OK"
sed 's|<caom2:seeing>[^<]*<|<caom2:seeing>9.99<|' "$vec/SampleDerived-CAOM-2.4.xml" > "$tmp/changed.xml"
out=$("$client" verify "$tmp/changed.xml"); rc=$?
is 1 "$rc" "a copy with one value changed fails"
like "$out" "DerivedObservation [0-9a-f-]+: metaChecksum expected md5:[0-9a-f]{32} computed md5:[0-9a-f]{32}" \
	"naming the entity, the checksum, expected and computed"
like "$out" "accMetaChecksum expected" "and the accumulated checksum too"
sed 's|<caom2:collection>|<caom2:bogus>x</caom2:bogus><caom2:collection>|' "$vec/SampleDerived-CAOM-2.4.xml" > "$tmp/invalid.xml"
out=$("$client" verify "$tmp/invalid.xml" 2>&1); rc=$?
is 1 "$rc" "a document invalid against the XSD fails"
like "$out" "invalid.xml:[0-9]+" "naming the file and line"
