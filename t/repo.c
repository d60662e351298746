/*
 * t/repo.c - the repository client against the real test server
 * (t/repo-server) over loopback: create, no-op on the same document,
 * update with If-Match, 409 and 412 races, transient faults (5xx with
 * Retry-After, dropped connections, timeouts, connection refused),
 * permanent errors, bearer-token authentication, and concurrency.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>

#include "caom/caom.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "lib/curlev.h"
#include "sinks/repo.h"
#include "tap.h"
#include "lib/xmalloc.h"

static struct ev_loop *loop;
static char dir[] = "/tmp/caom2ingest-repo.XXXXXX";

struct outcome {
	int		 done;
	enum repo_result result;
	long		 status;
	long		 retry_after;
	char		*message;
	int		 merges;
};

struct server {
	pid_t		 pid;
	char		*url;		/* base of observations */
	char		*root;		/* http://127.0.0.1:PORT */
};

/* A valid CAOM-2.4 document for coll/obs; variant changes its content. */
static char *
make_doc(const char *coll, const char *obs, int variant, size_t *len)
{
	struct caom_observation *o = caom_observation_new(CAOM_OBS_SIMPLE, coll, obs);
	char *text;
	size_t i;

	/* A stable UUID per observation, so that the same content gives the same text. */
	memset(o->ent.id, 0, sizeof o->ent.id);
	for (i = 0; obs[i] != '\0'; i++)
		o->ent.id[i % 16] ^= (uint8_t)obs[i];
	o->algorithm.name = xstrdup("exposure");
	o->sequence_number = variant;
	o->has_sequence_number = 1;
	checksum_compute(o);
	text = caom_xml_write(o, len);
	caom_observation_free(o);
	return text;
}

static int merge_variant = 1;
static const char *merge_bad;	/* return this body instead */

/* The test's merge: the document of merge_variant; unchanged when already stored. */
static int
merge(void *arg, const char *existing, size_t len, char **out, size_t *outlen, char **cause)
{
	struct outcome *oc = arg;
	const char *coll = "TEST", *obs = oc->message != NULL ? oc->message : "O";
	char *doc;

	oc->merges++;
	if (merge_bad != NULL) {
		if (strcmp(merge_bad, "error") == 0) {
			*cause = xstrdup("blueprint: line 3: unknown key");
			return -1;
		}
		*out = xstrdup(merge_bad);
		*outlen = strlen(merge_bad);
		return 0;
	}
	doc = make_doc(coll, obs, merge_variant, outlen);
	if (existing != NULL && len == *outlen && memcmp(existing, doc, len) == 0) {
		free(doc);
		return 1;
	}
	*out = doc;
	return 0;
}

static void
done(void *arg, enum repo_result result, long status, const char *message, long retry_after)
{
	struct outcome *oc = arg;

	oc->done = 1;
	oc->result = result;
	oc->status = status;
	oc->retry_after = retry_after;
	free(oc->message);
	oc->message = xstrdup(message);
}

/* Push TEST/obs and run the loop until done (10 s at most). */
static struct outcome
push(struct repo *r, const char *obs)
{
	struct outcome oc = { 0, REPO_PERMANENT, 0, 0, xstrdup(obs), 0 };
	ev_tstamp end = ev_time() + 10;

	repo_push(r, "TEST", obs, merge, done, &oc);
	ok(!oc.done, "%s: done is not called from inside repo_push", obs);
	while (!oc.done && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	return oc;
}

/* A blocking request to the server's /_test/ endpoints; returns the body. */
static char *
test_call(const struct server *s, const char *method, const char *path)
{
	char *url = xasprintf("%s%s", s->root, path), *cmd, *out = xcalloc(1, 65536);
	FILE *fp;
	size_t n;

	cmd = xasprintf("curl -s -X %s '%s'", method, url);
	if ((fp = popen(cmd, "r")) != NULL) {
		n = fread(out, 1, 65535, fp);
		out[n] = '\0';
		pclose(fp);
	}
	free(cmd);
	free(url);
	return out;
}

static int
stat_count(const struct server *s, const char *verb)
{
	char *json = test_call(s, "GET", "/_test/stats"), *p, key[32];
	int n = -1;

	snprintf(key, sizeof key, "\"%s\":", verb);
	if ((p = strstr(json, key)) != NULL)
		n = atoi(p + strlen(key));
	free(json);
	return n;
}

static struct server
start_server(const char *extra)
{
	static int nstarted;
	struct server s = { 0, NULL, NULL };
	char *portfile = xasprintf("%s/port%d", dir, ++nstarted), *data, *cmd;
	char port[32] = "";
	FILE *fp;
	int i;

	data = xasprintf("%s/data%d", dir, nstarted);
	cmd = xasprintf("exec '%s/t/repo-server' --listen 127.0.0.1:0 --port-file '%s' "
	    "--data '%s' --xsd-dir '%s/xsd' --no-fsync %s >/dev/null 2>>'%s/server.log'",
	    getenv("top_builddir") ? getenv("top_builddir") : ".", portfile, data,
	    getenv("srcdir") ? getenv("srcdir") : ".", extra ? extra : "", dir);
	if ((s.pid = fork()) == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && port[0] == '\0'; i++) {
		usleep(25000);
		if ((fp = fopen(portfile, "r")) != NULL) {
			if (fgets(port, sizeof port, fp) == NULL)
				port[0] = '\0';
			fclose(fp);
		}
	}
	port[strcspn(port, "\n")] = '\0';
	if (port[0] == '\0')
		bail("the test repository did not start");
	s.root = xasprintf("http://127.0.0.1:%s", port);
	s.url = xasprintf("%s/torkeep/observations", s.root);
	free(cmd);
	free(data);
	free(portfile);
	return s;
}

static void
stop_server(struct server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	free(s->url);
	free(s->root);
}

static void
check(struct outcome oc, enum repo_result want, const char *what)
{
	ok(oc.done && oc.result == want, "%s: %s", what, repo_result_name(want));
	if (!oc.done || oc.result != want)
		diag("got %s (%ld): %s", oc.done ? repo_result_name(oc.result) : "nothing",
		    oc.status, oc.message ? oc.message : "");
}

static void
test_protocol(struct repo *r, const struct server *s)
{
	struct outcome oc;

	oc = push(r, "O1");
	check(oc, REPO_STORED, "a new observation is created");
	is_int(1, stat_count(s, "PUT"), "with one PUT");
	free(oc.message);
	oc = push(r, "O1");
	check(oc, REPO_UNCHANGED, "the same document again");
	ok(stat_count(s, "PUT") == 1 && stat_count(s, "POST") == 0, "is not written again");
	free(oc.message);
	merge_variant = 2;
	oc = push(r, "O1");
	check(oc, REPO_STORED, "a changed document");
	is_int(1, stat_count(s, "POST"), "is written with one POST (If-Match)");
	free(oc.message);
	merge_variant = 3;
	free(test_call(s, "POST", "/_test/fault?status=412&count=1&verb=POST"));
	oc = push(r, "O1");
	check(oc, REPO_STORED, "a 412 (another writer) is re-read and merged again");
	is_int(2, oc.merges, "the merge ran twice");
	free(oc.message);
	free(test_call(s, "POST", "/_test/fault?status=409&count=1&verb=PUT"));
	oc = push(r, "O2");
	check(oc, REPO_STORED, "a 409 on create is re-read and retried");
	is_int(2, oc.merges, "the merge ran twice");
	free(oc.message);
}

static void
test_failures(struct repo *r, const struct server *s)
{
	struct outcome oc;

	free(test_call(s, "POST", "/_test/fault?status=503&count=1&retry_after=7"));
	oc = push(r, "O3");
	check(oc, REPO_TRANSIENT, "503");
	ok(oc.status == 503 && oc.retry_after == 7, "with its status and Retry-After");
	free(oc.message);
	free(test_call(s, "POST", "/_test/fault?drop=1&count=4"));
	oc = push(r, "O3");
	check(oc, REPO_TRANSIENT, "a dropped connection");
	free(oc.message);
	free(test_call(s, "POST", "/_test/clear-faults"));
	merge_bad = "<not-caom/>";
	oc = push(r, "O4");
	check(oc, REPO_PERMANENT, "an invalid document (400)");
	ok(oc.status == 400 && strstr(oc.message, "HTTP 400: ") != NULL,
	    "keeps the service's text: %s", oc.message);
	free(oc.message);
	merge_bad = "error";
	oc = push(r, "O5");
	check(oc, REPO_PERMANENT, "a mapping error");
	is_string("blueprint: line 3: unknown key", oc.message, "with the mapping's message");
	free(oc.message);
	merge_bad = NULL;
}

static void
test_timeout_and_refused(const struct server *s)
{
	struct repo_config cfg = { s->url, NULL, NULL, NULL, NULL, 300, 4 };
	struct outcome oc;
	struct repo *r;
	char *cause = NULL;

	r = repo_new(loop, &cfg, &cause);
	free(test_call(s, "POST", "/_test/fault?delay_ms=1500&count=1"));
	oc = push(r, "O6");
	check(oc, REPO_TRANSIENT, "a request over its timeout");
	ok(strstr(oc.message, "imeout") != NULL || strstr(oc.message, "timed out") != NULL,
	    "says it timed out: %s", oc.message);
	free(oc.message);
	repo_free(r);
	cfg.url = "http://127.0.0.1:1/torkeep/observations";
	r = repo_new(loop, &cfg, &cause);
	oc = push(r, "O7");
	check(oc, REPO_TRANSIENT, "connection refused");
	free(oc.message);
	repo_free(r);
}

static void
test_auth(void)
{
	struct server s;
	struct repo_config cfg = { NULL, NULL, NULL, NULL, NULL, 5000, 4 };
	char *tok = xasprintf("%s/token", dir), *bad = xasprintf("%s/token.bad", dir);
	char *opt = xasprintf("--token-file %s", tok), *cause = NULL, *hdrs, *log, *want;
	struct outcome oc;
	struct repo *r;
	FILE *fp;

	fp = fopen(tok, "w");
	fputs("s3cr3t-t0ken-value\n", fp);
	fclose(fp);
	chmod(tok, 0644);
	cfg.url = "http://127.0.0.1:1/o";
	cfg.token_file = tok;
	want = xasprintf("token file %s: mode 0644 gives access to its group or others "
	    "(use 0600 or 0400)", tok);
	ok(repo_new(loop, &cfg, &cause) == NULL, "a token file others may read is refused");
	is_string(want, cause, "with the rule, and not the token");
	free(want);
	free(cause);
	cause = NULL;
	cfg.token_file = NULL;
	chmod(tok, 0600);
	s = start_server(opt);
	cfg.url = s.url;
	r = repo_new(loop, &cfg, &cause);
	oc = push(r, "A1");
	check(oc, REPO_AUTH, "no token: 401");
	free(oc.message);
	repo_free(r);
	cfg.token_file = tok;
	r = repo_new(loop, &cfg, &cause);
	oc = push(r, "A1");
	check(oc, REPO_STORED, "with the bearer token");
	free(oc.message);
	hdrs = test_call(&s, "GET", "/_test/last-headers");
	ok(strstr(hdrs, "Authorization: Bearer [") != NULL || strstr(hdrs, "Authorization: [") != NULL,
	    "the server saw an Authorization header");
	free(hdrs);
	repo_free(r);
	cfg.token_file = bad;
	ok(repo_new(loop, &cfg, &cause) == NULL && strstr(cause, "token.bad") != NULL &&
	    strstr(cause, "s3cr3t") == NULL, "an unreadable token file is an error: %s", cause);
	free(cause);
	stop_server(&s);
	log = xasprintf("grep -q s3cr3t '%s/server.log'", dir);
	ok(system(log) != 0, "the token appears in no log");
	free(log);
	free(opt);
	free(tok);
	free(bad);
}

struct many {
	char		 obs[16];
	int		*stored;
};

/* HTTP basic credentials from a netrc file. */
static void
test_netrc(void)
{
	struct server s;
	struct repo_config cfg = { NULL, NULL, NULL, NULL, NULL, 5000, 4 };
	char *netrc = xasprintf("%s/netrc", dir), *bad = xasprintf("%s/netrc.bad", dir);
	struct outcome oc;
	struct repo *r;
	char *cause = NULL;
	FILE *fp;

	fp = fopen(netrc, "w");
	fputs("machine 127.0.0.1 login alice password n3trc-pass\n", fp);
	fclose(fp);
	fp = fopen(bad, "w");
	fputs("machine 127.0.0.1 login alice password wrong\n", fp);
	fclose(fp);
	s = start_server("--basic alice:n3trc-pass");
	cfg.url = s.url;
	cfg.netrc = netrc;
	r = repo_new(loop, &cfg, &cause);
	oc = push(r, "B1");
	check(oc, REPO_STORED, "HTTP basic credentials from netrc");
	free(oc.message);
	repo_free(r);
	cfg.netrc = bad;
	r = repo_new(loop, &cfg, &cause);
	oc = push(r, "B2");
	check(oc, REPO_AUTH, "wrong netrc credentials: 401");
	ok(strstr(oc.message, "wrong") == NULL && strstr(oc.message, "n3trc") == NULL,
	    "the message holds no password: %s", oc.message);
	free(oc.message);
	repo_free(r);
	stop_server(&s);
	free(netrc);
	free(bad);
}

static void
on_many(void *arg, enum repo_result result, long status, const char *message, long ra)
{
	struct many *m = arg;

	if (result == REPO_STORED)
		(*m->stored)++;
}

static int
merge_many(void *arg, const char *existing, size_t len, char **out, size_t *outlen,
    char **cause)
{
	struct many *m = arg;

	*out = make_doc("TEST", m->obs, 1, outlen);
	return 0;
}

static void
test_concurrency(const struct server *s)
{
	struct repo_config cfg = { s->url, NULL, NULL, NULL, NULL, 5000, 4 };
	struct repo *r;
	static struct many m[50];
	char *cause = NULL;
	ev_tstamp end;
	int i, stored = 0;

	r = repo_new(loop, &cfg, &cause);
	for (i = 0; i < 50; i++) {
		snprintf(m[i].obs, sizeof m[i].obs, "M%d", i);
		m[i].stored = &stored;
		repo_push(r, "TEST", m[i].obs, merge_many, on_many, &m[i]);
	}
	end = ev_time() + 20;
	while (stored < 50 && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	is_int(50, stored, "all 50 stored at concurrency 4");
	repo_free(r);
}

int
main(void)
{
	struct repo_config cfg = { NULL, NULL, NULL, NULL, NULL, 5000, 4 };
	struct server s;
	struct repo *r;
	char *cause = NULL, *cmd;

	if (system("command -v curl >/dev/null") != 0)
		skip_all("curl (the command) is needed to drive the test server");
	plan(46);
	caom_xml_init();
	if (curlev_global_init() != 0)
		bail("cannot initialise libcurl");
	loop = ev_default_loop(0);
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	s = start_server(NULL);
	cfg.url = s.url;
	r = repo_new(loop, &cfg, &cause);
	test_protocol(r, &s);
	test_failures(r, &s);
	repo_free(r);
	test_timeout_and_refused(&s);
	test_concurrency(&s);
	stop_server(&s);
	test_auth();
	test_netrc();
	caom_xml_cleanup();
	cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("cleanup failed");
	free(cmd);
	return 0;
}
