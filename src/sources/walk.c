/*
 * walk.c - a parallel walk of directory trees (see walk.h).
 *
 * Work is a stack of tasks under one lock: "read this directory" or "stat
 * this batch of names of an open directory". The thread reading a large
 * directory pushes its names in batches for the others and goes on reading,
 * so a flat directory of 100,000 files is spread as well as a tree. A batch
 * stat'ed before the caller's prepare() is done keeps what it found (size,
 * mtime) and waits on a second stack until it is, then goes back on the
 * first to be checked against known(). Results go to the calling thread
 * on a bounded queue (bounded so that a caller slower than the walk, busy
 * recording new files, holds the walk back instead of the walk's results
 * piling up in memory).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "lib/fileio.h"
#include "sources/walk.h"
#include "lib/xmalloc.h"

#define WALK_BATCH	256	/* names stat'ed as one task */
#define WALK_QUEUED	16384	/* results waiting for the caller before the threads wait
				 * (unless the spec says) */

struct walk_dir {			/* an open directory shared with its batches */
	DIR			*dir;
	char			*path;
	size_t			 root;
	unsigned		 refs;		/* under the lock */
};

struct walk_seen {			/* a regular file stat'ed, not yet checked */
	size_t			 name;		/* offset in names */
	int64_t			 size;
	int64_t			 mtime_ns;
};

struct walk_task {
	struct walk_task	*next;
	char			*path;		/* a directory to read, or NULL */
	size_t			 root;
	struct walk_dir		*dir;		/* else: names of this directory */
	char			*names;		/* d_type byte, name, NUL; ... */
	size_t			 len, cap;
	struct walk_seen	*seen;		/* stat'ed before prepare() was done */
	size_t			 nseen;
};

struct walk_rec {
	struct walk_item	 item;
	struct stat		 st;
	char			*path;
};

struct walk_chunk {
	struct walk_chunk	*next;
	struct walk_rec		*recs;
	size_t			 n, cap;
};

struct walk {
	const struct walk_spec	*spec;
	pthread_mutex_t		 lock;
	pthread_cond_t		 work_cv;	/* a task pushed, or the walk is over */
	pthread_cond_t		 out_cv;	/* a chunk for the caller, or over */
	pthread_cond_t		 room_cv;	/* the caller took the chunks */
	struct walk_task	*tasks;		/* a stack */
	struct walk_task	*waiting;	/* batches stat'ed before prepare() was done */
	int			 ready;		/* prepare() is done (also read unlocked) */
	unsigned		 busy;		/* tasks being worked on */
	int			 over;		/* no task left and none running */
	int			 direct;	/* no threads: report at once */
	struct walk_chunk	*out, **out_tail;
	size_t			 queued;	/* results in out */
	unsigned long		 known;
};

/* What one thread carries between tasks. */
struct walk_worker {
	struct walk		*w;
	struct walk_chunk	*chunk;		/* results not yet handed over */
	unsigned long		 known;
	unsigned long		*known_by_root;	/* when the spec wants them */
	char			*buf;		/* a file's full path */
	size_t			 bufsz;
};

static int
walk_ready(struct walk *w)
{
	return __atomic_load_n(&w->ready, __ATOMIC_ACQUIRE);
}

/* Push a task; the lock is held. */
static void
walk_push_locked(struct walk *w, struct walk_task *t)
{
	t->next = w->tasks;
	w->tasks = t;
	pthread_cond_signal(&w->work_cv);
}

static void
walk_push(struct walk *w, struct walk_task *t)
{
	pthread_mutex_lock(&w->lock);
	walk_push_locked(w, t);
	pthread_mutex_unlock(&w->lock);
}

static void
walk_push_dir(struct walk *w, const char *parent, const char *name, size_t root)
{
	struct walk_task *t = xcalloc(1, sizeof *t);

	t->path = xasprintf("%s/%s", parent, name);
	t->root = root;
	walk_push(w, t);
}

static struct walk_rec *
walk_rec_new(struct walk_worker *k, enum walk_kind kind, const char *path, size_t root)
{
	struct walk_chunk *c = k->chunk;
	struct walk_rec *r;

	if (c == NULL)
		c = k->chunk = xcalloc(1, sizeof *c);
	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		c->recs = xreallocarray(c->recs, c->cap, sizeof *c->recs);
	}
	r = &c->recs[c->n++];
	memset(r, 0, sizeof *r);
	r->path = xstrdup(path);
	r->item.kind = kind;
	r->item.root = root;
	r->item.wd = -1;
	return r;
}

static void
walk_chunk_report(const struct walk_spec *spec, struct walk_chunk *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct walk_rec *r = &c->recs[i];

		r->item.path = r->path;
		r->item.st = r->item.kind == WALK_FILE ? &r->st : NULL;
		spec->report(spec->arg, &r->item);
		free(r->path);
	}
	free(c->recs);
	free(c);
}

/* Hand a thread's results to the caller (waiting while the queue is full). */
static void
walk_flush(struct walk_worker *k)
{
	struct walk *w = k->w;
	struct walk_chunk *c = k->chunk;

	if (c == NULL)
		return;
	k->chunk = NULL;
	if (w->direct) {
		walk_chunk_report(w->spec, c);
		return;
	}
	pthread_mutex_lock(&w->lock);
	while (w->queued >= (w->spec->queue > 0 ? w->spec->queue : WALK_QUEUED))
		pthread_cond_wait(&w->room_cv, &w->lock);
	*w->out_tail = c;
	w->out_tail = &c->next;
	w->queued += c->n;
	pthread_cond_signal(&w->out_cv);
	pthread_mutex_unlock(&w->lock);
}

static void
walk_dir_hold(struct walk *w, struct walk_dir *d)
{
	pthread_mutex_lock(&w->lock);
	d->refs++;
	pthread_mutex_unlock(&w->lock);
}

static void
walk_dir_release(struct walk *w, struct walk_dir *d)
{
	unsigned refs;

	pthread_mutex_lock(&w->lock);
	refs = --d->refs;
	pthread_mutex_unlock(&w->lock);
	if (refs > 0)
		return;
	closedir(d->dir);
	free(d->path);
	free(d);
}

/* The full path of name in d, in the worker's buffer. */
static const char *
walk_path(struct walk_worker *k, const struct walk_dir *d, const char *name)
{
	size_t dlen = strlen(d->path), nlen = strlen(name);

	if (dlen + nlen + 2 > k->bufsz) {
		k->bufsz = dlen + nlen + 2 + 256;
		k->buf = xreallocarray(k->buf, k->bufsz, 1);
	}
	memcpy(k->buf, d->path, dlen);
	k->buf[dlen] = '/';
	memcpy(k->buf + dlen + 1, name, nlen + 1);
	return k->buf;
}

/* Report the file name of d unless known() has it. (A file whose check
 * waited for prepare() is stat'ed again for the report: st is NULL.) */
static void
walk_check(struct walk_worker *k, struct walk_dir *d, const char *name, int64_t size,
    int64_t mtime_ns, const struct stat *st)
{
	const struct walk_spec *spec = k->w->spec;
	const char *path = walk_path(k, d, name);
	struct stat again;

	if (spec->known != NULL && spec->known(spec->arg, path, size, mtime_ns)) {
		k->known++;
		if (k->known_by_root != NULL)
			k->known_by_root[d->root]++;
		return;
	}
	if (st == NULL) {
		if (fstatat(dirfd(d->dir), name, &again, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(again.st_mode))
			return;
		st = &again;
	}
	walk_rec_new(k, WALK_FILE, path, d->root)->st = *st;
}

/* Stat the names of batch t of directory d; check each regular file now,
 * or, when prepare() is not done yet, note it in the batch for later. */
static void
walk_batch(struct walk_worker *k, struct walk_dir *d, struct walk_task *t)
{
	const char *p, *name;
	struct stat st;
	int64_t mtime_ns;
	int dfd = dirfd(d->dir);

	for (p = t->names; p < t->names + t->len; p = name + strlen(name) + 1) {
		name = p + 1;			/* after the d_type byte */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;		/* gone since readdir */
		if (S_ISDIR(st.st_mode)) {	/* a d_type of DT_UNKNOWN */
			if (name[0] != '.')
				walk_push_dir(k->w, d->path, name, d->root);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		mtime_ns = fileio_mtime_ns(&st);
		if (walk_ready(k->w) || k->w->spec->known == NULL) {
			walk_check(k, d, name, st.st_size, mtime_ns, &st);
			continue;
		}
		if (t->seen == NULL)
			t->seen = xcalloc(WALK_BATCH, sizeof *t->seen);
		t->seen[t->nseen].name = (size_t)(name - t->names);
		t->seen[t->nseen].size = st.st_size;
		t->seen[t->nseen++].mtime_ns = mtime_ns;
	}
}

/* A batch whose files were noted: wait for prepare(), unless it is done. */
static void
walk_park(struct walk *w, struct walk_dir *d, struct walk_task *t)
{
	struct walk_task *b = xcalloc(1, sizeof *b);

	*b = *t;			/* names and seen move to b */
	t->names = NULL;
	t->seen = NULL;
	b->path = NULL;
	b->dir = d;
	walk_dir_hold(w, d);
	pthread_mutex_lock(&w->lock);
	if (w->ready)
		walk_push_locked(w, b);
	else {
		b->next = w->waiting;
		w->waiting = b;
	}
	pthread_mutex_unlock(&w->lock);
}

/* Run a batch of d: stat it, or check what it noted before prepare() was done. */
static void
walk_batch_run(struct walk_worker *k, struct walk_dir *d, struct walk_task *t)
{
	size_t i;

	if (t->seen == NULL)
		walk_batch(k, d, t);
	else {
		for (i = 0; i < t->nseen; i++)
			walk_check(k, d, t->names + t->seen[i].name, t->seen[i].size,
			    t->seen[i].mtime_ns, NULL);
		t->nseen = 0;
		free(t->seen);
		t->seen = NULL;
	}
	if (t->nseen > 0)
		walk_park(k->w, d, t);
}

static void
walk_batch_add(struct walk_task *b, unsigned char type, const char *name)
{
	size_t n = strlen(name) + 2;

	if (b->len + n > b->cap) {
		b->cap = b->cap == 0 ? 8192 : b->cap * 2;
		while (b->len + n > b->cap)
			b->cap *= 2;
		b->names = xreallocarray(b->names, b->cap, 1);
	}
	b->names[b->len] = (char)type;
	memcpy(b->names + b->len + 1, name, n - 1);
	b->len += n;
}

/* Watch (when asked) then read one directory: subdirectories become tasks,
 * names are stat'ed in batches, all but the last pushed for other threads. */
static void
walk_read(struct walk_worker *k, struct walk_task *t)
{
	const struct walk_spec *spec = k->w->spec;
	struct walk_task *b = NULL;
	struct walk_dir *d;
	struct dirent *de;
	int wd = -1, werr = 0;
	unsigned n = 0;
	DIR *dir;

	if (spec->roots[t->root].watch && (wd = inotify_add_watch(spec->inotify_fd, t->path,
	    spec->mask)) < 0)
		werr = errno;
	dir = opendir(t->path);
	if (spec->roots[t->root].watch || dir == NULL) {
		struct walk_rec *r = walk_rec_new(k, WALK_DIR, t->path, t->root);

		r->item.wd = wd;
		r->item.watch_errno = werr;
		r->item.read_errno = dir == NULL ? errno : 0;
	}
	if (dir == NULL)
		return;
	d = xcalloc(1, sizeof *d);
	d->dir = dir;
	d->path = t->path;
	t->path = NULL;
	d->root = t->root;
	d->refs = 1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_type == DT_DIR) {
			if (de->d_name[0] != '.')
				walk_push_dir(k->w, d->path, de->d_name, d->root);
			continue;
		}
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;	/* links, devices, sockets */
		if (b == NULL)
			b = xcalloc(1, sizeof *b);
		walk_batch_add(b, de->d_type, de->d_name);
		if (++n % WALK_BATCH == 0) {
			b->dir = d;
			walk_dir_hold(k->w, d);
			walk_push(k->w, b);
			b = NULL;
		}
	}
	if (b != NULL) {
		walk_batch_run(k, d, b);
		free(b->names);
		free(b);
	}
	walk_dir_release(k->w, d);
}

static void
walk_task_run(struct walk_worker *k, struct walk_task *t)
{
	if (t->dir == NULL)
		walk_read(k, t);
	else {
		walk_batch_run(k, t->dir, t);
		walk_dir_release(k->w, t->dir);
	}
	free(t->path);
	free(t->names);
	free(t->seen);
	free(t);
}

/* The walk is over when nothing is queued, running or waiting; the lock is held. */
static void
walk_check_over(struct walk *w)
{
	if (w->busy == 0 && w->tasks == NULL && w->waiting == NULL) {
		w->over = 1;
		pthread_cond_broadcast(&w->work_cv);
		pthread_cond_signal(&w->out_cv);
	}
}

static void *
walk_thread(void *arg)
{
	struct walk_worker k = { .w = arg };
	struct walk *w = k.w;
	struct walk_task *t;
	size_t r;

	if (w->spec->known_by_root != NULL)
		k.known_by_root = xcalloc(w->spec->nroots + 1, sizeof *k.known_by_root);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->tasks == NULL && !w->over)
			pthread_cond_wait(&w->work_cv, &w->lock);
		if (w->tasks == NULL)
			break;
		t = w->tasks;
		w->tasks = t->next;
		w->busy++;
		pthread_mutex_unlock(&w->lock);
		walk_task_run(&k, t);
		walk_flush(&k);
		pthread_mutex_lock(&w->lock);
		w->busy--;
		walk_check_over(w);
	}
	w->known += k.known;
	for (r = 0; k.known_by_root != NULL && r < w->spec->nroots; r++)
		w->spec->known_by_root[r] += k.known_by_root[r];
	pthread_mutex_unlock(&w->lock);
	free(k.known_by_root);
	free(k.buf);
	return NULL;
}

/* prepare() is done: the batches that waited for it go back to work. */
static void
walk_set_ready(struct walk *w)
{
	struct walk_task *t;

	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
	while ((t = w->waiting) != NULL) {
		w->waiting = t->next;
		walk_push_locked(w, t);
	}
	pthread_cond_broadcast(&w->work_cv);
	walk_check_over(w);
	pthread_mutex_unlock(&w->lock);
}

/* The calling thread: report chunks as they come until the walk is over. */
static void
walk_collect(struct walk *w)
{
	struct walk_chunk *c, *next;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->out == NULL && !w->over)
			pthread_cond_wait(&w->out_cv, &w->lock);
		if ((c = w->out) == NULL)
			break;
		w->out = NULL;
		w->out_tail = &w->out;
		w->queued = 0;
		pthread_cond_broadcast(&w->room_cv);
		pthread_mutex_unlock(&w->lock);
		for (; c != NULL; c = next) {
			next = c->next;
			walk_chunk_report(w->spec, c);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
}

unsigned long
walk_run(const struct walk_spec *spec)
{
	pthread_t *threads;
	struct walk w;
	unsigned i, n = 0;
	size_t r;

	memset(&w, 0, sizeof w);
	w.spec = spec;
	w.out_tail = &w.out;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.work_cv, NULL);
	pthread_cond_init(&w.out_cv, NULL);
	pthread_cond_init(&w.room_cv, NULL);
	for (r = spec->nroots; r-- > 0;) {
		struct walk_task *t = xcalloc(1, sizeof *t);

		t->path = xstrdup(spec->roots[r].path);
		t->root = r;
		t->next = w.tasks;
		w.tasks = t;
	}
	w.over = w.tasks == NULL;
	threads = xcalloc(spec->threads + 1, sizeof *threads);
	for (i = 0; i < spec->threads; i++) {
		if (pthread_create(&threads[n], NULL, walk_thread, &w) == 0)
			n++;
	}
	if (spec->prepare != NULL)
		spec->prepare(spec->arg);
	walk_set_ready(&w);
	if (n == 0) {		/* asked for none, or none could start */
		w.direct = 1;
		walk_thread(&w);
	} else
		walk_collect(&w);
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	pthread_cond_destroy(&w.room_cv);
	pthread_cond_destroy(&w.out_cv);
	pthread_cond_destroy(&w.work_cv);
	pthread_mutex_destroy(&w.lock);
	return w.known;
}
