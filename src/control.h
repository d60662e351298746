/*
 * control.h - the control socket server.
 *
 * A Unix stream socket speaking a versioned line protocol: the server
 * greets each connection with one JSON line
 *   {"protocol": "caom2ingest-control", "version": 1, "daemon": "X.Y.Z"}
 * then answers each request line (a JSON object with a "command" member)
 * with one JSON object line: {"ok": true, ...} or {"ok": false, "error": "..."}.
 * Peers are identified with SO_PEERCRED: root and the daemon's own user may
 * run every command; members of the read group may run read-only commands;
 * members of the admin group every command; anyone else nothing. A malformed
 * or oversized request gets an error reply; the server keeps serving.
 */
#ifndef CAOM2INGEST_CONTROL_H
#define CAOM2INGEST_CONTROL_H

#include <sys/types.h>

#include <jansson.h>

#define CONTROL_PROTOCOL	"caom2ingest-control"
#define CONTROL_VERSION		1
#define CONTROL_MAX_LINE	65536	/* bytes in one request line */
#define CONTROL_MAX_CLIENTS	32

struct ev_loop;
struct control;

/* A command: fill reply (a JSON object) and return 0, or return -1 with *error. */
typedef int control_fn(void *arg, json_t *request, json_t *reply, char **error);

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
/* Number of connected clients. */
int control_clients(const struct control *c);

#endif
