/*
 * systemd.c - every call into systemd's notify protocol, in one place.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "lib/log.h"
#include "daemon/systemd.h"
#include "lib/xmalloc.h"

static void
systemd_send(const char *msg)
{
	int r;

	/* unset_environment=0: children and reloads keep NOTIFY_SOCKET. */
	r = sd_notify(0, msg);
	if (r < 0)
		log_at(LOG_WARNING, -r, NULL, "sd_notify failed");
}

void
systemd_ready(const char *status)
{
	char *msg;

	msg = xasprintf("READY=1\nSTATUS=%s", status);
	systemd_send(msg);
	free(msg);
}

void
systemd_status(const char *fmt, ...)
{
	va_list ap;
	char *status, *msg;

	va_start(ap, fmt);
	status = xvasprintf(fmt, ap);
	va_end(ap);
	msg = xasprintf("STATUS=%s", status);
	systemd_send(msg);
	free(msg);
	free(status);
}

void
systemd_reloading(void)
{
	struct timespec ts;
	char *msg;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	msg = xasprintf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading configuration",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	systemd_send(msg);
	free(msg);
}

void
systemd_stopping(void)
{
	systemd_send("STOPPING=1\nSTATUS=Stopping");
}

void
systemd_watchdog_ping(void)
{
	systemd_send("WATCHDOG=1");
}

uint64_t
systemd_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}
