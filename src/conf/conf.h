/*
 * conf.h - the YAML configuration file (caom2ingest.yml(5)) into a struct.
 *
 * Keys are described by tables (name, type, range, help), nested for
 * sections and lists of sections; unknown keys, wrong types, bad values and
 * missing required keys are errors that name the file, line and key path
 * (collections[1].rules[2].match). All errors of a file are reported, not
 * just the first. Relative paths are resolved against the directory of the
 * configuration file.
 */
#ifndef CAOM2INGEST_CONF_H
#define CAOM2INGEST_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/log.h"

#define CONF_DEFAULT_PATH	SYSCONFDIR "/caom2ingest/caom2ingest.yml"

struct conf_strlist {
	char		**v;
	size_t		  n;
};

/* What happens to a file after its observation succeeded or failed for good. */
enum conf_disposal {
	CONF_KEEP,
	CONF_DELETE,
	CONF_MOVE
};

struct conf_action {
	int		 kind;		/* enum conf_disposal */
	char		*dir;		/* CONF_MOVE: target directory */
};

/* A legacy fits2caom2 mapping: NULL config means the built-in one. */
struct conf_legacy {
	char		*config;
	char		*defaults;
	char		*override;
};

struct conf_rule {
	char		*match;		/* PCRE2 pattern on the file name */
	char		*observation;	/* templates: ${group}, ${file}, ${collection} */
	char		*product;
	char		*uri;
	char		*blueprint;
	struct conf_legacy legacy;	/* instead of blueprint */
	struct conf_strlist expect;	/* name templates the observation waits for */
	uint64_t	 wait_ms;	/* at most this long (0: the default) */
};

/* A bucket of an S3-compatible store whose objects belong to a collection. */
struct conf_bucket {
	char		*name;
	char		*prefix;	/* keys under this prefix only; NULL: all */
};

struct conf_retry {
	uint64_t	 initial_ms;	/* first delay */
	uint64_t	 max_ms;	/* longest delay */
	long		 attempts;	/* attempts before giving up */
};

/* The CADC storage inventory (minoc's "files" service). */
struct conf_storage_si {
	char		*url;		/* files base: {url}/{artifact URI}; NULL: not this kind */
	char		*cert;
	char		*token_file;
	char		*netrc;
	char		*ca_path;
	uint64_t	 txn_threshold;	/* bytes: files this large go by the put transaction */
	uint64_t	 segment_size;	/* preferred segment, within the server's limits */
};

/* A bucket of the top-level s3: store, for files. */
struct conf_storage_s3 {
	char		*bucket;	/* NULL: not this kind */
	char		*prefix;	/* of every key */
	uint64_t	 multipart_threshold;	/* bytes: files this large go in parts */
	uint64_t	 part_size;
};

/* Where files are stored before their observation is pushed: si, s3 or a directory
 * (none of the three: files are not stored). */
struct conf_storage {
	struct conf_storage_si si;
	struct conf_storage_s3 s3;
	char		*directory;
	uint64_t	 timeout_ms;	/* connecting, and a stalled transfer */
	long		 concurrency;	/* transfers at once */
	struct conf_retry retry;	/* transient failures, within one attempt of a job */
	int		 line;		/* where it is defined, 0: nowhere */
};

struct conf_collection {
	char			*name;
	struct conf_strlist	 landing;	/* directories watched */
	struct {
		struct conf_bucket *v;
		size_t		  n;
	}			 buckets;	/* object-store sources */
	struct conf_strlist	 queues;	/* AMQP queues announcing its files */
	struct conf_strlist	 announce_from;	/* URL prefixes http(s)/file announcements may name */
	int			 poll;		/* rescan instead of inotify */
	struct conf_strlist	 include;	/* globs on file names; empty: all */
	struct conf_strlist	 exclude;
	struct {
		struct conf_rule *v;
		size_t		  n;
	}			 rules;
	struct conf_action	 on_success;
	struct conf_action	 on_failure;
	struct conf_storage	 storage;	/* its own; none: the global one */
	int			 line;		/* where it is defined */
};


struct conf_repo {
	char		*url;		/* observations base; NULL: no repository */
	char		*cert;
	char		*token_file;
	char		*netrc;
	char		*ca_path;
	uint64_t	 timeout_ms;
	long		 concurrency;
	struct conf_retry retry;
};

/* The S3-compatible store that bucket sources live in. */
struct conf_s3 {
	char		*endpoint;	/* http(s)://host[:port] */
	char		*region;
	char		*credentials;	/* AWS shared-credentials file */
	char		*profile;
	char		*ca_path;
	uint64_t	 timeout_ms;
	long		 concurrency;	/* fetches at once */
	uint64_t	 reconcile_ms;	/* bucket listings, 0: only at start-up and on rescan */
	struct conf_retry retry;	/* failed fetches */
};

/* The HTTP endpoint for bucket notifications. */
struct conf_webhook {
	char		*listen;	/* ADDR:PORT; NULL: no webhook */
	char		*token_file;	/* bearer token required, or NULL */
	long		 max_body;	/* bytes */
};

/* The AMQP broker that collections' queues live on. */
struct conf_amqp {
	char		*url;		/* amqp[s]://[user@]host[:port][/vhost] */
	char		*password_file;
	char		*ca_path;	/* amqps: CA file or directory; NULL: the system's */
	long		 prefetch;
};

/* Where observations go: a repository when repo.url is set, else a directory. */
struct conf_sink {
	char		*directory;	/* default: STATE_DIR/observations */
	struct conf_repo repo;
};

struct conf {
	char		*path;		/* the file read */
	int		 log_target;	/* enum log_target */
	int		 log_level;	/* LOG_ERR .. LOG_DEBUG */
	char		*state_dir;	/* durable state (SQLite, directory sink) */
	char		*control_socket; /* path of the control socket */
	long		 control_gid;	/* read-only control access, -1: none */
	long		 control_admin_gid; /* full control access, -1: none */
	uint64_t	 settle_ms;	/* quiet period of a landed file */
	uint64_t	 rescan_ms;	/* full rescan interval, 0: none */
	uint64_t	 poll_ms;	/* rescan interval of poll-mode trees */
	long		 scan_threads;	/* threads of a scan; 0: one per CPU, up to 8 */
	struct conf_strlist ignore_suffixes;	/* names ignored while written */
	struct {
		struct conf_collection *v;
		size_t		  n;
	}		 collections;
	struct conf_sink sink;
	char		*spool_dir;	/* fetched objects; default: STATE_DIR/spool */
	struct conf_s3	 s3;
	struct conf_webhook webhook;
	struct conf_amqp amqp;
	struct conf_storage storage;	/* of every collection without its own */
};

/* A configuration holding the built-in defaults. */
struct conf *conf_new(void);
/* Free a configuration; NULL is accepted. */
void conf_free(struct conf *cfg);
/* Load path over the defaults (a regular file, lib/fileio.h). 0, or -1 with *errors (one
 * "FILE:LINE: ..." per line, or "FILE: reason" when it cannot be read). */
int conf_load(const char *path, struct conf **out, char **errors);
/* The storage of a collection: its own, else the global one; NULL when files are not
 * stored. */
const struct conf_storage *conf_storage_of(const struct conf *cfg,
    const struct conf_collection *c);
/* Parse a duration such as 250ms, 2s, 5m, 1h, 1d (bare numbers are seconds); 0 or -1. */
int conf_parse_duration(const char *text, uint64_t *ms);

#endif
