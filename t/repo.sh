# t/repo.sh - the test repository for end-to-end tests (sourced after t/tap.sh).

# start_repo_server: t/repo-server on a loopback port, its data in
# $tmp/data (no fsync) and its log in $tmp/server.log; sets $root (the URL
# the observations base hangs off) and stops the server at exit.
start_repo_server() {
	mkdir -p "$tmp/data"
	"$top_builddir/t/repo-server" --listen 127.0.0.1:0 --port-file "$tmp/port" \
		--data "$tmp/data" --xsd-dir "$srcdir/xsd" --no-fsync \
		>/dev/null 2>"$tmp/server.log" & repo_spid=$!
	at_exit stop_repo_server
	wait_for 10 test -s "$tmp/port" || bail "the test repository did not start"
	root=http://127.0.0.1:$(cat "$tmp/port")
}

stop_repo_server() { kill "$repo_spid" 2>/dev/null; wait "$repo_spid" 2>/dev/null; }

# stat_of VERB: how many requests of VERB the repository has served.
stat_of() {
	curl -s "$root/_test/stats" |
		python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', 0))"
}
