/*
 * client.c - caom2ingest: the command-line client (command table, usage,
 * exit codes). Commands are added to client_commands.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

struct client_command {
	const char	*name;
	int		(*run)(int argc, char **argv);
	const char	*synopsis;
};

static const struct client_command client_commands[] = {
	{ NULL, NULL, NULL }
};

static void
client_usage(FILE *fp)
{
	const struct client_command *c;

	fprintf(fp, "usage: caom2ingest [--version | --help] COMMAND [ARGS...]\n");
	if (client_commands[0].name != NULL)
		fprintf(fp, "\ncommands:\n");
	for (c = client_commands; c->name != NULL; c++)
		fprintf(fp, "  %s\n", c->synopsis);
	fprintf(fp, "\nSee caom2ingest(1).\n");
}

int
main(int argc, char **argv)
{
	const struct client_command *c;

	if (argc < 2) {
		client_usage(stderr);
		return CLIENT_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("caom2ingest %s\n", PACKAGE_VERSION);
		return CLIENT_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		client_usage(stdout);
		return CLIENT_EXIT_OK;
	}
	for (c = client_commands; c->name != NULL; c++) {
		if (strcmp(c->name, argv[1]) == 0)
			return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "caom2ingest: unknown command '%s'\n", argv[1]);
	client_usage(stderr);
	return CLIENT_EXIT_USAGE;
}
