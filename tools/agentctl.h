/* Talking to a running kithd over its control socket (see proto/ctl.h,
 * which names every command, argument key and reply key).
 *
 * A request is built as a msgpack map with text keys, the command first;
 * the map counts its own entries (struct mp_map), so that optional
 * arguments need no counting. The reply's data comes back as a msgpack-c
 * object the command renders as text, or converts whole to JSON for
 * --json. The reply comes from our own agent through a 0600 socket, so
 * msgpack-c's unpacker is used for it; requests are what kithd
 * bounds-checks. */
#ifndef KITH_TOOLS_AGENTCTL_H
#define KITH_TOOLS_AGENTCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "proto/ctl.h"
#include "proto/mp.h"

/* How long kith waits for kithd to answer, in milliseconds. */
#define AGENTCTL_TIMEOUT_MS 30000

/* A request being built: owned by the caller until agentctl_call(),
 * which frees it. */
struct agentctl_request {
	struct mp_map map;
};

/* A reply; data points into unpacked, whose strings point into bytes
 * (both owned: agentctl_reply_free()). */
struct agentctl_reply {
	char *bytes;
	msgpack_unpacked unpacked;
	const msgpack_object *data;
};

/* Starts a request for cmd (a CTL_CMD_*); its arguments follow, each key
 * (a CTL_KEY_*) at most once. Out of memory is reported by
 * agentctl_call(). */
void agentctl_begin(struct agentctl_request *r, const char *cmd);
void agentctl_arg_text(struct agentctl_request *r, const char *key, const char *value);
void agentctl_arg_uint(struct agentctl_request *r, const char *key, uint64_t value);
void agentctl_arg_flag(struct agentctl_request *r, const char *key, bool value);
/* b (len bytes) is copied. */
void agentctl_arg_bin(struct agentctl_request *r, const char *key, const uint8_t *b, size_t len);

/* Sends the request to the kithd of data_dir and waits for its reply. On
 * success (the agent said ok) returns CLI_OK with *reply filled; otherwise
 * prints one line (agent not running, no answer, the agent's error) and
 * returns CLI_FAIL. Frees the request either way. */
int agentctl_call(const char *data_dir, struct agentctl_request *r, struct agentctl_reply *reply);
void agentctl_reply_free(struct agentctl_reply *reply);
/* Whether a kithd serves the control socket at path (in data_dir, both
 * borrowed): ZeroMQ would queue requests for a socket nobody serves. CLI_OK,
 * or CLI_FAIL after one line (not running, stale socket, no permission). */
int agentctl_check_listening(const char *path, const char *data_dir);
/* Prints the reply's data as one line of JSON ("null" when none). */
void agentctl_print_json(const struct agentctl_reply *reply);
/* agentctl_call(), then prints the reply's data as JSON when json is set,
 * else through render (NULL: prints nothing). Returns the exit status. */
int agentctl_run(const char *data_dir, struct agentctl_request *r, bool json,
                 void (*render)(const msgpack_object *data));
/* The whole of a command that only asks (kith status, members, health):
 * parses [--json] [--data DIR] with usage, sends cmd without arguments and
 * prints the answer as agentctl_run() does. Returns the exit status. */
int agentctl_query_main(int argc, char **argv, const char *cmd, const char *usage,
                        void (*render)(const msgpack_object *data));

/* Looks up key in a map object; NULL when absent or obj is no map. */
const msgpack_object *agentctl_get(const msgpack_object *obj, const char *key);
/* The text at key as a NUL-terminated copy in buf (n bytes); "" if absent. */
const char *agentctl_text(const msgpack_object *obj, const char *key, char *buf, size_t n);
/* The unsigned integer at key, 0 if absent. */
uint64_t agentctl_uint(const msgpack_object *obj, const char *key);
/* Writes obj as JSON (maps with text keys, arrays, text, numbers, booleans,
 * nil; binaries as hex strings). */
void agentctl_json(FILE *f, const msgpack_object *obj);

#endif
