/*
 * bench/bench_s3.c - S3 fetches and listings through the S3 client against
 * the S3 test server over loopback, with SigV4, at several concurrencies.
 *
 * usage: bench_s3 ENDPOINT CREDENTIALS SERVER-PID put BUCKET PREFIX N SIZE
 *        bench_s3 ENDPOINT CREDENTIALS SERVER-PID fetch BUCKET PREFIX N DIR C...
 *        bench_s3 ENDPOINT CREDENTIALS SERVER-PID list BUCKET PREFIX
 *
 * put stores N objects PREFIX00000.. of SIZE bytes (signed PUTs, one
 * connection; the bucket is created when missing). fetch gets them into DIR at each concurrency C (all N
 * submitted at once, C transfers at a time) and reports objects/s; list
 * lists PREFIX. Each run also reports the CPU seconds of this process and
 * of the server (SERVER-PID, from /proc) over the run.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>

#include "caom/caom_xml.h"
#include "lib/curlev.h"
#include "sources/s3.h"
#include "lib/xmalloc.h"

static struct ev_loop *loop;
static const char *endpoint, *credentials;
static int server_pid;
static int failures;
static long outstanding;	/* requests whose done has not come */

struct cpu {
	double		 wall;
	double		 self;
	double		 server;
};

static double
server_cpu(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", server_pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* After "(comm)": state is field 3, utime 14 and stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
cpu_now(struct cpu *c)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	c->wall = ev_time();
	c->self = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	c->server = server_cpu();
}

static void
report(const char *what, long n, const struct cpu *a)
{
	struct cpu b;
	double wall;

	cpu_now(&b);
	wall = b.wall - a->wall;
	printf("%-28s %7ld in %7.3f s  %9.0f /s   CPU s: client %.2f, server %.2f\n", what, n,
	    wall, (double)n / wall, b.self - a->self, b.server - a->server);
}

static void
on_done(void *arg, enum s3_result r, long status, const char *message)
{
	outstanding--;
	if (r != S3_OK && failures++ < 5)
		fprintf(stderr, "bench_s3: %s\n", message);
}

static void
on_each(void *arg, const struct s3_object *o)
{
	(*(long *)arg)++;
}

static struct s3 *
client(unsigned concurrency)
{
	struct s3_config cfg = { .endpoint = endpoint, .credentials = credentials,
	    .concurrency = concurrency };
	char *cause = NULL;
	struct s3 *s = s3_new(loop, &cfg, &cause);

	if (s == NULL) {
		fprintf(stderr, "bench_s3: %s\n", cause);
		exit(1);
	}
	return s;
}

/* Run the loop until every request's done has come. */
static void
drain(void)
{
	while (outstanding > 0)
		ev_run(loop, EVRUN_ONCE);
}

static size_t
discard(char *d, size_t size, size_t n, void *a)
{
	return size * n;
}

static int
put(const char *bucket, const char *prefix, long n, size_t size)
{
	struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	CURL *e = curl_easy_init();
	char *body = xmalloc(size + 1), *url;
	long i, status = 0;
	struct cpu c;

	memset(body, 'x', size);
	cpu_now(&c);
	for (i = -1; i < n; i++) {
		url = i < 0 ? xasprintf("%s/%s", endpoint, bucket) :
		    xasprintf("%s/%s/%s%05ld", endpoint, bucket, prefix, i);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(i < 0 ? 0 : size));
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
		curl_easy_setopt(e, CURLOPT_USERPWD, "S3RVER:S3RVER");
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		if (curl_easy_perform(e) != CURLE_OK ||
		    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
		    (status != 200 && !(i < 0 && status == 409))) {
			fprintf(stderr, "bench_s3: PUT %s: HTTP %ld\n", url, status);
			return 1;
		}
		free(url);
	}
	report("PUT (setup, curl easy)", n, &c);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	free(body);
	return 0;
}

static void
fetch(const char *bucket, const char *prefix, long n, const char *dir, unsigned conc)
{
	struct s3 *s = client(conc);
	char url[512], name[64], what[64];
	struct cpu c;
	long i;

	cpu_now(&c);
	for (i = 0; i < n; i++) {
		snprintf(url, sizeof url, "s3://%s/%s%05ld", bucket, prefix, i);
		snprintf(name, sizeof name, "f%05ld", i);
		outstanding++;
		s3_fetch(s, url, dir, name, -1, NULL, on_done, NULL);
	}
	drain();
	snprintf(what, sizeof what, "fetch, concurrency %u", conc);
	report(what, n, &c);
	s3_free(s);
}

static void
list(const char *bucket, const char *prefix)
{
	struct s3 *s = client(1);
	long n = 0;
	struct cpu c;

	cpu_now(&c);
	outstanding++;
	s3_list(s, bucket, prefix, on_each, on_done, &n);
	drain();
	report("list (objects)", n, &c);
	s3_free(s);
}

int
main(int argc, char **argv)
{
	int i;

	if (argc < 7) {
		fprintf(stderr, "usage: bench_s3 ENDPOINT CREDENTIALS SERVER-PID "
		    "put|fetch|list BUCKET PREFIX ...\n");
		return 2;
	}
	endpoint = argv[1];
	credentials = argv[2];
	server_pid = atoi(argv[3]);
	caom_xml_init();
	if (curlev_global_init() != 0) {
		fprintf(stderr, "bench_s3: cannot initialise libcurl\n");
		return 1;
	}
	loop = ev_default_loop(0);
	if (strcmp(argv[4], "put") == 0 && argc == 9)
		return put(argv[5], argv[6], atol(argv[7]), (size_t)atol(argv[8]));
	if (strcmp(argv[4], "fetch") == 0 && argc >= 10) {
		for (i = 9; i < argc; i++)
			fetch(argv[5], argv[6], atol(argv[7]), argv[8], (unsigned)atoi(argv[i]));
	} else if (strcmp(argv[4], "list") == 0)
		list(argv[5], argv[6]);
	else {
		fprintf(stderr, "bench_s3: bad arguments\n");
		return 2;
	}
	if (failures > 0)
		fprintf(stderr, "bench_s3: %d failures\n", failures);
	return failures > 0;
}
