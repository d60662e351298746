/*
 * sink_dir.c - the directory sink: atomic XML files per observation.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "sinks/sink_dir.h"
#include "lib/xmalloc.h"

static int
sink_dir_safe(const char *id)
{
	return id[0] != '\0' && strcmp(id, ".") != 0 && strcmp(id, "..") != 0 &&
	    strchr(id, '/') == NULL;
}

char *
sink_dir_path(const char *dir, const char *collection, const char *observation,
    char **cause)
{
	if (!sink_dir_safe(collection) || !sink_dir_safe(observation)) {
		*cause = xasprintf("unsafe collection or observation ID '%s/%s' for a file name",
		    collection, observation);
		return NULL;
	}
	return xasprintf("%s/%s/%s.xml", dir, collection, observation);
}

int
sink_dir_read(const char *dir, const char *collection, const char *observation,
    char **buf, size_t *len, char **cause)
{
	char *path;
	int r = 0;

	if ((path = sink_dir_path(dir, collection, observation, cause)) == NULL)
		return -1;
	if (fileio_read(path, buf, len, cause) != 0) {
		r = errno == ENOENT ? 1 : -1;
		if (r == 1) {
			free(*cause);
			*cause = NULL;
		}
	}
	free(path);
	return r;
}

static int
sink_dir_fsync_dir(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Write all of buf to fd; 0 or -1 with errno. */
static int
sink_dir_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
sink_dir_mkdir(const char *path)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
sink_dir_write_file(const char *dir, const char *collection, const char *name,
    const void *buf, size_t len, char **cause)
{
	char *path, *tmp, *cdir;
	int fd = -1, r = -1;

	if (!sink_dir_safe(collection) || !sink_dir_safe(name)) {
		*cause = xasprintf("unsafe collection or file name '%s/%s'", collection, name);
		return -1;
	}
	path = xasprintf("%s/%s/%s", dir, collection, name);
	cdir = xasprintf("%s/%s", dir, collection);
	tmp = xasprintf("%s/.%s.XXXXXX", cdir, name);
	if (sink_dir_mkdir(dir) != 0 || sink_dir_mkdir(cdir) != 0 ||
	    (fd = mkostemp(tmp, O_CLOEXEC)) < 0 || fchmod(fd, 0640) != 0 ||
	    sink_dir_write_all(fd, buf, len) != 0 || fsync(fd) != 0 || close(fd) != 0 ||
	    (fd = -1, rename(tmp, path)) != 0 || sink_dir_fsync_dir(cdir) != 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	} else
		r = 0;
	free(tmp);
	free(cdir);
	free(path);
	return r;
}

int
sink_dir_write(const char *dir, const char *collection, const char *observation,
    const char *buf, size_t len, char **cause)
{
	char *path, *name;
	int r;

	if ((path = sink_dir_path(dir, collection, observation, cause)) == NULL)
		return -1;
	name = xasprintf("%s.xml", observation);
	r = sink_dir_write_file(dir, collection, name, buf, len, cause);
	free(name);
	free(path);
	return r;
}
