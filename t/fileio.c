/*
 * t/fileio.c - whole files (contents, growth, missing files, directories,
 * FIFOs, the size limit) and the one secret-file policy: every refusal with
 * its exact message (missing, not a regular file, group- or world-readable,
 * a POSIX ACL that lets others in, too long, a NUL byte, empty, more than
 * one line), 0600 and 0400 accepted, the systemd credential's ACL accepted,
 * white space trimmed, contents in no message; file times in ns.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xmalloc.h"
#include "tap.h"

static char dir[] = "/tmp/caom2ingest-fileio.XXXXXX";

/* dir/name holding len bytes of text, with mode; its path (allocated). */
static char *
put(const char *name, const char *text, size_t len, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp;

	unlink(path);
	if ((fp = fopen(path, "w")) == NULL || fwrite(text, 1, len, fp) != len ||
	    fclose(fp) != 0 || chmod(path, mode) != 0)
		bail("%s: %s", path, strerror(errno));
	return path;
}

static char *
puts0(const char *name, const char *text, mode_t mode)
{
	return put(name, text, strlen(text), mode);
}

/* The message of fileio_read on path (NULL when it succeeded). */
static char *
read_cause(const char *path)
{
	char *buf = NULL, *cause = NULL;
	size_t len;

	if (fileio_read(path, &buf, &len, &cause) == 0)
		free(buf);
	return cause;
}

/* The message of fileio_secret on path as a token file (NULL when it succeeded). */
static char *
secret_cause(const char *path)
{
	char *out = NULL, *cause = NULL;

	if (fileio_secret(path, "token file", &out, &cause) == 0)
		fileio_secret_free(out);
	return cause;
}

/* fileio_secret's message for path is "token file PATH: reason". */
static void
refused(const char *path, const char *reason, const char *what)
{
	char *want = xasprintf("token file %s: %s", path, reason), *cause = secret_cause(path);

	is_string(want, cause, "refused: %s", what);
	free(want);
	free(cause);
}

static void
test_read(void)
{
	static char big[300000];
	char *path, *buf = NULL, *cause = NULL, *want;
	size_t len = 0, i;

	path = puts0("plain", "one\ntwo\n", 0644);
	ok(fileio_read(path, &buf, &len, &cause) == 0 && len == 8 && strcmp(buf, "one\ntwo\n") == 0,
	    "a file whole, NUL-terminated");
	free(buf);
	free(path);
	path = put("empty", "", 0, 0644);
	ok(fileio_read(path, &buf, &len, &cause) == 0 && len == 0 && buf != NULL && *buf == '\0',
	    "an empty file: an empty string");
	free(buf);
	free(path);
	for (i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	path = put("big", big, sizeof big, 0644);
	ok(fileio_read(path, &buf, &len, &cause) == 0 && len == sizeof big &&
	    memcmp(buf, big, len) == 0 && buf[len] == '\0', "300000 bytes, exactly");
	free(buf);
	free(path);

	path = xasprintf("%s/absent", dir);
	want = xasprintf("%s: No such file or directory", path);
	errno = 0;
	cause = read_cause(path);
	is_string(want, cause, "a missing file: PATH: reason");
	is_int(ENOENT, errno, "and errno says ENOENT");
	free(cause);
	free(want);
	free(path);
	want = xasprintf("%s: not a regular file", dir);
	cause = read_cause(dir);
	is_string(want, cause, "a directory is not read");
	free(cause);
	free(want);
}

static void
test_read_special(void)
{
	char *path = xasprintf("%s/fifo", dir), *want, *cause;
	int fd;

	if (mkfifo(path, 0600) != 0)
		bail("mkfifo: %s", strerror(errno));
	alarm(20);	/* a FIFO must be refused, not waited on */
	want = xasprintf("%s: not a regular file", path);
	cause = read_cause(path);
	is_string(want, cause, "a FIFO is refused without waiting for a writer");
	free(cause);
	free(want);
	refused(path, "not a regular file", "a FIFO as a secret");
	alarm(0);
	free(path);

	path = xasprintf("%s/huge", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    ftruncate(fd, (off_t)FILEIO_READ_MAX + 1) != 0 || close(fd) != 0)
		bail("%s: %s", path, strerror(errno));
	want = xasprintf("%s: over %lu bytes", path, FILEIO_READ_MAX);
	cause = read_cause(path);
	is_string(want, cause, "a file over FILEIO_READ_MAX is refused before reading");
	free(cause);
	free(want);
	unlink(path);
	free(path);
}

static void
test_secret_accepted(void)
{
	char *path, *out = NULL, *cause = NULL, *text = NULL, exact[FILEIO_SECRET_MAX + 1];
	size_t len = 0;

	path = puts0("tok600", "s3cr3t-t0ken\n", 0600);
	ok(fileio_secret(path, "token file", &out, &cause) == 0 && strcmp(out, "s3cr3t-t0ken") == 0,
	    "a 0600 file is accepted, its newline dropped");
	fileio_secret_free(out);
	free(path);
	path = puts0("tok400", "s3cr3t-t0ken", 0400);
	ok(fileio_secret(path, "token file", &out, &cause) == 0 && strcmp(out, "s3cr3t-t0ken") == 0,
	    "a 0400 file without a newline is accepted");
	fileio_secret_free(out);
	free(path);
	path = puts0("tokws", " \t s3cr3t t0ken \r\n\n", 0600);
	ok(fileio_secret(path, "token file", &out, &cause) == 0 && strcmp(out, "s3cr3t t0ken") == 0,
	    "white space around the line is trimmed (inside it is kept)");
	fileio_secret_free(out);
	free(path);
	memset(exact, 'x', FILEIO_SECRET_MAX);
	path = put("tokmax", exact, FILEIO_SECRET_MAX, 0600);
	ok(fileio_secret(path, "token file", &out, &cause) == 0 &&
	    strlen(out) == FILEIO_SECRET_MAX, "exactly FILEIO_SECRET_MAX bytes are accepted");
	fileio_secret_free(out);
	free(path);
	path = puts0("creds", "[default]\nkey = AK\nsecret = SK\n", 0600);
	ok(fileio_secret_text(path, "credentials file", &text, &len, &cause) == 0 && len == 31 &&
	    strcmp(text, "[default]\nkey = AK\nsecret = SK\n") == 0,
	    "fileio_secret_text: a whole secret file of several lines");
	fileio_secret_free(text);
	free(path);
	fileio_secret_free(NULL);
}

static void
test_secret_refused(void)
{
	static const mode_t modes[] = { 0644, 0640, 0604, 0620, 0610, 0602, 0660 };
	char *path, *reason, *desc, *cause = NULL, *text = NULL, big[FILEIO_SECRET_MAX + 1];
	size_t i, len;

	path = xasprintf("%s/absent", dir);
	refused(path, "No such file or directory", "a missing file");
	free(path);
	refused(dir, "not a regular file", "a directory");
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		path = puts0("open", "s3cr3t-t0ken\n", modes[i]);
		reason = xasprintf("mode %04o gives access to its group or others "
		    "(use 0600 or 0400)", (unsigned)modes[i]);
		desc = xasprintf("mode %04o", (unsigned)modes[i]);
		refused(path, reason, desc);
		free(desc);
		free(reason);
		free(path);
	}
	path = puts0("empty", "", 0600);
	refused(path, "empty", "an empty file");
	free(path);
	path = puts0("blank", "  \n\t\n", 0600);
	refused(path, "empty", "white space only");
	free(path);
	path = puts0("two", "s3cr3t-one\ns3cr3t-two\n", 0600);
	refused(path, "more than one line", "two lines");
	free(path);
	path = puts0("cr", "s3cr3t\rt0ken", 0600);
	refused(path, "more than one line", "a carriage return inside");
	free(path);
	path = put("nul", "s3cr3t\0t0ken\n", 13, 0600);
	refused(path, "holds a NUL byte", "a NUL byte");
	free(path);
	memset(big, 'x', sizeof big);
	path = put("toolong", big, sizeof big, 0600);
	refused(path, "over 8192 bytes", "FILEIO_SECRET_MAX + 1 bytes");
	free(path);
	path = puts0("creds644", "[default]\nsecret = s3cr3t\n", 0644);
	reason = xasprintf("credentials file %s: mode 0644 gives access to its group or others "
	    "(use 0600 or 0400)", path);
	ok(fileio_secret_text(path, "credentials file", &text, &len, &cause) == -1 && text == NULL,
	    "fileio_secret_text: the same policy");
	is_string(reason, cause, "with the caller's WHAT");
	free(cause);
	free(reason);
	free(path);
}

/* Give path an access ACL: owner r, one named user (uid) r, group none, mask r, other none. */
static int
set_acl(const char *path, uint32_t uid)
{
	unsigned char acl[4 + 5 * 8], *e = acl + 4;
	static const struct { unsigned tag, perm; int named; } ent[] = {
		{ 0x01, 4, 0 }, { 0x02, 4, 1 }, { 0x04, 0, 0 }, { 0x10, 4, 0 }, { 0x20, 0, 0 }
	};
	uint32_t id;
	size_t i;

	memset(acl, 0, sizeof acl);
	acl[0] = 2;
	for (i = 0; i < 5; i++, e += 8) {
		id = ent[i].named ? uid : UINT32_MAX;
		e[0] = (unsigned char)ent[i].tag;
		e[2] = (unsigned char)ent[i].perm;
		e[4] = id & 0xff;
		e[5] = (id >> 8) & 0xff;
		e[6] = (id >> 16) & 0xff;
		e[7] = (unsigned char)(id >> 24);
	}
	return setxattr(path, "system.posix_acl_access", acl, sizeof acl, 0);
}

static void
test_secret_acl(void)
{
	char *path = puts0("cred-acl", "s3cr3t-t0ken\n", 0400), *out = NULL, *cause = NULL;
	char *reason;
	struct stat st;

	if (set_acl(path, (uint32_t)geteuid()) != 0) {
		skip(3, "no POSIX ACLs on %s: %s", dir, strerror(errno));
		free(path);
		return;
	}
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0440,
	    "an ACL for one user shows as mode 0440 (its mask)");
	ok(fileio_secret(path, "token file", &out, &cause) == 0 && strcmp(out, "s3cr3t-t0ken") == 0,
	    "root's 0400 file with user:ME:r (as systemd's LoadCredential= writes it) is accepted");
	fileio_secret_free(out);
	set_acl(path, (uint32_t)geteuid() + 4242);
	reason = xasprintf("mode 0440 gives access to its group or others (use 0600 or 0400)");
	refused(path, reason, "an ACL that lets another user read it");
	free(reason);
	free(path);
}

static void
test_mtime(void)
{
	struct timespec ts[2] = { { 1700000000, 123456789 }, { 1700000000, 123456789 } };
	char *path = puts0("times", "x", 0644);
	struct stat st;

	if (utimensat(AT_FDCWD, path, ts, 0) != 0 || stat(path, &st) != 0)
		bail("%s: %s", path, strerror(errno));
	is_int(1700000000123456789LL, fileio_mtime_ns(&st), "seconds and nanoseconds in ns");
	ts[1].tv_sec = -2;
	ts[1].tv_nsec = 500000000;
	if (utimensat(AT_FDCWD, path, ts, 0) != 0 || stat(path, &st) != 0)
		bail("%s: %s", path, strerror(errno));
	is_int(-1500000000LL, fileio_mtime_ns(&st), "before the epoch too");
	free(path);
}

int
main(void)
{
	char *cmd;

	plan(36);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	umask(022);
	test_read();
	test_read_special();
	test_secret_accepted();
	test_secret_refused();
	test_secret_acl();
	test_mtime();
	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	free(cmd);
	return 0;
}
