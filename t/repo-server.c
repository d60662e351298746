/*
 * repo-server.c - a test CAOM-2 repository service (torkeep/caom2repo).
 *
 * SYNOPSIS
 *	repo-server --listen ADDR:PORT --data DIR --xsd-dir DIR
 *	    [--base PATH] [--token-file FILE] [--basic USER:PASS]
 *	    [--port-file FILE] [--max-body BYTES] [--no-fsync]
 *	    [--tls-cert FILE --tls-key FILE [--client-ca FILE]]
 *
 * DESCRIPTION
 *	Serves the repository protocol of NOTES.md ("Repository service")
 *	under --base (default /torkeep/observations):
 *
 *	GET    BASE/C/ID   200 text/x-caom+xml with ETag: <accMetaChecksum>; 404
 *	PUT    BASE/C/ID   200 created; 409 exists; 400 not well-formed, not
 *	                   valid against CAOM-2.x.xsd, or C/ID differ from the
 *	                   document; 413 body over --max-body (20 MiB); 415
 *	                   Content-Type not application/xml or text/xml
 *	POST   BASE/C/ID   200 replaced; 404 missing; 412 If-Match differs; 400
 *	DELETE BASE/C/ID   200; 404
 *	GET    BASE/C?maxrec=N&start=ISO&end=ISO
 *	                   200 TSV: collection, observationID, maxLastModified,
 *	                   accMetaChecksum, by maxLastModified then ID; 404
 *
 *	PUT and POST answer 200 with an empty body and the new ETag; other
 *	verbs are 405 with Allow.  Errors are text/plain.  With --token-file
 *	every request must carry "Authorization: Bearer <token>", with
 *	--basic HTTP basic credentials (either is accepted when both are
 *	given); otherwise 401.  Listen on port 0 to get a free port.
 *
 *	With --tls-cert and --tls-key (PEM server certificate and its
 *	unencrypted key) the server speaks HTTPS only.  --client-ca (PEM,
 *	one or more CA certificates) also asks every client for a
 *	certificate: a request to BASE without one is refused with 403
 *	"client certificate required: anonymous access is not permitted",
 *	and one whose certificate does not verify against those CAs with
 *	403 "client certificate not trusted: <reason>", before any other
 *	check, like the CADC service refusing an anonymous write.  The
 *	subject of a verified client certificate ends the request's log
 *	line as client="DN".
 *
 *	Observations are kept as DIR/C/ID.xml, written to a temporary file,
 *	fsync'ed (unless --no-fsync, for benchmarks on slow disks) and
 *	renamed, and read back at start-up.  The ETag is the root
 *	caom2:accMetaChecksum, else "md5:" of the stored bytes; the
 *	listing's maxLastModified is the root caom2:maxLastModified, else the
 *	time the file was written.  For CAOM-2.5 documents the observation ID
 *	is the last segment of caom2:uri.
 *
 *	Test endpoints (no authentication, not counted, never faulted):
 *	GET  /_test/stats          {"GET":n,...,"dropped":n,"status":{"200":n}}
 *	POST /_test/reset-stats
 *	POST /_test/fault?status=S&count=N[&retry_after=SEC][&verb=V]
 *	POST /_test/fault?delay_ms=MS&count=N[&verb=V]
 *	POST /_test/fault?drop=1&count=N[&verb=V]
 *	                           the next N matching requests get status S
 *	                           (after their body is read, with no side
 *	                           effect), are delayed, or have their
 *	                           connection closed without a response
 *	POST /_test/clear-faults
 *	GET  /_test/last-headers   "Name: value" lines of the last request,
 *	                           Authorization values replaced by
 *	                           "[N bytes]"
 *
 *	The listening URL (with --base) is printed on standard output; with
 *	--port-file the port is also written there.  One line per request
 *	goes to standard error: verb, path, status, bytes in and out, time.
 *	SIGTERM or SIGINT stops the server with exit status 0.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/xmalloc.h"

#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_t;
#else
typedef xmlErrorPtr xml_error_t;
#endif

#define XML_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
#define POOL_MAX	32
#define FAULT_MAX	64
#define STATUS_MAX	600
#define ISO_MAX		80
#define HTTP_TOO_LARGE	413	/* MHD renamed PAYLOAD_TOO_LARGE; keep both versions happy */

/* Command-line configuration. */
static struct {
	const char	*listen;
	const char	*data;
	const char	*xsd_dir;
	char		*base;
	const char	*port_file;
	size_t		 max_body;
	int		 no_fsync;
	char		*bearer;	/* "Bearer <token>" */
	char		*basic;		/* "Basic <base64>" */
	const char	*tls_cert;	/* PEM files, or NULL for plain HTTP */
	const char	*tls_key;
	const char	*client_ca;
	char		*tls_cert_pem;	/* their contents */
	char		*tls_key_pem;
	char		*client_ca_pem;
} conf = { .max_body = 20 * 1024 * 1024 };

/* ------------------------------------------------------------------ */
/* Small helpers. */

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = b->cap == 0 ? 256 : b->cap;
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_add(b, s, strlen(s));
	free(s);
}

static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Format milliseconds since 1970 as yyyy-MM-ddTHH:mm:ss.SSS. */
static void
iso_format(int64_t ms, char out[ISO_MAX])
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;

	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	snprintf(out, ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03d",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)frac);
}

/* Parse yyyy-MM-dd[THH:mm:ss[.SSS]][Z] (UTC) into milliseconds. */
static int
iso_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *p;
	int frac = 0, scale = 100;

	memset(&tm, 0, sizeof tm);
	if (!isdigit((unsigned char)*s) ||
	    (p = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*p == 'T' || *p == ' ') {
		if ((p = strptime(p + 1, "%H:%M:%S", &tm)) == NULL)
			return -1;
		if (*p == '.') {
			for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
				frac += (*p - '0') * scale;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0')
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

/* "md5:<hex>" of some bytes. */
static char *
md5_tag(const void *p, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	char *s;

	if (!EVP_Digest(p, len, md, &n, EVP_md5(), NULL))
		n = 0;
	s = xmalloc(5 + 2 * (size_t)n);
	memcpy(s, "md5:", 5);
	for (i = 0; i < n; i++)
		snprintf(s + 4 + 2 * i, 3, "%02x", md[i]);
	return s;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_file(const char *path, struct buf *b)
{
	char chunk[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			close(fd);
			return -1;
		}
		buf_add(b, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Schemas: one compiled xmlSchema per namespace, shared read-only by all
 * threads; validation contexts are not thread-safe, so each request
 * borrows one from a small pool. */

struct schema {
	const char		*file;
	const char		*ns;
	xmlSchemaPtr		 schema;
	pthread_mutex_t		 lock;
	xmlSchemaValidCtxtPtr	 pool[POOL_MAX];
	size_t			 npool;
};

static struct schema schemas[] = {
	{ "CAOM-2.3.xsd", "http://www.opencadc.org/caom2/xml/v2.3",
	  NULL, PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 },
	{ "CAOM-2.4.xsd", "http://www.opencadc.org/caom2/xml/v2.4",
	  NULL, PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 },
	{ "CAOM-2.5.xsd", "http://www.opencadc.org/caom2/xml/v2.5",
	  NULL, PTHREAD_MUTEX_INITIALIZER, { NULL }, 0 },
};
#define NSCHEMAS (sizeof schemas / sizeof schemas[0])

/* Structured error handler: keep the first message in *(char **)arg. */
static void
xml_error(void *arg, xml_error_t err)
{
	char **cause = arg;

	if (*cause != NULL || err == NULL)
		return;
	*cause = xasprintf("line %d: %s", err->line,
	    err->message != NULL ? err->message : "error");
	chomp(*cause);
}

static int
schema_load(struct schema *s, const char *dir)
{
	xmlSchemaParserCtxtPtr pc;
	char *path, *cause = NULL;

	path = xasprintf("%s/%s", dir, s->file);
	if (access(path, R_OK) != 0) {
		free(path);
		return -1;
	}
	if ((pc = xmlSchemaNewParserCtxt(path)) != NULL) {
		xmlSchemaSetParserStructuredErrors(pc, xml_error, &cause);
		s->schema = xmlSchemaParse(pc);
		xmlSchemaFreeParserCtxt(pc);
	}
	if (s->schema == NULL)
		fprintf(stderr, "repo-server: %s: %s\n", path,
		    cause != NULL ? cause : "cannot compile");
	free(cause);
	free(path);
	return s->schema == NULL ? -1 : 0;
}

static int
schemas_init(const char *dir)
{
	size_t i, loaded = 0;

	for (i = 0; i < NSCHEMAS; i++) {
		if (schema_load(&schemas[i], dir) == 0) {
			fprintf(stderr, "repo-server: %s validates %s\n",
			    schemas[i].file, schemas[i].ns);
			loaded++;
		}
	}
	if (loaded == 0) {
		fprintf(stderr, "repo-server: %s: no CAOM-2.x.xsd found\n",
		    dir);
		return -1;
	}
	return 0;
}

static void
schemas_fini(void)
{
	struct schema *s;
	size_t i;

	for (s = schemas; s < schemas + NSCHEMAS; s++) {
		for (i = 0; i < s->npool; i++)
			xmlSchemaFreeValidCtxt(s->pool[i]);
		s->npool = 0;
		if (s->schema != NULL)
			xmlSchemaFree(s->schema);
		s->schema = NULL;
	}
}

static struct schema *
schema_find(const xmlChar *ns)
{
	size_t i;

	for (i = 0; i < NSCHEMAS; i++) {
		if (schemas[i].schema != NULL &&
		    strcmp(schemas[i].ns, (const char *)ns) == 0)
			return &schemas[i];
	}
	return NULL;
}

/* Validate doc against s; 0, or -1 with the first error in *cause. */
static int
schema_validate(struct schema *s, xmlDocPtr doc, char **cause)
{
	xmlSchemaValidCtxtPtr vc = NULL;
	char *err = NULL;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->npool > 0)
		vc = s->pool[--s->npool];
	pthread_mutex_unlock(&s->lock);
	if (vc == NULL && (vc = xmlSchemaNewValidCtxt(s->schema)) == NULL) {
		*cause = xstrdup("out of memory creating a validator");
		return -1;
	}
	xmlSchemaSetValidStructuredErrors(vc, xml_error, &err);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaSetValidStructuredErrors(vc, NULL, NULL);
	pthread_mutex_lock(&s->lock);
	if (s->npool < POOL_MAX)
		s->pool[s->npool++] = vc;
	else
		xmlSchemaFreeValidCtxt(vc);
	pthread_mutex_unlock(&s->lock);
	if (rc != 0)
		*cause = xasprintf("not valid against %s: %s", s->file,
		    err != NULL ? err : "validation failed");
	free(err);
	return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Documents. */

struct docinfo {
	char	*collection;
	char	*obsid;
	char	*acc;		/* root accMetaChecksum, or NULL */
	char	*mlm;		/* root maxLastModified, or NULL */
};

static void
docinfo_free(struct docinfo *di)
{
	free(di->collection);
	free(di->obsid);
	free(di->acc);
	free(di->mlm);
	memset(di, 0, sizeof *di);
}

/* Copy a libxml2 string into malloc'ed memory. */
static char *
xml_take(xmlChar *x)
{
	char *s;

	if (x == NULL)
		return NULL;
	s = xstrdup((const char *)x);
	xmlFree(x);
	return s;
}

/* The namespace-qualified checksum and date attributes of the root. */
static void
doc_attrs(xmlNodePtr root, struct docinfo *di)
{
	const xmlChar *ns;

	if (root == NULL || root->ns == NULL)
		return;
	ns = root->ns->href;
	di->acc = xml_take(xmlGetNsProp(root, (const xmlChar *)"accMetaChecksum", ns));
	di->mlm = xml_take(xmlGetNsProp(root, (const xmlChar *)"maxLastModified", ns));
}

/* A CAOM-2.5 uri "caom:C/ID" names the observation in its last part. */
static char *
uri_obsid(char *uri)
{
	char *p, *id;
	size_t off = 0;

	if (uri == NULL)
		return NULL;
	if ((p = strrchr(uri, '/')) != NULL || (p = strchr(uri, ':')) != NULL)
		off = (size_t)(p - uri) + 1;
	id = xstrdup(uri + off);
	free(uri);
	return id;
}

static int
doc_extract(xmlDocPtr doc, struct docinfo *di, char **cause)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n;
	const char *name;

	for (n = root->children; n != NULL; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		name = (const char *)n->name;
		if (strcmp(name, "collection") == 0 && di->collection == NULL)
			di->collection = xml_take(xmlNodeGetContent(n));
		else if (strcmp(name, "observationID") == 0 && di->obsid == NULL)
			di->obsid = xml_take(xmlNodeGetContent(n));
		else if (strcmp(name, "uri") == 0 && di->obsid == NULL)
			di->obsid = uri_obsid(xml_take(xmlNodeGetContent(n)));
	}
	doc_attrs(root, di);
	if (di->collection == NULL || di->obsid == NULL) {
		*cause = xstrdup("document has no collection or observationID");
		docinfo_free(di);
		return -1;
	}
	return 0;
}

static char *
parse_cause(xmlParserCtxtPtr pc)
{
	xml_error_t err = xmlCtxtGetLastError(pc);
	char *s;

	if (err == NULL || err->message == NULL)
		return xstrdup("not well-formed XML");
	s = xasprintf("not well-formed XML: line %d: %s", err->line,
	    err->message);
	chomp(s);
	return s;
}

/* Parse and validate a body; fill di, or return -1 with *cause. */
static int
doc_inspect(const char *body, size_t len, struct docinfo *di, char **cause)
{
	xmlParserCtxtPtr pc;
	xmlDocPtr doc;
	xmlNodePtr root;
	struct schema *s = NULL;
	int rc = -1;

	memset(di, 0, sizeof *di);
	if ((pc = xmlNewParserCtxt()) == NULL) {
		*cause = xstrdup("out of memory creating a parser");
		return -1;
	}
	doc = xmlCtxtReadMemory(pc, body, (int)len, "observation.xml", NULL,
	    XML_OPTIONS);
	if (doc == NULL)
		*cause = parse_cause(pc);
	else if ((root = xmlDocGetRootElement(doc)) == NULL || root->ns == NULL)
		*cause = xstrdup("root element is not in a CAOM-2 namespace");
	else if ((s = schema_find(root->ns->href)) == NULL)
		*cause = xasprintf("unsupported namespace '%s'",
		    (const char *)root->ns->href);
	else if (schema_validate(s, doc, cause) == 0)
		rc = doc_extract(doc, di, cause);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(pc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The store: an index of collections and observations over DIR/C/ID.xml.
 * The global lock covers the index; an entry is owned by one request at
 * a time (busy), so existence and If-Match checks are atomic with the
 * file write while different observations are written in parallel. */

struct entry {
	char		*id;
	char		*etag;
	int64_t		 mlm;		/* ms since 1970 */
	int		 exists;
	int		 busy;
	int		 waiters;
	struct entry	*next;
};

struct coll {
	char		*name;
	struct entry	**tab;
	size_t		 size;		/* buckets, a power of two */
	size_t		 n;
	struct coll	*next;
};

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	struct coll	*colls;
} store = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL };

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static char *
obs_path(const char *coll, const char *id)
{
	return xasprintf("%s/%s/%s.xml", conf.data, coll, id);
}

/* Find (or create, making its directory) a collection; lock held. */
static struct coll *
coll_find(const char *name, int create)
{
	struct coll *c;
	char *dir;

	for (c = store.colls; c != NULL; c = c->next) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	if (!create)
		return NULL;
	dir = xasprintf("%s/%s", conf.data, name);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		fprintf(stderr, "repo-server: mkdir %s: %s\n", dir,
		    strerror(errno));
	free(dir);
	c = xcalloc(1, sizeof *c);
	c->name = xstrdup(name);
	c->size = 64;
	c->tab = xcalloc(c->size, sizeof *c->tab);
	c->next = store.colls;
	store.colls = c;
	return c;
}

static struct entry *
coll_lookup(struct coll *c, const char *id)
{
	struct entry *e;

	for (e = c->tab[hash(id) & (c->size - 1)]; e != NULL; e = e->next) {
		if (strcmp(e->id, id) == 0)
			return e;
	}
	return NULL;
}

static void
coll_grow(struct coll *c)
{
	struct entry **tab, *e, *next;
	size_t i, size = c->size * 2, b;

	tab = xcalloc(size, sizeof *tab);
	for (i = 0; i < c->size; i++) {
		for (e = c->tab[i]; e != NULL; e = next) {
			next = e->next;
			b = hash(e->id) & (size - 1);
			e->next = tab[b];
			tab[b] = e;
		}
	}
	free(c->tab);
	c->tab = tab;
	c->size = size;
}

static struct entry *
coll_insert(struct coll *c, const char *id)
{
	struct entry *e;
	size_t b;

	if (c->n >= c->size * 2)
		coll_grow(c);
	e = xcalloc(1, sizeof *e);
	e->id = xstrdup(id);
	b = hash(id) & (c->size - 1);
	e->next = c->tab[b];
	c->tab[b] = e;
	c->n++;
	return e;
}

static void
entry_free(struct entry *e)
{
	free(e->id);
	free(e->etag);
	free(e);
}

static void
coll_remove(struct coll *c, struct entry *e)
{
	struct entry **pp;

	for (pp = &c->tab[hash(e->id) & (c->size - 1)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			c->n--;
			entry_free(e);
			return;
		}
	}
}

/* Take exclusive use of an observation's entry (creating it if asked);
 * NULL when the collection or the entry does not exist. */
static struct entry *
entry_acquire(const char *coll, const char *id, int create, struct coll **cp)
{
	struct entry *e = NULL;
	struct coll *c;

	pthread_mutex_lock(&store.lock);
	if ((c = coll_find(coll, create)) != NULL &&
	    (e = coll_lookup(c, id)) == NULL && create)
		e = coll_insert(c, id);
	if (e != NULL) {
		while (e->busy) {
			e->waiters++;
			pthread_cond_wait(&store.cond, &store.lock);
			e->waiters--;
		}
		e->busy = 1;
	}
	pthread_mutex_unlock(&store.lock);
	*cp = c;
	return e;
}

/* Give an entry back; one that does not exist and is not wanted goes. */
static void
entry_release(struct coll *c, struct entry *e)
{
	pthread_mutex_lock(&store.lock);
	e->busy = 0;
	if (!e->exists && e->waiters == 0)
		coll_remove(c, e);
	pthread_cond_broadcast(&store.cond);
	pthread_mutex_unlock(&store.lock);
}

/* Publish an entry's new state (etag is taken over) to listings. */
static void
entry_update(struct entry *e, char *etag, int64_t mlm, int exists)
{
	pthread_mutex_lock(&store.lock);
	free(e->etag);
	e->etag = etag;
	e->mlm = mlm;
	e->exists = exists;
	pthread_mutex_unlock(&store.lock);
}

/* ETag and maxLastModified for a stored document. */
static char *
doc_etag(const struct docinfo *di, const char *body, size_t len)
{
	if (di->acc != NULL && *di->acc != '\0')
		return xstrdup(di->acc);
	return md5_tag(body, len);
}

static int64_t
doc_mlm(const struct docinfo *di, int64_t written)
{
	int64_t ms;

	if (di->mlm != NULL && iso_parse(di->mlm, &ms) == 0)
		return ms;
	return written;
}

/* Write DIR/C/ID.xml atomically; the file's mtime comes back in *mtime. */
static int
store_write(const char *coll, const char *id, const struct buf *b,
    int64_t *mtime, char **cause)
{
	struct stat st;
	char *tmp, *path;
	int fd, rc = -1;

	tmp = xasprintf("%s/%s/.tmp.XXXXXX", conf.data, coll);
	path = obs_path(coll, id);
	if ((fd = mkstemp(tmp)) == -1) {
		*cause = xasprintf("mkstemp %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0644) == -1 || write_all(fd, b->p, b->len) == -1 ||
	    (!conf.no_fsync && fsync(fd) == -1) || fstat(fd, &st) == -1) {
		*cause = xasprintf("writing %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		*cause = xasprintf("writing %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	*mtime = (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000;
	rc = 0;
out:
	free(path);
	free(tmp);
	return rc;
}

/* Index one stored file at start-up. */
static void
store_load(struct coll *c, const char *path, const char *name)
{
	struct buf b = { NULL, 0, 0 };
	struct docinfo di;
	struct entry *e;
	struct stat st;
	xmlDocPtr doc;
	char *id;

	if (read_file(path, &b) == -1 || stat(path, &st) == -1) {
		fprintf(stderr, "repo-server: %s: %s\n", path, strerror(errno));
		free(b.p);
		return;
	}
	memset(&di, 0, sizeof di);
	if ((doc = xmlReadMemory(b.p, (int)b.len, path, NULL, XML_OPTIONS)))
		doc_attrs(xmlDocGetRootElement(doc), &di);
	xmlFreeDoc(doc);
	id = xstrndup(name, strlen(name) - 4);
	e = coll_insert(c, id);
	e->exists = 1;
	e->etag = doc_etag(&di, b.p, b.len);
	e->mlm = doc_mlm(&di, (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000);
	docinfo_free(&di);
	free(id);
	free(b.p);
}

static void
store_scan_coll(const char *name)
{
	struct dirent *d;
	struct coll *c;
	char *dir, *path;
	size_t n;
	DIR *dp;

	dir = xasprintf("%s/%s", conf.data, name);
	if ((dp = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	c = coll_find(name, 1);
	while ((d = readdir(dp)) != NULL) {
		path = xasprintf("%s/%s", dir, d->d_name);
		n = strlen(d->d_name);
		if (strncmp(d->d_name, ".tmp.", 5) == 0)
			unlink(path);
		else if (d->d_name[0] != '.' && n > 4 &&
		    strcmp(d->d_name + n - 4, ".xml") == 0)
			store_load(c, path, d->d_name);
		free(path);
	}
	closedir(dp);
	free(dir);
}

static int
store_init(void)
{
	struct dirent *d;
	DIR *dp;

	if (mkdir(conf.data, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "repo-server: mkdir %s: %s\n", conf.data,
		    strerror(errno));
		return -1;
	}
	if ((dp = opendir(conf.data)) == NULL) {
		fprintf(stderr, "repo-server: %s: %s\n", conf.data,
		    strerror(errno));
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] != '.')
			store_scan_coll(d->d_name);
	}
	closedir(dp);
	return 0;
}

static void
store_fini(void)
{
	struct coll *c, *cn;
	struct entry *e, *en;
	size_t i;

	for (c = store.colls; c != NULL; c = cn) {
		cn = c->next;
		for (i = 0; i < c->size; i++) {
			for (e = c->tab[i]; e != NULL; e = en) {
				en = e->next;
				entry_free(e);
			}
		}
		free(c->tab);
		free(c->name);
		free(c);
	}
	store.colls = NULL;
}

/* ------------------------------------------------------------------ */
/* Statistics, faults and the last request's headers. */

static const char *const stat_verbs[] = {
	"GET", "HEAD", "PUT", "POST", "DELETE", "OTHER"
};
#define NVERBS (sizeof stat_verbs / sizeof stat_verbs[0])

static struct {
	pthread_mutex_t	 lock;
	unsigned long	 verb[NVERBS];
	unsigned long	 status[STATUS_MAX];
	unsigned long	 dropped;
} stats = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Count a request; status 0 is a dropped connection. */
static void
stats_count(const char *method, int status)
{
	size_t v;

	for (v = 0; v < NVERBS - 1; v++) {
		if (strcmp(method, stat_verbs[v]) == 0)
			break;
	}
	pthread_mutex_lock(&stats.lock);
	stats.verb[v]++;
	if (status == 0)
		stats.dropped++;
	else if (status > 0 && status < STATUS_MAX)
		stats.status[status]++;
	pthread_mutex_unlock(&stats.lock);
}

enum fault_kind { FAULT_STATUS, FAULT_DELAY, FAULT_DROP };

struct fault {
	enum fault_kind	 kind;
	long		 status;
	long		 retry_after;	/* -1: none */
	long		 delay_ms;
	long		 count;
	char		 verb[16];	/* empty: any */
};

/* What the faults decided for one request. */
struct verdict {
	int	 status;
	long	 retry_after;
	long	 delay_ms;
	int	 drop;
};

static struct {
	pthread_mutex_t	 lock;
	struct fault	 list[FAULT_MAX];
	size_t		 n;
} faults = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
fault_apply(struct fault *f, struct verdict *v)
{
	if (f->kind == FAULT_DELAY)
		v->delay_ms += f->delay_ms;
	else if (v->status != 0 || v->drop)
		return;
	else if (f->kind == FAULT_DROP)
		v->drop = 1;
	else {
		v->status = (int)f->status;
		v->retry_after = f->retry_after;
	}
	f->count--;
}

/* Consume the faults that match a request. */
static void
fault_take(const char *method, struct verdict *v)
{
	struct fault *f;
	size_t i, j;

	memset(v, 0, sizeof *v);
	pthread_mutex_lock(&faults.lock);
	for (i = 0; i < faults.n; i++) {
		f = &faults.list[i];
		if (f->verb[0] == '\0' || strcmp(f->verb, method) == 0)
			fault_apply(f, v);
	}
	for (i = j = 0; i < faults.n; i++) {
		if (faults.list[i].count > 0)
			faults.list[j++] = faults.list[i];
	}
	faults.n = j;
	pthread_mutex_unlock(&faults.lock);
}

static struct {
	pthread_mutex_t	 lock;
	char		*text;
} last = { PTHREAD_MUTEX_INITIALIZER, NULL };

static enum MHD_Result
header_line(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct buf *b = arg;

	(void)kind;
	if (value == NULL)
		value = "";
	if (strcasecmp(key, "Authorization") == 0 ||
	    strcasecmp(key, "Proxy-Authorization") == 0)
		buf_printf(b, "%s: [%zu bytes]\n", key, strlen(value));
	else
		buf_printf(b, "%s: %s\n", key, value);
	return MHD_YES;
}

static void
last_headers_save(struct MHD_Connection *conn)
{
	struct buf b = { NULL, 0, 0 };

	buf_add(&b, "", 0);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, header_line, &b);
	pthread_mutex_lock(&last.lock);
	free(last.text);
	last.text = b.p;
	pthread_mutex_unlock(&last.lock);
}

/* ------------------------------------------------------------------ */
/* Requests and responses. */

enum route_kind { ROUTE_NONE, ROUTE_OBS, ROUTE_COLL, ROUTE_TEST };

struct req {
	char		*method;
	char		*path;
	char		*coll;
	char		*id;
	enum route_kind	 kind;
	struct buf	 body;
	size_t		 in;
	int		 too_large;
	int		 status;	/* 0 until a response is queued */
	size_t		 out;
	int		 dropped;
	struct verdict	 fault;
	int64_t		 start;
	char		*client;	/* subject of the client certificate */
};

typedef enum MHD_Result (*handler_fn)(struct MHD_Connection *, struct req *);

static enum MHD_Result
queue(struct MHD_Connection *conn, struct req *r, int status,
    struct MHD_Response *resp, size_t len)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	r->status = status;
	r->out = len;
	if (r->kind != ROUTE_TEST)
		stats_count(r->method, status);
	return ret;
}

/* A response with an owned (or NULL) body and a content type. */
static struct MHD_Response *
response(char *body, size_t len, const char *ctype)
{
	struct MHD_Response *resp;

	if (body == NULL)
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(len, body,
		    MHD_RESPMEM_MUST_FREE);
	if (resp != NULL && ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    ctype);
	return resp;
}

static enum MHD_Result
respond_text(struct MHD_Connection *conn, struct req *r, int status,
    const char *ctype, char *body)
{
	size_t len = body == NULL ? 0 : strlen(body);

	return queue(conn, r, status, response(body, len, ctype), len);
}

static enum MHD_Result __attribute__((format(printf, 4, 5)))
respond_error(struct MHD_Connection *conn, struct req *r, int status,
    const char *fmt, ...)
{
	va_list ap;
	char *msg, *body;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	body = xasprintf("%s\n", msg);
	free(msg);
	return respond_text(conn, r, status, "text/plain; charset=utf-8",
	    body);
}

static enum MHD_Result
respond_etag(struct MHD_Connection *conn, struct req *r, const char *etag)
{
	struct MHD_Response *resp = response(NULL, 0, NULL);

	if (resp != NULL && etag != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	return queue(conn, r, MHD_HTTP_OK, resp, 0);
}

static int
qlong(struct MHD_Connection *conn, const char *name, long min, long max,
    long *out)
{
	const char *s;
	char *end;
	long v;

	s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	if (s == NULL)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Observation handlers. */

static int
content_type_ok(struct MHD_Connection *conn)
{
	static const char *const ok[] = {
		"application/xml", "text/xml", "text/x-caom+xml"
	};
	const char *ct;
	size_t i, n;

	ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL)
		return 1;
	n = strcspn(ct, "; \t");
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (strlen(ok[i]) == n && strncasecmp(ct, ok[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Check a PUT/POST body: 0, or -1 with the status and reason. */
static int
body_check(struct MHD_Connection *conn, struct req *r, struct docinfo *di,
    int *status, char **cause)
{
	*status = MHD_HTTP_BAD_REQUEST;
	if (!content_type_ok(conn)) {
		*status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		*cause = xstrdup("expected Content-Type: application/xml");
		return -1;
	}
	if (r->body.len == 0) {
		*cause = xstrdup("empty body: expected a CAOM-2 observation");
		return -1;
	}
	if (doc_inspect(r->body.p, r->body.len, di, cause) == -1)
		return -1;
	if (strcmp(di->collection, r->coll) != 0 ||
	    strcmp(di->obsid, r->id) != 0) {
		*cause = xasprintf("document is caom:%s/%s but the path names "
		    "caom:%s/%s", di->collection, di->obsid, r->coll, r->id);
		docinfo_free(di);
		return -1;
	}
	return 0;
}

/* Write the body of r as the entry's new version. */
static int
obs_store(struct req *r, struct entry *e, const struct docinfo *di,
    char **etag, char **cause)
{
	int64_t mtime;

	if (store_write(r->coll, r->id, &r->body, &mtime, cause) == -1)
		return -1;
	*etag = doc_etag(di, r->body.p, r->body.len);
	entry_update(e, xstrdup(*etag), doc_mlm(di, mtime), 1);
	return 0;
}

static enum MHD_Result
obs_get(struct MHD_Connection *conn, struct req *r)
{
	struct MHD_Response *resp;
	struct entry *e;
	struct coll *c;
	struct stat st;
	char *path, *etag;
	int fd;

	if ((e = entry_acquire(r->coll, r->id, 0, &c)) != NULL && !e->exists) {
		entry_release(c, e);
		e = NULL;
	}
	if (e == NULL)
		return respond_error(conn, r, MHD_HTTP_NOT_FOUND,
		    "not found: caom:%s/%s", r->coll, r->id);
	path = obs_path(r->coll, r->id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1 &&
	    fstat(fd, &st) == -1) {
		close(fd);
		fd = -1;
	}
	etag = xstrdup(e->etag);
	entry_release(c, e);
	free(path);
	if (fd == -1) {
		free(etag);
		return respond_error(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "reading caom:%s/%s: %s", r->coll, r->id, strerror(errno));
	}
	if ((resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd))) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "text/x-caom+xml");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	}
	free(etag);
	return queue(conn, r, MHD_HTTP_OK, resp, (size_t)st.st_size);
}

static enum MHD_Result
obs_put(struct MHD_Connection *conn, struct req *r)
{
	struct docinfo di;
	struct entry *e;
	struct coll *c;
	char *cause = NULL, *etag = NULL;
	enum MHD_Result ret;
	int status;

	if (body_check(conn, r, &di, &status, &cause) == -1)
		ret = respond_error(conn, r, status, "%s", cause);
	else {
		e = entry_acquire(r->coll, r->id, 1, &c);
		if (e->exists)
			ret = respond_error(conn, r, MHD_HTTP_CONFLICT,
			    "already exists: caom:%s/%s", r->coll, r->id);
		else if (obs_store(r, e, &di, &etag, &cause) == -1)
			ret = respond_error(conn, r,
			    MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", cause);
		else
			ret = respond_etag(conn, r, etag);
		entry_release(c, e);
		docinfo_free(&di);
	}
	free(etag);
	free(cause);
	return ret;
}

/* Does an If-Match value ("*", or a list of possibly quoted or weak
 * tags) name the current ETag? */
static int
etag_match(const char *im, const char *etag)
{
	const char *p = im, *t;
	size_t n;

	while (*p != '\0') {
		p += strspn(p, " \t,");
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		t = p;
		n = strcspn(p, ",");
		p += n;
		while (n > 0 && isspace((unsigned char)t[n - 1]))
			n--;
		if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
			t++;
			n -= 2;
		}
		if ((n == 1 && *t == '*') ||
		    (n > 0 && strlen(etag) == n && strncmp(t, etag, n) == 0))
			return 1;
	}
	return 0;
}

/* POST once the body is known good and the entry is held. */
static enum MHD_Result
obs_replace(struct MHD_Connection *conn, struct req *r, struct entry *e,
    const struct docinfo *di)
{
	const char *im;
	char *cause = NULL, *etag = NULL;
	enum MHD_Result ret;

	im = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_MATCH);
	if (e == NULL || !e->exists)
		ret = respond_error(conn, r, MHD_HTTP_NOT_FOUND,
		    "not found: caom:%s/%s", r->coll, r->id);
	else if (im != NULL && !etag_match(im, e->etag))
		ret = respond_error(conn, r, MHD_HTTP_PRECONDITION_FAILED,
		    "If-Match %s does not match the current ETag %s", im,
		    e->etag);
	else if (obs_store(r, e, di, &etag, &cause) == -1)
		ret = respond_error(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "%s", cause);
	else
		ret = respond_etag(conn, r, etag);
	free(etag);
	free(cause);
	return ret;
}

static enum MHD_Result
obs_post(struct MHD_Connection *conn, struct req *r)
{
	struct docinfo di;
	struct entry *e;
	struct coll *c;
	char *cause = NULL;
	enum MHD_Result ret;
	int status;

	if (body_check(conn, r, &di, &status, &cause) == -1) {
		ret = respond_error(conn, r, status, "%s", cause);
		free(cause);
		return ret;
	}
	e = entry_acquire(r->coll, r->id, 0, &c);
	ret = obs_replace(conn, r, e, &di);
	if (e != NULL)
		entry_release(c, e);
	docinfo_free(&di);
	return ret;
}

static enum MHD_Result
obs_delete(struct MHD_Connection *conn, struct req *r)
{
	struct entry *e;
	struct coll *c;
	char *path;
	int err = 0;

	if ((e = entry_acquire(r->coll, r->id, 0, &c)) != NULL && !e->exists) {
		entry_release(c, e);
		e = NULL;
	}
	if (e == NULL)
		return respond_error(conn, r, MHD_HTTP_NOT_FOUND,
		    "not found: caom:%s/%s", r->coll, r->id);
	path = obs_path(r->coll, r->id);
	if (unlink(path) == -1 && errno != ENOENT)
		err = errno;
	else
		entry_update(e, NULL, 0, 0);
	entry_release(c, e);
	free(path);
	if (err != 0)
		return respond_error(conn, r, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "deleting caom:%s/%s: %s", r->coll, r->id, strerror(err));
	return respond_text(conn, r, MHD_HTTP_OK, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Collection listing. */

struct row {
	char	*id;
	char	*etag;
	int64_t	 mlm;
};

struct range {
	long	 maxrec;	/* -1: all */
	int64_t	 start;
	int64_t	 end;
};

static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->mlm != y->mlm)
		return x->mlm < y->mlm ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Copy the rows of a collection in range; -1 if it is unknown. */
static int
coll_rows(const char *name, const struct range *rg, struct row **rows,
    size_t *n)
{
	struct coll *c;
	struct entry *e;
	size_t i;

	pthread_mutex_lock(&store.lock);
	if ((c = coll_find(name, 0)) == NULL) {
		pthread_mutex_unlock(&store.lock);
		return -1;
	}
	*rows = xcalloc(c->n, sizeof **rows);
	*n = 0;
	for (i = 0; i < c->size; i++) {
		for (e = c->tab[i]; e != NULL; e = e->next) {
			if (!e->exists || e->mlm < rg->start || e->mlm > rg->end)
				continue;
			(*rows)[*n].id = xstrdup(e->id);
			(*rows)[*n].etag = xstrdup(e->etag);
			(*rows)[(*n)++].mlm = e->mlm;
		}
	}
	pthread_mutex_unlock(&store.lock);
	return 0;
}

static int
list_range(struct MHD_Connection *conn, struct range *rg, char **cause)
{
	static const char *const names[] = { "start", "end" };
	int64_t *dst[] = { &rg->start, &rg->end };
	const char *s;
	size_t i;

	rg->maxrec = -1;
	rg->start = INT64_MIN;
	rg->end = INT64_MAX;
	if (qlong(conn, "maxrec", 0, LONG_MAX, &rg->maxrec) == -1) {
		*cause = xstrdup("maxrec must be a non-negative integer");
		return -1;
	}
	for (i = 0; i < 2; i++) {
		s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
		    names[i]);
		if (s != NULL && iso_parse(s, dst[i]) == -1) {
			*cause = xasprintf("%s: '%s' is not an ISO date",
			    names[i], s);
			return -1;
		}
	}
	return 0;
}

static enum MHD_Result
coll_list(struct MHD_Connection *conn, struct req *r)
{
	struct range rg;
	struct row *rows;
	struct buf b = { NULL, 0, 0 };
	char *cause, date[ISO_MAX];
	enum MHD_Result ret;
	size_t n, i;

	if (list_range(conn, &rg, &cause) == -1) {
		ret = respond_error(conn, r, MHD_HTTP_BAD_REQUEST, "%s", cause);
		free(cause);
		return ret;
	}
	if (coll_rows(r->coll, &rg, &rows, &n) == -1)
		return respond_error(conn, r, MHD_HTTP_NOT_FOUND,
		    "collection not found: %s", r->coll);
	qsort(rows, n, sizeof *rows, row_cmp);
	buf_add(&b, "", 0);
	for (i = 0; i < n; i++) {
		iso_format(rows[i].mlm, date);
		if (rg.maxrec < 0 || (long)i < rg.maxrec)
			buf_printf(&b, "%s\t%s\t%s\t%s\n", r->coll, rows[i].id,
			    date, rows[i].etag);
		free(rows[i].id);
		free(rows[i].etag);
	}
	free(rows);
	return queue(conn, r, MHD_HTTP_OK, response(b.p, b.len,
	    "text/tab-separated-values"), b.len);
}

/* ------------------------------------------------------------------ */
/* Test endpoints. */

static enum MHD_Result
test_stats(struct MHD_Connection *conn, struct req *r)
{
	struct buf b = { NULL, 0, 0 };
	const char *sep = "";
	size_t i;

	pthread_mutex_lock(&stats.lock);
	buf_add(&b, "{", 1);
	for (i = 0; i < NVERBS; i++)
		buf_printf(&b, "\"%s\":%lu,", stat_verbs[i], stats.verb[i]);
	buf_printf(&b, "\"dropped\":%lu,\"status\":{", stats.dropped);
	for (i = 0; i < STATUS_MAX; i++) {
		if (stats.status[i] == 0)
			continue;
		buf_printf(&b, "%s\"%zu\":%lu", sep, i, stats.status[i]);
		sep = ",";
	}
	pthread_mutex_unlock(&stats.lock);
	buf_add(&b, "}}\n", 3);
	return queue(conn, r, MHD_HTTP_OK, response(b.p, b.len,
	    "application/json"), b.len);
}

static enum MHD_Result
test_reset_stats(struct MHD_Connection *conn, struct req *r)
{
	pthread_mutex_lock(&stats.lock);
	memset(stats.verb, 0, sizeof stats.verb);
	memset(stats.status, 0, sizeof stats.status);
	stats.dropped = 0;
	pthread_mutex_unlock(&stats.lock);
	return respond_text(conn, r, MHD_HTTP_OK, "text/plain",
	    xstrdup("stats reset\n"));
}

/* Read a fault from the query string; -1 with *cause if it is bad. */
static int
fault_parse(struct MHD_Connection *conn, struct fault *f, char **cause)
{
	const char *verb;
	long drop = 0;
	int st, dl, dr;

	memset(f, 0, sizeof *f);
	f->count = 1;
	f->retry_after = -1;
	st = qlong(conn, "status", 100, 599, &f->status);
	dl = qlong(conn, "delay_ms", 0, 600000, &f->delay_ms);
	dr = qlong(conn, "drop", 1, 1, &drop);
	verb = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "verb");
	if (st < 0 || dl < 0 || dr < 0 || st + dl + dr != 1)
		*cause = xstrdup("give one of status=100..599, "
		    "delay_ms=0..600000 or drop=1");
	else if (qlong(conn, "count", 1, LONG_MAX, &f->count) < 0 ||
	    qlong(conn, "retry_after", 0, INT_MAX, &f->retry_after) < 0)
		*cause = xstrdup("count must be >= 1 and retry_after >= 0");
	else if (verb != NULL && (*verb == '\0' ||
	    strlen(verb) >= sizeof f->verb))
		*cause = xstrdup("verb must be an HTTP method");
	else {
		f->kind = st ? FAULT_STATUS : dl ? FAULT_DELAY : FAULT_DROP;
		if (verb != NULL)
			snprintf(f->verb, sizeof f->verb, "%s", verb);
		return 0;
	}
	return -1;
}

static enum MHD_Result
test_fault(struct MHD_Connection *conn, struct req *r)
{
	struct fault f;
	char *cause = NULL;
	enum MHD_Result ret;

	if (fault_parse(conn, &f, &cause) == -1) {
		ret = respond_error(conn, r, MHD_HTTP_BAD_REQUEST, "%s", cause);
		free(cause);
		return ret;
	}
	pthread_mutex_lock(&faults.lock);
	if (faults.n < FAULT_MAX)
		faults.list[faults.n++] = f;
	else
		cause = xstrdup("too many faults");
	pthread_mutex_unlock(&faults.lock);
	if (cause != NULL) {
		ret = respond_error(conn, r, MHD_HTTP_BAD_REQUEST, "%s", cause);
		free(cause);
		return ret;
	}
	return respond_text(conn, r, MHD_HTTP_OK, "text/plain",
	    xasprintf("fault added for %ld %s request(s)\n", f.count,
	    f.verb[0] != '\0' ? f.verb : "matching"));
}

static enum MHD_Result
test_clear_faults(struct MHD_Connection *conn, struct req *r)
{
	pthread_mutex_lock(&faults.lock);
	faults.n = 0;
	pthread_mutex_unlock(&faults.lock);
	return respond_text(conn, r, MHD_HTTP_OK, "text/plain",
	    xstrdup("faults cleared\n"));
}

static enum MHD_Result
test_last_headers(struct MHD_Connection *conn, struct req *r)
{
	char *text;

	pthread_mutex_lock(&last.lock);
	text = xstrdup(last.text != NULL ? last.text : "");
	pthread_mutex_unlock(&last.lock);
	return respond_text(conn, r, MHD_HTTP_OK, "text/plain", text);
}

/* ------------------------------------------------------------------ */
/* Routing. */

struct route {
	const char	*method;
	enum route_kind	 kind;
	const char	*path;		/* ROUTE_TEST only */
	handler_fn	 fn;
};

static const struct route routes[] = {
	{ "GET",	ROUTE_OBS,	NULL,	obs_get },
	{ "HEAD",	ROUTE_OBS,	NULL,	obs_get },
	{ "PUT",	ROUTE_OBS,	NULL,	obs_put },
	{ "POST",	ROUTE_OBS,	NULL,	obs_post },
	{ "DELETE",	ROUTE_OBS,	NULL,	obs_delete },
	{ "GET",	ROUTE_COLL,	NULL,	coll_list },
	{ "HEAD",	ROUTE_COLL,	NULL,	coll_list },
	{ "GET",	ROUTE_TEST,	"/_test/stats",		test_stats },
	{ "POST",	ROUTE_TEST,	"/_test/reset-stats",	test_reset_stats },
	{ "POST",	ROUTE_TEST,	"/_test/fault",		test_fault },
	{ "POST",	ROUTE_TEST,	"/_test/clear-faults",	test_clear_faults },
	{ "GET",	ROUTE_TEST,	"/_test/last-headers",	test_last_headers },
};
#define NROUTES (sizeof routes / sizeof routes[0])

static int
route_path_is(const struct route *rt, const struct req *r)
{
	return rt->kind == r->kind &&
	    (rt->path == NULL || strcmp(rt->path, r->path) == 0);
}

static enum MHD_Result
dispatch(struct MHD_Connection *conn, struct req *r)
{
	struct buf allow = { NULL, 0, 0 };
	struct MHD_Response *resp;
	char *body;
	size_t i;

	for (i = 0; i < NROUTES; i++) {
		if (route_path_is(&routes[i], r) &&
		    strcmp(routes[i].method, r->method) == 0)
			return routes[i].fn(conn, r);
	}
	for (i = 0; i < NROUTES; i++) {
		if (route_path_is(&routes[i], r))
			buf_printf(&allow, "%s%s", allow.len ? ", " : "",
			    routes[i].method);
	}
	if (allow.len == 0)
		return respond_error(conn, r, MHD_HTTP_NOT_FOUND,
		    "no such resource: %s", r->path);
	body = xasprintf("method %s not allowed on %s\n", r->method, r->path);
	i = strlen(body);
	resp = response(body, i, "text/plain");
	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow.p);
	free(allow.p);
	return queue(conn, r, MHD_HTTP_METHOD_NOT_ALLOWED, resp, i);
}

/* A path component that can name a file: no '/', not hidden, no
 * control characters. */
static int
comp_ok(const char *s)
{
	if (*s == '\0' || *s == '.')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '/' || iscntrl((unsigned char)*s))
			return 0;
	}
	return 1;
}

static void
req_route(struct req *r)
{
	size_t n = strlen(conf.base);
	const char *rest, *slash;

	if (strncmp(r->path, "/_test/", 7) == 0) {
		r->kind = ROUTE_TEST;
		return;
	}
	if (strncmp(r->path, conf.base, n) != 0 || r->path[n] != '/')
		return;
	rest = r->path + n + 1;
	if ((slash = strchr(rest, '/')) == NULL) {
		r->coll = xstrdup(rest);
		r->kind = comp_ok(r->coll) ? ROUTE_COLL : ROUTE_NONE;
		return;
	}
	r->coll = xstrndup(rest, (size_t)(slash - rest));
	r->id = xstrdup(slash + 1);
	if (comp_ok(r->coll) && comp_ok(r->id))
		r->kind = ROUTE_OBS;
}

static struct req *
req_new(const char *url, const char *method)
{
	struct req *r;

	r = xcalloc(1, sizeof *r);
	r->start = now_us();
	r->method = xstrdup(method);
	r->path = xstrdup(url);
	req_route(r);
	return r;
}

static void
req_free(struct req *r)
{
	free(r->method);
	free(r->path);
	free(r->coll);
	free(r->id);
	free(r->body.p);
	free(r->client);
	free(r);
}

/* Credentials compare in constant time; the scheme ignores case. */
static int
cred_eq(const char *h, const char *want)
{
	size_t n, scheme;

	if (want == NULL)
		return 0;
	n = strlen(want);
	scheme = strcspn(want, " ");
	if (strlen(h) != n || strncasecmp(h, want, scheme) != 0)
		return 0;
	return CRYPTO_memcmp(h + scheme, want + scheme, n - scheme) == 0;
}

static int
auth_ok(struct MHD_Connection *conn)
{
	const char *h;

	if (conf.bearer == NULL && conf.basic == NULL)
		return 1;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	return h != NULL && (cred_eq(h, conf.bearer) || cred_eq(h, conf.basic));
}

/* The subject DN of a DER certificate (allocated), or NULL. */
static char *
cert_subject(const gnutls_datum_t *der)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { NULL, 0 };
	char *s = NULL;

	if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
		return NULL;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) ==
	    GNUTLS_E_SUCCESS &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == GNUTLS_E_SUCCESS)
		s = xstrndup((const char *)dn.data, dn.size);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return s;
}

/* With --client-ca: NULL when the client's certificate verifies against
 * it (its subject in r->client), else why not (allocated). */
static char *
client_cert_refusal(struct MHD_Connection *conn, struct req *r)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	gnutls_session_t s;
	gnutls_datum_t text = { NULL, 0 };
	unsigned int n = 0, status = 0;
	char *why;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return xstrdup("client certificate required: not a TLS connection");
	s = (gnutls_session_t)ci->tls_session;
	if ((peers = gnutls_certificate_get_peers(s, &n)) == NULL || n == 0)
		return xstrdup("client certificate required: anonymous access "
		    "is not permitted");
	if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS)
		return xstrdup("client certificate not trusted: cannot verify it");
	if (status == 0) {
		r->client = cert_subject(&peers[0]);
		return NULL;
	}
	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &text, 0) == GNUTLS_E_SUCCESS)
		why = xasprintf("client certificate not trusted: %.*s",
		    (int)text.size, (const char *)text.data);
	else
		why = xstrdup("client certificate not trusted");
	gnutls_free(text.data);
	chomp(why);
	return why;
}

static enum MHD_Result
respond_401(struct MHD_Connection *conn, struct req *r)
{
	static const char msg[] = "authentication required\n";
	struct MHD_Response *resp;

	resp = response(xstrdup(msg), sizeof msg - 1, "text/plain");
	if (resp != NULL && conf.bearer != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer");
	if (resp != NULL && conf.basic != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Basic realm=\"repo-server\"");
	return queue(conn, r, MHD_HTTP_UNAUTHORIZED, resp, sizeof msg - 1);
}

/* First call, headers only: faults, authentication, declared size. */
static enum MHD_Result
req_begin(struct MHD_Connection *conn, struct req *r)
{
	enum MHD_Result ret;
	const char *cl;
	char *why;

	if (r->kind == ROUTE_TEST)
		return MHD_YES;
	last_headers_save(conn);
	fault_take(r->method, &r->fault);
	if (r->fault.drop) {
		r->dropped = 1;
		stats_count(r->method, 0);
		return MHD_NO;
	}
	if (r->fault.status != 0)
		return MHD_YES;
	if (conf.client_ca != NULL &&
	    (why = client_cert_refusal(conn, r)) != NULL) {
		ret = respond_error(conn, r, MHD_HTTP_FORBIDDEN, "%s", why);
		free(why);
		return ret;
	}
	if (!auth_ok(conn))
		return respond_401(conn, r);
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > conf.max_body)
		return respond_error(conn, r, HTTP_TOO_LARGE,
		    "request body of %s bytes exceeds the limit of %zu", cl,
		    conf.max_body);
	return MHD_YES;
}

static void
req_append(struct req *r, const char *data, size_t n)
{
	r->in += n;
	if (r->too_large || r->fault.status != 0)
		return;
	if (r->body.len + n > conf.max_body) {
		r->too_large = 1;
		free(r->body.p);
		memset(&r->body, 0, sizeof r->body);
		return;
	}
	buf_add(&r->body, data, n);
}

/* Last call, body complete: injected status, size, then the route. */
static enum MHD_Result
req_finish(struct MHD_Connection *conn, struct req *r)
{
	struct MHD_Response *resp;
	char *body, ra[32];

	if (r->fault.delay_ms > 0)
		sleep_ms(r->fault.delay_ms);
	if (r->fault.status != 0) {
		body = xasprintf("injected fault: %d\n", r->fault.status);
		resp = response(body, strlen(body), "text/plain");
		snprintf(ra, sizeof ra, "%ld", r->fault.retry_after);
		if (resp != NULL && r->fault.retry_after >= 0)
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_RETRY_AFTER, ra);
		return queue(conn, r, r->fault.status, resp, strlen(body));
	}
	if (r->too_large)
		return respond_error(conn, r, HTTP_TOO_LARGE,
		    "request body exceeds the limit of %zu bytes",
		    conf.max_body);
	return dispatch(conn, r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **ptr)
{
	struct req *r = *ptr;

	(void)cls;
	(void)version;
	if (r == NULL) {
		*ptr = r = req_new(url, method);
		return req_begin(conn, r);
	}
	if (*upload_size != 0) {
		req_append(r, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return req_finish(conn, r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **ptr,
    enum MHD_RequestTerminationCode code)
{
	struct req *r = *ptr;
	char status[16], *p;

	(void)cls;
	(void)conn;
	if (r == NULL)
		return;
	if (r->dropped)
		snprintf(status, sizeof status, "drop");
	else if (r->status == 0 || code != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		snprintf(status, sizeof status, "%d/abort", r->status);
	else
		snprintf(status, sizeof status, "%d", r->status);
	for (p = r->path; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p))
			*p = '?';
	}
	fprintf(stderr, "%s %s %s in=%zu out=%zu %" PRId64 "us%s%s%s\n",
	    r->method, r->path, status, r->in, r->out, now_us() - r->start,
	    r->client != NULL ? " client=\"" : "",
	    r->client != NULL ? r->client : "", r->client != NULL ? "\"" : "");
	req_free(r);
	*ptr = NULL;
}

static void __attribute__((format(printf, 2, 0)))
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char *msg;

	(void)cls;
	msg = xvasprintf(fmt, ap);
	chomp(msg);
	fprintf(stderr, "repo-server: mhd: %s\n", msg);
	free(msg);
}

/* ------------------------------------------------------------------ */
/* Start-up. */

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: repo-server --listen ADDR:PORT --data DIR --xsd-dir DIR\n"
	    "           [--base PATH] [--token-file FILE] [--basic USER:PASS]\n"
	    "           [--port-file FILE] [--max-body BYTES] [--no-fsync]\n"
	    "           [--tls-cert FILE --tls-key FILE [--client-ca FILE]]\n");
	exit(status);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatalx(const char *fmt, ...)
{
	va_list ap;

	fputs("repo-server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *
read_token(const char *path)
{
	struct buf b = { NULL, 0, 0 };

	if (read_file(path, &b) == -1)
		fatalx("%s: %s", path, strerror(errno));
	if (b.p != NULL)
		b.p[strcspn(b.p, "\r\n")] = '\0';
	if (b.p == NULL || *b.p == '\0')
		fatalx("%s: empty token", path);
	return b.p;
}

static char *
basic_cred(const char *userpass)
{
	size_t n = strlen(userpass);
	unsigned char *enc;
	char *s;

	if (strchr(userpass, ':') == NULL || n > INT_MAX / 2)
		fatalx("--basic wants USER:PASS");
	enc = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock(enc, (const unsigned char *)userpass, (int)n);
	s = xasprintf("Basic %s", (char *)enc);
	free(enc);
	return s;
}

static size_t
parse_size(const char *arg)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || v == 0 ||
	    v > INT_MAX)
		fatalx("--max-body: bad size '%s' (1 to %d bytes)", arg,
		    INT_MAX);
	return (size_t)v;
}

static const struct option options[] = {
	{ "listen",	required_argument, NULL, 'l' },
	{ "data",	required_argument, NULL, 'd' },
	{ "xsd-dir",	required_argument, NULL, 'x' },
	{ "base",	required_argument, NULL, 'b' },
	{ "token-file",	required_argument, NULL, 't' },
	{ "basic",	required_argument, NULL, 'B' },
	{ "port-file",	required_argument, NULL, 'p' },
	{ "max-body",	required_argument, NULL, 'm' },
	{ "no-fsync",	no_argument,	   NULL, 'n' },
	{ "tls-cert",	required_argument, NULL, 'C' },
	{ "tls-key",	required_argument, NULL, 'K' },
	{ "client-ca",	required_argument, NULL, 'A' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, 'V' },
	{ NULL,		0,		   NULL, 0 }
};

static void
parse_option(int ch, const char *arg, const char **base)
{
	char *token;

	switch (ch) {
	case 'l':
		conf.listen = arg;
		break;
	case 'd':
		conf.data = arg;
		break;
	case 'x':
		conf.xsd_dir = arg;
		break;
	case 'b':
		*base = arg;
		break;
	case 't':
		token = read_token(arg);
		free(conf.bearer);
		conf.bearer = xasprintf("Bearer %s", token);
		free(token);
		break;
	case 'B':
		free(conf.basic);
		conf.basic = basic_cred(arg);
		break;
	case 'p':
		conf.port_file = arg;
		break;
	case 'm':
		conf.max_body = parse_size(arg);
		break;
	case 'n':
		conf.no_fsync = 1;
		break;
	case 'C':
		conf.tls_cert = arg;
		break;
	case 'K':
		conf.tls_key = arg;
		break;
	case 'A':
		conf.client_ca = arg;
		break;
	case 'h':
		usage(0);
	case 'V':
		printf("repo-server %s\n", PACKAGE_VERSION);
		exit(0);
	default:
		usage(2);
	}
}

static void
parse_args(int argc, char **argv)
{
	const char *base = "/torkeep/observations";
	size_t n;
	int ch;

	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1)
		parse_option(ch, optarg, &base);
	if (optind != argc || conf.listen == NULL || conf.data == NULL ||
	    conf.xsd_dir == NULL)
		usage(2);
	if ((conf.tls_cert == NULL) != (conf.tls_key == NULL) ||
	    (conf.client_ca != NULL && conf.tls_cert == NULL)) {
		fprintf(stderr, "repo-server: --tls-cert and --tls-key go "
		    "together; --client-ca needs both\n");
		usage(2);
	}
	conf.base = xstrdup(base);
	while ((n = strlen(conf.base)) > 0 && conf.base[n - 1] == '/')
		conf.base[n - 1] = '\0';
}

/* Resolve ADDR:PORT ("[v6]:PORT" too) into a socket address. */
static struct addrinfo *
listen_addr(const char *spec)
{
	struct addrinfo hints, *ai;
	const char *colon = strrchr(spec, ':');
	char *host;
	int rc;

	if (colon == NULL || colon == spec)
		fatalx("--listen: '%s' is not ADDR:PORT", spec);
	host = xstrndup(spec, (size_t)(colon - spec));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
		fatalx("--listen %s: %s", spec, gai_strerror(rc));
	free(host);
	return ai;
}

/* The contents of a PEM file, or exit. */
static char *
read_pem(const char *path)
{
	struct buf b = { NULL, 0, 0 };

	if (read_file(path, &b) == -1)
		fatalx("%s: %s", path, strerror(errno));
	if (b.p == NULL || strstr(b.p, "-----BEGIN ") == NULL)
		fatalx("%s: not a PEM file", path);
	return b.p;
}

static void
tls_load(void)
{
	if (conf.tls_cert == NULL)
		return;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		fatalx("this libmicrohttpd has no TLS support");
	conf.tls_cert_pem = read_pem(conf.tls_cert);
	conf.tls_key_pem = read_pem(conf.tls_key);
	if (conf.client_ca != NULL)
		conf.client_ca_pem = read_pem(conf.client_ca);
}

static void
tls_free(void)
{
	free(conf.tls_cert_pem);
	if (conf.tls_key_pem != NULL)
		explicit_bzero(conf.tls_key_pem, strlen(conf.tls_key_pem));
	free(conf.tls_key_pem);
	free(conf.client_ca_pem);
}

static struct MHD_Daemon *
http_start(const struct addrinfo *ai)
{
	struct MHD_OptionItem tls[4];
	unsigned int flags;
	size_t n = 0;

	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (conf.tls_cert_pem != NULL) {
		flags |= MHD_USE_TLS;
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
		    conf.tls_cert_pem };
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
		    conf.tls_key_pem };
	}
	if (conf.client_ca_pem != NULL)
		tls[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
		    conf.client_ca_pem };
	tls[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 120u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
}

/* Print the URL and write the port file (atomically). */
static void
announce(struct MHD_Daemon *d, const struct addrinfo *ai)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[NI_MAXHOST], port[NI_MAXSERV], *tmp;
	FILE *f;

	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	if (info == NULL || getsockname(info->listen_fd,
	    (struct sockaddr *)&ss, &len) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port,
	    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		fatalx("cannot find the listening port");
	printf(ai->ai_family == AF_INET6 ? "%s://[%s]:%s%s\n" :
	    "%s://%s:%s%s\n", conf.tls_cert != NULL ? "https" : "http", host,
	    port, conf.base);
	fflush(stdout);
	if (conf.port_file == NULL)
		return;
	tmp = xasprintf("%s.tmp", conf.port_file);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%s\n", port) < 0 ||
	    fclose(f) == EOF || rename(tmp, conf.port_file) == -1)
		fatalx("%s: %s", conf.port_file, strerror(errno));
	free(tmp);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct addrinfo *ai;
	sigset_t set;
	int sig;

	parse_args(argc, argv);
	ai = listen_addr(conf.listen);
	tls_load();
	xmlInitParser();
	if (schemas_init(conf.xsd_dir) == -1 || store_init() == -1)
		exit(1);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((d = http_start(ai)) == NULL)
		fatalx("cannot listen on %s", conf.listen);
	announce(d, ai);
	freeaddrinfo(ai);
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "repo-server: %s, stopping\n", strsignal(sig));
	MHD_stop_daemon(d);
	store_fini();
	schemas_fini();
	free(last.text);
	free(conf.base);
	free(conf.bearer);
	free(conf.basic);
	tls_free();
	xmlCleanupParser();
	return 0;
}
