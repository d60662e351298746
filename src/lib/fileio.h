/*
 * fileio.h - reading whole files, secret files and file times, once for
 * every module (blueprints, header dumps, CAOM-2 documents, configuration;
 * tokens, passwords and the S3 credentials).
 *
 * Files are opened O_CLOEXEC (nothing leaks into a child) and O_NONBLOCK
 * (a FIFO in the path is refused, not waited on: only regular files are
 * read).
 *
 * Secret files (a bearer token, a webhook token, a broker password, the S3
 * credentials) follow one policy: the file must be a regular file that
 * neither its group nor anyone else may access (mode 0600 or 0400, as ssh
 * treats private keys; systemd's LoadCredential= files are 0400), of at
 * most FILEIO_SECRET_MAX bytes, and every buffer that held it is wiped.
 * fileio_secret takes the one line of such a file, white space around it
 * trimmed. Messages are "WHAT PATH: reason"; they name the file, never
 * its contents.
 *
 * The names are fileio_*, never file_*: cfitsio exports file_read,
 * file_open... and a function of ours by such a name would take its calls
 * (t/layers.sh checks that no name of ours shadows a library's).
 */
#ifndef CAOM2INGEST_FILEIO_H
#define CAOM2INGEST_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define FILEIO_READ_MAX		(256UL << 20)	/* bytes in a file for fileio_read */
#define FILEIO_SECRET_MAX	8192		/* bytes in a secret file */

/*
 * Hidden: never exported from the binaries. cfitsio's own file driver has a
 * public file_read (and file_open, file_close...): an executable that
 * defines file_read and links libcfitsio exports it, and cfitsio's calls
 * then land here (a NULL path: every FITS file unreadable). t/layers.sh
 * checks that no binary exports a function of ours.
 */
#pragma GCC visibility push(hidden)

/* A whole file into *buf (NUL-terminated; malloc'ed) and *len; 0, or -1 with
 * *cause ("PATH: reason"; "PATH: not a regular file" for a directory, a
 * FIFO...) and errno telling why (ENOENT: there is no such file). */
int fileio_read(const char *path, char **buf, size_t *len, char **cause);
/* The whole of a secret file (see above) into *buf (NUL-terminated; free it
 * with fileio_secret_free) and *len; 0, or -1 with *cause ("WHAT PATH: reason").
 * what names the secret in messages ("token file", "password file"). */
int fileio_secret_text(const char *path, const char *what, char **buf, size_t *len,
    char **cause);
/* The one line of a secret file (see above), trimmed, into *out (malloc'ed;
 * free it with fileio_secret_free); 0, or -1 with *cause ("WHAT PATH: reason":
 * empty, more than one line, a NUL byte, or as fileio_secret_text). */
int fileio_secret(const char *path, const char *what, char **out, char **cause);
/* Wipe and free a secret (up to its NUL); NULL is accepted. */
void fileio_secret_free(char *secret);
/* A stat's modification time in nanoseconds since the epoch. */
int64_t fileio_mtime_ns(const struct stat *st);

#pragma GCC visibility pop

#endif
