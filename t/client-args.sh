#!/bin/sh
# t/client-args.sh - the client's command line as operators type it: options
# anywhere (after operands too, as in git, systemctl and knotc), every usage
# error saying what was wrong (exit 2), and a -c file that cannot be read is
# an error naming it (exit 2), never a silent fall-back to the default socket.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 47

land=$tmp/landing
mkdir -p "$land"
sock=$tmp/control.sock
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $sock
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
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 test -S "$sock" || bail "the daemon did not bind its socket"
echo x > "$land/C1_SCI.fits"
wait_for 10 grep -q "observation OMM/C1 stored" "$log" || bail "C1 was not stored"

isjson() { python3 -c 'import json, sys; json.load(sys.stdin)'; }

# Options after the command and after its operands.
out=$("$client" -s "$sock" status --json); rc=$?
is 0 "$rc" "status --json exits 0"
printf '%s' "$out" | isjson; is 0 "$?" "and prints JSON"
out=$("$client" status --json -s "$sock" | isjson); rc=$?
is 0 "$rc" "status --json -s SOCKET: the socket after the command"
out=$("$client" status -c "$tmp/c.yml" --json | isjson); rc=$?
is 0 "$rc" "status -c CONFIG --json: the configuration after the command"
out=$("$client" show OMM/C1 --json -s "$sock"); rc=$?
is 0 "$rc" "show OBS --json -s SOCKET exits 0"
like "$out" '"status": "done"' "and prints the observation as JSON"
out=$("$client" --socket "$sock" list --state done --json); rc=$?
is 0 "$rc" "list --state done --json exits 0"
like "$out" '"observation": "C1"' "and lists C1"
out=$("$client" list -s done --socket "$sock"); rc=$?
is 0 "$rc" "list -s is still --state; --socket after it"
like "$out" "OMM +C1 +done" "and lists C1"
out=$("$client" -s "$sock" reingest OMM/C1 --wait); rc=$?
is 0 "$rc" "reingest OBS --wait exits 0"
like "$out" "1 observation: 1 done, 0 failed" "and waits for the outcome"
out=$("$client" reingest OMM/C1 --wait --timeout 20s --json -s "$sock"); rc=$?
is 0 "$rc" "reingest OBS --wait --timeout D --json -s SOCKET exits 0"
like "$out" '"done": 1' "and prints the outcome as JSON"
"$client" -s "$sock" wait 999 --timeout 2s 2>"$tmp/err"; rc=$?
is 1 "$rc" "wait N --timeout 2s reaches the daemon (exit 1, not usage)"
like "$(cat "$tmp/err")" "no ticket 999" "which says there is no such ticket"
out=$("$client" -s "$sock" pause OMM --json); rc=$?
is 0 "$rc" "pause COLLECTION --json exits 0"
"$client" resume OMM -s "$sock" >/dev/null; is 0 "$?" "resume COLLECTION -s SOCKET exits 0"
out=$("$client" rescan --json --wait -s "$sock"); rc=$?
is 0 "$rc" "rescan --json --wait -s SOCKET exits 0"
out=$("$client" stats -s "$sock" --json | isjson); rc=$?
is 0 "$rc" "stats -s SOCKET --json prints JSON"
out=$("$client" status --help); rc=$?
is 0 "$rc" "status --help exits 0"
is "usage: caom2ingest status" "$out" "and prints the command's synopsis"

# Every usage error says what was wrong, then the command's synopsis; exit 2.
usage() {
	want=$1; shift
	"$client" -s "$sock" "$@" >/dev/null 2>"$tmp/err"; rc=$?
	first=$(sed -n 1p "$tmp/err")
	if [ "$rc" -eq 2 ] && [ "$first" = "$want" ] && grep -q "^usage: caom2ingest $1" "$tmp/err"
	then
		tap_result 0 "$*: $want"
	else
		tap_result 1 "$*: $want"
		diag "exit $rc" "$(cat "$tmp/err")"
	fi
}
usage "caom2ingest status: unexpected argument 'extra'" status extra
usage "caom2ingest show: missing COLLECTION/OBSERVATION_ID" show
usage "caom2ingest show: unexpected argument 'b'" show a b
usage "caom2ingest show: 'C1' is not COLLECTION/OBSERVATION_ID" show C1
usage "caom2ingest reingest: missing FILE, COLLECTION/OBSERVATION_ID or --failed" reingest --wait
usage "caom2ingest reingest: --failed takes no target ('OMM/C1')" reingest OMM/C1 --failed
usage "caom2ingest reingest: --timeout needs --wait" reingest OMM/C1 --timeout 2s
usage "caom2ingest wait: missing TICKET" wait --timeout 2s
usage "caom2ingest wait: 'abc' is not a ticket number" wait abc
usage "caom2ingest wait: option '--timeout' needs a value" wait 1 --timeout
usage "caom2ingest list: unknown option '--bogus'" list --bogus
usage "caom2ingest list: unknown option '-x'" list -x
usage "caom2ingest list: --limit: '0' is not a positive number" list --limit 0
usage "caom2ingest list: option '-n' needs a value" list -n
usage "caom2ingest pause: unexpected argument 'B'" pause A B
usage "caom2ingest rescan: unexpected argument 'now'" rescan now
usage "caom2ingest verify: missing FILE.xml" verify --xsd-dir /tmp
# The daemon's own reply names no protocol field for a malformed name.
python3 - "$sock" > "$tmp/raw.out" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb"); f.readline()
s.sendall(b'{"command": "show", "observation": "C1"}\n'); print(json.loads(f.readline())["error"])
PY
is "'C1' is not COLLECTION/OBSERVATION_ID" "$(cat "$tmp/raw.out")" \
	"the daemon's reply to show of 'C1' names no protocol field"
"$client" -s "$sock" 2>"$tmp/err"; rc=$?
is 2 "$rc" "no command: exit 2"
is "caom2ingest: no command given" "$(sed -n 1p "$tmp/err")" "and says so"

# -c FILE that cannot be read, or holds errors: exit 2 naming it, no fall-back.
"$client" -c "$tmp/none.yml" status 2>"$tmp/err"; rc=$?
is 2 "$rc" "-c of a missing file: exit 2"
like "$(cat "$tmp/err")" "$tmp/none.yml: No such file or directory" "naming it"
ok_not "and not asking whether the daemon runs" grep -q "is caom2ingestd running" "$tmp/err"
printf 'bogus: 1\n' > "$tmp/bad.yml"
"$client" status -c "$tmp/bad.yml" 2>"$tmp/err"; rc=$?
is 2 "$rc" "-c of a file with errors: exit 2"
like "$(cat "$tmp/err")" "$tmp/bad.yml:1: unknown key 'bogus'" "naming the file and line"
