#!/bin/sh
# bench/bench_pipeline.sh - the pipeline's front half on tmpfs (or $TMPDIR):
#  1. N files renamed into a landing directory: files/s until every one is
#     classified into the state store (watch -> settle -> rules -> SQLite;
#     the directory sink stores their observations meanwhile);
#  2. a restart over the same N already-known files: seconds to READY and to
#     idle, side by side with `find` over the same tree.
#  3. with the test repository as the sink (t/repo-server, data on tmpfs):
#     N renamed files to N observations stored (GET + PUT each): files/s.
# usage: bench/bench_pipeline.sh [N]     (run from the build directory)
set -eu
n=${1:-10000}
top=${top_builddir:-.}
daemon=$top/src/caom2ingestd
client=$top/src/caom2ingest
base=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-bench.XXXXXX")
spid=
trap 'kill $dpid $spid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$base"' EXIT
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
	python3 -c 'import json,sys; f=json.load(sys.stdin)["files"]; print(sum(v for k, v in f.items() if k != "unmatched"))' 2>/dev/null || echo 0; }
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
kill -TERM $dpid; wait $dpid || true

# 3. end to end to the test repository
mkdir -p "$base/e2e/landing" "$base/e2e/staging"
i=0
while [ $i -lt "$n" ]; do : > "$base/e2e/staging/f$i.fits"; i=$((i + 1)); done
"$top/t/repo-server" --listen 127.0.0.1:0 --port-file "$base/port" --data "$base/repo" \
	--xsd-dir "${srcdir:-$top}/xsd" --no-fsync >/dev/null 2>&1 & spid=$!
while [ ! -s "$base/port" ]; do sleep 0.05; done
sed -e "s|$base/landing|$base/e2e/landing|" -e "s|$base/state|$base/e2e/state|" "$base/c.yml" > "$base/e2e.yml"
cat >> "$base/e2e.yml" <<CONF
sink:
  repo: {url: 'http://127.0.0.1:$(cat "$base/port")/torkeep/observations', concurrency: 16}
CONF
"$daemon" -f -c "$base/e2e.yml" 2>"$base/e2e.log" & dpid=$!
while [ ! -S "$base/control.sock" ]; do sleep 0.05; done
done_count() { sqlite3 "$base/e2e/state/state.db" "select count(*) from observations where status='done'" 2>/dev/null || echo 0; }
t0=$(now)
python3 -c 'import os, sys
s, d = sys.argv[1], sys.argv[2]
for f in os.listdir(s): os.rename(os.path.join(s, f), os.path.join(d, f))' "$base/e2e/staging" "$base/e2e/landing"
while [ "$(done_count)" -lt "$n" ]; do sleep 0.1; done
t1=$(now)
rss=$(awk '/VmHWM/ {print $2}' /proc/$dpid/status)
echo "end to end to the repository: $n files in $(echo "$t1 - $t0" | bc) s," \
	"$(echo "scale=0; $n / ($t1 - $t0)" | bc) files/s (GET + PUT each, concurrency 16), peak RSS $((rss / 1024)) MB"
kill -TERM $dpid; wait $dpid || true
kill $spid; wait $spid 2>/dev/null || true
