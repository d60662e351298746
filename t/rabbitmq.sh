# t/rabbitmq.sh - a private RabbitMQ node for tests (sourced after t/tap.sh).
#
# The node lives in $tmp/rabbit: its own name (caomtest$$@localhost), its own
# loopback ports (AMQP, Erlang distribution, epmd), its own Erlang cookie
# (HOME is $tmp/rabbit), no plugins, its data and logs there too. The
# system's rabbitmq-server service is neither needed nor touched.
#
# rabbitmq_init            skip_all unless rabbitmq-server is installed; pick
#                          ports and write the node's files; sets $mq_url
#                          (amqp://guest@127.0.0.1:PORT) and $mq_node
# rabbitmq_tls CERT KEY   (after rabbitmq_init) also listen for amqps on
#                          127.0.0.1 with this certificate; sets $mqs_port
#                          and $mqs_url (amqps://guest@localhost:PORT)
# rabbitmq_tls_pki         (after rabbitmq_init) a throwaway CA in
#                          $rdir/pki ($mqs_ca: its certificate; $mqs_ca_dir:
#                          a hashed directory holding it), a certificate for
#                          DNS:localhost signed by it, and rabbitmq_tls with
#                          that; bails without openssl
# rabbitmq_start           start the node and wait until it accepts AMQP
#                          (stopped at exit); $rabbit_started_in: seconds
# rabbitmq_stop            stop the node (gracefully: persistent messages
#                          are on disk)
# rabbitmq_restart         stop, then start over the same data
# rabbitmq_ctl ARGS...     rabbitmqctl against the node
# mq_publish QUEUE [mq-publish options]   publish (stdin lines, or -n N ...)
# mq_counts QUEUE          "READY UNACKED" for QUEUE ("0 0" when absent)
# wait_secs SECONDS COMMAND...  like wait_for, for commands that take a
#                          while themselves (rabbitmqctl): a deadline, not
#                          a number of tries

rabbit_bin=
rabbit_pid=
epmd_pid=

rabbitmq_find() {
	for d in /usr/lib/rabbitmq/bin /usr/lib/rabbitmq/sbin /usr/local/lib/rabbitmq/bin; do
		if [ -x "$d/rabbitmq-server" ] && [ -x "$d/rabbitmqctl" ]; then
			rabbit_bin=$d
			return 0
		fi
	done
	return 1
}

# free_port: a loopback TCP port nobody listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rabbitmq_init() {
	rabbitmq_find || skip_all "rabbitmq-server is not installed (packaging/install-deps installs it)"
	command -v epmd >/dev/null 2>&1 || skip_all "epmd (erlang-base) is not installed"
	rdir=$tmp/rabbit
	mkdir -p "$rdir/mnesia" "$rdir/log"
	mq_port=$(free_port)
	dist_port=$(free_port)
	epmd_port=$(free_port)
	mq_node=caomtest$$@localhost
	mq_url=amqp://guest@127.0.0.1:$mq_port
	: >"$rdir/enabled_plugins"
	: >"$rdir/rabbitmq-env.conf"
	cat >"$rdir/rabbitmq.conf" <<-EOF
	listeners.tcp.1 = 127.0.0.1:$mq_port
	log.console = false
	log.file.level = info
	EOF
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$rdir/.erlang.cookie"
	chmod 400 "$rdir/.erlang.cookie"
	cat >"$rdir/env" <<-EOF
	HOME='$rdir'; export HOME
	RABBITMQ_NODENAME='$mq_node'; export RABBITMQ_NODENAME
	RABBITMQ_NODE_IP_ADDRESS=127.0.0.1; export RABBITMQ_NODE_IP_ADDRESS
	RABBITMQ_NODE_PORT=$mq_port; export RABBITMQ_NODE_PORT
	RABBITMQ_DIST_PORT=$dist_port; export RABBITMQ_DIST_PORT
	ERL_EPMD_PORT=$epmd_port; export ERL_EPMD_PORT
	ERL_EPMD_ADDRESS=127.0.0.1; export ERL_EPMD_ADDRESS
	RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
	export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS
	RABBITMQ_MNESIA_BASE='$rdir/mnesia'; export RABBITMQ_MNESIA_BASE
	RABBITMQ_LOG_BASE='$rdir/log'; export RABBITMQ_LOG_BASE
	RABBITMQ_CONFIG_FILE='$rdir/rabbitmq.conf'; export RABBITMQ_CONFIG_FILE
	RABBITMQ_ENABLED_PLUGINS_FILE='$rdir/enabled_plugins'; export RABBITMQ_ENABLED_PLUGINS_FILE
	RABBITMQ_CONF_ENV_FILE='$rdir/rabbitmq-env.conf'; export RABBITMQ_CONF_ENV_FILE
	RABBITMQ_PID_FILE='$rdir/pid'; export RABBITMQ_PID_FILE
	EOF
	rabbit_log=$rdir/log/$mq_node.log
	at_exit rabbitmq_cleanup
}

rabbitmq_tls() {
	mqs_port=$(free_port)
	mqs_url=amqps://guest@localhost:$mqs_port
	cat >>"$rdir/rabbitmq.conf" <<-EOF
	listeners.ssl.1 = 127.0.0.1:$mqs_port
	ssl_options.certfile = $1
	ssl_options.keyfile = $2
	ssl_options.verify = verify_none
	ssl_options.fail_if_no_peer_cert = false
	EOF
}

rabbitmq_tls_pki() {
	pki=$rdir/pki
	mqs_ca=$pki/ca.pem
	mqs_ca_dir=$pki/dir
	mkdir -p "$mqs_ca_dir"
	command -v openssl >/dev/null 2>&1 || bail "openssl is not installed"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null &&
	openssl req -x509 -new -key "$pki/ca.key" -out "$mqs_ca" -days 2 \
		-subj "/CN=caom2ingest test CA" -addext 'basicConstraints=critical,CA:TRUE' \
		-addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/broker.key" 2>/dev/null &&
	openssl req -new -key "$pki/broker.key" -out "$pki/broker.csr" -subj /CN=localhost 2>/dev/null &&
	printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$pki/broker.ext" &&
	openssl x509 -req -in "$pki/broker.csr" -CA "$mqs_ca" -CAkey "$pki/ca.key" \
		-CAcreateserial -out "$pki/broker.pem" -days 2 -extfile "$pki/broker.ext" 2>/dev/null &&
	cp "$mqs_ca" "$mqs_ca_dir/" && openssl rehash "$mqs_ca_dir" 2>/dev/null ||
		bail "cannot make the test PKI"
	chmod 644 "$pki/broker.key"	# read by the broker's own process
	rabbitmq_tls "$pki/broker.pem" "$pki/broker.key"
}

rabbitmq_ctl() {
	(. "$rdir/env" && exec "$rabbit_bin/rabbitmqctl" -n "$mq_node" "$@")
}

# rabbitmq_boots: how many times the node has finished starting.
rabbitmq_boots() { cat "$rabbit_log" 2>/dev/null | grep -c 'Server startup complete'; }
rabbitmq_started() { [ "$(rabbitmq_boots)" -gt "$1" ]; }

rabbitmq_start() {
	if [ -z "$epmd_pid" ]; then
		# Our own epmd, so that nothing outlives the test.
		(. "$rdir/env" && exec epmd -port "$epmd_port" -address 127.0.0.1) \
			>"$rdir/epmd.out" 2>&1 & epmd_pid=$!
	fi
	before=$(rabbitmq_boots)
	t0=$(date +%s.%N)
	(. "$rdir/env" && cd "$rdir" && exec "$rabbit_bin/rabbitmq-server") >>"$rdir/server.out" 2>&1 &
	rabbit_pid=$!
	if ! wait_for 90 rabbitmq_started "$before" ||
	    ! rabbitmq_ctl -q await_startup --timeout 30 >/dev/null 2>&1; then
		tail -20 "$rdir/server.out" "$rabbit_log" 2>/dev/null | sed 's/^/# /'
		bail "the private RabbitMQ node did not start"
	fi
	rabbit_started_in=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

rabbitmq_stop() {
	[ -n "$rabbit_pid" ] || return 0
	# With the pid file, stop returns once the node's process has exited.
	if ! rabbitmq_ctl -q stop "$rdir/pid" >/dev/null 2>&1; then
		[ -s "$rdir/pid" ] && kill -9 "$(cat "$rdir/pid")" 2>/dev/null
	fi
	wait "$rabbit_pid" 2>/dev/null
	rabbit_pid=
}

rabbitmq_restart() {
	rabbitmq_stop
	rabbitmq_start
}

rabbitmq_cleanup() {
	rabbitmq_stop
	if [ -n "$epmd_pid" ]; then
		kill "$epmd_pid" 2>/dev/null
		wait "$epmd_pid" 2>/dev/null
	fi
}

mq_publish() {
	q=$1; shift
	"$top_builddir/t/mq-publish" "$@" "$mq_url" "$q"
}

mq_counts() {
	rabbitmq_ctl -q list_queues --no-table-headers name messages_ready messages_unacknowledged |
		awk -v q="$1" '$1 == q { print $2, $3; f = 1 } END { if (!f) print "0 0" }'
}

wait_secs() {
	deadline=$(($(date +%s) + $1)); shift
	while :; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}
