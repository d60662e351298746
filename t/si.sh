# t/si.sh - the test storage inventory for end-to-end tests (sourced after t/tap.sh).

# start_si_server [ARGS...]: t/si-server on a loopback port, its data in
# $tmp/si (no fsync), its log in $tmp/si.log; sets $si_root (the server) and
# $si_url (its files base) and stops the server at exit. Again after
# stop_si_server: the same data, a new port.
start_si_server() {
	mkdir -p "$tmp/si"
	rm -f "$tmp/si.port"
	"$top_builddir/t/si-server" --listen 127.0.0.1:0 --port-file "$tmp/si.port" \
		--data "$tmp/si" --no-fsync "$@" >/dev/null 2>>"$tmp/si.log" & si_spid=$!
	at_exit stop_si_server
	wait_for 10 test -s "$tmp/si.port" || bail "the test storage inventory did not start"
	si_root=http://127.0.0.1:$(cat "$tmp/si.port")
	si_url=$si_root/minoc/files
}

stop_si_server() {
	[ -n "${si_spid:-}" ] || return 0
	kill "$si_spid" 2>/dev/null; wait "$si_spid" 2>/dev/null; si_spid=
}

# si_stat KEY: a count of /_test/stats (GET, PUT, ..., stored, segments, reverts, ...).
si_stat() {
	curl -s "$si_root/_test/stats" |
		python3 -c "import json,sys; d=json.load(sys.stdin); print(d.get('$1', d['status'].get('$1', 0)))"
}

# si_file URI FIELD: size, md5, type, encoding or puts (times written) of a stored file.
si_file() {
	curl -s "$si_root/_test/files" | awk -F'\t' -v u="$1" -v f="$2" '
		BEGIN { i["size"] = 2; i["md5"] = 3; i["type"] = 4; i["encoding"] = 5; i["puts"] = 6 }
		$1 == u { print $(i[f]) }'
}

# si_fault QUERY: POST /_test/fault?QUERY.
si_fault() { curl -s -X POST "$si_root/_test/fault?$1" >/dev/null; }
