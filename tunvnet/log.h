/* Logging: stderr in the foreground, syslog when detached (bgpd's log.h vocabulary). */
#ifndef TUNVNET_LOG_H
#define TUNVNET_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_WARN = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_DEBUG = 2 };

void log_init(const char *ident, bool use_syslog, int level);
int  log_get_level(void);

/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Per-packet or per-event warnings: at most `burst` lines per second per call site. */
#define log_ratelimited(fn, ...)                                                \
	do {                                                                    \
		static struct log_rl log_rl_site_;                              \
		if (log_rl_allow(&log_rl_site_))                                \
			fn(__VA_ARGS__);                                        \
	} while (0)

struct log_rl {
	unsigned long long window_ms;
	unsigned int n;
};
bool log_rl_allow(struct log_rl *rl);

#endif
