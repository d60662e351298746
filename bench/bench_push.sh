#!/bin/sh
# bench/bench_push.sh BUILDDIR SRCDIR N - start the test repository on tmpfs
# and push N observations at concurrency 1, 4 and 16 (bench/bench_push.c).
set -eu
b=$1 s=$2 n=${3:-5000}
d=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-push.XXXXXX")
"$b/t/repo-server" --listen 127.0.0.1:0 --port-file "$d/port" --data "$d/data" \
	--xsd-dir "$s/xsd" --no-fsync >/dev/null 2>/dev/null & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$d"' EXIT
while [ ! -s "$d/port" ]; do sleep 0.05; done
"$b/bench/bench_push" "http://127.0.0.1:$(cat "$d/port")/torkeep/observations" "$n" 1 4 16
