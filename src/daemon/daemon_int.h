/*
 * daemon_int.h - the daemon's state, shared by daemon.c and its control
 * commands (commands.c) only.
 */
#ifndef CAOM2INGEST_DAEMON_INT_H
#define CAOM2INGEST_DAEMON_INT_H

#include <stddef.h>
#include <time.h>

#include <ev.h>
#include <jansson.h>

#include "daemon/control.h"

struct daemon {
	struct ev_loop	*loop;
	struct conf	*cfg;
	char		*config_path;
	ev_signal	 sigterm;
	ev_signal	 sigint;
	ev_signal	 sighup;
	ev_signal	 sigusr1;
	ev_signal	 sigusr2;
	ev_timer	 watchdog;
	ev_timer	 status_timer;
	ev_check	 loop_woke;	/* the work of each loop iteration is timed */
	ev_prepare	 loop_sleeps;
	double		 woke_at;
	struct pipeline	*pipeline;
	struct control	*control;
	struct tickets	*tickets;	/* waits for queued work (commands.c) */
	struct monitor	*monitor;	/* the operators' HTTP view, or NULL */
	time_t		 started;
	unsigned	 reloads;
	int		 detached;	/* stderr is /dev/null: log to the journal */
	int		 exit_code;
};

/* The control commands of the daemon (commands.c). */
extern const struct control_command daemon_commands[];

/* Reload the configuration; 0, or -1 with *cause (when cause is not NULL). */
int daemon_reload(struct daemon *d, char **cause);
/* Refresh systemd's STATUS= line. */
void daemon_status(struct daemon *d);

struct state_counts;
struct state_event;
struct state_file;
struct state_obs;
/* What the status command replies, into reply, with the counts given (NULL: leave them
 * out) and the objects' counts (NULL: from the state store) (commands.c). */
void daemon_status_json(struct daemon *d, json_t *reply, const struct state_counts *c,
    const long *objects);
/* An observation, its files and its history as the control commands show them. */
json_t *daemon_obs_json(const struct state_obs *o);
json_t *daemon_files_json(const struct state_file *files, size_t n);
json_t *daemon_history_json(const struct state_event *ev, size_t n);

#endif
