#!/bin/sh
# bench/bench_pipeline.sh - the pipeline's front half on tmpfs (or $TMPDIR):
#  1. N files renamed into a landing directory: files/s until every one is
#     classified into the state store (watch -> settle -> rules -> SQLite);
#  2. a restart over the same N already-known files: seconds to READY and to
#     idle, side by side with `find` over the same tree.
# usage: bench/bench_pipeline.sh [N]     (run from the build directory)
set -eu
n=${1:-10000}
top=${top_builddir:-.}
daemon=$top/src/caom2ingestd
client=$top/src/caom2ingest
base=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-bench.XXXXXX")
trap 'kill $dpid 2>/dev/null; wait $dpid 2>/dev/null; rm -rf "$base"' EXIT
mkdir -p "$base/landing" "$base/staging"
cat > "$base/c.yml" <<CONF
log: stderr
log_level: warning
state_dir: $base/state
control_socket: $base/control.sock
settle: 1s
rescan_interval: 0
collections:
  - name: BENCH
    landing: $base/landing
    rules:
      - {match: '^(?<o>f[0-9]+)\\.fits\$', observation: '\${o}', product: '\${o}', uri: 'cadc:BENCH/\${file}'}
CONF
now() { date +%s.%N; }
count() { "$client" -s "$base/control.sock" --json status 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["files"]["pending"])' 2>/dev/null || echo 0; }
wait_count() { while [ "$(count)" -lt "$1" ]; do sleep 0.05; done; }

i=0
while [ $i -lt "$n" ]; do : > "$base/staging/f$i.fits"; i=$((i + 1)); done
"$daemon" -f -c "$base/c.yml" 2>"$base/daemon.log" & dpid=$!
while [ ! -S "$base/control.sock" ]; do sleep 0.05; done
t0=$(now)
python3 -c 'import os, sys
s, d = sys.argv[1], sys.argv[2]
for f in os.listdir(s): os.rename(os.path.join(s, f), os.path.join(d, f))' "$base/staging" "$base/landing"
t1=$(now)
wait_count "$n"
t2=$(now)
rss=$(awk '/VmHWM/ {print $2}' /proc/$dpid/status)
echo "files renamed in:        $n in $(echo "$t1 - $t0" | bc) s (one process renaming)"
echo "classified into state:   $(echo "scale=0; $n / ($t2 - $t0)" | bc) files/s from the first rename"
echo "peak RSS:                $((rss / 1024)) MB tracking $n files"
kill -TERM $dpid; wait $dpid || true

t0=$(now)
"$daemon" -f -c "$base/c.yml" 2>>"$base/daemon.log" & dpid=$!
while [ ! -S "$base/control.sock" ]; do sleep 0.01; done
t1=$(now)
while ! "$client" -s "$base/control.sock" status >/dev/null 2>&1; do sleep 0.01; done
t2=$(now)
t3=$(now); find "$base/landing" -type f | wc -l >/dev/null; t4=$(now)
echo "restart over $n known files: socket bound after $(echo "$t1 - $t0" | bc) s, answering" \
	"(start-up scan done) after $(echo "$t2 - $t0" | bc) s"
echo "find over the same tree:     $(echo "$t4 - $t3" | bc) s;" \
	"ratio $(echo "scale=1; ($t2 - $t0) / ($t4 - $t3)" | bc)"
