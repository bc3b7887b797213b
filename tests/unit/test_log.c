/* Tallied log lines: the first of a cause at once, the rest counted into
 * one line per interval, whatever the rate; causes kept apart; the table
 * full of causes never loses a count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/log.h"
#include "tap.h"

static int log_fd;
static off_t read_at;
static char out[1 << 17];

/* Everything logged since the last call, into out; returns the lines. */
static int drain(void)
{
	ssize_t n;
	size_t len = 0;
	int lines = 0;

	fflush(stderr);
	while ((n = pread(log_fd, out + len, sizeof(out) - 1 - len, read_at)) > 0) {
		len += (size_t)n;
		read_at += n;
	}
	out[len] = '\0';
	for (size_t i = 0; i < len; i++)
		lines += out[i] == '\n';
	return lines;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static void test_one_cause(void)
{
	for (int i = 0; i < 10000; i++)
		log_tally(LOG_LEVEL_WARN, "refused", 1, "record", "of ABCDEFG", "over its budget");
	is(drain(), 1, "10,000 occurrences: one line at once");
	ok(strstr(out, "refused 1 record of ABCDEFG: over its budget") != NULL,
	   "the first, with its count");
	log_tally_flush();
	is(drain(), 0, "no summary before the interval ends");
	sleep_ms(250);
	log_tally_flush();
	is(drain(), 1, "one summary when it ends");
	ok(strstr(out, "refused 9999 records of ABCDEFG in the last") != NULL &&
	       strstr(out, "s: over its budget") != NULL,
	   "with the count of those held back");
	is(log_tally_held(), 9999, "held back, counted");
	log_tally(LOG_LEVEL_WARN, "refused", 1, "record", "of ABCDEFG", "over its budget");
	is(drain(), 1, "a new occurrence after the interval: logged at once");
	sleep_ms(250);
	log_tally_flush();
	is(drain(), 0, "nothing held back, no summary");
}

static void test_causes(void)
{
	for (int i = 0; i < 100; i++) {
		log_tally(LOG_LEVEL_WARN, "refused", 1, "message", "from A", "malformed");
		log_tally(LOG_LEVEL_WARN, "refused", 1, "message", "from B", "malformed");
		log_tally(LOG_LEVEL_WARN, "refused", 1, "message", "from A", "too long");
	}
	is(drain(), 3, "three causes: three lines");
	log_tally(LOG_LEVEL_DEBUG, "refused", 1, "message", "from C", "below the level");
	is(drain(), 0, "below the log level: nothing");
	sleep_ms(250);
	log_tally_flush();
	is(drain(), 3, "three summaries");
	ok(strstr(out, "refused 99 messages from A in the last") != NULL, "each with its count");
}

/* More causes than the table holds: every count is still logged, by the
 * eviction of the oldest or at the flush. */
static void test_full_table(void)
{
	char subject[32];
	int lines;

	for (int i = 0; i < 2 * LOG_TALLY_CAUSES; i++) {
		snprintf(subject, sizeof(subject), "from peer%d", i);
		log_tally(LOG_LEVEL_WARN, "refused", 1, "message", subject, "x");
		log_tally(LOG_LEVEL_WARN, "refused", 2, "message", subject, "x");
	}
	lines = drain();
	sleep_ms(250);
	log_tally_flush();
	lines += drain();
	is(lines, 4 * LOG_TALLY_CAUSES, "each cause: its first line and its summary");
}

int main(void)
{
	char path[] = "/tmp/kith-test-log-XXXXXX";

	/* stderr into a file of ours (TAP goes to stdout) */
	log_fd = mkstemp(path);
	if (log_fd < 0 || dup2(log_fd, STDERR_FILENO) < 0)
		return 1;
	unlink(path);
	log_init("test", LOG_LEVEL_INFO, false);
	log_tally_set_interval(200);
	test_one_cause();
	test_causes();
	test_full_table();
	return tap_done();
}
