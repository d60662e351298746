#!/bin/sh
# t/check-config.sh - caom2ingestd --check-config catches the broken set-ups
# an operator meets: a missing blueprint, a blueprint with unknown keys or a
# syntax error (every blueprint whose path has no ${...} is loaded, and the
# directory of a templated one looked at), a landing directory or a move:
# target that does not exist. Each error is FILE:LINE: key: ..., all of them
# in one run, and nothing is started.
. "$srcdir/t/tap.sh"

daemon=$top_builddir/src/caom2ingestd
plan 16

mkdir -p "$tmp/land" "$tmp/bps" "$tmp/done"
printf 'Observation.type = OBJECT\nPlane.calibrationLevel = 1\n' > "$tmp/good.bp"
printf 'Observation.type = OBJECT\nFoo.bar = 1\nthis is not a line\n' > "$tmp/bad.bp"
printf 'Observation.type = OBJECT\n' > "$tmp/bps/F1.bp"
touch "$tmp/afile"
rule() {	# rule LETTER BLUEPRINT
	cat <<RULE
      - match: '^(?<obs>$1[0-9]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}'
        uri: 'cadc:OMM/\${file}'
        blueprint: '$2'
RULE
}
conf() {	# conf FILE LANDING ON_SUCCESS RULES...
	f=$1; land=$2; done=$3; shift 3
	{
		printf 'log: stderr\nstate_dir: %s\ncollections:\n  - name: OMM\n' "$tmp/state"
		printf '    landing: [%s]\n    on_success: %s\n    rules:\n' "$land" "$done"
		for r in "$@"; do printf '%s\n' "$r"; done
	} > "$f"
}

conf "$tmp/ok.yml" "$tmp/land" "move:$tmp/done" "$(rule C good.bp)" "$(rule F 'bps/${obs}.bp')"
out=$("$daemon" --check-config -c "$tmp/ok.yml" 2>&1); rc=$?
is 0 "$rc" "a set-up whose files and directories are all there: exit 0"
is "OK" "$out" "and OK"

conf "$tmp/bp.yml" "$tmp/land" keep "$(rule C bad.bp)" "$(rule D missing.bp)" \
	"$(rule E 'tpl/${obs}.bp')"
"$daemon" --check-config -c "$tmp/bp.yml" >"$tmp/out" 2>"$tmp/err"; rc=$?
is 1 "$rc" "broken blueprints: exit 1"
is "" "$(cat "$tmp/out")" "no OK"
like "$(cat "$tmp/err")" "^$tmp/bp.yml:12: collections\\[1\\]\\.rules\\[1\\]\\.blueprint: $tmp/bad.bp:2: unknown key 'Foo.bar'\$" \
	"a blueprint's unknown key: CONF:LINE: key: BLUEPRINT:LINE: message"
like "$(cat "$tmp/err")" "^$tmp/bp.yml:12: collections\\[1\\]\\.rules\\[1\\]\\.blueprint: $tmp/bad.bp:3: syntax error" \
	"a blueprint's syntax error, in the same run"
like "$(cat "$tmp/err")" "^$tmp/bp.yml:17: collections\\[1\\]\\.rules\\[2\\]\\.blueprint: $tmp/missing.bp: No such file or directory\$" \
	"a missing blueprint"
like "$(cat "$tmp/err")" "^$tmp/bp.yml:22: collections\\[1\\]\\.rules\\[3\\]\\.blueprint: $tmp/tpl \\(the directory of $tmp/tpl/\\\$\\{obs\\}\\.bp\\): No such file or directory\$" \
	"a templated blueprint whose directory is missing"
is 4 "$(wc -l < "$tmp/err")" "four errors, one line each"

conf "$tmp/dirs.yml" "$tmp/land, $tmp/nope, $tmp/afile" "move:$tmp/gone" "$(rule C good.bp)"
"$daemon" --check-config -c "$tmp/dirs.yml" 2>"$tmp/err"; rc=$?
is 1 "$rc" "missing directories: exit 1"
like "$(cat "$tmp/err")" "^$tmp/dirs.yml:5: collections\\[1\\]\\.landing: $tmp/nope: No such file or directory\$" \
	"a landing directory that does not exist"
like "$(cat "$tmp/err")" "^$tmp/dirs.yml:5: collections\\[1\\]\\.landing: $tmp/afile: not a directory\$" \
	"a landing path that is a file"
like "$(cat "$tmp/err")" "^$tmp/dirs.yml:6: collections\\[1\\]\\.on_success: $tmp/gone: No such file or directory\$" \
	"a move: target that does not exist"
ok_not "and nothing is started (no state directory)" test -e "$tmp/state"

# What it reports is what start-up would refuse, found before starting.
printf 'control_socket: %s\n' "$tmp/c.sock" >> "$tmp/dirs.yml"
timeout 20 "$daemon" -f -c "$tmp/dirs.yml" 2>"$tmp/log"; rc=$?
is 3 "$rc" "the daemon on the same file fails at start-up (exit 3)"
like "$(cat "$tmp/log")" "landing directory $tmp/nope: No such file or directory" \
	"on the same directory"
