#!/bin/sh
# t/wait.sh - reingest, rescan and reload --wait against the real daemon and
# the test repository: the outcome of a stored, a retried and a refused
# observation, --json, a rescan that finds a file nothing noticed, a refused
# reload, --timeout, progress only on a terminal, a client killed while
# waiting, requests queued behind a wait, an old daemon, a daemon stopping.
. "$srcdir/t/tap.sh"
. "$srcdir/t/repo.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
command -v curl >/dev/null || skip_all "curl not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 63

land=$tmp/landing
pland=$tmp/polled
mkdir -p "$land" "$pland" "$tmp/data"
start_repo_server
sock=$tmp/control.sock
# POLL is watched by rescans only, and the periodic ones are an hour apart:
# a file dropped there is found by an explicit rescan and nothing else.
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $sock
settle: 200ms
rescan_interval: 1h
poll_interval: 1h
collections:
  - name: OMM
    landing: $land
    rules:
      - match: '^(?<obs>C[0-9]+)_(?<kind>[A-Z]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}_\${kind}'
        uri: 'cadc:OMM/\${file}'
  - name: POLL
    landing: $pland
    poll: true
    rules:
      - match: '^(?<obs>P[0-9]+)_(?<kind>[A-Z]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}_\${kind}'
        uri: 'cadc:POLL/\${file}'
sink:
  repo:
    url: $root/torkeep/observations
    timeout: 20s
    concurrency: 2
    retry: {initial: 200ms, max: 400ms, attempts: 3}
CONF
log=$tmp/daemon.log
db=$tmp/state/state.db
st() { sqlite3 "$db" "select status from observations where observation='$1'" 2>/dev/null; }
fault() { curl -s -X POST "$root/_test/fault?$1" >/dev/null; }
waiting() { "$client" -s "$sock" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["tickets"]["waiting"])'; }
waiting_is() { test "$(waiting)" = "$1"; }
st_is() { test "$(st "$1")" = "$2"; }
start() { "$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!; wait_for 10 test -S "$sock"; }
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
start
echo x > "$land/C1_SCI.fits"
echo x > "$land/C2_SCI.fits"
wait_for 20 st_is C1 done && wait_for 20 st_is C2 done ||
	bail "the first observations were not stored"

# The protocol: revision 2 in the greeting, an unknown ticket.
python3 - "$sock" > "$tmp/raw.out" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
print(json.loads(f.readline()).get("revision"))
s.sendall(b'{"command":"wait","ticket":999999}\n'); print(json.loads(f.readline()).get("error"))
PY
is 2 "$(sed -n 1p "$tmp/raw.out")" "the greeting says control protocol revision 2"
like "$(sed -n 2p "$tmp/raw.out")" "^no ticket 999999 " "wait for an unknown ticket is refused"

# Stored: the client returns once it is, with the outcome; stderr (not a
# terminal) stays silent although the wait lasts more than a second.
fault "delay_ms=1500&count=1&verb=GET"
out=$("$client" -s "$sock" reingest --wait OMM/C1 2>"$tmp/err"); rc=$?
is 0 "$rc" "reingest --wait of an observation that is stored exits 0"
is "done" "$(st C1)" "it returned once the observation was stored (the GET took 1.5 s)"
like "$out" "^queued OMM/C1$" "it says what it queued"
like "$out" "^1 observation: 1 done, 0 failed$" "and the outcome"
is "" "$(cat "$tmp/err")" "no progress when stderr is not a terminal"

# Refused for good: exit 1, and the observation with its error.
fault "status=400&count=1&verb=GET"
out=$("$client" -s "$sock" reingest --wait OMM/C1 2>"$tmp/err"); rc=$?
is 1 "$rc" "reingest --wait of an observation that fails for good exits 1"
like "$out" "^1 observation: 0 done, 1 failed$" "the outcome counts the failure"
like "$out" "^failed OMM/C1: .*400" "and names the observation with its last error"
is "failed" "$(st C1)" "as the state store has it"

# Retries are not final: two 503s, then stored.
fault "status=503&count=2&verb=GET"
out=$("$client" -s "$sock" reingest --wait OMM/C1); rc=$?
is 0 "$rc" "an observation that is retried, then stored, exits 0"
like "$out" "^1 observation: 1 done, 0 failed$" "and counts as done"
ok "after two retries" grep -q "observation OMM/C1 will be retried (attempt 2)" "$log"

# Queued again while an attempt runs: that attempt does not count, the next does
# (both GETs are slow; the repository counts a request when it answers).
gets() { curl -s "$root/_test/stats" | python3 -c "import json,sys; print(json.load(sys.stdin).get('GET', 0))"; }
fault "delay_ms=1500&count=2&verb=GET"
"$client" -s "$sock" reingest OMM/C1 >/dev/null
wait_for 5 st_is C1 running
g0=$(gets)
out=$("$client" -s "$sock" reingest --wait OMM/C1); rc=$?
g1=$(gets)
is 0 "$rc" "reingest --wait while an attempt runs exits 0"
is 2 "$((g1 - g0))" "only after the attempt that started after it (two GETs, not one)"

# A reload in the middle of a wait: the new pipeline takes the work over.
fault "delay_ms=1500&count=1&verb=GET"
"$client" -s "$sock" reingest --wait OMM/C2 >"$tmp/out" 2>&1 & cpid=$!
wait_for 5 st_is C2 running
"$client" -s "$sock" reload >/dev/null
wait "$cpid"; rc=$?
is 0 "$rc" "a wait lasts through a reload"
like "$(cat "$tmp/out")" "^1 observation: 1 done, 0 failed$" "and reports the observation stored"

# --json: one object, parsed, for success and for failure.
json=$("$client" -s "$sock" --json reingest --wait OMM/C1 2>"$tmp/err"); rc=$?
is 0 "$rc" "--json reingest --wait exits 0"
ok "--json: the outcome parses (ticket, queued, 1 done)" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["ok"] is True and isinstance(j["ticket"], int), j
assert j["queued"] == [{"collection": "OMM", "observation": "C1"}], j
o = j["outcome"]
assert (o["total"], o["done"], o["failed"], o["failures"]) == (1, 1, 0, []), o
' "$json"
fault "status=400&count=1&verb=GET"
json=$("$client" -s "$sock" --json reingest --wait OMM/C1 2>/dev/null); rc=$?
is 1 "$rc" "--json: a failure exits 1"
ok "--json: the failure with its error" python3 -c '
import json, sys
o = json.loads(sys.argv[1])["outcome"]
assert o["failed"] == 1 and o["done"] == 0, o
f = o["failures"][0]
assert (f["collection"], f["observation"]) == ("OMM", "C1") and "400" in f["error"], f
' "$json"

# reingest --failed --wait: every failed observation, counted.
sqlite3 "$db" "update observations set status='failed', last_error='x' where observation in ('C1','C2')"
out=$("$client" -s "$sock" reingest --failed --wait); rc=$?
is 0 "$rc" "reingest --failed --wait exits 0 when all are stored"
like "$out" "^2 failed observations queued again$" "it says how many it queued"
like "$out" "^2 observations: 2 done, 0 failed$" "and waits for both"

# rescan --wait: a file in the poll-mode tree that nothing noticed.
echo p > "$pland/P1_SCI.fits"
echo junk > "$pland/notes.txt"
sleep 0.6
is "" "$(st P1)" "a file dropped in the polled tree is not noticed by itself"
touch "$pland/P1_SCI.fits"	# recent: the rescan must wait for it to settle
out=$("$client" -s "$sock" rescan --wait 2>"$tmp/err"); rc=$?
is 0 "$rc" "rescan --wait exits 0"
is "done" "$(st P1)" "it returned once the file's observation was stored"
like "$out" "^files: 1 new or changed, 2 unchanged, 1 unmatched, 0 excluded$" \
	"it counts the files the scan found"
like "$out" "^1 observation: 1 done, 0 failed$" "and the observations they queued"
json=$("$client" -s "$sock" --json rescan --wait)
ok "--json rescan --wait again: all 4 files unchanged, nothing queued" python3 -c '
import json, sys
o = json.loads(sys.argv[1])["outcome"]
assert o["kind"] == "rescan" and o["total"] == 0 and o["files"]["new"] == 0, o
assert o["files"]["unchanged"] == 4 and o["files"]["unmatched"] == 0, o
' "$json"

# reload --wait: in force when it returns, or refused with the reason.
before=$("$client" -s "$sock" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["reloads"])')
"$client" -s "$sock" reload --wait >/dev/null; rc=$?
is 0 "$rc" "reload --wait exits 0"
is "$((before + 1))" "$("$client" -s "$sock" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["reloads"])')" \
	"the new configuration is in force when it returns"
cp "$tmp/c.yml" "$tmp/c.good"
echo "bogus: 1" >> "$tmp/c.yml"
"$client" -s "$sock" reload --wait --timeout 10s 2>"$tmp/err"; rc=$?
is 1 "$rc" "reload --wait of a bad configuration exits 1"
like "$(cat "$tmp/err")" "reload refused: $tmp/c.yml:[0-9]+: unknown key 'bogus'" "with the reason"
cp "$tmp/c.good" "$tmp/c.yml"

# --timeout: exit 1 in time, the work goes on, wait TICKET picks it up.
fault "delay_ms=3000&count=1&verb=GET"
t0=$(date +%s%N)
"$client" -s "$sock" reingest --wait --timeout 1s OMM/C2 >/dev/null 2>"$tmp/err"; rc=$?
t1=$(date +%s%N)
is 1 "$rc" "reingest --wait --timeout 1s of a 3 s job exits 1"
ok "after about a second ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -lt 2500
like "$(cat "$tmp/err")" "timed out after 1s waiting for ticket [0-9]+ \\(the work goes on" \
	"it says it timed out and that the work goes on"
is "running" "$(st C2)" "the job is still running"
ticket=$(sed -n 's/.*waiting for ticket \([0-9]*\).*/\1/p' "$tmp/err")
out=$("$client" -s "$sock" wait "$ticket"); rc=$?
is 0 "$rc" "wait TICKET waits for it again and exits 0"
like "$out" "^1 observation: 1 done, 0 failed$" "with the outcome"
is "done" "$(st C2)" "once it is stored"
"$client" -s "$sock" rescan --timeout 1s 2>/dev/null; is 2 "$?" "--timeout without --wait: usage"
"$client" -s "$sock" reingest --wait --timeout soon OMM/C1 2>/dev/null; is 2 "$?" \
	"--timeout with a bad duration: usage"

# Progress: on a terminal only, one line redrawn, then cleared; none with --json.
cat > "$tmp/on-tty.py" <<'PY'
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=s)
os.close(s)
seen = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    seen += d
open(sys.argv[1], "wb").write(seen)
sys.exit(p.wait())
PY
fault "delay_ms=2500&count=1&verb=GET"
python3 "$tmp/on-tty.py" "$tmp/tty.out" "$client" -s "$sock" reingest --wait OMM/C1; rc=$?
is 0 "$rc" "reingest --wait with stderr on a terminal exits 0"
ok "it draws a progress line there" grep -q "0/1 done, 0 failed, 1 running, 0 retrying, 0 pending... [0-9]s" "$tmp/tty.out"
is "$(printf '\r\033[K')" "$(tail -c 4 "$tmp/tty.out")" "and clears it at the end"
fault "delay_ms=2500&count=1&verb=GET"
python3 "$tmp/on-tty.py" "$tmp/tty.out" "$client" -s "$sock" --json reingest --wait OMM/C1; rc=$?
is "0 0" "$rc $(wc -c < "$tmp/tty.out")" "with --json it exits 0 and nothing goes to the terminal"

# A request sent behind a wait on the same connection is answered after it.
fault "delay_ms=1000&count=1&verb=GET"
python3 - "$sock" > "$tmp/raw.out" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb"); f.readline()
s.sendall(b'{"command":"reingest","target":"OMM/C1","ticket":true}\n')
t = json.loads(f.readline())["ticket"]
s.sendall(b'{"command":"wait","ticket":%d}\n{"command":"stats"}\n' % t)
while True:
    r = json.loads(f.readline())
    if "progress" in r:
        print("progress"); continue
    print("outcome" if "outcome" in r else "stats" if "counters" in r else r); break
print("stats" if "counters" in json.loads(f.readline()) else "other")
PY
like "$(sed -n 1p "$tmp/raw.out")" "^progress$" "the wait sends progress lines"
is "outcome stats" "$(grep -v progress "$tmp/raw.out" | tr '\n' ' ' | sed 's/ $//')" \
	"and a request sent meanwhile is answered after its reply"

# A client killed while waiting: the daemon drops the wait and serves others.
fault "delay_ms=2500&count=1&verb=GET"
"$client" -s "$sock" reingest --wait OMM/C2 >/dev/null 2>&1 & cpid=$!
ok "the daemon counts the waiting client" wait_for 5 waiting_is 1
kill -KILL "$cpid"; wait "$cpid" 2>/dev/null
ok "it drops the wait of a client that went away" wait_for 5 waiting_is 0
ok "and logs it" grep -q "ticket [0-9]*: a waiter went away" "$log"
"$client" -s "$sock" status >/dev/null; is 0 "$?" "it keeps serving others"
ok "the work goes on and is stored" wait_for 10 st_is C2 done

# An old daemon (revision 1): --wait is refused before anything is queued;
# plain commands still work.
python3 - "$tmp/old.sock" "$tmp/old.req" > /dev/null 2>&1 <<'PY' & fpid=$!
import json, socket, sys
srv = socket.socket(socket.AF_UNIX); srv.bind(sys.argv[1]); srv.listen(4)
for _ in range(2):
    c, _ = srv.accept(); f = c.makefile("rb")
    c.sendall(b'{"protocol":"caom2ingest-control","version":1,"daemon":"0.9"}\n')
    line = f.readline()
    if line:
        open(sys.argv[2], "ab").write(line)
        c.sendall(b'{"ok":true,"queued":[{"collection":"OMM","observation":"C1"}]}\n')
    c.close()
PY
wait_for 5 test -S "$tmp/old.sock"
"$client" -s "$tmp/old.sock" reingest --wait OMM/C1 >/dev/null 2>"$tmp/err"; rc=$?
is 1 "$rc" "--wait against a daemon of revision 1 exits 1"
like "$(cat "$tmp/err")" "caom2ingestd 0.9 cannot wait \\(control protocol revision 1; --wait needs 2\\): nothing was done" \
	"and says why"
is "" "$(cat "$tmp/old.req" 2>/dev/null)" "nothing was sent to it"
"$client" -s "$tmp/old.sock" reingest OMM/C1 >/dev/null; rc=$?
is 0 "$rc" "reingest without --wait still works with it"
kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null

# The daemon stops while a client waits: exit 1 with the reason.
fault "delay_ms=4000&count=1&verb=GET"
"$client" -s "$sock" reingest --wait OMM/C1 >/dev/null 2>"$tmp/err" & cpid=$!
wait_for 5 waiting_is 1
kill -TERM "$dpid"; wait "$dpid"; drc=$?
wait "$cpid"; rc=$?
is 1 "$rc" "a wait ends with exit 1 when the daemon stops"
like "$(cat "$tmp/err")" "caom2ingestd stopped before the work was done" "with a clear message"
is 0 "$drc" "the daemon stopped cleanly"
ok_not "and no sanitizer complained" grep -Eq "AddressSanitizer|LeakSanitizer|runtime error" "$log"
