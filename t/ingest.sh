#!/bin/sh
# t/ingest.sh - end to end against the test repository: files land, their
# observations are PUT once; a restart sends nothing; a changed file is one
# POST; an outage heals with retries; kill -9 mid-burst loses and duplicates
# nothing; a refused observation fails with the service's reason.
. "$srcdir/t/tap.sh"
. "$srcdir/t/repo.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
command -v curl >/dev/null || skip_all "curl not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
plan 14

land=$tmp/landing
mkdir -p "$land" "$tmp/data"
start_repo_server
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
sink:
  repo:
    url: $root/torkeep/observations
    timeout: 5s
    concurrency: 4
    retry: {initial: 200ms, max: 1s, attempts: 20}
CONF
log=$tmp/daemon.log
db=$tmp/state/state.db
done_count() { sqlite3 "$db" "select count(*) from observations where status='done'" 2>/dev/null || echo 0; }
start() { "$daemon" -f -c "$tmp/c.yml" 2>>"$log" & dpid=$!; wait_for 10 test -S "$tmp/control.sock"; }
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop

start
i=0
while [ $i -lt 20 ]; do echo "data $i" > "$land/.C$i"; mv "$land/.C$i" "$land/C${i}_SCI.fits"; i=$((i + 1)); done
ok "a burst of 20 files: 20 observations stored" wait_for 20 sh -c "test \$(sqlite3 '$db' \"select count(*) from observations where status='done'\") -eq 20"
is 20 "$(stat_of PUT)" "with exactly 20 PUTs"
out=$(curl -s "$root/torkeep/observations/OMM/C3")
like "$out" "<caom2:uri>cadc:OMM/C3_SCI.fits</caom2:uri>" "the repository holds the artifact"

stop
curl -s -X POST "$root/_test/reset-stats" >/dev/null
start
sleep 1
is 0 "$(( $(stat_of PUT) + $(stat_of POST) ))" "a restart with nothing new writes nothing"

echo more >> "$land/C3_SCI.fits"
ok "a modified file updates its observation" \
	wait_for 10 sh -c "test \$(curl -s $root/_test/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"POST\"])') -eq 1"
is 0 "$(stat_of PUT)" "with one POST and no PUT"

# The repository is down for a while: the backlog drains once it is back.
curl -s -X POST "$root/_test/fault?status=503&count=6&verb=GET" >/dev/null
echo x > "$land/C100_SCI.fits"
echo x > "$land/C101_SCI.fits"
ok "retries are logged while it is down" wait_for 10 grep -q "will be retried" "$log"
ok "both observations are stored once it is back" wait_for 20 sh -c \
	"test \$(sqlite3 '$db' \"select count(*) from observations where status='done' and observation in ('C100','C101')\") -eq 2"

# A refused observation: permanent failure with the service's reason.
curl -s -X POST "$root/_test/fault?status=400&count=1&verb=GET" >/dev/null
echo x > "$land/C200_SCI.fits"
ok "a 400 fails the observation for good" wait_for 10 sh -c \
	"test \"\$(sqlite3 '$db' \"select status from observations where observation='C200'\")\" = failed"
like "$(sqlite3 "$db" "select last_error from observations where observation='C200'")" \
	"HTTP 400" "with the reason recorded"
"$client" -s "$tmp/control.sock" reingest OMM/C200 >/dev/null
ok "and reingest stores it" wait_for 10 sh -c \
	"test \"\$(sqlite3 '$db' \"select status from observations where observation='C200'\")\" = done"

# kill -9 in the middle of a burst: every observation present, no duplicate PUT.
curl -s -X POST "$root/_test/reset-stats" >/dev/null
curl -s -X POST "$root/_test/fault?delay_ms=50&count=200" >/dev/null
i=300
while [ $i -lt 340 ]; do echo "d$i" > "$land/.C$i"; mv "$land/.C$i" "$land/C${i}_SCI.fits"; i=$((i + 1)); done
sleep 0.7
kill -KILL "$dpid"; wait "$dpid" 2>/dev/null
curl -s -X POST "$root/_test/clear-faults" >/dev/null
start
ok "after kill -9 and a restart all 40 observations are stored" wait_for 30 sh -c \
	"test \$(sqlite3 '$db' \"select count(*) from observations where status='done' and cast(substr(observation, 2) as int) >= 300\") -eq 40"
n=0; i=300
while [ $i -lt 340 ]; do
	curl -s -o /dev/null -w '%{http_code}\n' "$root/torkeep/observations/OMM/C$i" | grep -q 200 && n=$((n + 1))
	i=$((i + 1))
done
is 40 "$n" "the repository holds all 40"
# A PUT still in flight (delayed) when the daemon died may race the restarted
# daemon's own: the repository answers one of them 409 and the loser re-reads.
# What must hold is one successful create per observation.
conflicts=$(curl -s "$root/_test/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['status'].get('409', 0))")
is 40 "$(( $(stat_of PUT) - conflicts ))" "created exactly once each ($(stat_of PUT) PUTs, $conflicts answered 409)"
