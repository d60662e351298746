# t/s3server.sh - an S3-compatible test server (sourced after t/tap.sh).
#
# The server is @20minutes/s3rver (npm), a maintained fork of s3rver that
# verifies AWS Signature Version 4 (s3rver 3.7.1 itself accepts any V4
# signature). packaging/install-deps installs it into $s3server_prefix; its
# package ships no bin/ script, so it runs through its lib/cli.js. Access key
# and secret are both S3RVER.
#
# s3server_missing: prints why the server cannot run (nothing when it can).
# start_s3_server: starts it on a free loopback port with its data in
#   $tmp/s3data, sets $s3_endpoint, $s3_pid and $s3_credentials (a
#   credentials file for the server's key), and stops it at exit.
# s3 CURL-ARGS...: a signed request to the server with curl.
# s3_mkbucket BUCKET; s3_put BUCKET KEY FILE (KEY percent-encoded as needed).

: "${s3server_prefix:=${CAOM2INGEST_S3SERVER:-/usr/local/lib/caom2ingest-test}}"
s3server_cli=$s3server_prefix/node_modules/@20minutes/s3rver/lib/cli.js

s3server_missing() {
	if ! command -v node >/dev/null 2>&1; then
		echo "node is not installed (packaging/install-deps installs it)"
	elif [ ! -f "$s3server_cli" ]; then
		echo "no S3 test server in $s3server_prefix (packaging/install-deps installs it)"
	fi
}

start_s3_server() {
	mkdir -p "$tmp/s3data"
	# --openssl-legacy-provider: its continuation tokens are DES-encrypted.
	node --openssl-legacy-provider -e "require(process.argv[1]).parseAsync(process.argv)" "$s3server_cli" \
		--directory "$tmp/s3data" --address 127.0.0.1 --port 0 --silent \
		>"$tmp/s3server.out" 2>"$tmp/s3server.err" & s3_pid=$!
	at_exit stop_s3_server
	wait_for 20 grep -q 'listening on' "$tmp/s3server.out" ||
		bail "the S3 test server did not start: $(cat "$tmp/s3server.err")"
	s3_endpoint=http://$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/s3server.out")
	s3_credentials=$tmp/s3-credentials
	printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' \
		>"$s3_credentials"
	chmod 600 "$s3_credentials"	# a secret file: others may not read it
}

stop_s3_server() { kill "$s3_pid" 2>/dev/null; wait "$s3_pid" 2>/dev/null; }

s3() {
	curl -sS --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

s3_mkbucket() { s3 -o /dev/null -X PUT "$s3_endpoint/$1"; }

s3_put() { s3 -o /dev/null -T "$3" "$s3_endpoint/$1/$2"; }
