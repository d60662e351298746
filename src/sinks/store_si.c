/*
 * store_si.c - the CADC storage inventory (minoc's "files" service), as
 * caom2pipe and cadcdata use it (cadcdata storageinv.py, cadcutils
 * ws.py, minoc's PutAction and PutTransaction notes).
 *
 * HEAD {url}/{URI} first: the same MD5 ("Digest: md5=<base64>") and content
 * type and encoding: nothing to do; the same MD5 only: POST the type and
 * encoding (as headers and as minoc's contentType/contentEncoding
 * parameters); otherwise the file is sent:
 *
 * - below the transaction threshold, one PUT with Content-Length,
 *   Content-Type, Content-Encoding and Digest, answered 201 with the Digest
 *   of what was stored, which must be ours; a 412 (the service saw another
 *   checksum) is sent again up to STORAGE_MISMATCHES times, then fails;
 * - at or above it, the put transaction: PUT x-put-txn-op: start with
 *   x-total-length (202, x-put-txn-id, x-put-segment-minbytes/maxbytes),
 *   segments PUT with x-put-txn-id, each answered with the Digest of every
 *   byte so far, compared with ours (a mismatch: POST x-put-txn-op: revert,
 *   and the segment again), then PUT x-put-txn-op: commit; POST
 *   x-put-txn-op: abort when giving up. The transaction and the bytes
 *   acknowledged are the put's progress ("si-txn ID OFFSET MD5"): after a
 *   restart a HEAD with x-put-txn-id says how many bytes storage holds and
 *   their Digest; when our file's first bytes hash the same the upload
 *   goes on from there, else the transaction is aborted and started again.
 */
#include "config.h"

#include "sinks/storage_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct si_put {
	char			*url;		/* {base}/{URI} */
	int			 mismatches;	/* 412s of whole PUTs */
	char			*txn;		/* the put transaction, or NULL */
	int64_t			 off;		/* bytes storage acknowledged */
	int64_t			 seg;		/* the segment in flight */
	int64_t			 min;		/* segment limits (0: none) */
	int64_t			 max;
	int64_t			 held;		/* after a restart: what storage holds */
	char			 held_md5[37];
	MD5_CTX			 done;		/* of [0, off) */
	MD5_CTX			 sent;		/* of [0, off + seg) */
	int			 reverts;
	int			 restart;	/* after the abort: from the HEAD again */
	enum storage_result	 after;		/* after the abort: the end */
	char			*aftermsg;
};

static void si_head(struct storage_req *q);
static void si_segment(struct storage_req *q);
static void si_commit(struct storage_req *q);

static struct si_put *
si(struct storage_req *q)
{
	return q->be;
}

static char *
si_url(const struct storage *st, const char *uri)
{
	char *enc = sigv4_encode(uri, 1), *u, *p, *o;

	/* ':' may stay in a path: cadc:OMM/x.fits reads as such in the service's logs */
	for (p = o = enc; *p != '\0'; p++, o++) {
		if (strncmp(p, "%3A", 3) == 0) {
			*o = ':';
			p += 2;
		} else
			*o = *p;
	}
	*o = '\0';
	u = xasprintf("%s/%s", st->url, enc);
	free(enc);
	return u;
}

static char *
si_locate(const struct storage *st, const char *uri, char **cause)
{
	char *rel = storage_uri_path(uri, cause);

	if (rel == NULL)
		return NULL;
	free(rel);
	return si_url(st, uri);
}

/* Content-Type, Content-Encoding and Digest of the file. */
static void
si_describe(struct storage_req *q, int digest)
{
	char b64[25];

	storage_http_header(q, "Content-Type: %s", q->f.type);
	if (q->f.encoding != NULL)
		storage_http_header(q, "Content-Encoding: %s", q->f.encoding);
	if (digest && storage_md5_b64(q->f.md5, b64) == 0)
		storage_http_header(q, "Digest: md5=%s", b64);
}

static void
si_progress(struct storage_req *q)
{
	struct si_put *p = si(q);
	char *text;

	if (p->txn == NULL) {
		storage_set_progress(q, NULL);
		return;
	}
	text = xasprintf("si-txn %s %" PRId64 " %s", p->txn, p->off, q->f.md5);
	storage_set_progress(q, text);
	free(text);
}

/* ---- giving up on a transaction ------------------------------------------------ */

static void
si_after_abort(struct storage_req *q, CURLcode code)
{
	struct si_put *p = si(q);
	char *m;

	free(p->txn);
	p->txn = NULL;
	si_progress(q);
	if (p->restart) {
		p->restart = 0;
		si_head(q);
		return;
	}
	m = p->aftermsg;
	p->aftermsg = NULL;
	storage_end(q, p->after, 0, "%s%s", m, code == CURLE_OK && q->status < 300 ?
	    " (transaction aborted)" : "");
	free(m);
}

/* POST x-put-txn-op: abort; then start again (restart) or end with r and msg (taken). */
static void
si_abort(struct storage_req *q, int restart, enum storage_result r, char *msg)
{
	struct si_put *p = si(q);

	p->restart = restart;
	p->after = r;
	free(p->aftermsg);
	p->aftermsg = msg != NULL ? msg : xstrdup("");
	storage_http_begin(q, "POST", xstrdup(p->url), NULL);
	storage_http_header(q, "x-put-txn-id: %s", p->txn);
	storage_http_header(q, "x-put-txn-op: abort");
	storage_http_header(q, "Content-Type:");
	storage_http_body_none(q);
	storage_http_send(q, si_after_abort);
}

/* A failed step of a transaction: transient ones keep it (to resume), others abort it. */
static void
si_txn_fail(struct storage_req *q, const char *what, CURLcode code)
{
	enum storage_result r;
	long ra;
	char *m = storage_http_why(q, what, code, &r, &ra);

	if (r == STORAGE_TRANSIENT) {
		storage_end(q, r, ra, "%s", m);
		free(m);
		return;
	}
	si_abort(q, 0, r, m);
}

/* ---- the put transaction ------------------------------------------------------- */

static void
si_after_commit(struct storage_req *q, CURLcode code)
{
	struct si_put *p = si(q);
	char got[37];

	if (code != CURLE_OK || (q->status != 200 && q->status != 201)) {
		si_txn_fail(q, "PUT (commit)", code);
		return;
	}
	free(p->txn);
	p->txn = NULL;
	si_progress(q);
	if (storage_http_digest(q, got) == 0 && strcmp(got, q->f.md5) != 0) {
		storage_end(q, STORAGE_TRANSIENT, 0, "PUT (commit) %s: stored as %s, not %s",
		    p->url, got, q->f.md5);
		return;
	}
	q->sent = p->off;
	storage_end(q, STORAGE_STORED, 0, "stored at %s in a transaction", p->url);
}

static void
si_commit(struct storage_req *q)
{
	struct si_put *p = si(q);

	storage_http_begin(q, "PUT", xstrdup(p->url), NULL);
	storage_http_header(q, "x-put-txn-id: %s", p->txn);
	storage_http_header(q, "x-put-txn-op: commit");
	storage_http_body_none(q);
	storage_http_send(q, si_after_commit);
}

static void si_state(struct storage_req *q);

static void
si_after_revert(struct storage_req *q, CURLcode code)
{
	struct si_put *p = si(q);
	char got[37], want[37];
	int has;

	if (code != CURLE_OK || q->status < 200 || q->status > 299) {
		si_txn_fail(q, "POST (revert)", code);
		return;
	}
	has = storage_http_digest(q, got) == 0;
	storage_md5_peek(&p->done, want);
	if ((p->off > 0 && (!has || strcmp(got, want) != 0)) || (p->off == 0 && has)) {
		/* storage holds other bytes than we thought (another request of ours, from a
		 * process that died, came in late): ask where it stands, as after a restart */
		si_state(q);
		return;
	}
	si_segment(q);
}

static void
si_revert(struct storage_req *q)
{
	struct si_put *p = si(q);

	storage_http_begin(q, "POST", xstrdup(p->url), NULL);
	storage_http_header(q, "x-put-txn-id: %s", p->txn);
	storage_http_header(q, "x-put-txn-op: revert");
	storage_http_header(q, "Content-Type:");
	storage_http_body_none(q);
	storage_http_send(q, si_after_revert);
}

static void
si_after_segment(struct storage_req *q, CURLcode code)
{
	struct si_put *p = si(q);
	char got[37], want[37];

	if (code != CURLE_OK || q->status < 200 || q->status > 299) {
		si_txn_fail(q, "PUT (segment)", code);
		return;
	}
	storage_md5_peek(&p->sent, want);
	if (storage_http_digest(q, got) != 0 || strcmp(got, want) != 0) {
		if (++p->reverts > STORAGE_MISMATCHES) {
			si_abort(q, 0, STORAGE_PERMANENT, xasprintf("PUT (segment) %s: storage "
			    "holds %s after %" PRId64 " bytes, not %s, %d times", p->url,
			    storage_http_digest(q, got) == 0 ? got : "no digest", p->off + p->seg,
			    want, p->reverts));
			return;
		}
		si_revert(q);
		return;
	}
	p->done = p->sent;
	p->off += p->seg;
	q->sent = p->off;
	si_progress(q);
	if (p->off >= q->f.size)
		si_commit(q);
	else
		si_segment(q);
}

/* The next segment: the preferred size within storage's limits. */
static void
si_segment(struct storage_req *q)
{
	struct si_put *p = si(q);
	int64_t seg = (int64_t)q->st->piece, left = q->f.size - p->off;

	if (seg <= 0)
		seg = (int64_t)2 << 30;
	if (p->max > 0 && seg > p->max)
		seg = p->max;
	if (p->min > 0 && seg < p->min)
		seg = p->min;
	p->seg = seg < left ? seg : left;
	p->sent = p->done;
	storage_http_begin(q, "PUT", xstrdup(p->url), NULL);
	storage_http_header(q, "x-put-txn-id: %s", p->txn);
	storage_http_body_file(q, p->off, p->seg, &p->sent);
	storage_http_send(q, si_after_segment);
}

static int64_t
si_header_int(const struct storage_req *q, const char *name)
{
	const char *v = storage_http_get(q, name);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static void
si_after_start(struct storage_req *q, CURLcode code)
{
	struct si_put *p = si(q);
	const char *id;

	if (code != CURLE_OK || q->status < 200 || q->status > 299) {
		storage_http_fail(q, "PUT (start a transaction)", code);
		return;
	}
	if ((id = storage_http_get(q, "x-put-txn-id")) == NULL || *id == '\0') {
		storage_end(q, STORAGE_PERMANENT, 0, "PUT (start a transaction) %s: HTTP %ld "
		    "without an x-put-txn-id", p->url, q->status);
		return;
	}
	p->txn = xstrdup(id);
	p->min = si_header_int(q, "x-put-segment-minbytes");
	p->max = si_header_int(q, "x-put-segment-maxbytes");
	p->off = 0;
	MD5_Init(&p->done);
	si_progress(q);
	si_segment(q);
}

static void
si_start_txn(struct storage_req *q)
{
	struct si_put *p = si(q);

	storage_http_begin(q, "PUT", xstrdup(p->url), NULL);
	storage_http_header(q, "x-put-txn-op: start");
	storage_http_header(q, "x-total-length: %" PRId64, q->f.size);
	si_describe(q, 1);
	storage_http_body_none(q);
	storage_http_send(q, si_after_start);
}

/* After a restart (or a revert that left other bytes): storage's first bytes hashed here
 * too. */
static void
si_hashed(struct storage_req *q, int err)
{
	struct si_put *p = si(q);
	char mine[37];

	if (err != 0) {
		storage_end(q, STORAGE_TRANSIENT, 0, "%s: %s", q->f.path, err == ENODATA ?
		    "shorter than storage's part of it" : strerror(err));
		return;
	}
	storage_md5_peek(&p->done, mine);
	if (strcmp(mine, p->held_md5) != 0) {
		si_abort(q, 1, STORAGE_TRANSIENT, NULL);
		return;
	}
	p->off = p->held;
	q->sent = p->off;
	log_at(LOG_INFO, 0, LOG_FIELDS({ "FILE", q->f.path }, { "URI", q->f.uri }),
	    "storing %s: resuming transaction %s at byte %" PRId64 " of %" PRId64, q->f.uri,
	    p->txn, p->off, q->f.size);
	si_progress(q);
	if (p->off >= q->f.size)
		si_commit(q);
	else
		si_segment(q);
}

static void
si_after_state(struct storage_req *q, CURLcode code)
{
	struct si_put *p = si(q);

	if (code == CURLE_OK && (q->status == 404 || q->status == 400 || q->status == 410)) {
		free(p->txn);		/* gone: from the HEAD of the file again */
		p->txn = NULL;
		si_progress(q);
		si_head(q);
		return;
	}
	if (code != CURLE_OK || q->status < 200 || q->status > 299) {
		storage_http_fail(q, "HEAD (transaction)", code);
		return;
	}
	p->min = si_header_int(q, "x-put-segment-minbytes");
	p->max = si_header_int(q, "x-put-segment-maxbytes");
	p->held = si_header_int(q, "Content-Length");
	if (p->held > q->f.size || (p->held > 0 && storage_http_digest(q, p->held_md5) != 0)) {
		si_abort(q, 1, STORAGE_TRANSIENT, NULL);
		return;
	}
	if (p->held == 0) {
		p->off = 0;
		MD5_Init(&p->done);
		si_segment(q);
		return;
	}
	storage_hash_prefix(q, p->held, &p->done, si_hashed);
}

/* Ask storage where the transaction of the progress stands. */
static void
si_state(struct storage_req *q)
{
	struct si_put *p = si(q);

	storage_http_begin(q, "HEAD", xstrdup(p->url), NULL);
	storage_http_header(q, "x-put-txn-id: %s", p->txn);
	storage_http_send(q, si_after_state);
}

/* ---- one PUT ------------------------------------------------------------------- */

static void si_put_whole(struct storage_req *q);

/* After a 412 or another Digest: was it the file that changed (its MD5 now)? */
static void
si_checked(struct storage_req *q, int err)
{
	struct si_put *p = si(q);
	char now[37];

	storage_md5_peek(&p->sent, now);
	if (err != 0 || strcmp(now, q->f.md5) != 0) {
		storage_end(q, STORAGE_TRANSIENT, 0, "%s changed while being stored (%s, not %s)",
		    q->f.path, err != 0 ? "shorter now" : now, q->f.md5);
		return;
	}
	if (++p->mismatches <= STORAGE_MISMATCHES) {
		si_put_whole(q);	/* storage saw other bytes than ours: again */
		return;
	}
	storage_end(q, STORAGE_PERMANENT, 0, "%s (checksum mismatch, sent %d times)",
	    p->aftermsg, p->mismatches);
}

/*
 * The bytes are not hashed as they go: storage hashes them, checks them against the
 * Digest sent (412 when they differ) and says what it stored. Only on a 412 (or another
 * Digest back) is the file hashed again, to tell a file that changed under the put
 * (transient) from a transfer that went wrong (sent again, then permanent).
 */
static void
si_after_put(struct storage_req *q, CURLcode code)
{
	struct si_put *p = si(q);
	int ok = code == CURLE_OK && q->status >= 200 && q->status <= 299;
	enum storage_result r;
	char got[37];
	long ra;

	if (ok && (storage_http_digest(q, got) != 0 || strcmp(got, q->f.md5) == 0)) {
		q->sent = q->f.size;
		storage_end(q, STORAGE_STORED, 0, "stored at %s", p->url);
		return;
	}
	if (ok || (code == CURLE_OK && q->status == 412)) {
		free(p->aftermsg);
		p->aftermsg = ok ? xasprintf("PUT %s: HTTP %ld, stored as %s, not %s", p->url,
		    q->status, got, q->f.md5) : storage_http_why(q, "PUT", code, &r, &ra);
		storage_hash_prefix(q, q->f.size, &p->sent, si_checked);
		return;
	}
	storage_http_fail(q, "PUT", code);
}

static void
si_put_whole(struct storage_req *q)
{
	struct si_put *p = si(q);

	storage_http_begin(q, "PUT", xstrdup(p->url), NULL);
	si_describe(q, 1);
	storage_http_body_file(q, 0, q->f.size, NULL);
	storage_http_send(q, si_after_put);
}

/* ---- asking first ---------------------------------------------------------------- */

static void
si_after_meta(struct storage_req *q, CURLcode code)
{
	if (code == CURLE_OK && q->status >= 200 && q->status <= 299)
		storage_end(q, STORAGE_UPDATED, 0, "already stored at %s; its type updated to %s%s%s",
		    si(q)->url, q->f.type, q->f.encoding != NULL ? ", encoding " : "",
		    q->f.encoding != NULL ? q->f.encoding : "");
	else
		storage_http_fail(q, "POST", code);
}

/* The same bytes with another type or encoding: POST the new ones. */
static void
si_meta(struct storage_req *q)
{
	struct si_put *p = si(q);
	char *t = curl_easy_escape(NULL, q->f.type, 0), *e = NULL, *url;

	if (q->f.encoding != NULL)
		e = curl_easy_escape(NULL, q->f.encoding, 0);
	url = xasprintf("%s?contentType=%s%s%s", p->url, t, e != NULL ? "&contentEncoding=" : "",
	    e != NULL ? e : "");
	curl_free(t);
	curl_free(e);
	storage_http_begin(q, "POST", url, NULL);
	si_describe(q, 0);
	storage_http_body_none(q);
	storage_http_send(q, si_after_meta);
}

static int
si_same(const char *a, const char *b)
{
	return (a == NULL || *a == '\0') ? (b == NULL || *b == '\0') :
	    (b != NULL && strcasecmp(a, b) == 0);
}

static void
si_after_head(struct storage_req *q, CURLcode code)
{
	char got[37];

	if (code == CURLE_OK && q->status == 200 && storage_http_digest(q, got) == 0 &&
	    strcmp(got, q->f.md5) == 0) {
		if (si_same(storage_http_get(q, "Content-Type"), q->f.type) &&
		    si_same(storage_http_get(q, "Content-Encoding"), q->f.encoding))
			storage_end(q, STORAGE_PRESENT, 0, "already stored at %s (%s)", si(q)->url,
			    got);
		else
			si_meta(q);
		return;
	}
	if (code == CURLE_OK && (q->status == 200 || q->status == 404)) {
		if (q->f.size >= (int64_t)q->st->big && q->st->big > 0)
			si_start_txn(q);
		else
			si_put_whole(q);
		return;
	}
	storage_http_fail(q, "HEAD", code);
}

static void
si_head(struct storage_req *q)
{
	storage_http_begin(q, "HEAD", xstrdup(si(q)->url), NULL);
	storage_http_send(q, si_after_head);
}

/* ---- the backend ------------------------------------------------------------------- */

static void
si_start(struct storage_req *q)
{
	struct si_put *p = xcalloc(1, sizeof *p);
	char id[128], md5[64], *cause = NULL;
	long long off;

	q->be = p;
	if ((p->url = si_locate(q->st, q->f.uri, &cause)) == NULL) {
		storage_end(q, STORAGE_PERMANENT, 0, "%s", cause);
		free(cause);
		return;
	}
	if (q->progress == NULL || sscanf(q->progress, "si-txn %127s %lld %63s", id, &off,
	    md5) != 3) {
		si_head(q);
		return;
	}
	p->txn = xstrdup(id);
	if (strcmp(md5, q->f.md5) != 0)		/* another version of the file: abandon it */
		si_abort(q, 1, STORAGE_TRANSIENT, NULL);
	else
		si_state(q);
}

static void
si_clear(struct storage_req *q)
{
	struct si_put *p = q->be;

	if (p == NULL)
		return;
	free(p->url);
	free(p->txn);
	free(p->aftermsg);
	free(p);
	q->be = NULL;
}

/* A bearer token (lib/fileio.h's secret-file policy); it never appears in a message. */
static int
si_token(struct storage *st, const char *path, char **cause)
{
	char *token;

	if (fileio_secret(path, "token file", &token, cause) != 0)
		return -1;
	st->auth = xasprintf("Authorization: Bearer %s", token);
	fileio_secret_free(token);
	return 0;
}

static int
si_init(struct storage *st, const struct storage_config *cfg, char **cause)
{
	FILE *fp;
	size_t n;

	if (cfg->url == NULL || (strncasecmp(cfg->url, "http://", 7) != 0 &&
	    strncasecmp(cfg->url, "https://", 8) != 0)) {
		*cause = xasprintf("storage si url %s: http(s)://host/.../files expected",
		    cfg->url != NULL ? cfg->url : "(none)");
		return -1;
	}
	if ((cfg->cert != NULL || cfg->ca_path != NULL) && strncasecmp(cfg->url, "https://",
	    8) != 0) {
		*cause = xasprintf("storage si: a client certificate or CA path needs an "
		    "https:// URL, not %s", cfg->url);
		return -1;
	}
	if (cfg->cert != NULL) {
		if ((fp = fopen(cfg->cert, "r")) == NULL) {
			*cause = xasprintf("client certificate %s: %s", cfg->cert, strerror(errno));
			return -1;
		}
		fclose(fp);
	}
	n = strlen(cfg->url);
	while (n > 0 && cfg->url[n - 1] == '/')
		n--;
	st->url = xstrndup(cfg->url, n);
	st->target = xasprintf("si:%s", st->url);
	st->cert = xstrdup(cfg->cert);
	st->netrc = xstrdup(cfg->netrc);
	if (curlev_ca_set(&st->ca, cfg->ca_path, cause) != 0)
		return -1;
	return cfg->token_file != NULL ? si_token(st, cfg->token_file, cause) : 0;
}

const struct storage_backend store_si_backend = {
	"si", si_init, si_start, si_clear, NULL, si_locate
};
