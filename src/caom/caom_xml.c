/*
 * caom_xml.c - CAOM-2 XML reader (2.3, 2.4), writer (2.4), schema
 * validation and document verification (see caom_xml.h).
 *
 * Both directions walk the field tables of caom_desc.h; the writer appends to
 * a growing buffer, the reader walks a libxml2 tree.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlversion.h>

#include "caom/caom.h"
#include "caom/caom_desc.h"
#include "caom/caom_xml.h"
#include "caom/checksum.h"
#include "caom/numfmt.h"
#include "lib/fileio.h"
#include "lib/msgbuf.h"
#include "lib/xmalloc.h"

#define XML_XSI_NS	"http://www.w3.org/2001/XMLSchema-instance"
#define XML_MAX_ERRORS	20

#if LIBXML_VERSION >= 21200
#define XML_CONST_ERROR const
#else
#define XML_CONST_ERROR
#endif

/* ==== writer ==== */

struct xml_out {
	char		*buf;
	size_t		 len;
	size_t		 cap;
	int		 derived;
};

static void
xml_reserve(struct xml_out *o, size_t n)
{
	if (o->len + n + 1 <= o->cap)
		return;
	o->cap = (o->len + n + 1) * 2;
	o->buf = xreallocarray(o->buf, o->cap, 1);
}

static void
xml_put(struct xml_out *o, const char *s, size_t n)
{
	xml_reserve(o, n);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
xml_puts(struct xml_out *o, const char *s)
{
	xml_put(o, s, strlen(s));
}

static void
xml_indent(struct xml_out *o, int depth)
{
	xml_reserve(o, (size_t)depth * 2);
	memset(o->buf + o->len, ' ', (size_t)depth * 2);
	o->len += (size_t)depth * 2;
}

/* Length of the valid XML character encoded in UTF-8 at s, or 0. */
static size_t
xml_utf8_char(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' || s[0] == '\r';
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff || cp > 0x10ffff)
		return 0;
	return n;
}

/* The entity for an ASCII character that needs one, or NULL. */
static const char *
xml_entity(unsigned char c, int attr)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\r':
		return "&#13;";		/* a raw CR would read back as LF */
	case '\n':
		return attr ? "&#10;" : NULL;	/* attribute values are normalized */
	case '\t':
		return attr ? "&#9;" : NULL;
	default:
		return NULL;
	}
}

/* Append s escaped for text (attr: an attribute value); invalid bytes become U+FFFD. */
static void
xml_escape(struct xml_out *o, const char *s, int attr)
{
	const unsigned char *p = (const unsigned char *)s, *run;
	const char *ent;
	size_t n;

	while (*p != '\0') {
		for (run = p; *p >= 0x20 && *p < 0x7f && *p != '&' && *p != '<' && *p != '>' &&
		    *p != '"'; p++)
			;
		xml_put(o, (const char *)run, (size_t)(p - run));
		if (*p == '\0')
			break;
		if ((ent = xml_entity(*p, attr)) != NULL) {
			xml_puts(o, ent);
			p++;
		} else if ((n = xml_utf8_char(p)) == 0) {
			xml_puts(o, "\xef\xbf\xbd");
			p++;
		} else {
			xml_put(o, (const char *)p, n);
			p += n;
		}
	}
}

/* Start a line "<caom2:name" (no closing bracket). */
static void
xml_tag_start(struct xml_out *o, int depth, const char *name)
{
	xml_indent(o, depth);
	xml_puts(o, "<caom2:");
	xml_puts(o, name);
}

static void
xml_open(struct xml_out *o, int depth, const char *name)
{
	xml_tag_start(o, depth, name);
	xml_puts(o, ">\n");
}

static void
xml_close(struct xml_out *o, int depth, const char *name)
{
	xml_indent(o, depth);
	xml_puts(o, "</caom2:");
	xml_puts(o, name);
	xml_puts(o, ">\n");
}

static void
xml_empty(struct xml_out *o, int depth, const char *name)
{
	xml_tag_start(o, depth, name);
	xml_puts(o, "/>\n");
}

static void
xml_leaf(struct xml_out *o, int depth, const char *name, const char *text)
{
	xml_tag_start(o, depth, name);
	xml_puts(o, ">");
	xml_escape(o, text, 0);
	xml_puts(o, "</caom2:");
	xml_puts(o, name);
	xml_puts(o, ">\n");
}

/* Text of a set scalar field at p into buf. */
static void
xml_scalar_text(const struct caom_field *f, const void *p, char buf[40])
{
	switch (f->type) {
	case CAOM_F_DOUBLE:
		numfmt_double(*(const double *)p, buf);
		break;
	case CAOM_F_INT32:
		snprintf(buf, 40, "%d", *(const int *)p);
		break;
	case CAOM_F_INT64:
		snprintf(buf, 40, "%" PRId64, *(const int64_t *)p);
		break;
	case CAOM_F_BOOL:
		snprintf(buf, 40, "%s", *(const int *)p ? "true" : "false");
		break;
	case CAOM_F_DATE:
		caom_date_format(*(const int64_t *)p, buf);
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

static void xml_write_value(struct xml_out *, const struct caom_desc *, const void *, int);
static void xml_write_entity(struct xml_out *, const struct caom_desc *, const void *,
    const char *, int);

static void
xml_write_set(struct xml_out *o, const struct caom_field *f, const void *obj, int depth)
{
	const struct caom_strlist *l = (const void *)((const char *)obj + f->off);
	size_t i;

	if (l->n == 0 || ((f->flags & CAOM_F_DERIVED) && !o->derived))
		return;
	xml_open(o, depth, f->name);
	for (i = 0; i < l->n; i++)
		xml_leaf(o, depth + 1, f->item, l->v[i]);
	xml_close(o, depth, f->name);
}

static void
xml_write_obj(struct xml_out *o, const struct caom_field *f, const void *p, int depth)
{
	if (f->xsitype != NULL) {
		xml_tag_start(o, depth, f->name);
		xml_puts(o, " xsi:type=\"caom2:");
		xml_puts(o, f->xsitype);
		xml_puts(o, "\">\n");
	} else
		xml_open(o, depth, f->name);
	if (f->item != NULL) {
		xml_open(o, depth + 1, f->item);
		xml_write_value(o, f->desc, p, depth + 2);
		xml_close(o, depth + 1, f->item);
	} else
		xml_write_value(o, f->desc, p, depth + 1);
	xml_close(o, depth, f->name);
}

static void
xml_write_array(struct xml_out *o, const struct caom_field *f, const void *obj, int depth)
{
	const char *arr = caom_desc_getptr(obj, f->off);
	size_t i, n = caom_desc_count(obj, f->aux);

	if (n == 0) {
		if (f->type == CAOM_F_LIST || (f->flags & CAOM_F_ALWAYS))
			xml_empty(o, depth, f->name);
		return;
	}
	xml_open(o, depth, f->name);
	for (i = 0; i < n; i++) {
		if (f->type == CAOM_F_CHILDREN) {
			xml_write_entity(o, f->desc, caom_desc_getptr(arr, i * sizeof(void *)),
			    f->item, depth + 1);
			continue;
		}
		xml_open(o, depth + 1, f->item);
		xml_write_value(o, f->desc, arr + i * f->desc->size, depth + 2);
		xml_close(o, depth + 1, f->item);
	}
	xml_close(o, depth, f->name);
}

static void
xml_write_field(struct xml_out *o, const struct caom_field *f, const void *obj, int depth)
{
	const char *p = (const char *)obj + f->off;
	char buf[40];

	switch (f->type) {
	case CAOM_F_STRING:
		if ((p = caom_desc_getptr(obj, f->off)) != NULL)
			xml_leaf(o, depth, f->name, p);
		break;
	case CAOM_F_SET:
		xml_write_set(o, f, obj, depth);
		break;
	case CAOM_F_OBJ:
		if ((p = caom_desc_getptr(obj, f->off)) != NULL)
			xml_write_obj(o, f, p, depth);
		break;
	case CAOM_F_INLINE:
		xml_write_obj(o, f, p, depth);
		break;
	case CAOM_F_LIST:
	case CAOM_F_CHILDREN:
		xml_write_array(o, f, obj, depth);
		break;
	default:
		if (!caom_desc_isset(f, obj))
			break;
		xml_scalar_text(f, p, buf);
		xml_leaf(o, depth, f->name, buf);
		break;
	}
}

static void
xml_write_value(struct xml_out *o, const struct caom_desc *d, const void *obj, int depth)
{
	const struct caom_field *f;

	for (f = d->fields; f->name != NULL; f++) {
		if (!(f->flags & CAOM_F_READONLY))
			xml_write_field(o, f, obj, depth);
	}
}

static void
xml_attr(struct xml_out *o, const char *name, const char *value)
{
	xml_puts(o, " caom2:");
	xml_puts(o, name);
	xml_puts(o, "=\"");
	xml_escape(o, value, 1);
	xml_puts(o, "\"");
}

static void
xml_entity_attrs(struct xml_out *o, const struct caom_entity *e)
{
	char buf[40];

	caom_uuid_format(e->id, buf);
	xml_attr(o, "id", buf);
	if (e->has_last_modified) {
		caom_date_format(e->last_modified, buf);
		xml_attr(o, "lastModified", buf);
	}
	if (e->has_max_last_modified) {
		caom_date_format(e->max_last_modified, buf);
		xml_attr(o, "maxLastModified", buf);
	}
	if (e->has_meta_checksum) {
		checksum_format(e->meta_checksum, buf);
		xml_attr(o, "metaChecksum", buf);
	}
	if (e->has_acc_meta_checksum) {
		checksum_format(e->acc_meta_checksum, buf);
		xml_attr(o, "accMetaChecksum", buf);
	}
	if (e->meta_producer != NULL)
		xml_attr(o, "metaProducer", e->meta_producer);
}

static void
xml_write_entity(struct xml_out *o, const struct caom_desc *d, const void *obj,
    const char *name, int depth)
{
	xml_tag_start(o, depth, name);
	xml_entity_attrs(o, obj);
	xml_puts(o, ">\n");
	xml_write_value(o, d, obj, depth + 1);
	xml_close(o, depth, name);
}

char *
caom_xml_write(const struct caom_observation *obs, size_t *len)
{
	struct xml_out o;

	memset(&o, 0, sizeof o);
	o.derived = obs->kind == CAOM_OBS_DERIVED;
	xml_reserve(&o, 4096);
	xml_puts(&o, "<?xml version='1.0' encoding='UTF-8'?>\n");
	xml_puts(&o, "<caom2:Observation xmlns:caom2=\"" CAOM_XML_NS24 "\" xmlns:xsi=\""
	    XML_XSI_NS "\" xsi:type=\"caom2:");
	xml_puts(&o, o.derived ? "DerivedObservation\"" : "SimpleObservation\"");
	xml_entity_attrs(&o, &obs->ent);
	xml_puts(&o, ">\n");
	xml_write_value(&o, &caom_desc_observation, obs, 1);
	xml_puts(&o, "</caom2:Observation>\n");
	if (len != NULL)
		*len = o.len;
	return o.buf;
}

int
caom_xml_write_fp(const struct caom_observation *obs, FILE *fp, char **cause)
{
	size_t len;
	char *buf;
	int rc = 0;

	buf = caom_xml_write(obs, &len);
	if (fwrite(buf, 1, len, fp) != len || fflush(fp) != 0) {
		*cause = xasprintf("write: %s", strerror(errno));
		rc = -1;
	}
	free(buf);
	return rc;
}

/* ==== parsing ==== */

/* The message of a libxml2 error without its trailing newline. */
static char *
xml_error_text(const char *name, const xmlError *err)
{
	size_t n;
	char *s;

	if (err == NULL || err->message == NULL)
		return xasprintf("%s: not a well-formed XML document", name);
	s = xasprintf("%s:%d: %s", name, err->line, err->message);
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

/* Line of the document type declaration (the line before the root when unknown). */
static long
xml_dtd_line(xmlDocPtr doc)
{
	xmlNodePtr n;

	for (n = doc->children; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE)
			return xmlGetLineNo(n) > 1 ? xmlGetLineNo(n) - 1 : 1;
	}
	return 1;
}

/* Parse an XML document from memory; NULL with *cause on error. */
static xmlDocPtr
xml_parse(const char *name, const char *buf, size_t len, char **cause)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	    XML_PARSE_BIG_LINES;

	if (len > INT_MAX) {
		*cause = xasprintf("%s: document too large", name);
		return NULL;
	}
	if ((ctxt = xmlNewParserCtxt()) == NULL)
		abort();
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, name, NULL, opts);
	if (doc == NULL || !ctxt->wellFormed) {
		*cause = xml_error_text(name, xmlCtxtGetLastError(ctxt));
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (doc->intSubset != NULL || doc->extSubset != NULL) {
		*cause = xasprintf("%s:%ld: a DTD is not allowed in a CAOM document", name,
		    xml_dtd_line(doc));
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

/* CAOM minor version (3, 4, 5) of the root element's namespace, or -1. */
static int
xml_doc_version(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	const char *href;

	if (root == NULL || root->ns == NULL)
		return -1;
	href = (const char *)root->ns->href;
	if (strcmp(href, CAOM_XML_NS23) == 0)
		return 3;
	if (strcmp(href, CAOM_XML_NS24) == 0)
		return 4;
	if (strcmp(href, CAOM_XML_NS25) == 0)
		return 5;
	return -1;
}

/* ==== reader ==== */

struct xml_rd {
	const char	*name;		/* file name for messages */
	const xmlChar	*ns;		/* the document's CAOM namespace */
	int		 derived;
	char		*cause;
};

/* The namespace prefix of node with its colon ("caom2:"), or "". */
static const char *
xml_rd_prefix(xmlNodePtr node, char *buf, size_t size)
{
	if (node->ns == NULL || node->ns->prefix == NULL)
		return "";
	snprintf(buf, size, "%s:", (const char *)node->ns->prefix);
	return buf;
}

static int __attribute__((format(printf, 4, 0)))
xml_rd_verror(struct xml_rd *rd, xmlNodePtr node, long line, const char *fmt, va_list ap)
{
	char *msg, pfx[64];

	if (rd->cause != NULL)
		return -1;
	msg = xvasprintf(fmt, ap);
	rd->cause = xasprintf("%s:%ld: <%s%s>: %s", rd->name, line,
	    xml_rd_prefix(node, pfx, sizeof pfx), (const char *)node->name, msg);
	free(msg);
	return -1;
}

/* Record the first error, at element node; returns -1. */
static int __attribute__((format(printf, 3, 4)))
xml_rd_error(struct xml_rd *rd, xmlNodePtr node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xml_rd_verror(rd, node, xmlGetLineNo(node), fmt, ap);
	va_end(ap);
	return -1;
}

/* Record the first error about element node found at another line. */
static int __attribute__((format(printf, 4, 5)))
xml_rd_error_at(struct xml_rd *rd, xmlNodePtr node, long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xml_rd_verror(rd, node, line, fmt, ap);
	va_end(ap);
	return -1;
}

/* Report non-blank text n inside parent, at the line where the text starts. */
static int
xml_rd_stray(struct xml_rd *rd, xmlNodePtr parent, xmlNodePtr n)
{
	const char *s = (const char *)n->content, *p;
	long line = xmlGetLineNo(n), lead = 0;
	size_t n40;

	/* libxml2 gives a text node the line where it ends. */
	for (p = s; p != NULL && *p != '\0'; p++)
		line -= *p == '\n';
	for (; s != NULL && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'); s++)
		lead += *s == '\n';
	if (line + lead < 1)
		line = xmlGetLineNo(parent) - lead;
	if (s == NULL)
		s = "";
	n40 = strcspn(s, "\r\n");
	return xml_rd_error_at(rd, parent, line + lead, "unexpected text \"%.*s\"",
	    (int)(n40 < 40 ? n40 : 40), s);
}

/* 1 to skip node (blank text, comment), 0 for an element, -1 for stray text. */
static int
xml_rd_skip(struct xml_rd *rd, xmlNodePtr parent, xmlNodePtr n)
{
	if (n->type == XML_ELEMENT_NODE)
		return 0;
	if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
		if (xmlIsBlankNode(n))
			return 1;
		return xml_rd_stray(rd, parent, n);
	}
	if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE)
		return 1;
	return xml_rd_error(rd, parent, "unexpected content");
}

/* An element child must be in the document's CAOM namespace. */
static int
xml_rd_check_ns(struct xml_rd *rd, xmlNodePtr n)
{
	if (n->ns == NULL || !xmlStrEqual(n->ns->href, rd->ns))
		return xml_rd_error(rd, n, "element not in the CAOM namespace");
	return 0;
}

/* Text content of a leaf element (owned by the caller); NULL after an error. */
static xmlChar *
xml_rd_text(struct xml_rd *rd, xmlNodePtr node)
{
	xmlNodePtr n;
	xmlChar *s;

	for (n = node->children; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			xml_rd_error(rd, n, "unexpected element in <%s>",
			    (const char *)node->name);
			return NULL;
		}
		if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE &&
		    n->type != XML_COMMENT_NODE && n->type != XML_PI_NODE) {
			xml_rd_error(rd, node, "unexpected content");
			return NULL;
		}
	}
	if ((s = xmlNodeGetContent(node)) == NULL)
		s = xmlStrdup((const xmlChar *)"");
	return s;
}

static int
xml_rd_scalar(struct xml_rd *rd, const struct caom_field *f, xmlNodePtr node, void *obj)
{
	xmlChar *t;
	int rc;

	if ((t = xml_rd_text(rd, node)) == NULL)
		return -1;
	if ((rc = caom_desc_parse(f, (const char *)t, obj)) == -1)
		xml_rd_error(rd, node, "bad %s \"%.40s\"", caom_desc_type_name(f->type),
		    (const char *)t);
	xmlFree(t);
	return rc;
}

/* Add the text of node to the set of field f. */
static int
xml_rd_set_item(struct xml_rd *rd, const struct caom_field *f, xmlNodePtr node, void *obj)
{
	struct caom_strlist *l = (void *)((char *)obj + f->off);
	xmlChar *t;

	if ((t = xml_rd_text(rd, node)) == NULL)
		return -1;
	caom_strlist_add_ranked(l, (const char *)t, f->order);
	xmlFree(t);
	return 0;
}

/* The next element child of a container from n on, checked to be named item. */
static int
xml_rd_item(struct xml_rd *rd, xmlNodePtr parent, xmlNodePtr *np, const char *item)
{
	xmlNodePtr n;
	int rc;

	for (n = *np; n != NULL; n = n->next) {
		if ((rc = xml_rd_skip(rd, parent, n)) == -1)
			return -1;
		if (rc == 0)
			break;
	}
	if ((*np = n) == NULL)
		return 0;
	if (xml_rd_check_ns(rd, n) == -1)
		return -1;
	if (!xmlStrEqual(n->name, (const xmlChar *)item))
		return xml_rd_error(rd, n, "unexpected element in <%s>, expected <%s>",
		    (const char *)parent->name, item);
	return 1;
}

static int
xml_rd_set(struct xml_rd *rd, const struct caom_field *f, xmlNodePtr node, void *obj)
{
	xmlNodePtr n;
	int rc;

	if ((f->flags & CAOM_F_DERIVED) && !rd->derived)
		return xml_rd_error(rd, node, "only allowed in a DerivedObservation");
	if (f->item == NULL)
		return xml_rd_set_item(rd, f, node, obj);
	for (n = node->children; (rc = xml_rd_item(rd, node, &n, f->item)) == 1; n = n->next) {
		if (xml_rd_set_item(rd, f, n, obj) == -1)
			return -1;
	}
	return rc;
}

/* Number of item elements in a container (checking each). */
static int
xml_rd_count(struct xml_rd *rd, xmlNodePtr node, const char *item, size_t *count)
{
	xmlNodePtr n;
	int rc;

	*count = 0;
	for (n = node->children; (rc = xml_rd_item(rd, node, &n, item)) == 1; n = n->next)
		(*count)++;
	return rc;
}

static int xml_rd_object(struct xml_rd *, xmlNodePtr, const struct caom_desc *, void *);
static int xml_rd_entity(struct xml_rd *, xmlNodePtr, const struct caom_desc *, void *);

static int
xml_rd_array(struct xml_rd *rd, const struct caom_field *f, xmlNodePtr node, void *obj)
{
	size_t i = 0, n, esize;
	xmlNodePtr c;
	char *arr;
	void *kid;

	if (xml_rd_count(rd, node, f->item, &n) == -1)
		return -1;
	esize = f->type == CAOM_F_LIST ? f->desc->size : sizeof(void *);
	arr = n == 0 ? NULL : xcalloc(n, esize);
	caom_desc_setptr(obj, f->off, arr);
	*(size_t *)(void *)((char *)obj + f->aux) = n;
	for (c = node->children; xml_rd_item(rd, node, &c, f->item) == 1; c = c->next, i++) {
		if (f->type == CAOM_F_LIST) {
			if (xml_rd_object(rd, c, f->desc, arr + i * esize) == -1)
				return -1;
			continue;
		}
		kid = xcalloc(1, f->desc->size);
		caom_desc_setptr(arr, i * esize, kid);
		if (xml_rd_entity(rd, c, f->desc, kid) == -1)
			return -1;
	}
	return 0;
}

/* The single element child of a choice wrapper, checked against f->item. */
static int
xml_rd_choice(struct xml_rd *rd, const struct caom_field *f, xmlNodePtr node, xmlNodePtr *out)
{
	xmlNodePtr n = node->children, next;

	if (xml_rd_item(rd, node, &n, f->item) != 1)
		return rd->cause != NULL ? -1 : xml_rd_error(rd, node, "empty choice");
	next = n->next;
	if (xml_rd_item(rd, node, &next, f->item) != 0)
		return rd->cause != NULL ? -1 : xml_rd_error(rd, node, "more than one choice");
	*out = n;
	return 0;
}

static int
xml_rd_obj(struct xml_rd *rd, const struct caom_field *f, xmlNodePtr node, void *obj)
{
	void *p;

	if (f->type == CAOM_F_INLINE)
		return xml_rd_object(rd, node, f->desc, (char *)obj + f->off);
	p = xcalloc(1, f->desc->size);
	caom_desc_setptr(obj, f->off, p);
	if (f->item != NULL && xml_rd_choice(rd, f, node, &node) == -1)
		return -1;
	return xml_rd_object(rd, node, f->desc, p);
}

static int
xml_rd_field(struct xml_rd *rd, const struct caom_field *f, xmlNodePtr node, void *obj)
{
	switch (f->type) {
	case CAOM_F_SET:
		return xml_rd_set(rd, f, node, obj);
	case CAOM_F_OBJ:
	case CAOM_F_INLINE:
		return xml_rd_obj(rd, f, node, obj);
	case CAOM_F_LIST:
	case CAOM_F_CHILDREN:
		return xml_rd_array(rd, f, node, obj);
	default:
		return xml_rd_scalar(rd, f, node, obj);
	}
}

/* Local part of the xsi:type of node (owned by the caller) or NULL. */
static char *
xml_rd_xsitype(xmlNodePtr node)
{
	xmlChar *t;
	const char *colon;
	char *s;

	if ((t = xmlGetNsProp(node, (const xmlChar *)"type", (const xmlChar *)XML_XSI_NS)) == NULL)
		return NULL;
	colon = strchr((const char *)t, ':');
	s = xstrdup(colon != NULL ? colon + 1 : (const char *)t);
	xmlFree(t);
	return s;
}

/* True when node is the alternative f (by xsi:type or by its inner element). */
static int
xml_rd_alt_match(const struct caom_field *f, xmlNodePtr node)
{
	xmlNodePtr n;
	char *t;
	int match;

	if (f->xsitype != NULL) {
		t = xml_rd_xsitype(node);
		match = t != NULL && strcmp(t, f->xsitype) == 0;
		free(t);
		return match;
	}
	for (n = node->children; n != NULL && n->type != XML_ELEMENT_NODE; n = n->next)
		;
	return n != NULL && xmlStrEqual(n->name, (const xmlChar *)f->item);
}

/* The field of d for element node, or NULL. */
static const struct caom_field *
xml_rd_find(const struct caom_desc *d, xmlNodePtr node)
{
	const struct caom_field *f;

	for (f = d->fields; f->name != NULL; f++) {
		if (!xmlStrEqual(node->name, (const xmlChar *)f->name))
			continue;
		if (f->type != CAOM_F_OBJ || (f->xsitype == NULL && f->item == NULL))
			return f;
		if (xml_rd_alt_match(f, node))
			return f;
	}
	return NULL;
}

/* Report an element that matches no field of d (or none of its alternatives). */
static int
xml_rd_unexpected(struct xml_rd *rd, const struct caom_desc *d, xmlNodePtr n)
{
	const struct caom_field *f;
	char *t;

	for (f = d->fields; f->name != NULL; f++) {
		if (!xmlStrEqual(n->name, (const xmlChar *)f->name))
			continue;
		if (f->xsitype == NULL)
			return xml_rd_error(rd, n, "expected one of <circle>, <polygon>");
		t = xml_rd_xsitype(n);
		xml_rd_error(rd, n, "unknown xsi:type \"%.40s\" in %s", t != NULL ? t : "",
		    d->name);
		free(t);
		return -1;
	}
	return xml_rd_error(rd, n, "unexpected element in %s", d->name);
}

/* Mark f (and its alternatives) seen; -1 when already seen. */
static int
xml_rd_seen(const struct caom_desc *d, const struct caom_field *f, uint32_t *seen)
{
	const struct caom_field *g;
	uint32_t bit;

	for (g = d->fields; g->name != NULL; g++) {
		bit = UINT32_C(1) << (g - d->fields);
		if (strcmp(g->name, f->name) != 0)
			continue;
		if (*seen & bit)
			return -1;
		if (g == f)
			*seen |= bit;
	}
	return 0;
}

static int
xml_rd_required(struct xml_rd *rd, xmlNodePtr node, const struct caom_desc *d, uint32_t seen)
{
	const struct caom_field *f;

	char pfx[64];

	for (f = d->fields; f->name != NULL; f++) {
		if ((f->flags & CAOM_F_REQUIRED) && !(seen & (UINT32_C(1) << (f - d->fields))))
			return xml_rd_error(rd, node, "missing <%s%s>",
			    xml_rd_prefix(node, pfx, sizeof pfx), f->name);
	}
	return 0;
}

static int
xml_rd_object(struct xml_rd *rd, xmlNodePtr node, const struct caom_desc *d, void *obj)
{
	const struct caom_field *f;
	uint32_t seen = 0;
	xmlNodePtr n;
	int rc;

	for (n = node->children; n != NULL; n = n->next) {
		if ((rc = xml_rd_skip(rd, node, n)) != 0) {
			if (rc == -1)
				return -1;
			continue;
		}
		if (xml_rd_check_ns(rd, n) == -1)
			return -1;
		if ((f = xml_rd_find(d, n)) == NULL)
			return xml_rd_unexpected(rd, d, n);
		if (xml_rd_seen(d, f, &seen) == -1)
			return xml_rd_error(rd, n, "duplicate element");
		if (xml_rd_field(rd, f, n, obj) == -1)
			return -1;
	}
	return xml_rd_required(rd, node, d, seen);
}

/* The value of attribute name (qualified, or else unqualified); owned by the caller. */
static xmlChar *
xml_rd_attr(struct xml_rd *rd, xmlNodePtr node, const char *name)
{
	xmlChar *v;

	if ((v = xmlGetNsProp(node, (const xmlChar *)name, rd->ns)) == NULL)
		v = xmlGetNoNsProp(node, (const xmlChar *)name);
	return v;
}

/* Parse one optional entity attribute with parse(); *has set when present. */
static int
xml_rd_entity_attr(struct xml_rd *rd, xmlNodePtr node, const char *name,
    int (*parse)(const char *, void *), void *v, int *has)
{
	xmlChar *t;
	int rc = 0;

	if ((t = xml_rd_attr(rd, node, name)) == NULL)
		return 0;
	if (parse((const char *)t, v) == -1)
		rc = xml_rd_error(rd, node, "bad %s \"%.40s\"", name, (const char *)t);
	else
		*has = 1;
	xmlFree(t);
	return rc;
}

static int
xml_parse_date_cb(const char *s, void *v)
{
	return caom_date_parse(s, v);
}

static int
xml_parse_md5_cb(const char *s, void *v)
{
	return checksum_parse(s, v);
}

static int
xml_parse_uuid_cb(const char *s, void *v)
{
	return caom_uuid_parse(s, v);
}

static int
xml_rd_entity_attrs(struct xml_rd *rd, xmlNodePtr node, struct caom_entity *e)
{
	xmlChar *t;
	int has_id = 0;

	if (xml_rd_entity_attr(rd, node, "id", xml_parse_uuid_cb, e->id, &has_id) == -1 ||
	    xml_rd_entity_attr(rd, node, "lastModified", xml_parse_date_cb, &e->last_modified,
	    &e->has_last_modified) == -1 ||
	    xml_rd_entity_attr(rd, node, "maxLastModified", xml_parse_date_cb,
	    &e->max_last_modified, &e->has_max_last_modified) == -1 ||
	    xml_rd_entity_attr(rd, node, "metaChecksum", xml_parse_md5_cb, e->meta_checksum,
	    &e->has_meta_checksum) == -1 ||
	    xml_rd_entity_attr(rd, node, "accMetaChecksum", xml_parse_md5_cb,
	    e->acc_meta_checksum, &e->has_acc_meta_checksum) == -1)
		return -1;
	if (!has_id)
		return xml_rd_error(rd, node, "missing attribute id");
	if ((t = xml_rd_attr(rd, node, "metaProducer")) != NULL) {
		e->meta_producer = xstrdup((const char *)t);
		xmlFree(t);
	}
	return 0;
}

static int
xml_rd_entity(struct xml_rd *rd, xmlNodePtr node, const struct caom_desc *d, void *obj)
{
	if (xml_rd_entity_attrs(rd, node, obj) == -1)
		return -1;
	return xml_rd_object(rd, node, d, obj);
}

/* The observation kind from the root's xsi:type; -1 when unknown. */
static int
xml_rd_kind(struct xml_rd *rd, xmlNodePtr root)
{
	char *t;
	int kind = -1;

	if ((t = xml_rd_xsitype(root)) == NULL)
		return xml_rd_error(rd, root, "missing xsi:type");
	if (strcmp(t, "SimpleObservation") == 0)
		kind = CAOM_OBS_SIMPLE;
	else if (strcmp(t, "DerivedObservation") == 0 || strcmp(t, "CompositeObservation") == 0)
		kind = CAOM_OBS_DERIVED;
	else
		xml_rd_error(rd, root, "unknown xsi:type \"%.40s\"", t);
	free(t);
	return kind;
}

/* Convert a parsed document into the model. */
static int
xml_rd_doc(const char *name, xmlDocPtr doc, struct caom_observation **out, char **cause)
{
	struct caom_observation *obs;
	struct xml_rd rd;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	int kind = -1, version = xml_doc_version(doc);

	memset(&rd, 0, sizeof rd);
	rd.name = name;
	if (root == NULL) {
		*cause = xasprintf("%s: no root element", name);
		return -1;
	}
	if (version < 3 || version > 4 || !xmlStrEqual(root->name, (const xmlChar *)"Observation"))
		xml_rd_error(&rd, root, "not a CAOM-2.3 or CAOM-2.4 Observation (namespace %s)",
		    root->ns != NULL ? (const char *)root->ns->href : "none");
	else {
		rd.ns = root->ns->href;
		kind = xml_rd_kind(&rd, root);
	}
	if (rd.cause != NULL) {
		*cause = rd.cause;
		return -1;
	}
	obs = xcalloc(1, sizeof *obs);
	obs->kind = (enum caom_obs_kind)kind;
	rd.derived = kind == CAOM_OBS_DERIVED;
	if (xml_rd_entity(&rd, root, &caom_desc_observation, obs) == -1) {
		caom_observation_free(obs);
		*cause = rd.cause;
		return -1;
	}
	*out = obs;
	return 0;
}

int
caom_xml_read_memory(const char *name, const char *buf, size_t len,
    struct caom_observation **out, char **cause)
{
	xmlDocPtr doc;
	int rc;

	if ((doc = xml_parse(name, buf, len, cause)) == NULL)
		return -1;
	rc = xml_rd_doc(name, doc, out, cause);
	xmlFreeDoc(doc);
	return rc;
}

int
caom_xml_read_file(const char *path, struct caom_observation **out, char **cause)
{
	size_t len;
	char *buf;
	int rc;

	if (fileio_read(path, &buf, &len, cause) == -1)
		return -1;
	rc = caom_xml_read_memory(path, buf, len, out, cause);
	free(buf);
	return rc;
}

/* ==== schema validation ==== */

struct xml_schema {
	char		*path;
	xmlSchemaPtr	 schema;
};

static struct xml_schema xml_schemas[8];
static size_t xml_nschemas;
static pthread_mutex_t xml_schema_lock = PTHREAD_MUTEX_INITIALIZER;

/* Errors gathered from libxml2 callbacks: the first XML_MAX_ERRORS, one a line. */
struct xml_errors {
	const char	*name;
	struct msgbuf	 lines;
};

static void
xml_errors_add(void *arg, XML_CONST_ERROR xmlError *err)
{
	struct xml_errors *e = arg;
	char *line;

	if (e->lines.n >= XML_MAX_ERRORS)
		return;
	line = xml_error_text(e->name, err);
	msgbuf_add(&e->lines, "%s", line);
	free(line);
}

/* The errors gathered (the caller frees them), or fallback when there are none. */
static char *
xml_errors_take(struct xml_errors *e, char *fallback)
{
	char *text = msgbuf_take(&e->lines);

	if (text == NULL)
		return fallback;
	free(fallback);
	return text;
}

static xmlSchemaPtr
xml_schema_load(const char *path, char **cause)
{
	struct xml_errors errs = { path, { NULL, 0, 0 } };
	xmlSchemaParserCtxtPtr pctx;
	xmlSchemaPtr schema = NULL;

	if (access(path, R_OK) == -1) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((pctx = xmlSchemaNewParserCtxt(path)) != NULL) {
		xmlSchemaSetParserStructuredErrors(pctx, xml_errors_add, &errs);
		schema = xmlSchemaParse(pctx);
		xmlSchemaFreeParserCtxt(pctx);
	}
	if (schema == NULL)
		*cause = xml_errors_take(&errs, xasprintf("%s: bad schema", path));
	else
		msgbuf_clear(&errs.lines);
	return schema;
}

/* The compiled schema at path, loaded once and cached. */
static xmlSchemaPtr
xml_schema_get(const char *path, char **cause)
{
	xmlSchemaPtr schema = NULL;
	size_t i;

	pthread_mutex_lock(&xml_schema_lock);
	for (i = 0; i < xml_nschemas; i++) {
		if (strcmp(xml_schemas[i].path, path) == 0)
			schema = xml_schemas[i].schema;
	}
	if (schema == NULL && (schema = xml_schema_load(path, cause)) != NULL &&
	    xml_nschemas < sizeof xml_schemas / sizeof xml_schemas[0]) {
		xml_schemas[xml_nschemas].path = xstrdup(path);
		xml_schemas[xml_nschemas++].schema = schema;
	}
	pthread_mutex_unlock(&xml_schema_lock);
	return schema;
}

void
caom_xml_init(void)
{
	xmlInitParser();
}

void
caom_xml_cleanup(void)
{
	size_t i;

	pthread_mutex_lock(&xml_schema_lock);
	for (i = 0; i < xml_nschemas; i++) {
		free(xml_schemas[i].path);
		xmlSchemaFree(xml_schemas[i].schema);
	}
	xml_nschemas = 0;
	pthread_mutex_unlock(&xml_schema_lock);
}

/* Validate a parsed document against the schema of its namespace. */
static int
xml_validate_doc(const char *name, xmlDocPtr doc, const char *xsd_dir, char **cause)
{
	struct xml_errors errs = { name, { NULL, 0, 0 } };
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlSchemaValidCtxtPtr vctx;
	xmlSchemaPtr schema;
	char *path;
	int version, rc;

	if ((version = xml_doc_version(doc)) == -1) {
		*cause = xasprintf("%s:%ld: root element not in a CAOM-2.3/2.4/2.5 namespace",
		    name, root != NULL ? xmlGetLineNo(root) : 1L);
		return -1;
	}
	path = xasprintf("%s/CAOM-2.%d.xsd", xsd_dir, version);
	schema = xml_schema_get(path, cause);
	free(path);
	if (schema == NULL)
		return -1;
	if ((vctx = xmlSchemaNewValidCtxt(schema)) == NULL)
		abort();
	xmlSchemaSetValidStructuredErrors(vctx, xml_errors_add, &errs);
	rc = xmlSchemaValidateDoc(vctx, doc);
	xmlSchemaFreeValidCtxt(vctx);
	if (rc == 0) {
		msgbuf_clear(&errs.lines);
		return 0;
	}
	*cause = xml_errors_take(&errs, xasprintf("%s: not valid", name));
	return -1;
}

int
caom_xml_validate_memory(const char *name, const char *buf, size_t len,
    const char *xsd_dir, char **cause)
{
	xmlDocPtr doc;
	int rc;

	if ((doc = xml_parse(name, buf, len, cause)) == NULL)
		return -1;
	rc = xml_validate_doc(name, doc, xsd_dir, cause);
	xmlFreeDoc(doc);
	return rc;
}

/* ==== verify ==== */

struct xml_verify {
	const char	*path;
	FILE		*report;
};

static void
xml_verify_report(const struct checksum_mismatch *m, void *arg)
{
	struct xml_verify *v = arg;

	fprintf(v->report, "%s: %s %s: %s expected %s computed %s\n", v->path, m->entity,
	    m->id, m->which, m->expected, m->computed);
}

/* Report cause (freed) on the report stream. */
static void
xml_verify_fail(FILE *report, char *cause)
{
	fprintf(report, "%s\n", cause);
	free(cause);
}

/* Schema, model and checksums of a parsed document; 0 or 1. */
static int
xml_verify_doc(const char *path, xmlDocPtr doc, const char *xsd_dir, FILE *report)
{
	struct xml_verify v = { path, report };
	struct caom_observation *obs;
	char *cause = NULL;
	int bad = 0;

	if (xsd_dir != NULL && xml_validate_doc(path, doc, xsd_dir, &cause) == -1) {
		xml_verify_fail(report, cause);
		bad = 1;
	}
	if (xml_rd_doc(path, doc, &obs, &cause) == -1) {
		xml_verify_fail(report, cause);
		return 1;
	}
	if (checksum_verify(obs, xml_verify_report, &v, NULL) != 0)
		bad = 1;
	caom_observation_free(obs);
	return bad;
}

int
caom_xml_verify_file(const char *path, const char *xsd_dir, FILE *report)
{
	xmlDocPtr doc;
	char *buf, *cause = NULL;
	size_t len;
	int rc;

	if (fileio_read(path, &buf, &len, &cause) == -1) {
		xml_verify_fail(report, cause);
		return 1;
	}
	doc = xml_parse(path, buf, len, &cause);
	free(buf);
	if (doc == NULL) {
		xml_verify_fail(report, cause);
		return 1;
	}
	rc = xml_verify_doc(path, doc, xsd_dir, report);
	xmlFreeDoc(doc);
	return rc;
}
