/*
 * fileio.c - whole files, secret files, file times (see fileio.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xmalloc.h"

/* Read fd to its end into *buf, growing from hint bytes. 0, or -1 with errno. */
static int
file_read_fd(int fd, size_t hint, char **buf, size_t *len)
{
	size_t cap = hint + 1, got = 0;
	ssize_t n;

	*buf = xmalloc(cap);
	for (;;) {
		if (got + 1 >= cap)
			*buf = xreallocarray(*buf, cap *= 2, 1);
		if ((n = read(fd, *buf + got, cap - got - 1)) < 0) {
			if (errno == EINTR)
				continue;
			free(*buf);
			*buf = NULL;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

int
file_slurp(const char *path, char **buf, size_t *len, char **cause)
{
	struct stat st;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	r = file_read_fd(fd, (size_t)st.st_size, buf, len);
	if (r != 0)
		*cause = xasprintf("%s: %s", path, strerror(errno));
	close(fd);
	return r;
}

/* Check a secret file's kind and mode; 0, or -1 with *cause. */
static int
file_secret_check(int fd, const char *path, const char *what, char **cause)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		*cause = xasprintf("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s %s: not a regular file", what, path);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		*cause = xasprintf("%s %s: mode %04o lets others read it (chmod 600 or 400)",
		    what, path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int
file_secret(const char *path, const char *what, char **out, char **cause)
{
	char buf[FILEIO_SECRET_MAX + 1], *s = buf;
	size_t n = 0, end;
	ssize_t r;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		*cause = xasprintf("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (file_secret_check(fd, path, what, cause) != 0) {
		close(fd);
		return -1;
	}
	while (n < sizeof buf - 1 && ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0 ||
	    (r < 0 && errno == EINTR)))
		n += r > 0 ? (size_t)r : 0;
	close(fd);
	buf[n] = '\0';
	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	for (end = strlen(s); end > 0 && isspace((unsigned char)s[end - 1]); end--)
		s[end - 1] = '\0';
	rc = -1;
	if (n == sizeof buf - 1)
		*cause = xasprintf("%s %s: over %d bytes", what, path, FILEIO_SECRET_MAX);
	else if (end == 0)
		*cause = xasprintf("%s %s: empty", what, path);
	else if (strpbrk(s, "\r\n") != NULL)
		*cause = xasprintf("%s %s: expected one line", what, path);
	else {
		*out = xstrdup(s);
		rc = 0;
	}
	explicit_bzero(buf, sizeof buf);
	return rc;
}

void
file_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

int64_t
file_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}
