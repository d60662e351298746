#!/bin/sh
# bench/bench_stall.sh - does a large file hold the event loop?
# Small FITS files are renamed into a landing directory at a steady rate
# (the directory sink stores their observations); once with nothing else,
# once while a large FITS file (SIZE MiB, header + data, read whole for its
# MD5 by a worker thread) lands among them. Reported side by side: the
# longest and the p99 loop iteration (the daemon's stats, `loop_iteration`),
# the small files' rename -> done latency, and the large file's own time.
# usage: bench/bench_stall.sh [SIZE_MIB] [SMALL_FILES]   (from the build directory)
set -eu
size=${1:-2048}
n=${2:-200}
top=${top_builddir:-.}
daemon=$top/src/caom2ingestd
client=$top/src/caom2ingest
base=$(mktemp -d "${TMPDIR:-/dev/shm}/caom2ingest-stall.XXXXXX")
dpid=
trap 'kill $dpid 2>/dev/null || true; wait 2>/dev/null; rm -rf "$base"' EXIT
( . "${srcdir:-$top}/t/mkfits.sh"; mkfits "$base/small.fits" "OBJECT  = 'M31     '" )
# a large FITS file: a primary header for SIZE MiB of 8-bit pixels, then the data
python3 - "$base/large.fits" "$size" <<'PY'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
cards = ["SIMPLE  =                    T", "BITPIX  =                    8",
         "NAXIS   =                    2", "NAXIS1  =                 1024",
         "NAXIS2  = %20d" % (mib * 1024), "END"]
hdr = "".join(c.ljust(80) for c in cards).ljust(2880).encode()
with open(path, "wb") as f:
    f.write(hdr)
    chunk = bytes(range(256)) * 4096
    for _ in range(mib):
        f.write(chunk)
PY

run() {	# run NAME WITH_LARGE: prints one line of figures
	rm -rf "$base/landing" "$base/staging" "$base/state"
	mkdir -p "$base/landing" "$base/staging"
	i=0
	while [ $i -lt "$n" ]; do cp "$base/small.fits" "$base/staging/s$i.fits"; i=$((i + 1)); done
	[ "$2" = 0 ] || cp "$base/large.fits" "$base/staging/large.fits"
	cat > "$base/c.yml" <<CONF
log: stderr
log_level: warning
state_dir: $base/state
control_socket: $base/control.sock
settle: 200ms
rescan_interval: 0
collections:
  - name: STALL
    landing: $base/landing
    rules:
      - {match: '^(?<o>.*)\\.fits\$', observation: '\${o}', product: '\${o}', uri: 'cadc:STALL/\${file}'}
CONF
	"$daemon" -f -c "$base/c.yml" 2>"$base/$1.log" & dpid=$!
	while [ ! -S "$base/control.sock" ]; do sleep 0.02; done
	python3 - "$base" "$n" "$2" <<'PY'
import os, sys, time
base, n, large = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
s, d = os.path.join(base, "staging"), os.path.join(base, "landing")
t0 = time.time()
with open(os.path.join(base, "renamed"), "w") as o:
    for i in range(n):
        if large and i == 5:
            os.rename(os.path.join(s, "large.fits"), os.path.join(d, "large.fits"))
            o.write("large %.6f\n" % time.time())
        time.sleep(max(0, t0 + i / 100.0 - time.time()))	# 100 files/s
        os.rename(os.path.join(s, "s%d.fits" % i), os.path.join(d, "s%d.fits" % i))
        o.write("s%d %.6f\n" % (i, time.time()))
PY
	want=$((n + $2))
	until [ "$(sqlite3 "$base/state/state.db" "select count(*) from observations where status='done'" 2>/dev/null || echo 0)" -ge "$want" ]; do
		sleep 0.05
	done
	"$client" -s "$base/control.sock" --json stats > "$base/$1.stats"
	kill -TERM $dpid; wait $dpid || true
	python3 - "$base" "$1" <<'PY'
import json, sqlite3, sys
base, name = sys.argv[1], sys.argv[2]
st = json.load(open("%s/%s.stats" % (base, name)))
loop = st["latency"]["loop_iteration"]
renamed = dict(l.split() for l in open(base + "/renamed"))
db = sqlite3.connect(base + "/state/state.db")
done = {o: u / 1000.0 for o, u in db.execute("select observation, updated from observations")}
lat = sorted((done[k] - float(t)) * 1000 for k, t in renamed.items() if k.startswith("s"))
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
big = ("; large file %.0f ms from rename to done" % ((done["large"] - float(renamed["large"])) * 1000)
       if "large" in renamed else "")
print("%-22s loop iteration p99 %.2f ms, max %.2f ms over %d; small files rename->done "
      "p50 %.0f ms, p99 %.0f ms, max %.0f ms%s" % (name, loop["p99_ms"], loop["max_ms"],
      loop["count"], p(0.5), p(0.99), lat[-1], big))
PY
}
echo "$n small FITS files at 100/s, settle 200 ms, directory sink; large file $size MiB"
run "small files only" 0
run "with the large file" 1
