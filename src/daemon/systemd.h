/*
 * systemd.h - every call into systemd's notify protocol, in one place.
 *
 * All functions are no-ops when the daemon was not started by systemd
 * (no NOTIFY_SOCKET); none of them fails the caller.
 */
#ifndef CAOM2INGEST_SYSTEMD_H
#define CAOM2INGEST_SYSTEMD_H

#include <stdint.h>

/* READY=1 with a STATUS= line: configuration loaded, sockets bound. */
void systemd_ready(const char *status);
/* STATUS= with a one-line summary. */
void systemd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 and MONOTONIC_USEC=, before a reload. */
void systemd_reloading(void);
/* STOPPING=1, when shutdown begins. */
void systemd_stopping(void);
/* WATCHDOG=1. */
void systemd_watchdog_ping(void);
/* The watchdog interval systemd asked for in microseconds, 0 when none. */
uint64_t systemd_watchdog_usec(void);

#endif
