/*
 * monitor.h - the operators' view of the daemon over HTTP (http.c):
 *
 *   GET /metrics      Prometheus text exposition format 0.0.4
 *   GET /             an HTML status page (reloads itself; no script)
 *   GET /status.json  what `caom2ingest --json status` prints
 *   GET /observations/COLLECTION/ID   one observation: files, history,
 *                     last error, the document the directory sink holds
 *
 * Nothing a request does holds the loop on the state store: counts and
 * lists come from memory and from a census of the store (state_census)
 * read on a worker thread through a read-only connection, again every
 * refresh interval once the store changed; an observation's page is read
 * there too, its connection suspended meanwhile.
 */
#ifndef CAOM2INGEST_MONITOR_H
#define CAOM2INGEST_MONITOR_H

struct daemon;
struct monitor;

/* Serve d's view as its configuration's http section says (listen, token file, refresh);
 * NULL with *cause (a bad address, an unreadable token file...). */
struct monitor *monitor_new(struct daemon *d, char **cause);
/* After a reload: the token file and refresh interval of the new configuration (a new
 * listen address takes effect at a restart). 0, or -1 with *cause (the old ones stay). */
int monitor_reload(struct monitor *m, char **cause);
/* The port it listens on. */
int monitor_port(const struct monitor *m);
/* Stop and free (requests waiting are answered 503); NULL is accepted. */
void monitor_free(struct monitor *m);

#endif
