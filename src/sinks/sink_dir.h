/*
 * sink_dir.h - the directory sink: observations as XML files,
 * DIR/COLLECTION/OBSERVATION_ID.xml, replaced atomically (a temporary file
 * in the same directory, fsync, rename, fsync of the directory), so a crash
 * leaves either the old document or the new one, whole.
 *
 * Collection and observation IDs become path components: an ID that is
 * empty, ".", "..", or holds '/' or a NUL is refused.
 */
#ifndef CAOM2INGEST_SINK_DIR_H
#define CAOM2INGEST_SINK_DIR_H

#include <stddef.h>

/* The path of an observation's file (allocated), or NULL with *cause for an unsafe ID. */
char *sink_dir_path(const char *dir, const char *collection, const char *observation,
    char **cause);
/* Read the stored document: 0 with *buf and *len (allocated), 1 when absent, -1 with *cause. */
int sink_dir_read(const char *dir, const char *collection, const char *observation,
    char **buf, size_t *len, char **cause);
/* Replace the stored document atomically with buf; 0, or -1 with *cause. */
int sink_dir_write(const char *dir, const char *collection, const char *observation,
    const char *buf, size_t len, char **cause);
/* Replace DIR/COLLECTION/NAME, a file beside the observations (a preview),
 * atomically as sink_dir_write does; NAME is a plain file name. 0, or -1
 * with *cause. */
int sink_dir_write_file(const char *dir, const char *collection, const char *name,
    const void *buf, size_t len, char **cause);

#endif
