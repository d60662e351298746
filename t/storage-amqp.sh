#!/bin/sh
# t/storage-amqp.sh - files announced on an AMQP queue, end to end: the real
# daemon, a private RabbitMQ node (t/rabbitmq.sh), an S3 server that verifies
# SigV4 (t/s3server.sh) and the test repository. Announcements and S3 events
# by queue; a malformed message; the daemon killed in the middle of a queue
# (redelivered, each observation pushed once); the broker restarted (the
# consumer reconnects); two daemons on one queue (each observation once); a
# daemon over amqps:// whose broker password is rotated, taken from the
# password file on reload.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"
. "$srcdir/t/repo.sh"
. "$srcdir/t/s3server.sh"
. "$srcdir/t/rabbitmq.sh"

why=$(s3server_missing)
[ -z "$why" ] || skip_all "$why"
rabbitmq_init
rabbitmq_tls_pki
daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
plan 20

start_s3_server
start_repo_server
rabbitmq_start
s3_mkbucket raw && s3_mkbucket qraw || bail "cannot create the buckets"
mkdir -p "$tmp/staging"
put() {	# put BUCKET KEY: a small FITS file uploaded
	mkfits "$tmp/staging/f.fits" "OBJECT  = '$2'"
	s3_put "$1" "$2" "$tmp/staging/f.fits" || bail "cannot upload $1/$2"
}
announce() {	# announce FIRST LAST: one message per C1NNNNN_SCI.fits
	i=$1
	while [ "$i" -le "$2" ]; do
		printf '{"uri":"s3://qraw/C%06d_SCI.fits"}\n' "$i"
		i=$((i + 1))
	done | mq_publish omm-files >/dev/null
}
upload() { i=$1; while [ "$i" -le "$2" ]; do put qraw "$(printf 'C%06d_SCI.fits' "$i")"; i=$((i + 1)); done; }
config() {	# config NAME: the configuration of daemon NAME
	cat > "$tmp/$1.yml" <<CONF
log: stderr
log_level: info
state_dir: $tmp/$1
control_socket: $tmp/$1.sock
settle: 200ms
rescan_interval: 0
s3:
  endpoint: $s3_endpoint
  credentials: $s3_credentials
  reconcile_interval: 0
amqp:
  url: $mq_url
  prefetch: 5
collections:
  - name: OMMQ
    queues: [omm-files]
    rules:
      - {match: '^(?<obs>C[0-9]{6})_SCI\\.fits\$', observation: '\${obs}', product: '\${obs}', uri: 'cadc:OMMQ/\${file}'}
  - name: OMM
    buckets: [{name: raw}]
    rules:
      - {match: '^(?<obs>C[0-9]{6})_SCI\\.fits\$', observation: '\${obs}', product: '\${obs}', uri: 'cadc:OMM/\${file}'}
sink:
  repo: {url: '$root/torkeep/observations'}
CONF
}
config a
config b
pa= pb=
start_a() { "$daemon" -f -c "$tmp/a.yml" 2>>"$tmp/a.log" & pa=$!; }
start_b() { "$daemon" -f -c "$tmp/b.yml" 2>>"$tmp/b.log" & pb=$!; }
stop_all() { kill -TERM $pa $pb 2>/dev/null; wait $pa $pb 2>/dev/null; }
at_exit stop_all
stored() { test "$(curl -s -o /dev/null -w '%{http_code}' "$root/torkeep/observations/$1/$2")" = 200; }
stored_q() { stored OMMQ "$(printf 'C%06d' "$1")"; }
all_stored() { i=$1; while [ "$i" -le "$2" ]; do stored_q "$i" || return 1; i=$((i + 1)); done; }
queue_empty() { test "$(mq_counts omm-files)" = "0 0"; }

# 1. announcements on the queue
upload 100001 100003
start_a
ok "the consumer connects" wait_for 30 grep -q 'consuming omm-files' "$tmp/a.log"
announce 100001 100003
ok "announced objects are fetched and stored" wait_for 30 all_stored 100001 100003
is 3 "$(stat_of PUT)" "one PUT each"
ok "and acknowledged" wait_secs 20 queue_empty

# 2. an S3 event by queue goes to the collection of its bucket
put raw C200001_SCI.fits
md5=$(md5sum < "$tmp/staging/f.fits" | cut -d' ' -f1)
printf '{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":"C200001_SCI.fits","eTag":"%s"}}}]}\n' \
	"$md5" | mq_publish omm-files >/dev/null
ok "an S3 event by queue is stored in the bucket's collection" wait_for 30 stored OMM C200001

# 3. a malformed message is rejected, not redelivered, and nothing else is held up
printf 'this is not JSON\n' | mq_publish omm-files >/dev/null
ok "a malformed message is rejected with the reason" wait_for 20 grep -q 'rejected a malformed message from omm-files: not JSON' "$tmp/a.log"
ok "and leaves the queue" wait_secs 20 queue_empty

# 4. killed in the middle of a queue: redelivered, each observation pushed once
kill -TERM "$pa"; wait "$pa" 2>/dev/null
upload 100101 100140
announce 100101 100140
puts=$(stat_of PUT)
start_a
ok "consumption starts" wait_for 30 stored_q 100101
kill -9 "$pa"; wait "$pa" 2>/dev/null
start_a
ok "after kill -9 and a restart every announced object is stored" wait_for 60 all_stored 100101 100140
is $((puts + 40)) "$(stat_of PUT)" "each pushed once (40 PUTs)"
ok "the queue is empty" wait_secs 20 queue_empty

# 5. the broker restarted: the consumer reconnects by itself
rabbitmq_restart
upload 100201 100202
announce 100201 100202
ok "after a broker restart the consumer reconnects" wait_for 60 grep -q 'reconnected to' "$tmp/a.log"
ok "and takes new messages" wait_for 30 all_stored 100201 100202

# 6. two daemons on one queue: each observation once
start_b
ok "a second daemon consumes the same queue" wait_for 30 grep -q 'consuming omm-files' "$tmp/b.log"
upload 100301 100340
puts=$(stat_of PUT)
posts=$(stat_of POST)
announce 100301 100340
ok "every observation is stored" wait_for 60 all_stored 100301 100340
sleep 1
is $((puts + 40)) "$(stat_of PUT)" "each once: 40 PUTs"
is "$posts" "$(stat_of POST)" "and no update"

# 7. over TLS (amqps://, ca_path), a broker password rotated: the password
# file is read again on reload
stop_all
rabbitmq_ctl add_user caom one >/dev/null 2>&1 &&
	rabbitmq_ctl set_permissions -p / caom '.*' '.*' '.*' >/dev/null 2>&1 ||
	bail "cannot add a broker user"
printf 'one\n' > "$tmp/pw"
chmod 600 "$tmp/pw"
sed -e "s|  url: $mq_url|  url: amqps://caom@localhost:$mqs_port|" \
    -e "s|^  prefetch: 5\$|  prefetch: 5\n  password_file: $tmp/pw\n  ca_path: $mqs_ca|" \
    -e "s|$tmp/a|$tmp/c|g" "$tmp/a.yml" > "$tmp/c.yml"
pc=
stop_c() { kill -TERM $pc 2>/dev/null; wait $pc 2>/dev/null; }
at_exit stop_c
"$daemon" -f -c "$tmp/c.yml" 2>"$tmp/c.log" & pc=$!
ok "a daemon consumes over amqps, logged in with the password from its file" \
	wait_for 30 grep -q "consuming omm-files from amqps://caom@localhost:$mqs_port" "$tmp/c.log"
rabbitmq_ctl change_password caom two >/dev/null 2>&1 || bail "cannot change the password"
printf 'two\n' > "$tmp/pw"
kill -HUP "$pc"
wait_for 20 grep -q 'configuration reloaded' "$tmp/c.log"
upload 100401 100401
announce 100401 100401
ok "after the password is rotated and the daemon reloaded, it logs in with the new one" \
	wait_for 30 all_stored 100401 100401
ok_not "and no login was refused" grep -q 'login:' "$tmp/c.log"
