#!/bin/sh
# t/repo-server.sh - the test CAOM repository server (t/repo-server): every
# verb and status of NOTES.md "Repository service", ETag/If-Match, XSD
# checks, persistence, stats, fault injection and authentication.
. "$srcdir/t/tap.sh"

server=$top_builddir/t/repo-server
ref=${CAOM2INGEST_REFERENCE:-}
xsd=$ref/caom/xsd
good=$ref/caom/cases/cfht-1709071p/expected.xml
derived=$ref/caom/checksum-vectors/SampleDerived-CAOM-2.4.xml
composite=$ref/caom/checksum-vectors/SampleComposite-CAOM-2.3.xml
[ -n "$ref" ] && [ -f "$good" ] && [ -d "$xsd" ] ||
	skip_all "CAOM reference tree absent (set CAOM2INGEST_REFERENCE)"
[ -x "$server" ] || skip_all "$server is not built"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
plan 114

log=$tmp/server.log
spid=
start_server() {
	rm -f "$tmp/port"
	"$server" --listen 127.0.0.1:0 --data "$tmp/data" --xsd-dir "$xsd" \
		--port-file "$tmp/port" "$@" >"$tmp/url" 2>>"$log" &
	spid=$!
	wait_for 20 test -s "$tmp/port" || bail "repo-server did not start"
	port=$(cat "$tmp/port")
	base=http://127.0.0.1:$port/torkeep/observations
	t=http://127.0.0.1:$port/_test
}
stop_server() {
	[ -n "$spid" ] || return 0
	kill "$spid" 2>/dev/null
	wait "$spid"
	rc=$?
	spid=
	return "$rc"
}
at_exit stop_server

# http ARGS...: print the status; body in $tmp/body, headers in $tmp/hdrs.
http() {
	curl -s -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' "$@"
}
xml() { http -H 'Content-Type: application/xml' "$@"; }
hdr() { tr -d '\r' <"$tmp/hdrs" | sed -n "s/^$1: //Ip" | tail -1; }
body() { cat "$tmp/body"; }
md5() { echo "md5:$(md5sum <"$1" | cut -d' ' -f1)"; }

# Documents: the CFHT case, renamed and dated copies, and broken ones.
cp "$good" "$tmp/good.xml"
mkdoc() { # mkdoc ID DATE FILE
	sed -e "s|<caom2:observationID>1709071<|<caom2:observationID>$1<|" \
	    -e "s|caom2:id=\"00000000-0000-0000-b865-0136b3c873ca\"|& caom2:maxLastModified=\"$2\"|" \
	    "$good" >"$3"
}
mkdoc obs1 2020-01-03T00:00:00.000 "$tmp/obs1.xml"
mkdoc obs2 2020-01-01T00:00:00.000 "$tmp/obs2.xml"
mkdoc obs3 2020-01-02T00:00:00.000 "$tmp/obs3.xml"
mkdoc obs4 2020-01-02T00:00:00.000 "$tmp/obs4.xml"
sed 's|<caom2:humidity>15.88<|<caom2:humidity>20.5<|' "$good" >"$tmp/good2.xml"
sed 's|<caom2:humidity>15.88<|<caom2:humidity>30.5<|' "$good" >"$tmp/good3.xml"
head -c 5000 "$good" >"$tmp/truncated.xml"
sed 's|<caom2:intent>science<|<caom2:intent>sideways<|' "$good" >"$tmp/invalid.xml"
sed 's|caom2/xml/v2.4|caom2/xml/v9.9|' "$good" >"$tmp/badns.xml"
head -c $((21 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$tmp/big.xml"

cat >"$tmp/v25.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<caom2:Observation xmlns:caom2="http://www.opencadc.org/caom2/xml/v2.5"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:type="caom2:SimpleObservation"
    caom2:id="00000000-0000-0000-0000-000000000025">
  <caom2:collection>NEW</caom2:collection>
  <caom2:uri>caom:NEW/obs25</caom2:uri>
  <caom2:uriBucket>abc</caom2:uriBucket>
  <caom2:algorithm><caom2:name>exposure</caom2:name></caom2:algorithm>
</caom2:Observation>
XML

# --- command line ---------------------------------------------------------
"$server" --help >"$tmp/out" 2>&1
is 0 "$?" "--help exits 0"
like "$(cat "$tmp/out")" '--token-file' "and lists the options"
"$server" --bogus >/dev/null 2>&1
is 2 "$?" "an unknown option exits 2"
"$server" --listen 127.0.0.1:0 --data "$tmp/x" --xsd-dir "$tmp" >/dev/null 2>"$tmp/out"
is 1 "$?" "an --xsd-dir without schemas exits 1"
like "$(cat "$tmp/out")" 'no CAOM-2.x.xsd found' "and says why"

# --- start ----------------------------------------------------------------
start_server
like "$(cat "$tmp/url")" "^http://127\\.0\\.0\\.1:$port/torkeep/observations\$" \
	"prints the listening URL with the base path"
ok "the port file names a real port" test "$port" -gt 0

# --- GET, PUT -------------------------------------------------------------
is 404 "$(http "$base/CFHT/1709071")" "GET of a missing observation is 404"
like "$(hdr Content-Type)" '^text/plain' "errors are text/plain"
like "$(body)" 'not found: caom:CFHT/1709071' "and say what is missing"
is 200 "$(xml -T "$tmp/good.xml" "$base/CFHT/1709071")" "PUT creates: 200"
is "" "$(body)" "with an empty body"
is "$(md5 "$good")" "$(hdr ETag)" "and the new ETag"
ok "the observation is stored as DATA/CFHT/1709071.xml" \
	cmp "$tmp/data/CFHT/1709071.xml" "$good"
is "" "$(ls -A "$tmp/data/CFHT" | grep -v '^1709071.xml$')" \
	"and no temporary file is left"
is 409 "$(xml -T "$tmp/good.xml" "$base/CFHT/1709071")" "PUT again is 409"
like "$(body)" 'already exists: caom:CFHT/1709071' "with a message"
is 200 "$(http "$base/CFHT/1709071")" "GET of a stored observation is 200"
is "text/x-caom+xml" "$(hdr Content-Type)" "as text/x-caom+xml"
ok "the body is the stored document" cmp "$tmp/body" "$good"
etag=$(hdr ETag)
is "$(md5 "$good")" "$etag" "ETag is md5: of the bytes when there is no accMetaChecksum"
is 200 "$(http -I "$base/CFHT/1709071")" "HEAD works too"
is "$etag" "$(hdr ETag)" "with the same ETag"

is 200 "$(xml -T "$derived" "$base/TEST/observationID")" "PUT of a checksummed CAOM-2.4 document"
http "$base/TEST/observationID" >/dev/null
is "md5:b867568f4c08afe0717ab818486d82b0" "$(hdr ETag)" \
	"ETag is the root caom2:accMetaChecksum"
is 200 "$(xml -T "$composite" "$base/collection/observationID")" \
	"a CAOM-2.3 document validates against CAOM-2.3.xsd"
is 200 "$(xml -T "$tmp/v25.xml" "$base/NEW/obs25")" \
	"a CAOM-2.5 document validates; its ID is the last part of caom2:uri"
is 400 "$(xml -T "$tmp/v25.xml" "$base/NEW/obs26")" "and must match the path"
is 200 "$(http -H 'Content-Type: text/xml' -T "$tmp/obs1.xml" "$base/CFHT/obs1")" \
	"text/xml is accepted"
is 415 "$(http -H 'Content-Type: application/json' -T "$tmp/obs2.xml" "$base/CFHT/obs2")" \
	"another Content-Type is 415"

# --- 400 and 413 -----------------------------------------------------------
is 400 "$(xml -T "$tmp/truncated.xml" "$base/CFHT/bad")" "not well-formed XML is 400"
like "$(body)" '^not well-formed XML: line [0-9]+: ' "and says where"
is 400 "$(xml -T "$tmp/invalid.xml" "$base/CFHT/1709071x")" "an XSD-invalid document is 400"
like "$(body)" "not valid against CAOM-2.4.xsd: line [0-9]+: .*intent" \
	"and names the schema and the element"
is 400 "$(xml -T "$tmp/badns.xml" "$base/CFHT/1709071")" "an unknown namespace is 400"
like "$(body)" "unsupported namespace 'http://www.opencadc.org/caom2/xml/v9.9'" "and says so"
is 400 "$(xml -T "$tmp/good.xml" "$base/OTHER/1709071")" "a collection differing from the path is 400"
like "$(body)" 'document is caom:CFHT/1709071 but the path names caom:OTHER/1709071' \
	"and names both"
is 400 "$(xml -T "$tmp/good.xml" "$base/CFHT/1709072")" "an observationID differing from the path is 400"
is 400 "$(xml --data-binary '' "$base/CFHT/empty" -X PUT)" "an empty body is 400"
ok "no rejected document was stored" test ! -e "$tmp/data/OTHER/1709071.xml" -a \
	! -e "$tmp/data/CFHT/1709072.xml" -a ! -e "$tmp/data/CFHT/bad.xml"
is 413 "$(xml -T "$tmp/big.xml" "$base/CFHT/big")" "a 21 MiB body is 413"
like "$(body)" 'exceeds the limit of 20971520' "and gives the limit"
is 413 "$(xml -H 'Transfer-Encoding: chunked' -T "$tmp/big.xml" "$base/CFHT/big")" \
	"a 21 MiB chunked body is 413 too"
is 405 "$(http -X PATCH "$base/CFHT/1709071")" "an unknown verb is 405"
is "GET, HEAD, PUT, POST, DELETE" "$(hdr Allow)" "with Allow"
is 404 "$(http "http://127.0.0.1:$port/elsewhere")" "a path outside the base is 404"

# --- POST, If-Match, DELETE ------------------------------------------------
is 404 "$(xml -X POST --data-binary @"$tmp/obs2.xml" "$base/CFHT/obs2")" \
	"POST of a missing observation is 404"
is 412 "$(xml -X POST -H 'If-Match: md5:00000000000000000000000000000000' \
	--data-binary @"$tmp/good2.xml" "$base/CFHT/1709071")" "POST with a stale If-Match is 412"
http "$base/CFHT/1709071" >/dev/null
ok "and changes nothing" cmp "$tmp/body" "$good"
is 200 "$(xml -X POST -H "If-Match: $etag" --data-binary @"$tmp/good2.xml" \
	"$base/CFHT/1709071")" "POST with the current If-Match is 200"
is 200 "$(http "$base/CFHT/1709071")" "GET after POST"
ok "returns the new document" cmp "$tmp/body" "$tmp/good2.xml"
is "$(md5 "$tmp/good2.xml")" "$(hdr ETag)" "with a new ETag"
is 200 "$(xml -X POST -H "If-Match: \"$(md5 "$tmp/good2.xml")\"" \
	--data-binary @"$tmp/good.xml" "$base/CFHT/1709071")" "a quoted If-Match matches"
is 200 "$(xml -X POST --data-binary @"$tmp/good3.xml" "$base/CFHT/1709071")" \
	"POST without If-Match replaces"
is 400 "$(xml -X POST --data-binary @"$tmp/invalid.xml" "$base/CFHT/1709071")" \
	"POST of an invalid document is 400"
is 200 "$(http -X DELETE "$base/CFHT/obs1")" "DELETE is 200"
ok "and removes the file" test ! -e "$tmp/data/CFHT/obs1.xml"
is 404 "$(http "$base/CFHT/obs1")" "GET after DELETE is 404"
is 404 "$(http -X DELETE "$base/CFHT/obs1")" "DELETE again is 404"

# --- concurrency: PUT-exists and If-Match are atomic with the write -------
race() { # race N URL ARGS...: N parallel requests, statuses sorted
	n=$1; shift; url=$1; shift; i=0
	while [ "$i" -lt "$n" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/xml' \
			"$@" "$url" >"$tmp/race.$i" &
		i=$((i + 1))
	done
	wait_races "$n"
}
wait_races() {
	i=0
	while [ "$i" -lt "$1" ]; do
		wait_for 20 test -s "$tmp/race.$i"
		cat "$tmp/race.$i"
		rm -f "$tmp/race.$i"
		i=$((i + 1))
	done | sort | uniq -c | awk '{printf "%s%sx%s", sep, $2, $1; sep=" "}'
}
is "200x1 409x7" "$(race 8 "$base/CFHT/obs2" -T "$tmp/obs2.xml")" \
	"8 parallel PUTs of one observation: one 200, seven 409"
cur=$(md5 "$tmp/obs2.xml")
i=0
while [ "$i" -lt 8 ]; do
	sed "s|<caom2:humidity>15.88<|<caom2:humidity>$i.5<|" "$tmp/obs2.xml" >"$tmp/post.$i"
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/xml' \
		-H "If-Match: $cur" -X POST --data-binary @"$tmp/post.$i" \
		"$base/CFHT/obs2" >"$tmp/race.$i" &
	i=$((i + 1))
done
is "200x1 412x7" "$(wait_races 8)" \
	"8 parallel POSTs with one If-Match: one 200, seven 412"
xml -X POST --data-binary @"$tmp/obs2.xml" "$base/CFHT/obs2" >/dev/null

# --- listing ---------------------------------------------------------------
is 200 "$(xml -T "$tmp/obs3.xml" "$base/CFHT/obs3")" "PUT obs3"
is 200 "$(xml -T "$tmp/obs4.xml" "$base/CFHT/obs4")" "PUT obs4"
is 200 "$(xml -T "$tmp/obs1.xml" "$base/CFHT/obs1")" "PUT obs1 again"
listing() { http "$base/CFHT$1" >/dev/null; cut -f1-3 "$tmp/body" | grep -v '	1709071	' | tr '\t\n' ' ;'; }
want="CFHT obs2 2020-01-01T00:00:00.000;CFHT obs3 2020-01-02T00:00:00.000;CFHT obs4 2020-01-02T00:00:00.000;CFHT obs1 2020-01-03T00:00:00.000;"
is "$want" "$(listing '')" "the listing is sorted by maxLastModified, then observationID"
is 200 "$(http "$base/CFHT")" "listing is 200"
like "$(hdr Content-Type)" '^text/tab-separated-values' "as TSV"
like "$(grep '	obs2	' "$tmp/body")" "^CFHT	obs2	2020-01-01T00:00:00.000	$(md5 "$tmp/obs2.xml")\$" \
	"with collection, observationID, maxLastModified and accMetaChecksum"
like "$(grep '	1709071	' "$tmp/body" | cut -f3)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}$' \
	"an undated document lists its write time"
is "CFHT obs2 2020-01-01T00:00:00.000;CFHT obs3 2020-01-02T00:00:00.000;" \
	"$(listing '?maxrec=2')" "maxrec limits the rows"
is "CFHT obs3 2020-01-02T00:00:00.000;CFHT obs4 2020-01-02T00:00:00.000;" \
	"$(listing '?start=2020-01-02&end=2020-01-02T12:00:00.000')" "start and end filter on maxLastModified"
is 400 "$(http "$base/CFHT?start=yesterday")" "a bad start date is 400"
is 400 "$(http "$base/CFHT?maxrec=-1")" "a bad maxrec is 400"
is 404 "$(http "$base/NOSUCH")" "an unknown collection is 404"

# --- persistence -----------------------------------------------------------
before=$(http "$base/CFHT" >/dev/null; cat "$tmp/body")
stop_server
is 0 "$?" "SIGTERM stops the server with status 0"
start_server
is "$before" "$(http "$base/CFHT" >/dev/null; cat "$tmp/body")" "a restarted server lists the same observations"
is 200 "$(http "$base/TEST/observationID")" "and serves them"
is "md5:b867568f4c08afe0717ab818486d82b0" "$(hdr ETag)" "with the same ETag"

# --- stats -------------------------------------------------------------------
is 200 "$(http -X POST "$t/reset-stats")" "reset-stats"
http "$base/CFHT/1709071" >/dev/null
http "$base/CFHT/nope" >/dev/null
xml -T "$tmp/good.xml" "$base/CFHT/1709071" >/dev/null
http -X DELETE "$base/CFHT/obs4" >/dev/null
is 200 "$(http "$t/stats")" "stats"
is "application/json" "$(hdr Content-Type)" "as JSON"
is '{"GET":2,"HEAD":0,"PUT":1,"POST":0,"DELETE":1,"OTHER":0,"dropped":0,"status":{"200":2,"404":1,"409":1}}' \
	"$(body)" "counts requests per verb and per status"

# --- faults ------------------------------------------------------------------
http -X POST "$t/reset-stats" >/dev/null
is 400 "$(http -X POST "$t/fault?count=2")" "a fault needs a kind"
is 200 "$(http -X POST "$t/fault?status=503&count=2&retry_after=7&verb=PUT")" "add a 503 fault for PUT"
is 200 "$(http "$base/CFHT/1709071")" "GET does not match it"
is 503 "$(xml -T "$tmp/obs4.xml" "$base/CFHT/obs4")" "PUT gets 503"
is 7 "$(hdr Retry-After)" "with Retry-After"
is 503 "$(xml -T "$tmp/obs4.xml" "$base/CFHT/obs4")" "twice"
ok "without storing anything" test ! -e "$tmp/data/CFHT/obs4.xml"
is 200 "$(xml -T "$tmp/obs4.xml" "$base/CFHT/obs4")" "then the fault is used up"
http -X POST "$t/fault?status=504&count=1" >/dev/null
is 504 "$(http -X DELETE "$base/CFHT/obs4")" "a fault without a verb matches any"
is 200 "$(http "$base/CFHT/obs4")" "and the DELETE had no effect"
http -X POST "$t/fault?delay_ms=600&count=1" >/dev/null
s=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$base/CFHT/obs4")
like "$s" '^200 (0\.[6-9]|[1-9])' "a delay fault delays the response ($s)"
http -X POST "$t/fault?drop=1&count=2" >/dev/null
curl -s -o /dev/null "$base/CFHT/obs4"; rc=$?
ok "a drop fault closes the connection without a response (curl $rc)" test "$rc" = 52 -o "$rc" = 56
curl -s -o /dev/null -H 'Content-Type: application/xml' -T "$tmp/obs3.xml" "$base/CFHT/obs3"; rc=$?
ok "also for a request with a body (curl $rc)" test "$rc" = 52 -o "$rc" = 56
is 200 "$(http "$base/CFHT/obs4")" "and the server carries on"
http -X POST "$t/fault?status=500&count=5" >/dev/null
http -X POST "$t/clear-faults" >/dev/null
is 200 "$(http "$base/CFHT/obs4")" "clear-faults removes pending faults"
http "$t/stats" >/dev/null
like "$(body)" '"dropped":2,' "stats count dropped connections"
like "$(body)" '"503":2,"504":1' "and injected statuses"

# --- authentication ------------------------------------------------------
stop_server
token=s3cr3t-$$-token-value
printf '%s\n' "$token" >"$tmp/token"
chmod 600 "$tmp/token"
start_server --token-file "$tmp/token" --basic "alice:pa55word"
is 401 "$(http "$base/CFHT/obs4")" "without credentials: 401"
like "$(tr -d '\r' <"$tmp/hdrs")" 'WWW-Authenticate: Bearer' "with WWW-Authenticate"
is 401 "$(xml -T "$tmp/obs4.xml" "$base/CFHT/obs9")" "a PUT without credentials: 401"
is 401 "$(http -H "Authorization: Bearer wrong-$token" "$base/CFHT/obs4")" "a wrong token: 401"
is 200 "$(http -H "Authorization: Bearer $token" "$base/CFHT/obs4")" "the right token: 200"
http "$t/last-headers" >/dev/null
like "$(body)" "^Authorization: \\[$((${#token} + 7)) bytes\\]\$" \
	"last-headers shows the Authorization length"
ok "but not the token" sh -c "! grep -q -- '$token' '$tmp/body'"
is 200 "$(http -u alice:pa55word "$base/CFHT/obs4")" "HTTP basic: 200"
is 401 "$(http -u alice:wrong "$base/CFHT/obs4")" "wrong basic password: 401"
stop_server
is 0 "$?" "the server stops cleanly"
ok "the server log never contains the token" sh -c "! grep -q -- '$token' '$log'"
ok "the log has one line per request" grep -q '^GET /torkeep/observations/CFHT/obs4 200 in=0 out=[0-9]* [0-9]*us$' "$log"
ok "no sanitizer report" sh -c "! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' '$log'"
