/*
 * log.c - structured logging to journald, or readable lines on stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* We send CODE_FILE/LINE/FUNC of the caller ourselves. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "lib/log.h"
#include "lib/xmalloc.h"

#define LOG_MAX_FIELDS	32

static const char	*log_ident = "caom2ingest";
static int		 log_level = LOG_INFO;
static enum log_target	 log_target = LOG_TARGET_AUTO;
static int		 log_journal;	/* resolved target */

static const char *const log_level_names[] = {
	[LOG_EMERG] = "emergency",
	[LOG_ALERT] = "alert",
	[LOG_CRIT] = "critical",
	[LOG_ERR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

/* True when stderr is the stream systemd connected to the journal. */
static int
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

static void
log_resolve(void)
{
	switch (log_target) {
	case LOG_TARGET_JOURNAL:
		log_journal = 1;
		break;
	case LOG_TARGET_STDERR:
		log_journal = 0;
		break;
	default:
		log_journal = log_stderr_is_journal();
		break;
	}
}

void
log_init(const char *ident, int level, enum log_target target)
{
	log_ident = ident;
	log_level = level;
	log_target = target;
	log_resolve();
}

void
log_set_level(int level)
{
	log_level = level;
}

void
log_set_target(enum log_target target)
{
	log_target = target;
	log_resolve();
}

int
log_to_journal(void)
{
	return log_journal;
}

int
log_level_from_name(const char *name, int *level)
{
	size_t i;

	for (i = 0; i < sizeof log_level_names / sizeof log_level_names[0]; i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			*level = (int)i;
			return 0;
		}
	}
	if (strcmp(name, "warn") == 0 || strcmp(name, "err") == 0) {
		*level = name[0] == 'w' ? LOG_WARNING : LOG_ERR;
		return 0;
	}
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return "unknown";
	return log_level_names[level];
}

static void
log_journal_send(int prio, const char *file, int line, const char *func,
    const struct log_field *fields, const char *msg)
{
	struct iovec iov[LOG_MAX_FIELDS + 7];
	char *str[LOG_MAX_FIELDS + 7];
	size_t n = 0, i;

	str[n++] = xasprintf("MESSAGE=%s", msg);
	str[n++] = xasprintf("PRIORITY=%d", prio);
	str[n++] = xasprintf("SYSLOG_IDENTIFIER=%s", log_ident);
	str[n++] = xasprintf("CODE_FILE=%s", file);
	str[n++] = xasprintf("CODE_LINE=%d", line);
	str[n++] = xasprintf("CODE_FUNC=%s", func);
	for (i = 0; fields != NULL && fields[i].name != NULL && i < LOG_MAX_FIELDS; i++) {
		if (fields[i].value != NULL)
			str[n++] = xasprintf("%s=%s", fields[i].name, fields[i].value);
	}
	for (i = 0; i < n; i++) {
		iov[i].iov_base = str[i];
		iov[i].iov_len = strlen(str[i]);
	}
	if (sd_journal_sendv(iov, (int)n) < 0)
		fprintf(stderr, "%s: %s\n", log_ident, msg);
	for (i = 0; i < n; i++)
		free(str[i]);
}

static void
log_stderr_write(int prio, const struct log_field *fields, const char *msg)
{
	char stamp[32];
	struct tm tm;
	time_t now;
	size_t i;

	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s %s[%ld]: %s: %s", stamp, log_ident, (long)getpid(),
	    log_level_name(prio), msg);
	for (i = 0; fields != NULL && fields[i].name != NULL; i++) {
		if (fields[i].value != NULL)
			fprintf(stderr, "%s%s=%s", i == 0 ? " [" : " ",
			    fields[i].name, fields[i].value);
	}
	fputs(fields != NULL && fields[0].name != NULL ? "]\n" : "\n", stderr);
	funlockfile(stderr);
}

void
log_emit(int prio, const char *file, int line, const char *func, int errnum,
    const struct log_field *fields, const char *fmt, ...)
{
	va_list ap;
	char *msg, *full;
	int saved = errno;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (errnum != 0) {
		full = xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
		msg = full;
	}
	if (log_journal)
		log_journal_send(prio, file, line, func, fields, msg);
	else
		log_stderr_write(prio, fields, msg);
	free(msg);
	errno = saved;
}
