#!/bin/sh
# t/journal.sh - records reach a real systemd-journald with their fields.
#
# Runs journald in a private mount namespace (unshare -m, tmpfs on
# /run/systemd and /run/log) so the host's journal is neither read nor written.
. "$srcdir/t/tap.sh"

# CAOM2INGEST_TEST_JOURNALD: another journald, for t/test-hygiene.sh.
journald=${CAOM2INGEST_TEST_JOURNALD:-/lib/systemd/systemd-journald}
[ -x "$journald" ] || skip_all "no $journald"
command -v unshare >/dev/null || skip_all "no unshare"
[ "$(id -u)" -eq 0 ] || skip_all "needs root for a private mount namespace"
unshare -m true 2>/dev/null || skip_all "unshare -m not permitted here"

if [ -z "$CAOM2INGEST_IN_NS" ]; then
	CAOM2INGEST_IN_NS=1 exec unshare -m sh "$0" "$@"
fi

mount --make-rprivate / 2>/dev/null
for d in /run/systemd /run/log /var/log/journal /var/lib/systemd/catalog; do
	[ -d "$d" ] && mount -t tmpfs tmpfs "$d"
done
mkdir -p /run/systemd/journal
"$journald" 2>"$tmp/journald.err" & jpid=$!
stop_journald() { kill "$jpid" 2>/dev/null; wait "$jpid" 2>/dev/null; }
at_exit stop_journald
# journald may start and then die (or never store a record) where it lacks
# what it needs: that is a reason to skip, said, not a failure of ours.
journald_unusable() {
	stop_journald
	why=$(tail -1 "$tmp/journald.err" 2>/dev/null)
	skip_all "$1${why:+ ($why)}"
}
wait_for 10 test -S /run/systemd/journal/socket ||
	journald_unusable "systemd-journald did not create its socket"
echo "caom2ingest journal probe $$" | systemd-cat -t caom2ingest-probe 2>/dev/null
if ! wait_for 10 sh -c "journalctl --no-pager -t caom2ingest-probe 2>/dev/null | grep -q 'probe $$'"
then
	if kill -0 "$jpid" 2>/dev/null; then
		journald_unusable "systemd-journald runs but stores no record here"
	else
		journald_unusable "systemd-journald exited after creating its socket"
	fi
fi
plan 21

j() { journalctl --no-pager -o json "$@"; }
field() { python3 -c 'import json,sys
k=sys.argv[1]
for line in sys.stdin:
    try:
        v=json.loads(line).get(k)
    except ValueError:
        continue        # not a record: journalctl saying something
    if v is not None: print(v)' "$1"; }

# --- our own fields, from the log module --------------------------------------
"$top_builddir/t/log" emit "journal test record"
wait_for 5 sh -c 'journalctl --no-pager -t t-log | grep -q "journal test record"'
rec=$(j -t t-log MESSAGE="journal test record")
is "journal test record" "$(echo "$rec" | field MESSAGE)" "MESSAGE"
is "5" "$(echo "$rec" | field PRIORITY)" "PRIORITY (notice)"
is "OMM" "$(echo "$rec" | field COLLECTION)" "COLLECTION"
is "C1_0001" "$(echo "$rec" | field OBSERVATION_ID)" "OBSERVATION_ID"
is "/srv/landing/C1.fits" "$(echo "$rec" | field FILE)" "FILE"
is "t/log.c" "$(echo "$rec" | field CODE_FILE)" "CODE_FILE"
like "$(echo "$rec" | field CODE_LINE)" '^[0-9]+$' "CODE_LINE"
is "main" "$(echo "$rec" | field CODE_FUNC)" "CODE_FUNC"
is "C1_0001" "$(j OBSERVATION_ID=C1_0001 | field OBSERVATION_ID)" \
	"journalctl OBSERVATION_ID=... finds it"

# --- the daemon with log: journal -----------------------------------------------
cat > "$tmp/journal.yml" <<CONF
log: journal
state_dir: $tmp/state
control_socket: $tmp/control1.sock
CONF
"$top_builddir/src/caom2ingestd" -f -c "$tmp/journal.yml" 2>"$tmp/stderr" & dpid=$!
ok "the daemon logs its start to the journal" \
	wait_for 10 sh -c 'journalctl --no-pager -t caom2ingestd | grep -q started'
kill -TERM "$dpid"; wait "$dpid"; rc=$?
is 0 "$rc" "and stops with 0"
wait_for 5 sh -c 'journalctl --no-pager -t caom2ingestd | grep -q stopped'
rec=$(j -t caom2ingestd | grep '"caom2ingestd stopped"')
is "5" "$(echo "$rec" | field PRIORITY)" "the stop record has PRIORITY 5"
is "src/daemon/daemon.c" "$(echo "$rec" | field CODE_FILE)" "and CODE_FILE"
is "" "$(cat "$tmp/stderr")" "nothing went to stderr"

# --- auto: stderr connected to the journal (JOURNAL_STREAM) -----------------------
cat > "$tmp/auto.yml" <<CONF
state_dir: $tmp/state
control_socket: $tmp/control2.sock
CONF
# systemd-run is unavailable without PID 1; systemd-cat connects stdout and
# stderr to the journal but sets no JOURNAL_STREAM, so set it from the
# stream's own device and inode as systemd does.
cat > "$tmp/wrap.sh" <<WRAP
set -- \$(stat -L -c '%d %i' /proc/self/fd/2)
JOURNAL_STREAM=\$1:\$2 exec "$top_builddir/src/caom2ingestd" -f -c "$tmp/auto.yml"
WRAP
systemd-cat -t auto-wrapper sh "$tmp/wrap.sh" & wpid=$!
ok "auto: JOURNAL_STREAM makes the daemon log natively" \
	wait_for 10 sh -c "journalctl --no-pager -o json -t caom2ingestd | grep 'configuration $tmp/auto.yml' | grep -q CODE_FUNC"
pkill -TERM -f "caom2ingestd -f -c $tmp/auto.yml"
rec=$(j -t caom2ingestd | grep "configuration $tmp/auto.yml")
is "journal" "$(echo "$rec" | field _TRANSPORT)" \
	"native records (_TRANSPORT=journal), not stdout lines"
wait "$wpid"; rc=$?
is 0 "$rc" "the daemon under the journal stream stops with 0"

# --- MESSAGE_IDs and the catalog: journalctl -x explains a rejected file ------------
# journalctl reads catalogs from /usr/lib/systemd/catalog only: bind a copy
# holding ours over it, inside this namespace.
mkdir -p "$tmp/catalog" "$tmp/land"
cp /usr/lib/systemd/catalog/* "$tmp/catalog/" 2>/dev/null
cp "$srcdir/systemd/caom2ingest.catalog" "$tmp/catalog/"
mount --bind "$tmp/catalog" /usr/lib/systemd/catalog
journalctl --update-catalog 2>/dev/null
cat > "$tmp/coll.yml" <<CONF
log: journal
state_dir: $tmp/state3
control_socket: $tmp/control3.sock
settle: 100ms
collections:
  - name: OMM
    landing: $tmp/land
    rules:
      - {match: '^(?<o>C[0-9]+)\\.fits\$', observation: '\${o}', product: p, uri: 'cadc:OMM/\${file}'}
CONF
"$top_builddir/src/caom2ingestd" -f -c "$tmp/coll.yml" & dpid=$!
sleep 0.5
echo x > "$tmp/land/notes_1.fits"
echo x > "$tmp/land/C1.fits"
ok "a rejected file is logged with its MESSAGE_ID" \
	wait_for 10 sh -c 'journalctl --no-pager MESSAGE_ID=071774a492a34aa7ac559458c1557e4d | grep -q notes_1.fits'
ok "an accepted one too" \
	wait_for 10 sh -c 'journalctl --no-pager MESSAGE_ID=f34fd215a1b44ac58d228c607303de67 | grep -q C1.fits'
kill -TERM "$dpid"; wait "$dpid"
out=$(journalctl --no-pager -x MESSAGE_ID=071774a492a34aa7ac559458c1557e4d)
like "$out" "Subject: File $tmp/land/notes_1.fits matches no naming rule of collection OMM" \
	"journalctl -x shows the catalog subject with the fields filled in"
like "$out" "Fix the rules in /etc/caom2ingest/caom2ingest.yml" "and what to do"
