/*
 * ctl.c - the client side of the control protocol.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/control_proto.h"
#include "client/ctl.h"
#include "lib/xmalloc.h"

#define CTL_MAX_LINE	(64 * 1024 * 1024)	/* a reply longer than this is refused */

struct ctl {
	int		 fd;
	char		*path;
	char		*buf;		/* what was read and not yet taken */
	size_t		 len;
	size_t		 cap;
	int		 revision;
	char		*daemon;
};

/* Take one line out of the buffer, if there is one. */
static char *
ctl_take_line(struct ctl *c)
{
	char *nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL, *line;
	size_t n;

	if (nl == NULL)
		return NULL;
	n = (size_t)(nl - c->buf);
	line = xmalloc(n + 1);
	memcpy(line, c->buf, n);
	line[n] = '\0';
	memmove(c->buf, nl + 1, c->len - n - 1);
	c->len -= n + 1;
	return line;
}

/* Read what the socket has within timeout_ms: 0, 1 timed out, -1 with *cause. */
static int
ctl_fill(struct ctl *c, int timeout_ms, char **cause)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	ssize_t n;
	int r;

	while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return 1;
	if (c->cap - c->len < 4096) {
		if (c->cap >= CTL_MAX_LINE) {
			*cause = xasprintf("%s: reply longer than %d bytes", c->path, CTL_MAX_LINE);
			return -1;
		}
		c->cap = c->cap == 0 ? 65536 : c->cap * 2;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	while ((n = read(c->fd, c->buf + c->len, c->cap - c->len)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		*cause = n == 0 ? xasprintf("%s: the daemon closed the connection", c->path) :
		    xasprintf("%s: %s", c->path, strerror(errno));
		return -1;
	}
	c->len += (size_t)n;
	return 0;
}

int
ctl_recv(struct ctl *c, int timeout_ms, json_t **obj, char **cause)
{
	json_error_t err;
	char *line;
	int r;

	*obj = NULL;
	while ((line = ctl_take_line(c)) == NULL) {
		if ((r = ctl_fill(c, timeout_ms, cause)) != 0)
			return r;
	}
	*obj = json_loads(line, 0, &err);
	free(line);
	if (*obj == NULL || !json_is_object(*obj)) {
		*cause = xasprintf("%s: malformed reply: %s", c->path,
		    *obj == NULL ? err.text : "not an object");
		json_decref(*obj);
		*obj = NULL;
		return -1;
	}
	return 0;
}

static int
ctl_check_greeting(struct ctl *c, char **cause)
{
	const char *proto, *error, *daemon;
	json_t *hello;
	json_int_t version;

	if (ctl_recv(c, -1, &hello, cause) != 0)
		return -1;
	proto = json_string_value(json_object_get(hello, "protocol"));
	version = json_integer_value(json_object_get(hello, "version"));
	if (proto == NULL || strcmp(proto, CONTROL_PROTOCOL) != 0 || version != CONTROL_VERSION) {
		error = json_string_value(json_object_get(hello, "error"));
		*cause = xasprintf("%s: %s", c->path, error != NULL ? error :
		    "unsupported control protocol");
		json_decref(hello);
		return -1;
	}
	c->revision = json_is_integer(json_object_get(hello, "revision")) ?
	    (int)json_integer_value(json_object_get(hello, "revision")) : 1;
	daemon = json_string_value(json_object_get(hello, "daemon"));
	c->daemon = xstrdup(daemon != NULL ? daemon : "");
	json_decref(hello);
	return 0;
}

struct ctl *
ctl_connect(const char *path, enum ctl_result *result, char **cause)
{
	struct sockaddr_un sun;
	struct ctl *c;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	*result = CTL_FAILED;
	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("%s: path too long", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			*result = CTL_NODAEMON;
		*cause = xasprintf("%s: %s%s", path, strerror(errno), *result == CTL_NODAEMON ?
		    " (is caom2ingestd running?)" : "");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->path = xstrdup(path);
	if (ctl_check_greeting(c, cause) != 0) {
		ctl_close(c);
		return NULL;
	}
	*result = CTL_OK;
	return c;
}

int
ctl_revision(const struct ctl *c)
{
	return c->revision;
}

const char *
ctl_daemon(const struct ctl *c)
{
	return c->daemon;
}

int
ctl_send(struct ctl *c, json_t *request, char **cause)
{
	char *text = json_dumps(request, JSON_COMPACT);
	size_t len = strlen(text), off = 0;
	ssize_t n;

	text = xreallocarray(text, len + 2, 1);
	text[len++] = '\n';
	while (off < len) {
		if ((n = send(c->fd, text + off, len - off, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			*cause = xasprintf("%s: %s", c->path, strerror(errno));
			free(text);
			return -1;
		}
		off += (size_t)n;
	}
	free(text);
	return 0;
}

void
ctl_close(struct ctl *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	free(c->path);
	free(c->daemon);
	free(c);
}
