/*
 * monitor_int.h - the operators' view, shared by monitor.c (the server, the
 * census, the metrics and JSON) and monitor_html.c (the pages) only.
 */
#ifndef CAOM2INGEST_MONITOR_INT_H
#define CAOM2INGEST_MONITOR_INT_H

#include <stdint.h>
#include <stdio.h>

#include <ev.h>
#include <jansson.h>

#include "store/state.h"

struct daemon;
struct http;
struct http_req;
struct pipeline;
struct work;

/* Observations listed on the page: the oldest unfinished, the latest failures. */
#define MONITOR_LIST	10

/* The last census of the state store. */
struct monitor_census {
	struct state_census	 c;
	int			 ok;		/* read at least once */
	double			 at;		/* when it was read (wall clock) */
	double			 took;		/* seconds the read took */
	char			*error;		/* why the last read failed, or NULL */
};

/* The pages served from a copy rendered at most every MONITOR_CACHE_S. */
enum monitor_page {
	MONITOR_PAGE_METRICS,
	MONITOR_PAGE_STATUS,
	MONITOR_PAGE_JSON,
	MONITOR_NPAGES
};

struct monitor_cached {
	char		*buf;		/* or NULL */
	size_t		 len;
	double		 at;		/* ev_now when it was rendered */
};

struct monitor {
	struct daemon		*d;
	struct ev_loop		*loop;
	struct http		*http;
	struct work		*work;		/* one thread: the reads of the store */
	struct state		*reader;	/* used on that thread only */
	char			*state_dir;
	char			*listen;
	ev_timer		 refresh;
	int			 refreshing;	/* a census is being read */
	const struct pipeline	*seen_pipeline;	/* and the store's writes then */
	uint64_t		 seen_writes;
	struct monitor_census	 census;
	struct monitor_cached	 cached[MONITOR_NPAGES];
};

/* The head of each task of the worker: what to do with it when the daemon stops first. */
struct monitor_task {
	void			(*discard)(void *task);
};

/* What the page of one observation shows, read on the worker. */
struct monitor_obs {
	struct monitor_task	 task;
	struct monitor		*m;
	struct http_req		*r;
	char			*collection;
	char			*observation;
	char			*sink_dir;	/* the directory sink, or NULL (a repository) */
	int			 found;		/* 0, 1 unknown, -1 error */
	struct state_obs	 obs;
	struct state_file	*files;
	size_t			 nfiles;
	struct state_event	*history;
	size_t			 nhistory;
	int			 xml_found;	/* 0 read, 1 absent, -1 error */
	char			*xml;
	size_t			 xmllen;
	char			*error;		/* of the store, or of the document */
};

/* The status page: what status shows (status, from daemon_status_json), counts by
 * collection and state, the oldest unfinished observations, the latest failures. */
void monitor_html_status(const struct monitor *m, json_t *status, FILE *fp);
/* The page of one observation. */
void monitor_html_observation(const struct monitor *m, const struct monitor_obs *o, FILE *fp);
/* A "not found" page. */
void monitor_html_missing(const char *collection, const char *observation, FILE *fp);

#endif
