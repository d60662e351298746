/*
 * caom_desc.h - field tables describing every struct of caom.h (internal to
 * caom.c, caom_xml.c and checksum.c).
 *
 * One table per XSD type lists its fields in xs:sequence order with the
 * element name, the kind of value and where it lives in the C struct. The
 * XML writer and reader walk the tables in sequence order; the checksum walks
 * them sorted by name (the Java field names equal the element names, so the
 * sort is the Java one); caom.c frees through them.
 */
#ifndef CAOM2INGEST_CAOM_DESC_H
#define CAOM2INGEST_CAOM_DESC_H

#include <stddef.h>

enum caom_ftype {
	CAOM_F_STRING,		/* char *, NULL absent */
	CAOM_F_DOUBLE,		/* double (+ has_ flag) */
	CAOM_F_INT32,		/* int (+ has_ flag) */
	CAOM_F_INT64,		/* int64_t (+ has_ flag) */
	CAOM_F_BOOL,		/* int 0/1 (+ has_ flag) */
	CAOM_F_DATE,		/* int64_t ms (+ has_ flag) */
	CAOM_F_SET,		/* struct caom_strlist: <name><item>..</item></name> */
	CAOM_F_OBJ,		/* pointer to a struct of desc, NULL absent */
	CAOM_F_INLINE,		/* struct of desc embedded (required) */
	CAOM_F_LIST,		/* array of desc structs, count at aux */
	CAOM_F_CHILDREN		/* array of pointers to child entities, count at aux */
};

#define CAOM_F_REQUIRED	0x01	/* the reader insists on it */
#define CAOM_F_ALWAYS	0x02	/* CHILDREN: container written even when empty */
#define CAOM_F_READONLY	0x04	/* accepted by the reader only (2.3 spelling) */
#define CAOM_F_DERIVED	0x08	/* only in a DerivedObservation */

#define CAOM_NOAUX	((size_t)-1)
#define CAOM_DESC_MAX	24

struct caom_desc;

struct caom_field {
	const char		*name;		/* element name and checksum sort key */
	enum caom_ftype		 type;
	size_t			 off;
	size_t			 aux;		/* has_ flag or count offset, or CAOM_NOAUX */
	const struct caom_desc	*desc;		/* OBJ, INLINE, LIST, CHILDREN */
	const char		*item;		/* SET/LIST/CHILDREN item element; OBJ choice element */
	const char		*xsitype;	/* OBJ alternative chosen by xsi:type */
	const char *const	*order;		/* SET ranking, NULL: lexical */
	int			 flags;
};

struct caom_desc {
	const char		*name;		/* XSD type name, for messages */
	size_t			 size;
	int			 entity;	/* starts with struct caom_entity */
	const struct caom_field	*fields;	/* sequence order, ends with name NULL */
	const struct caom_field	*sorted[CAOM_DESC_MAX];	/* by name, see caom_desc_init */
	size_t			 nsorted;
};

extern struct caom_desc caom_desc_observation;
extern struct caom_desc caom_desc_plane;
extern struct caom_desc caom_desc_artifact;
extern struct caom_desc caom_desc_part;
extern struct caom_desc caom_desc_chunk;

/* Sort every table for the checksum (once; thread-safe). */
void caom_desc_init(void);
/* Free what obj (a struct of desc d) owns, not obj itself. */
void caom_desc_clear(const struct caom_desc *d, void *obj);
/* Read a pointer stored at off in obj (alias-safe). */
void *caom_desc_getptr(const void *obj, size_t off);
/* Store a pointer at off in obj (alias-safe). */
void caom_desc_setptr(void *obj, size_t off, void *p);
/* The count stored at aux in obj. */
size_t caom_desc_count(const void *obj, size_t aux);
/* True when the optional scalar f of obj is set (always for required ones). */
int caom_desc_isset(const struct caom_field *f, const void *obj);
/* Set string, set item or scalar f of obj from text (XML lexical rules, T/F too); 0 or -1. */
int caom_desc_parse(const struct caom_field *f, const char *text, void *obj);
/* "double", "integer", ... for messages. */
const char *caom_desc_type_name(enum caom_ftype t);

#endif
