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

__attribute__((format(printf, 2, 3))) static void vlog_line(enum log_level level, const char *fmt,
                                                            ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
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

/* ---- tallies ---- */

struct tally {
	uint64_t hash; /* of the cause; 0: free */
	uint64_t since_ms;
	uint64_t held; /* occurrences since the last line */
	enum log_level level;
	const char *verb, *unit;
	char subject[64];
	char why[160];
};

static struct tally tallies[LOG_TALLY_CAUSES];
static uint64_t tally_held_total;
static uint32_t tally_ms = LOG_TALLY_MS;

void log_tally_set_interval(uint32_t ms)
{
	tally_ms = ms;
}

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a over the parts of a cause, never 0. */
static uint64_t hash_text(uint64_t h, const char *text)
{
	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		h = (h ^ *c) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

static void tally_line(const struct tally *t, uint64_t count, bool summary)
{
	const char *plural = count == 1 ? "" : "s";

	if (summary)
		vlog_line(t->level, "%s %llu %s%s %s in the last %llu s: %s", t->verb,
		          (unsigned long long)count, t->unit, plural, t->subject,
		          (unsigned long long)((clock_ms() - t->since_ms + 999) / 1000), t->why);
	else
		vlog_line(t->level, "%s %llu %s%s %s: %s", t->verb, (unsigned long long)count,
		          t->unit, plural, t->subject, t->why);
}

/* Logs what t held back, and frees it. */
static void tally_end(struct tally *t)
{
	if (t->held)
		tally_line(t, t->held, true);
	t->hash = 0;
	t->held = 0;
}

void log_tally(enum log_level level, const char *verb, uint64_t count, const char *unit,
               const char *subject, const char *why)
{
	uint64_t h =
	    hash_text(hash_text(hash_text(hash_text(0xcbf29ce484222325ULL, verb), unit), subject),
	              why) |
	    1;
	uint64_t now = clock_ms();
	struct tally *t = NULL, *oldest = NULL;

	if (level > log_level)
		return;
	for (size_t i = 0; i < 8; i++) {
		struct tally *c = &tallies[(h + i) % LOG_TALLY_CAUSES];
		if (c->hash == h) {
			t = c;
			break;
		}
		if (!oldest || c->hash == 0 || (oldest->hash && c->since_ms < oldest->since_ms))
			oldest = c;
	}
	if (t && now - t->since_ms < tally_ms) {
		t->held += count;
		tally_held_total += count;
		return;
	}
	if (!t) {
		t = oldest;
		tally_end(t);
	} else {
		tally_end(t);
	}
	*t = (struct tally){.hash = h, .since_ms = now, .level = level, .verb = verb, .unit = unit};
	snprintf(t->subject, sizeof(t->subject), "%s", subject);
	snprintf(t->why, sizeof(t->why), "%s", why);
	tally_line(t, count, false);
}

void log_tally_flush(void)
{
	uint64_t now = clock_ms();

	for (size_t i = 0; i < LOG_TALLY_CAUSES; i++)
		if (tallies[i].hash && now - tallies[i].since_ms >= tally_ms)
			tally_end(&tallies[i]);
}

uint64_t log_tally_held(void)
{
	return tally_held_total;
}
