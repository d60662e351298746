/*
 * ctl.h - the client side of the control protocol (see control.h).
 */
#ifndef CAOM2INGEST_CTL_H
#define CAOM2INGEST_CTL_H

#include <jansson.h>

enum ctl_result {
	CTL_OK = 0,
	CTL_FAILED = 1,		/* connected, but the request failed */
	CTL_NODAEMON = 3	/* nothing answers on the socket */
};

struct ctl;

/* Connect to path and check the greeting; NULL with *result and *cause. */
struct ctl *ctl_connect(const char *path, enum ctl_result *result, char **cause);
/* The protocol revision the daemon speaks (1 when its greeting does not say). */
int ctl_revision(const struct ctl *c);
/* The daemon's version from its greeting ("" when it does not say). */
const char *ctl_daemon(const struct ctl *c);
/* Send one request line; 0, or -1 with *cause. */
int ctl_send(struct ctl *c, json_t *request, char **cause);
/* The next line from the daemon within timeout_ms (< 0: no limit): 0 with *obj (owned
 * by the caller), 1 when the time ran out, -1 with *cause. */
int ctl_recv(struct ctl *c, int timeout_ms, json_t **obj, char **cause);
/* Close; NULL is accepted. */
void ctl_close(struct ctl *c);

#endif
