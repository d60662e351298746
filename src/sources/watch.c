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

#include "lib/log.h"
#include "lib/msgid.h"
#include "lib/stats.h"
#include "sources/walk.h"
#include "sources/watch.h"
#include "lib/xmalloc.h"

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
	unsigned long	 scan_known;	/* files its last scan left out as known */
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
	unsigned		 threads;	/* for scans */
	watch_prepare_fn	*prepare;
	watch_known_fn		*known;
	unsigned long		 scan_known;	/* files the last scan left out */
};

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

/* Record the watch wd on a directory (a known wd: the same directory renamed). */
static void
watch_table_note(struct watch *w, unsigned root, const char *path, int wd)
{
	struct watch_dir *d;

	if ((d = watch_table_find(&w->dirs, wd)) != NULL) {
		free(d->path);		/* the same directory under a new name */
		d->path = xstrdup(path);
		return;
	}
	watch_table_put(&w->dirs, wd, xstrdup(path), root);
	w->stats.dirs++;
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

struct watch_walk {
	struct watch	*w;
	const unsigned	*root_of;	/* walk root -> index into w->roots */
	const char	*scope;		/* a scan's: NULL (all) or the polled tree */
};

/* While the walk's threads start: the caller's prepare(). */
static void
watch_walk_prepare(void *arg)
{
	const struct watch_walk *ww = arg;

	ww->w->prepare(ww->w->arg, ww->scope);
}

/* On the walk's threads: the caller's known(), which must allow that. */
static int
watch_walk_known(void *arg, const char *path, int64_t size, int64_t mtime_ns)
{
	const struct watch *w = ((const struct watch_walk *)arg)->w;

	return w->known(w->arg, path, size, mtime_ns);
}

/* On the loop's thread: directories go in the watch table, files to the callback. */
static void
watch_walked(void *arg, const struct walk_item *it)
{
	struct watch_walk *ww = arg;
	struct watch *w = ww->w;
	unsigned root = ww->root_of[it->root];

	if (it->kind == WALK_FILE) {
		watch_report(w, WATCH_FOUND, it->path, it->st);
		return;
	}
	if (it->wd >= 0)
		watch_table_note(w, root, it->path, it->wd);
	else if (it->watch_errno == ENOSPC)
		watch_limit_reached(w, root, it->path);
	else if (it->watch_errno != 0 && it->watch_errno != ENOENT && it->watch_errno != ENOTDIR)
		log_at(LOG_WARNING, it->watch_errno, LOG_FIELDS({ "FILE", it->path }),
		    "cannot watch %s", it->path);
	if (it->read_errno != 0 && it->read_errno != ENOENT)
		log_at(LOG_WARNING, it->read_errno, LOG_FIELDS({ "FILE", it->path }),
		    "cannot read directory %s", it->path);
}

/*
 * Watch (unless polled) and read the trees at paths, root_of[i] being the
 * root paths[i] lies in. A scan (scan set) runs on the scan threads, calls
 * prepare(scope) meanwhile, and leaves out the files known() recognises;
 * returns how many it left out.
 */
static unsigned long
watch_walk(struct watch *w, const char *const *paths, const unsigned *root_of, size_t n,
    int scan, const char *scope)
{
	struct watch_walk ww = { w, root_of, scope };
	struct walk_root *roots = xcalloc(n + 1, sizeof *roots);
	unsigned long *by_root = xcalloc(n + 1, sizeof *by_root);
	struct walk_spec spec;
	unsigned long known;
	size_t i;

	for (i = 0; i < n; i++) {
		roots[i].path = paths[i];
		roots[i].watch = !w->roots[root_of[i]].poll;
	}
	memset(&spec, 0, sizeof spec);
	spec.roots = roots;
	spec.nroots = n;
	spec.inotify_fd = w->fd;
	spec.mask = WATCH_MASK;
	spec.threads = scan ? w->threads : 0;
	spec.prepare = scan && w->prepare != NULL ? watch_walk_prepare : NULL;
	spec.known = scan && w->known != NULL ? watch_walk_known : NULL;
	spec.report = watch_walked;
	spec.arg = &ww;
	spec.known_by_root = scan ? by_root : NULL;
	known = walk_run(&spec);
	for (i = 0; scan && i < n; i++)
		w->roots[root_of[i]].scan_known = by_root[i];
	free(by_root);
	free(roots);
	return known;
}

/* Is a root there to be scanned? Tells once when it went missing. */
static int
watch_root_present(struct watch *w, unsigned root)
{
	struct watch_root *r = &w->roots[root];
	struct stat st;

	if (stat(r->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (r->watched)
			log_at(LOG_WARNING, 0, LOG_FIELDS({ "FILE", r->path }),
			    "landing directory %s is missing", r->path);
		r->watched = 0;
		return 0;
	}
	r->watched = 1;
	return 1;
}

/*
 * A full rescan walks every root at once, between SCAN_BEGIN and SCAN_END
 * with a NULL path; the poll timer scans each polled tree (and each tree
 * whose top directory went) on its own, between events naming it.
 */
static void
watch_scan(struct watch *w, const unsigned *roots, size_t n, int all)
{
	const char **paths = xcalloc(n + 1, sizeof *paths);
	unsigned *root_of = xcalloc(n + 1, sizeof *root_of);
	const char *which;
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		w->roots[roots[i]].scan_known = 0;
		if (watch_root_present(w, roots[i])) {
			paths[m] = w->roots[roots[i]].path;
			root_of[m++] = roots[i];
		}
	}
	if (all || m > 0) {
		which = all ? NULL : paths[0];
		w->cb(w->arg, WATCH_SCAN_BEGIN, which, NULL);
		w->scan_known = watch_walk(w, paths, root_of, m, 1, which);
		w->cb(w->arg, WATCH_SCAN_END, which, NULL);
	}
	free(root_of);
	free(paths);
}

void
watch_rescan(struct watch *w)
{
	unsigned *all = xcalloc(w->nroots + 1, sizeof *all);
	unsigned i;

	for (i = 0; i < w->nroots; i++)
		all[i] = i;
	w->stats.rescans++;
	watch_scan(w, all, w->nroots, 1);
	free(all);
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
	else if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
		const char *paths[1] = { path };

		watch_walk(w, paths, &d->root, 1, 0, NULL);
	}
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
		stats_count(STATS_INOTIFY_OVERFLOWS);
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

/* Trees in poll mode, and trees whose watch went (to be watched again). */
static void
watch_on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct watch *w = t->data;
	unsigned i;

	for (i = 0; i < w->nroots; i++) {
		if (w->roots[i].poll || !w->roots[i].watched)
			watch_scan(w, &i, 1, 0);
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
watch_set_scan(struct watch *w, unsigned threads, watch_prepare_fn *prepare,
    watch_known_fn *known)
{
	w->threads = threads;
	w->prepare = prepare;
	w->known = known;
}

unsigned long
watch_scan_known(const struct watch *w)
{
	return w->scan_known;
}

unsigned long
watch_scan_known_root(const struct watch *w, unsigned root)
{
	return root < w->nroots ? w->roots[root].scan_known : 0;
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
