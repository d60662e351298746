/*
 * t/log.c - the log module: level names and filtering, the stderr format
 * with fields and errno, and JOURNAL_STREAM detection.
 *
 * With arguments "emit MESSAGE" it instead sends one record to the journal
 * with COLLECTION, OBSERVATION_ID and FILE fields (used by t/journal.sh).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "tap.h"

/* Run fn with stderr redirected to a file; return what it wrote. */
static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/caom2ingest-log.XXXXXX";
	static char buf[4096];
	int fd, saved;
	ssize_t n;

	if ((fd = mkstemp(path)) < 0)
		bail("mkstemp: %s", strerror(errno));
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return buf;
}

static void
emit_fields(void)
{
	log_at(LOG_WARNING, 0, LOG_FIELDS({ "COLLECTION", "OMM" },
	    { "OBSERVATION_ID", "C1_0001" }, { "FILE", NULL }), "mapped %d", 3);
}

static void
emit_errno(void)
{
	errno = ENOENT;
	log_warn("cannot open %s", "x.fits");
}

static void
emit_filtered(void)
{
	log_debug("not shown");
	log_info("shown");
}

static void
test_levels(void)
{
	int level = -1;

	ok(log_level_from_name("debug", &level) == 0 && level == LOG_DEBUG, "debug");
	ok(log_level_from_name("warning", &level) == 0 && level == LOG_WARNING, "warning");
	ok(log_level_from_name("error", &level) == 0 && level == LOG_ERR, "error");
	ok(log_level_from_name("loud", &level) == -1, "unknown level refused");
	is_string("notice", log_level_name(LOG_NOTICE), "level name");
}

static void
test_stderr(void)
{
	const char *out;

	log_init("t-log", LOG_INFO, LOG_TARGET_STDERR);
	ok(!log_to_journal(), "stderr target");
	out = capture(emit_fields);
	ok(strstr(out, "t-log[") != NULL, "line names the program and pid");
	ok(strstr(out, ": warning: mapped 3 [COLLECTION=OMM OBSERVATION_ID=C1_0001]\n")
	    != NULL, "message, then fields; NULL fields skipped");
	out = capture(emit_errno);
	ok(strstr(out, "warning: cannot open x.fits: No such file or directory\n") != NULL,
	    "log_warn appends strerror(errno)");
	out = capture(emit_filtered);
	ok(strstr(out, "not shown") == NULL && strstr(out, "info: shown") != NULL,
	    "records below the level are dropped");
}

static void
test_journal_stream(void)
{
	struct stat st;
	char env[64];

	fstat(STDERR_FILENO, &st);
	snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init("t-log", LOG_INFO, LOG_TARGET_AUTO);
	ok(log_to_journal(), "auto: stderr matching JOURNAL_STREAM means the journal");
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_set_target(LOG_TARGET_AUTO);
	ok(!log_to_journal(), "auto: another stream means stderr");
	unsetenv("JOURNAL_STREAM");
	log_set_target(LOG_TARGET_AUTO);
	ok(!log_to_journal(), "auto: no JOURNAL_STREAM means stderr");
	log_set_target(LOG_TARGET_JOURNAL);
	ok(log_to_journal(), "journal target");
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "emit") == 0) {
		log_init("t-log", LOG_DEBUG, LOG_TARGET_JOURNAL);
		log_at(LOG_NOTICE, 0, LOG_FIELDS({ "COLLECTION", "OMM" },
		    { "OBSERVATION_ID", "C1_0001" }, { "FILE", "/srv/landing/C1.fits" }),
		    "%s", argv[2]);
		return 0;
	}
	plan(14);
	test_levels();
	test_stderr();
	test_journal_stream();
	return 0;
}
