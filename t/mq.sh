#!/bin/sh
# t/mq.sh - src/sources/mq.c against a private RabbitMQ node (t/rabbitmq.sh), through
# t/mq-consume (prints "VERDICT BODY" per delivery: "bad*" bodies are
# malformed, "busy*" ones unavailable the first time) and t/mq-publish.
. "$srcdir/t/tap.sh"
. "$srcdir/t/rabbitmq.sh"

rabbitmq_init
plan 42

consumer_pids=
stop_consumers() { for p in $consumer_pids; do kill -9 "$p" 2>/dev/null; done; }
at_exit stop_consumers

# consume NAME QUEUE [mq-consume options]: a consumer in the background,
# its deliveries in $tmp/NAME.out and its log in $tmp/NAME.err; sets $pid_NAME.
consume() {
	name=$1 q=$2; shift 2
	"$top_builddir/t/mq-consume" -m 200 -M 1000 "$@" "$mq_url" "$q" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	eval "pid_$name=\$!"
	consumer_pids="$consumer_pids $!"
}

# finish NAME: SIGTERM, then the consumer's exit status (ASan leaks make it non-zero).
finish() {
	eval "p=\$pid_$1"
	kill "$p" && wait "$p"
}

lines() { cat "$tmp/$1.out" 2>/dev/null | wc -l; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
log_count() { grep -c -- "$2" "$tmp/$1.err"; }
logged() { grep -q -- "$2" "$tmp/$1.err"; }
counts_are() { [ "$(mq_counts "$1")" = "$2" ]; }

# --- configuration errors need no broker -------------------------------------
out=$("$top_builddir/t/mq-consume" amqp://guest:hunter2@127.0.0.1:1 q 2>&1)
is "mq-consume: mq: the URL must not hold a password (use password_file)" "$out" \
	"a password in the URL is refused, and not repeated"
out=$("$top_builddir/t/mq-consume" -k "$tmp/nonexistent" "$mq_url" q 2>&1)
is "mq-consume: password file $tmp/nonexistent: No such file or directory" "$out" \
	"an unreadable password file is a configuration error"
printf 's3cr3t-pw\n' >"$tmp/pw644"
chmod 644 "$tmp/pw644"
out=$("$top_builddir/t/mq-consume" -k "$tmp/pw644" "$mq_url" q 2>&1)
is "mq-consume: password file $tmp/pw644: mode 0644 gives access to its group or others (use 0600 or 0400)" \
	"$out" "a password file others may read is refused, the password not shown"
out=$("$top_builddir/t/mq-consume" http://127.0.0.1/ q 2>&1)
is "mq-consume: mq: the URL is not amqp[s]://[user@]host[:port][/vhost]" "$out" \
	"a URL that is not amqp:// is a configuration error"

# --- the broker is down at start: back off, then connect -----------------------
consume boot boot -v
wait_for 10 logged boot 'attempt 4 failed'
ok "broker down at start: the consumer keeps trying" logged boot 'attempt 4 failed'
is 1 "$(log_count boot 'cannot consume boot from')" "the failure is logged once (at warning)"
like "$(grep 'cannot consume' "$tmp/boot.err")" 'connect to 127.0.0.1 port [0-9]+: a socket error occurred' "with its reason"
# Delays double from 0.2 s and stop at 1 s (jitter: half to all of the step).
max_delay=$(sed -n 's/.*; next in \([0-9.]*\) s.*/\1/p' "$tmp/boot.err" | sort -n | tail -1)
ok "the delay grows from the minimum towards the maximum ($max_delay s)" \
	awk -v d="$max_delay" 'BEGIN { exit !(d >= 0.39 && d <= 1.0) }'
rabbitmq_start
diag "broker start-up: $rabbit_started_in s"
ok "the consumer connects when the broker comes up" wait_for 20 logged boot 'connected to .* after'
is 0 "$(log_count boot 'reconnected')" "a first connection is not a reconnection"
mq_publish boot -n 3 -p b >/dev/null
wait_for 10 has_lines boot 3
is "recorded b-1 recorded b-2 recorded b-3" "$(cat "$tmp/boot.out" | tr '\n' ' ' | sed 's/ $//')" \
	"and consumes what is published then"
ok "SIGTERM: a clean exit (no leak)" finish boot

# --- order, acks --------------------------------------------------------------
consume order order
wait_for 10 logged order 'consuming order'
mq_publish order -n 500 -p o >/dev/null
wait_for 30 has_lines order 500
is "$(seq 1 500 | sed 's/^/recorded o-/')" "$(cat "$tmp/order.out")" \
	"500 messages delivered once each, in order"
ok "the queue empties, nothing left unacknowledged" wait_secs 10 counts_are order "0 0"

# --- malformed and unavailable verdicts --------------------------------------
consume verdict verdict
wait_for 10 logged verdict 'consuming verdict'
printf 'bad-1\nbusy-1\nok-1\n' | mq_publish verdict >/dev/null
wait_for 10 grep -q 'recorded busy-1' "$tmp/verdict.out"
sleep 0.5
is 1 "$(grep -c 'malformed bad-1' "$tmp/verdict.out")" "MQ_MALFORMED: delivered once, not requeued"
ok "MQ_MALFORMED: logged with its reason" \
	logged verdict 'warning: mq: rejected a malformed message from verdict: the body starts with "bad"'
is 1 "$(grep -c 'unavailable busy-1' "$tmp/verdict.out")" "MQ_UNAVAILABLE: refused once"
is 1 "$(grep -c 'recorded busy-1' "$tmp/verdict.out")" "MQ_UNAVAILABLE: requeued and delivered again"
ok "MQ_UNAVAILABLE: the pause is logged with the reason" \
	logged verdict 'cannot be recorded now (the test store is busy); requeued, pausing'
ok "the others are recorded" grep -q 'recorded ok-1' "$tmp/verdict.out"
ok "MQ_MALFORMED/MQ_UNAVAILABLE: the queue empties" wait_secs 10 counts_are verdict "0 0"
ok "SIGTERM: a clean exit" finish verdict

# --- prefetch, then kill -9 with deliveries unacknowledged ---------------------
mq_publish slow -n 40 -p s >/dev/null
consume slow slow -P 5 -d 200
wait_for 10 has_lines slow 2
set -- $(mq_counts slow)
diag "slow consumer, prefetch 5: ready $1, unacknowledged $2"
ok "prefetch 5: at most 5 unacknowledged (and some)" test "$2" -ge 1 -a "$2" -le 5
# what is neither delivered (a line, written before its ack) nor held stays ready:
# independent of how fast the slow consumer went meanwhile
seen=$(lines slow)
diag "delivered by then: $seen"
ok "prefetch 5: the rest stays ready in the queue" test $(($1 + $2 + seen)) -ge 40 -a "$1" -gt 0
kill -9 "$pid_slow"; wait "$pid_slow" 2>/dev/null
seen=$(lines slow)
diag "killed after $seen deliveries"
consume slow2 slow
ok "kill -9: the next consumer gets everything left" wait_secs 20 counts_are slow "0 0"
sleep 0.2
is 40 "$(cat "$tmp/slow.out" "$tmp/slow2.out" | sort -u | wc -l)" "kill -9: nothing lost (40 of 40)"
ok "kill -9: what was delivered but unacknowledged came again" \
	test "$(lines slow2)" -ge "$((40 - seen))"
ok "SIGTERM: a clean exit" finish slow2

# --- two consumers on one queue -------------------------------------------------
consume pa pair -P 10
consume pb pair -P 10
wait_for 10 logged pa 'consuming pair'
wait_for 10 logged pb 'consuming pair'
mq_publish pair -n 2000 -p p >/dev/null
both() { [ "$(($(lines pa) + $(lines pb)))" -ge 2000 ]; }
wait_for 30 both
ok "two consumers: the queue empties" wait_secs 10 counts_are pair "0 0"
sleep 0.2
is 2000 "$(cat "$tmp/pa.out" "$tmp/pb.out" | wc -l)" "two consumers: 2000 deliveries in all"
is 2000 "$(cat "$tmp/pa.out" "$tmp/pb.out" | sort -u | wc -l)" "two consumers: each message once"
diag "split: $(lines pa) + $(lines pb)"
ok "two consumers: both took a share" test "$(lines pa)" -gt 0 -a "$(lines pb)" -gt 0
finish pa
finish pb

# --- a wrong password --------------------------------------------------------
printf 's3cr3t-Wr0ng-pw\n' >"$tmp/badpw"
chmod 600 "$tmp/badpw"
consume badpw order -v -k "$tmp/badpw"
ok "a wrong password: the refusal is logged" wait_for 10 logged badpw 'ACCESS_REFUSED'
wait_for 10 logged badpw 'attempt 2 failed'
ok "a wrong password: it keeps trying" logged badpw 'attempt 2 failed'
finish badpw
is 0 "$(cat "$tmp/badpw.out" "$tmp/badpw.err" | grep -c 's3cr3t')" \
	"a wrong password: the password appears in no output"

# --- the broker restarts under a consumer ---------------------------------------
consume live live
wait_for 10 logged live 'consuming live'
mq_publish live -n 5 -p before >/dev/null
wait_for 10 has_lines live 5
mq_publish keep -n 7 -p k >/dev/null
rabbitmq_restart
diag "broker restart: $rabbit_started_in s to start again"
ok "broker restart: persistent messages in a durable queue survive" counts_are keep "7 0"
ok "broker restart: the consumer reconnects by itself" wait_for 20 logged live 'reconnected to'
is 1 "$(log_count live 'connection to .* lost')" "broker restart: the loss is logged once"
like "$(grep 'lost' "$tmp/live.err")" 'CONNECTION_FORCED|closed' "broker restart: with its reason"
is 1 "$(log_count live 'reconnected to')" "broker restart: the recovery is logged once"
mq_publish live -n 5 -p after >/dev/null
wait_for 10 has_lines live 10
is "before-1 before-2 before-3 before-4 before-5 after-1 after-2 after-3 after-4 after-5" \
	"$(sed 's/^recorded //' "$tmp/live.out" | tr '\n' ' ' | sed 's/ $//')" \
	"broker restart: messages published after it are consumed"
ok "SIGTERM: a clean exit" finish live
