#!/bin/sh
# t/storage-s3.sh - storage and buckets together, end to end with the real
# daemon, the S3 test server (t/s3server.sh), the test storage inventory
# and the test repository: objects from a bucket are fetched, stored in
# the storage inventory, then pushed; landed files are stored in a bucket
# (one PUT with Content-MD5 and x-amz-meta-md5, or a multipart upload),
# then pushed; an object the bucket holds already is not sent again;
# another type is a copy onto itself; a multipart upload cut by kill -9 is
# resumed after the restart.
#
# The S3 test server (@20minutes/s3rver) implements multipart uploads
# (initiate, parts, complete) and copies with x-amz-metadata-directive,
# but not If-None-Match/If-Match on PUT (it ignores them), Content-MD5
# checks, ListParts or AbortMultipartUpload: those are sent and not tested
# here (the daemon trusts the parts it recorded; an abort the server
# refuses is left to its expiry).
. "$srcdir/t/tap.sh"
. "$srcdir/t/repo.sh"
. "$srcdir/t/si.sh"
. "$srcdir/t/s3server.sh"

why=$(s3server_missing)
[ -z "$why" ] || skip_all "$why"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
plan 23

start_s3_server
start_repo_server
start_si_server
s3_mkbucket raw || bail "cannot create the bucket raw"
s3_mkbucket archive || bail "cannot create the bucket archive"
mkdir -p "$tmp/staging" "$tmp/landing"
land=$tmp/landing
for n in 1 2; do
	head -c $((2000 * n)) /dev/urandom > "$tmp/staging/C00000${n}_SCI.fits"
	s3_put raw "raw/C00000${n}_SCI.fits" "$tmp/staging/C00000${n}_SCI.fits" || bail "cannot upload"
done
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: info
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
rescan_interval: 0
s3:
  endpoint: $s3_endpoint
  credentials: $s3_credentials
  reconcile_interval: 0
collections:
  - name: OMM
    buckets: [{name: raw, prefix: raw/}]
    rules:
      - {match: '^(?<obs>C[0-9]{6})_SCI\\.fits\$', observation: '\${obs}', product: '\${obs}', uri: 'cadc:OMM/\${file}'}
    storage:
      si: {url: '$si_url'}
      retry: {initial: 100ms, max: 500ms, attempts: 3}
  - name: LND
    landing: $land
    rules:
      - {match: '^(?<obs>L[0-9]+)\\.fits\$', observation: '\${obs}', product: '\${obs}', uri: 'cadc:LND/\${file}'}
    storage:
      s3: {bucket: archive, prefix: 'lnd/', multipart_threshold: 6MiB, part_size: 5MiB}
      retry: {initial: 100ms, max: 500ms, attempts: 3}
sink:
  repo: {url: '$root/torkeep/observations', retry: {initial: 200ms, max: 1s, attempts: 10}}
CONF
log=$tmp/daemon.log
db=$tmp/state/state.db
q() { sqlite3 "$db" "$1" 2>/dev/null; }
start() { "$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!; wait_for 10 test -S "$tmp/control.sock"; }
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
done_() { test "$(sqlite3 "$db" "select status from observations where observation='$1'" 2>/dev/null)" = done; }
md5of() { md5sum < "$1" | cut -d' ' -f1; }
landf() { cat > "$land/.$1" && mv "$land/.$1" "$land/$1"; }
head_of() { # head_of KEY HEADER: a header of the archive's object
	s3 -I "$s3_endpoint/archive/$1" 2>/dev/null | tr -d '\r' | sed -n "s/^$2: //Ip"
}
artifact() {
	curl -s "$root/torkeep/observations/$1" |
		sed -n "s|.*<caom2:contentChecksum>\\([^<]*\\)</caom2:contentChecksum>.*|\\1|p" | head -1
}

# ---- objects from a bucket: fetched, stored in the storage inventory, pushed ----
start
ok "objects listed in the bucket are ingested" wait_for 30 sh -c "test \$(sqlite3 '$db' \"select count(*) from observations where collection='OMM' and status='done'\") -eq 2"
is "$(md5of "$tmp/staging/C000001_SCI.fits")" "$(si_file cadc:OMM/C000001_SCI.fits md5)" "an object is in storage, intact"
is "md5:$(md5of "$tmp/staging/C000002_SCI.fits")" "$(artifact OMM/C000002)" "and pushed with storage's checksum"
n_store=$(grep -n "C000001_SCI.fits stored as cadc:OMM/C000001_SCI.fits" "$log" | head -1 | cut -d: -f1)
n_push=$(grep -n "observation OMM/C000001 stored" "$log" | head -1 | cut -d: -f1)
ok "stored (line ${n_store:-none}) before pushed (line ${n_push:-none})" \
	test -n "$n_store" -a -n "$n_push" -a "${n_store:-0}" -lt "${n_push:-0}"

# ---- landed files into a bucket: one PUT ----
head -c 3000 /dev/urandom | landf L1.fits
ok "a landed file is stored in the bucket and pushed" wait_for 20 done_ L1
s3 -o "$tmp/got" "$s3_endpoint/archive/lnd/cadc/LND/L1.fits"
is "$(md5of "$land/L1.fits")" "$(md5of "$tmp/got")" "the object is the file (key PREFIX + URI as path)"
is "$(md5of "$land/L1.fits")" "$(head_of lnd/cadc/LND/L1.fits x-amz-meta-md5)" "with its MD5 as x-amz-meta-md5"
is "application/fits" "$(head_of lnd/cadc/LND/L1.fits Content-Type)" "and its content type"
is "md5:$(md5of "$land/L1.fits")" "$(artifact LND/L1)" "pushed with that checksum"

# ---- a multipart upload ----
head -c 13000000 /dev/urandom | landf L2.fits
ok "a 13 MB file is stored" wait_for 60 done_ L2
s3 -o "$tmp/got" "$s3_endpoint/archive/lnd/cadc/LND/L2.fits"
is "$(md5of "$land/L2.fits")" "$(md5of "$tmp/got")" "intact"
ok "in three parts" grep -q "L2.fits stored as cadc:LND/L2.fits .*in 3 parts" "$log"
is "$(md5of "$land/L2.fits")" "$(head_of lnd/cadc/LND/L2.fits x-amz-meta-md5)" "x-amz-meta-md5 is the MD5 (its ETag is not)"

# ---- the bucket holds it already: not sent; another type: a copy onto itself ----
head -c 2500 /dev/urandom > "$tmp/L3.fits"
"$client" -c "$tmp/c.yml" store --collection LND "$tmp/L3.fits" >/dev/null 2>&1
before=$(head_of lnd/cadc/LND/L3.fits Last-Modified)
head -c 2600 /dev/urandom > "$tmp/L4.fits"
"$client" -c "$tmp/c.yml" store --collection LND --type text/plain "$tmp/L4.fits" >/dev/null 2>&1
is "text/plain" "$(head_of lnd/cadc/LND/L4.fits Content-Type)" "caom2ingest store put one with another type"
sleep 1
landf L3.fits < "$tmp/L3.fits"
landf L4.fits < "$tmp/L4.fits"
ok "both are done" wait_for 20 sh -c "test \$(sqlite3 '$db' \"select count(*) from observations where observation in ('L3','L4') and status='done'\") -eq 2"
ok "the one the bucket held: already stored" grep -q "L3.fits already stored as cadc:LND/L3.fits" "$log"
is "$before" "$(head_of lnd/cadc/LND/L3.fits Last-Modified)" "and not written again"
is "application/fits" "$(head_of lnd/cadc/LND/L4.fits Content-Type)" "the other has its type now"

# ---- kill -9 in the middle of a multipart upload: resumed ----
head -c 41000000 /dev/urandom | landf L5.fits
ok "a multipart upload is under way (a part recorded)" wait_for 60 sh -c \
	"sqlite3 '$db' \"select progress from stored where path='$land/L5.fits'\" | grep -Eq '^s3-mpu [^ ]+ 5242880 [0-9a-f]{32} [^ ]+'"
upload=$(q "select progress from stored where path='$land/L5.fits'" | cut -d' ' -f2)
kill -KILL "$dpid"; wait "$dpid" 2>/dev/null
start
ok "after kill -9 and a restart the file is stored" wait_for 90 done_ L5
ok "the same upload was resumed" grep -q "resuming multipart upload $upload" "$log"
s3 -o "$tmp/got" "$s3_endpoint/archive/lnd/cadc/LND/L5.fits"
is "$(md5of "$land/L5.fits")" "$(md5of "$tmp/got")" "intact"

stop
ok_not "no sanitizer report" grep -Eq "AddressSanitizer|LeakSanitizer|runtime error" "$log"
