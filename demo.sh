#!/bin/sh
# demo.sh - watch caom2ingestd ingest files, from a built source tree.
#
# Starts caom2ingestd on etc/demo.yml (landing directory demo/landing/,
# state and the directory sink under demo/state/), makes the sample FITS
# files from the header dumps in etc/demo/ (tools/mkdemo), drops them into
# the landing directory as producers should (written under a dot name, then
# renamed), waits until each one is an observation, and shows the
# observations written (with the previews the daemon made of each file),
# `caom2ingest status` and what the daemon logged.
#
# Each run starts from scratch: it stops the daemon a --keep run left and
# removes demo/ first.
#
# usage: ./demo.sh [--keep | --stop]
#   --keep   leave the daemon running (stop it later with ./demo.sh --stop)
#   --stop   stop the daemon a --keep run left, and exit
# Environment: DEMO_BUILDDIR, where src/ and tools/ were built (default:
# this script's directory); DEMO_TIMEOUT, seconds to wait for the daemon
# and for the observations (default 30).
set -u

here=$(cd "$(dirname "$0")" && pwd) || exit 1
cd "$here" || exit 1
build=${DEMO_BUILDDIR:-$here}
daemon=$build/src/caom2ingestd
client=$build/src/caom2ingest
mkdemo=$build/tools/mkdemo
conf=etc/demo.yml
xsd=${CAOM2INGEST_XSD_DIR:-$here/xsd}
timeout=${DEMO_TIMEOUT:-30}
pidfile=demo/daemon.pid
log=demo/daemon.log
out=demo/state/observations/DEMO
pid=
keep=
stopped=

usage() {
	echo "usage: $0 [--keep | --stop]"
}

say() {
	printf '\n==> %s\n' "$*"
}

die() {
	printf 'demo.sh: %s\n' "$*" >&2
	exit 1
}

# is_demo_daemon PID: PID is alive and is a caom2ingestd
is_demo_daemon() {
	kill -0 "$1" 2>/dev/null && [ "$(ps -p "$1" -o comm= 2>/dev/null)" = caom2ingestd ]
}

# stop_daemon: stop the daemon of demo/daemon.pid, if it runs; wait for it
stop_daemon() {
	[ -f "$pidfile" ] || return 0
	_sp=$(cat "$pidfile")
	if is_demo_daemon "$_sp"; then
		kill -TERM "$_sp"
		_st=0
		while kill -0 "$_sp" 2>/dev/null && [ "$_st" -lt 100 ]; do
			sleep 0.1
			_st=$((_st + 1))
		done
		kill -0 "$_sp" 2>/dev/null && die "caom2ingestd (pid $_sp) did not stop"
		[ "$_sp" = "$pid" ] && wait "$_sp" 2>/dev/null
		stopped=$_sp
	fi
	rm -f "$pidfile"
}

# On any exit but a successful --keep run, the daemon started here stops.
cleanup() {
	[ -n "$pid" ] && [ -z "$keep" ] && stop_daemon
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# until SECONDS COMMAND...: run COMMAND until it succeeds; 1 at the deadline
until_ok() {
	_ut=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$_ut" -gt 0 ] || return 1
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		_ut=$((_ut - 1))
	done
}

# count_status STATUS: observations with this status in `caom2ingest list`
count_status() {
	"$client" --json -c "$conf" list 2>/dev/null | grep -c "\"status\": \"$1\""
}

# summary FILE.xml: a few mapped values of an observation, one per line
summary() {
	awk '
	function get(suffix,   k) {
		for (k in v)
			if (substr(k, length(k) - length(suffix) + 1) == suffix)
				return v[k]
		return ""
	}
	/^[ \t]*<\?/ { next }
	{
		line = $0
		sub(/^[ \t]+/, "", line)
		if (line ~ /^<\//) { depth--; next }
		if (!match(line, /^<caom2:[A-Za-z0-9]+/)) next
		name = substr(line, 8, RLENGTH - 7)
		if (name == "part") ap[na]++
		if (line ~ /\/>$/) next
		if (line ~ /<\/caom2:[A-Za-z0-9]+>$/) {
			val = line
			sub(/^<[^>]*>/, "", val)
			sub(/<\/caom2:[A-Za-z0-9]+>$/, "", val)
			gsub(/&lt;/, "<", val); gsub(/&gt;/, ">", val); gsub(/&amp;/, "\\&", val)
			if (st[depth] == "artifact" && name == "uri") au[++na] = val
			if (st[depth] == "artifact" && name == "productType") at[na] = val
			if (st[depth] == "artifact" && name == "contentLength") al[na] = val
			path = ""
			for (i = 1; i <= depth; i++) path = path "/" st[i]
			v[path "/" name] = val
			next
		}
		st[++depth] = name
	}
	END {
		printf "    %-12s %s/%s: %s, %s\n", "observation", get("/Observation/collection"),
		    get("/Observation/observationID"), get("/Observation/type"),
		    get("/Observation/intent")
		printf "    %-12s %s\n", "target", get("/target/name")
		printf "    %-12s %s, %s\n", "telescope", get("/telescope/name"),
		    get("/instrument/name")
		for (i = 1; i <= na; i++)
			if (at[i] == "preview" || at[i] == "thumbnail")
				printf "    %-12s %s, %s bytes\n", at[i], au[i], al[i]
			else
				printf "    %-12s %s, %s bytes, %d part%s\n", "artifact", au[i], al[i],
				    ap[i], ap[i] == 1 ? "" : "s"
		if (get("/position/coordsys") != "")
			printf "    %-12s RA %.5f, Dec %.5f (%s %s)\n", "position",
			    get("/coord1/val"), get("/coord2/val"), get("/position/coordsys"),
			    get("/position/equinox")
		else
			printf "    %-12s none (no celestial WCS)\n", "position"
		n = get("/energy/axis/function/naxis"); d = get("/energy/axis/function/delta")
		p = get("/energy/axis/function/refCoord/pix"); r = get("/energy/axis/function/refCoord/val")
		if (n != "")
			printf "    %-12s %s %.1f-%.1f nm (%d pixels)\n", "energy",
			    get("/energy/axis/axis/ctype"), (r + (0.5 - p) * d) * 1e9,
			    (r + (n + 0.5 - p) * d) * 1e9, n
		printf "    %-12s MJD %s, %s s exposure\n", "time",
		    get("/time/axis/function/refCoord/val"), get("/time/exposure")
	}' "$1"
}

case ${1-} in
--keep) keep=1 ;;
--stop)
	stop_daemon
	if [ -n "$stopped" ]; then
		echo "demo.sh: stopped caom2ingestd (pid $stopped)"
	else
		echo "demo.sh: no demo daemon was running"
	fi
	exit 0 ;;
-h | --help) usage; exit 0 ;;
"") ;;
*) usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
for prog in "$daemon" "$client" "$mkdemo"; do
	[ -x "$prog" ] || die "$prog is missing: build first (autoreconf -fi && ./configure && make)"
done
# the client as a person types it, in the messages
if [ "$build" = "$here" ]; then ctl=./src/caom2ingest; else ctl=$client; fi

stop_daemon
if "$client" -s demo/control.sock status >/dev/null 2>&1; then
	die "a caom2ingestd that demo.sh did not start answers on demo/control.sock: stop it first"
fi
rm -rf demo
mkdir -p demo/landing || exit 1

say "starting caom2ingestd -f -c $conf (log: $log)"
"$daemon" -f -c "$conf" 2>"$log" &
pid=$!
echo "$pid" > "$pidfile"
if ! until_ok "$timeout" "$client" -c "$conf" status; then
	cat "$log" >&2
	die "caom2ingestd did not answer on demo/control.sock"
fi
echo "caom2ingestd is running (pid $pid); its control socket answers $ctl -c $conf status"

say "making sample FITS files from etc/demo/*.fits.header into demo/landing/"
n=0
for dump in etc/demo/*.fits.header; do
	name=$(basename "$dump" .header)
	"$mkdemo" "$dump" "demo/landing/.$name.tmp" || die "$mkdemo $dump failed"
	mv "demo/landing/.$name.tmp" "demo/landing/$name" || exit 1
	printf '    %-36s %6d bytes (from %s)\n' "demo/landing/$name" \
	    "$(wc -c < "demo/landing/$name")" "$dump"
	n=$((n + 1))
done

say "waiting for $n observations ($ctl --json -c $conf list)"
all_done() {
	[ "$(count_status failed)" -eq 0 ] || return 0
	[ "$(count_status done)" -ge "$n" ]
}
until_ok "$timeout" all_done || true
if [ "$(count_status done)" -lt "$n" ]; then
	"$client" -c "$conf" list >&2
	cat "$log" >&2
	die "$(count_status done) of $n observations were ingested"
fi
"$client" -c "$conf" list

say "the observations written by the directory sink ($out/), checked by caom2ingest verify"
for x in "$out"/*.xml; do
	"$client" verify --xsd-dir "$xsd" "$x" || die "$x does not verify"
	summary "$x"
done

say "the previews and thumbnails written beside them (plots of each frame's spectrum)"
for x in "$out"/*.png "$out"/*.jpg; do
	[ -f "$x" ] && printf '    %-52s %6d bytes\n' "$x" "$(wc -c < "$x")"
done

say "$ctl -c $conf status"
"$client" -c "$conf" status

if [ -n "$keep" ]; then
	say "what caom2ingestd logged so far ($log)"
	cat "$log"
	say "caom2ingestd is still running (pid $pid)"
	echo "Drop more FITS files into demo/landing/, look with"
	echo "$ctl -c $conf status and stop it with ./demo.sh --stop."
else
	stop_daemon
	pid=
	say "what caom2ingestd logged ($log), up to its stop"
	cat "$log"
	echo
	echo "Done: $n files became $n observations. Run ./demo.sh --keep to leave the daemon running."
fi
