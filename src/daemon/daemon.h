/*
 * daemon.h - the running caom2ingestd: one libev loop, its signals, the
 * watchdog, configuration reloads and an orderly stop.
 */
#ifndef CAOM2INGEST_DAEMON_H
#define CAOM2INGEST_DAEMON_H

struct conf;
struct daemon;

/* Exit codes of caom2ingestd (documented in caom2ingestd(8)). */
enum daemon_exit {
	DAEMON_EXIT_OK = 0,		/* stopped on request */
	DAEMON_EXIT_CONFIG = 1,		/* configuration invalid or unreadable */
	DAEMON_EXIT_USAGE = 2,		/* bad command line */
	DAEMON_EXIT_START = 3		/* start-up failed (state directory, ...) */
};

/* Create the daemon around a loaded configuration (ownership passes). */
struct daemon *daemon_new(struct conf *cfg, const char *config_path);
/* Prepare state, register watchers; 0, or -1 with *cause. */
int daemon_start(struct daemon *d, char **cause);
/* Note that stderr was closed by detaching: auto logging goes to the journal. */
void daemon_detached(struct daemon *d);
/* Run the loop until stopped; returns the exit code. */
int daemon_run(struct daemon *d);
/* Release everything; NULL is accepted. */
void daemon_free(struct daemon *d);

#endif
