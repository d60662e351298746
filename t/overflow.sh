#!/bin/sh
# t/overflow.sh - the inotify queue overflows: the daemon is stopped
# (SIGSTOP) while more files than fs.inotify.max_queued_events land,
# then continued; the overflow rescan finds every file and each observation
# is PUT to the test repository exactly once. Independent of timing: the
# daemon is stopped only once its start-up scan has placed the watches (a
# stop before that, under load, let the scan find the files instead and no
# overflow happened), and the waits are bounds, not measurements.
. "$srcdir/t/tap.sh"
. "$srcdir/t/repo.sh"

daemon=$top_builddir/src/caom2ingestd
command -v curl >/dev/null || skip_all "curl not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
max=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null) || skip_all "no inotify limits in /proc"
[ "$max" -le 40000 ] || skip_all "max_queued_events is $max: too many files to overflow it here"
n=$((max + 300))
plan 5

land=$tmp/landing
mkdir -p "$land" "$tmp/data"
start_repo_server
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: info
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
rescan_interval: 0
collections:
  - name: OVF
    landing: $land
    rules:
      - match: '^(?<obs>f[0-9]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}'
        uri: 'cadc:OVF/\${file}'
sink:
  repo:
    url: $root/torkeep/observations
    concurrency: 16
CONF
log=$tmp/daemon.log
db=$tmp/state/state.db
done_count() { sqlite3 "$db" "select count(*) from observations where status='done'" 2>/dev/null || echo 0; }
"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
stop() { kill -CONT "$dpid" 2>/dev/null; kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
wait_for 30 test -S "$tmp/control.sock" || bail "the daemon did not start"
# the watches are in place once the start-up scan is done
wait_for 60 grep -q 'start-up scan of the landing directories' "$log" ||
	bail "the daemon did not finish its start-up scan"

kill -STOP "$dpid"
# renamed into place, as a producer should: one IN_MOVED_TO event each
python3 -c 'import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    t = os.path.join(d, ".f%d" % i)
    with open(t, "w") as f:
        f.write("x")
    os.rename(t, os.path.join(d, "f%d.fits" % i))' "$land" "$n"
kill -CONT "$dpid"
ok "the queue overflowed and the daemon rescanned" \
	wait_for 120 grep -q 'inotify queue overflowed: rescanning every landing directory' "$log"
ok "all $n observations are stored" \
	wait_for 600 sh -c "test \$(sqlite3 '$db' \"select count(*) from observations where status='done'\") -eq $n"
is "$n" "$(stat_of PUT)" "with exactly one PUT each"
is 0 "$(sqlite3 "$db" "select count(*) from observations where status <> 'done'")" \
	"nothing failed or pending"
ok "the daemon is still running" kill -0 "$dpid"
