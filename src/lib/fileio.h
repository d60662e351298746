/*
 * fileio.h - reading whole files, secret files and file times, once for
 * every module (blueprints, header dumps, CAOM-2 documents, configuration;
 * tokens and passwords).
 *
 * Secret files (a bearer token, a webhook token, a broker password) follow
 * one policy: the file must be a regular file that neither its group nor
 * anyone else may read (as ssh treats private keys; systemd's
 * LoadCredential= files are 0400), it holds one line, white space around it
 * is trimmed, it is opened O_CLOEXEC, and every buffer that held it is
 * wiped. Messages name the file, never its contents.
 */
#ifndef CAOM2INGEST_FILEIO_H
#define CAOM2INGEST_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FILEIO_SECRET_MAX	8192	/* bytes in a secret file */

/*
 * Hidden: never exported from the binaries. cfitsio's own file driver has a
 * public file_read (and file_open, file_close...): an executable that
 * defines file_read and links libcfitsio exports it, and cfitsio's calls
 * then land here (a NULL path: every FITS file unreadable). t/layers.sh
 * checks that no binary exports a function of ours.
 */
#pragma GCC visibility push(hidden)

/* A whole file into *buf (NUL-terminated; malloc'ed) and *len; 0, or -1 with
 * *cause ("PATH: reason"; "PATH: not a regular file" for a directory, a FIFO...). */
int file_read(const char *path, char **buf, size_t *len, char **cause);
/* The one line of a secret file (see above) into *out (malloc'ed; free with
 * file_secret_free); 0, or -1 with *cause ("WHAT PATH: reason"). what names the
 * secret in messages ("token file", "password file"). */
int file_secret(const char *path, const char *what, char **out, char **cause);
/* Wipe and free a secret; NULL is accepted. */
void file_secret_free(char *secret);
/* A stat's modification time in nanoseconds since the epoch. */
int64_t file_mtime_ns(const struct stat *st);

#pragma GCC visibility pop

#endif
