/*
 * t/mq-consume.c - drive src/mq.c against a real broker (t/mq.sh).
 *
 * usage: mq-consume [-v] [-c CA_PATH] [-k PASSWORD_FILE] [-P PREFETCH]
 *                   [-d DELAY_MS] [-m MIN_MS] [-M MAX_MS] [-x COUNT] URL QUEUE
 * Prints "VERDICT BODY" on stdout for every delivery, before it is settled:
 * a body starting with "bad" is malformed; one starting with "busy" cannot
 * be recorded the first time it is seen and is recorded the next; anything
 * else is recorded. -d sleeps that long in each callback (a slow store).
 * Logs go to stderr (-v: debug). Exits on SIGTERM/SIGINT, or after COUNT
 * recorded messages, closing the connection through mq_free.
 */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "sources/mq.h"
#include "lib/xmalloc.h"

struct driver {
	struct ev_loop	*loop;
	long		 delay_ms;
	long		 left;		/* recorded messages until exit; <0: no limit */
	char		**seen;		/* "busy" bodies refused once */
	size_t		 nseen;
};

static int
seen_before(struct driver *d, const char *body)
{
	size_t i;

	for (i = 0; i < d->nseen; i++) {
		if (strcmp(d->seen[i], body) == 0)
			return 1;
	}
	d->seen = xreallocarray(d->seen, d->nseen + 1, sizeof *d->seen);
	d->seen[d->nseen++] = xstrdup(body);
	return 0;
}

static enum mq_verdict
on_deliver(void *arg, const void *data, size_t len, char **why)
{
	static const char *names[] = { "recorded", "malformed", "unavailable" };
	struct driver *d = arg;
	struct timespec ts;
	enum mq_verdict v = MQ_RECORDED;
	char *body;

	body = xasprintf("%.*s", (int)len, (const char *)data);
	if (d->delay_ms > 0) {
		ts.tv_sec = d->delay_ms / 1000;
		ts.tv_nsec = (d->delay_ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
	}
	if (strncmp(body, "bad", 3) == 0) {
		v = MQ_MALFORMED;
		*why = xstrdup("the body starts with \"bad\"");
	} else if (strncmp(body, "busy", 4) == 0 && !seen_before(d, body)) {
		v = MQ_UNAVAILABLE;
		*why = xstrdup("the test store is busy");
	}
	printf("%s %s\n", names[v], body);
	fflush(stdout);
	free(body);
	if (v == MQ_RECORDED && d->left > 0 && --d->left == 0)
		ev_break(d->loop, EVBREAK_ALL);
	return v;
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	struct mq_config cfg;
	struct driver d;
	ev_signal sterm, sint;
	struct mq *m;
	char *cause = NULL;
	int ch, level = LOG_INFO;
	size_t i;

	memset(&cfg, 0, sizeof cfg);
	memset(&d, 0, sizeof d);
	d.left = -1;
	while ((ch = getopt(argc, argv, "c:d:k:m:M:P:vx:")) != -1) {
		switch (ch) {
		case 'c': cfg.ca_path = optarg; break;
		case 'd': d.delay_ms = atol(optarg); break;
		case 'k': cfg.password_file = optarg; break;
		case 'm': cfg.reconnect_min_ms = strtoull(optarg, NULL, 10); break;
		case 'M': cfg.reconnect_max_ms = strtoull(optarg, NULL, 10); break;
		case 'P': cfg.prefetch = (unsigned)atoi(optarg); break;
		case 'v': level = LOG_DEBUG; break;
		case 'x': d.left = atol(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	cfg.url = argv[optind];
	cfg.queue = argv[optind + 1];
	log_init("mq-consume", level, LOG_TARGET_STDERR);
	signal(SIGPIPE, SIG_IGN);
	d.loop = ev_default_loop(EVFLAG_SIGNALFD);
	if ((m = mq_new(d.loop, &cfg, on_deliver, &d, &cause)) == NULL) {
		fprintf(stderr, "mq-consume: %s\n", cause);
		free(cause);
		return 1;
	}
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(d.loop, &sterm);
	ev_signal_start(d.loop, &sint);
	ev_run(d.loop, 0);
	fprintf(stderr, "mq-consume: stopping\n");
	mq_free(m);
	for (i = 0; i < d.nseen; i++)
		free(d.seen[i]);
	free(d.seen);
	ev_loop_destroy(d.loop);
	return 0;
usage:
	fprintf(stderr, "usage: mq-consume [-v] [-c CA_PATH] [-k PASSWORD_FILE] [-P PREFETCH] [-d DELAY_MS]"
	    " [-m MIN_MS] [-M MAX_MS] [-x COUNT] URL QUEUE\n");
	return 2;
}
