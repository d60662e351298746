/*
 * bench/bench_webhook.c - S3 bucket events accepted by the webhook endpoint
 * with persistence on: every event is parsed (jansson) and INSERTed into a
 * SQLite database in WAL mode with synchronous=NORMAL (as src/state.c sets
 * it), one transaction (commit) per event, before the 200 goes out.
 *
 * usage: bench_webhook DIR N CONCURRENCY...
 * For each concurrency C: a fresh database DIR/bench-webhook.db, and a
 * forked load generator (libcurl multi, C keep-alive connections, one
 * request in flight on each) POSTing N ~1 KB event documents while this
 * process runs the endpoint on its libev loop (with a bearer token). Reports events/s, p50/p99
 * request latency seen by the client, the longest event-loop iteration, and
 * checks that the database holds N rows.
 *
 * usage: bench_webhook --post URL FILE CONCURRENCY
 * Only the load generator: POST each line of FILE (one event document per
 * line) to URL over CONCURRENCY keep-alive connections; prints "OK OTHER
 * SECONDS P50 P99" (bench/bench_storage.sh drives the real daemon with it:
 * curl's command line tool takes a second per few hundred requests here).
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <jansson.h>
#include <sqlite3.h>

#include "sources/webhook.h"
#include "lib/xmalloc.h"

#define MAX_CONC	64
#define TOKEN		"bench-token-0123456789abcdef"

static struct ev_loop *loop;
static double busy_max, iter_start;
static sqlite3 *db;
static sqlite3_stmt *ins;

/* What the load generator reports. */
struct result {
	int		 ok;		/* 200 answers */
	int		 other;		/* anything else */
	double		 seconds;
	double		 p50, p99;	/* seconds */
};

/* A MinIO-style s3:ObjectCreated:Put record for object i (about 1 KB). */
static char *
event_body(int i, size_t *len)
{
	char *s = xasprintf("{\"EventName\":\"s3:ObjectCreated:Put\","
	    "\"Key\":\"landing/DAO/dao_c122_2016_%06d.fits\",\"Records\":[{"
	    "\"eventVersion\":\"2.0\",\"eventSource\":\"minio:s3\",\"awsRegion\":\"\","
	    "\"eventTime\":\"2026-11-23T12:00:00.000Z\",\"eventName\":\"s3:ObjectCreated:Put\","
	    "\"userIdentity\":{\"principalId\":\"ingest\"},\"requestParameters\":{"
	    "\"principalId\":\"ingest\",\"region\":\"\",\"sourceIPAddress\":\"10.0.0.7\"},"
	    "\"responseElements\":{\"x-amz-id-2\":\"dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af"
	    "9251148b658df7ac2e3e8\",\"x-amz-request-id\":\"17A9B1C2D3E4F5%06d\","
	    "\"x-minio-deployment-id\":\"3c1d6a2e-5b8f-4e0a-9d7c-2f6b8e1a4c90\","
	    "\"x-minio-origin-endpoint\":\"https://s3.example.org\"},\"s3\":{"
	    "\"s3SchemaVersion\":\"1.0\",\"configurationId\":\"Config\",\"bucket\":{"
	    "\"name\":\"landing\",\"ownerIdentity\":{\"principalId\":\"ingest\"},"
	    "\"arn\":\"arn:aws:s3:::landing\"},\"object\":{"
	    "\"key\":\"DAO%%2Fdao_c122_2016_%06d.fits\",\"size\":8640000,"
	    "\"eTag\":\"9b2cf535f27731c974343645a3985328\",\"contentType\":\"application/fits\","
	    "\"userMetadata\":{\"content-type\":\"application/fits\"},"
	    "\"sequencer\":\"17A9B1C2D3E4F5%06d\"}},\"source\":{\"host\":\"10.0.0.7\","
	    "\"port\":\"\",\"userAgent\":\"MinIO (linux; amd64) minio-go/v7.0.63\"}}]}",
	    i, i, i, i);

	*len = strlen(s);
	return s;
}

/* The callback under test: parse, INSERT, commit. */
static enum webhook_verdict
deliver(void *arg, const char *body, size_t len, char **why)
{
	json_t *root, *rec;
	json_error_t err;
	const char *bucket = NULL, *key = NULL, *etag = NULL;
	enum webhook_verdict v = WEBHOOK_RECORDED;

	if ((root = json_loadb(body, len, 0, &err)) == NULL) {
		*why = xasprintf("%s", err.text);
		return WEBHOOK_MALFORMED;
	}
	rec = json_array_get(json_object_get(root, "Records"), 0);
	if (json_unpack(rec, "{s:{s:{s:s}, s:{s:s, s?s}}}", "s3", "bucket", "name", &bucket,
	    "object", "key", &key, "eTag", &etag) != 0) {
		json_decref(root);
		*why = xstrdup("no Records[0].s3 bucket and key");
		return WEBHOOK_MALFORMED;
	}
	sqlite3_bind_text(ins, 1, bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, etag, -1, SQLITE_STATIC);
	if (sqlite3_step(ins) != SQLITE_DONE) {
		*why = xstrdup(sqlite3_errmsg(db));
		v = WEBHOOK_UNAVAILABLE;
	}
	sqlite3_reset(ins);
	json_decref(root);
	return v;
}

static void
db_open(const char *path)
{
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	    " CREATE TABLE event (id INTEGER PRIMARY KEY, bucket TEXT NOT NULL,"
	    " key TEXT NOT NULL, etag TEXT, UNIQUE (bucket, key))", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO event (bucket, key, etag)"
	    " VALUES (?, ?, ?)", -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_webhook: %s: %s\n", path, sqlite3_errmsg(db));
		exit(1);
	}
}

static long
db_rows(void)
{
	sqlite3_stmt *s;
	long n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM event", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* Give easy handle e request number i. */
static void
gen_post(CURL *e, const char *url, char **bodies, int i)
{
	size_t len = strlen(bodies[i]);

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, bodies[i]);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
}

/* The load generator (child): N POSTs over conc keep-alive connections. */
static struct result
gen_run(const char *url, char **bodies, int n, int conc)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	double *lat = xcalloc((size_t)n, sizeof *lat), t0;
	struct result res = { 0 };
	CURLM *m = curl_multi_init();
	CURLMsg *msg;
	CURL *e;
	int i, next = 0, running = 1, left, done = 0;
	long status;
	curl_off_t us;

	hdr = curl_slist_append(hdr, "Expect:");
	hdr = curl_slist_append(hdr, "Authorization: Bearer " TOKEN);
	t0 = ev_time();
	for (i = 0; i < conc && next < n; i++) {
		e = curl_easy_init();
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
		gen_post(e, url, bodies, next++);
		curl_multi_add_handle(m, e);
	}
	while (done < n) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			e = msg->easy_handle;
			status = 0;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
			lat[done++] = (double)us / 1e6;
			if (msg->data.result == CURLE_OK && status == 200)
				res.ok++;
			else
				res.other++;
			curl_multi_remove_handle(m, e);
			if (next < n) {
				gen_post(e, url, bodies, next++);
				curl_multi_add_handle(m, e);
			} else
				curl_easy_cleanup(e);
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	res.seconds = ev_time() - t0;
	qsort(lat, (size_t)done, sizeof *lat, cmp);
	res.p50 = done > 0 ? lat[done / 2] : 0;
	res.p99 = done > 0 ? lat[done * 99 / 100] : 0;
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	return res;
}

/* Fork the load generator; its pid, with *fd the pipe its result comes on. */
static pid_t
gen_start(int port, int n, int conc, int *fd)
{
	struct result res;
	char url[64], **bodies;
	size_t len;
	int p[2], i;
	pid_t pid;

	if (pipe(p) != 0 || (pid = fork()) < 0) {
		fprintf(stderr, "bench_webhook: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		*fd = p[0];
		return pid;
	}
	close(p[0]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/events", port);
	bodies = xcalloc((size_t)n, sizeof *bodies);
	for (i = 0; i < n; i++)
		bodies[i] = event_body(i, &len);
	res = gen_run(url, bodies, n, conc);
	_exit(write(p[1], &res, sizeof res) == (ssize_t)sizeof res ? 0 : 1);
}

static void
on_prepare(struct ev_loop *l, ev_prepare *w, int revents)
{
	double busy = ev_time() - iter_start;

	if (iter_start > 0 && busy > busy_max)
		busy_max = busy;
}

static void
on_check(struct ev_loop *l, ev_check *w, int revents)
{
	iter_start = ev_time();
}

static void
on_child(struct ev_loop *l, ev_child *w, int revents)
{
	ev_child_stop(l, w);
}

static void
run(const char *dir, int n, int conc)
{
	struct webhook_config cfg = { "127.0.0.1:0", TOKEN, 0 };
	struct result res;
	struct webhook *w;
	ev_child cw;
	char *path, *cause = NULL;
	int fd;

	path = xasprintf("%s/bench-webhook.db", dir);
	db_open(path);
	if ((w = webhook_new(loop, &cfg, deliver, NULL, &cause)) == NULL) {
		fprintf(stderr, "bench_webhook: %s\n", cause);
		exit(1);
	}
	busy_max = 0;
	iter_start = 0;
	ev_child_init(&cw, on_child, gen_start(webhook_port(w), n, conc, &fd), 0);
	ev_child_start(loop, &cw);
	while (ev_is_active(&cw))
		ev_run(loop, EVRUN_ONCE);
	if (read(fd, &res, sizeof res) != (ssize_t)sizeof res) {
		fprintf(stderr, "bench_webhook: the load generator failed\n");
		exit(1);
	}
	close(fd);
	printf("concurrency %2d: %d/%d answered 200 (%d other), %ld rows, %7.0f events/s, "
	    "latency p50 %.2f ms p99 %.2f ms, longest loop iteration %.2f ms\n", conc,
	    res.ok, n, res.other, db_rows(), n / res.seconds, res.p50 * 1e3, res.p99 * 1e3,
	    busy_max * 1e3);
	fflush(stdout);
	webhook_free(w);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	unlink(path);
	free(path);
	free(cause);
}

/* --post URL FILE CONC: the load generator alone, against any endpoint. */
static int
post_file(const char *url, const char *path, int conc)
{
	struct result res;
	char **bodies = NULL, *line = NULL;
	size_t cap = 0, nb = 0, alloc = 0;
	ssize_t len;
	FILE *f = fopen(path, "r");

	if (f == NULL || conc < 1 || conc > MAX_CONC) {
		fprintf(stderr, "bench_webhook: %s: %s\n", path, f == NULL ? strerror(errno) :
		    "bad concurrency");
		return 2;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (nb == alloc) {
			alloc = alloc != 0 ? alloc * 2 : 1024;
			bodies = xreallocarray(bodies, alloc, sizeof *bodies);
		}
		bodies[nb++] = xstrdup(line);
	}
	free(line);
	fclose(f);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	res = gen_run(url, bodies, (int)nb, conc);
	printf("%d %d %.6f %.6f %.6f\n", res.ok, res.other, res.seconds, res.p50, res.p99);
	while (nb > 0)
		free(bodies[--nb]);
	free(bodies);
	return res.other == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	ev_prepare prep;
	ev_check chk;
	int i, n, conc;
	size_t len;

	if (argc == 5 && strcmp(argv[1], "--post") == 0)
		return post_file(argv[2], argv[3], atoi(argv[4]));
	if (argc < 4 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_webhook DIR N CONCURRENCY...\n");
		return 2;
	}
	free(event_body(0, &len));
	printf("%d events of %zu bytes per concurrency\n", n, len);
	loop = ev_default_loop(0);
	ev_prepare_init(&prep, on_prepare);
	ev_prepare_start(loop, &prep);
	ev_check_init(&chk, on_check);
	ev_check_start(loop, &chk);
	for (i = 3; i < argc; i++) {
		if ((conc = atoi(argv[i])) < 1 || conc > MAX_CONC) {
			fprintf(stderr, "bench_webhook: concurrency 1..%d\n", MAX_CONC);
			return 2;
		}
		run(argv[1], n, conc);
	}
	return 0;
}
