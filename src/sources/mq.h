/*
 * mq.h - an AMQP 0-9-1 consumer (RabbitMQ, librabbitmq-c) on the daemon's
 * libev loop: the connection's socket is an ev_io, frames already buffered
 * by librabbitmq are drained before waiting again, so the deliver callback
 * runs on the loop thread and may use the state store.
 *
 * The queue is declared durable (passive: false) and consumed with manual
 * acknowledgements and a prefetch limit (basic.qos). A message is acked only
 * after the callback says it is recorded; a malformed one is rejected
 * without requeue (dead-lettered if the broker has a policy) and logged; one
 * that cannot be recorded now is nacked with requeue. A lost connection (or
 * one that cannot be made) is retried with exponential backoff and jitter
 * between the configured bounds; each loss and each recovery is logged once.
 * Connecting (librabbitmq's blocking steps) runs on a thread of its own and
 * hands the connection back to the loop, so a slow or silent broker never
 * holds the loop; mq_free does not wait for an attempt in progress. The
 * password comes from a file (a secret file: lib/fileio.h, mode 0600 or
 * 0400, one line) and never reaches a log.
 */
#ifndef CAOM2INGEST_MQ_H
#define CAOM2INGEST_MQ_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct mq;

struct mq_config {
	const char	*url;		/* amqp[s]://[user@]host[:port][/vhost] (no password) */
	const char	*password_file;	/* secret file (lib/fileio.h); NULL: "guest" */
	const char	*ca_path;	/* amqps: CA file or directory; NULL: the system's */
	const char	*queue;		/* durable queue to consume */
	unsigned	 prefetch;	/* unacknowledged messages at once (0: 100) */
	uint64_t	 reconnect_min_ms;	/* 0: 500 */
	uint64_t	 reconnect_max_ms;	/* 0: 30000 */
};

enum mq_verdict {
	MQ_RECORDED,		/* durable: ack */
	MQ_MALFORMED,		/* reject, no requeue */
	MQ_UNAVAILABLE		/* cannot record now: nack with requeue */
};

/* Called once per delivery with its body; *why (allocated) explains a refusal. */
typedef enum mq_verdict mq_deliver_fn(void *arg, const void *body, size_t len, char **why);

/* Start consuming (connects at once and keeps reconnecting); NULL with *cause only for a
 * bad configuration (unparsable URL, a password file refused: "password file PATH: ..."). */
struct mq *mq_new(struct ev_loop *loop, const struct mq_config *cfg, mq_deliver_fn *fn,
    void *arg, char **cause);
/* Close the connection (unacked messages go back to the queue) and free; NULL is accepted. */
void mq_free(struct mq *m);

#endif
