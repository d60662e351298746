#!/bin/sh
# t/si-server.sh - the test storage inventory (t/si-server) itself, with
# curl: PUT with and without a Digest, 412 on a mismatch, HEAD's headers,
# GET, POST of the type, DELETE; the put transaction (start, segments and
# their limits, HEAD of the transaction, revert, commit, abort); faults
# (status with Retry-After, a connection dropped mid-body stores nothing);
# bearer tokens; persistence across a restart.
. "$srcdir/t/tap.sh"
. "$srcdir/t/si.sh"

command -v curl >/dev/null || skip_all "curl not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
plan 33

echo "t0k3n" > "$tmp/token"
start_si_server --token-file "$tmp/token" --segment-min 4 --segment-max 8
auth="Authorization: Bearer t0k3n"
# http ARGS...: the status; headers in $tmp/hdrs, body in $tmp/body.
http() { curl -s -o "$tmp/body" -D "$tmp/hdrs" -w '%{http_code}' -H "$auth" "$@"; }
hdr() { tr -d '\r' < "$tmp/hdrs" | sed -n "s/^$1: //Ip" | tail -1; }
b64() { printf '%s' "$1" | openssl md5 -binary | base64; }
hex() { printf '%s' "$1" | md5sum | cut -d' ' -f1; }

printf 'hello world' > "$tmp/f"
is 401 "$(curl -s -o /dev/null -w '%{http_code}' -T "$tmp/f" "$si_url/cadc:T/a")" "no token: 401"
is 201 "$(http -T "$tmp/f" -H "Content-Type: text/plain" -H "Digest: md5=$(b64 'hello world')" "$si_url/cadc:T/a")" "PUT with the right Digest: 201"
is "md5=$(b64 'hello world')" "$(hdr Digest)" "answered with the Digest of what was stored"
is 412 "$(http -T "$tmp/f" -H "Digest: md5=$(b64 'other')" "$si_url/cadc:T/b")" "PUT with another Digest: 412"
like "$(cat "$tmp/body")" "checksum mismatch" "saying why"
is 404 "$(http -I "$si_url/cadc:T/b")" "and nothing is stored"
is 200 "$(http -I "$si_url/cadc:T/a")" "HEAD of a stored file"
is "11 text/plain md5=$(b64 'hello world')" "$(hdr Content-Length) $(hdr Content-Type) $(hdr Digest)" \
	"with its length, type and Digest"
http "$si_url/cadc:T/a" >/dev/null
is "hello world" "$(cat "$tmp/body")" "GET gives its bytes"
is 200 "$(http -X POST "$si_url/cadc:T/a?contentType=application/fits&contentEncoding=gzip")" "POST of the type and encoding"
http -I "$si_url/cadc:T/a" >/dev/null
is "application/fits gzip" "$(hdr Content-Type) $(hdr Content-Encoding)" "which HEAD then says"

# ---- the put transaction ----
is 202 "$(http -X PUT -H "x-put-txn-op: start" -H "x-total-length: 11" -H "Content-Length: 0" \
	-H "Digest: md5=$(b64 'hello world')" "$si_url/cadc:T/t")" "a transaction starts: 202"
txn=$(hdr x-put-txn-id)
ok "with an id ($txn)" test -n "$txn"
is "4 8" "$(hdr x-put-segment-minbytes) $(hdr x-put-segment-maxbytes)" "and the segment limits"
is 400 "$(printf 'hel' | http -T - -X PUT -H "x-put-txn-id: $txn" "$si_url/cadc:T/t")" "a segment below the minimum: 400"
is 400 "$(printf 'hello wor' | http -T - -X PUT -H "x-put-txn-id: $txn" "$si_url/cadc:T/t")" "above the maximum: 400"
is 202 "$(printf 'hello' | http -T - -X PUT -H "x-put-txn-id: $txn" "$si_url/cadc:T/t")" "a segment: 202"
is "md5=$(b64 hello)" "$(hdr Digest)" "with the Digest of every byte so far"
is 202 "$(printf ' wxx' | http -T - -X PUT -H "x-put-txn-id: $txn" "$si_url/cadc:T/t")" "a wrong segment"
is 202 "$(http -X POST -H "x-put-txn-id: $txn" -H "x-put-txn-op: revert" "$si_url/cadc:T/t")" "reverted"
is "md5=$(b64 hello)" "$(hdr Digest)" "back to what was there"
is 202 "$(printf ' world' | http -T - -X PUT -H "x-put-txn-id: $txn" "$si_url/cadc:T/t")" "the last segment may be short"
is "202 11" "$(http -I -H "x-put-txn-id: $txn" "$si_url/cadc:T/t") $(hdr Content-Length)" \
	"HEAD of the transaction: the bytes held"
is 404 "$(http -I "$si_url/cadc:T/t")" "nothing is the file before the commit"
is 201 "$(http -X PUT -H "x-put-txn-id: $txn" -H "x-put-txn-op: commit" -H "Content-Length: 0" "$si_url/cadc:T/t")" "commit: 201"
is "11 md5=$(b64 'hello world')" "$(http -I "$si_url/cadc:T/t" >/dev/null; hdr Content-Length) $(hdr Digest)" "the file is stored"
http -X PUT -H "x-put-txn-op: start" -H "Content-Length: 0" "$si_url/cadc:T/u" >/dev/null
txn=$(hdr x-put-txn-id)
is "204 404" "$(http -X POST -H "x-put-txn-id: $txn" -H "x-put-txn-op: abort" "$si_url/cadc:T/u") $(http -I -H "x-put-txn-id: $txn" "$si_url/cadc:T/u")" \
	"abort: 204, and the transaction is gone"

# ---- faults, counts, persistence ----
si_fault "status=503&count=1&verb=PUT&retry_after=7"
is "503 7" "$(http -T "$tmp/f" "$si_url/cadc:T/c") $(hdr Retry-After)" "an injected 503 with Retry-After"
head -c 200000 /dev/zero > "$tmp/big"
si_fault "drop=1&after=100000&verb=PUT"
http -T "$tmp/big" "$si_url/cadc:T/d" >/dev/null
is 404 "$(http -I "$si_url/cadc:T/d")" "a connection dropped mid-body stores nothing"
ok "counted as dropped" test "$(si_stat dropped)" -ge 1
is 204 "$(http -X DELETE "$si_url/cadc:T/c" >/dev/null; http -X DELETE "$si_url/cadc:T/a")" "DELETE"
stop_si_server
start_si_server --token-file "$tmp/token"
is "11 md5=$(b64 'hello world')" "$(http -I "$si_url/cadc:T/t" >/dev/null; hdr Content-Length) $(hdr Digest)" \
	"a restarted server holds what it held"
is 404 "$(http -I "$si_url/cadc:T/a")" "and not what was deleted"
