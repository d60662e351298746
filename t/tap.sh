# t/tap.sh - TAP helpers for shell tests (sourced). Names follow C TAP Harness.
#
# plan N | plan_lazy; ok DESC COMMAND...; ok_not DESC COMMAND...;
# is WANTED SEEN DESC; like SEEN REGEX DESC; diag MSG; skip_all REASON;
# skip N REASON; bail MSG; wait_for SECONDS COMMAND... (poll until true).
# Also: $builddir/$srcdir, a private $tmp removed at exit, and $tap_run.

: "${srcdir:=.}"
: "${top_builddir:=.}"
tap_run=0
tap_planned=
tap_lazy=

tmp=$(mktemp -d "${TMPDIR:-/tmp}/caom2ingest-test.XXXXXX") || exit 1
tap_cleanup_hooks=
tap_exit() {
	for h in $tap_cleanup_hooks; do "$h"; done
	rm -rf "$tmp"
	if [ -n "$tap_lazy" ]; then echo "1..$tap_run"; fi
}
trap tap_exit EXIT
trap 'exit 1' INT TERM

# at_exit FUNCTION: run FUNCTION before the temporary directory is removed.
at_exit() { tap_cleanup_hooks="$1 $tap_cleanup_hooks"; }

plan() { tap_planned=$1; echo "1..$1"; }
plan_lazy() { tap_lazy=1; }
skip_all() { echo "1..0 # SKIP $*"; trap - EXIT; rm -rf "$tmp"; exit 0; }
bail() { echo "Bail out! $*"; exit 255; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

tap_result() {
	tap_run=$((tap_run + 1))
	if [ "$1" -eq 0 ]; then echo "ok $tap_run - $2"; else echo "not ok $tap_run - $2"; fi
	return "$1"
}

ok() {
	desc=$1; shift
	if "$@" >/dev/null 2>&1; then tap_result 0 "$desc"; else tap_result 1 "$desc"; fi
}

ok_not() {
	desc=$1; shift
	if "$@" >/dev/null 2>&1; then tap_result 1 "$desc"; else tap_result 0 "$desc"; fi
}

is() {
	if [ "$1" = "$2" ]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "wanted: $1" "  seen: $2"
		return 1
	fi
}

like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "wanted match: $2" "  seen: $1"
		return 1
	fi
}

skip() {
	n=$1; shift
	while [ "$n" -gt 0 ]; do
		tap_run=$((tap_run + 1)); echo "ok $tap_run # SKIP $*"; n=$((n - 1))
	done
}

wait_for() {
	secs=$1; shift
	tries=$((secs * 20))
	while [ "$tries" -gt 0 ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}
