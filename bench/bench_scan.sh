#!/bin/sh
# bench/bench_scan.sh - the start-up scan over N already-ingested files,
# side by side with find over the same tree, in two layouts: one flat
# directory of N files, and N files in 100 directories. For each layout:
# one daemon run records the files (directory sink); then R restarts, each
# timed by the daemon's own log line (snapshot of the state store + walk +
# stat of every file), then `find -type f` (names only) and
# `find -type f -printf '%s %T@'` (a stat per file) over the tree, back to
# back; and the same restarts with scan_threads: 1.
# usage: bench/bench_scan.sh [N] [R]     (top_builddir=... for the binaries)
set -eu
n=${1:-100000}
r=${2:-5}
top=${top_builddir:-.}
daemon=$top/src/caom2ingestd
base=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-bscan.XXXXXX")
dpid=
trap 'kill $dpid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$base"' EXIT

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# layout DIRS: N files in DIRS directories (1: the landing directory itself)
layout() {
	python3 - "$base/landing" "$1" "$n" <<'PY'
import os, sys
top, dirs, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = top if dirs == 1 else os.path.join(top, "d%03d" % (i % dirs))
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "f%d.fits" % i), "w").close()
PY
}

config() {	# config THREADS (0: the default)
	cat > "$base/c.yml" <<CONF
log: stderr
log_level: info
state_dir: $base/state
control_socket: $base/control.sock
settle: 1s
rescan_interval: 0
$( [ "$1" -gt 0 ] && echo "scan_threads: $1" )
collections:
  - name: BENCH
    landing: $base/landing
    rules:
      - {match: '^(?<o>f[0-9]+)\\.fits\$', observation: '\${o}', product: '\${o}', uri: 'cadc:BENCH/\${file}'}
CONF
}

# one restart: the scan's time and its unchanged count from the log
restart() {
	"$daemon" -f -c "$base/c.yml" 2>"$base/d.log" & dpid=$!
	while ! grep -q 'start-up scan' "$base/d.log"; do
		kill -0 $dpid 2>/dev/null || { cat "$base/d.log" >&2; exit 1; }
		sleep 0.01
	done
	kill -TERM $dpid; wait $dpid || true; dpid=
	sed -n 's/.*start-up scan of the landing directories: \([0-9]*\) files in \([0-9]*\) ms (\([0-9]*\) unchanged.*/\2 \3/p' "$base/d.log"
}

for dirs in 1 100; do
	rm -rf "$base/landing" "$base/state"
	mkdir -p "$base/landing"
	layout $dirs
	config 0
	"$daemon" -f -c "$base/c.yml" 2>"$base/first.log" & dpid=$!
	sleep 1
	while [ "$(sqlite3 "$base/state/state.db" "select count(*) from observations where status='done'" 2>/dev/null || echo 0)" -lt "$n" ]; do
		sleep 0.5
	done
	kill -TERM $dpid; wait $dpid || true; dpid=
	echo "$n known files in $([ $dirs = 1 ] && echo "one directory" || echo "$dirs directories"):"
	for threads in 0 1; do
		config $threads
		i=0
		while [ $i -lt "$r" ]; do
			set -- $(restart)
			scan=$1 unchanged=$2
			t=$(date +%s%N); find "$base/landing" -type f | wc -l >/dev/null; f=$(ms_since $t)
			t=$(date +%s%N); find "$base/landing" -type f -printf '%s %T@\n' | wc -l >/dev/null
			fs=$(ms_since $t)
			[ "$unchanged" = "$n" ] || { echo "the scan found $unchanged unchanged, not $n" >&2; exit 1; }
			echo "  scan_threads $([ $threads = 0 ] && echo "default" || echo "$threads      "):" \
			    "scan $scan ms, find $f ms, find -printf $fs ms:" \
			    "scan/find $(awk "BEGIN {printf \"%.2f\", $scan / $f}")," \
			    "scan/find -printf $(awk "BEGIN {printf \"%.2f\", $scan / $fs}")"
			i=$((i + 1))
		done
	done
done
