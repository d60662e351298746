/*
 * ctl.c - the client side of the control protocol.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctl.h"
#include "xmalloc.h"

struct ctl {
	int		 fd;
	FILE		*in;
	char		*path;
};

/* Read one reply line as a JSON object; NULL with *cause. */
static json_t *
ctl_read(struct ctl *c, char **cause)
{
	char *line = NULL;
	size_t cap = 0;
	json_error_t err;
	json_t *obj;

	if (getline(&line, &cap, c->in) < 0) {
		*cause = xasprintf("%s: the daemon closed the connection", c->path);
		free(line);
		return NULL;
	}
	obj = json_loads(line, 0, &err);
	free(line);
	if (obj == NULL || !json_is_object(obj)) {
		*cause = xasprintf("%s: malformed reply: %s", c->path,
		    obj == NULL ? err.text : "not an object");
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static int
ctl_check_greeting(struct ctl *c, char **cause)
{
	json_t *hello = ctl_read(c, cause);
	const char *proto;
	json_int_t version;

	if (hello == NULL)
		return -1;
	proto = json_string_value(json_object_get(hello, "protocol"));
	version = json_integer_value(json_object_get(hello, "version"));
	if (proto == NULL || strcmp(proto, CONTROL_PROTOCOL) != 0 || version != CONTROL_VERSION) {
		*cause = xasprintf("%s: %s", c->path, json_string_value(json_object_get(hello,
		    "error")) != NULL ? json_string_value(json_object_get(hello, "error")) :
		    "unsupported control protocol");
		json_decref(hello);
		return -1;
	}
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
	c->in = fdopen(dup(fd), "r");
	c->path = xstrdup(path);
	if (c->in == NULL || ctl_check_greeting(c, cause) != 0) {
		if (c->in == NULL)
			*cause = xasprintf("%s: %s", path, strerror(errno));
		ctl_close(c);
		return NULL;
	}
	*result = CTL_OK;
	return c;
}

json_t *
ctl_request(struct ctl *c, json_t *request, char **cause)
{
	char *text = json_dumps(request, JSON_COMPACT);
	size_t len = strlen(text), off = 0;
	ssize_t n;

	text = xreallocarray(text, len + 2, 1);
	text[len++] = '\n';
	while (off < len) {
		if ((n = send(c->fd, text + off, len - off, MSG_NOSIGNAL)) < 0) {
			*cause = xasprintf("%s: %s", c->path, strerror(errno));
			free(text);
			return NULL;
		}
		off += (size_t)n;
	}
	free(text);
	return ctl_read(c, cause);
}

void
ctl_close(struct ctl *c)
{
	if (c == NULL)
		return;
	if (c->in != NULL)
		fclose(c->in);
	close(c->fd);
	free(c->path);
	free(c);
}
