#!/bin/sh
# t/control.sh - the control socket and the caom2ingest client against the
# real daemon: every command, --json, exit codes, peer credentials, bad
# requests, the connection cap, stale and live sockets.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
plan 59

chmod 755 "$tmp"
land=$tmp/landing
mkdir -p "$land"
sock=$tmp/control.sock
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $sock
control_group: nogroup
settle: 100ms
collections:
  - name: OMM
    landing: $land
    rules:
      - match: '^(?<obs>C[0-9]+)_(?<kind>[A-Z]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}_\${kind}'
        uri: 'cadc:OMM/\${file}'
CONF
log=$tmp/daemon.log
"$client" -s "$sock" status >/dev/null 2>"$tmp/err"; rc=$?
is 3 "$rc" "no daemon: exit 3"
like "$(cat "$tmp/err")" "is caom2ingestd running" "and says so"

"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 test -S "$sock" || bail "the daemon did not bind its socket"
is "srw-rw----" "$(stat -c %A "$sock")" "the socket is mode 0660"
is "nogroup" "$(stat -c %G "$sock")" "and belongs to control_group"

echo x > "$land/C1_SCI.fits"
echo x > "$land/C1_CAL.fits"
wait_for 5 grep -q "product C1_CAL" "$log"
wait_for 5 sh -c "grep 'observation OMM/C1 stored' '$log' | grep -qv unchanged" ||
	wait_for 5 grep -q "observation OMM/C1 stored" "$log"
sleep 0.3

out=$("$client" -s "$sock" status); rc=$?
is 0 "$rc" "status exits 0"
like "$out" "^caom2ingestd [0-9.]+, pid $dpid" "status names the version and pid"
like "$out" "collections +OMM +$land" "and the collections"
like "$out" "files +0 pending, 0 running, 0 retry, 2 done" "and the counts"
json=$("$client" -c "$tmp/c.yml" --json status)
is "2" "$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["files"]["done"])')" \
	"--json status parses; the socket comes from -c CONFIG"

out=$("$client" -s "$sock" list)
like "$out" "^COLLECTION +OBSERVATION +STATUS" "list prints a header"
like "$out" "OMM +C1 +done" "and the observation"
n=$("$client" -s "$sock" --json list --state failed | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["observations"]))')
is 0 "$n" "list --state failed: none"
"$client" -s "$sock" list --state bogus 2>"$tmp/err"; rc=$?
is 1 "$rc" "an unknown state fails"
like "$(cat "$tmp/err")" "unknown state 'bogus'" "with a reason"
"$client" -s "$sock" list extra 2>/dev/null; is 2 "$?" "an extra argument is a usage error"

out=$("$client" -s "$sock" show OMM/C1)
like "$out" "status +done" "show: status"
like "$out" "$land/C1_CAL.fits \\(2 bytes, cadc:OMM/C1_CAL.fits, done\\)" "show: files"
"$client" -s "$sock" show OMM/nope 2>"$tmp/err"; rc=$?
is 1 "$rc" "show of an unknown observation fails"
like "$(cat "$tmp/err")" "no observation OMM/nope" "and says which"
"$client" -s "$sock" show 2>/dev/null; is 2 "$?" "show without an argument: usage"

echo x > "$land/C2_SCI.fits"
out=$("$client" -s "$sock" rescan); rc=$?
is 0 "$rc" "rescan exits 0"
ok "the rescan finds new files" wait_for 5 grep -q "product C2_SCI" "$log"

# reingest: by observation, by file, every failed one (SIGUSR1 too).
db=$tmp/state/state.db
sqlite3 "$db" "update observations set status='done', pushed_checksum='md5:1' where observation='C1'"
out=$("$client" -s "$sock" reingest OMM/C1); rc=$?
is 0 "$rc" "reingest COLLECTION/ID exits 0"
is "queued OMM/C1" "$out" "and says what it queued"
ok "the observation is queued and stored again" \
	wait_for 5 sh -c "grep -q 'observation OMM/C1 queued again \\[' '$log' && test \"\$(sqlite3 '$db' \"select status from observations where observation='C1'\")\" = done"
(cd "$land" && "$client" -s "$sock" reingest --force C1_SCI.fits) >/dev/null
ok "reingest --force FILE (relative path) queues its observation, forced" \
	wait_for 5 grep -q 'observation OMM/C1 queued again (forced)' "$log"
# the forced run ends before the test changes its status under it (it raced: the
# run's 'done' could land after the 'failed' below)
wait_for 10 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C1'\")\" = done"
"$client" -s "$sock" reingest "$land/none.fits" 2>"$tmp/err"; rc=$?
is 1 "$rc" "reingest of an unknown file fails"
like "$(cat "$tmp/err")" "is not a file of any observation" "and says why"
"$client" -s "$sock" reingest 2>/dev/null; is 2 "$?" "reingest without a target: usage"
sqlite3 "$db" "update observations set status='failed', last_error='400 bad' where observation='C1'"
out=$("$client" -s "$sock" reingest --failed)
is "1 failed observations queued again" "$out" "reingest --failed"
# let that attempt finish first: it would mark C1 done under the next step
wait_for 10 sh -c "test \"\$(sqlite3 '$db' \"select count(*) from observations where status <> 'done'\")\" = 0"
sqlite3 "$db" "update observations set status='failed' where observation in ('C1','C2')"
kill -USR1 "$dpid"
ok "SIGUSR1 queues every failed observation again" \
	wait_for 5 grep -q "received SIGUSR1: 2 failed observations queued again" "$log"
is "0" "$(sqlite3 "$db" "select count(*) from observations where status='failed'")" \
	"none is left failed"

# pause and resume
"$client" -s "$sock" pause OMM >/dev/null; is 0 "$?" "pause OMM exits 0"
like "$("$client" -s "$sock" status)" "OMM +$land PAUSED" "status shows it paused"
"$client" -s "$sock" reload >/dev/null
echo x > "$land/C9_SCI.fits"
wait_for 5 grep -q "product C9_SCI" "$log"
sleep 0.5
is "pending" "$(sqlite3 "$db" "select status from observations where observation='C9'")" \
	"a paused collection (across a reload) stores nothing"
"$client" -s "$sock" resume OMM >/dev/null
ok "resume stores it" wait_for 5 sh -c \
	"test \"\$(sqlite3 '$db' \"select status from observations where observation='C9'\")\" = done"
"$client" -s "$sock" pause NOPE 2>"$tmp/err"; rc=$?
is 1 "$rc" "pausing an unknown collection fails"
like "$(cat "$tmp/err")" "no collection named 'NOPE'" "and says so"

"$client" -s "$sock" reload >/dev/null; is 0 "$?" "reload exits 0"
cp "$tmp/c.yml" "$tmp/c.good"
echo "bogus: 1" >> "$tmp/c.yml"
"$client" -s "$sock" reload 2>"$tmp/err"; rc=$?
is 1 "$rc" "a refused reload exits 1"
like "$(cat "$tmp/err")" "reload refused: $tmp/c.yml:[0-9]+: unknown key 'bogus'" \
	"and prints why"
cp "$tmp/c.good" "$tmp/c.yml"

out=$("$client" -s "$sock" stats); rc=$?
is 0 "$rc" "stats exits 0"
like "$out" "^settle +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+" "stats shows latency percentiles per stage"
json=$("$client" -s "$sock" --json stats)
ok "stats counts classified files and stored observations" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
c = j["counters"]
assert c["files_classified"] >= 3 and c["observations_stored"] >= 2, c
assert j["latency"]["job"]["count"] >= 2 and j["latency"]["job"]["p99_ms"] > 0, j["latency"]
' "$json"

"$client" -s "$sock" frobnicate 2>/dev/null; is 2 "$?" "an unknown command exits 2"

# Peer credentials: nobody (group nogroup) may read but not change anything.
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	asnobody "$client" -s "$sock" status >/dev/null 2>&1
	is 0 "$?" "a control_group member may run status"
	asnobody "$client" -s "$sock" rescan 2>"$tmp/err"; rc=$?
	is 1 "$rc" "but not rescan"
	like "$(cat "$tmp/err")" "permission denied: uid 65534 may not run 'rescan'" "and is told why"
	asnobody "$client" -s "$sock" wait 999 2>"$tmp/err"
	like "$(cat "$tmp/err")" "no ticket 999 " "it may wait for a ticket (read-only)"
	asnobody "$client" -s "$sock" reingest --wait OMM/C1 2>"$tmp/err"
	like "$(cat "$tmp/err")" "permission denied: uid 65534 may not run 'reingest'" \
		"but not ask for work to wait for"
else
	skip 5 "needs root and setpriv"
fi

# Raw protocol: malformed and oversized requests, then the connection cap.
python3 - "$sock" > "$tmp/raw.out" <<'PY'
import json, socket, sys
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb"); f.readline(); return s, f
s, f = conn()
for req in (b"not json\n", b'{"nocommand": 1}\n', b"x" * 70000 + b"\n", b'{"command":"status"}\n'):
    s.sendall(req); print(json.loads(f.readline()).get("error", "ok"))
conns = [conn() for _ in range(31)]
extra = socket.socket(socket.AF_UNIX); extra.connect(sys.argv[1])
print(json.loads(extra.makefile("rb").readline()).get("error"))
PY
sed -n 1p "$tmp/raw.out" | grep -q "^malformed request: " ; is 0 "$?" "malformed JSON gets an error reply"
is "malformed request: expected an object with a \"command\" string" "$(sed -n 2p "$tmp/raw.out")" \
	"an object without command gets an error reply"
is "request longer than 65536 bytes" "$(sed -n 3p "$tmp/raw.out")" "an oversized request is refused"
is "ok" "$(sed -n 4p "$tmp/raw.out")" "and the same connection keeps working"
is "too many connections (at most 32)" "$(sed -n 5p "$tmp/raw.out")" "the 33rd connection is refused"
"$client" -s "$sock" status >/dev/null; is 0 "$?" "the daemon keeps serving others"

# A second daemon on a live socket refuses to start; a stale socket is replaced.
"$daemon" -f -c "$tmp/c.yml" 2>"$tmp/err2"; rc=$?
is 3 "$rc" "a second daemon on a live socket exits 3"
like "$(cat "$tmp/err2")" "another caom2ingestd answers on $sock" "and says why"
kill -KILL "$dpid"; wait "$dpid" 2>/dev/null
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
ok "after kill -9 the stale socket is replaced" \
	wait_for 10 sh -c "'$client' -s '$sock' status >/dev/null 2>&1"
