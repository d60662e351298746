/*
 * bench/bench_http.c - helpers of bench/bench_http.sh (the operators'
 * endpoint over a large state store):
 *
 * usage: bench_http fill DIR N
 *   A state store DIR/state.db with N observations of collection BENCH, one
 *   file each, each with the history of a real ingest (landed, classified,
 *   storing, mapping, pushing, then the outcome): 94% done, 3% failed with an
 *   error, 2% waiting for a retry, 1% pending. Prints the seconds it took.
 *
 * usage: bench_http get URL CONCURRENCY N
 *   N GETs of URL over CONCURRENCY keep-alive connections (libcurl multi, one
 *   request in flight on each); prints "OK OTHER SECONDS P50 P99 MAX BYTES"
 *   (latencies in ms, BYTES of one answer).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <ev.h>

#include "lib/xmalloc.h"
#include "store/state.h"

#define MAX_CONC	256

static void
fill_one(struct state *st, long i, int64_t t)
{
	static char coll[] = "BENCH";
	char path[64], obs[32], prod[32], uri[64], *cause = NULL;
	struct state_file f = { path, 1000 + i, t * 1000000, coll, obs, prod, uri, NULL,
		STATE_PENDING, t };
	long k = i % 100;

	snprintf(path, sizeof path, "/srv/bench/landing/o%07ld.fits", i);
	snprintf(obs, sizeof obs, "o%07ld", i);
	snprintf(prod, sizeof prod, "o%07ld", i);
	snprintf(uri, sizeof uri, "cadc:BENCH/o%07ld.fits", i);
	if (state_file_assign(st, &f, &cause) != 0) {
		fprintf(stderr, "bench_http: %s\n", cause);
		exit(1);
	}
	state_history_add(st, "BENCH", obs, STATE_PHASE_LANDED, t, path, 0);
	state_history_add(st, "BENCH", obs, STATE_PHASE_CLASSIFIED, t + 1, "product", 0);
	if (k == 0)
		return;		/* pending */
	state_obs_running(st, "BENCH", obs, &cause);
	state_history_add(st, "BENCH", obs, STATE_PHASE_STORING, t + 2, "attempt 1", 0);
	state_history_add(st, "BENCH", obs, STATE_PHASE_MAPPING, t + 3, "1 file", 0);
	state_history_add(st, "BENCH", obs, STATE_PHASE_PUSHING, t + 4, "to the sink", 0);
	if (k <= 3) {
		state_obs_failed(st, "BENCH", obs, "map: o.fits: HDU 0: bad value of EXPTIME", 0,
		    &cause);
		state_history_add(st, "BENCH", obs, STATE_PHASE_FAILED, t + 5, "bad EXPTIME", 0);
	} else if (k <= 5) {
		state_obs_failed(st, "BENCH", obs, "503 Service Unavailable", t + 60000, &cause);
		state_history_add(st, "BENCH", obs, STATE_PHASE_RETRY, t + 5, "503", t + 60000);
	} else {
		state_obs_done(st, "BENCH", obs, "md5:0123456789abcdef0123456789abcdef", NULL,
		    &cause);
		state_history_add(st, "BENCH", obs, STATE_PHASE_DONE, t + 5, "stored", 0);
	}
}

static int
fill(const char *dir, long n)
{
	double start = ev_time();
	int64_t t = (int64_t)(start * 1e3) - n;
	char *cause = NULL;
	struct state *st;
	long i;

	if ((st = state_open(dir, &cause)) == NULL) {
		fprintf(stderr, "bench_http: %s\n", cause);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (i % 10000 == 0)
			state_batch(st, 1, &cause);
		fill_one(st, i, t + i);
		if (i % 10000 == 9999 || i == n - 1) {
			if (state_history_flush(st, &cause) != 0 || state_batch(st, 0, &cause) != 0) {
				fprintf(stderr, "bench_http: %s\n", cause);
				return 1;
			}
		}
	}
	state_close(st);
	printf("%.2f\n", ev_time() - start);
	return 0;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	*(size_t *)arg += size * n;
	return size * n;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static CURL *
get_handle(const char *url, size_t *bytes)
{
	CURL *e = curl_easy_init();

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, bytes);
	return e;
}

static int
get(const char *url, int conc, long n)
{
	CURLM *m = curl_multi_init();
	CURL *h[MAX_CONC];
	double *lat = xcalloc((size_t)n + 1, sizeof *lat), start = ev_time();
	long started = 0, done = 0, ok = 0, code;
	size_t bytes[MAX_CONC], one = 0;
	curl_off_t us;
	CURLMsg *msg;
	int i, running, left;

	for (i = 0; i < conc && started < n; i++, started++) {
		bytes[i] = 0;
		h[i] = get_handle(url, &bytes[i]);
		curl_easy_setopt(h[i], CURLOPT_PRIVATE, (char *)(intptr_t)i);
		curl_multi_add_handle(m, h[i]);
	}
	while (done < n) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			char *priv;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			i = (int)(intptr_t)priv;
			curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &code);
			curl_easy_getinfo(h[i], CURLINFO_TOTAL_TIME_T, &us);
			lat[done++] = (double)us / 1e3;
			ok += msg->data.result == CURLE_OK && code == 200;
			one = bytes[i];
			curl_multi_remove_handle(m, h[i]);
			if (started < n) {
				started++;
				bytes[i] = 0;
				curl_multi_add_handle(m, h[i]);
			}
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp);
	printf("%ld %ld %.3f %.2f %.2f %.2f %zu\n", ok, n - ok, ev_time() - start,
	    lat[n / 2], lat[(long)((double)n * 0.99)], lat[n - 1], one);
	for (i = 0; i < conc && i < n; i++)
		curl_easy_cleanup(h[i]);
	curl_multi_cleanup(m);
	free(lat);
	return ok == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2], atol(argv[3]));
	if (argc == 5 && strcmp(argv[1], "get") == 0 && atoi(argv[3]) >= 1 &&
	    atoi(argv[3]) <= MAX_CONC && atol(argv[4]) >= 1) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		return get(argv[2], atoi(argv[3]), atol(argv[4]));
	}
	fprintf(stderr, "usage: bench_http fill DIR N\n"
	    "       bench_http get URL CONCURRENCY N\n");
	return 2;
}
