#!/bin/sh
# bench/bench_storage.sh - storage notifications through the real daemon:
# N small FITS objects in a bucket of the S3 test server (t/s3server.sh,
# SigV4), N S3 events POSTed to the daemon's webhook (curl, 16 keep-alive
# connections in parallel), the daemon recording each event (SQLite WAL)
# before its 200, fetching the objects into its spool, mapping and pushing
# them to the test repository (t/repo-server), all on loopback and tmpfs.
# Reported: events/s accepted (new events, with the fetches and pushes they
# start running meanwhile; then the same N again, duplicates: the recording
# path alone) and objects/s from the first event to the Nth observation
# stored. Everything shares the two cores; the node S3 server is the
# busiest process.
# usage: bench/bench_storage.sh BUILDDIR SRCDIR [N]
set -eu
top=$1 srcdir=$2 count=${3:-2000}
top_builddir=$top
tmp=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-bstorage.XXXXXX")
hooks=
at_exit() { hooks="$1 $hooks"; }
cleanup() { for h in $hooks; do $h; done; rm -rf "$tmp"; }
trap cleanup EXIT
bail() { echo "bench_storage: $*" >&2; for l in "$tmp/daemon.log" "$tmp/qdaemon.log"; do [ -f "$l" ] && tail -20 "$l" >&2; done; exit 1; }
wait_for() { s=$1; shift; t=$((s * 20)); while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; t=$((t - 1)); done; return 1; }
. "$srcdir/t/mkfits.sh"
. "$srcdir/t/repo.sh"
. "$srcdir/t/s3server.sh"
why=$(s3server_missing)
[ -z "$why" ] || bail "$why"
start_s3_server
start_repo_server
s3_mkbucket raw
mkfits "$tmp/obj.fits" "OBJECT  = 'BENCH   '"
md5=$(md5sum < "$tmp/obj.fits" | cut -d' ' -f1)
size=$(wc -c < "$tmp/obj.fits")
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: warning
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
rescan_interval: 0
s3: {endpoint: $s3_endpoint, credentials: $s3_credentials, reconcile_interval: 0, concurrency: 16}
webhook: {listen: '127.0.0.1:0'}
collections:
  - name: BENCH
    buckets: [{name: raw}]
    rules:
      - {match: '^(?<o>o[0-9]+)\\.fits\$', observation: '\${o}', product: '\${o}', uri: 'cadc:BENCH/\${file}'}
sink:
  repo: {url: '$root/torkeep/observations', concurrency: 16}
CONF
"$top/src/caom2ingestd" -f -c "$tmp/c.yml" 2>"$tmp/daemon.log" & dpid=$!
stop_daemon() { kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null || true; }
at_exit stop_daemon
wait_for 20 "$top/src/caom2ingest" -s "$tmp/control.sock" status || bail "the daemon did not start"
port=$("$top/src/caom2ingest" -s "$tmp/control.sock" --json status |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["webhook_port"])')
# uploads (after the daemon's start-up listing, so that only events announce them)
python3 - "$count" "$s3_endpoint" "$tmp/obj.fits" "$tmp/events" "$port" "$md5" "$size" > "$tmp/put.cfg" <<'PY'
import json, sys
n, ep, f, events, port, md5, size = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7])
with open(events, "w") as ev:
    for i in range(n):
        print('url = "%s/raw/o%d.fits"\nupload-file = "%s"\noutput = "/dev/null"\n' % (ep, i, f))
        ev.write(json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "raw"},
            "object": {"key": "o%d.fits" % i, "size": size, "eTag": md5, "sequencer": "%016X" % i}}}]}) + "\n")
PY
curl -sS --no-progress-meter -Z --parallel-max 16 --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
	-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -K "$tmp/put.cfg" || bail "uploads failed"
now() { date +%s.%N; }
# the load generator of bench/bench_webhook: one event per line, 16 connections
post_all() { "$top/bench/bench_webhook" --post "http://127.0.0.1:$port/events" "$tmp/events" 16; }
# (sed, not python: the poll must not take the CPU it measures)
puts() { n=$(curl -s "$root/_test/stats" | sed -n 's/.*"PUT":\([0-9]*\).*/\1/p'); echo "${n:-0}"; }
all_stored() { [ "$(puts)" -ge "$count" ]; }
# CPU seconds a process used so far (utime + stime), and since an earlier reading
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
cpu_since() { awk -v a="$2" -v b="$(cpu "$1")" 'BEGIN { printf "%.1f s", b - a }'; }
c0_daemon=$(cpu "$dpid") c0_s3=$(cpu "$s3_pid") c0_repo=$(cpu "$repo_spid")
t0=$(now)
set -- $(post_all) || bail "some events were refused: $*"
new_ok=$1 new_other=$2 new_s=$3 new_p50=$4 new_p99=$5
wait_for 300 all_stored || bail "not every object was stored: $(puts) of $count"
t2=$(now)
cpu_daemon=$(cpu_since "$dpid" "$c0_daemon") cpu_s3=$(cpu_since "$s3_pid" "$c0_s3")
cpu_repo=$(cpu_since "$repo_spid" "$c0_repo")
set -- $(post_all) || bail "some duplicate events were refused: $*"
dup_ok=$1 dup_other=$2 dup_s=$3 dup_p50=$4 dup_p99=$5
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.2f ms", s * 1000 }'; }
echo "$count S3 events by webhook (16 connections), objects fetched from the S3 test server (SigV4), pushed to the test repository"
echo "  new events accepted:         $(rate "$count" "$new_s") events/s ($new_ok answered 200, $new_other other; p50 $(ms "$new_p50"), p99 $(ms "$new_p99"))"
echo "  event -> observation stored: $(rate "$count" "$(awk -v a="$t0" -v b="$t2" 'BEGIN { print b - a }')") objects/s end to end ($(puts) PUTs)"
echo "  CPU used meanwhile: daemon $cpu_daemon, S3 server (node) $cpu_s3, repository server $cpu_repo; wall $(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f s", b - a }')"
echo "  duplicate events accepted:   $(rate "$count" "$dup_s") events/s ($dup_ok answered 200, $dup_other other; p50 $(ms "$dup_p50"), p99 $(ms "$dup_p99"))"

# --- the same objects announced on an AMQP queue (a private RabbitMQ node) ---
# A second daemon with its own state and collection BENCHQ consumes N
# announcements {"uri": "s3://raw/oN.fits"} published before it starts
# (untimed); timed from its start: every announcement recorded in its state
# store (and so acknowledged), and every BENCHQ observation stored.
skip_all() { echo "AMQP: skipped: $*"; exit 0; }
set +e	# t/rabbitmq.sh is written for the TAP tests, which do not use set -e
. "$srcdir/t/rabbitmq.sh"
rabbitmq_init
rabbitmq_start
i=0
while [ "$i" -lt "$count" ]; do printf '{"uri":"s3://raw/o%d.fits"}\n' "$i"; i=$((i + 1)); done |
	mq_publish bench-files >/dev/null || bail "cannot publish the announcements"
sed -e "s|^state_dir: .*|state_dir: $tmp/qstate|" -e "s|^control_socket: .*|control_socket: $tmp/q.sock|" \
	-e "s|^webhook: .*|amqp: {url: '$mq_url'}|" -e 's|name: BENCH$|name: BENCHQ|' \
	-e 's|buckets: \[{name: raw}\]|queues: [bench-files]|' -e 's|cadc:BENCH/|cadc:BENCHQ/|' \
	"$tmp/c.yml" > "$tmp/q.yml"
# objects the daemon has recorded: the sum of its status "objects" counts (sed, not python)
known() {
	"$top/src/caom2ingest" -s "$tmp/q.sock" --json status 2>/dev/null |
		tr -d ' \n' | sed -n 's/.*"objects":{\([^}]*\)}.*/\1/p' | tr ',' '\n' |
		awk -F: '{ s += $2 } END { print s + 0 }'
}
all_known() { [ "$(known)" -ge "$count" ]; }
all_stored_q() { [ "$(puts)" -ge $((count * 2)) ]; }
c0_s3=$(cpu "$s3_pid") c0_repo=$(cpu "$repo_spid")
t0=$(now)
"$top/src/caom2ingestd" -f -c "$tmp/q.yml" 2>"$tmp/qdaemon.log" & qpid=$!
stop_qdaemon() { kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null || true; }
at_exit stop_qdaemon
wait_for 120 all_known || bail "not every announcement was recorded: $(known) of $count"
t1=$(now)
wait_for 300 all_stored_q || bail "not every announced object was stored: $(puts) of $((count * 2))"
t2=$(now)
cpu_q=$(cpu "$qpid") cpu_s3=$(cpu_since "$s3_pid" "$c0_s3") cpu_repo=$(cpu_since "$repo_spid" "$c0_repo")
echo "$count announcements on an AMQP queue (RabbitMQ, prefetch 100), the same objects, a second daemon"
echo "  announcements recorded:      $(rate "$count" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')") messages/s (from the daemon's start, its start-up included)"
echo "  start -> observation stored: $(rate "$count" "$(awk -v a="$t0" -v b="$t2" 'BEGIN { print b - a }')") objects/s end to end ($(($(puts) - count)) PUTs)"
echo "  CPU meanwhile: daemon ${cpu_q} s, S3 server (node) $cpu_s3, repository server $cpu_repo; wall $(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.1f s", b - a }')"
