/*
 * work.c - worker threads for blocking file work (see work.h).
 *
 * Tasks go through two lists under one mutex: todo (for the workers, woken
 * by a condition variable) and finished (for the loop, woken by an
 * ev_async). Written here because libev has no thread pool and the work is
 * small: a few threads, a queue.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <ev.h>

#include "lib/work.h"
#include "lib/xmalloc.h"

struct work_task {
	STAILQ_ENTRY(work_task) entry;
	work_fn		*fn;
	work_fn		*done;
	void		*arg;
};

STAILQ_HEAD(work_list, work_task);

struct work {
	struct ev_loop	*loop;
	ev_async	 wake;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct work_list todo;
	struct work_list finished;
	pthread_t	*threads;
	unsigned	 nthreads;
	int		 stopping;
};

static void *
work_thread(void *arg)
{
	struct work *w = arg;
	struct work_task *t;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (STAILQ_EMPTY(&w->todo) && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping)
			break;
		t = STAILQ_FIRST(&w->todo);
		STAILQ_REMOVE_HEAD(&w->todo, entry);
		pthread_mutex_unlock(&w->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&w->lock);
		STAILQ_INSERT_TAIL(&w->finished, t, entry);
		ev_async_send(w->loop, &w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* On the loop: report every finished task. */
static void
work_on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	struct work *w = a->data;
	struct work_list done;
	struct work_task *t;

	STAILQ_INIT(&done);
	pthread_mutex_lock(&w->lock);
	STAILQ_CONCAT(&done, &w->finished);
	pthread_mutex_unlock(&w->lock);
	while ((t = STAILQ_FIRST(&done)) != NULL) {
		STAILQ_REMOVE_HEAD(&done, entry);
		t->done(t->arg);
		free(t);
	}
}

struct work *
work_new(struct ev_loop *loop, unsigned nthreads, char **cause)
{
	struct work *w = xcalloc(1, sizeof *w);
	int err;

	w->loop = loop;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	STAILQ_INIT(&w->todo);
	STAILQ_INIT(&w->finished);
	ev_async_init(&w->wake, work_on_wake);
	w->wake.data = w;
	ev_async_start(loop, &w->wake);
	ev_unref(loop);		/* an idle pool does not keep the loop running */
	w->threads = xcalloc(nthreads, sizeof *w->threads);
	for (; w->nthreads < nthreads; w->nthreads++) {
		if ((err = pthread_create(&w->threads[w->nthreads], NULL, work_thread, w)) != 0) {
			*cause = xasprintf("cannot start a worker thread: %s", strerror(err));
			work_free(w, NULL);
			return NULL;
		}
	}
	return w;
}

void
work_submit(struct work *w, work_fn *fn, work_fn *done, void *arg)
{
	struct work_task *t = xcalloc(1, sizeof *t);

	t->fn = fn;
	t->done = done;
	t->arg = arg;
	pthread_mutex_lock(&w->lock);
	STAILQ_INSERT_TAIL(&w->todo, t, entry);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void
work_free(struct work *w, work_fn *discard)
{
	struct work_task *t;
	unsigned i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	free(w->threads);
	STAILQ_CONCAT(&w->todo, &w->finished);
	while ((t = STAILQ_FIRST(&w->todo)) != NULL) {
		STAILQ_REMOVE_HEAD(&w->todo, entry);
		if (discard != NULL)
			discard(t->arg);
		free(t);
	}
	ev_ref(w->loop);
	ev_async_stop(w->loop, &w->wake);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
