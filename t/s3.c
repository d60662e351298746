/*
 * t/s3.c - the S3 client against the S3 test server (started by t/s3.sh,
 * which passes S3_TEST_ENDPOINT and S3_TEST_TMP): fetches with size and
 * ETag checks, odd keys, empty and 5 MB objects, S3 errors (NoSuchKey,
 * SignatureDoesNotMatch without the secret anywhere), a server that is
 * down, listings over several pages, file:// and http://, refused names,
 * concurrency and cancellation, credentials files.
 */
#include "config.h"

#define OPENSSL_SUPPRESS_DEPRECATED

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <openssl/md5.h>

#include "caom/caom_xml.h"
#include "lib/curlev.h"
#include "lib/log.h"
#include "sources/s3.h"
#include "tap.h"
#include "lib/xmalloc.h"

#define BUCKET		"caom-test"
#define NMANY		1500
#define BIG		(5 * 1024 * 1024 + 17)
#define WRONG_SECRET	"wr0ng-Secret-7f3a9c"

static struct ev_loop *loop;
static const char *endpoint;
static char *tmp, *creds, *outdir;
static CURL *putter;
static int outstanding;		/* requests made whose done has not come (each comes once) */

struct outcome {
	int		 done;
	enum s3_result	 result;
	long		 status;
	char		*message;
};

/* Keys that need encoding: spaces, '+', '%', UTF-8, deep prefixes, reserved characters. */
static const char *const odd_keys[] = {
	"dir/a b.fits", "x+y.fits", "unicod\xc3\xa9/\xc3\xbc \xc3\xb1.fits", "100%.fits",
	"deep/1/2/3/4/5/6/7/8/9/10/z.fits", "q?h#s;c:a@d,$&=!'()*.fits", NULL
};

static void
on_done(void *arg, enum s3_result result, long status, const char *message)
{
	struct outcome *o = arg;

	outstanding--;
	o->done++;
	o->result = result;
	o->status = status;
	free(o->message);
	o->message = xstrdup(message);
}

static void
on_watchdog(struct ev_loop *l, ev_timer *w, int revents)
{
	bail("timed out waiting for the S3 client");
}

/* Run the loop until every request's done has come (60 s at most). */
static void
run(void)
{
	ev_timer dog;

	ev_timer_init(&dog, on_watchdog, 60., 0.);
	ev_timer_start(loop, &dog);
	while (outstanding > 0)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &dog);
}

static void
outcome_reset(struct outcome *o)
{
	free(o->message);
	memset(o, 0, sizeof *o);
}

/* ---- fixtures: signed PUTs with plain libcurl ---------------------------- */

static char *
encode_key(const char *key)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(3 * strlen(key) + 1), *o = out;
	unsigned char c;

	for (; *key != '\0'; key++) {
		c = (unsigned char)*key;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~/", c) != NULL)
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

static size_t
discard(char *d, size_t s, size_t n, void *a)
{
	return s * n;
}

/* PUT body to bucket/key (key NULL: create the bucket); the HTTP status. */
static long
put(const char *key, const void *body, size_t len)
{
	struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	char *k = key != NULL ? encode_key(key) : xstrdup(""), *url;
	long status = 0;

	url = xasprintf("%s/%s%s%s", endpoint, BUCKET, key != NULL ? "/" : "", k);
	curl_easy_reset(putter);
	curl_easy_setopt(putter, CURLOPT_URL, url);
	curl_easy_setopt(putter, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(putter, CURLOPT_POSTFIELDS, body != NULL ? body : "");
	curl_easy_setopt(putter, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(putter, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
	curl_easy_setopt(putter, CURLOPT_USERPWD, "S3RVER:S3RVER");
	curl_easy_setopt(putter, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(putter, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(putter) == CURLE_OK)
		curl_easy_getinfo(putter, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	free(url);
	free(k);
	return status;
}

static void
put_or_bail(const char *key, const void *body, size_t len)
{
	long st = put(key, body, len);

	if (st != 200)
		bail("PUT %s: HTTP %ld", key != NULL ? key : "(bucket)", st);
}

/* The content of test object i: i % 97 bytes. */
static char *
many_body(int i, size_t *len)
{
	*len = (size_t)(i % 97);
	return xasprintf("%.*s", (int)*len,
	    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "abcdefghijklmnopqrstuvwxyz!!!");
}

static void
md5_hex(const void *buf, size_t len, char out[33])
{
	unsigned char md[16];
	int i;

	MD5(buf, len, md);
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static char *big;

static void
make_fixtures(void)
{
	size_t len;
	char *b, key[64];
	int i;

	put_or_bail(NULL, NULL, 0);
	put_or_bail("hello.fits", "hello, world\n", 13);
	put_or_bail("empty.fits", "", 0);
	big = xmalloc(BIG);
	for (i = 0; i < BIG; i++)
		big[i] = (char)(i * 7 + i / 1000);
	put_or_bail("big.fits", big, BIG);
	for (i = 0; odd_keys[i] != NULL; i++)
		put_or_bail(odd_keys[i], odd_keys[i], strlen(odd_keys[i]));
	for (i = 0; i < NMANY; i++) {
		snprintf(key, sizeof key, "many/obj-%05d.fits", i);
		b = many_body(i, &len);
		put_or_bail(key, b, len);
		free(b);
	}
	put_or_bail("many0.fits", "x", 1);
	put_or_bail("man/y.fits", "x", 1);
	put_or_bail("sp ace/\xc3\xbc/1", "1", 1);
	put_or_bail("sp ace/\xc3\xbc/2", "22", 2);
	put_or_bail("sp ace/u/3", "333", 3);
}

/* ---- helpers -------------------------------------------------------------- */

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = xmalloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

static int
exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* Files in dir whose name ends with .part. */
static int
count_parts(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t len;
	int n = 0;

	while (d != NULL && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".part") == 0)
			n++;
	}
	if (d != NULL)
		closedir(d);
	return n;
}

static struct s3 *
client(const char *ep, const char *cred, unsigned concurrency)
{
	struct s3_config cfg = { .endpoint = ep, .credentials = cred,
	    .concurrency = concurrency, .timeout_ms = 10000 };
	char *cause = NULL;
	struct s3 *s = s3_new(loop, &cfg, &cause);

	if (s == NULL)
		bail("s3_new: %s", cause);
	return s;
}

/* Fetch url into outdir/name and run until done. */
static void
fetch(struct s3 *s, const char *url, const char *name, int64_t size, const char *etag,
    struct outcome *o)
{
	outcome_reset(o);
	outstanding++;
	s3_fetch(s, url, outdir, name, size, etag, on_done, o);
	run();
	if (o->done != 1)
		diag("done called %d times", o->done);
}

static char *
write_file(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", tmp, name);
	FILE *fp = fopen(p, "w");

	if (fp == NULL)
		bail("%s: %s", p, strerror(errno));
	fputs(text, fp);
	fclose(fp);
	chmod(p, 0600);		/* credentials are secret files */
	return p;
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_credentials(void)
{
	struct s3_config cfg = { .endpoint = endpoint };
	char *cause = NULL, *p, *want;
	struct s3 *s;

	p = write_file("cred-open", "[default]\naws_access_key_id = AK\n"
	    "aws_secret_access_key = " WRONG_SECRET "\n");
	chmod(p, 0644);
	cfg.credentials = p;
	want = xasprintf("credentials file %s: mode 0644 gives access to its group or others "
	    "(use 0600 or 0400)", p);
	ok(s3_new(loop, &cfg, &cause) == NULL, "a credentials file others may read is refused");
	is_string(want, cause, "with the secret-file rule, and no secret");
	free(want);
	free(cause);
	cause = NULL;
	free(p);

	cfg.credentials = "/nonexistent/credentials";
	s = s3_new(loop, &cfg, &cause);
	ok(s == NULL && cause != NULL && strstr(cause, "/nonexistent/credentials: No such") != NULL,
	    "an unreadable credentials file is refused: %s", cause != NULL ? cause : "");
	free(cause);
	cause = NULL;

	p = write_file("cred-nosecret", "[default]\naws_access_key_id = AK\n[other]\n"
	    "aws_secret_access_key = " WRONG_SECRET "\n");
	cfg.credentials = p;
	s = s3_new(loop, &cfg, &cause);
	ok(s == NULL && cause != NULL && strstr(cause, "[default] has no aws_secret_access_key"),
	    "a profile without a secret is refused: %s", cause != NULL ? cause : "");
	free(cause);
	cause = NULL;
	cfg.profile = "missing";
	s = s3_new(loop, &cfg, &cause);
	ok(s == NULL && cause != NULL && strstr(cause, ": no [missing] section") != NULL,
	    "a missing profile is named: %s", cause != NULL ? cause : "");
	free(cause);
	cause = NULL;
	cfg.profile = "other";
	s = s3_new(loop, &cfg, &cause);
	ok(s == NULL && cause != NULL && strstr(cause, WRONG_SECRET) == NULL &&
	    strstr(cause, "[other] has no aws_access_key_id") != NULL,
	    "the secret is not in the message: %s", cause != NULL ? cause : "");
	free(cause);
	cause = NULL;
	free(p);

	cfg.credentials = NULL;
	cfg.profile = NULL;
	cfg.endpoint = "ftp://example.org";
	s = s3_new(loop, &cfg, &cause);
	is_string("S3 endpoint ftp://example.org: http(s)://host[:port] expected", cause,
	    "a non-HTTP endpoint is refused");
	free(cause);
	cause = NULL;
	cfg.endpoint = endpoint;
	cfg.region = "us east";
	s = s3_new(loop, &cfg, &cause);
	ok(s == NULL && cause != NULL, "a bad region is refused: %s", cause != NULL ? cause : "");
	free(cause);
}

static void
test_fetch(struct s3 *s)
{
	struct outcome o = { 0 };
	struct stat sb;
	char *path, *got, *q, url[256], sum[33];
	size_t len = 0;

	snprintf(url, sizeof url, "s3://%s/hello.fits", BUCKET);
	md5_hex("hello, world\n", 13, sum);
	outstanding++;
	s3_fetch(s, url, outdir, "hello.fits", 13, sum, on_done, &o);
	is_int(0, o.done, "done is not called inside s3_fetch");
	run();
	is_int(1, o.done, "done is called once");
	is_int(S3_OK, o.result, "fetch: OK (%s)", o.message);
	is_int(200, o.status, "fetch: status 200");
	path = xasprintf("%s/hello.fits", outdir);
	got = slurp(path, &len);
	ok(got != NULL && len == 13 && memcmp(got, "hello, world\n", 13) == 0,
	    "fetch: the content is byte-identical");
	if (stat(path, &sb) != 0)
		sb.st_mode = 0;
	is_int(0644, sb.st_mode & 0777, "fetch: mode 0644");
	is_int(0, count_parts(outdir), "fetch: no .part left");
	free(got);
	free(path);

	fetch(s, url, "multi.fits", -1, "\"9ad4b6cc4fd4a1e1d1dc3e5c43beba6f-3\"", &o);
	is_int(S3_OK, o.result, "a multipart ETag is not checked (%s)", o.message);
	fetch(s, url, "quoted.fits", 13, q = xasprintf("\"%s\"", sum), &o);
	is_int(S3_OK, o.result, "a quoted ETag is the MD5 (%s)", o.message);
	free(q);
	outcome_reset(&o);
}

static void
test_fetch_checks(struct s3 *s)
{
	struct outcome o = { 0 };
	char url[256];

	snprintf(url, sizeof url, "s3://%s/hello.fits", BUCKET);
	fetch(s, url, "size.fits", 14, NULL, &o);
	is_int(S3_PERMANENT, o.result, "size mismatch: permanent");
	ok(strstr(o.message, "13 bytes received, 14 expected") != NULL, "and says so: %s",
	    o.message);
	ok(!exists(outdir, "size.fits") && count_parts(outdir) == 0,
	    "size mismatch: no file, no .part left");

	fetch(s, url, "etag.fits", 13, "\"00000000000000000000000000000000\"", &o);
	is_int(S3_PERMANENT, o.result, "ETag mismatch: permanent");
	ok(strstr(o.message, "does not match the ETag 00000000000000000000000000000000") != NULL,
	    "and says so: %s", o.message);
	ok(!exists(outdir, "etag.fits") && count_parts(outdir) == 0,
	    "ETag mismatch: no file, no .part left");

	snprintf(url, sizeof url, "s3://%s/no/such/key.fits", BUCKET);
	fetch(s, url, "nokey.fits", -1, NULL, &o);
	is_int(S3_PERMANENT, o.result, "no such key: permanent");
	is_int(404, o.status, "no such key: 404");
	ok(strstr(o.message, "HTTP 404 NoSuchKey: ") != NULL, "the S3 code is in the message: %s",
	    o.message);
	ok(!exists(outdir, "nokey.fits") && count_parts(outdir) == 0,
	    "no such key: no file, no .part left (the error body is not the file)");

	fetch(s, "s3://no-such-bucket/x", "nobucket.fits", -1, NULL, &o);
	ok(o.result == S3_PERMANENT && strstr(o.message, "NoSuchBucket") != NULL,
	    "no such bucket: permanent, NoSuchBucket: %s", o.message);
	outcome_reset(&o);
}

static void
test_names(struct s3 *s)
{
	static const char *const bad[] = { "a/b", "../x", ".hidden", "", NULL };
	struct outcome o = { 0 };
	char url[256];
	int i;

	snprintf(url, sizeof url, "s3://%s/hello.fits", BUCKET);
	for (i = 0; bad[i] != NULL; i++) {
		fetch(s, url, bad[i], -1, NULL, &o);
		ok(o.done == 1 && o.result == S3_PERMANENT && strstr(o.message, "is refused"),
		    "name \"%s\" is refused: %s", bad[i], o.message);
	}
	fetch(s, "ftp://example.org/x", "ftp.fits", -1, NULL, &o);
	ok(o.result == S3_PERMANENT && strstr(o.message, "URL expected") != NULL,
	    "an ftp:// URL is refused: %s", o.message);
	fetch(s, "s3://bucketonly", "b.fits", -1, NULL, &o);
	ok(o.result == S3_PERMANENT && strstr(o.message, "s3://BUCKET/KEY expected") != NULL,
	    "an s3:// URL without key is refused: %s", o.message);
	outcome_reset(&o);
}

static void
test_odd_keys(struct s3 *s)
{
	struct outcome o = { 0 };
	char *url, *got, name[32];
	size_t len = 0;
	int i;

	for (i = 0; odd_keys[i] != NULL; i++) {
		url = xasprintf("s3://%s/%s", BUCKET, odd_keys[i]);
		snprintf(name, sizeof name, "odd-%d", i);
		fetch(s, url, name, (int64_t)strlen(odd_keys[i]), NULL, &o);
		is_int(S3_OK, o.result, "key \"%s\": OK (%s)", odd_keys[i], o.message);
		free(url);
		url = xasprintf("%s/%s", outdir, name);
		got = slurp(url, &len);
		ok(got != NULL && strcmp(got, odd_keys[i]) == 0, "key \"%s\": its content",
		    odd_keys[i]);
		free(got);
		free(url);
	}
	outcome_reset(&o);
}

static void
test_sizes(struct s3 *s)
{
	struct outcome o = { 0 };
	char url[256], sum[33], *path, *got;
	struct stat sb;
	size_t len = 0;

	snprintf(url, sizeof url, "s3://%s/empty.fits", BUCKET);
	fetch(s, url, "empty.fits", 0, "d41d8cd98f00b204e9800998ecf8427e", &o);
	is_int(S3_OK, o.result, "a 0-byte object: OK (%s)", o.message);
	path = xasprintf("%s/empty.fits", outdir);
	ok(stat(path, &sb) == 0 && sb.st_size == 0, "a 0-byte object: an empty file");
	free(path);

	md5_hex(big, BIG, sum);
	snprintf(url, sizeof url, "s3://%s/big.fits", BUCKET);
	fetch(s, url, "big.fits", BIG, sum, &o);
	is_int(S3_OK, o.result, "a 5 MB object with its MD5 ETag: OK (%s)", o.message);
	path = xasprintf("%s/big.fits", outdir);
	got = slurp(path, &len);
	ok(got != NULL && len == BIG && memcmp(got, big, BIG) == 0,
	    "a 5 MB object: byte-identical");
	free(got);
	free(path);
	outcome_reset(&o);
}

/* The log of the wrong-secret fetch goes to a file, read back here. */
static void
test_wrong_secret(void)
{
	char *p = write_file("cred-wrong", "# a comment\n; another\n\n[profile other]\n"
	    "aws_access_key_id=X\n  [ default ]  \n  aws_access_key_id =  S3RVER  \n"
	    "\taws_secret_access_key\t=\t" WRONG_SECRET "\t\n");
	char *logpath = xasprintf("%s/wrong.log", tmp), *logtext, url[256];
	struct outcome o = { 0 };
	int saved = dup(STDERR_FILENO), fd;
	size_t len = 0;
	struct s3 *s;

	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_init("t/s3", LOG_DEBUG, LOG_TARGET_STDERR);
	s = client(endpoint, p, 0);
	snprintf(url, sizeof url, "s3://%s/hello.fits", BUCKET);
	fetch(s, url, "wrong.fits", -1, NULL, &o);
	s3_free(s);
	log_init("t/s3", LOG_WARNING, LOG_TARGET_STDERR);
	dup2(saved, STDERR_FILENO);
	close(saved);
	is_int(S3_PERMANENT, o.result, "wrong secret: permanent");
	is_int(403, o.status, "wrong secret: 403");
	ok(strstr(o.message, "SignatureDoesNotMatch") != NULL, "wrong secret: "
	    "SignatureDoesNotMatch: %s", o.message);
	ok(strstr(o.message, WRONG_SECRET) == NULL, "the secret is not in the message");
	logtext = slurp(logpath, &len);
	ok(logtext != NULL && strstr(logtext, "SignatureDoesNotMatch") != NULL &&
	    strstr(logtext, WRONG_SECRET) == NULL, "the debug log has the failure, not the secret");
	ok(!exists(outdir, "wrong.fits") && count_parts(outdir) == 0, "wrong secret: no file");
	free(logtext);
	free(logpath);
	free(p);
	outcome_reset(&o);
}

static void
test_down(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	struct outcome o = { 0 };
	char *ep;
	struct s3 *s;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		bail("bind: %s", strerror(errno));
	ep = xasprintf("http://127.0.0.1:%d", ntohs(sin.sin_port));
	close(fd);
	s = client(ep, creds, 0);
	fetch(s, "s3://" BUCKET "/hello.fits", "down.fits", -1, NULL, &o);
	is_int(S3_TRANSIENT, o.result, "server down: transient (%s)", o.message);
	is_int(0, o.status, "server down: no status");
	ok(!exists(outdir, "down.fits") && count_parts(outdir) == 0, "server down: no file");
	s3_free(s);
	free(ep);
	outcome_reset(&o);
}

static void
test_plain_urls(struct s3 *s)
{
	struct outcome o = { 0 };
	char *src = write_file("local.fits", "local content\n"), *url, *got;
	size_t len = 0;

	url = xasprintf("file://%s", src);
	fetch(s, url, "copy.fits", 14, NULL, &o);
	is_int(S3_OK, o.result, "file:// copy: OK (%s)", o.message);
	free(url);
	url = xasprintf("%s/copy.fits", outdir);
	got = slurp(url, &len);
	ok(got != NULL && strcmp(got, "local content\n") == 0, "file:// copy: the content");
	free(got);
	free(url);
	url = xasprintf("file://%s/missing.fits", tmp);
	fetch(s, url, "missing.fits", -1, NULL, &o);
	is_int(S3_PERMANENT, o.result, "file:// of a missing file: permanent (%s)", o.message);
	free(url);

	/* An unsigned plain GET of the object (the test server allows it). */
	url = xasprintf("%s/%s/hello.fits", endpoint, BUCKET);
	fetch(s, url, "plain.fits", 13, NULL, &o);
	is_int(S3_OK, o.result, "http:// GET: OK (%s)", o.message);
	free(url);
	url = xasprintf("http://user:hunter2@%s/%s/nope?X-Amz-Signature=abc", endpoint + 7,
	    BUCKET);
	fetch(s, url, "nope.fits", -1, NULL, &o);
	ok(o.result == S3_PERMANENT && strstr(o.message, "hunter2") == NULL &&
	    strstr(o.message, "abc") == NULL && strstr(o.message, "/nope?...") != NULL,
	    "http:// error: permanent, no password or query in the message: %s", o.message);
	free(url);
	free(src);
	outcome_reset(&o);
}

/* A server answering each of its first n connections with one canned response. */
static pid_t
canned_server(const char *const *responses, int n, char **ep)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	char buf[8192];
	int fd = socket(AF_INET, SOCK_STREAM, 0), c, i;
	pid_t pid;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		bail("canned server: %s", strerror(errno));
	*ep = xasprintf("http://127.0.0.1:%d", ntohs(sin.sin_port));
	if ((pid = fork()) == 0) {
		for (i = 0; i < n && (c = accept(fd, NULL, NULL)) != -1; i++) {
			(void)!read(c, buf, sizeof buf);
			(void)!write(c, responses[i], strlen(responses[i]));
			close(c);
		}
		_exit(0);
	}
	close(fd);
	return pid;
}

#define CANNED(status, code, text) { "HTTP/1.1 " status "\r\nConnection: close\r\n" \
	"Content-Type: application/xml\r\n", "<Error><Code>" code "</Code><Message>" text \
	"</Message></Error>" }

/* Failures the test server cannot make: 503 SlowDown, 400 RequestTimeout, 403, HTML. */
static void
test_classes(void)
{
	static const char *const forms[][2] = {
		CANNED("503 Slow Down", "SlowDown", "Please reduce your request rate."),
		CANNED("400 Bad Request", "RequestTimeout", "Your socket connection timed out."),
		CANNED("403 Forbidden", "AccessDenied", "Access Denied"),
		{ "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n",
		    "<html>\n<b>bad\tgateway</b></html>" },
	};
	static const enum s3_result want[] = { S3_TRANSIENT, S3_TRANSIENT, S3_PERMANENT,
	    S3_TRANSIENT };
	static const char *const text[] = {
		"HTTP 503 SlowDown: Please reduce your request rate.",
		"HTTP 400 RequestTimeout: Your socket connection timed out.",
		"HTTP 403 AccessDenied: Access Denied",
		"HTTP 502: <html> <b>bad gateway</b></html>",
	};
	char *responses[4], *ep;
	struct outcome o = { 0 };
	struct s3 *s;
	pid_t pid;
	int i;

	for (i = 0; i < 4; i++)
		responses[i] = xasprintf("%sContent-Length: %zu\r\n\r\n%s", forms[i][0],
		    strlen(forms[i][1]), forms[i][1]);
	pid = canned_server((const char *const *)responses, 4, &ep);
	s = client(ep, creds, 1);
	for (i = 0; i < 4; i++) {
		fetch(s, "s3://" BUCKET "/x.fits", "classes.fits", -1, NULL, &o);
		ok(o.result == want[i] && strstr(o.message, text[i]) != NULL,
		    "%s: %s", want[i] == S3_TRANSIENT ? "transient" : "permanent", o.message);
		free(responses[i]);
	}
	is_int(0, count_parts(outdir) + exists(outdir, "classes.fits"), "and no file");
	s3_free(s);
	waitpid(pid, NULL, 0);
	free(ep);
	outcome_reset(&o);
}

struct listing {
	struct outcome	 o;		/* first: on_done's argument too */
	int		 n;
	int		 bad;
	int		 sorted;
	char		 last[256];
	int		 seen[NMANY];
	int64_t		 mtime;
};

static void
on_many(void *arg, const struct s3_object *ob)
{
	struct listing *l = arg;
	char *body, sum[33];
	size_t len;
	int i;

	l->n++;
	if (strcmp(ob->key, l->last) <= 0)
		l->sorted = 0;
	snprintf(l->last, sizeof l->last, "%s", ob->key);
	if (sscanf(ob->key, "many/obj-%05d.fits", &i) != 1 || i < 0 || i >= NMANY) {
		diag("unexpected key %s", ob->key);
		l->bad++;
		return;
	}
	l->seen[i]++;
	body = many_body(i, &len);
	md5_hex(body, len, sum);
	if (ob->size != (int64_t)len || strcmp(ob->etag, sum) != 0) {
		diag("%s: size %lld etag %s, expected %zu %s", ob->key, (long long)ob->size,
		    ob->etag, len, sum);
		l->bad++;
	}
	free(body);
	l->mtime = ob->mtime_ms;
}

struct keys {
	struct outcome	 o;
	int		 n;
	char		 all[512];
};

static void
on_key(void *arg, const struct s3_object *ob)
{
	struct keys *k = arg;

	k->n++;
	snprintf(k->all + strlen(k->all), sizeof k->all - strlen(k->all), "%s%s=%lld",
	    k->n > 1 ? "," : "", ob->key, (long long)ob->size);
}

static void
test_list(struct s3 *s)
{
	struct listing *l = xcalloc(1, sizeof *l);
	struct keys k = { 0 }, none = { 0 };
	int i, once = 1;
	int64_t now = (int64_t)time(NULL) * 1000;

	l->sorted = 1;
	outstanding++;
	s3_list(s, BUCKET, "many/", on_many, on_done, l);
	is_int(0, l->o.done, "done is not called inside s3_list");
	run();
	is_int(S3_OK, l->o.result, "list over %d objects: OK (%s)", NMANY, l->o.message);
	is_int(1, l->o.done, "done is called once");
	is_int(NMANY, l->n, "each object once");
	for (i = 0; i < NMANY; i++)
		once &= l->seen[i] == 1;
	ok(once && l->bad == 0, "exactly the right keys, sizes and ETags");
	ok(l->sorted, "in key order");
	ok(l->mtime > now - 86400000 && l->mtime < now + 86400000,
	    "LastModified is today (%lld)", (long long)l->mtime);
	ok(l->o.message != NULL && strstr(l->o.message, "1500 objects") != NULL,
	    "done says how many: %s", l->o.message);
	outcome_reset(&l->o);
	free(l);

	outstanding++;
	s3_list(s, BUCKET, "sp ace/\xc3\xbc/", on_key, on_done, &k);
	run();
	is_int(S3_OK, k.o.result, "a prefix with a space and UTF-8: OK (%s)", k.o.message);
	is_string("sp ace/\xc3\xbc/1=1,sp ace/\xc3\xbc/2=2", k.all, "its keys and sizes");
	outcome_reset(&k.o);

	outstanding++;
	s3_list(s, "no-such-bucket", "", on_key, on_done, &none);
	run();
	ok(none.o.result == S3_PERMANENT && strstr(none.o.message, "NoSuchBucket") != NULL,
	    "listing a missing bucket: permanent, NoSuchBucket: %s", none.o.message);
	is_int(0, none.n, "and lists nothing");
	outcome_reset(&none.o);
}

static void
test_concurrency(void)
{
	struct outcome o[50];
	struct s3 *s = client(endpoint, creds, 4);
	char name[32], *path, *got;
	size_t len = 0;
	int i, good = 0, once = 1;

	memset(o, 0, sizeof o);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "c-%02d.fits", i);
		outstanding++;
		s3_fetch(s, "s3://" BUCKET "/hello.fits", outdir, name, 13, NULL, on_done, &o[i]);
	}
	run();
	for (i = 0; i < 50; i++) {
		once &= o[i].done == 1;
		snprintf(name, sizeof name, "c-%02d.fits", i);
		path = xasprintf("%s/%s", outdir, name);
		got = slurp(path, &len);
		if (o[i].result == S3_OK && got != NULL && len == 13)
			good++;
		free(got);
		free(path);
		outcome_reset(&o[i]);
	}
	ok(once, "each done called once");
	is_int(50, good, "50 fetches at concurrency 4 all succeed");
	s3_free(s);
}

static void
test_cancel(void)
{
	struct outcome o[6];
	struct s3 *s = client(endpoint, creds, 2);
	char name[32];
	int i, once = 1, cancelled = 0, files = 0;

	memset(o, 0, sizeof o);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof name, "cancel-%d.fits", i);
		outstanding++;
		s3_fetch(s, "s3://" BUCKET "/big.fits", outdir, name, BIG, NULL, on_done, &o[i]);
	}
	for (i = 0; i < 5; i++)
		ev_run(loop, EVRUN_ONCE);
	s3_free(s);
	for (i = 0; i < 6; i++) {
		once &= o[i].done == 1;
		if (o[i].result == S3_TRANSIENT && strcmp(o[i].message, "cancelled") == 0)
			cancelled++;
		snprintf(name, sizeof name, "cancel-%d.fits", i);
		files += exists(outdir, name);
		outcome_reset(&o[i]);
	}
	ok(once, "s3_free: each done called exactly once");
	ok(cancelled >= 4, "s3_free: the unfinished are cancelled, transient (%d)", cancelled);
	is_int(6 - cancelled, files, "only the finished left a file");
	is_int(0, count_parts(outdir), "s3_free: no .part left");
}

int
main(void)
{
	const char *t = getenv("S3_TEST_TMP");
	struct s3 *s;

	if ((endpoint = getenv("S3_TEST_ENDPOINT")) == NULL || t == NULL)
		skip_all("run through t/s3.sh, which starts the S3 test server");
	plan(87);
	log_init("t/s3", LOG_WARNING, LOG_TARGET_STDERR);
	loop = ev_default_loop(0);
	tmp = xstrdup(t);
	outdir = xasprintf("%s/out", tmp);
	mkdir(outdir, 0755);
	creds = write_file("credentials", "[default]\naws_access_key_id = S3RVER\n"
	    "aws_secret_access_key = S3RVER\n");
	caom_xml_init();
	if (curlev_global_init() != 0)
		bail("cannot initialise libcurl");
	putter = curl_easy_init();
	make_fixtures();

	test_credentials();
	s = client(endpoint, creds, 0);
	test_fetch(s);
	test_fetch_checks(s);
	test_names(s);
	test_odd_keys(s);
	test_sizes(s);
	test_plain_urls(s);
	test_list(s);
	s3_free(s);
	s3_free(NULL);
	test_wrong_secret();
	test_down();
	test_classes();
	test_concurrency();
	test_cancel();

	curl_easy_cleanup(putter);
	free(big);
	free(creds);
	free(outdir);
	free(tmp);
	ev_loop_destroy(loop);
	return 0;
}
