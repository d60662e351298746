/*
 * t/sink_dir.c - the directory sink: write, read, replace, unsafe IDs, a
 * file beside the observations, a full disk, and a writer killed mid-write
 * (the old file stays whole).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sinks/sink_dir.h"
#include "tap.h"
#include "lib/xmalloc.h"

static char dir[] = "/tmp/caom2ingest-sink.XXXXXX";

static void
test_basic(void)
{
	char *buf = NULL, *cause = NULL, *path;
	size_t len = 0;
	struct stat st;

	is_int(1, sink_dir_read(dir, "OMM", "C1", &buf, &len, &cause), "absent: 1");
	ok(sink_dir_write(dir, "OMM", "C1", "<one/>", 6, &cause) == 0, "write");
	ok(sink_dir_read(dir, "OMM", "C1", &buf, &len, &cause) == 0 && len == 6 &&
	    strcmp(buf, "<one/>") == 0, "read it back");
	free(buf);
	ok(sink_dir_write(dir, "OMM", "C1", "<two/>!", 7, &cause) == 0, "replace");
	ok(sink_dir_read(dir, "OMM", "C1", &buf, &len, &cause) == 0 && len == 7 &&
	    strcmp(buf, "<two/>!") == 0, "the new content");
	free(buf);
	path = xasprintf("%s/OMM/C1.xml", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode 0640");
	free(path);
}

static void
test_unsafe(void)
{
	static const char *const bad[] = { "..", ".", "", "a/b", NULL };
	char *cause = NULL;
	int i, refused = 0;

	for (i = 0; bad[i] != NULL; i++) {
		if (sink_dir_write(dir, "OMM", bad[i], "x", 1, &cause) == -1)
			refused++;
		free(cause);
		cause = NULL;
		if (sink_dir_write(dir, bad[i], "C1", "x", 1, &cause) == -1)
			refused++;
		free(cause);
		cause = NULL;
	}
	is_int(8, refused, "unsafe IDs are refused as path components");
	sink_dir_write(dir, "OMM", "../escape", "x", 1, &cause);
	is_string("unsafe collection or observation ID 'OMM/../escape' for a file name", cause,
	    "with a clear message");
	free(cause);
}

/* A file beside the observations (a preview): written whole, unsafe names refused. */
static void
test_file(void)
{
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', 0, 1, 2 };
	char *cause = NULL, *path = xasprintf("%s/OMM/C1_prev.png", dir), *cmd;
	unsigned char got[16];
	FILE *fp;
	size_t n = 0;

	ok(sink_dir_write_file(dir, "OMM", "C1_prev.png", png, sizeof png, &cause) == 0 &&
	    (fp = fopen(path, "rb")) != NULL && (n = fread(got, 1, sizeof got, fp)) ==
	    sizeof png && fclose(fp) == 0 && memcmp(got, png, n) == 0,
	    "a file beside the observations, written whole");
	ok(sink_dir_write_file(dir, "OMM", "../x.png", png, sizeof png, &cause) != 0 &&
	    strcmp(cause, "unsafe collection or file name 'OMM/../x.png'") == 0,
	    "a name with a slash is refused: %s", cause ? cause : "accepted");
	free(cause);
	cmd = xasprintf("ls -A %s/OMM | grep -q '^\\.'", dir);
	ok(system(cmd) != 0, "no temporary file is left");
	free(cmd);
	free(path);
}

static void
test_full_disk(void)
{
	char *cause = NULL;

	if (access("/dev/full", W_OK) != 0 || system("mount -t tmpfs -o size=64k tmpfs "
	    "/tmp/caom2ingest-sink-full 2>/dev/null || true") != 0) {
		skip(2, "no way to fill a disk");
		return;
	}
	mkdir("/tmp/caom2ingest-sink-full", 0700);
	if (system("mountpoint -q /tmp/caom2ingest-sink-full || mount -t tmpfs -o size=64k "
	    "tmpfs /tmp/caom2ingest-sink-full 2>/dev/null") != 0) {
		skip(2, "cannot mount a small tmpfs (not root)");
		return;
	}
	{
		size_t big = 256 * 1024;
		char *buf = xcalloc(1, big);

		ok(sink_dir_write("/tmp/caom2ingest-sink-full", "OMM", "C1", buf, big, &cause) == -1,
		    "a full disk fails the write");
		ok(cause != NULL && strstr(cause, "No space left on device") != NULL,
		    "and says so: %s", cause ? cause : "");
		free(buf);
		free(cause);
	}
	if (system("umount /tmp/caom2ingest-sink-full; rmdir /tmp/caom2ingest-sink-full") != 0)
		diag("cleanup failed");
}

static void
test_killed(void)
{
	size_t big = 16 * 1024 * 1024, len;
	char *buf = xmalloc(big), *got = NULL, *cause = NULL;
	int i, whole = 0;
	pid_t pid;

	memset(buf, 'n', big);
	sink_dir_write(dir, "OMM", "K", "<old/>", 6, &cause);
	for (i = 0; i < 10; i++) {
		if ((pid = fork()) == 0) {
			sink_dir_write(dir, "OMM", "K", buf, big, &cause);
			_exit(0);
		}
		usleep((useconds_t)(i * 3000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (sink_dir_read(dir, "OMM", "K", &got, &len, &cause) == 0 &&
		    ((len == 6 && strcmp(got, "<old/>") == 0) || len == big))
			whole++;
		free(got);
		got = NULL;
		if (len == big)
			sink_dir_write(dir, "OMM", "K", "<old/>", 6, &cause);
	}
	is_int(10, whole, "a writer killed at any moment leaves a whole file, old or new");
	free(buf);
}

int
main(void)
{
	char *cmd;

	plan(14);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	test_basic();
	test_unsafe();
	test_file();
	test_full_disk();
	test_killed();
	cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("cleanup failed");
	free(cmd);
	return 0;
}
