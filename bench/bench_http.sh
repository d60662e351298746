#!/bin/sh
# bench/bench_http.sh - the operators' endpoint (http:) of the real daemon
# over an empty state store and over one of N observations (each with its
# history; made by bench_http fill), on tmpfs:
#  - the census of the store (counts by collection and state, the oldest
#    unfinished, the latest failures), read on the monitor's worker: its
#    duration as the daemon reports it (caom2ingest_state_read_duration_seconds);
#  - GET /metrics (1 and 50 at a time), GET / and /status.json, and an
#    observation's page (read from the store on the worker): requests/s and
#    p50/p99/max latency seen by the client (libcurl, keep-alive);
#  - the event loop meanwhile: the daemon's own loop_iteration histogram
#    before and after all those requests, so the longest iteration they
#    caused is bounded by its bucket;
#  - beside it, `caom2ingest status` (the control socket, whose counts are
#    read from SQLite on the loop) for comparison.
# usage: bench/bench_http.sh BUILDDIR SRCDIR [N]
set -eu
top=$1
src=$2
n=${3:-100000}
daemon=$top/src/caom2ingestd
client=$top/src/caom2ingest
bench=$top/bench/bench_http
base=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-bench.XXXXXX")
dpid=
trap 'kill $dpid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$base"' EXIT
now() { date +%s.%N; }

# The loop_iteration buckets of a metrics text: "LE COUNT" lines.
loop_buckets() {
	sed -n 's/^caom2ingest_stage_duration_seconds_bucket{stage="loop_iteration",le="\([^"]*\)"} \([0-9]*\)$/\1 \2/p' "$1"
}
# The iterations between two metrics texts: how many, and the bucket bounding the longest.
loop_between() {
	loop_buckets "$1" > "$base/b1"
	loop_buckets "$2" > "$base/b2"
	python3 -c 'import sys
b1 = dict(l.split() for l in open(sys.argv[1]))
b2 = [l.split() for l in open(sys.argv[2])]
total = int(b2[-1][1]) - int(b1[b2[-1][0]])
p99 = longest = None
for le, c in b2:
    d = int(c) - int(b1[le])
    if p99 is None and d >= 0.99 * total:
        p99 = le
    if longest is None and d == total:
        longest = le
ms = lambda le: "+Inf" if le == "+Inf" else "%.3g ms" % (float(le) * 1000)
print("%d iterations, p99 <= %s, longest <= %s" % (total, ms(p99), ms(longest)))' "$base/b1" "$base/b2"
}

run() {	# N: a store of N observations, the daemon over it, the requests
	nobs=$1
	s=$base/s$1
	mkdir -p "$s/state" "$s/landing"
	fill=$("$bench" fill "$s/state" "$1")
	cat > "$s/c.yml" <<CONF
log: stderr
log_level: info
state_dir: $s/state
control_socket: $s/control.sock
rescan_interval: 0
http:
  listen: 127.0.0.1:0
collections:
  - name: BENCH
    landing: $s/landing
    rules:
      - {match: '^(?<o>o[0-9]+)\\.fits\$', observation: '\${o}', product: '\${o}', uri: 'cadc:BENCH/\${file}'}
CONF
	"$daemon" -f -c "$s/c.yml" 2>"$s/daemon.log" & dpid=$!
	while ! grep -qs '(port [0-9]*)' "$s/daemon.log"; do sleep 0.05; done
	port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$s/daemon.log" | head -1)
	url=http://127.0.0.1:$port
	until curl -sf "$url/metrics" | grep -q '^caom2ingest_state_read_timestamp_seconds [1-9]'; do
		sleep 0.05
	done
	curl -sf "$url/metrics" > "$s/m0"
	census=$(sed -n 's/^caom2ingest_state_read_duration_seconds //p' "$s/m0")
	done_n=$(sed -n 's/^caom2ingest_observations_by_status{status="done"} //p' "$s/m0")
	echo "== $1 observations in the store (made in $fill s; $done_n done), $(du -sh "$s/state" | cut -f1) of SQLite"
	echo "  census of the store on the worker:  $(echo "$census" | awk '{printf "%.1f", $1 * 1000}') ms"
	pages="/metrics:1:2000 /metrics:50:5000 /metrics:250:5000 /:1:1000 /status.json:1:2000"
	[ "$nobs" -gt 500 ] && pages="$pages /observations/BENCH/o0000500:1:1000"
	for spec in $pages; do
		set -- $(echo "$spec" | tr : ' ')
		r=$("$bench" get "$url$1" "$2" "$3") || true
		set -- $1 $2 $3 $r
		printf '  GET %-28s x%-3s %5s ok %s other: %6.0f req/s, p50 %s ms, p99 %s ms, max %s ms (%s bytes)\n' \
		    "$1" "$2" "$4" "$5" "$(echo "$3 $6" | awk '{print $1 / $2}')" "$7" "$8" "$9" "${10}"
	done
	curl -sf "$url/metrics" > "$s/m1"
	echo "  the event loop meanwhile:           $(loop_between "$s/m0" "$s/m1")"
	# five more censuses, each after a change (an operator's re-ingest)
	if [ "$nobs" -gt 0 ]; then
		durations=
		for k in 1 2 3 4 5; do
			at=$(sed -n 's/^caom2ingest_state_read_timestamp_seconds //p' "$s/m1")
			"$client" -s "$s/control.sock" reingest "BENCH/o000000$k" >/dev/null
			while curl -sf "$url/metrics" > "$s/m1" &&
			    [ "$(sed -n 's/^caom2ingest_state_read_timestamp_seconds //p' "$s/m1")" = "$at" ]; do
				sleep 0.2
			done
			durations="$durations $(sed -n 's/^caom2ingest_state_read_duration_seconds //p' "$s/m1")"
		done
		echo "  five more censuses after a change:  $(echo $durations | awk '{for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? ", " : ""), $i * 1000}') ms"
	fi
	t0=$(now)
	i=0
	while [ $i -lt 20 ]; do "$client" -s "$s/control.sock" status >/dev/null; i=$((i + 1)); done
	t1=$(now)
	echo "  caom2ingest status (counts from SQLite on the loop), 20 in a row: $(echo "$t0 $t1" | awk '{printf "%.1f", ($2 - $1) * 50}') ms each"
	kill -TERM $dpid; wait $dpid || true
	dpid=
}

run 0
run "$n"
