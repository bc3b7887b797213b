/* Logging for kithd, in the manner of OpenSMTPD's log.c.
 *
 * log_warn() appends strerror(errno), log_warnx() does not. Lines go to
 * stderr ("kithd: warning: ...") when running in the foreground (journald
 * keeps them), to syslog otherwise. Peers are named by short ID; keys,
 * tokens and record bodies are never logged. fatal()/fatalx() are for
 * start-up and broken invariants only, never for what a peer sent. */
#ifndef KITH_AGENT_LOG_H
#define KITH_AGENT_LOG_H

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

#endif
