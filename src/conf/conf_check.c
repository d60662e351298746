/*
 * conf_check.c - the files and directories a configuration names, for
 * --check-config (see conf_check.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caom/blueprint.h"
#include "caom/blueprint_load.h"
#include "conf/conf.h"
#include "conf/conf_check.h"
#include "lib/xmalloc.h"

struct conf_check {
	const struct conf *cfg;
	char		*errors;
};

static void conf_check_error(struct conf_check *ck, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add one "FILE:LINE: message" line. */
static void
conf_check_error(struct conf_check *ck, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg, *all;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	all = xasprintf("%s%s%s:%d: %s", ck->errors != NULL ? ck->errors : "",
	    ck->errors != NULL ? "\n" : "", ck->cfg->path, line, msg);
	free(ck->errors);
	free(msg);
	ck->errors = all;
}

/* Why path is not a directory, or NULL. */
static const char *
conf_check_not_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return strerror(errno);
	return S_ISDIR(st.st_mode) ? NULL : "not a directory";
}

static void
conf_check_dir(struct conf_check *ck, int line, const char *key, const char *path)
{
	const char *why = conf_check_not_dir(path);

	if (why != NULL)
		conf_check_error(ck, line, "%s: %s: %s", key, path, why);
}

/* A templated blueprint path: its deepest directory without ${...} must exist. */
static void
conf_check_template(struct conf_check *ck, int line, const char *key, const char *path)
{
	const char *t = strstr(path, "${"), *slash;
	char *dir;

	for (slash = t; slash > path && slash[-1] != '/'; slash--)
		;
	if (slash <= path + 1)
		return;		/* "${x}.bp" or "/${x}": nothing fixed to look at */
	dir = xstrndup(path, (size_t)(slash - path - 1));
	if (conf_check_not_dir(dir) != NULL)
		conf_check_error(ck, line, "%s: %s (the directory of %s): %s", key, dir, path,
		    conf_check_not_dir(dir));
	free(dir);
}

/* Load a blueprint; each of its errors becomes one line naming the key. */
static void
conf_check_blueprint(struct conf_check *ck, int line, const char *key, const char *path,
    int code)
{
	struct blueprint *bp;
	char *cause = NULL, *l, *save = NULL;

	if (strstr(path, "${") != NULL) {
		conf_check_template(ck, line, key, path);
		return;
	}
	bp = blueprint_new();
	if (code)	/* its function values were bound at load (conf_build_code) */
		bp_allow_functions(bp);
	if (blueprint_load(bp, path, &cause) != 0) {
		for (l = strtok_r(cause, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
			conf_check_error(ck, line, "%s: %s", key, l);
	}
	free(cause);
	blueprint_free(bp);
}

static void
conf_check_collection(struct conf_check *ck, const struct conf_collection *c, size_t i)
{
	const struct conf_rule *r;
	char *key;
	size_t j;

	key = xasprintf("collections[%zu].landing", i + 1);
	for (j = 0; j < c->landing.n; j++)
		conf_check_dir(ck, c->landing_line, key, c->landing.v[j]);
	free(key);
	if (c->on_success.kind == CONF_MOVE && c->on_success.dir != NULL) {
		key = xasprintf("collections[%zu].on_success", i + 1);
		conf_check_dir(ck, c->on_success_line, key, c->on_success.dir);
		free(key);
	}
	if (c->on_failure.kind == CONF_MOVE && c->on_failure.dir != NULL) {
		key = xasprintf("collections[%zu].on_failure", i + 1);
		conf_check_dir(ck, c->on_failure_line, key, c->on_failure.dir);
		free(key);
	}
	for (j = 0; j < c->rules.n; j++) {
		r = &c->rules.v[j];
		if (r->blueprint == NULL || r->blueprint[0] == '\0')
			continue;
		key = xasprintf("collections[%zu].rules[%zu].blueprint", i + 1, j + 1);
		conf_check_blueprint(ck, r->blueprint_line, key, r->blueprint, r->lua != NULL);
		free(key);
	}
}

int
conf_check_files(const struct conf *cfg, char **errors)
{
	struct conf_check ck = { cfg, NULL };
	size_t i;

	for (i = 0; i < cfg->collections.n; i++)
		conf_check_collection(&ck, &cfg->collections.v[i], i);
	*errors = ck.errors;
	return ck.errors != NULL ? -1 : 0;
}
