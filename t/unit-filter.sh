#!/bin/sh
# t/unit-filter.sh - the daemon under the shipped unit's system call filter.
# t/unit-seccomp.py builds the filter systemd would from the unit's
# SystemCallFilter= lines (groups expanded by this system's systemd-analyze)
# and SystemCallErrorNumber=, and runs the real daemon under it as an
# unprivileged user, as User= does: with control_group set, the chown of the
# control socket must be allowed (it was refused with SIGSYS, killing the
# daemon with nothing logged), and a call the filter refuses must be logged
# with its cause. No systemd instance is needed (none runs in CI containers).
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
client=$top_builddir/src/caom2ingest
unit=$top_builddir/systemd/caom2ingestd.service
helper=$srcdir/t/unit-seccomp.py
command -v systemd-analyze >/dev/null || skip_all "systemd-analyze not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 11

allowed=$(python3 "$helper" "$unit" --print)
for call in chown fchown fchownat; do
	ok "the unit's filter allows $call (control_group)" \
		sh -c "printf '%s\n' '$allowed' | grep -qx $call"
done
ok "a refused call fails with EPERM, not SIGSYS" grep -qx 'SystemCallErrorNumber=EPERM' "$unit"

# The real daemon under the filter: python3-seccomp, root (to become nobody).
py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import seccomp' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
	skip 7 "python3-seccomp (the libseccomp binding) not installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! getent group users >/dev/null
then
	skip 7 "needs root, setpriv and group users to run the daemon as nobody, as User= does"
	exit 0
fi

chmod 755 "$tmp"
mkdir -p "$tmp/run/landing" "$tmp/run/state"
chown -R nobody:nogroup "$tmp/run"
sock=$tmp/run/control.sock
cat > "$tmp/c.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/run/state
control_socket: $sock
control_group: users
settle: 100ms
collections:
  - name: OMM
    landing: $tmp/run/landing
    rules:
      - match: '^(?<obs>C[0-9]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}'
        uri: 'cadc:OMM/\${file}'
CONF
chmod 644 "$tmp/c.yml"
# LeakSanitizer needs ptrace, which no service filter allows. exec: in the
# background, $! is then the daemon itself.
filtered() {
	ASAN_OPTIONS=detect_leaks=0 exec setpriv --reuid=nobody --regid=nogroup \
		--groups users "$py" "$helper" "$unit" "$@"
}
log=$tmp/daemon.log
filtered -- "$daemon" -f -c "$tmp/c.yml" 2>"$log" & dpid=$!
stop() { kill -TERM "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; }
at_exit stop
# nobody (group nogroup) in group users, as SupplementaryGroups=users would make it
ok "with control_group set, the daemon answers on its socket under the filter" \
	wait_for 10 sh -c "'$client' -s '$sock' status >/dev/null 2>&1"
is "users" "$(stat -c %G "$sock" 2>/dev/null)" "and has given it to control_group"
echo x > "$tmp/run/landing/C1.fits"
chown nobody:nogroup "$tmp/run/landing/C1.fits"
ok "a file is settled, recorded and stored under the filter" \
	wait_for 10 grep -q "observation OMM/C1 stored" "$log"
ok "the daemon still runs" kill -0 "$dpid"
kill -TERM "$dpid"; wait "$dpid"; rc=$?
is 0 "$rc" "SIGTERM stops it (exit 0, no SIGSYS)"
[ "$rc" -eq 0 ] || diag "$(tail -5 "$log")"

# A call the filter refuses is logged where it is made, with its cause.
rm -f "$sock"
(filtered --deny @chown -- "$daemon" -f -c "$tmp/c.yml") 2>"$log"; rc=$?
is 3 "$rc" "a filter refusing chown: start-up fails (exit 3), not killed"
like "$(cat "$log")" "control socket $sock: cannot give it to control_group users: chown: Operation not permitted \\(the daemon's user must belong to the group, under systemd through SupplementaryGroups=, and a SystemCallFilter= must allow @chown\\)" \
	"and the log says which call failed and why"
