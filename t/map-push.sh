#!/bin/sh
# t/map-push.sh - `caom2ingest map --push` against the test repository over
# loopback: create, unchanged, update, refusal with the service's reason,
# bearer token sent and never printed, a token file others may read refused.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"

client=$top_builddir/src/caom2ingest
server=$top_builddir/t/repo-server
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
[ -x "$server" ] || skip_all "$server is not built"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
plan 16

"$server" --listen 127.0.0.1:0 --data "$tmp/data" --xsd-dir "$xsd" \
	--port-file "$tmp/port" >/dev/null 2>"$tmp/server.log" &
spid=$!
stop_server() { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; }
at_exit stop_server
wait_for 20 test -s "$tmp/port" || bail "repo-server did not start"
port=$(cat "$tmp/port")
base=http://127.0.0.1:$port/torkeep/observations
t=http://127.0.0.1:$port/_test
stat() { n=$(curl -s "$t/stats" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"); echo "${n:-0}"; }

cat > "$tmp/bp" <<'BP'
Observation.target.name = ['OBJECT']
Plane.dataProductType = image
Plane.calibrationLevel = 1
Chunk.position.axis.axis1.ctype = ['CTYPE1']
Chunk.position.axis.axis2.ctype = ['CTYPE2']
BP
mkfits "$tmp/a.fits" "OBJECT  = 'M42     '"
push() {
	"$client" map --observation TEST o1 --blueprint "$tmp/bp" \
		--lineage p1/cadc:TEST/a.fits --local "$tmp/a.fits" --push "$base" "$@"
}

push 2>"$tmp/err"
is 0 $? "a new observation is created (exit 0)"
like "$(cat "$tmp/err")" "TEST/o1 stored" "... and says so"
is 1 "$(stat PUT)" "with one PUT"
curl -s "$base/TEST/o1" > "$tmp/got.xml"
like "$(cat "$tmp/got.xml")" "<caom2:name>M42</caom2:name>" "the repository holds the mapped observation"

push 2>"$tmp/err"
is 0 $? "pushing the same mapping again succeeds"
like "$(cat "$tmp/err")" "unchanged" "... without a write"
is 0 "$(stat POST)" "no POST for an unchanged observation"

mkfits "$tmp/a.fits" "OBJECT  = 'M43     '"
push 2>"$tmp/err"
is 0 $? "a changed file updates the observation"
is 1 "$(stat POST)" "with one POST"

curl -s -X POST "$t/fault?status=400&count=1&verb=POST" >/dev/null
mkfits "$tmp/a.fits" "OBJECT  = 'M44     '"
push 2>"$tmp/err"
is 1 $? "a refused push exits 1"
like "$(cat "$tmp/err")" "not stored \(permanent failure\): POST .*HTTP 400: injected fault" \
	"... with the service's status and text"

printf 's3cr3t-token\n' > "$tmp/token"
chmod 644 "$tmp/token"
push --token-file "$tmp/token" 2>"$tmp/err"
is 1 $? "a token file its group and others may read is refused (exit 1)"
is "caom2ingest map: token file $tmp/token: mode 0644 gives access to its group or others (use 0600 or 0400)" \
	"$(cat "$tmp/err")" "... with the rule, and without the token"
chmod 600 "$tmp/token"
push --token-file "$tmp/token" 2>"$tmp/err"
is 0 $? "a push with a bearer token"
like "$(curl -s "$t/last-headers")" "Authorization: \[19 bytes\]" \
	"sends the token (the server reports its length: 'Bearer s3cr3t-token')"
ok_not "and never prints it" grep -q s3cr3t "$tmp/err"
