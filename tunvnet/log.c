#include "tunvnet/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* The process's logging settings, not a daemon's: where a process logs and how much is
 * one choice for all the daemons in it (the only mutable file statics a daemon uses). */
static bool to_syslog;
static int cur_level = LOG_LEVEL_INFO;
static const char *log_ident = "tunvnetd";

void log_init(const char *ident, bool use_syslog, int level)
{
	log_ident = ident;
	to_syslog = use_syslog;
	cur_level = level;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_get_level(void)
{
	return cur_level;
}

static void vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (to_syslog) {
		syslog(pri, "%s%s%s", msg, suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	fprintf(stderr, "%s: %s%s%s\n", log_ident, msg, suffix ? ": " : "",
		suffix ? suffix : "");
}

#define LOG_BODY(pri, suffix)                                                   \
	do {                                                                    \
		va_list ap;                                                     \
		va_start(ap, fmt);                                              \
		vlog(pri, fmt, ap, suffix);                                     \
		va_end(ap);                                                     \
	} while (0)

void log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_WARNING, e);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, NULL);
}

void log_info(const char *fmt, ...)
{
	if (cur_level >= LOG_LEVEL_INFO)
		LOG_BODY(LOG_INFO, NULL);
}

void log_debug(const char *fmt, ...)
{
	if (cur_level >= LOG_LEVEL_DEBUG)
		LOG_BODY(LOG_DEBUG, NULL);
}

void fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_CRIT, e);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, NULL);
	exit(1);
}

/* 10 lines per second per call site, then silence until the next second. */
bool log_rl_allow(struct log_rl *rl)
{
	struct timespec ts;
	unsigned long long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
	if (now - rl->window_ms >= 1000) {
		rl->window_ms = now;
		rl->n = 0;
	}
	return rl->n++ < 10;
}
