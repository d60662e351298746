/*
 * t/notify-listen.c - a test NOTIFY_SOCKET listener.
 *
 * usage: notify-listen SOCKET OUTFILE
 * Binds a Unix datagram socket at SOCKET and appends every message to
 * OUTFILE, one line per message with its newlines shown as '|'. Exits on
 * SIGTERM, or after 60 seconds without a message.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	stop = 1;
}

static int
bind_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "notify-listen: path too long\n");
		exit(1);
	}
	strcpy(sun.sun_path, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		perror("notify-listen");
		exit(1);
	}
	return fd;
}

static void
record(FILE *out, char *buf, ssize_t n)
{
	ssize_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			buf[i] = '|';
	}
	if (n > 0 && buf[n - 1] == '|')
		n--;
	fprintf(out, "%.*s\n", (int)n, buf);
	fflush(out);
}

int
main(int argc, char **argv)
{
	struct pollfd pfd;
	char buf[4096];
	FILE *out;
	ssize_t n;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: notify-listen SOCKET OUTFILE\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	pfd.fd = bind_socket(argv[1]);
	pfd.events = POLLIN;
	if ((out = fopen(argv[2], "a")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	while (!stop) {
		r = poll(&pfd, 1, 60000);
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
		if (r > 0 && (n = recv(pfd.fd, buf, sizeof buf - 1, 0)) > 0)
			record(out, buf, n);
	}
	fclose(out);
	unlink(argv[1]);
	return 0;
}
