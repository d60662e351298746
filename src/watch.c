/*
 * watch.c - landing directory trees: inotify events and rescans.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "log.h"
#include "msgid.h"
#include "watch.h"
#include "xmalloc.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | \
	IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define WATCH_EMPTY	0
#define WATCH_GONE	(-1)

struct watch_dir {
	int		 wd;		/* WATCH_EMPTY, WATCH_GONE or a descriptor */
	char		*path;
	unsigned	 root;		/* index into roots */
};

struct watch_root {
	char		*path;
	int		 poll;		/* rescanned, not watched */
	int		 watched;	/* its top directory has a watch */
};

/*
 * Watched directories by descriptor. An open-addressing table written here
 * because libc offers none that can be iterated (moved subtrees must be
 * dropped by path prefix) and the daemon links no container library.
 */
struct watch_table {
	struct watch_dir *slots;
	size_t		  cap;		/* a power of two */
	size_t		  used;		/* live + tombstones */
	size_t		  live;
};

struct watch {
	struct ev_loop		*loop;
	int			 fd;
	ev_io			 io;
	ev_timer		 rescan_timer;
	ev_timer		 poll_timer;
	watch_cb		*cb;
	void			*arg;
	struct watch_root	*roots;
	unsigned		 nroots;
	struct watch_table	 dirs;
	struct watch_stats	 stats;
};

static void watch_scan_dir(struct watch *w, unsigned root, const char *path, int inotify);

static size_t
watch_hash(int wd, size_t cap)
{
	return ((size_t)wd * 2654435761u) & (cap - 1);
}

static struct watch_dir *
watch_table_find(struct watch_table *t, int wd)
{
	size_t i;

	if (t->cap == 0)
		return NULL;
	for (i = watch_hash(wd, t->cap); t->slots[i].wd != WATCH_EMPTY; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].wd == wd)
			return &t->slots[i];
	}
	return NULL;
}

static void watch_table_put(struct watch_table *t, int wd, char *path, unsigned root);

/* Rebuild the table at a size that keeps it at most half full. */
static void
watch_table_grow(struct watch_table *t)
{
	struct watch_table old = *t;
	size_t i;

	t->cap = t->cap == 0 ? 64 : (t->live + 1) * 4 > t->cap ? t->cap * 2 : t->cap;
	t->slots = xcalloc(t->cap, sizeof *t->slots);
	t->used = t->live = 0;
	for (i = 0; i < old.cap; i++) {
		if (old.slots[i].wd > 0)
			watch_table_put(t, old.slots[i].wd, old.slots[i].path, old.slots[i].root);
	}
	free(old.slots);
}

/* Insert wd; the table takes ownership of path. */
static void
watch_table_put(struct watch_table *t, int wd, char *path, unsigned root)
{
	size_t i;

	if ((t->used + 1) * 2 > t->cap)
		watch_table_grow(t);
	for (i = watch_hash(wd, t->cap); t->slots[i].wd > 0; i = (i + 1) & (t->cap - 1))
		;
	if (t->slots[i].wd == WATCH_EMPTY)
		t->used++;
	t->live++;
	t->slots[i].wd = wd;
	t->slots[i].path = path;
	t->slots[i].root = root;
}

static void
watch_table_del(struct watch_table *t, struct watch_dir *d)
{
	free(d->path);
	d->path = NULL;
	d->wd = WATCH_GONE;
	t->live--;
}

/* Add (or refresh) the watch on one directory; 0, or -1 with errno. */
static int
watch_add_dir(struct watch *w, unsigned root, const char *path)
{
	struct watch_dir *d;
	int wd;

	if ((wd = inotify_add_watch(w->fd, path, WATCH_MASK)) < 0)
		return -1;
	if ((d = watch_table_find(&w->dirs, wd)) != NULL) {
		free(d->path);		/* the same directory under a new name */
		d->path = xstrdup(path);
		return 0;
	}
	watch_table_put(&w->dirs, wd, xstrdup(path), root);
	w->stats.dirs++;
	return 0;
}

static void
watch_limit_reached(struct watch *w, unsigned root, const char *path)
{
	struct watch_root *r = &w->roots[root];

	if (r->poll)
		return;
	log_at(LOG_ERR, 0, LOG_FIELDS({ "MESSAGE_ID", MSGID_WATCH_LIMIT }, { "FILE", path },
	    { "STAGE", "watch" }),
	    "inotify watch limit reached at %s: polling %s instead; raise it with "
	    "'sysctl fs.inotify.max_user_watches=N' (see /proc/sys/fs/inotify/max_user_watches)",
	    path, r->path);
	r->poll = 1;
}

static void
watch_report(struct watch *w, enum watch_event ev, const char *path, const struct stat *st)
{
	w->stats.events++;
	w->cb(w->arg, ev, path, st);
}

/*
 * The type of an entry: d_type when the filesystem gives it, else lstat.
 * A regular file is lstat'ed relative to its directory (*st) for the
 * report: a scan then costs one short lookup per file, not a path walk.
 */
static int
watch_entry_type(int dfd, const struct dirent *de, struct stat *st)
{
	if (de->d_type == DT_DIR || de->d_type == DT_LNK)
		return de->d_type;
	if ((de->d_type != DT_UNKNOWN && de->d_type != DT_REG) ||
	    fstatat(dfd, de->d_name, st, AT_SYMLINK_NOFOLLOW) != 0)
		return DT_UNKNOWN;
	return S_ISDIR(st->st_mode) ? DT_DIR : S_ISREG(st->st_mode) ? DT_REG : DT_UNKNOWN;
}

static void
watch_scan_entry(struct watch *w, unsigned root, const char *dir, int dfd,
    const struct dirent *de, int inotify)
{
	const char *name = de->d_name;
	struct stat st;
	int type;
	char *path;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return;
	type = watch_entry_type(dfd, de, &st);
	if (type == DT_DIR && name[0] == '.')
		return;		/* hidden directories are not entered */
	if (type != DT_DIR && type != DT_REG)
		return;		/* links, devices, gone since readdir */
	path = xasprintf("%s/%s", dir, name);
	if (type == DT_DIR)
		watch_scan_dir(w, root, path, inotify);
	else
		watch_report(w, WATCH_FOUND, path, &st);
	free(path);
}

/* Watch (when inotify) then read one directory, recursively. */
static void
watch_scan_dir(struct watch *w, unsigned root, const char *path, int inotify)
{
	struct dirent *de;
	DIR *dir;

	if (inotify && !w->roots[root].poll && watch_add_dir(w, root, path) != 0) {
		if (errno == ENOSPC)
			watch_limit_reached(w, root, path);
		else if (errno != ENOENT && errno != ENOTDIR)
			log_at(LOG_WARNING, errno, LOG_FIELDS({ "FILE", path }),
			    "cannot watch %s", path);
	}
	if ((dir = opendir(path)) == NULL) {
		if (errno != ENOENT)
			log_at(LOG_WARNING, errno, LOG_FIELDS({ "FILE", path }),
			    "cannot read directory %s", path);
		return;
	}
	while ((de = readdir(dir)) != NULL)
		watch_scan_entry(w, root, path, dirfd(dir), de, inotify);
	closedir(dir);
}

static void
watch_scan_root(struct watch *w, unsigned root)
{
	struct watch_root *r = &w->roots[root];
	struct stat st;

	if (stat(r->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (r->watched)
			log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", r->path }),
			    "landing directory %s is missing", r->path);
		r->watched = 0;
		return;
	}
	r->watched = 1;
	watch_scan_dir(w, root, r->path, 1);
}

void
watch_rescan(struct watch *w)
{
	unsigned i;

	w->stats.rescans++;
	w->cb(w->arg, WATCH_SCAN_BEGIN, NULL, NULL);
	for (i = 0; i < w->nroots; i++)
		watch_scan_root(w, i);
	w->cb(w->arg, WATCH_SCAN_END, NULL, NULL);
}

/* Forget the watches of a directory moved away and everything under it. */
static void
watch_drop_subtree(struct watch *w, const char *path)
{
	struct watch_table *t = &w->dirs;
	size_t i, len = strlen(path);

	for (i = 0; i < t->cap; i++) {
		struct watch_dir *d = &t->slots[i];

		if (d->wd > 0 && strncmp(d->path, path, len) == 0 &&
		    (d->path[len] == '\0' || d->path[len] == '/')) {
			inotify_rm_watch(w->fd, d->wd);
			watch_table_del(t, d);
			w->stats.dirs--;
		}
	}
}

static void
watch_dir_event(struct watch *w, struct watch_dir *d, const struct inotify_event *ev,
    const char *path)
{
	if (ev->name[0] == '.')
		return;		/* hidden directories are not entered */
	if (ev->mask & IN_MOVED_FROM)
		watch_drop_subtree(w, path);
	else if (ev->mask & (IN_CREATE | IN_MOVED_TO))
		watch_scan_dir(w, d->root, path, 1);
}

static void
watch_self_event(struct watch *w, struct watch_dir *d, const struct inotify_event *ev)
{
	unsigned root = d->root;

	if (strcmp(d->path, w->roots[root].path) == 0 && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))) {
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", d->path }),
		    "landing directory %s was %s; watching again when it reappears",
		    d->path, (ev->mask & IN_MOVE_SELF) ? "moved" : "deleted");
		w->roots[root].watched = 0;
		inotify_rm_watch(w->fd, d->wd);
	}
	if (ev->mask & IN_IGNORED) {
		watch_table_del(&w->dirs, d);
		w->stats.dirs--;
	}
}

static void
watch_event(struct watch *w, const struct inotify_event *ev)
{
	struct watch_dir *d;
	char *path;

	if (ev->mask & IN_Q_OVERFLOW) {
		w->stats.overflows++;
		log_at(LOG_WARNING, 0, LOG_FIELDS({ "MESSAGE_ID", MSGID_OVERFLOW_RESCAN },
		    { "STAGE", "watch" }),
		    "inotify queue overflowed: rescanning every landing directory");
		watch_rescan(w);
		return;
	}
	if ((d = watch_table_find(&w->dirs, ev->wd)) == NULL)
		return;
	if (ev->len == 0 || (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))) {
		watch_self_event(w, d, ev);
		return;
	}
	path = xasprintf("%s/%s", d->path, ev->name);
	if (ev->mask & IN_ISDIR)
		watch_dir_event(w, d, ev, path);
	else if (ev->mask & IN_MOVED_TO)
		watch_report(w, WATCH_MOVED_IN, path, NULL);
	else if (ev->mask & IN_CLOSE_WRITE)
		watch_report(w, WATCH_WRITTEN, path, NULL);
	free(path);
}

static void
watch_on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
	struct watch *w = io->data;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;
	int rounds;

	/* Bounded: at most a few buffers per wake-up, so the loop stays responsive. */
	for (rounds = 0; rounds < 8; rounds++) {
		if ((n = read(w->fd, buf, sizeof buf)) <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_warn("inotify read");
			return;
		}
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)p;
			watch_event(w, ev);
		}
	}
}

static void
watch_on_rescan(struct ev_loop *loop, ev_timer *t, int revents)
{
	watch_rescan(t->data);
}

static void
watch_on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;
	unsigned i;

	for (i = 0; i < w->nroots; i++) {
		if (w->roots[i].poll || !w->roots[i].watched)
			watch_scan_root(w, i);
	}
}

struct watch *
watch_new(struct ev_loop *loop, watch_cb *cb, void *arg, char **cause)
{
	struct watch *w;
	int fd;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		*cause = xasprintf("inotify_init1: %s%s", strerror(errno), errno == EMFILE ?
		    " (raise fs.inotify.max_user_instances)" : "");
		return NULL;
	}
	w = xcalloc(1, sizeof *w);
	w->loop = loop;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	ev_io_init(&w->io, watch_on_readable, fd, EV_READ);
	w->io.data = w;
	ev_io_start(loop, &w->io);
	ev_init(&w->rescan_timer, watch_on_rescan);
	w->rescan_timer.data = w;
	ev_init(&w->poll_timer, watch_on_poll);
	w->poll_timer.data = w;
	return w;
}

void
watch_free(struct watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	ev_io_stop(w->loop, &w->io);
	ev_timer_stop(w->loop, &w->rescan_timer);
	ev_timer_stop(w->loop, &w->poll_timer);
	close(w->fd);
	for (i = 0; i < w->dirs.cap; i++)
		free(w->dirs.slots[i].path);
	free(w->dirs.slots);
	for (i = 0; i < w->nroots; i++)
		free(w->roots[i].path);
	free(w->roots);
	free(w);
}

int
watch_add_root(struct watch *w, const char *path, int poll, char **cause)
{
	struct watch_root *r;
	char *real;

	if ((real = realpath(path, NULL)) == NULL) {
		*cause = xasprintf("landing directory %s: %s", path, strerror(errno));
		return -1;
	}
	w->roots = xreallocarray(w->roots, w->nroots + 1, sizeof *w->roots);
	r = &w->roots[w->nroots++];
	r->path = real;
	r->poll = poll;
	r->watched = 0;
	return 0;
}

void
watch_set_intervals(struct watch *w, uint64_t rescan_ms, uint64_t poll_ms)
{
	ev_timer_stop(w->loop, &w->rescan_timer);
	ev_timer_stop(w->loop, &w->poll_timer);
	if (rescan_ms > 0) {
		ev_timer_set(&w->rescan_timer, rescan_ms / 1e3, rescan_ms / 1e3);
		ev_timer_start(w->loop, &w->rescan_timer);
	}
	if (poll_ms > 0) {
		ev_timer_set(&w->poll_timer, poll_ms / 1e3, poll_ms / 1e3);
		ev_timer_start(w->loop, &w->poll_timer);
	}
}

void
watch_get_stats(const struct watch *w, struct watch_stats *st)
{
	*st = w->stats;
}
