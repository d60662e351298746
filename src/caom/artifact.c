/*
 * artifact.c - the per-file artifact step (see artifact.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caom/artifact.h"
#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "caom/caom.h"
#include "caom/checksum.h"
#include "caom/legacy.h"
#include "lib/xmalloc.h"

#define ARTIFACT_LEGACY	"legacy:"

static const struct {
	const char	*suffix;
	const char	*type;
} artifact_types[] = {
	{ ".fits", "application/fits" }, { ".fits.fz", "application/fits" },
	{ ".fits.gz", "application/fits" }, { ".fit", "application/fits" },
	{ ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".txt", "text/plain" },
	{ ".xml", "text/xml" }, { ".gz", "application/gzip" },
};

const char *
artifact_content_type(const char *path)
{
	size_t i, len = strlen(path), slen;

	for (i = 0; i < sizeof artifact_types / sizeof artifact_types[0]; i++) {
		slen = strlen(artifact_types[i].suffix);
		if (len > slen && strcmp(path + len - slen, artifact_types[i].suffix) == 0)
			return artifact_types[i].type;
	}
	return "application/octet-stream";
}

int
artifact_md5(const char *path, char out[37], char **cause)
{
	uint8_t md[16];
	int fd, r, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	r = checksum_fd_md5(fd, md);
	e = errno;
	close(fd);
	if (r != 0) {
		*cause = xasprintf("%s: %s", path, strerror(e));
		return -1;
	}
	checksum_format(md, out);
	return 0;
}

int
artifact_facts_read(const char *path, struct artifact_facts *facts, char **cause)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (artifact_md5(path, facts->md5, cause) != 0)
		return -1;
	facts->length = (int64_t)st.st_size;
	facts->type = artifact_content_type(path);
	return 0;
}

void
artifact_facts_apply(struct caom_artifact *a, const struct artifact_facts *facts)
{
	a->content_length = facts->length;
	a->has_content_length = 1;
	free(a->content_checksum);
	a->content_checksum = xstrdup(facts->md5);
	free(a->content_type);
	a->content_type = xstrdup(facts->type);
}

char *
artifact_legacy_spec(const char *config, const char *defaults, const char *override)
{
	if (config == NULL && defaults == NULL && override == NULL)
		return NULL;
	return xasprintf(ARTIFACT_LEGACY "%s\n%s\n%s", config ? config : "",
	    defaults ? defaults : "", override ? override : "");
}

/* The blueprint for one file from a legacy spec (see artifact_legacy_spec). */
static int
artifact_legacy_blueprint(const char *mapping, const char *path, const char *uri,
    struct blueprint **bp, char **warn, char **cause)
{
	char *spec = xstrdup(mapping + strlen(ARTIFACT_LEGACY)), *part[3], *p = spec;
	char *msg = NULL;
	struct legacy *lg = NULL;
	int i, r = -1;

	for (i = 0; i < 3; i++) {
		part[i] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
		else
			p = part[i] + strlen(part[i]);
		if (*part[i] == '\0')
			part[i] = NULL;
	}
	if (legacy_load(part[0], part[1], part[2], &lg, &msg) != 0 ||
	    legacy_blueprint(lg, uri, bp, warn, &msg) != 0) {
		*cause = xasprintf("legacy mapping for %s: %s", path, msg);
		goto out;
	}
	r = 0;
out:
	free(msg);
	legacy_free(lg);
	free(spec);
	return r;
}

int
artifact_blueprint(const char *mapping, const char *path, const char *uri,
    struct blueprint **bp, char **warn, char **cause)
{
	char *msg = NULL;

	*warn = NULL;
	if (strncmp(mapping, ARTIFACT_LEGACY, strlen(ARTIFACT_LEGACY)) == 0)
		return artifact_legacy_blueprint(mapping, path, uri, bp, warn, cause);
	*bp = blueprint_new();
	if (blueprint_load(*bp, mapping, &msg) != 0) {
		*cause = xasprintf("blueprint for %s: %s", path, msg);
		free(msg);
		blueprint_free(*bp);
		*bp = NULL;
		return -1;
	}
	return 0;
}
