#!/bin/sh
# t/unit.sh - the systemd unit verifies clean and is hardened (exposure <= 1.5).
. "$srcdir/t/tap.sh"

command -v systemd-analyze >/dev/null || skip_all "systemd-analyze not installed"
unit=$top_builddir/systemd/caom2ingestd.service
plan 14

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

# The landing drop-in as shipped must not stop the service when a path is
# missing (226/NAMESPACE, nothing logged): every ReadWritePaths= is '-'-prefixed,
# and --check-config (ExecStartPre=) names what is missing instead.
example=$srcdir/systemd/landing.conf.example
paths=$(sed -n 's/^ReadWritePaths=//p' "$example")
ok "landing.conf.example grants paths" test -n "$paths"
is "" "$(printf '%s\n' "$paths" | grep -v '^-/')" \
	"each ReadWritePaths= of landing.conf.example may be missing ('-' prefix)"
mkdir -p "$tmp/caom2ingestd.service.d"
cp "$example" "$tmp/caom2ingestd.service.d/landing.conf"
out=$(systemd-analyze verify --man=no "$tmp/caom2ingestd.service" 2>&1); rc=$?
is "0:" "$rc:$out" "the unit with the drop-in verifies clean"
land=$(printf '%s\n' "$paths" | sed -n '1s/^-//p')
if [ -e "$land" ]; then
	skip 1 "$land exists here"
else
	printf 'collections:\n  - name: OMM\n    landing: %s\n    rules:\n%s\n' "$land" \
	    "      - {match: '^x\$', observation: x, product: x, uri: 'cadc:OMM/x'}" > "$tmp/c.yml"
	"$top_builddir/src/caom2ingestd" --check-config -c "$tmp/c.yml" 2>"$tmp/err"
	like "$(cat "$tmp/err")" "collections\\[1\\]\\.landing: $land: No such file or directory" \
		"--check-config (ExecStartPre=) names the example's missing landing directory"
fi
# A configuration error is not restarted in a loop.
ok "exit 1 (configuration) and 2 (usage) are not restarted" \
	grep -qx 'RestartPreventExitStatus=1 2' "$unit"
ok "repeated failed starts stop the restarts" \
	sh -c "grep -qx 'StartLimitBurst=3' '$unit' && grep -qx 'StartLimitIntervalSec=120' '$unit'"
