#!/bin/sh
# t/daemon.sh - the real caom2ingestd: options, --check-config, the notify
# protocol, reloads, signals and detaching.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
listen=$top_builddir/t/notify-listen
plan 37

cat > "$tmp/good.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $tmp/control.sock
CONF
cat > "$tmp/bad.yml" <<CONF
log_level: loud
CONF

# --- command line ---------------------------------------------------------
out=$("$daemon" --version); rc=$?
is 0 "$rc" "--version exits 0"
like "$out" '^caom2ingestd [0-9]+\.[0-9]+' "--version prints the version"
out=$("$daemon" --help); rc=$?
is 0 "$rc" "--help exits 0"
like "$out" 'check-config' "--help lists --check-config"
"$daemon" --bogus >/dev/null 2>&1; is 2 "$?" "an unknown option exits 2"
"$daemon" extra >/dev/null 2>"$tmp/err"; is 2 "$?" "an extra argument exits 2"
like "$(cat "$tmp/err")" "unexpected argument 'extra'" "and says which"

# --- --check-config -------------------------------------------------------
out=$("$daemon" -c "$tmp/good.yml" --check-config 2>&1); rc=$?
is 0 "$rc" "--check-config on a good file exits 0"
is "OK" "$out" "and prints OK"
ok "and starts nothing (no state directory made)" test ! -e "$tmp/state"
out=$("$daemon" -c "$tmp/bad.yml" --check-config 2>&1); rc=$?
is 1 "$rc" "--check-config on a bad file exits 1"
is "$tmp/bad.yml:1: log_level: 'loud' is not one of debug, info, notice, warning, error" \
	"$out" "and prints the error with file and line"
"$daemon" -c "$tmp/missing.yml" -f >/dev/null 2>&1; is 1 "$?" "a missing file exits 1"

# --- start, READY, STATUS, WATCHDOG ---------------------------------------
sock=$tmp/notify.sock
"$listen" "$sock" "$tmp/notify.log" & lpid=$!
stop_listener() { kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null; }
at_exit stop_listener
wait_for 5 test -S "$sock" || bail "notify listener did not start"

NOTIFY_SOCKET=$sock WATCHDOG_USEC=200000 \
	"$daemon" -f -c "$tmp/good.yml" 2>"$tmp/daemon.log" & dpid=$!
stop_daemon() { kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop_daemon
# WATCHDOG_PID must name the daemon for sd_watchdog_enabled(); systemd sets
# it, and the daemon accepts its absence too.
ok "READY=1 is sent" wait_for 10 grep -q '^READY=1' "$tmp/notify.log"
like "$(grep '^READY=1' "$tmp/notify.log" | head -1)" '^READY=1\|STATUS=' \
	"READY=1 carries a STATUS= line"
ok "the state directory exists when READY" test -d "$tmp/state"
ok "STATUS= summarises collections, files and observations" \
	wait_for 5 grep -q "^STATUS=Running: 0 collections; files 0 pending, 0 done, 0 unmatched; observations 0 pending, 0 done, 0 failed" "$tmp/notify.log"
ok "WATCHDOG=1 at half of WATCHDOG_USEC" wait_for 5 grep -q '^WATCHDOG=1' "$tmp/notify.log"
n=$(grep -c '^WATCHDOG=1' "$tmp/notify.log")
sleep 0.5
m=$(grep -c '^WATCHDOG=1' "$tmp/notify.log")
ok "WATCHDOG=1 keeps coming (saw $n then $m)" test "$m" -gt "$n"

# --- reload ---------------------------------------------------------------
: > "$tmp/notify.log"
kill -HUP "$dpid"
ok "SIGHUP sends RELOADING=1 with MONOTONIC_USEC" \
	wait_for 5 grep -Eq '^RELOADING=1\|MONOTONIC_USEC=[0-9]+' "$tmp/notify.log"
ok "then READY=1" wait_for 5 grep -q '^READY=1' "$tmp/notify.log"
ok "the log says the configuration was reloaded" \
	wait_for 5 grep -q 'notice: configuration reloaded' "$tmp/daemon.log"

cp "$tmp/good.yml" "$tmp/good.yml.orig"
printf 'log_level: loud\nbogus: 1\n' > "$tmp/good.yml"
: > "$tmp/notify.log"
kill -HUP "$dpid"
ok "a bad configuration on reload is refused" \
	wait_for 5 grep -q 'reload refused: keeping the configuration in force' "$tmp/daemon.log"
ok "with each error, file and line, in the log" \
	grep -q "error: $tmp/good.yml:2: unknown key 'bogus'" "$tmp/daemon.log"
ok "READY=1 follows the refused reload" wait_for 5 grep -q '^READY=1' "$tmp/notify.log"
ok "the daemon keeps running" kill -0 "$dpid"
cp "$tmp/good.yml.orig" "$tmp/good.yml"

# --- stop -----------------------------------------------------------------
: > "$tmp/notify.log"
kill -TERM "$dpid"; wait "$dpid"; rc=$?
is 0 "$rc" "SIGTERM stops with exit 0"
ok "STOPPING=1 is sent" grep -q '^STOPPING=1' "$tmp/notify.log"
ok "the log says it stopped" grep -q 'caom2ingestd stopped' "$tmp/daemon.log"

NOTIFY_SOCKET=$sock "$daemon" -f -c "$tmp/good.yml" 2>"$tmp/daemon2.log" & dpid=$!
wait_for 10 grep -q 'started' "$tmp/daemon2.log"
kill -INT "$dpid"; wait "$dpid"; rc=$?
is 0 "$rc" "SIGINT stops with exit 0"

# SIGPIPE is ignored: the daemon survives a signal that would kill it.
"$daemon" -f -c "$tmp/good.yml" 2>"$tmp/daemon3.log" & dpid=$!
wait_for 10 grep -q 'started' "$tmp/daemon3.log"
kill -PIPE "$dpid"; sleep 0.2
ok "SIGPIPE is ignored" kill -0 "$dpid"
kill -TERM "$dpid"; wait "$dpid"

# --- start-up failure -----------------------------------------------------
printf 'state_dir: /proc/caom2ingest-no\n' > "$tmp/nostate.yml"
"$daemon" -f -c "$tmp/nostate.yml" 2>"$tmp/err"; rc=$?
is 3 "$rc" "an unusable state directory exits 3"
like "$(cat "$tmp/err")" 'start-up failed: state directory /proc/caom2ingest-no' \
	"and says why"

# --- detaching --------------------------------------------------------------
"$daemon" -c "$tmp/good.yml"; rc=$?
is 0 "$rc" "without -f the command returns 0 once the daemon is running"
pid=$(pgrep -f -n "^$daemon -c $tmp/good.yml\$")
ok "the detached daemon runs" test -n "$pid"
if [ -n "$pid" ]; then kill -TERM "$pid"; fi
ok "and stops on SIGTERM" wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
"$daemon" -c "$tmp/nostate.yml" 2>/dev/null; rc=$?
is 3 "$rc" "a detached start-up failure still exits 3"
