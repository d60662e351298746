/*
 * t/mq-publish.c - publish persistent messages to a durable queue (tests and
 * benchmarks; rabbitmqadmin needs the management plugin).
 *
 * usage: mq-publish [-k PASSWORD_FILE] [-n COUNT [-p PREFIX] [-s SIZE]] URL QUEUE
 * With -n, publishes COUNT bodies "PREFIX-1" .. "PREFIX-COUNT", each padded
 * with '.' to SIZE bytes when SIZE is longer; otherwise one message per
 * line of stdin (without its newline). The queue is declared durable first;
 * the program returns once the broker has processed every publish (a
 * synchronous queue.declare after them on the same channel), printing the
 * queue's ready message count.
 */
#include "config.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
die(const char *what, amqp_rpc_reply_t r)
{
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		fprintf(stderr, "mq-publish: %s: %s\n", what, amqp_error_string2(r.library_error));
	else
		fprintf(stderr, "mq-publish: %s: broker error %s\n", what,
		    amqp_method_name(r.reply.id));
	exit(1);
}

static char *
password(const char *path)
{
	char *line = NULL;
	size_t size = 0;
	ssize_t n;
	FILE *f;

	if (path == NULL)
		return strdup("guest");
	if ((f = fopen(path, "r")) == NULL || (n = getline(&line, &size, f)) < 0) {
		perror(path);
		exit(1);
	}
	fclose(f);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	return line;
}

static amqp_connection_state_t
connect_to(const char *url, const char *pwfile, const char *queue)
{
	struct amqp_connection_info ci;
	amqp_connection_state_t c;
	amqp_socket_t *s;
	char *u = strdup(url), *pw;
	int st;

	amqp_default_connection_info(&ci);
	if (u == NULL || amqp_parse_url(u, &ci) != AMQP_STATUS_OK) {
		fprintf(stderr, "mq-publish: bad URL\n");
		exit(2);
	}
	c = amqp_new_connection();
	s = amqp_tcp_socket_new(c);
	if ((st = amqp_socket_open(s, ci.host, ci.port)) != AMQP_STATUS_OK) {
		fprintf(stderr, "mq-publish: connect: %s\n", amqp_error_string2(st));
		exit(1);
	}
	pw = password(pwfile);
	die("login", amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, pw));
	free(pw);
	free(u);
	amqp_channel_open(c, 1);
	die("channel.open", amqp_get_rpc_reply(c));
	amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, amqp_empty_table);
	die("queue.declare", amqp_get_rpc_reply(c));
	return c;
}

static void
publish(amqp_connection_state_t c, const char *queue, const char *body, size_t len)
{
	amqp_basic_properties_t p;
	amqp_bytes_t b;
	int st;

	memset(&p, 0, sizeof p);
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
	p.delivery_mode = 2;
	p.content_type = amqp_cstring_bytes("text/plain");
	b.bytes = (void *)(uintptr_t)body;
	b.len = len;
	st = amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &p, b);
	if (st != AMQP_STATUS_OK) {
		fprintf(stderr, "mq-publish: publish: %s\n", amqp_error_string2(st));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	const char *pwfile = NULL, *prefix = "m";
	amqp_connection_state_t c;
	amqp_queue_declare_ok_t *ok;
	long count = -1, size = 0, i;
	char *line = NULL, *body;
	size_t lsize = 0;
	ssize_t n;
	int ch;

	while ((ch = getopt(argc, argv, "k:n:p:s:")) != -1) {
		switch (ch) {
		case 'k': pwfile = optarg; break;
		case 'n': count = atol(optarg); break;
		case 'p': prefix = optarg; break;
		case 's': size = atol(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	c = connect_to(argv[optind], pwfile, argv[optind + 1]);
	if (count >= 0) {
		body = malloc((size_t)size + 64);
		for (i = 1; body != NULL && i <= count; i++) {
			n = snprintf(body, 64, "%s-%ld", prefix, i);
			for (; n < size; n++)
				body[n] = '.';
			publish(c, argv[optind + 1], body, (size_t)n);
		}
		free(body);
	} else {
		while ((n = getline(&line, &lsize, stdin)) > 0) {
			if (line[n - 1] == '\n')
				line[--n] = '\0';
			publish(c, argv[optind + 1], line, (size_t)n);
		}
		free(line);
	}
	ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(argv[optind + 1]), 1, 0, 0, 0,
	    amqp_empty_table);
	die("queue.declare", amqp_get_rpc_reply(c));
	printf("%u\n", ok->message_count);
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	return 0;
usage:
	fprintf(stderr, "usage: mq-publish [-k PASSWORD_FILE] [-n COUNT [-p PREFIX] [-s SIZE]]"
	    " URL QUEUE\n");
	return 2;
}
