#!/bin/sh
# t/http.sh - the operators' endpoint of the real daemon (http:): /metrics
# read by the reference Prometheus parser and checked against what the
# daemon did, the status page loaded in a real headless Chromium during a
# burst (its DOM checked for the counts and a failure with its reason),
# /status.json against `caom2ingest --json status`, an observation's page,
# HTML escaping, 1,000 concurrent scrapes while ingesting, malformed
# requests, and the bearer token refused and accepted (after a reload).
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
command -v curl >/dev/null || skip_all "curl not installed"
py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then py=$p; break; fi
done
chromium=$(command -v chromium || command -v chromium-browser || true)
plan 65

N=400		# the burst
land=$tmp/landing
out=$tmp/out
mkdir -p "$land/omm" "$land/bad" "$out" "$tmp/chrome"
printf 'Observation.type = OBJECT\nObservation.bogus = 1\n' > "$tmp/bad.blueprint"
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
http:
  listen: 127.0.0.1:0
  refresh: 200ms
collections:
  - name: OMM
    landing: $land/omm
    rules:
      - match: '^(?<obs>C[0-9]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}'
        uri: 'cadc:OMM/\${file}'
  - name: BAD
    landing: $land/bad
    rules:
      - match: '^(?<o>.+)\\.fits\$'
        observation: '\${o}'
        product: '\${o}'
        uri: 'cadc:BAD/\${file}'
        blueprint: $tmp/bad.blueprint
sink:
  directory: $out
CONF
log=$tmp/daemon.log
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 grep -q '(port [0-9]*)' "$log" || bail "no http port in the log"
port=$(sed -n 's/.*http listen 127.0.0.1:0 (port \([0-9]*\)).*/\1/p' "$log" | head -1)
url=http://127.0.0.1:$port
ok "the daemon says where it listens" test -n "$port"

# The metrics of the daemon, parsed by the reference parser, one sample a line.
metrics() { curl -sf "$url/metrics" > "$tmp/m.txt" && "$py" "$srcdir/t/prom-check.py" < "$tmp/m.txt"; }
sample() { metrics 2>/dev/null | grep -F "$1 " | awk '{print $NF}'; }

if [ -n "$py" ]; then
	out0=$(metrics 2>"$tmp/err"); rc=$?
	is 0 "$rc" "the reference Prometheus parser reads /metrics (and every histogram is one)"
	[ "$rc" -eq 0 ] || diag "$(cat "$tmp/err")"
	like "$out0" '^caom2ingest_build_info\{version="[0-9.]+"\} 1$' "build info"
	like "$out0" '^caom2ingest_files_seen_total\{collection="OMM"\} 0$' \
		"a configured collection is there before any file"
else
	skip 3 "python3-prometheus-client not installed"
fi
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$url/metrics")
is "text/plain; version=0.0.4; charset=utf-8" "$ctype" "the exposition format's content type"

# The burst: N files renamed in, one bad file, and a file whose name needs escaping.
burst() {
	i=1
	while [ $i -le $N ]; do
		echo "data $i" > "$tmp/C$i.fits" && mv "$tmp/C$i.fits" "$land/omm/C$i.fits"
		i=$((i + 1))
	done
}
burst & bpid=$!
echo 'not FITS' > "$tmp/b1.fits" && mv "$tmp/b1.fits" "$land/bad/b1.fits"
echo 'not FITS' > "$tmp/x.fits" && mv "$tmp/x.fits" "$land/bad/<i>x&y.fits"

chrome() {
	timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	    --disable-background-networking --disable-component-update --disable-sync \
	    --user-data-dir="$tmp/chrome" --window-size=1400,1000 "$@" 2>>"$tmp/chrome.log"
}

# 1,000 scrapes at once while the burst goes on: four curls, 250 transfers in parallel each.
wait_for 10 test -e "$land/omm/C20.fits"
scrapes() {
	i=0; : > "$tmp/urls.$1"
	while [ $i -lt 250 ]; do echo "url = \"$url/metrics\""; echo "output = /dev/null"; i=$((i + 1)); done > "$tmp/urls.$1"
	curl -s -Z --parallel-max 250 --parallel-immediate -w '%{http_code}\n' -K "$tmp/urls.$1" > "$tmp/codes.$1" 2>/dev/null
}
scrapes 1 & s1=$!; scrapes 2 & s2=$!; scrapes 3 & s3=$!; scrapes 4 & s4=$!
if [ -n "$chromium" ]; then
	chrome --dump-dom "$url/" > "$tmp/during.html"
	like "$(cat "$tmp/during.html")" 'id="c-OMM-done"' "Chromium loads the status page during the burst"
	done_during=$(sed -n 's/.*id="c-OMM-done">\([0-9]*\)<.*/\1/p' "$tmp/during.html")
	diag "observations of OMM done when the page was loaded during the burst: $done_during"
else
	skip 1 "chromium not installed"
fi
wait $s1 $s2 $s3 $s4
codes=$(cat "$tmp"/codes.* | sort | uniq -c | sed 's/^ *//')
is "1000 200" "$codes" "1,000 concurrent scrapes while ingesting: all answered 200"
wait $bpid
ok "the burst is ingested" wait_for 120 test -e "$out/OMM/C$N.xml"
ok "the bad files fail" wait_for 30 sh -c "grep -q 'observation BAD/b1 failed' '$log' &&
	grep -q 'observation BAD/<i>x&y failed' '$log'"
# quiet: every observation done or failed, and the counts of the store read again
quiet() {
	st=$("$client" -s "$tmp/control.sock" --json status) || return 1
	echo "$st" | "${py:-python3}" -c "
import json, sys
s = json.load(sys.stdin)
o = s['observations']
sys.exit(0 if o['done'] == $N and o['failed'] == 2 and s['settling'] == 0 and
         s['jobs']['running'] == 0 else 1)"
}
ok "the daemon is quiet" wait_for 60 quiet

if [ -n "$py" ]; then
	wait_for 10 sh -c "curl -s '$url/metrics' | grep -q 'caom2ingest_observations_by_status{status=\"done\"} $N'"
	m=$(metrics)
	for c in seen settled classified; do
		like "$m" "^caom2ingest_files_${c}_total\\{collection=\"OMM\"\\} $N\$" \
			"$N files landed: files_${c}_total{OMM} is $N"
	done
	like "$m" '^caom2ingest_files_classified_total\{collection="BAD"\} 2$' "and 2 of BAD"
	like "$m" "^caom2ingest_observations_stored_total\\{collection=\"OMM\"\\} $N\$" \
		"observations_stored_total{OMM} is $N"
	like "$m" "^caom2ingest_observations\\{collection=\"OMM\",state=\"done\"\\} $N\$" \
		"observations{OMM,done} is $N"
	like "$m" '^caom2ingest_observations\{collection="BAD",state="failed"\} 2$' \
		"observations{BAD,failed} is 2"
	like "$m" '^caom2ingest_attempt_failures_total\{class="mapping",collection="BAD",outcome="failed"\} 2$' \
		"the failures are counted by reason class: mapping"
	like "$m" '^caom2ingest_attempt_failures_total\{class="network",collection="OMM",outcome="retry"\} 0$' \
		"and no other"
	jobs=$(echo "$m" | sed -n 's/^caom2ingest_stage_duration_seconds_count{stage="job"} //p')
	is "$((N + 2))" "$jobs" "the job latency histogram counts every attempt"
	lag=$(echo "$m" | sed -n 's/^caom2ingest_ingest_lag_seconds_count //p')
	is "$N" "$lag" "the ingest lag histogram counts every observation stored"
	like "$m" "^caom2ingest_stored_file_bytes_total\\{collection=\"OMM\"\\} [1-9][0-9]*\$" \
		"bytes stored are counted"
	like "$m" '^caom2ingest_last_success_timestamp_seconds\{collection="OMM"\} 1[0-9]{9}' \
		"the last success per collection is a time"
	like "$m" '^caom2ingest_scan_duration_seconds_count 1$' "the start-up scan is timed"
	like "$m" '^caom2ingest_jobs_running 0$' "no job runs"
	# the numbers of caom2ingest status, in the metrics and in /status.json
	st=$("$client" -s "$tmp/control.sock" --json status)
	want=$(echo "$st" | "$py" -c '
import json, sys
s = json.load(sys.stdin)
for k in ("files", "observations"):
    for s2, n in sorted(s[k].items()):
        print(k, s2, n)')
	seen=$(echo "$m" | sed -n -e 's/^caom2ingest_files{status="\([a-z]*\)"} \([0-9]*\)$/files \1 \2/p' \
		-e 's/^caom2ingest_observations_by_status{status="\([a-z]*\)"} \([0-9]*\)$/observations \1 \2/p' | sort)
	is "$want" "$seen" "the metrics hold the numbers caom2ingest status prints"
	js=$(curl -sf "$url/status.json")
	same=$(printf '%s\n%s\n' "$st" "$js" | "$py" -c '
import json, sys
text = sys.stdin.read()
dec = json.JSONDecoder()
a, i = dec.raw_decode(text)
b, _ = dec.raw_decode(text[i:].lstrip())
for d in (a, b):
    d.pop("uptime")
print("same" if a == b else "differ: %r\n%r" % (a, b))')
	is "same" "$same" "/status.json is what caom2ingest --json status prints"
else
	skip 19 "python3-prometheus-client not installed"
fi

if [ -n "$chromium" ]; then
	chrome --dump-dom "$url/" > "$tmp/after.html"
	dom=$(cat "$tmp/after.html")
	like "$dom" "id=\"c-OMM-done\">$N<" "the page: OMM's observations done"
	like "$dom" 'id="c-BAD-failed">2<' "the page: BAD's failed"
	like "$dom" "id=\"obs-done\">$N<" "the page: observations done, as status counts them"
	like "$dom" "id=\"files-done\">$N<" "the page: files done"
	row=$(grep '<tr class="failure">' "$tmp/after.html" | grep 'href="/observations/BAD/b1"')
	like "$row" "unknown key 'Observation.bogus'" "a failure is shown with its reason"
	like "$row" 'class="bad">failed' "and its state"
	like "$dom" 'href="/observations/BAD/%3Ci%3Ex%26y"' "a name is encoded in a link"
	like "$dom" 'BAD/&lt;i&gt;x&amp;y' "and escaped in the page"
	ok_not "no element comes from a name" grep -q '<i>x' "$tmp/after.html"
	like "$dom" '<meta http-equiv="refresh"' "the page reloads itself"
	chrome --screenshot="$tmp/status.png" "$url/" >/dev/null
	ok "Chromium takes a screenshot of it" sh -c "head -c 8 '$tmp/status.png' | od -An -tx1 | grep -q '89 50 4e 47'"
	if [ -n "${CAOM2INGEST_SCREENSHOT:-}" ]; then cp "$tmp/status.png" "$CAOM2INGEST_SCREENSHOT"; fi
	chrome --dump-dom "$url/observations/BAD/b1" > "$tmp/obs.html"
	obs=$(cat "$tmp/obs.html")
	like "$obs" 'id="last-error" class="err">.*unknown key' "an observation's page: its last error"
	like "$obs" 'class="bad">failed</td>' "its history ends failed"
	like "$obs" '<td class="">classified</td>' "after classified"
	like "$obs" 'b1.fits</td><td class="n">9</td>' "its files"
	chrome --dump-dom "$url/observations/OMM/C1" > "$tmp/obs1.html"
	like "$(cat "$tmp/obs1.html")" '&lt;caom2:observationID&gt;C1&lt;/caom2:observationID&gt;' \
		"the stored document, escaped"
else
	skip 16 "chromium not installed"
fi

# the life cycle on the command line
out1=$("$client" -s "$tmp/control.sock" show OMM/C1)
like "$out1" 'history +[0-9-]+ [0-9:.]+  landed +.*/C1.fits' "show prints the history: landed"
like "$out1" 'classified .*C1.fits: product C1' "classified"
like "$out1" 'storing +attempt 1' "storing, with the attempt"
like "$out1" 'done +stored \(md5:' "done"
out1=$("$client" -s "$tmp/control.sock" list --state failed)
like "$out1" 'BAD +b1 +failed +failed' "list --state failed"
n=$("$client" -s "$tmp/control.sock" --json list --state done --collection OMM --limit 5000 |
	grep -c '"state": "done"')
is "$N" "$n" "list --state takes a life-cycle state"

# malformed and refused requests
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
is 405 "$(code -X POST "$url/metrics")" "POST: 405"
like "$(curl -s -D - -o /dev/null -X DELETE "$url/")" 'Allow: GET, HEAD' "with Allow"
is 400 "$(code -X GET --data-binary x "$url/metrics")" "a GET with a body: 400"
is 404 "$(code "$url/nope")" "an unknown page: 404"
is 400 "$(code "$url/observations/OMM")" "an observation without an ID: 400"
is 404 "$(code "$url/observations/OMM/nope")" "an unknown observation: 404"
if [ -n "$py" ]; then
	raw() {	# send bytes ($2, a Python literal) on a connection; the answer's first line
		"$py" -c '
import ast, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(ast.literal_eval(sys.argv[2]))
data = b""
try:
    while not data.endswith(b"\r\n") and b"\r\n" not in data:
        d = s.recv(4096)
        if not d: break
        data += d
except OSError:
    pass
print(data.split(b"\r\n")[0].decode("latin-1") or "closed")' "$port" "$1"
	}
	like "$(raw 'b"GET /metrics HTTP/1.1\r\nNoColonHere\r\n\r\n"')" '^HTTP/1.1 400' \
		"a header line without a colon: 400"
	like "$(raw 'b"GET /metrics HTTP/9.9\r\n\r\n"')" '^HTTP/1.1 505' "an unknown HTTP version: 505"
else
	skip 2 "no python3"
fi
is 200 "$(code "$url/status.json")" "and the daemon answers on"

# the bearer token, set by a reload
echo ' s3cr3t-t0ken ' > "$tmp/token" && chmod 600 "$tmp/token"
sed -i "s|  refresh: 200ms|  refresh: 200ms\\n  token_file: $tmp/token|" "$tmp/c.yml"
"$client" -s "$tmp/control.sock" reload >/dev/null
is 401 "$(code "$url/metrics")" "after a reload with token_file: no token, 401"
like "$(curl -s -D - -o /dev/null "$url/")" 'WWW-Authenticate: Bearer' "asking for a bearer token"
is 401 "$(code -H 'Authorization: Bearer wrong' "$url/metrics")" "a wrong token: 401"
is 200 "$(code -H 'Authorization: Bearer s3cr3t-t0ken' "$url/metrics")" "the token: 200"
ok_not "the token never reaches the log" grep -q 's3cr3t' "$log"
ok "the refusals are logged with the peer" grep -q 'http: refused a request from 127.0.0.1:[0-9]*: 401 wrong bearer token' "$log"
kill -0 "$dpid"; is 0 "$?" "the daemon is still running"
