/*
 * main.c - caom2ingestd: command line, start-up order, detaching, exit codes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caom/caom_xml.h"
#include "caom/lua_rt.h"
#include "caom/preview.h"
#include "conf/conf.h"
#include "lib/curlev.h"
#include "conf/conf_check.h"
#include "daemon/daemon.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct options {
	const char	*config_path;
	int		 foreground;
	int		 check_config;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: caom2ingestd [-f] [-c FILE] [--check-config]\n"
	    "       caom2ingestd --version | --help\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default %s)\n"
	    "  -f, --foreground    stay in the foreground (as under systemd)\n"
	    "  -t, --check-config  check the configuration, print OK or the errors, exit\n"
	    "  -V, --version       print the version and exit\n"
	    "  -h, --help          print this help and exit\n",
	    CONF_DEFAULT_PATH);
}

static int
parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	opt->config_path = CONF_DEFAULT_PATH;
	while ((ch = getopt_long(argc, argv, "c:ftVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt->config_path = optarg;
			break;
		case 'f':
			opt->foreground = 1;
			break;
		case 't':
			opt->check_config = 1;
			break;
		case 'V':
			printf("caom2ingestd %s\n", PACKAGE_VERSION);
			exit(DAEMON_EXIT_OK);
		case 'h':
			usage(stdout);
			exit(DAEMON_EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "caom2ingestd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Load the configuration; on failure print every error and return NULL. */
static struct conf *
load_config(const char *path)
{
	struct conf *cfg;
	char *errors;

	if (conf_load(path, &cfg, &errors) == 0)
		return cfg;
	fprintf(stderr, "%s\n", errors);
	free(errors);
	return NULL;
}

/*
 * Detach from the terminal. The parent waits until the child reports its
 * start-up result through a pipe, so `caom2ingestd` without -f still exits
 * non-zero when start-up fails.
 */
static int
detach(int *notify_fd)
{
	int fds[2], status;
	unsigned char code = DAEMON_EXIT_START;
	pid_t pid;

	if (pipe(fds) != 0 || (pid = fork()) < 0)
		fatal(DAEMON_EXIT_START, "cannot detach");
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &code, 1) != 1 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status))
			code = (unsigned char)WEXITSTATUS(status);
		exit(code);
	}
	close(fds[0]);
	if (setsid() < 0)
		fatal(DAEMON_EXIT_START, "setsid");
	*notify_fd = fds[1];
	return 0;
}

static void
detach_done(int notify_fd, unsigned char code)
{
	int null;

	if (notify_fd < 0)
		return;
	(void)!write(notify_fd, &code, 1);
	close(notify_fd);
	if ((null = open("/dev/null", O_RDWR)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

/*
 * The libraries that want a global initialisation, once, before any thread
 * (the daemon's workers, the walk, libcurl's resolver): libxml2 and libcurl.
 * Done here, in the process that will run (after detaching), rather than on
 * a module's first use (see caom_xml.h, curlev.h).
 */
static void
init_libraries(void)
{
	caom_xml_init();
	if (curlev_global_init() != 0)
		fatalx(DAEMON_EXIT_START, "cannot initialise libcurl");
}

int
main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct daemon *d;
	struct conf *cfg;
	char *cause = NULL;
	int notify_fd = -1, code;

	if (parse_options(argc, argv, &opt) != 0)
		return DAEMON_EXIT_USAGE;
	if ((cfg = load_config(opt.config_path)) == NULL)
		return DAEMON_EXIT_CONFIG;
	if (opt.check_config) {
		code = conf_check_files(cfg, &cause) == 0 ? DAEMON_EXIT_OK : DAEMON_EXIT_CONFIG;
		fprintf(code == DAEMON_EXIT_OK ? stdout : stderr, "%s\n",
		    code == DAEMON_EXIT_OK ? "OK" : cause);
		free(cause);
		conf_free(cfg);
		lua_rt_thread_cleanup();
		return code;
	}
	log_init("caom2ingestd", cfg->log_level, (enum log_target)cfg->log_target);
	if (!opt.foreground)
		detach(&notify_fd);
	init_libraries();
	d = daemon_new(cfg, opt.config_path);
	if (daemon_start(d, &cause) != 0) {
		log_errx("start-up failed: %s", cause);
		free(cause);
		daemon_free(d);
		detach_done(notify_fd, DAEMON_EXIT_START);
		return DAEMON_EXIT_START;
	}
	if (notify_fd >= 0) {
		/* Detached: stderr goes to /dev/null from here on. */
		detach_done(notify_fd, DAEMON_EXIT_OK);
		daemon_detached(d);
	}
	code = daemon_run(d);
	daemon_free(d);
	preview_cleanup();	/* the workers have stopped: the plots' font caches go */
	lua_rt_thread_cleanup();	/* the loop's Lua states (the mapping runs there) */
	return code;
}
