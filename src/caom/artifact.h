/*
 * artifact.h - the per-file artifact step, shared by the daemon (ingest.c)
 * and the offline tool (cmd_map.c): what a file's own bytes say about its
 * artifact (content length, MD5 checksum, the content type its name
 * suggests), and where a file's mapping comes from (a blueprint file, or a
 * legacy fits2caom2 triple packed into one string for the state store).
 */
#ifndef CAOM2INGEST_ARTIFACT_H
#define CAOM2INGEST_ARTIFACT_H

#include <stdint.h>

struct blueprint;
struct caom_artifact;

/* What a local file's bytes say about its artifact. */
struct artifact_facts {
	int64_t		 length;	/* bytes */
	char		 md5[37];	/* "md5:<32 hex>" */
	const char	*type;		/* static: artifact_content_type of the name */
};

/* The content type a file's name suggests (application/fits, image/png, ...). */
const char *artifact_content_type(const char *path);
/* "md5:<hex>" of a file's bytes; 0, or -1 with *cause ("PATH: reason"). */
int artifact_md5(const char *path, char out[37], char **cause);
/* Stat and checksum path into *facts (blocking: the daemon calls it on a worker);
 * 0, or -1 with *cause ("PATH: reason"). */
int artifact_facts_read(const char *path, struct artifact_facts *facts, char **cause);
/* Record facts as a's content length, checksum and type (replacing what it had). */
void artifact_facts_apply(struct caom_artifact *a, const struct artifact_facts *facts);

/*
 * A legacy fits2caom2 triple as one mapping string (what a rule's blueprint
 * path is otherwise): "legacy:" CONFIG "\n" DEFAULT "\n" OVERRIDE, each
 * empty when NULL; NULL when all three are NULL.
 */
char *artifact_legacy_spec(const char *config, const char *defaults, const char *override);
/*
 * The blueprint a mapping string names for the file whose artifact is uri:
 * a blueprint file's path, or a legacy spec. 0 with *bp (and, for a legacy
 * spec, its warnings in *warn, or NULL), or -1 with *cause naming path (the
 * file being mapped).
 */
int artifact_blueprint(const char *mapping, const char *path, const char *uri,
    struct blueprint **bp, char **warn, char **cause);

#endif
