#!/bin/sh
# t/test-hygiene.sh - tests that would hide a failure or flake under load:
# t/journal.sh skips with the reason when journald dies after creating its
# socket (it printed Python tracebacks and failures instead); t/package.sh
# says how to run it when no package is built (.ci/run builds one);
# t/overflow.sh stops the daemon only once its watches are in place.
. "$srcdir/t/tap.sh"

plan 6

# A journald that creates its socket and dies at once.
cat > "$tmp/dying-journald" <<'SH'
#!/bin/sh
python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind("/run/systemd/journal/socket")'
echo "dying-journald: exiting on purpose" >&2
exit 1
SH
chmod +x "$tmp/dying-journald"
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null &&
    command -v python3 >/dev/null; then
	out=$(CAOM2INGEST_TEST_JOURNALD=$tmp/dying-journald sh "$srcdir/t/journal.sh" 2>&1)
	like "$out" "^1\\.\\.0 # SKIP systemd-journald exited after creating its socket \\(dying-journald: exiting on purpose\\)" \
		"t/journal.sh: a journald that died is a skip with the reason"
	ok_not "without a traceback" sh -c "printf '%s' \"\$1\" | grep -q Traceback" sh "$out"
	ok_not "or a failure" sh -c "printf '%s' \"\$1\" | grep -q '^not ok'" sh "$out"
else
	skip 3 "needs root, unshare -m and python3 (as t/journal.sh does)"
fi

mkdir -p "$tmp/empty"
out=$(top_builddir=$tmp/empty sh "$srcdir/t/package.sh" 2>&1)
is "1..0 # SKIP no package built: run 'make deb' first (.ci/run builds it before make check)" \
	"$out" "t/package.sh without a package says how it is run"

# t/overflow.sh: SIGSTOP only after the start-up scan (which places the
# watches) has been seen; a stop before it found no overflow under load.
scan=$(grep -n "wait_for .*start-up scan of the landing directories" "$srcdir/t/overflow.sh" |
    head -1 | cut -d: -f1)
stop=$(grep -n 'kill -STOP' "$srcdir/t/overflow.sh" | head -1 | cut -d: -f1)
ok "t/overflow.sh waits for the start-up scan" test -n "$scan"
ok "before it stops the daemon" test -n "$scan" -a -n "$stop" -a "${scan:-0}" -lt "${stop:-0}"
