#!/bin/sh
# t/repo-tls.sh - the repository client over HTTPS against the test
# repository in TLS mode, with a throwaway CA made here by openssl: the
# server's certificate is verified by default and against ca_path (a file
# or a rehashed directory); a client certificate ("proxy": certificate and
# key in one PEM file) is sent, and refused service without it gives the
# service's reason; the daemon pushes with it; no key material is printed.
. "$srcdir/t/tap.sh"
. "$srcdir/t/mkfits.sh"

client=$top_builddir/src/caom2ingest
daemon=$top_builddir/src/caom2ingestd
server=$top_builddir/t/repo-server
xsd=${CAOM2INGEST_XSD_DIR:-$srcdir/xsd}
[ -x "$server" ] || skip_all "$server is not built"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"
plan 57

# --- a throwaway PKI ------------------------------------------------------
pki=$tmp/pki
mkdir -p "$pki"
# newkey NAME: an unencrypted EC key in NAME.key.
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$1.key" 2>/dev/null; }
# mkca NAME CN: a self-signed CA certificate NAME.pem.
mkca() {
	newkey "$1" && openssl req -x509 -new -key "$pki/$1.key" -out "$pki/$1.pem" \
		-days 2 -subj "/CN=$2" -addext 'basicConstraints=critical,CA:TRUE' \
		-addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
}
# mkcert NAME CA SUBJECT EXTENSIONS: NAME.pem signed by CA.
mkcert() {
	newkey "$1" && openssl req -new -key "$pki/$1.key" -out "$pki/$1.csr" -subj "$3" 2>/dev/null &&
	printf '%s\n' "$4" >"$pki/$1.ext" &&
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.pem" -CAkey "$pki/$2.key" \
		-CAcreateserial -out "$pki/$1.pem" -days 2 -extfile "$pki/$1.ext" 2>/dev/null
}
mkca ca "caom2ingest test CA" &&
mkca rogue "some other CA" &&
mkcert server ca /CN=localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" &&
mkcert elsewhere ca /CN=elsewhere.example "subjectAltName=DNS:elsewhere.example
extendedKeyUsage=serverAuth" &&
mkcert user ca "/O=caom2ingest/CN=test user" "extendedKeyUsage=clientAuth" &&
mkcert intruder rogue "/CN=intruder" "extendedKeyUsage=clientAuth" &&
openssl pkey -in "$pki/user.key" -aes256 -passout pass:pa55phrase -out "$pki/user.enc" 2>/dev/null ||
	bail "openssl could not make the test certificates"
# The proxy files, as cadc-get-cert writes them: certificate, then key.
cat "$pki/user.pem" "$pki/user.key" >"$tmp/proxy.pem"
cat "$pki/intruder.pem" "$pki/intruder.key" >"$tmp/intruder.pem"
cat "$pki/user.pem" "$pki/user.enc" >"$tmp/encrypted.pem"
chmod 600 "$tmp/proxy.pem" "$tmp/intruder.pem" "$tmp/encrypted.pem"
ca=$pki/ca.pem
mkdir "$tmp/cadir" "$tmp/unhashed"
cp "$ca" "$tmp/cadir/ca.pem"
cp "$ca" "$tmp/unhashed/ca.pem"
openssl rehash "$tmp/cadir" 2>/dev/null || c_rehash "$tmp/cadir" >/dev/null 2>&1

# --- servers ----------------------------------------------------------------
# start NAME ARGS...: a TLS repository; its port in $port, log NAME.log.
start() {
	name=$1; shift
	rm -f "$tmp/$name.port"
	"$server" --listen 127.0.0.1:0 --data "$tmp/$name.data" --xsd-dir "$xsd" --no-fsync \
		--port-file "$tmp/$name.port" "$@" >"$tmp/$name.url" 2>"$tmp/$name.log" &
	eval "${name}_pid=\$!"
	wait_for 20 test -s "$tmp/$name.port" || bail "repo-server $name did not start"
	port=$(cat "$tmp/$name.port")
}
stop_servers() {
	for p in ${tls_pid:-} ${mtls_pid:-} ${wrong_pid:-}; do
		kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
	done
}
at_exit stop_servers
hcurl() { curl -s --cacert "$ca" "$@"; }
stat() { n=$(hcurl "$1/_test/stats" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"); echo "${n:-0}"; }
writes() { echo $(( $(stat "$1" PUT) + $(stat "$1" POST) )); }

cat >"$tmp/bp" <<'BP'
Observation.target.name = ['OBJECT']
Plane.dataProductType = image
Plane.calibrationLevel = 1
BP
mkfits "$tmp/a.fits" "OBJECT  = 'M42     '"
# push URL ID ARGS...: map a.fits as TEST/ID and push it; stderr in $tmp/err.
push() {
	url=$1; id=$2; shift 2
	"$client" map --observation TEST "$id" --blueprint "$tmp/bp" \
		--lineage p1/cadc:TEST/a.fits --local "$tmp/a.fits" --push "$url" "$@" 2>"$tmp/err"
	rc=$?
	cat "$tmp/err" >>"$tmp/client.err"
	return "$rc"
}

# --- the server's TLS mode ---------------------------------------------------
"$server" --listen 127.0.0.1:0 --data "$tmp/x" --xsd-dir "$xsd" --tls-cert "$pki/server.pem" \
	>/dev/null 2>"$tmp/out"
is 2 "$?" "repo-server: --tls-cert without --tls-key is a usage error"
like "$(cat "$tmp/out")" '--tls-cert and --tls-key go together' "and says so"
"$server" --listen 127.0.0.1:0 --data "$tmp/x" --xsd-dir "$xsd" --tls-cert "$pki/server.pem" \
	--tls-key "$pki/nonesuch.key" >/dev/null 2>"$tmp/out"
is 1 "$?" "an unreadable key exits 1"
like "$(cat "$tmp/out")" "nonesuch.key: No such file" "naming the file"

start tls --tls-cert "$pki/server.pem" --tls-key "$pki/server.key"
tls=https://127.0.0.1:$port
like "$(cat "$tmp/tls.url")" "^https://127\\.0\\.0\\.1:$port/torkeep/observations\$" \
	"in TLS mode it prints an https:// URL"
is 404 "$(hcurl -o /dev/null -w '%{http_code}' "$tls/torkeep/observations/TEST/none")" \
	"and answers over HTTPS with a certificate the test CA signed"
ok_not "plain HTTP is not served on its port" curl -sf "http://127.0.0.1:$port/_test/stats"
ok_not "nor HTTPS to a client that does not trust the CA" curl -sf "$tls/_test/stats"

# --- (a) a push over HTTPS that trusts the test CA ------------------------------
push "$tls/torkeep/observations" o1 --ca-path "$ca"
is 0 "$?" "push over HTTPS with --ca-path naming the CA file: exit 0"
like "$(cat "$tmp/err")" "TEST/o1 stored" "... stored"
is 1 "$(stat "$tls" PUT)" "with one PUT"
ok "the server holds the file" test -s "$tmp/tls.data/TEST/o1.xml"
like "$(hcurl "$tls/torkeep/observations/TEST/o1")" "<caom2:name>M42</caom2:name>" \
	"and serves the mapped observation"

push "$tls/torkeep/observations" o2 --ca-path "$tmp/cadir"
is 0 "$?" "--ca-path naming a rehashed directory (no trailing slash): exit 0"
ok "and it is stored" test -s "$tmp/tls.data/TEST/o2.xml"
push "$tls/torkeep/observations" o3 --ca-path "$tmp/unhashed"
is 1 "$?" "a directory not prepared with openssl rehash does not verify"
like "$(cat "$tmp/err")" "TLS certificate verification failed \\(trusting the CA directory .*/unhashed, which must be prepared with .openssl rehash.\\)" \
	"and the message says how to prepare it"
push "$tls/torkeep/observations" o3 --ca-path "$tmp/nonesuch"
is 1 "$?" "a missing --ca-path: exit 1"
like "$(cat "$tmp/err")" "CA path .*/nonesuch: No such file or directory" "naming it"

# --- (b) verification is on by default ------------------------------------------
before=$(hcurl "$tls/_test/stats")
push "$tls/torkeep/observations" o3
is 1 "$?" "the same push without a CA configured: exit 1"
like "$(cat "$tmp/err")" "not stored \\(transient failure\\): https://127\\.0\\.0\\.1:$port/torkeep/observations/TEST/o3: TLS certificate verification failed \\(trusting the system's CA store; ca_path or --ca-path names others\\): SSL certificate problem" \
	"with a message about certificate verification"
is "$before" "$(hcurl "$tls/_test/stats")" "the server saw no request"
ok_not "and nothing was written" test -e "$tmp/tls.data/TEST/o3.xml"
push "$tls/torkeep/observations" o3 --ca-path "$pki/rogue.pem"
is 1 "$?" "a CA file naming another CA does not verify either"
ok_not "nothing written" test -e "$tmp/tls.data/TEST/o3.xml"

start wrong --tls-cert "$pki/elsewhere.pem" --tls-key "$pki/elsewhere.key"
push "https://127.0.0.1:$port/torkeep/observations" o3 --ca-path "$ca"
is 1 "$?" "a trusted certificate for another host name: exit 1"
like "$(cat "$tmp/err")" "TLS certificate verification failed .*(subject name|does not match|127\\.0\\.0\\.1)" \
	"the host name is verified too"
ok_not "nothing written there" test -e "$tmp/wrong.data/TEST/o3.xml"

# --- (c) a service that requires a client certificate --------------------------
start mtls --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --client-ca "$ca"
mtls=https://127.0.0.1:$port
push "$mtls/torkeep/observations" o1 --ca-path "$ca" --cert "$tmp/proxy.pem"
is 0 "$?" "with --cert proxy.pem the push succeeds"
ok "it is stored" test -s "$tmp/mtls.data/TEST/o1.xml"
# the server logs a request once its response is sent: the client may be first
wait_for 10 grep -q '^PUT /torkeep/observations/TEST/o1 ' "$tmp/mtls.log"
like "$(grep '^PUT /torkeep/observations/TEST/o1 ' "$tmp/mtls.log")" \
	' client="CN=test user,O=caom2ingest"$' "the server verified the client certificate it sent"
push "$mtls/torkeep/observations" o2 --ca-path "$ca"
is 1 "$?" "without --cert it is refused: exit 1"
like "$(cat "$tmp/err")" "not stored \\(authentication failure\\): GET .*/TEST/o2: HTTP 403: client certificate required: anonymous access is not permitted" \
	"with the service's reason"
ok_not "nothing written" test -e "$tmp/mtls.data/TEST/o2.xml"
push "$mtls/torkeep/observations" o2 --ca-path "$ca" --cert "$tmp/intruder.pem"
is 1 "$?" "a certificate from another CA is refused"
like "$(cat "$tmp/err")" "HTTP 403: client certificate not trusted: .*issuer is unknown" \
	"with the service's reason"
push "$mtls/torkeep/observations" o2 --ca-path "$ca" --cert "$tmp/nonesuch.pem"
is 1 "$?" "a missing --cert file: exit 1"
like "$(cat "$tmp/err")" "client certificate .*/nonesuch.pem: No such file or directory" "naming it"
push "http://127.0.0.1:$port/torkeep/observations" o2 --cert "$tmp/proxy.pem"
is 1 "$?" "--cert with an http:// URL is refused (it would go unused)"
like "$(cat "$tmp/err")" "a client certificate or CA path needs an https:// URL" "and says so"
if command -v script >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then
	# On a terminal OpenSSL would ask for the passphrase and block.
	timeout 30 script -qec "\"$client\" map --observation TEST o2 --blueprint \"$tmp/bp\" \
		--lineage p1/cadc:TEST/a.fits --local \"$tmp/a.fits\" --push \"$mtls/torkeep/observations\" \
		--ca-path \"$ca\" --cert \"$tmp/encrypted.pem\"" /dev/null </dev/null >"$tmp/tty" 2>&1
	is 1 "$?" "an encrypted key fails at once, even on a terminal (no prompt)"
	ok_not "nothing asked for a pass phrase" grep -qi 'pass phrase' "$tmp/tty"
	like "$(tr -d '\r' <"$tmp/tty")" "client certificate .*/encrypted.pem unusable \\(a PEM file with its certificate and unencrypted key is expected\\)" \
		"and the message says what is expected"
	cat "$tmp/tty" >>"$tmp/client.err"
else
	skip 3 "script(1) or timeout(1) is not installed"
fi
ok_not "nothing written by the refused pushes" test -e "$tmp/mtls.data/TEST/o2.xml"

# --- (d) the daemon pushes over HTTPS with the client certificate -------------
land=$tmp/landing
mkdir -p "$land"
conf() { # conf NAME CERT-LINE
	cat >"$tmp/$1.yml" <<CONF
log: stderr
log_level: debug
state_dir: $tmp/$1.state
control_socket: $tmp/$1.sock
settle: 200ms
collections:
  - name: OMM
    landing: $land
    rules:
      - match: '^(?<obs>C[0-9]+)\\.fits\$'
        observation: '\${obs}'
        product: '\${obs}'
        uri: 'cadc:OMM/\${file}'
sink:
  repo:
    url: $mtls/torkeep/observations
    ca_path: $tmp/cadir
    timeout: 5s
    retry: {initial: 200ms, max: 1s, attempts: 2}
$2
CONF
}
conf d "    cert: $tmp/proxy.pem"
dlog=$tmp/daemon.log
dpid=
start_daemon() { "$daemon" -f -c "$tmp/$1.yml" 2>>"$dlog" & dpid=$!; wait_for 10 test -S "$tmp/$1.sock"; }
stop_daemon() {
	drc=0
	[ -z "$dpid" ] || { kill -TERM "$dpid" 2>/dev/null; wait "$dpid"; drc=$?; }
	dpid=
	return "$drc"
}
at_exit stop_daemon
start_daemon d
echo one >"$land/.C1"; mv "$land/.C1" "$land/C1.fits"
ok "the daemon stores an observation over HTTPS" wait_for 20 test -s "$tmp/mtls.data/OMM/C1.xml"
# the server writes the observation before its access-log line
wait_for 10 grep -q '^PUT /torkeep/observations/OMM/C1 ' "$tmp/mtls.log"
like "$(grep '^PUT /torkeep/observations/OMM/C1 ' "$tmp/mtls.log")" \
	' 200 .* client="CN=test user,O=caom2ingest"$' "with the client certificate"
stop_daemon
is 0 "$?" "and stops cleanly"

conf n ""
start_daemon n
echo two >"$land/.C2"; mv "$land/.C2" "$land/C2.fits"
ok "without cert: the daemon logs the service's refusal" wait_for 20 \
	grep -q "OMM/C2.*HTTP 403: client certificate required: anonymous access is not permitted" "$dlog"
ok_not "and nothing is stored" test -e "$tmp/mtls.data/OMM/C2.xml"
stop_daemon

conf m "    cert: $tmp/nonesuch.pem"
timeout 30 "$daemon" -f -c "$tmp/m.yml" 2>"$tmp/m.err"
is 3 "$?" "an unreadable cert stops the daemon at start-up (exit 3)" || diag "$(cat "$tmp/m.err")"
like "$(cat "$tmp/m.err")" "start-up failed: client certificate .*/nonesuch.pem: No such file or directory" \
	"naming it"
cat "$tmp/m.err" >>"$dlog"

# --- (e) no key material in any log or message -----------------------------------
# Every base64 line of the proxy file (certificate and key) and of the keys.
grep -hv -- '-----' "$tmp/proxy.pem" "$tmp/encrypted.pem" "$pki/server.key" >"$tmp/secrets"
ok "the proxy file's contents are known" test "$(wc -l <"$tmp/secrets")" -gt 8
ok "the daemon's log holds its messages" grep -q 'OMM/C1' "$dlog"
ok_not "no line of the proxy file or key in the daemon's log" grep -qF -f "$tmp/secrets" "$dlog"
ok_not "nor in the client's messages" grep -qF -f "$tmp/secrets" "$tmp/client.err"
ok_not "no PEM block printed anywhere" grep -q -- '-----BEGIN' "$dlog" "$tmp/client.err"
ok_not "no sanitizer report" grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' \
	"$dlog" "$tmp/client.err" "$tmp/tls.log" "$tmp/mtls.log"
