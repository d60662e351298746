#!/bin/sh
# t/group.sh - grouping: a rule's `expect` holds its observation until every
# expected file is there (one write with all of them), or until `wait` has
# passed (then it goes with what it has, logged); a restart keeps the wait.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"

daemon=$top_builddir/src/caom2ingestd
plan 12

land=$tmp/landing
out=$tmp/out
mkdir -p "$land" "$out" "$tmp/staging"
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: info
state_dir: $tmp/state
control_socket: $tmp/control.sock
settle: 200ms
collections:
  - name: OMM
    landing: $land
    rules:
      - match: '^(?<obs>C[0-9]{6})_(?<kind>SCI|CAL)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}_\${kind}'
        uri: 'cadc:OMM/\${file}'
        expect: ['\${obs}_SCI.fits', '\${obs}_CAL.fits']
        wait: 6s
sink:
  directory: $out
CONF
log=$tmp/daemon.log
dpid=
start() { "$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!; }
stop() { [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; dpid=; }
at_exit stop
drop() { mkfits "$tmp/staging/$1"; mv "$tmp/staging/$1" "$land/$1"; }
start
wait_for 10 grep -q 'started' "$log"

# 1. both members arrive: nothing before the second, then one observation with both
drop C000001_SCI.fits
ok "the first member is accepted" wait_for 10 grep -q 'C000001_SCI.fits: observation OMM/C000001' "$log"
like "$(cat "$log")" "observation OMM/C000001 waits up to [0-9]+ s for C000001_CAL.fits" \
	"its observation waits, naming the missing file"
sleep 1
ok_not "nothing is stored while a member is missing" test -e "$out/OMM/C000001.xml"
drop C000001_CAL.fits
ok "the second member completes the group" wait_for 10 test -s "$out/OMM/C000001.xml"
is 2 "$(grep -c '<caom2:productID>' "$out/OMM/C000001.xml")" "the observation has both planes"
like "$(cat "$log")" "observation OMM/C000001: every expected file is here" "and says so"

# 2. a member that never comes: the group goes after its wait, with what it has
drop C000002_SCI.fits
ok "a lone member waits" wait_for 10 grep -q 'observation OMM/C000002 waits' "$log"
sleep 1
ok_not "not before its wait has passed" test -e "$out/OMM/C000002.xml"
ok "after the wait it is ingested with what it has" wait_for 10 test -s "$out/OMM/C000002.xml"
like "$(cat "$log")" "observation OMM/C000002: still without C000002_CAL.fits after 6 s" \
	"the missing file is logged"

# 3. a restart keeps the wait (not ingested at once, ingested at the deadline)
drop C000003_SCI.fits
wait_for 10 grep -q 'observation OMM/C000003 waits' "$log"
stop
start
wait_for 10 sh -c "grep -c 'started' '$log' | grep -q 2"
sleep 1
ok_not "after a restart the waiting group still waits" test -e "$out/OMM/C000003.xml"
ok "and goes at its deadline" wait_for 10 test -s "$out/OMM/C000003.xml"
