/*
 * conf.h - the YAML configuration file (caom2ingest.yml(5)) into a struct.
 *
 * Keys are described by tables (name, type, range, help), nested for
 * sections and lists of sections; unknown keys, wrong types, bad values and
 * missing required keys are errors that name the file, line and key path
 * (collections[1].rules[2].match). All errors of a file are reported, not
 * just the first. Relative paths are resolved against the directory of the
 * configuration file.
 *
 * Collections may also live in collection files of their own, pulled in
 * with "include: GLOB..." (relative to the including file): each holds one
 * collection (a mapping of the keys of a collections[] item) or a list of
 * them, appended to collections in the order the globs and their sorted
 * matches give; paths inside are relative to the collection file, and its
 * errors name it and its lines. conf_load_collections reads one collection
 * file alone (caom2ingest map --collection).
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

/* A preview or thumbnail a rule makes of each of its files. */
struct conf_preview_out {
	char		*uri;		/* artifact URI template; NULL: not made */
	long		 size;		/* the box, pixels */
};

/* The previews of a rule's files (caom2ingest.yml(5), PREVIEWS); the
 * options are checked and converted by conf_preview.h. */
struct conf_previews {
	struct conf_preview_out preview;	/* productType preview, releaseType data */
	struct conf_preview_out thumbnail;	/* productType thumbnail, releaseType meta */
	char		*hdu;		/* "auto" or an index; NULL: auto */
	int		 kind;		/* enum preview_kind */
	int		 scale;		/* enum preview_scale */
	char		*low;		/* percentile limits as written; NULL: defaults */
	char		*high;
	int		 stretch;	/* enum preview_stretch */
	char		*exponent;	/* of the power stretch */
	int		 invert;
	int		 format;	/* enum preview_format; AUTO: the URI's suffix */
	long		 quality;	/* JPEG */
	uint64_t	 timeout_ms;	/* per file */
	int		 on_error;	/* 0 warn (the observation goes on), 1 fail */
	char		*directory;	/* where the files go; NULL: see caom2ingest.yml(5) */
};

/* A named file: a lookup table of a collection (tables: {NAME: FILE}). */
struct conf_named_file {
	char		*name;
	char		*path;
};

struct conf_named_files {
	struct conf_named_file *v;
	size_t		  n;
};

/*
 * The collection code of a rule or a collection: stored for the Lua runtime,
 * which is to run it (functions called by blueprint values, visitors after
 * the mapping, lookup tables). The files are checked to exist (regular
 * files; tables .csv, .yml or .yaml) when the configuration is loaded.
 */
struct conf_code {
	char		*functions;	/* Lua file of blueprint functions, or NULL */
	struct conf_strlist visit;	/* Lua files of visitors, in order */
	struct conf_named_files tables;	/* lookup tables */
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
	struct conf_previews previews;	/* none unless a uri is set */
	/* functions, visit: when set, in place of the collection's; tables: over
	 * the collection's (a name of both is the rule's) */
	struct conf_code code;
	struct lua_rt	*lua;		/* built from the code in force at load; NULL: none */
	const char	*lua_functions;	/* the functions file lua was built with, or NULL */
	int		 line;		/* where it is defined */
	int		 blueprint_line; /* where blueprint (else the rule) is */
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
	struct conf_code	 code;		/* its rules' unless they give their own */
	struct conf_storage	 storage;	/* its own; none: the global one */
	int			 line;		/* where it is defined */
	const char		*file;		/* in which file (one of conf.files) */
	int			 landing_line;	/* where landing, on_success, on_failure are */
	int			 on_success_line;
	int			 on_failure_line;
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

/* The operators' HTTP endpoint: metrics, the status page. */
struct conf_http {
	char		*listen;	/* ADDR:PORT; NULL: none */
	char		*token_file;	/* bearer token required, or NULL */
	uint64_t	 refresh_ms;	/* counts from the state store; 0: the default */
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

struct lua_rt;

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
	long		 lua_memory;	/* MiB per Lua state, 0: the default */
	long		 lua_instructions; /* millions of Lua instructions per call, 0: the default */
	struct {
		struct conf_collection *v;
		size_t		  n;
	}		 collections;
	struct conf_sink sink;
	char		*spool_dir;	/* fetched objects; default: STATE_DIR/spool */
	struct conf_s3	 s3;
	struct conf_webhook webhook;
	struct conf_amqp amqp;
	struct conf_strlist include;	/* collection file globs, resolved */
	struct conf_strlist files;	/* the files read: path, then each included one */
	struct conf_http http;
	struct conf_storage storage;	/* of every collection without its own */
};

/* A configuration holding the built-in defaults. */
struct conf *conf_new(void);
/* Free a configuration; NULL is accepted. */
void conf_free(struct conf *cfg);
/* Load path over the defaults (a regular file, lib/fileio.h). 0, or -1 with *errors (one
 * "FILE:LINE: ..." per line, or "FILE: reason" when it cannot be read). */
int conf_load(const char *path, struct conf **out, char **errors);
/*
 * Load a collection file alone (what include pulls in) into a configuration
 * holding the defaults and its collections; no landing directory, bucket
 * or queue is required, nor the sections they need. 0, or -1 with *errors
 * as conf_load.
 */
int conf_load_collections(const char *path, struct conf **out, char **errors);
/* The storage of a collection: its own, else the global one; NULL when files are not
 * stored. */
const struct conf_storage *conf_storage_of(const struct conf *cfg,
    const struct conf_collection *c);
/* Parse a duration such as 250ms, 2s, 5m, 1h, 1d (bare numbers are seconds); 0 or -1. */
int conf_parse_duration(const char *text, uint64_t *ms);

#endif
