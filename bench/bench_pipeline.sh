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
spid= lpid= dpid=
trap 'kill $dpid $spid $lpid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$base"' EXIT
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
# the restart below is over files whose observations are all stored (else
# it would resume their jobs, and time those)
while [ "$(sqlite3 "$base/state/state.db" "select count(*) from observations where status='done'" 2>/dev/null || echo 0)" -lt "$n" ]; do
	sleep 0.2
done
echo "daemon CPU until every observation was stored: $(awk '{print ($14 + $15) / 100}' /proc/$dpid/stat) s"
kill -TERM $dpid; wait $dpid || true

# 2. restart over the N known files: READY (sd_notify), the control socket
# answering (the start-up scan runs before the loop serves it), idle (nothing
# settling, no job queued or running), and the scan's own duration from the
# daemon's log, side by side with find over the same tree.
sed -i 's/^log_level: warning/log_level: info/' "$base/c.yml"
"$top/t/notify-listen" "$base/notify.sock" "$base/notify.out" & lpid=$!
while [ ! -S "$base/notify.sock" ]; do sleep 0.01; done
idle() { "$client" -s "$base/control.sock" --json status 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin); j = d["jobs"]
print(d.get("settling", 0) + j["queued"] + j["running"])' 2>/dev/null || echo 1; }
t0=$(now)
NOTIFY_SOCKET=$base/notify.sock "$daemon" -f -c "$base/c.yml" 2>"$base/restart.log" & dpid=$!
until grep -q 'READY=1' "$base/notify.out" 2>/dev/null; do sleep 0.002; done
t1=$(now)
while ! "$client" -s "$base/control.sock" status >/dev/null 2>&1; do sleep 0.005; done
t2=$(now)
while [ "$(idle)" != 0 ]; do sleep 0.01; done
t3=$(now)
scan=$(sed -n 's/.*start-up scan of the landing directories: \([0-9]*\) files in \([0-9]*\) ms.*/\1 files in \2 ms/p' "$base/restart.log")
kill -TERM $dpid; wait $dpid || true
kill -TERM $lpid; wait $lpid 2>/dev/null || true
t4=$(now); find "$base/landing" -type f | wc -l >/dev/null; t5=$(now)
t6=$(now); find "$base/landing" -type f -printf '%s %T@\n' | wc -l >/dev/null; t7=$(now)
ms() { echo "scale=0; ($1) * 1000 / 1" | bc; }
echo "restart over $n known files: READY after $(ms "$t1 - $t0") ms, control socket answering" \
	"after $(ms "$t2 - $t0") ms, idle after $(ms "$t3 - $t0") ms"
echo "  the daemon's start-up scan:  $scan"
echo "  find -type f:                $(ms "$t5 - $t4") ms (names only: d_type, no stat)"
echo "  find -type f -printf '%s %T@': $(ms "$t7 - $t6") ms (a stat per file, as the daemon needs)"

# 3. end to end to the test repository: N single-HDU FITS files (a 4x3
# image each, mapped with a blueprint) renamed into the landing directory;
# latency from each file's rename to the daemon recording its observation
# done (the repository's 200 received: observations.updated).
mkdir -p "$base/e2e/landing" "$base/e2e/staging"
( . "${srcdir:-$top}/t/mkfits.sh"	# (mkfits uses $n: a subshell)
  mkfits "$base/template.fits" "OBJECT  = 'M31     '" "TELESCOP= 'BENCH   '" "INSTRUME= 'CAM     '" )
i=0
while [ $i -lt "$n" ]; do cp "$base/template.fits" "$base/e2e/staging/f$i.fits"; i=$((i + 1)); done
cat > "$base/bench.blueprint" <<'BP'
Observation.type = OBJECT
Observation.target.name = ['OBJECT']
Observation.telescope.name = ['TELESCOP']
Observation.instrument.name = ['INSTRUME']
Plane.calibrationLevel = 1
Plane.dataProductType = image
Artifact.productType = science
Artifact.releaseType = data
BP
"$top/t/repo-server" --listen 127.0.0.1:0 --port-file "$base/port" --data "$base/repo" \
	--xsd-dir "${srcdir:-$top}/xsd" --no-fsync >/dev/null 2>&1 & spid=$!
while [ ! -s "$base/port" ]; do sleep 0.05; done
cat > "$base/e2e.yml" <<CONF
log: stderr
log_level: warning
state_dir: $base/e2e/state
control_socket: $base/control.sock
settle: 1s
rescan_interval: 0
collections:
  - name: BENCH
    landing: $base/e2e/landing
    rules:
      - {match: '^(?<o>f[0-9]+)\\.fits\$', observation: '\${o}', product: '\${o}', uri: 'cadc:BENCH/\${file}', blueprint: '$base/bench.blueprint'}
sink:
  repo: {url: 'http://127.0.0.1:$(cat "$base/port")/torkeep/observations', concurrency: 16}
CONF
"$daemon" -f -c "$base/e2e.yml" 2>"$base/e2e.log" & dpid=$!
while [ ! -S "$base/control.sock" ]; do sleep 0.05; done
done_count() { sqlite3 "$base/e2e/state/state.db" "select count(*) from observations where status='done'" 2>/dev/null || echo 0; }
# rename_in RATE FIRST COUNT: rename staging files FIRST.. into the landing
# directory, RATE per second (0: as fast as one process can), noting times.
rename_in() {
	python3 -c 'import os, sys, time
s, d, out, rate, first, count = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
t0 = time.time()
with open(out, "a") as o:
    for k, i in enumerate(range(first, first + count)):
        if rate > 0:
            time.sleep(max(0, t0 + k / rate - time.time()))
        f = "f%d.fits" % i
        os.rename(os.path.join(s, f), os.path.join(d, f))
        o.write("f%d %.6f\n" % (i, time.time()))' "$base/e2e/staging" "$base/e2e/landing" "$base/renamed" "$@"
}
latency() {	# LIKE: p50/p99/max of rename -> done for observations named LIKE
	sqlite3 -separator ' ' "$base/e2e/state/state.db" \
		"select observation, updated from observations where status='done'" > "$base/done"
	python3 -c 'import sys
ren = dict(l.split() for l in open(sys.argv[1]))
lat = sorted(max(0.0, int(t) / 1000 - float(ren[o])) for o, t in (l.split() for l in open(sys.argv[2])) if o in ren and int(o[1:]) >= int(sys.argv[3]) and int(o[1:]) < int(sys.argv[4]))
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print("p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d files" % (q(0.5), q(0.99), lat[-1] * 1000, len(lat)))' "$base/renamed" "$base/done" "$1" "$2"
}
paced=$((n / 10))
burst=$((n - paced))
t0=$(now)
rename_in 0 0 "$burst"
while [ "$(done_count)" -lt "$burst" ]; do sleep 0.1; done
t1=$(now)
echo "end to end to the repository: a burst of $burst single-HDU FITS files mapped and" \
	"pushed in $(echo "$t1 - $t0" | bc) s: $(echo "scale=0; $burst / ($t1 - $t0)" | bc) files/s" \
	"(GET + PUT each, concurrency 16)"
echo "  latency from rename to the observation recorded done, in the burst (queueing" \
	"included): $(latency 0 "$burst")"
rename_in 200 "$burst" "$paced"
while [ "$(done_count)" -lt "$n" ]; do sleep 0.1; done
rss=$(awk '/VmHWM/ {print $2}' /proc/$dpid/status)
failed=$(sqlite3 "$base/e2e/state/state.db" "select count(*) from observations where status <> 'done'")
echo "  the same, $paced more files renamed at 200 files/s: $(latency "$burst" "$n")"
echo "  (the target is p99 <= settle + 50 ms = 1050 ms here; a rename is complete at once)"
echo "  $failed observations not done; peak RSS $((rss / 1024)) MB"
kill -TERM $dpid; wait $dpid || true
kill $spid; wait $spid 2>/dev/null || true
