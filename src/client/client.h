/*
 * client.h - exit codes of caom2ingest (documented in caom2ingest(1)).
 */
#ifndef CAOM2INGEST_CLIENT_H
#define CAOM2INGEST_CLIENT_H

enum client_exit {
	CLIENT_EXIT_OK = 0,		/* the command succeeded */
	CLIENT_EXIT_FAIL = 1,		/* the command ran and failed */
	CLIENT_EXIT_USAGE = 2,		/* bad command line */
	CLIENT_EXIT_NODAEMON = 3	/* no daemon answers on the control socket */
};

/* caom2ingest map ARGS (argv[0] is "map"); an exit code. */
int client_map(int argc, char **argv);
/* caom2ingest preview ARGS (argv[0] is "preview"); an exit code. */
int client_preview(int argc, char **argv);
/* caom2ingest store ARGS (argv[0] is "store"), with -c CONFIG (or NULL) and --json; an
 * exit code. */
int client_store(int argc, char **argv, const char *config, int json);

#endif
