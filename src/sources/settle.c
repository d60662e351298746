/*
 * settle.c - deciding when a landed file is complete.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <ev.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "sources/settle.h"
#include "lib/stats.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"

struct settle_file {
	char			*path;
	ev_tstamp		 first;		/* when it was first offered */
	ev_tstamp		 deadline;
	off_t			 size;
	struct timespec		 mtime;
	uint64_t		 seq;
	TAILQ_ENTRY(settle_file) entry;		/* in queue, by deadline */
	TAILQ_ENTRY(settle_file) order;		/* in arrivals, by seq */
};

TAILQ_HEAD(settle_queue, settle_file);

struct settle {
	struct ev_loop		*loop;
	ev_timer		 timer;
	double			 quiet;		/* seconds */
	settle_cb		*cb;
	void			*arg;
	char			**suffixes;
	struct strmap		*files;		/* path -> settle_file */
	struct settle_queue	 queue;		/* by deadline */
	struct settle_queue	 arrivals;	/* by seq */
	uint64_t		 next_seq;
};

static const char *const settle_default_suffixes[] = { ".tmp", ".part", NULL };

static void
settle_free_suffixes(struct settle *s)
{
	size_t i;

	for (i = 0; s->suffixes != NULL && s->suffixes[i] != NULL; i++)
		free(s->suffixes[i]);
	free(s->suffixes);
	s->suffixes = NULL;
}

void
settle_set_ignored(struct settle *s, const char *const *suffixes)
{
	size_t i, n;

	settle_free_suffixes(s);
	for (n = 0; suffixes[n] != NULL; n++)
		;
	s->suffixes = xcalloc(n + 1, sizeof *s->suffixes);
	for (i = 0; i < n; i++)
		s->suffixes[i] = xstrdup(suffixes[i]);
}

int
settle_ignored(const struct settle *s, const char *path)
{
	const char *name = strrchr(path, '/');
	size_t i, len, slen;

	name = name != NULL ? name + 1 : path;
	if (name[0] == '.' || name[0] == '\0')
		return 1;
	len = strlen(name);
	for (i = 0; s->suffixes[i] != NULL; i++) {
		slen = strlen(s->suffixes[i]);
		if (len >= slen && strcmp(name + len - slen, s->suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

static void
settle_drop(struct settle *s, struct settle_file *f)
{
	TAILQ_REMOVE(&s->queue, f, entry);
	TAILQ_REMOVE(&s->arrivals, f, order);
	strmap_del(s->files, f->path);
	free(f->path);
	free(f);
}

static void
settle_arm(struct settle *s)
{
	struct settle_file *f = TAILQ_FIRST(&s->queue);

	ev_timer_stop(s->loop, &s->timer);
	if (f == NULL)
		return;
	ev_timer_set(&s->timer, f->deadline - ev_now(s->loop) > 0 ?
	    f->deadline - ev_now(s->loop) : 0., 0.);
	ev_timer_start(s->loop, &s->timer);
}

static int
settle_same(const struct settle_file *f, const struct stat *st)
{
	return f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
	    f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Restart f's quiet period with what the file looks like now. */
static void
settle_requeue(struct settle *s, struct settle_file *f, const struct stat *st)
{
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	f->deadline = ev_now(s->loop) + s->quiet;
	TAILQ_REMOVE(&s->queue, f, entry);
	TAILQ_INSERT_TAIL(&s->queue, f, entry);
}

/* Look at a file whose period ran out: complete, still changing, or gone. */
static void
settle_check(struct settle *s, struct settle_file *f)
{
	struct stat st;
	uint64_t seq = f->seq;
	double first;
	char *path;

	if (stat(f->path, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_at(LOG_DEBUG, 0, LOG_FIELDS({ "FILE", f->path }),
		    "%s disappeared while settling", f->path);
		settle_drop(s, f);
		return;
	}
	if (!settle_same(f, &st) ||
	    fileio_mtime_ns(&st) / 1e9 > ev_now(s->loop) - s->quiet) {
		settle_requeue(s, f, &st);
		return;
	}
	path = xstrdup(f->path);
	first = f->first;
	stats_time(STATS_SETTLE, ev_now(s->loop) - first);
	stats_count(STATS_FILES_SETTLED);
	settle_drop(s, f);
	s->cb(s->arg, path, &st, 0, seq, first);
	free(path);
}

static void
settle_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct settle *s = t->data;
	struct settle_file *f;
	unsigned budget = 4096;	/* keep each wake-up short */

	ev_now_update(loop);
	while ((f = TAILQ_FIRST(&s->queue)) != NULL && f->deadline <= ev_now(loop) &&
	    budget-- > 0)
		settle_check(s, f);
	settle_arm(s);
}

struct settle *
settle_new(struct ev_loop *loop, uint64_t quiet_ms, settle_cb *cb, void *arg)
{
	struct settle *s;

	s = xcalloc(1, sizeof *s);
	s->loop = loop;
	s->quiet = quiet_ms / 1e3;
	s->cb = cb;
	s->arg = arg;
	s->files = strmap_new();
	TAILQ_INIT(&s->queue);
	TAILQ_INIT(&s->arrivals);
	ev_init(&s->timer, settle_on_timer);
	s->timer.data = s;
	settle_set_ignored(s, settle_default_suffixes);
	return s;
}

void
settle_free(struct settle *s)
{
	struct settle_file *f;

	if (s == NULL)
		return;
	ev_timer_stop(s->loop, &s->timer);
	while ((f = TAILQ_FIRST(&s->queue)) != NULL)
		settle_drop(s, f);
	strmap_free(s->files);
	settle_free_suffixes(s);
	free(s);
}

/* A renamed file is complete now; drop any pending look at it. */
static void
settle_complete_now(struct settle *s, const char *path)
{
	struct settle_file *f = strmap_get(s->files, path);
	uint64_t seq = f != NULL ? f->seq : s->next_seq++;
	double first = f != NULL ? f->first : ev_now(s->loop);
	struct stat st;

	stats_time(STATS_SETTLE, ev_now(s->loop) - first);
	if (f != NULL)
		settle_drop(s, f);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		stats_count(STATS_FILES_SETTLED);
		s->cb(s->arg, path, &st, 1, seq, first);
	}
	settle_arm(s);
}

void
settle_offer(struct settle *s, const char *path, enum settle_how how,
    const struct stat *given)
{
	struct settle_file *f;
	struct stat st;

	if (settle_ignored(s, path))
		return;
	if (how == SETTLE_RENAMED) {
		settle_complete_now(s, path);
		return;
	}
	if (given != NULL)
		st = *given;
	else if (stat(path, &st) != 0)
		return;
	if (!S_ISREG(st.st_mode))
		return;
	f = strmap_get(s->files, path);
	/*
	 * A scan finding a file untouched for longer than the quiet period has
	 * nothing to wait for: its mtime is what settle_check would look at
	 * after the period. (A restart over a large tree is then done when
	 * its scan is, not a quiet period later.)
	 */
	if (how == SETTLE_FOUND && f == NULL &&
	    fileio_mtime_ns(&st) / 1e9 <= ev_now(s->loop) - s->quiet) {
		stats_time(STATS_SETTLE, 0.);
		stats_count(STATS_FILES_SETTLED);
		s->cb(s->arg, path, &st, 0, s->next_seq++, ev_now(s->loop));
		return;
	}
	if (f == NULL) {
		f = xcalloc(1, sizeof *f);
		f->path = xstrdup(path);
		f->first = ev_now(s->loop);
		f->seq = s->next_seq++;
		TAILQ_INSERT_TAIL(&s->queue, f, entry);
		TAILQ_INSERT_TAIL(&s->arrivals, f, order);
		strmap_put(s->files, path, f);
	}
	settle_requeue(s, f, &st);
	if (!ev_is_active(&s->timer))
		settle_arm(s);
}

void
settle_offer_again(struct settle *s, const char *path, uint64_t seq)
{
	struct settle_file *f, *g;

	settle_offer(s, path, SETTLE_WRITTEN, NULL);
	if ((f = strmap_get(s->files, path)) == NULL || f->seq <= seq)
		return;
	f->seq = seq;
	TAILQ_REMOVE(&s->arrivals, f, order);
	TAILQ_FOREACH(g, &s->arrivals, order) {
		if (g->seq > seq)
			break;
	}
	if (g != NULL)
		TAILQ_INSERT_BEFORE(g, f, order);
	else
		TAILQ_INSERT_TAIL(&s->arrivals, f, order);
}

int
settle_waiting(const struct settle *s, const char *path)
{
	return strmap_get(s->files, path) != NULL;
}

size_t
settle_pending(const struct settle *s)
{
	return strmap_count(s->files);
}

uint64_t
settle_take_seq(struct settle *s)
{
	return s->next_seq++;
}

uint64_t
settle_mark(const struct settle *s)
{
	return s->next_seq;
}

uint64_t
settle_oldest(const struct settle *s)
{
	const struct settle_file *f = TAILQ_FIRST(&s->arrivals);

	return f != NULL ? f->seq : s->next_seq;
}
