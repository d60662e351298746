#!/bin/sh
# bench/bench_storage_si.sh BUILDDIR [N_SMALL] [N_MEDIUM] [N_LARGE] - files
# stored in the test storage inventory (t/si-server, --no-fsync) over
# loopback: N_SMALL 1 KiB, N_MEDIUM 1 MiB and N_LARGE 1 GiB files (the last
# when the disk has room) at concurrency 1, 4 and 16, through the daemon's
# storage client (bench/bench_store: HEAD then PUT with Digest each, bytes
# read on worker threads, MD5s known beforehand as in the daemon), beside
# curl -T of the same files (curl --parallel, one HEAD-less PUT each: the
# limit), and once through `caom2ingest store` (which also hashes each
# file first). A fresh server per run.
set -eu
b=$1 ns=${2:-2000} nm=${3:-200} nl=${4:-2}
d=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-si.XXXXXX")
pid=
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$d"' EXIT

server() {	# a fresh server; sets $url
	[ -z "$pid" ] || { kill "$pid"; wait "$pid" 2>/dev/null || true; }
	rm -rf "$d/data" "$d/port"
	"$b/t/si-server" --listen 127.0.0.1:0 --port-file "$d/port" --data "$d/data" \
		--no-fsync >/dev/null 2>/dev/null & pid=$!
	while [ ! -s "$d/port" ]; do sleep 0.05; done
	url=http://127.0.0.1:$(cat "$d/port")/minoc/files
}

files() {	# files DIR N BYTES: N files of BYTES random bytes (one made, copied)
	mkdir -p "$1"
	head -c "$3" /dev/urandom > "$1/f0.fits"
	i=1
	while [ "$i" -lt "$2" ]; do cp "$1/f0.fits" "$1/f$i.fits"; i=$((i + 1)); done
}

curl_run() {	# curl_run DIR CONCURRENCY BYTES: curl -T every file, in parallel
	cfg=$d/curl.cfg
	: > "$cfg"
	for f in "$1"/*.fits; do
		printf 'upload-file = "%s"\nurl = "%s/cadc:CURL/%s"\noutput = "/dev/null"\n' \
			"$f" "$url" "$(basename "$f")" >> "$cfg"
	done
	n=$(ls "$1" | wc -l)
	t0=$(date +%s.%N)
	curl -sS --no-progress-meter --fail -Z --parallel-max "$2" -K "$cfg"
	t1=$(date +%s.%N)
	python3 -c "import sys; n, c, b, t = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[5]) - float(sys.argv[4]); print('curl  concurrency %2d: %d files, %8.1f files/s %8.1f MB/s' % (c, n, n / t, n * b / 1e6 / t))" \
		"$n" "$2" "$3" "$t0" "$t1"
}

size_run() {	# size_run LABEL DIR BYTES
	echo "-- $1"
	for c in 1 4 16; do
		server
		"$b/bench/bench_store" "$url" "$c" "$2"/*.fits
		server
		curl_run "$2" "$c" "$3"
	done
	server
	t0=$(date +%s.%N)
	"$b/src/caom2ingest" store --si "$url" --uri-template 'cadc:CLIENT/${file}' \
		--concurrency 4 "$2"/*.fits >/dev/null
	t1=$(date +%s.%N)
	python3 -c "import sys; n, b, t = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[4]) - float(sys.argv[3]); print('caom2ingest store --concurrency 4 (hashing first): %8.1f files/s %8.1f MB/s' % (n / t, n * b / 1e6 / t))" \
		"$(ls "$2" | wc -l)" "$3" "$t0" "$t1"
}

files "$d/small" "$ns" 1024
size_run "$ns files of 1 KiB" "$d/small" 1024
rm -rf "$d/small"
files "$d/medium" "$nm" 1048576
size_run "$nm files of 1 MiB" "$d/medium" 1048576
rm -rf "$d/medium"
# 1 GiB files: the files, and the server's copy of them, must fit
need=$(( (nl * 2 + 1) * 1048576 ))
avail=$(df -Pk "$d" | awk 'NR == 2 {print $4}')
if [ "$nl" -gt 0 ] && [ "$avail" -gt "$need" ]; then
	files "$d/large" "$nl" 1073741824
	size_run "$nl files of 1 GiB" "$d/large" 1073741824
else
	echo "-- 1 GiB files skipped: $((avail / 1024)) MiB free in $d, $((need / 1024)) MiB needed"
fi
