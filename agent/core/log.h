/* Logging for kithd, in the manner of OpenSMTPD's log.c.
 *
 * log_warn() appends strerror(errno), log_warnx() does not. Lines go to
 * stderr ("kithd: warning: ...") when running in the foreground (journald
 * keeps them), to syslog otherwise. Peers are named by short ID; keys,
 * tokens and record bodies are never logged. fatal()/fatalx() are for
 * start-up and broken invariants only, never for what a peer sent. */
#ifndef KITH_AGENT_CORE_LOG_H
#define KITH_AGENT_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* name is borrowed for the life of the process. */
void log_init(const char *name, enum log_level level, bool to_syslog);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug". Returns 0 or KITH_EVALUE. */
int log_level_parse(const char *text, enum log_level *out);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
LOG_PRINTF(1, 2) void log_warn(const char *fmt, ...);
LOG_PRINTF(1, 2) void log_warnx(const char *fmt, ...);
LOG_PRINTF(1, 2) void log_info(const char *fmt, ...);
LOG_PRINTF(1, 2) void log_debug(const char *fmt, ...);
LOG_PRINTF(1, 2) _Noreturn void fatal(const char *fmt, ...);
LOG_PRINTF(1, 2) _Noreturn void fatalx(const char *fmt, ...);

/* A token bucket for messages a peer can cause: at most burst lines, then
 * one per interval_ms. Embed one per peer or per cause; zero-initialise and
 * set the two fields. */
struct log_limit {
	uint32_t burst;
	uint32_t interval_ms;
	uint32_t tokens;
	uint64_t last_ms;
	uint64_t suppressed; /* lines dropped since the last one allowed */
	bool started;
};

/* True when a line may be logged now (now_ms: a monotonic clock). */
bool log_allow(struct log_limit *limit, uint64_t now_ms);

/* Lines a peer can cause, one per cause per LOG_TALLY_MS. A cause is a
 * line without its count: "refused" "record" "from ABCDEFG" "over its
 * quota". Its first occurrence is logged at once ("refused 1 record from
 * ABCDEFG: over its quota"); those that follow within the interval are
 * counted and logged as one line when it ends ("refused 10353 records
 * from ABCDEFG in the last 10 s: over its quota"), by the next occurrence
 * or by log_tally_flush(), which the agent calls every second. verb and
 * unit are static strings (unit gets an "s" when the count is not 1);
 * subject and why are copied, cut at 63 and 159 bytes. At most
 * LOG_TALLY_CAUSES causes are held back at once; the oldest is flushed
 * to make room. */
#define LOG_TALLY_MS 10000
#define LOG_TALLY_CAUSES 256
void log_tally(enum log_level level, const char *verb, uint64_t count, const char *unit,
               const char *subject, const char *why);
void log_tally_flush(void);
/* Lines held back so far (not logged, counted in a later line). */
uint64_t log_tally_held(void);
/* The interval, LOG_TALLY_MS unless a test sets another. */
void log_tally_set_interval(uint32_t ms);

#endif
