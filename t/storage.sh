#!/bin/sh
# t/storage.sh - objects announced by S3 bucket events on the webhook, end to
# end: the real daemon, an S3 server that verifies SigV4 (t/s3server.sh) and
# the test repository. Events recorded before 200, fetched, mapped, pushed
# once; duplicate and reordered events; bad tokens, malformed and oversized
# bodies; a key with ../; a lost event found by reconciliation (rescan); the
# daemon killed right after answering.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"
. "$srcdir/t/repo.sh"
. "$srcdir/t/s3server.sh"

why=$(s3server_missing)
[ -z "$why" ] || skip_all "$why"
daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
plan 37

start_s3_server
start_repo_server
s3_mkbucket raw || bail "cannot create the bucket"
mkdir -p "$tmp/staging"
put() {	# put NAME [CARD]: a FITS file NAME uploaded as raw/NAME; its MD5 in $md5
	mkfits "$tmp/staging/$1" "OBJECT  = '$1'" ${2:+"$2"}
	s3_put raw "raw/$1" "$tmp/staging/$1" || bail "cannot upload $1"
	md5=$(md5sum < "$tmp/staging/$1" | cut -d' ' -f1)
	size=$(wc -c < "$tmp/staging/$1")
}
event() {	# event KEY ETAG SIZE SEQUENCER: an S3 notification body
	printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":"%s","size":%s,"eTag":"%s","sequencer":"%s"}}}]}' \
		"$1" "$3" "$2" "$4"
}
echo "s3cr3t-t0ken" > "$tmp/token"
chmod 600 "$tmp/token"
hook_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
  retry: {initial: 1s, max: 2s, attempts: 5}
webhook:
  listen: 127.0.0.1:$hook_port
  token_file: $tmp/token
collections:
  - name: OMM
    buckets: [{name: raw, prefix: raw/}]
    rules:
      - {match: '^(?<obs>C[0-9]{6})_SCI\\.fits\$', observation: '\${obs}', product: '\${obs}', uri: 'cadc:OMM/\${file}'}
sink:
  repo: {url: '$root/torkeep/observations', retry: {initial: 1s, max: 2s, attempts: 3}}
CONF
log=$tmp/daemon.log
dpid=
start() {
	"$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!
	wait_for 20 "$client" -s "$tmp/control.sock" status || bail "the daemon did not start"
	port=$("$client" -s "$tmp/control.sock" --json status |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["webhook_port"])')
	hook=http://127.0.0.1:$port/events
}
stop() { [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; dpid=; }
at_exit stop
post() {	# post BODY [curl args]: prints the HTTP status
	b=$1; shift
	curl -s -o "$tmp/answer" -w '%{http_code}' -X POST -H "Authorization: Bearer s3cr3t-t0ken" \
		-H 'Content-Type: application/json' --data-binary "$b" "$@" "$hook"
}
stored() { curl -s -o /dev/null -w '%{http_code}' "$root/torkeep/observations/OMM/$1"; }
fetched() { grep -c "s3://raw/raw/$1 fetched into the spool" "$log"; }
# (wait_for runs its command again and again: these look each time)
is_stored() { test "$(stored "$1")" = 200; }
fetched_n() { test "$(fetched "$1")" = "$2"; }
posts_n() { test "$(stat_of POST)" = "$1"; }

# 0. a webhook token file that others may read stops the daemon at start-up
chmod 644 "$tmp/token"
"$daemon" -f -c "$tmp/c.yml" 2>"$tmp/err644"; rc=$?
is 3 "$rc" "a 0644 webhook token file: start-up fails (exit 3)"
like "$(cat "$tmp/err644")" "start-up failed: token file $tmp/token: mode 0644 gives access to its group or others \\(use 0600 or 0400\\)" \
	"and says why, without the token"
chmod 600 "$tmp/token"
start

# 1. an event: recorded, answered 200, fetched, mapped and pushed once
put C000001_SCI.fits
is 200 "$(post "$(event raw/C000001_SCI.fits "$md5" "$size" 0A)")" "an event is answered 200"
ok "its object is fetched, mapped and stored" wait_for 20 is_stored C000001
is 1 "$(stat_of PUT)" "one PUT"
ok "the spool copy is whole" cmp "$tmp/staging/C000001_SCI.fits" "$tmp/state/spool/OMM/raw/raw/C000001_SCI.fits"

# 2. the same event again (stores retry): nothing happens
is 200 "$(post "$(event raw/C000001_SCI.fits "$md5" "$size" 0A)")" "a duplicate is answered 200"
sleep 1
is 1 "$(fetched C000001_SCI.fits)" "a duplicate is not fetched again"
is 1 "$(stat_of PUT)" "nor pushed"

# 3. a new version, then the older event arriving late
old_md5=$md5 old_size=$size
put C000001_SCI.fits "OBSERVER= 'version 2'"
is 200 "$(post "$(event raw/C000001_SCI.fits "$md5" "$size" 0B)")" "a newer version's event"
ok "the new version is fetched" wait_for 20 fetched_n C000001_SCI.fits 2
ok "and updates the observation (POST)" wait_for 20 posts_n 1
is 200 "$(post "$(event raw/C000001_SCI.fits "$old_md5" "$old_size" 0A)")" "the older event, late"
sleep 1
is 2 "$(fetched C000001_SCI.fits)" "does not bring the old version back"
is 1 "$(stat_of POST)" "nor write again"

# 4. refusals: no or a wrong token, malformed and oversized bodies; nothing recorded
body=$(event raw/C000009_SCI.fits 0123456789abcdef0123456789abcdef 10 01)
is 401 "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "$body" "$hook")" "no token: 401"
is 401 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer nope' --data-binary "$body" "$hook")" "a wrong token: 401"
is 400 "$(post '{"Records":[{"eventName":')" "malformed JSON: 400"
like "$(cat "$tmp/answer")" "not JSON" "with the reason"
python3 -c 'import sys; sys.stdout.write("{\"Records\":[" + " " * 70000 + "]}")' > "$tmp/big.json"
is 413 "$(post @"$tmp/big.json")" "a body over 64 KiB: 413"
is 405 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cr3t-t0ken' "$hook")" "GET: 405"
is 0 "$(sqlite3 "$tmp/state/state.db" "select count(*) from objects where key like '%C000009%'")" "none of them recorded"
ok_not "the token is in no log line" grep -q 's3cr3t-t0ken' "$log"

# 5. a key that would leave the spool
is 200 "$(post "$(event 'raw/../../../x/C000004_SCI.fits' 0123456789abcdef0123456789abcdef 10 01)")" "an event with ../ in its key is taken"
like "$(cat "$log")" "raw/\\.\\./\\.\\./\\.\\./x/C000004_SCI.fits: refused: the key would leave the spool" "and refused, logged"
is failed "$(sqlite3 "$tmp/state/state.db" "select status from objects where key like '%C000004%'")" "recorded as failed"
ok_not "nothing is written outside the spool" test -e "$tmp/state/x"

# 6. a lost event: the object is found by the listing that rescan starts
put C000003_SCI.fits
sleep 1
is 404 "$(stored C000003)" "an object without an event is not seen"
"$client" -s "$tmp/control.sock" rescan >/dev/null
ok "rescan lists the bucket and finds it" wait_for 20 is_stored C000003
like "$(cat "$log")" "bucket raw: [0-9]+ objects listed, 1 new or changed" "the listing says so"

# 7. the daemon killed right after answering: the event was recorded first
put C000005_SCI.fits
s3_pause() { kill -STOP "$s3_pid"; }
s3_resume() { kill -CONT "$s3_pid"; }
s3_pause	# the fetch cannot finish before the kill
is 200 "$(post "$(event raw/C000005_SCI.fits "$md5" "$size" 01)")" "an event answered"
kill -9 "$dpid"; wait "$dpid" 2>/dev/null; dpid=
s3_resume
puts=$(stat_of PUT)
start
ok "after a restart its object is fetched and stored" wait_for 30 is_stored C000005
is $((puts + 1)) "$(stat_of PUT)" "once"
ok "the daemon is still running" kill -0 "$dpid"

# 8. a reload rebinds the webhook's port (old and new listener overlap)
ok "a reload is accepted with the webhook on a fixed port" "$client" -s "$tmp/control.sock" reload
is 200 "$(post "$(event raw/C000005_SCI.fits "$md5" "$size" 01)")" "and the webhook answers on the same port"
ok_not "no listen error was logged" grep -q 'webhook listen' "$log"
