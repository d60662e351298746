#!/bin/sh
# t/mq-tls.sh - src/sources/mq.c over amqps:// against a private RabbitMQ node with a
# TLS listener and a throwaway CA (t/rabbitmq.sh: rabbitmq_tls_pki): the
# broker's certificate is verified against ca_path (a file or a rehashed
# directory), against the system's CAs when none is given (refused: the CA
# is ours), and against the host name of the URL.
. "$srcdir/t/tap.sh"
. "$srcdir/t/rabbitmq.sh"

command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"
rabbitmq_init
plan 10

rabbitmq_tls_pki
rabbitmq_start

pids=
stop_consumers() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; }
at_exit stop_consumers
# consume NAME URL QUEUE [mq-consume options]: in the background; $tmp/NAME.out/.err
consume() {
	name=$1 url=$2 q=$3; shift 3
	"$top_builddir/t/mq-consume" -m 200 -M 1000 "$@" "$url" "$q" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	eval "pid_$name=\$!"
	pids="$pids $!"
}
finish() { eval "p=\$pid_$1"; kill "$p" && wait "$p"; }
got() { grep -q "^recorded $2\$" "$tmp/$1.out" 2>/dev/null; }

# A CA file: connected over TLS, messages delivered.
consume file "$mqs_url" tlsq -c "$mqs_ca"
ok "amqps with the broker's CA as a file: consuming" \
	wait_for 30 grep -q 'consuming tlsq' "$tmp/file.err"
like "$(grep 'consuming tlsq' "$tmp/file.err")" "amqps://guest@localhost:$mqs_port" \
	"the log names the amqps URL"
printf 'over-tls\n' | mq_publish tlsq >/dev/null
ok "a message published to the queue is delivered over TLS" wait_for 20 got file over-tls
# many at once: deliveries span TLS records and sit in OpenSSL's and
# librabbitmq's buffers, not only in the socket's
mq_publish tlsq -n 2000 -p bulk -s 1000 >/dev/null
all_bulk() { [ "$(grep -c '^recorded bulk-' "$tmp/file.out")" -eq 2000 ]; }
ok "2000 messages of 1 KB published at once are all delivered over TLS" wait_for 60 all_bulk
finish file
is 0 "$?" "the consumer closes cleanly"

# A CA directory (hashed, as for OpenSSL's CApath).
consume dir "$mqs_url" tlsq -c "$mqs_ca_dir"
ok "amqps with a CA directory: consuming" wait_for 30 grep -q 'consuming tlsq' "$tmp/dir.err"
finish dir

# No ca_path: the system's CAs, which do not know ours.
consume sys "$mqs_url" tlsq
ok "without ca_path the broker's certificate (from an unknown CA) is refused" \
	wait_for 30 grep -qi 'verif' "$tmp/sys.err"
diag "$(grep -i -m1 'verif' "$tmp/sys.err")"
ok_not "and nothing is consumed" grep -q 'consuming tlsq' "$tmp/sys.err"
finish sys

# The URL's host is not the certificate's.
consume host "amqps://guest@127.0.0.1:$mqs_port" tlsq -c "$mqs_ca"
ok "a certificate for another host name is refused" \
	wait_for 30 grep -qi 'verif' "$tmp/host.err"
diag "$(grep -i -m1 'verif' "$tmp/host.err")"
ok_not "and nothing is consumed" grep -q 'consuming tlsq' "$tmp/host.err"
finish host
