#!/bin/sh
# t/unit.sh - the systemd unit verifies clean and is hardened (exposure <= 1.5).
. "$srcdir/t/tap.sh"

command -v systemd-analyze >/dev/null || skip_all "systemd-analyze not installed"
unit=$top_builddir/systemd/caom2ingestd.service
plan 8

# Verify a copy whose commands point into the build tree (nothing is installed).
sed -e "s|/[^ ]*/sbin/caom2ingestd|$top_builddir/src/caom2ingestd|g" \
    -e "s|/[^ ]*/bin/caom2ingest |$top_builddir/src/caom2ingest |g" "$unit" > "$tmp/caom2ingestd.service"
out=$(systemd-analyze verify --man=no "$tmp/caom2ingestd.service" 2>&1); rc=$?
is 0 "$rc" "systemd-analyze verify exits 0"
is "" "$out" "and says nothing"

out=$(systemd-analyze security --offline=true "$unit" 2>&1)
score=$(echo "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
diag "exposure level: $score"
ok "systemd-analyze security rates it <= 1.5 (got $score)" \
	awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 1.5) }'
ok "Type=notify" grep -qx 'Type=notify' "$unit"
ok "the configuration is checked before start" grep -q '^ExecStartPre=.*caom2ingestd --check-config' "$unit"
ok "reload is synchronous, through the client" grep -q '^ExecReload=.*caom2ingest .* reload$' "$unit"
ok "a watchdog is set" grep -q '^WatchdogSec=' "$unit"
ok "state and runtime directories are managed" \
	sh -c "grep -q '^StateDirectory=caom2ingest' '$unit' && grep -q '^RuntimeDirectory=caom2ingest' '$unit'"
