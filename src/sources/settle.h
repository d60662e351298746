/*
 * settle.h - deciding when a landed file is complete (the producer contract).
 *
 * Names starting with '.' or ending with an ignored suffix (.tmp and .part
 * by default) are ignored. A file renamed into place is complete at once.
 * Any other file is complete once it has stayed quiet for the settle
 * period: the same size and mtime at two looks a period apart, and an mtime
 * at least a period old. Each offer of a pending file restarts its period.
 * One timer serves all pending files (they wait in deadline order).
 *
 * Each file gets a sequence number when it starts waiting (kept while it
 * waits, however often it is offered again) or completes at once, so that a
 * caller can tell when every file offered before some moment has left:
 * settle_mark before, settle_oldest later.
 */
#ifndef CAOM2INGEST_SETTLE_H
#define CAOM2INGEST_SETTLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct ev_loop;
struct settle;

/* How a file was noticed. */
enum settle_how {
	SETTLE_WRITTEN = 0,	/* written or closed: wait for the quiet period */
	SETTLE_RENAMED = 1,	/* renamed into place: complete now */
	SETTLE_FOUND = 2	/* seen by a scan: complete now if its mtime is older
				 * than the quiet period, else wait as WRITTEN */
};

/* Called once a file is complete, with its final stat, how it came:
 * SETTLE_RENAMED (complete by the producer contract) or not, its sequence number,
 * and when it was first offered (ev_now seconds; now when it waited for nothing). */
typedef void settle_cb(void *arg, const char *path, const struct stat *st, int renamed,
    uint64_t seq, double first);

/* A settler on loop with a quiet period of quiet_ms. */
struct settle *settle_new(struct ev_loop *loop, uint64_t quiet_ms, settle_cb *cb, void *arg);
/* Free, dropping pending files; NULL is accepted. */
void settle_free(struct settle *s);
/* Replace the ignored suffixes (NULL-terminated list; copied). */
void settle_set_ignored(struct settle *s, const char *const *suffixes);
/* True when the file's name is ignored by the producer contract. */
int settle_ignored(const struct settle *s, const char *path);

/* Offer a file noticed in the given way; st is its stat when the caller has
 * one (a scan), else NULL and the file is stat'ed here. */
void settle_offer(struct settle *s, const char *path, enum settle_how how,
    const struct stat *st);
/* Offer again, as SETTLE_WRITTEN, a file that completed but was not ready after all,
 * keeping the sequence number seq it completed with. */
void settle_offer_again(struct settle *s, const char *path, uint64_t seq);
/* True when the file at path waits for its quiet period. */
int settle_waiting(const struct settle *s, const char *path);
/* Number of files waiting. */
size_t settle_pending(const struct settle *s);
/* A sequence number for files that need no settling (a scan's known
 * files), below every later mark. */
uint64_t settle_take_seq(struct settle *s);
/* The sequence number the next file will get: every file offered so far has a lower one. */
uint64_t settle_mark(const struct settle *s);
/* The lowest sequence number still waiting, or settle_mark when none waits. */
uint64_t settle_oldest(const struct settle *s);

#endif
