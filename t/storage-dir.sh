#!/bin/sh
# t/storage-dir.sh - the directory store end to end with the real daemon:
# landed files stored at DIR/{URI as path}, intact, before their
# observations are written (the directory sink) with the checksum stored;
# on_success: delete removes a landed file only once it is stored and its
# observation written; an archive it may not write fails the observation
# for good with the reason, and the file stays.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 9

land=$tmp/landing
archive=$tmp/archive
mkdir -p "$land" "$archive" "$tmp/keep"
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: info
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
collections:
  - name: DEMO
    landing: $land
    rules:
      - {match: '^(?<obs>D[0-9]+)\\.fits\$', observation: '\${obs}', product: '\${obs}', uri: 'cadc:DEMO/\${file}'}
    on_success: delete
    storage:
      directory: $archive
      retry: {initial: 100ms, max: 200ms, attempts: 2}
CONF
log=$tmp/daemon.log
db=$tmp/state/state.db
start() { "$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!; wait_for 10 test -S "$tmp/control.sock"; }
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
md5of() { md5sum < "$1" | cut -d' ' -f1; }

start
for i in 1 2 3; do
	head -c $((1000 * i)) /dev/urandom > "$tmp/keep/D$i.fits"
	cp "$tmp/keep/D$i.fits" "$land/.D$i.fits" && mv "$land/.D$i.fits" "$land/D$i.fits"
done
ok "three observations done" wait_for 20 sh -c "test \$(sqlite3 '$db' \"select count(*) from observations where status='done'\") -eq 3"
bad=0
for i in 1 2 3; do cmp -s "$tmp/keep/D$i.fits" "$archive/cadc/DEMO/D$i.fits" || bad=$((bad + 1)); done
is 0 "$bad" "each file is at DIR/cadc/DEMO/NAME, intact"
obs=$tmp/state/observations/DEMO/D2.xml
like "$(cat "$obs" 2>/dev/null)" "<caom2:contentChecksum>md5:$(md5of "$tmp/keep/D2.fits")</caom2:contentChecksum>" \
	"the observation written carries the stored file's checksum"
ok "the landed files are deleted once stored and written" wait_for 10 sh -c "test -z \"\$(ls '$land')\""
is 0 "$(find "$archive" -name '.*' | wc -l | tr -d ' ')" "no temporary file is left in the archive"
is "stored" "$(sqlite3 "$db" "select status from stored where uri='cadc:DEMO/D3.fits'")" "the state store says stored"

# a place the archive cannot take (a directory where the file goes: root can write
# anywhere, so this stands for an unwritable archive)
mkdir -p "$archive/cadc/DEMO/D9.fits"
echo x > "$land/.D9.fits" && mv "$land/.D9.fits" "$land/D9.fits"
ok "a place the archive cannot take fails the observation" wait_for 20 sh -c \
	"test \"\$(sqlite3 '$db' \"select status from observations where observation='D9'\")\" = failed"
like "$(sqlite3 "$db" "select last_error from observations where observation='D9'")" \
	"storing .*D9.fits as cadc:DEMO/D9.fits: reading .*D9.fits: Is a directory" "with the reason"
ok "and the landed file stays" test -f "$land/D9.fits"
stop
