/*
 * t/work.c - the worker pool: tasks run off the loop's thread, each done
 * callback runs once on it, a full burst drains, and freeing with tasks
 * still queued hands them to the discard callback.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ev.h>

#include "tap.h"
#include "lib/work.h"

#define NTASKS 200

struct task {
	pthread_t	 ran_on;
	int		 ran, done, discarded;
	unsigned	 sleep_us;
};

static pthread_t loop_thread;
static int ndone, off_loop_done;
static struct ev_loop *loop;

static void
run(void *arg)
{
	struct task *t = arg;

	t->ran_on = pthread_self();
	if (t->sleep_us > 0)
		usleep(t->sleep_us);
	t->ran++;
}

static void
done(void *arg)
{
	struct task *t = arg;

	t->done++;
	ndone++;
	if (!pthread_equal(pthread_self(), loop_thread))
		off_loop_done++;
	if (ndone == NTASKS)
		ev_break(loop, EVBREAK_ALL);
}

static void
discard(void *arg)
{
	((struct task *)arg)->discarded++;
}

static void
on_timeout(struct ev_loop *l, ev_timer *t, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

int
main(void)
{
	static struct task tasks[NTASKS], slow[8];
	struct work *w;
	char *cause = NULL;
	ev_timer timeout;
	int i, on_loop = 0, once = 1, accounted = 1;

	plan(7);
	loop = ev_default_loop(0);
	loop_thread = pthread_self();
	w = work_new(loop, 2, &cause);
	ok(w != NULL, "a pool of two workers starts");
	if (w == NULL)
		bail("%s", cause);
	for (i = 0; i < NTASKS; i++)
		work_submit(w, run, done, &tasks[i]);
	ev_timer_init(&timeout, on_timeout, 10., 0.);
	ev_timer_start(loop, &timeout);
	ev_run(loop, 0);
	ev_timer_stop(loop, &timeout);
	is_int(NTASKS, ndone, "every done callback came");
	for (i = 0; i < NTASKS; i++) {
		on_loop += pthread_equal(tasks[i].ran_on, loop_thread);
		once &= tasks[i].ran == 1 && tasks[i].done == 1;
	}
	is_int(0, on_loop, "no task ran on the loop's thread");
	is_int(0, off_loop_done, "every done ran on the loop's thread");
	ok(once, "each task ran once and was reported once");

	/* freeing with work queued: nothing is lost, nothing reported twice */
	for (i = 0; i < 8; i++) {
		slow[i].sleep_us = 20000;
		work_submit(w, run, done, &slow[i]);
	}
	usleep(5000);
	work_free(w, discard);
	for (i = 0; i < 8; i++)
		accounted &= slow[i].done + slow[i].discarded == 1;
	ok(accounted, "work_free hands every unreported task to discard, once");
	work_free(NULL, NULL);
	ok(1, "work_free(NULL) is a no-op");
	return 0;
}
