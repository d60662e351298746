/*
 * msgid.h - journal MESSAGE_IDs of the key events, explained by the catalog
 * (systemd/caom2ingest.catalog) so that journalctl -x says what to do.
 */
#ifndef CAOM2INGEST_MSGID_H
#define CAOM2INGEST_MSGID_H

/* A landed file was classified into an observation. */
#define MSGID_FILE_ACCEPTED	"f34fd215a1b44ac58d228c607303de67"
/* A landed file matched no naming rule of its collection. */
#define MSGID_FILE_REJECTED	"071774a492a34aa7ac559458c1557e4d"
/* The inotify queue overflowed; every landing directory is rescanned. */
#define MSGID_OVERFLOW_RESCAN	"4e024aa30488459b8399c93374e2a9a2"
/* The inotify watch limit was reached; a tree is polled instead. */
#define MSGID_WATCH_LIMIT	"adde23d4c562410ea9cf2afc1a21b5b8"

/* An observation was stored in the sink. */
#define MSGID_OBS_INGESTED	"807107011d9149139be2bb39c32013a6"
/* An observation failed for good (parked until a file changes or an operator asks). */
#define MSGID_OBS_FAILED	"3da741760f154ff48cb5c5d6b70a59cf"

#endif
