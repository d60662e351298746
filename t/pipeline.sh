#!/bin/sh
# t/pipeline.sh - the real daemon watching landing directories: settling,
# classification by naming rules, the durable state, restarts, SIGUSR2
# rescans and reloads.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 30

land=$tmp/landing
polled=$tmp/polled
mkdir -p "$land" "$polled"
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 600ms
rescan_interval: 1h
poll_interval: 1h
collections:
  - name: OMM
    landing: $land
    include: ['*.fits', '*.fits.fz']
    exclude: ['*_junk.*']
    rules:
      - match: '^(?<obs>C[0-9]{6}_[0-9]{4})_(?<kind>SCI|CAL)\\.fits(\\.fz)?\$'
        observation: '\${obs}'
        product: '\${obs}_\${kind}'
        uri: 'cadc:OMM/\${file}'
  - name: POLL
    landing: $polled
    poll: true
    rules:
      - {match: '^(?<o>.*)\\.fits\$', observation: '\${o}', product: '\${o}', uri: 'cadc:POLL/\${file}'}
CONF
log=$tmp/daemon.log
db=$tmp/state/state.db
q() { sqlite3 "$db" "$1"; }
start() { "$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!; wait_for 10 grep -q 'started' "$log"; }
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop

# A file already there at start-up.
echo pre > "$land/C170101_0001_SCI.fits"
start
ok "a file present at start-up is classified" \
	wait_for 5 grep -q "observation OMM/C170101_0001, product C170101_0001_SCI" "$log"

# Renamed into place: complete at once (no settle wait needed).
echo x > "$land/.C170324_0028_SCI.fits.part"
mv "$land/.C170324_0028_SCI.fits.part" "$land/C170324_0028_SCI.fits.fz"
ok "a renamed file is classified" \
	wait_for 5 grep -q "observation OMM/C170324_0028, product C170324_0028_SCI" "$log"
ok "and stored once its observation is written" \
	wait_for 5 sh -c "test \"\$(sqlite3 '$db' \"select status from files where path='$land/C170324_0028_SCI.fits.fz'\")\" = done"
is "cadc:OMM/C170324_0028_SCI.fits.fz" \
	"$(q "select uri from files where path='$land/C170324_0028_SCI.fits.fz'")" \
	"with its artifact URI"

# A slow writer: nothing before it stops writing.
( for i in 1 2 3 4 5 6 7 8 9 10; do echo "chunk $i" >> "$land/C170324_0028_CAL.fits"; sleep 0.1; done ) &
wpid=$!
sleep 0.8
ok_not "a file still being written is not classified early" \
	grep -q "product C170324_0028_CAL" "$log"
wait "$wpid"
ok "it is classified once quiet" wait_for 5 grep -q "product C170324_0028_CAL" "$log"
is "2" "$(q "select count(*) from files where observation='C170324_0028'")" \
	"both files belong to one observation"
ok "the observation is stored" wait_for 5 sh -c \
	"test \"\$(sqlite3 '$db' \"select status from observations where observation='C170324_0028'\")\" = done"
obs=$tmp/state/observations/OMM/C170324_0028.xml
sleep 0.5
ok "as a valid CAOM-2 document with correct checksums" \
	"$top_builddir/src/caom2ingest" verify --xsd-dir "$srcdir/xsd" "$obs"
is "2" "$(grep -c '<caom2:artifact ' "$obs")" "holding both files as artifacts"
is "2" "$(grep -c '<caom2:plane ' "$obs")" "in their two products' planes"

# Names the daemon leaves alone, and a name matching no rule.
echo x > "$land/.hidden.fits"
echo x > "$land/C170324_0029_SCI.fits.tmp"
echo x > "$land/C170324_0030_junk.fits"
echo x > "$land/notes.txt"
echo x > "$land/C17_bad_SCI.fits"
ok "a file matching no rule is reported" \
	wait_for 5 grep -q "C17_bad_SCI.fits matches no naming rule of collection OMM" "$log"
is "unmatched" "$(q "select status from files where path='$land/C17_bad_SCI.fits'")" \
	"and remembered as unmatched"
sleep 0.5
is "0" "$(q "select count(*) from files where path like '%hidden%' or path like '%.tmp' or path like '%junk%' or path like '%notes%'")" \
	"hidden, .tmp, excluded and not-included files are not recorded"

# mkdir -p with a file at once.
mkdir -p "$land/a/b/c" && echo x > "$land/a/b/c/C170324_0031_SCI.fits"
ok "a file in new nested directories is found" \
	wait_for 5 grep -q "product C170324_0031_SCI" "$log"

# Poll mode: only a rescan finds files; SIGUSR2 asks for one.
echo x > "$polled/p1.fits"
sleep 0.5
ok_not "a poll-mode tree is not watched by inotify" grep -q "POLL/p1" "$log"
kill -USR2 "$dpid"
ok "SIGUSR2 rescans and finds it" wait_for 5 grep -q "observation POLL/p1" "$log"

# Restart: nothing unchanged is classified again.
stop
n=$(grep -c "observation OMM/" "$log")
start
sleep 1
is "$n" "$(grep -c "observation OMM/" "$log")" "a restart does not re-classify unchanged files"
is "1" "$(grep -c 'matches no naming rule' "$log")" "an unmatched file is reported once"

# A changed file is classified again.
echo changed >> "$land/C170101_0001_SCI.fits"
ok "a modified file is classified again" \
	wait_for 5 sh -c "test \$(grep -c 'product C170101_0001_SCI' '$log') -eq 2"

# Changed while the daemon was down: the start-up scan (threads stat'ing
# every file against a snapshot of the state store) takes what changed, and
# only that. In the trees: 4 recorded files left as they are, a file grown,
# a file whose mtime alone changed, a new file, and 4 never recorded
# (hidden, .tmp, excluded, not included).
wait_for 5 sh -c "test \"\$(sqlite3 '$db' \"select count(*) from observations where status != 'done'\")\" = 0"
stop
echo again >> "$land/C170101_0001_SCI.fits"
touch -d '2001-01-01 00:00' "$land/C170324_0028_CAL.fits"
echo x > "$land/C170324_0041_SCI.fits"
start
ok "a file grown while the daemon was down is classified again" \
	wait_for 5 sh -c "test \$(grep -c 'product C170101_0001_SCI' '$log') -eq 3"
ok "so is one whose mtime alone changed" \
	wait_for 5 sh -c "test \$(grep -c 'product C170324_0028_CAL' '$log') -eq 2"
ok "and a new one" wait_for 5 grep -q "product C170324_0041_SCI" "$log"
like "$(grep 'start-up scan' "$log" | tail -1)" \
	'start-up scan of the landing directories: 11 files in [0-9]+ ms \(4 unchanged, 7 to look at\)' \
	"the scan's log line counts the files it found unchanged"
is "1" "$(grep -c 'product C170324_0028_SCI' "$log")" \
	"an unchanged file is not classified again"

# Reload: a bad landing directory is refused, a good change applies.
cp "$tmp/c.yml" "$tmp/c.yml.good"
sed -i "s|landing: $polled|landing: $tmp/missing|" "$tmp/c.yml"
kill -HUP "$dpid"
ok "a reload naming a missing landing directory is refused" \
	wait_for 5 grep -q "landing directory $tmp/missing: No such file or directory" "$log"
ok "the daemon keeps running" kill -0 "$dpid"
echo x > "$land/C170324_0040_SCI.fits"
ok "and keeps ingesting with the old configuration" \
	wait_for 5 grep -q "product C170324_0040_SCI" "$log"
cp "$tmp/c.yml.good" "$tmp/c.yml"
kill -HUP "$dpid"
ok "a good reload is applied" wait_for 5 sh -c "test \$(grep -c 'configuration reloaded' '$log') -ge 1"
stop
ok "the state database is intact" sh -c "test \"\$(sqlite3 '$db' 'pragma integrity_check')\" = ok"
