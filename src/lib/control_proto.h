/*
 * control_proto.h - what the control socket's two ends (daemon/control.c,
 * client/ctl.c) agree on: the greeting's protocol name, its version (changed
 * only when old clients could no longer talk to the daemon), its revision
 * (compatible additions) and the longest request line.
 */
#ifndef CAOM2INGEST_CONTROL_PROTO_H
#define CAOM2INGEST_CONTROL_PROTO_H

#define CONTROL_PROTOCOL	"caom2ingest-control"
#define CONTROL_VERSION		1
#define CONTROL_REVISION	2
#define CONTROL_MAX_LINE	65536	/* bytes in one request line */

#endif
