#!/bin/sh
# bench/bench_mq.sh BUILDDIR SRCDIR [N] - start a private RabbitMQ node
# (t/rabbitmq.sh) and run bench/bench_mq: N ~1 KB messages preloaded, then
# consumed and acked, each INSERTed and committed into a WAL database in
# $BENCH_DB_DIR (default: the build directory, i.e. a real disk), at
# prefetch 100 and 1000; then the same without the store, and with
# synchronous = FULL, for comparison.
top_builddir=$1 srcdir=$2 n=${3:-20000}
. "$srcdir/t/tap.sh"
. "$srcdir/t/rabbitmq.sh"
rabbitmq_init
rabbitmq_start
echo "private RabbitMQ node up in $rabbit_started_in s"
db=${BENCH_DB_DIR:-$top_builddir}
b="$top_builddir/bench/bench_mq -n $n -s 1024 -d $db"
for p in 100 1000; do
	$b -P "$p" "$mq_url" bench || exit 1
done
for p in 100 1000; do
	$b -P "$p" -S "$mq_url" bench || exit 1
done
$b -P 1000 -F "$mq_url" bench || exit 1
rm -f "$db/bench.db" "$db/bench.db-wal" "$db/bench.db-shm"
