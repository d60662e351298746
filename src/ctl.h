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
/* Send request, wait for the reply object (owned by the caller); NULL with *cause. */
json_t *ctl_request(struct ctl *c, json_t *request, char **cause);
/* Close; NULL is accepted. */
void ctl_close(struct ctl *c);

#endif
