/*
 * control.h - the control socket server.
 *
 * A Unix stream socket speaking the versioned line protocol of
 * lib/control_proto.h: the server
 * greets each connection with one JSON line
 *   {"protocol": "caom2ingest-control", "version": 1, "revision": 2,
 *    "daemon": "X.Y.Z"}
 * then answers each request line (a JSON object with a "command" member)
 * with one JSON object line: {"ok": true, ...} or {"ok": false, "error": "..."}.
 * "version" changes only when old clients could no longer talk to the
 * daemon; "revision" counts compatible additions (absent: 1). Revision 2:
 * a command may answer later (CONTROL_DEFERRED), sending lines that are not
 * replies before its reply ({"progress": {...}}, see commands.c's "wait");
 * requests sent meanwhile on that connection are answered after it.
 * Peers are identified with SO_PEERCRED: root and the daemon's own user may
 * run every command; members of the read group may run read-only commands;
 * members of the admin group every command; anyone else nothing. A malformed
 * or oversized request gets an error reply; the server keeps serving.
 */
#ifndef CAOM2INGEST_CONTROL_H
#define CAOM2INGEST_CONTROL_H

#include <sys/types.h>

#include <jansson.h>

#include "lib/control_proto.h"

#define CONTROL_MAX_CLIENTS	32

struct ev_loop;
struct control;
struct control_conn;

#define CONTROL_DEFERRED	1	/* a command's answer comes later: control_reply */

/*
 * A command: fill reply (a JSON object) and return 0, or return -1 with *error,
 * or CONTROL_DEFERRED and answer later through cn with control_reply.
 */
typedef int control_fn(void *arg, struct control_conn *cn, json_t *request, json_t *reply,
    char **error);

struct control_command {
	const char	*name;
	int		 mutating;	/* changes the daemon's state */
	control_fn	*fn;
	const char	*help;
};

struct control_access {
	gid_t		 read_gid;	/* (gid_t)-1: none */
	gid_t		 admin_gid;	/* (gid_t)-1: none */
};

/* Bind path (refusing if a live daemon answers there) and serve table on loop. */
struct control *control_new(struct ev_loop *loop, const char *path,
    const struct control_access *access, const struct control_command *table, void *arg,
    char **cause);
/* Close every connection, unlink the socket, free; NULL is accepted. */
void control_free(struct control *c);
/* Parse one request line: 0 with *req (owned) and *name (inside it), or -1 with *error. */
int control_parse_request(const char *line, json_t **req, const char **name, char **error);
/* Send a line that is not the reply to a deferred command's peer; -1 (nothing sent)
 * while the peer has not read what was sent before. */
int control_notify(struct control_conn *cn, json_t *obj);
/* Answer a deferred command: the members of reply with "ok": true, or error; then
 * serve the requests that came meanwhile. */
void control_reply(struct control_conn *cn, json_t *reply, const char *error);
/* Call fn(arg) when cn closes before a deferred command answered (not after). */
void control_on_close(struct control_conn *cn, void (*fn)(void *), void *arg);

#endif
