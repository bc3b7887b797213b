#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "proto/error.h"
#include "log.h"

static const char *log_name = "kithd";
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_syslog;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *name, enum log_level level, bool to_syslog)
{
	log_name = name;
	log_level = level;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *text, enum log_level *out)
{
	for (int i = 0; i <= LOG_LEVEL_DEBUG; i++)
		if (!strcmp(text, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	return KITH_EVALUE;
}

/* One line: the message, then ": strerror" when errnum is not 0. */
__attribute__((format(printf, 3, 0))) static void vlog(enum log_level level, int errnum,
                                                       const char *fmt, va_list ap)
{
	static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char msg[1024];
	int len;

	if (level > log_level)
		return;
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (len >= 0 && errnum && (size_t)len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - (size_t)len, ": %s", strerror(errnum));
	if (log_syslog) {
		syslog(priorities[level], "%s", msg);
		return;
	}
	{
		struct timespec ts;
		struct tm tm;
		char stamp[16] = "";

		if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm))
			strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s: %s: %s\n", stamp, ts.tv_nsec / 1000000, log_name,
		        level_names[level], msg);
	}
}

#define LOG_BODY(level, errnum)                                                                    \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, errnum, fmt, ap);                                                      \
		va_end(ap);                                                                        \
	} while (0)

void log_warn(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY(LOG_LEVEL_WARN, saved);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, 0);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY(LOG_LEVEL_ERROR, saved);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, 0);
	exit(1);
}

bool log_allow(struct log_limit *limit, uint64_t now_ms)
{
	if (!limit->started) {
		limit->started = true;
		limit->tokens = limit->burst;
		limit->last_ms = now_ms;
	}
	if (limit->interval_ms && now_ms > limit->last_ms) {
		uint64_t refill = (now_ms - limit->last_ms) / limit->interval_ms;
		if (refill) {
			uint64_t tokens = limit->tokens + refill;
			limit->tokens = tokens > limit->burst ? limit->burst : (uint32_t)tokens;
			limit->last_ms += refill * limit->interval_ms;
		}
	}
	if (limit->tokens == 0) {
		limit->suppressed++;
		return false;
	}
	limit->tokens--;
	return true;
}
