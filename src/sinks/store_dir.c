/*
 * store_dir.c - the directory store: a file is kept as
 * DIR/{artifact URI with its ':' and '/' as path} ("cadc:OMM/x.fits" is
 * DIR/cadc/OMM/x.fits), written atomically: copied to a temporary name
 * beside it (hashed as it is read), fsync'ed, read back and checked
 * against the file's MD5, renamed into place, and the directory fsync'ed.
 * A file in place with the same MD5 is left alone. All of it runs on the
 * executor, none on the loop.
 */
#include "config.h"

#include "sinks/storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/stats.h"
#include "lib/xmalloc.h"

#define DIR_BUF		(1 << 20)

struct dir_put {
	struct storage_req	*q;
	char			*dest;
	char			*tmp;
	char			*src;
	char			 md5[37];	/* expected */
	int64_t			 size;
	enum storage_result	 result;
	char			*msg;
	int64_t			 sent;
};

/* Failures that trying again will not cure. */
static enum storage_result
dir_class(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
	case EROFS:
	case ENAMETOOLONG:
	case ENOTDIR:
	case EISDIR:
		return STORAGE_PERMANENT;
	default:
		return STORAGE_TRANSIENT;
	}
}

/* "WHAT PATH: reason" as the put's end; -1. */
static int
dir_fail(struct dir_put *d, int err, const char *what, const char *path)
{
	d->result = dir_class(err);
	free(d->msg);
	d->msg = xasprintf("%s %s: %s", what, path, strerror(err));
	return -1;
}

/* The MD5 of a file's bytes (fd from its start) and their number; 0, or -1 with errno. */
static int
dir_md5_fd(int fd, int out, char md5[37], int64_t *n)
{
	char *buf = xmalloc(DIR_BUF);
	MD5_CTX ctx;
	ssize_t got, w;
	int64_t total = 0;
	size_t off;

	MD5_Init(&ctx);
	for (;;) {
		if ((got = read(fd, buf, DIR_BUF)) < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		MD5_Update(&ctx, buf, (size_t)got);
		total += got;
		for (off = 0; out >= 0 && off < (size_t)got; off += (size_t)w) {
			if ((w = write(out, buf + off, (size_t)got - off)) < 0 && errno == EINTR)
				w = 0;
			else if (w < 0) {
				free(buf);
				return -1;
			}
		}
	}
	free(buf);
	if (got < 0)
		return -1;
	storage_md5_peek(&ctx, md5);
	*n = total;
	return 0;
}

/* The MD5 of the file at path; 0, 1 when there is none, or -1 with errno. */
static int
dir_md5_path(const char *path, char md5[37], int64_t *n)
{
	int fd, r, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 1 : -1;
	r = dir_md5_fd(fd, -1, md5, n);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

static int
dir_fsync_dir(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* mkdir -p of dest's directory, each new directory made durable in its parent. */
static int
dir_parents(struct dir_put *d, const char *dir)
{
	char *copy, *parent;
	int r = 0;

	if (mkdir(dir, 0755) == 0) {
		copy = xstrdup(dir);
		parent = dirname(copy);
		r = dir_fsync_dir(parent);
		free(copy);
		return r == 0 ? 0 : dir_fail(d, errno, "fsync of the directory above", dir);
	}
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return dir_fail(d, errno, "mkdir", dir);
	copy = xstrdup(dir);
	parent = dirname(copy);
	r = strcmp(parent, dir) != 0 ? dir_parents(d, parent) : -1;
	free(copy);
	if (r != 0)
		return -1;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return dir_fail(d, errno, "mkdir", dir);
	return 0;
}

/* Copy the file to d->tmp, checking what was read against its MD5; 0 or -1. */
static int
dir_copy(struct dir_put *d)
{
	char got[37];
	int64_t n = 0;
	int in, out, e;

	if ((in = open(d->src, O_RDONLY | O_CLOEXEC)) < 0)
		return dir_fail(d, errno, "reading", d->src);
	if ((out = mkostemp(d->tmp, O_CLOEXEC)) < 0) {
		e = errno;
		close(in);
		return dir_fail(d, e, "creating", d->tmp);
	}
	if (dir_md5_fd(in, out, got, &n) != 0 || fchmod(out, 0644) != 0 ||
	    fsync(out) != 0) {
		e = errno;
		close(in);
		close(out);
		return dir_fail(d, e, "writing", d->tmp);
	}
	close(in);
	if (close(out) != 0)
		return dir_fail(d, errno, "writing", d->tmp);
	if (n != d->size || strcmp(got, d->md5) != 0) {
		d->result = STORAGE_TRANSIENT;
		d->msg = xasprintf("%s changed while being stored (%lld bytes, %s; %lld, %s "
		    "expected)", d->src, (long long)n, got, (long long)d->size, d->md5);
		return -1;
	}
	d->sent = n;
	return 0;
}

/* Read the copy back: what is on disk must be what was meant. */
static int
dir_check_copy(struct dir_put *d)
{
	char got[37];
	int64_t n = 0;

	if (dir_md5_path(d->tmp, got, &n) != 0)
		return dir_fail(d, errno, "reading back", d->tmp);
	if (n != d->size || strcmp(got, d->md5) != 0) {
		d->result = STORAGE_TRANSIENT;
		d->msg = xasprintf("%s reads back as %lld bytes, %s, not %lld, %s", d->tmp,
		    (long long)n, got, (long long)d->size, d->md5);
		return -1;
	}
	return 0;
}

/* On the executor: the whole put. */
static void
dir_run(void *arg)
{
	struct dir_put *d = arg;
	char got[37], *copy, *dir;
	int64_t n = 0;
	int r;

	if ((r = dir_md5_path(d->dest, got, &n)) == 0 && n == d->size &&
	    strcmp(got, d->md5) == 0) {
		d->result = STORAGE_PRESENT;
		d->msg = xasprintf("%s holds it already", d->dest);
		return;
	}
	if (r < 0) {
		dir_fail(d, errno, "reading", d->dest);
		return;
	}
	copy = xstrdup(d->dest);
	dir = dirname(copy);
	d->tmp = xasprintf("%s/.%s.XXXXXX", dir, strrchr(d->dest, '/') + 1);
	if (dir_parents(d, dir) == 0 && dir_copy(d) == 0 && dir_check_copy(d) == 0) {
		if (rename(d->tmp, d->dest) != 0)
			dir_fail(d, errno, "renaming into", d->dest);
		else if (dir_fsync_dir(dir) != 0)
			dir_fail(d, errno, "fsync of", dir);
		else {
			d->result = STORAGE_STORED;
			d->msg = xasprintf("stored as %s", d->dest);
		}
	}
	if (d->result != STORAGE_STORED)
		unlink(d->tmp);
	free(copy);
}

/* On the loop. */
static void
dir_ran(void *arg)
{
	struct dir_put *d = arg;
	struct storage_req *q = d->q;

	if (d->result == STORAGE_STORED) {
		q->sent = d->sent;
		stats_add(STATS_STORE_BYTES, (uint64_t)d->sent);
	}
	storage_end(q, d->result, 0, "%s", d->msg != NULL ? d->msg : "");
}

static char *
dir_locate(const struct storage *st, const char *uri, char **cause)
{
	char *rel = storage_uri_path(uri, cause), *p;

	if (rel == NULL)
		return NULL;
	p = xasprintf("%s/%s", (const char *)st->bs, rel);
	free(rel);
	return p;
}

static void
dir_start(struct storage_req *q)
{
	struct dir_put *d = xcalloc(1, sizeof *d);
	char *cause = NULL;

	q->be = d;
	d->q = q;
	d->result = STORAGE_TRANSIENT;
	if ((d->dest = dir_locate(q->st, q->f.uri, &cause)) == NULL) {
		storage_end(q, STORAGE_PERMANENT, 0, "%s", cause);
		free(cause);
		return;
	}
	d->src = xstrdup(q->f.path);
	snprintf(d->md5, sizeof d->md5, "%s", q->f.md5);
	d->size = q->f.size;
	storage_submit(q->st, dir_run, dir_ran, d);
}

static void
dir_clear(struct storage_req *q)
{
	struct dir_put *d = q->be;

	if (d == NULL)
		return;
	free(d->dest);
	free(d->tmp);
	free(d->src);
	free(d->msg);
	free(d);
	q->be = NULL;
}

static int
dir_init(struct storage *st, const struct storage_config *cfg, char **cause)
{
	struct stat sb;
	size_t n;

	if (cfg->directory == NULL) {
		*cause = xstrdup("storage: no directory given");
		return -1;
	}
	if (stat(cfg->directory, &sb) != 0) {
		*cause = xasprintf("storage directory %s: %s", cfg->directory, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		*cause = xasprintf("storage directory %s: not a directory", cfg->directory);
		return -1;
	}
	n = strlen(cfg->directory);
	while (n > 1 && cfg->directory[n - 1] == '/')
		n--;
	st->bs = xstrndup(cfg->directory, n);
	st->target = xasprintf("directory:%s", (char *)st->bs);
	return 0;
}

static void
dir_fini(struct storage *st)
{
	free(st->bs);
}

const struct storage_backend store_dir_backend = {
	"directory", dir_init, dir_start, dir_clear, dir_fini, dir_locate
};
