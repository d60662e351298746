/*
 * bench/bench_mq.c - messages/s consumed through src/mq.c and acked, each
 * recorded by an SQLite INSERT committed on its own in a WAL database.
 *
 * usage: bench_mq [-n 20000] [-s 1024] [-P 100] [-d DIR] [-F] [-S] URL QUEUE
 * Purges QUEUE, publishes N persistent messages of SIZE bytes (not timed),
 * then consumes them with prefetch P: the callback INSERTs the body into
 * DIR/bench.db (journal_mode WAL, synchronous NORMAL as in src/state.c;
 * -F: synchronous FULL, an fsync per commit; -S: no SQLite at all) and says
 * MQ_RECORDED, so mq.c acks it. Timed from mq_new to the Nth ack; the queue
 * must then be empty (nothing requeued when the channel closes).
 */
#include "config.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <ev.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "sources/mq.h"
#include "lib/xmalloc.h"

struct bench {
	struct ev_loop	*loop;
	sqlite3		*db;
	sqlite3_stmt	*insert;
	long		 left;
	long		 failed;
	double		 first;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
check(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "bench_mq: %s failed\n", what);
		exit(1);
	}
}

static amqp_connection_state_t
broker(const char *url, const char *queue)
{
	struct amqp_connection_info ci;
	amqp_connection_state_t c;
	char *u = xstrdup(url);

	amqp_default_connection_info(&ci);
	if (amqp_parse_url(u, &ci) != AMQP_STATUS_OK) {
		fprintf(stderr, "bench_mq: bad URL\n");
		exit(2);
	}
	c = amqp_new_connection();
	if (amqp_socket_open(amqp_tcp_socket_new(c), ci.host, ci.port) != AMQP_STATUS_OK) {
		fprintf(stderr, "bench_mq: cannot connect\n");
		exit(1);
	}
	check(amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user,
	    ci.password), "login");
	free(u);
	amqp_channel_open(c, 1);
	check(amqp_get_rpc_reply(c), "channel.open");
	amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, amqp_empty_table);
	check(amqp_get_rpc_reply(c), "queue.declare");
	return c;
}

static unsigned
queue_count(amqp_connection_state_t c, const char *queue)
{
	amqp_queue_declare_ok_t *ok;

	ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
	check(amqp_get_rpc_reply(c), "queue.declare passive");
	return ok->message_count;
}

static void
preload(amqp_connection_state_t c, const char *queue, long n, size_t size)
{
	amqp_basic_properties_t p;
	amqp_bytes_t b;
	long i;
	int len;

	amqp_queue_purge(c, 1, amqp_cstring_bytes(queue));
	check(amqp_get_rpc_reply(c), "queue.purge");
	memset(&p, 0, sizeof p);
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 2;
	b.bytes = xmalloc(size + 32);
	for (i = 0; i < n; i++) {
		len = snprintf(b.bytes, 32, "{\"event\":%ld,\"pad\":\"", i);
		memset((char *)b.bytes + len, 'x', size > (size_t)len + 2 ? size - len - 2 : 0);
		b.len = size > (size_t)len + 2 ? size : (size_t)len + 2;
		memcpy((char *)b.bytes + b.len - 2, "\"}", 2);
		if (amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0,
		    &p, b) != AMQP_STATUS_OK) {
			fprintf(stderr, "bench_mq: publish failed\n");
			exit(1);
		}
	}
	free(b.bytes);
}

static void
db_open(struct bench *b, const char *dir, int full)
{
	char *path, *err = NULL;

	path = xasprintf("%s/bench.db", dir);
	unlink(path);
	if (sqlite3_open(path, &b->db) != SQLITE_OK ||
	    sqlite3_exec(b->db, full ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;" :
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(b->db, "CREATE TABLE event (id INTEGER PRIMARY KEY, received REAL,"
	    " body BLOB NOT NULL)", NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO event (received, body) VALUES (?, ?)", -1,
	    &b->insert, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_mq: %s: %s\n", path, err != NULL ? err :
		    sqlite3_errmsg(b->db));
		exit(1);
	}
	free(path);
}

static enum mq_verdict
on_deliver(void *arg, const void *body, size_t len, char **why)
{
	struct bench *b = arg;

	if (b->first == 0)
		b->first = now();
	if (b->db != NULL) {
		sqlite3_bind_double(b->insert, 1, now());
		sqlite3_bind_blob(b->insert, 2, body, (int)len, SQLITE_STATIC);
		if (sqlite3_step(b->insert) != SQLITE_DONE) {
			b->failed++;
			sqlite3_reset(b->insert);
			return MQ_UNAVAILABLE;
		}
		sqlite3_reset(b->insert);
	}
	if (--b->left == 0)
		ev_break(b->loop, EVBREAK_ALL);
	return MQ_RECORDED;
}

int
main(int argc, char **argv)
{
	const char *dir = ".";
	struct mq_config cfg;
	struct bench b;
	amqp_connection_state_t c;
	struct mq *m;
	long n = 20000;
	size_t size = 1024;
	int ch, i, full = 0, nodb = 0;
	char *cause = NULL;
	double t0, t1;
	unsigned left;

	memset(&cfg, 0, sizeof cfg);
	cfg.prefetch = 100;
	while ((ch = getopt(argc, argv, "d:Fn:P:s:S")) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'F': full = 1; break;
		case 'n': n = atol(optarg); break;
		case 'P': cfg.prefetch = (unsigned)atoi(optarg); break;
		case 's': size = (size_t)atol(optarg); break;
		case 'S': nodb = 1; break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || n <= 0)
		goto usage;
	cfg.url = argv[optind];
	cfg.queue = argv[optind + 1];
	log_init("bench_mq", LOG_WARNING, LOG_TARGET_STDERR);
	c = broker(cfg.url, cfg.queue);
	preload(c, cfg.queue, n, size);
	/* The count can lag the publishes a little: wait until the queue holds them all. */
	for (i = 0; (left = queue_count(c, cfg.queue)) != (unsigned)n && i < 300; i++)
		usleep(100000);
	if (left != (unsigned)n) {
		fprintf(stderr, "bench_mq: the queue holds %u messages, not %ld\n", left, n);
		return 1;
	}
	memset(&b, 0, sizeof b);
	b.left = n;
	if (!nodb)
		db_open(&b, dir, full);
	b.loop = ev_default_loop(0);
	t0 = now();
	if ((m = mq_new(b.loop, &cfg, on_deliver, &b, &cause)) == NULL) {
		fprintf(stderr, "bench_mq: %s\n", cause);
		return 1;
	}
	ev_run(b.loop, 0);
	t1 = now();
	mq_free(m);
	left = queue_count(c, cfg.queue);
	printf("prefetch %4u, %ld x %zu B, %-22s %8.0f messages/s (%.2f s; first delivery"
	    " after %.0f ms; %ld store failures; %u left in the queue)\n", cfg.prefetch, n, size,
	    nodb ? "no store:" : full ? "SQLite WAL, sync FULL:" : "SQLite WAL, sync NORMAL:",
	    n / (t1 - t0), t1 - t0, (b.first - t0) * 1000., b.failed, left);
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	if (b.db != NULL) {
		sqlite3_finalize(b.insert);
		sqlite3_close(b.db);
	}
	ev_loop_destroy(b.loop);
	return left == 0 && b.failed == 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: bench_mq [-n N] [-s SIZE] [-P PREFETCH] [-d DIR] [-F] [-S]"
	    " URL QUEUE\n");
	return 2;
}
