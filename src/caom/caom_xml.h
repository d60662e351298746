/*
 * caom_xml.h - CAOM-2 XML: read 2.3/2.4 documents into the model, write
 * CAOM-2.4, validate against the XSD of a document's namespace, and verify a
 * document (schema plus every checksum) for "caom2ingest verify".
 *
 * The writer follows the reference layout: <?xml version='1.0'
 * encoding='UTF-8'?>, prefix caom2, qualified attributes, 2-space indent,
 * xs:sequence order, dates yyyy-MM-ddTHH:mm:ss.SSS, doubles as the shortest
 * text that reads back exactly (numfmt.h: 1.0, 3.7e-07, as Python's repr). Reader
 * errors name the file, the line and the element.
 */
#ifndef CAOM2INGEST_CAOM_XML_H
#define CAOM2INGEST_CAOM_XML_H

#include <stddef.h>
#include <stdio.h>

struct caom_observation;

#define CAOM_XML_NS23	"http://www.opencadc.org/caom2/xml/v2.3"
#define CAOM_XML_NS24	"http://www.opencadc.org/caom2/xml/v2.4"
#define CAOM_XML_NS25	"http://www.opencadc.org/caom2/xml/v2.5"

/* Read a CAOM-2.3/2.4 document from path; 0, or -1 with *cause ("file:line: ..."). */
int caom_xml_read_file(const char *path, struct caom_observation **out, char **cause);
/* Read a document from memory; name is used in messages. 0 or -1 with *cause. */
int caom_xml_read_memory(const char *name, const char *buf, size_t len,
    struct caom_observation **out, char **cause);
/* The CAOM-2.4 text of obs in a new NUL-terminated buffer; its length in *len (may be NULL). */
char *caom_xml_write(const struct caom_observation *obs, size_t *len);
/* Write the CAOM-2.4 text of obs to fp; 0 or -1 with *cause. */
int caom_xml_write_fp(const struct caom_observation *obs, FILE *fp, char **cause);
/* Validate a document in memory against xsd_dir/CAOM-2.x.xsd chosen by its namespace;
 * name is used in messages ("name:line: ..."). 0, or -1 with *cause. */
int caom_xml_validate_memory(const char *name, const char *buf, size_t len,
    const char *xsd_dir, char **cause);
/* Check a document: schema (skipped when xsd_dir is NULL) and every checksum; report failures to report; 0 all good, 1 otherwise. */
int caom_xml_verify_file(const char *path, const char *xsd_dir, FILE *report);
/* Initialise libxml2: once, at program start, before any other thread (the
 * daemon's and the client's main call it, and so do the test, bench and fuzz
 * programs). libxml2 2.9 documents xmlInitParser as not reentrant, so it is
 * not left to a first parse that may run on any thread; a program that
 * skips it still works single-threaded (libxml2 initialises itself on its
 * first parse). */
void caom_xml_init(void);
/* Release the cached compiled schemas. */
void caom_xml_cleanup(void);

#endif
