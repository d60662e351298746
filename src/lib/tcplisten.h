/*
 * tcplisten.h - a listening TCP socket for "ADDR:PORT" or "[ADDR]:PORT",
 * for the daemon's HTTP endpoints (the webhook, the operators' endpoint):
 * resolved numerically for the port, bound with SO_REUSEADDR, non-blocking
 * and close-on-exec. Port 0 asks the kernel for one (*port tells which).
 */
#ifndef CAOM2INGEST_TCPLISTEN_H
#define CAOM2INGEST_TCPLISTEN_H

/*
 * Listen on addr with backlog; the fd and *port, or -1 with *cause
 * ("WHAT listen 'ADDR': not ADDR:PORT or [ADDR]:PORT", "WHAT listen ADDR:
 * reason"), what naming the endpoint in messages.
 */
int tcplisten_open(const char *addr, const char *what, int backlog, int *port, char **cause);

#endif
