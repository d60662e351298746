#!/bin/sh
# bench/bench_s3.sh BUILDDIR SRCDIR [N] [NLIST] - start the S3 test server
# (t/s3server.sh) with its data on tmpfs, store N 4 KB objects and NLIST
# empty ones, then fetch the N at concurrency 1, 8 and 16 (SigV4-signed,
# into tmpfs) and list the NLIST (bench/bench_s3.c).
set -eu
b=$1 srcdir=$2 n=${3:-2000} nlist=${4:-10000}
export TMPDIR=${TMPDIR:-/dev/shm}
. "$srcdir/t/tap.sh"
. "$srcdir/t/s3server.sh"
why=$(s3server_missing)
if [ -n "$why" ]; then echo "bench_s3: skipped: $why"; trap - EXIT; rm -rf "$tmp"; exit 0; fi
start_s3_server
run() { "$b/bench/bench_s3" "$s3_endpoint" "$s3_credentials" "$s3_pid" "$@"; }
run put bench-s3 small/ "$n" 4096
run put bench-s3 list/ "$nlist" 0
for c in 1 8 16; do
	rm -rf "$tmp/out"; mkdir "$tmp/out"
	run fetch bench-s3 small/ "$n" "$tmp/out" "$c"
done
run list bench-s3 list/
