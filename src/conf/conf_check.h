/*
 * conf_check.h - what `caom2ingestd --check-config` checks beyond conf_load:
 * that the files and directories a configuration names are there and load.
 *
 * conf_load checks the file itself (keys, types, values, rules, the legacy
 * triples); the daemon and the client load it too, and must not fail because
 * a directory is missing at that moment. The check adds: every blueprint whose
 * path has no ${...} loads (all of its errors, each as CONF:LINE: key:
 * BLUEPRINT:LINE: message); the directory of a templated one exists; every
 * landing directory and every move: target is a directory.
 */
#ifndef CAOM2INGEST_CONF_CHECK_H
#define CAOM2INGEST_CONF_CHECK_H

struct conf;

/* Check what cfg names on disk; 0, or -1 with *errors (one "FILE:LINE: ..." per line). */
int conf_check_files(const struct conf *cfg, char **errors);

#endif
