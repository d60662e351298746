/*
 * fileio.c - whole files, secret files, file times (see fileio.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xmalloc.h"

#define FILEIO_OPEN	(O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* The POSIX ACL extended attribute (the kernel's ABI, linux/posix_acl_xattr.h). */
#define FILEIO_ACL_XATTR	"system.posix_acl_access"
#define FILEIO_ACL_VERSION	2
#define FILEIO_ACL_USER		0x02
#define FILEIO_ACL_GROUP_OBJ	0x04
#define FILEIO_ACL_GROUP	0x08
#define FILEIO_ACL_MASK		0x10
#define FILEIO_ACL_OTHER	0x20

/* Open path read-only; the fd, -1 with errno, or -2 when it is not a regular file. */
static int
fileio_open_regular(const char *path, struct stat *st)
{
	int fd, e;

	if ((fd = open(path, FILEIO_OPEN)) == -1)
		return -1;
	if (fstat(fd, st) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (S_ISREG(st->st_mode))
		return fd;
	close(fd);
	return -2;
}

/* Read fd to its end (at most max bytes) into *buf and *len, from hint bytes.
 * 0, or -1 with errno (EFBIG: over max). */
static int
fileio_read_fd(int fd, size_t hint, size_t max, char **buf, size_t *len)
{
	size_t cap = hint + 2, got = 0;	/* room for the NUL and the read that sees EOF */
	ssize_t n;
	int e;

	*buf = xmalloc(cap);
	for (;;) {
		if (got + 1 >= cap)
			*buf = xreallocarray(*buf, cap *= 2, 1);
		if ((n = read(fd, *buf + got, cap - got - 1)) == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && (got += (size_t)n) <= max)
			continue;
		e = n < 0 ? errno : EFBIG;
		free(*buf);
		*buf = NULL;
		errno = e;
		return -1;
	}
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

int
fileio_read(const char *path, char **buf, size_t *len, char **cause)
{
	struct stat st;
	int fd, e;

	*buf = NULL;
	*len = 0;
	if ((fd = fileio_open_regular(path, &st)) == -2) {
		*cause = xasprintf("%s: not a regular file", path);
		errno = EINVAL;
		return -1;
	}
	if (fd >= 0 && st.st_size > (off_t)FILEIO_READ_MAX)
		errno = EFBIG;
	else if (fd >= 0 && fileio_read_fd(fd, (size_t)st.st_size, FILEIO_READ_MAX, buf, len) == 0) {
		close(fd);
		return 0;
	}
	e = errno;
	if (fd >= 0)
		close(fd);
	if (e == EFBIG)
		*cause = xasprintf("%s: over %lu bytes", path, FILEIO_READ_MAX);
	else
		*cause = xasprintf("%s: %s", path, strerror(e));
	errno = e;
	return -1;
}

/* Fold one ACL entry into the group class (*group, but for the mask), *other and *mask. */
static void
fileio_acl_entry(const unsigned char *e, unsigned *group, unsigned *other, unsigned *mask)
{
	unsigned tag = e[0] | (unsigned)e[1] << 8, perm = (e[2] | (unsigned)e[3] << 8) & 7;
	uint32_t id = e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;

	if (tag == FILEIO_ACL_GROUP_OBJ || tag == FILEIO_ACL_GROUP ||
	    (tag == FILEIO_ACL_USER && id != (uint32_t)geteuid()))
		*group |= perm;
	else if (tag == FILEIO_ACL_OTHER)
		*other = perm;
	else if (tag == FILEIO_ACL_MASK)
		*mask = perm;
}

/*
 * What anyone but the owner and this process's user may do with the file,
 * as the group and other bits of a mode. With a POSIX ACL the group bits of
 * st_mode are the ACL's mask, so the entries are read instead: the owning
 * group, named groups and other users (under the mask), and others. An
 * entry for this process's own user is let be: that is how systemd hands
 * the service's user its LoadCredential= files (root's, 0400, with
 * user:UID:r--, which stat shows as 0440).
 */
static mode_t
fileio_others_mode(int fd, const struct stat *st)
{
	unsigned char acl[4 + 8 * 64];
	unsigned group = 0, other = 0, mask = 7;
	ssize_t n, i;

	n = fgetxattr(fd, FILEIO_ACL_XATTR, acl, sizeof acl);
	if (n < 4 + 8 * 3 || (n - 4) % 8 != 0 || acl[0] != FILEIO_ACL_VERSION || acl[1] != 0 ||
	    acl[2] != 0 || acl[3] != 0)
		return st->st_mode & (S_IRWXG | S_IRWXO);
	for (i = 4; i < n; i += 8)
		fileio_acl_entry(acl + i, &group, &other, &mask);
	return (mode_t)((group & mask) << 3 | other);
}

/* Check a secret file's kind and mode; 0, or -1 with *cause. */
static int
fileio_secret_check(int fd, const struct stat *st, const char *path, const char *what,
    char **cause)
{
	mode_t others = fileio_others_mode(fd, st);

	if (others != 0) {
		*cause = xasprintf("%s %s: mode %04o gives access to its group or others "
		    "(use 0600 or 0400)", what, path,
		    (unsigned)((st->st_mode & (S_IRWXU | 07000)) | others));
		return -1;
	}
	if (st->st_size > FILEIO_SECRET_MAX) {
		*cause = xasprintf("%s %s: over %d bytes", what, path, FILEIO_SECRET_MAX);
		return -1;
	}
	return 0;
}

/* Read a checked secret file into buf (FILEIO_SECRET_MAX + 2 bytes); 0, or -1 with *cause. */
static int
fileio_secret_fd(int fd, char *buf, size_t *len, const char *path, const char *what,
    char **cause)
{
	size_t n = 0, cap = FILEIO_SECRET_MAX + 1;	/* a byte more tells it grew */
	ssize_t r;

	while (n < cap && ((r = read(fd, buf + n, cap - n)) != 0)) {
		if (r > 0)
			n += (size_t)r;
		else if (errno != EINTR) {
			*cause = xasprintf("%s %s: %s", what, path, strerror(errno));
			return -1;
		}
	}
	buf[n] = '\0';
	*len = n;
	if (n > FILEIO_SECRET_MAX)
		*cause = xasprintf("%s %s: over %d bytes", what, path, FILEIO_SECRET_MAX);
	else if (memchr(buf, '\0', n) != NULL)
		*cause = xasprintf("%s %s: holds a NUL byte", what, path);
	else
		return 0;
	return -1;
}

int
fileio_secret_text(const char *path, const char *what, char **out, size_t *len,
    char **cause)
{
	char buf[FILEIO_SECRET_MAX + 2];
	struct stat st;
	int fd, rc = -1;

	*out = NULL;
	*len = 0;
	if ((fd = fileio_open_regular(path, &st)) < 0) {
		if (fd == -2)
			*cause = xasprintf("%s %s: not a regular file", what, path);
		else
			*cause = xasprintf("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fileio_secret_check(fd, &st, path, what, cause) == 0 &&
	    fileio_secret_fd(fd, buf, len, path, what, cause) == 0) {
		*out = xmalloc(*len + 1);
		memcpy(*out, buf, *len + 1);
		rc = 0;
	} else
		*len = 0;
	close(fd);
	explicit_bzero(buf, sizeof buf);
	return rc;
}

int
fileio_secret(const char *path, const char *what, char **out, char **cause)
{
	char *text, *s;
	size_t len;
	int rc = -1;

	*out = NULL;
	if (fileio_secret_text(path, what, &text, &len, cause) != 0)
		return -1;
	for (s = text; *s != '\0' && isspace((unsigned char)*s); s++)
		;
	while (len > (size_t)(s - text) && isspace((unsigned char)text[len - 1]))
		text[--len] = '\0';
	if (*s == '\0')
		*cause = xasprintf("%s %s: empty", what, path);
	else if (strpbrk(s, "\r\n") != NULL)
		*cause = xasprintf("%s %s: more than one line", what, path);
	else {
		*out = xstrdup(s);
		rc = 0;
	}
	explicit_bzero(text, len);
	free(text);
	return rc;
}

void
fileio_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

int64_t
fileio_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}
