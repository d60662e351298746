/*
 * t/store.c - the storage front (sinks/storage.c) with the directory store:
 * keys from URIs, MD5 in base64, a file stored atomically at its place,
 * found there the second time, stored again when it changed, a file that
 * changed under the put refused (transient), an unwritable place refused
 * (permanent), bad URIs refused; the work runs on worker threads (lib/work)
 * and done() never inside storage_put.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "caom/artifact.h"
#include "lib/curlev.h"
#include "lib/work.h"
#include "lib/xmalloc.h"
#include "sinks/storage.h"
#include "sinks/storage_int.h"
#include "tap.h"

static struct ev_loop *loop;
static struct work *pool;

struct outcome {
	int			 calls;
	int			 inside;	/* called from inside storage_put */
	enum storage_result	 result;
	char			*message;
};

static int in_put;

static void
submit(void *ctx, storage_work_fn *fn, storage_work_fn *done, void *arg)
{
	work_submit(ctx, fn, done, arg);
}

static void
on_done(void *arg, enum storage_result result, const char *message, int64_t sent)
{
	struct outcome *o = arg;

	o->calls++;
	o->inside |= in_put;
	o->result = result;
	free(o->message);
	o->message = xstrdup(message);
	ev_break(loop, EVBREAK_ALL);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		bail("%s: %s", path, strerror(errno));
}

/* Store path as uri; the outcome. */
static void
put(struct storage *st, const char *path, const char *uri, const char *md5,
    struct outcome *o)
{
	struct storage_file f;
	struct artifact_facts facts;
	char *cause = NULL;

	memset(&f, 0, sizeof f);
	if (md5 == NULL && artifact_facts_read(path, &facts, &cause) != 0)
		bail("%s", cause);
	f.path = path;
	f.uri = uri;
	f.md5 = md5 != NULL ? md5 : facts.md5;
	f.size = md5 != NULL ? 5 : facts.length;
	f.type = "application/fits";
	free(o->message);
	memset(o, 0, sizeof *o);
	in_put = 1;
	storage_put(st, &f, NULL, on_done, o);
	in_put = 0;
	ev_run(loop, 0);
}

static char *
slurp(const char *path)
{
	char buf[256];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return xstrdup("(missing)");
	n = fread(buf, 1, sizeof buf - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return xstrdup(buf);
}

static void
test_keys(void)
{
	static const struct { const char *uri, *path; } cases[] = {
		{ "cadc:OMM/x.fits", "cadc/OMM/x.fits" },
		{ "ad:CFHT/a/b.fz", "ad/CFHT/a/b.fz" },
		{ "cadc:OMM/../x", NULL }, { "cadc:OMM//x", NULL }, { "cadc:/x", NULL },
		{ "nocolon/x", NULL }, { ":x", NULL }, { "cadc:OMM/x/", NULL },
		{ "cadc:OMM/./x", NULL }, { "cadc:OMM/a\tb", NULL },
	};
	char *p, *cause = NULL, b64[25], back[37];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p = storage_uri_path(cases[i].uri, &cause);
		is_string(cases[i].path, p, "key of %s", cases[i].uri);
		free(p);
		free(cause);
		cause = NULL;
	}
	ok(storage_md5_b64("md5:d41d8cd98f00b204e9800998ecf8427e", b64) == 0 &&
	    strcmp(b64, "1B2M2Y8AsgTpgAmY7PhCfg==") == 0, "md5 of nothing in base64 (RFC 3230)");
	ok(storage_b64_md5(b64, strlen(b64), back) == 0 &&
	    strcmp(back, "md5:d41d8cd98f00b204e9800998ecf8427e") == 0, "and back");
	ok(storage_b64_md5("notbase64", 9, back) != 0, "a bad digest is refused");
	is_string("gzip", storage_encoding_of("/x/a.fits.gz"), "encoding of .gz");
	ok(storage_encoding_of("/x/a.fits.fz") == NULL, "no encoding for .fz");
}

static void
test_dir(const char *tmp)
{
	struct storage_config cfg;
	struct storage *st;
	struct outcome o = { 0, 0, STORAGE_STORED, NULL };
	char *archive = xasprintf("%s/archive", tmp), *src = xasprintf("%s/x.fits", tmp);
	char *dest = xasprintf("%s/cadc/OMM/x.fits", archive), *cause = NULL, *t, *loc;
	struct stat sb;

	memset(&cfg, 0, sizeof cfg);
	cfg.kind = STORAGE_DIR;
	cfg.directory = archive;
	cfg.submit = submit;
	cfg.submit_ctx = pool;
	cfg.retry_attempts = 1;
	st = storage_new(loop, &cfg, &cause);
	ok(st == NULL && cause != NULL && strstr(cause, "No such file or directory") != NULL,
	    "a missing directory: %s", cause);
	free(cause);
	cause = NULL;
	mkdir(archive, 0755);
	if ((st = storage_new(loop, &cfg, &cause)) == NULL)
		bail("%s", cause);
	t = xasprintf("directory:%s", archive);
	is_string(t, storage_target(st), "target");
	free(t);
	loc = storage_locate(st, "cadc:OMM/x.fits", &cause);
	is_string(dest, loc, "where cadc:OMM/x.fits goes");
	free(loc);
	write_file(src, "first version\n");
	put(st, src, "cadc:OMM/x.fits", NULL, &o);
	ok(o.calls == 1 && !o.inside && o.result == STORAGE_STORED, "stored: %s", o.message);
	t = slurp(dest);
	is_string("first version\n", t, "the bytes at DIR/cadc/OMM/x.fits");
	free(t);
	ok(stat(dest, &sb) == 0 && (sb.st_mode & 0777) == 0644, "mode 0644");
	put(st, src, "cadc:OMM/x.fits", NULL, &o);
	ok(o.result == STORAGE_PRESENT, "the same bytes again: present (%s)", o.message);
	write_file(src, "second version, longer\n");
	put(st, src, "cadc:OMM/x.fits", NULL, &o);
	t = slurp(dest);
	ok(o.result == STORAGE_STORED && strcmp(t, "second version, longer\n") == 0,
	    "a changed file is stored again");
	free(t);
	put(st, src, "cadc:OMM/x.fits", "md5:00000000000000000000000000000000", &o);
	ok(o.result == STORAGE_TRANSIENT && strstr(o.message, "changed while being stored"),
	    "bytes that do not hash to the MD5 given: transient (%s)", o.message);
	t = slurp(dest);
	is_string("second version, longer\n", t, "and what was stored stays");
	free(t);
	put(st, src, "cadc:OMM/../x.fits", NULL, &o);
	ok(o.result == STORAGE_PERMANENT && strstr(o.message, "cannot be a storage key"),
	    "a URI with '..': permanent (%s)", o.message);
	/* a place storage cannot take (a directory where the file goes): permanent, as
	 * an unwritable archive is, and testable as root too */
	t = xasprintf("%s/cadc/OMM/dir.fits", archive);
	mkdir(t, 0755);
	free(t);
	put(st, src, "cadc:OMM/dir.fits", NULL, &o);
	ok(o.result == STORAGE_PERMANENT && strstr(o.message, "Is a directory"),
	    "a place that cannot take the file: permanent (%s)", o.message);
	free(o.message);
	storage_free(st);
	free(archive);
	free(src);
	free(dest);
}

int
main(void)
{
	char tmpl[] = "/tmp/caom2ingest-store.XXXXXX", *cause = NULL, *cmd;

	plan(27);
	if (mkdtemp(tmpl) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	loop = ev_default_loop(0);
	if ((pool = work_new(loop, 2, &cause)) == NULL)
		bail("%s", cause);
	test_keys();
	test_dir(tmpl);
	work_free(pool, NULL);
	cmd = xasprintf("rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpl);
	free(cmd);
	return 0;
}
