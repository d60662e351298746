#!/bin/sh
# t/storage-si.sh - files stored in the storage inventory (the test
# server, t/si-server) before their observations are pushed (the test
# repository), end to end with the real daemon: store then push, in that
# order; the pushed artifact's checksum and length are what storage holds;
# a file storage holds already is not sent (HEAD only); another type is a
# POST; a changed file is stored again; an outage of storage holds the
# push back and heals; the put transaction in segments, a segment's digest
# mismatch reverted, a restart in the middle of a transaction resumed;
# kill -9 at random points of a burst stores each file once and pushes
# each observation once; 403 and 412 fail with the reason; the bearer
# token never reaches the log or the state store; caom2ingest status,
# show and stats say what is stored.
. "$srcdir/t/tap.sh"
. "$srcdir/t/repo.sh"
. "$srcdir/t/si.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
command -v curl >/dev/null || skip_all "curl not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 63

land=$tmp/landing
mkdir -p "$land"
token=s3cr3t-bearer-$$-token
printf '%s\n' "$token" > "$tmp/token"
chmod 600 "$tmp/token"
start_repo_server
start_si_server --token-file "$tmp/token" --segment-min 16384 --segment-max 65536

write_conf() {
	cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
collections:
  - name: OMM
    landing: $land
    rules:
      - match: '^(?<obs>C[0-9]+)_(?<kind>[A-Z]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}_\${kind}'
        uri: 'cadc:OMM/\${file}'
storage:
  si:
    url: $si_url
    token_file: $tmp/token
    transaction_threshold: 100KiB
    segment_size: 32KiB
  concurrency: 4
  timeout: 5s
  retry: {initial: 100ms, max: 500ms, attempts: 4}
sink:
  repo:
    url: $root/torkeep/observations
    timeout: 5s
    retry: {initial: 200ms, max: 1s, attempts: 30}
CONF
}
write_conf
log=$tmp/daemon.log
db=$tmp/state/state.db
q() { sqlite3 "$db" "$1" 2>/dev/null; }
obs_status() { q "select status from observations where observation='$1'"; }
start() { "$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!; wait_for 10 test -S "$tmp/control.sock"; }
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
md5of() { echo "md5:$(md5sum < "$1" | cut -d' ' -f1)"; }
landf() { # landf NAME BYTES-SOURCE: write under a dot name, rename into place
	cat > "$land/.$1" && mv "$land/.$1" "$land/$1"
}
artifact() { # artifact OBS FIELD: contentChecksum or contentLength in the repository
	curl -s "$root/torkeep/observations/OMM/$1" |
		sed -n "s|.*<caom2:$2>\\([^<]*\\)</caom2:$2>.*|\\1|p" | head -1
}

# ---- store then push ----
start
head -c 5000 /dev/urandom | landf C1_SCI.fits
ok "a landed file's observation is done" wait_for 20 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C1'\")\" = done"
want=$(md5of "$land/C1_SCI.fits")
is "${want#md5:}" "$(si_file cadc:OMM/C1_SCI.fits md5)" "storage holds the file's bytes (its MD5)"
is "application/fits" "$(si_file cadc:OMM/C1_SCI.fits type)" "with its content type"
is "$want" "$(artifact C1 contentChecksum)" "the pushed artifact's contentChecksum is storage's"
is 5000 "$(artifact C1 contentLength)" "and its contentLength"
is "stored|$want|5000|application/fits" "$(q "select status, md5, size, type from stored where path='$land/C1_SCI.fits'")" \
	"the state store records it stored (MD5, size, type)"
n_store=$(grep -n "C1_SCI.fits stored as cadc:OMM/C1_SCI.fits" "$log" | head -1 | cut -d: -f1)
n_push=$(grep -n "observation OMM/C1 stored" "$log" | head -1 | cut -d: -f1)
ok "stored (line ${n_store:-none}) before pushed (line ${n_push:-none})" \
	test -n "$n_store" -a -n "$n_push" -a "${n_store:-0}" -lt "${n_push:-0}"
like "$(grep "C1_SCI.fits stored as" "$log" | head -1)" \
	"\\[FILE=$land/C1_SCI.fits URI=cadc:OMM/C1_SCI.fits BYTES=5000 COLLECTION=OMM OBSERVATION_ID=C1 STAGE=store\\]" \
	"logged with the fields FILE, URI and BYTES"
like "$(curl -s "$si_root/_test/last-headers")" "Authorization: \\[[0-9]+ bytes\\]" \
	"the bearer token went to storage"

# ---- an outage of storage holds the push back, then heals ----
curl -s -X POST "$root/_test/reset-stats" >/dev/null
si_fault "status=503&count=1000&verb=HEAD&retry_after=0"
head -c 3000 /dev/urandom | landf C2_SCI.fits
ok "storing is retried while storage answers 503" wait_for 20 grep -q "storing cadc:OMM/C2_SCI.fits: .*HTTP 503" "$log"
ok "the observation waits for a retry" wait_for 20 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C2'\")\" = retry"
is "0 0" "$(stat_of PUT) $(stat_of GET)" "and nothing was pushed meanwhile"
curl -s -X POST "$si_root/_test/clear-faults" >/dev/null
ok "the storm healed: stored, then pushed" wait_for 20 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C2'\")\" = done"
is 1 "$(si_file cadc:OMM/C2_SCI.fits puts)" "stored once"

# ---- storage holds it already: HEAD only; another type: POST ----
head -c 4000 /dev/urandom > "$tmp/C3_SCI.fits"
"$client" -c "$tmp/c.yml" store --collection OMM "$tmp/C3_SCI.fits" >"$tmp/store.out" 2>&1
like "$(cat "$tmp/store.out")" "cadc:OMM/C3_SCI.fits stored" "caom2ingest store names it by the collection's rules and stores it"
"$client" -c "$tmp/c.yml" store "$tmp/C3_SCI.fits" >/dev/null 2>&1
is 2 "$?" "store without a way to name the file: usage (exit 2)"
si_fault "status=403&count=1&verb=HEAD"
"$client" -c "$tmp/c.yml" store --uri cadc:OMM/refused.fits "$tmp/C3_SCI.fits" >/dev/null 2>"$tmp/store.err"
is "1" "$?" "a file storage refuses: exit 1"
like "$(cat "$tmp/store.err")" "refused \\(authentication or permission\\): HEAD .*HTTP 403" "with storage's reason"
out=$("$client" -c "$tmp/c.yml" --json store --collection OMM "$tmp/C3_SCI.fits")
is "present" "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["result"])')" \
	"--json: the second time it is present"
head -c 4100 /dev/urandom > "$tmp/C4_SCI.fits"
"$client" -c "$tmp/c.yml" store --uri-template 'cadc:OMM/${file}' --type text/plain "$tmp/C4_SCI.fits" >/dev/null 2>&1
curl -s -X POST "$si_root/_test/reset-stats" >/dev/null
landf C3_SCI.fits < "$tmp/C3_SCI.fits"
landf C4_SCI.fits < "$tmp/C4_SCI.fits"
ok "both observations are done" wait_for 20 sh -c "test \$(sqlite3 '$db' \"select count(*) from observations where observation in ('C3','C4') and status='done'\") -eq 2"
is "0 0" "$(si_stat PUT) $(si_stat stored)" "storage held both: no byte sent (HEAD only)"
is 1 "$(si_stat updates)" "the one with another type: one POST"
is "application/fits" "$(si_file cadc:OMM/C4_SCI.fits type)" "which set its type"
ok "logged as already stored" grep -q "C3_SCI.fits already stored as cadc:OMM/C3_SCI.fits" "$log"

# ---- a changed file is stored again, its observation updated ----
curl -s -X POST "$root/_test/reset-stats" >/dev/null
head -c 6000 /dev/urandom | landf C1_SCI.fits
want=$(md5of "$land/C1_SCI.fits")
ok "a changed file is stored again" wait_for 20 sh -c "test \"\$(curl -s $si_root/_test/files | awk -F'\t' '\$1 == \"cadc:OMM/C1_SCI.fits\" {print \$3}')\" = ${want#md5:}"
ok "and its observation updated" wait_for 20 sh -c "test \"\$(curl -s $root/torkeep/observations/OMM/C1 | grep -c '$want')\" -ge 1"
is 2 "$(si_file cadc:OMM/C1_SCI.fits puts)" "written twice in all (two versions)"
is 6000 "$(artifact C1 contentLength)" "the artifact's length follows"

# ---- a file that changes while it is being stored: stored again as it is now ----
si_fault "delay_ms=1500&count=1&verb=HEAD"
head -c 5000 /dev/urandom | landf C9_SCI.fits
sleep 0.8
head -c 5000 /dev/urandom > "$land/C9_SCI.fits"	# in place, while the HEAD waits
ok "the put of the old bytes is refused as a file that changed" wait_for 20 grep -q \
	"C9_SCI.fits changed while being stored" "$log"
ok "its new bytes are stored and pushed" wait_for 20 sh -c \
	"test \"\$(curl -s $si_root/_test/files | awk -F'\t' '\$1 == \"cadc:OMM/C9_SCI.fits\" {print \$3}')\" = \$(md5sum < '$land/C9_SCI.fits' | cut -d' ' -f1) && test \"\$(sqlite3 '$db' \"select status from observations where observation='C9'\")\" = done"
is "$(md5of "$land/C9_SCI.fits")" "$(artifact C9 contentChecksum)" "with the checksum of what is stored"

# ---- the put transaction: several segments, a spoilt one reverted ----
curl -s -X POST "$si_root/_test/reset-stats" >/dev/null
si_fault "corrupt=1&count=1"
head -c 300000 /dev/urandom | landf C5_SCI.fits
ok "a large file (300000 bytes) is stored" wait_for 30 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C5'\")\" = done"
is "1 1" "$(si_stat txn_start) $(si_stat commits)" "in one transaction"
segs=$(si_stat segments)
ok "in segments within the server's limits ($segs, 32KiB each, one sent again)" test "$segs" -eq 11
is 1 "$(si_stat reverts)" "the segment storage spoilt was reverted"
is "$(md5of "$land/C5_SCI.fits" | cut -c5-)" "$(si_file cadc:OMM/C5_SCI.fits md5)" "and the file is intact"
is "" "$(q "select progress from stored where path='$land/C5_SCI.fits'")" "no progress left once stored"

# ---- a restart in the middle of a transaction resumes it ----
curl -s -X POST "$si_root/_test/reset-stats" >/dev/null
si_fault "delay_ms=400&count=100&verb=PUT"
head -c 400000 /dev/urandom | landf C6_SCI.fits
ok "a transaction is under way (progress recorded)" wait_for 20 sh -c \
	"sqlite3 '$db' \"select progress from stored where path='$land/C6_SCI.fits'\" | grep -Eq '^si-txn [0-9a-f]+ [1-9][0-9]* '"
kill -KILL "$dpid"; wait "$dpid" 2>/dev/null
held=$(q "select progress from stored where path='$land/C6_SCI.fits'" | cut -d' ' -f3)
curl -s -X POST "$si_root/_test/clear-faults" >/dev/null
# The dead daemon's last segment may still be in the server's delay: let it land
# first. (One that lands after the restart spoils the transaction: the daemon then
# finds storage holding other bytes than its own, aborts it and starts again.)
sleep 1
start
ok "after kill -9 and a restart the file is stored" wait_for 30 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C6'\")\" = done"
is "1 1" "$(si_stat txn_start) $(si_stat commits)" "the same transaction resumed, not a new one ($held bytes were held)"
ok "logged as resumed" grep -q "storing cadc:OMM/C6_SCI.fits: resuming transaction" "$log"
segs=$(si_stat segments)
ok "the segments acknowledged were not sent again ($segs of 13; at most one in flight twice)" test "$segs" -le 14
is "$(md5of "$land/C6_SCI.fits" | cut -c5-)" "$(si_file cadc:OMM/C6_SCI.fits md5)" "intact"

# ---- kill -9 at random points of a burst ----
curl -s -X POST "$si_root/_test/reset-stats" >/dev/null
curl -s -X POST "$root/_test/reset-stats" >/dev/null
si_fault "delay_ms=30&count=400"
i=100
while [ $i -lt 130 ]; do head -c $((1000 + i * 7)) /dev/urandom | landf "C${i}_SCI.fits"; i=$((i + 1)); done
for pause in 0.3 0.5 0.4; do
	sleep "$pause"
	kill -KILL "$dpid"; wait "$dpid" 2>/dev/null
	start
done
curl -s -X POST "$si_root/_test/clear-faults" >/dev/null
ok "after three kill -9 all 30 observations are done" wait_for 40 sh -c \
	"test \$(sqlite3 '$db' \"select count(*) from observations where status='done' and cast(substr(observation, 2) as int) between 100 and 129\") -eq 30"
bad=0; once=0; i=100
while [ $i -lt 130 ]; do
	f=C${i}_SCI.fits
	[ "$(si_file "cadc:OMM/$f" md5)" = "$(md5of "$land/$f" | cut -c5-)" ] || bad=$((bad + 1))
	[ "$(si_file "cadc:OMM/$f" puts)" = 1 ] && once=$((once + 1))
	i=$((i + 1))
done
is 0 "$bad" "every file intact in storage"
is 30 "$once" "every file stored once"
conflicts=$(curl -s "$root/_test/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['status'].get('409', 0))")
is 30 "$(( $(stat_of PUT) - conflicts ))" "every observation created once ($(stat_of PUT) PUTs, $conflicts answered 409)"
bad=0; i=100
while [ $i -lt 130 ]; do
	[ "$(artifact C$i contentChecksum)" = "$(md5of "$land/C${i}_SCI.fits")" ] || bad=$((bad + 1))
	i=$((i + 1))
done
is 0 "$bad" "every artifact pushed with the checksum storage holds"

# ---- refusals: 403 and 412 are permanent, with the reason ----
si_fault "status=403&count=1&verb=PUT"
head -c 100 /dev/urandom | landf C7_SCI.fits
ok "a 403 fails the observation for good" wait_for 20 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C7'\")\" = failed"
like "$(q "select last_error from observations where observation='C7'")" \
	"refused \\(authentication or permission\\): PUT .*cadc:OMM/C7_SCI.fits: HTTP 403: injected fault: 403" "named as such, with the service's text"
si_fault "status=412&count=4&verb=PUT"
head -c 100 /dev/urandom | landf C8_SCI.fits
ok "412 four times fails it for good" wait_for 20 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C8'\")\" = failed"
like "$(q "select last_error from observations where observation='C8'")" \
	"PUT .*HTTP 412: injected fault: 412 \\(checksum mismatch, sent 4 times\\)" "as a checksum mismatch"
is "" "$(si_file cadc:OMM/C8_SCI.fits md5)" "and storage holds nothing of it"
"$client" -s "$tmp/control.sock" reingest OMM/C8 >/dev/null
ok "reingest stores and pushes it" wait_for 20 sh -c "test \"\$(sqlite3 '$db' \"select status from observations where observation='C8'\")\" = done"

# ---- operations: status, show, stats ----
out=$("$client" -s "$tmp/control.sock" status)
like "$out" "storage +si:$si_url" "status names the storage"
like "$out" "stored +[0-9]+ stored, 0 storing, 0 waiting" "and counts what is stored, storing, waiting"
out=$("$client" -s "$tmp/control.sock" show OMM/C1)
like "$out" "stored md5:[0-9a-f]{32} at si:" "show says each file's storage"
out=$("$client" -s "$tmp/control.sock" stats)
like "$out" "store_put +[1-9]" "stats gives PUT latencies"
like "$out" "store_bytes_per_s" "and the rate of bytes stored"

stop
ok "the token never reaches the log" sh -c "! grep -q '$token' '$log'"
ok "nor the state store" sh -c "! grep -qa '$token' '$tmp/state/state.db' '$tmp/state/state.db-wal' 2>/dev/null"
ok_not "no sanitizer report from the daemon" grep -Eq "AddressSanitizer|LeakSanitizer|runtime error" "$log"
ok_not "nor from the test server" grep -Eq "AddressSanitizer|LeakSanitizer|runtime error" "$tmp/si.log"
