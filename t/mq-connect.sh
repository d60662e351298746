#!/bin/sh
# t/mq-connect.sh - connecting to the AMQP broker never holds the daemon's
# loop: against a "broker" that accepts TCP connections and never answers
# (each of librabbitmq's blocking steps waits up to 5 s; seven of them once
# held the loop against a 30 s watchdog), the control socket answers and a
# SIGTERM stops the daemon while a connection attempt is still open. The test
# checks the order of events, not durations: the attempt the client's request
# overlapped is still open when the answer arrives.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 7

# The silent broker: accepts, reads, never writes; "open N" / "closed N" lines.
python3 - "$tmp/port" "$tmp/broker.log" <<'PY' &
import os, select, socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
open(sys.argv[1] + ".tmp", "w").write(str(srv.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
conns, n = {}, 0
while True:
    r, _, _ = select.select([srv] + list(conns), [], [])
    for s in r:
        if s is srv:
            c, _ = srv.accept(); n += 1; conns[c] = n; log.write("open %d\n" % n)
        else:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                log.write("closed %d\n" % conns.pop(s)); s.close()
PY
bpid=$!
stop_broker() { kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null; }
at_exit stop_broker
wait_for 10 test -s "$tmp/port" || bail "the silent broker did not start"
sock=$tmp/control.sock
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $sock
amqp:
  url: amqp://guest@127.0.0.1:$(cat "$tmp/port")/
collections:
  - name: OMMQ
    queues: [omm-files]
    rules:
      - {match: '^x\$', observation: x, product: x, uri: 'cadc:OMMQ/x'}
CONF
"$daemon" -f -c "$tmp/c.yml" 2>"$tmp/daemon.log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 10 test -S "$sock" || bail "the daemon did not bind its socket"

# Wait for a fresh attempt, then ask: it must be answered while that attempt
# is open (a blocked loop would answer only after the attempt gave up).
fresh() {	# the number of an attempt that has just opened
	before=$(grep -c '^open' "$tmp/broker.log" 2>/dev/null)
	wait_for 30 sh -c "test \$(grep -c '^open' '$tmp/broker.log') -gt ${before:-0}" ||
		return 1
	grep '^open' "$tmp/broker.log" | tail -1 | cut -d' ' -f2
}
k=$(fresh)
ok "the daemon connects to the broker" test -n "$k"
"$client" -s "$sock" status >/dev/null 2>&1; rc=$?
is 0 "$rc" "status is answered during a connection attempt"
ok_not "while that attempt is still open" grep -qx "closed $k" "$tmp/broker.log"
ok "the attempt gives up in its own time, logged" \
	wait_for 30 grep -q "mq: cannot consume omm-files from amqp://guest@127.0.0.1" "$tmp/daemon.log"
k=$(fresh)
"$client" -s "$sock" --json stats >/dev/null 2>&1
ok_not "again during the next attempt" grep -qx "closed $k" "$tmp/broker.log"

# Stopping does not wait for the broker either: no attempt ends (its failure
# logged) between the signal and the stop. (The broker sees the close only
# when the process exits, so the log tells the order.)
failures() { grep -c "mq: attempt [0-9]* failed\|mq: cannot consume" "$1"; }
k=$(fresh)
f0=$(failures "$tmp/daemon.log")
kill -TERM "$dpid"; wait "$dpid"; rc=$?
is 0 "$rc" "SIGTERM during a connection attempt stops the daemon (exit 0)"
sed '/received Terminated/q' "$tmp/daemon.log" > "$tmp/until-stop.log"
is "$f0" "$(failures "$tmp/until-stop.log")" "before that attempt ends"
