/*
 * control.c - the control socket server (see control.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "daemon/control.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

enum control_right {
	CONTROL_NONE,
	CONTROL_READ,
	CONTROL_ALL
};

struct control_conn {
	struct control		*ctl;
	int			 fd;
	ev_io			 rio;
	ev_io			 wio;
	char			*in;		/* CONTROL_MAX_LINE + 1 bytes */
	size_t			 inlen;
	int			 discarding;	/* skipping the rest of an oversized line */
	char			*out;
	size_t			 outlen;
	size_t			 outcap;
	int			 closing;	/* close once out is written */
	int			 deferred;	/* a command answers later */
	void			(*on_close)(void *);
	void			*on_close_arg;
	ev_timer		 resume;	/* serve what came while deferred */
	struct ucred		 cred;
	enum control_right	 right;
	LIST_ENTRY(control_conn) entry;
};

struct control {
	struct ev_loop			*loop;
	int				 fd;
	ev_io				 io;
	char				*path;
	struct control_access		 access;
	const struct control_command	*table;
	void				*arg;
	int				 nclients;
	LIST_HEAD(, control_conn)	 conns;
};

static void control_conn_free(struct control_conn *cn);
static void control_lines(struct control_conn *cn);

/* Refuse to start when a live daemon answers on path; remove a stale socket. */
static int
control_check_stale(const struct sockaddr_un *sun, const char *path, char **cause)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		*cause = xasprintf("control socket %s exists and is not a socket", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	r = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	close(fd);
	if (r == 0) {
		*cause = xasprintf("another caom2ingestd answers on %s", path);
		return -1;
	}
	unlink(path);
	return 0;
}

/*
 * chown to control_group failed: say why it may have. EPERM is a group the
 * daemon's user is not in (without CAP_CHOWN), or a system call filter that
 * refuses chown (the shipped unit's SystemCallErrorNumber=EPERM makes a
 * refusal an error here rather than a SIGSYS). -1 with *cause.
 */
static int
control_chown_failed(const char *path, gid_t gid, char **cause)
{
	int e = errno;
	struct group *gr = getgrgid(gid);
	char num[32];

	snprintf(num, sizeof num, "%lu", (unsigned long)gid);
	*cause = xasprintf("control socket %s: cannot give it to control_group %s: chown: %s%s",
	    path, gr != NULL ? gr->gr_name : num, strerror(e), e != EPERM ? "" :
	    " (the daemon's user must belong to the group, under systemd through "
	    "SupplementaryGroups=, and a SystemCallFilter= must allow @chown)");
	return -1;
}

static int
control_bind(struct control *c, gid_t gid, char **cause)
{
	struct sockaddr_un sun;
	mode_t old;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(c->path) >= sizeof sun.sun_path) {
		*cause = xasprintf("control socket path %s is too long", c->path);
		return -1;
	}
	strcpy(sun.sun_path, c->path);
	if (control_check_stale(&sun, c->path, cause) != 0)
		return -1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(0117);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		umask(old);
		*cause = xasprintf("control socket %s: %s", c->path, strerror(errno));
		return -1;
	}
	umask(old);
	if (chmod(c->path, 0660) != 0 || listen(c->fd, 16) != 0) {
		*cause = xasprintf("control socket %s: %s", c->path, strerror(errno));
		return -1;
	}
	if (gid != (gid_t)-1 && chown(c->path, (uid_t)-1, gid) != 0)
		return control_chown_failed(c->path, gid, cause);
	return 0;
}

static int
control_in_group(uid_t uid, gid_t gid, gid_t want)
{
	struct passwd *pw;
	gid_t groups[256];
	int i, n = 256;

	if (want == (gid_t)-1)
		return 0;
	if (gid == want)
		return 1;
	if ((pw = getpwuid(uid)) == NULL || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (groups[i] == want)
			return 1;
	}
	return 0;
}

static enum control_right
control_right_of(const struct control *c, const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid() ||
	    control_in_group(cr->uid, cr->gid, c->access.admin_gid))
		return CONTROL_ALL;
	if (control_in_group(cr->uid, cr->gid, c->access.read_gid))
		return CONTROL_READ;
	return CONTROL_NONE;
}

static void
control_send(struct control_conn *cn, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	size_t len;

	if (text == NULL)
		return;
	len = strlen(text);
	if (cn->outlen + len + 1 > cn->outcap) {
		cn->outcap = (cn->outlen + len + 1) * 2;
		cn->out = xreallocarray(cn->out, cn->outcap, 1);
	}
	memcpy(cn->out + cn->outlen, text, len);
	cn->out[cn->outlen + len] = '\n';
	cn->outlen += len + 1;
	free(text);
	ev_io_start(cn->ctl->loop, &cn->wio);
}

static void
control_send_error(struct control_conn *cn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
control_send_error(struct control_conn *cn, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	json_t *o;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	o = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	control_send(cn, o);
	json_decref(o);
	free(msg);
}

static const struct control_command *
control_find(const struct control *c, const char *name)
{
	const struct control_command *cmd;

	for (cmd = c->table; cmd->name != NULL; cmd++) {
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	}
	return NULL;
}

static void
control_run(struct control_conn *cn, const struct control_command *cmd, json_t *req)
{
	json_t *reply = json_object();
	char *error = NULL;
	int r;

	if (cmd->mutating)
		log_notice("control: %s by uid %u (pid %d)", cmd->name, (unsigned)cn->cred.uid,
		    (int)cn->cred.pid);
	if ((r = cmd->fn(cn->ctl->arg, cn, req, reply, &error)) == CONTROL_DEFERRED)
		cn->deferred = 1;
	else if (r != 0) {
		control_send_error(cn, "%s", error != NULL ? error : "failed");
		free(error);
	} else {
		json_object_set_new(reply, "ok", json_true());
		control_send(cn, reply);
	}
	json_decref(reply);
}

int
control_parse_request(const char *line, json_t **req, const char **name, char **error)
{
	json_error_t jerr;

	*req = NULL;
	if ((*req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		*error = xasprintf("malformed request: %s (column %d)", jerr.text, jerr.column);
		return -1;
	}
	if (!json_is_object(*req) || (*name = json_string_value(json_object_get(*req,
	    "command"))) == NULL) {
		*error = xstrdup("malformed request: expected an object with a \"command\" string");
		json_decref(*req);
		*req = NULL;
		return -1;
	}
	return 0;
}

/* Answer one request line. */
static void
control_line(struct control_conn *cn, const char *line)
{
	const struct control_command *cmd;
	const char *name = NULL;
	char *error = NULL;
	json_t *req;

	if (control_parse_request(line, &req, &name, &error) != 0) {
		control_send_error(cn, "%s", error);
		free(error);
		return;
	}
	if ((cmd = control_find(cn->ctl, name)) == NULL)
		control_send_error(cn, "unknown command '%.64s'", name);
	else if (cn->right == CONTROL_NONE || (cmd->mutating && cn->right != CONTROL_ALL))
		control_send_error(cn, "permission denied: uid %u may not run '%s'",
		    (unsigned)cn->cred.uid, cmd->name);
	else
		control_run(cn, cmd, req);
	json_decref(req);
}

/* Take the complete lines out of the input buffer (none while a command is deferred). */
static void
control_lines(struct control_conn *cn)
{
	char *nl, *start = cn->in;
	size_t left;

	cn->in[cn->inlen] = '\0';
	while (!cn->deferred &&
	    (nl = memchr(start, '\n', cn->inlen - (size_t)(start - cn->in))) != NULL) {
		*nl = '\0';
		if (cn->discarding)
			cn->discarding = 0;
		else if (nl > start)
			control_line(cn, start);
		start = nl + 1;
	}
	left = cn->inlen - (size_t)(start - cn->in);
	memmove(cn->in, start, left);
	cn->inlen = left;
	if (cn->inlen == CONTROL_MAX_LINE && cn->deferred) {
		ev_io_stop(cn->ctl->loop, &cn->rio);	/* full: read again after the answer */
		return;
	}
	if (cn->inlen == CONTROL_MAX_LINE) {
		if (!cn->discarding)
			control_send_error(cn, "request longer than %d bytes", CONTROL_MAX_LINE);
		cn->discarding = 1;
		cn->inlen = 0;
	}
}

static void
control_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_conn *cn = w->data;
	ssize_t n;

	n = read(cn->fd, cn->in + cn->inlen, CONTROL_MAX_LINE - cn->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_conn_free(cn);
		return;
	}
	cn->inlen += (size_t)n;
	control_lines(cn);
}

static void
control_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_conn *cn = w->data;
	ssize_t n;

	n = send(cn->fd, cn->out, cn->outlen, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		control_conn_free(cn);
		return;
	}
	memmove(cn->out, cn->out + n, cn->outlen - (size_t)n);
	cn->outlen -= (size_t)n;
	if (cn->outlen == 0) {
		ev_io_stop(loop, w);
		if (cn->closing)
			control_conn_free(cn);
	}
}

static void
control_conn_free(struct control_conn *cn)
{
	struct control *c = cn->ctl;

	if (cn->deferred && cn->on_close != NULL)
		cn->on_close(cn->on_close_arg);
	ev_io_stop(c->loop, &cn->rio);
	ev_io_stop(c->loop, &cn->wio);
	ev_timer_stop(c->loop, &cn->resume);
	close(cn->fd);
	LIST_REMOVE(cn, entry);
	c->nclients--;
	free(cn->in);
	free(cn->out);
	free(cn);
}

static void
control_on_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
	control_lines(w->data);
}

static struct control_conn *
control_conn_new(struct control *c, int fd)
{
	struct control_conn *cn = xcalloc(1, sizeof *cn);
	socklen_t len = sizeof cn->cred;

	cn->ctl = c;
	cn->fd = fd;
	cn->in = xmalloc(CONTROL_MAX_LINE + 1);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cn->cred, &len) != 0)
		cn->cred.uid = (uid_t)-1, cn->cred.gid = (gid_t)-1;
	cn->right = control_right_of(c, &cn->cred);
	ev_io_init(&cn->rio, control_on_read, fd, EV_READ);
	ev_io_init(&cn->wio, control_on_write, fd, EV_WRITE);
	ev_timer_init(&cn->resume, control_on_resume, 0., 0.);
	cn->rio.data = cn->wio.data = cn->resume.data = cn;
	LIST_INSERT_HEAD(&c->conns, cn, entry);
	c->nclients++;
	return cn;
}

static void
control_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *c = w->data;
	struct control_conn *cn;
	json_t *hello;
	int fd;

	if ((fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("control socket accept");
		return;
	}
	cn = control_conn_new(c, fd);
	if (c->nclients > CONTROL_MAX_CLIENTS) {
		control_send_error(cn, "too many connections (at most %d)", CONTROL_MAX_CLIENTS);
		cn->closing = 1;
		return;
	}
	hello = json_pack("{s:s, s:i, s:i, s:s}", "protocol", CONTROL_PROTOCOL, "version",
	    CONTROL_VERSION, "revision", CONTROL_REVISION, "daemon", PACKAGE_VERSION);
	control_send(cn, hello);
	json_decref(hello);
	ev_io_start(loop, &cn->rio);
}

struct control *
control_new(struct ev_loop *loop, const char *path, const struct control_access *access,
    const struct control_command *table, void *arg, char **cause)
{
	struct control *c = xcalloc(1, sizeof *c);

	c->loop = loop;
	c->fd = -1;
	c->path = xstrdup(path);
	c->access = *access;
	c->table = table;
	c->arg = arg;
	LIST_INIT(&c->conns);
	if (control_bind(c, access->read_gid, cause) != 0) {
		if (c->fd >= 0)
			close(c->fd);
		free(c->path);
		free(c);
		return NULL;
	}
	ev_io_init(&c->io, control_on_accept, c->fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	return c;
}

void
control_free(struct control *c)
{
	struct control_conn *cn;

	if (c == NULL)
		return;
	LIST_FOREACH(cn, &c->conns, entry) {	/* last words, such as "stopping" */
		if (cn->outlen > 0 && send(cn->fd, cn->out, cn->outlen, MSG_NOSIGNAL) < 0)
			log_debug("control socket: %s", strerror(errno));
	}
	while (!LIST_EMPTY(&c->conns))
		control_conn_free(LIST_FIRST(&c->conns));
	ev_io_stop(c->loop, &c->io);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	free(c);
}

int
control_notify(struct control_conn *cn, json_t *obj)
{
	if (cn->outlen > 0)
		return -1;
	control_send(cn, obj);
	return 0;
}

void
control_reply(struct control_conn *cn, json_t *reply, const char *error)
{
	json_t *o;

	cn->deferred = 0;
	cn->on_close = NULL;
	if (error != NULL)
		control_send_error(cn, "%s", error);
	else {
		o = json_object();
		if (reply != NULL)
			json_object_update(o, reply);
		json_object_set_new(o, "ok", json_true());
		control_send(cn, o);
		json_decref(o);
	}
	ev_io_start(cn->ctl->loop, &cn->rio);
	if (cn->inlen > 0)
		ev_timer_start(cn->ctl->loop, &cn->resume);
}

void
control_on_close(struct control_conn *cn, void (*fn)(void *), void *arg)
{
	cn->on_close = fn;
	cn->on_close_arg = arg;
}
