/* The control socket: how the kith command talks to a running kithd.
 *
 * A ZeroMQ ROUTER bound to ipc://DATA/kithd.sock, mode 0600: file
 * permissions are the admin's authority, as with OpenSMTPD's control
 * socket. A request is a msgpack map with string keys: "cmd" names the
 * command, the other keys are its arguments (text, unsigned integer,
 * boolean or binary). The reply is a map {"ok": true, "data": value} or
 * {"ok": false, "error": text}. Requests are decoded with the bounded
 * reader like anything else from outside the process; a malformed one gets
 * an error reply, never a crash. */
#ifndef KITH_PROTO_CTL_H
#define KITH_PROTO_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define CTL_SOCKET "kithd.sock"
/* The largest request carries a shard (proto/ops.h: 4 MiB) and a little more. */
#define CTL_REQUEST_MAX ((4 << 20) + 65536)
#define CTL_CMD_MAX 31
#define CTL_KEY_MAX 31
#define CTL_ARGS_MAX 16

struct loop;

enum ctl_arg_type {
	CTL_ARG_TEXT,
	CTL_ARG_UINT,
	CTL_ARG_BOOL,
	CTL_ARG_BIN,
};

/* One argument; text and bin point into the request (borrowed). */
struct ctl_arg {
	char key[CTL_KEY_MAX + 1];
	enum ctl_arg_type type;
	const char *text; /* CTL_ARG_TEXT: not NUL-terminated, see len */
	const uint8_t *bin;
	size_t len;
	uint64_t uint;
	bool boolean;
};

struct ctl_request {
	char cmd[CTL_CMD_MAX + 1];
	size_t n_args;
	struct ctl_arg args[CTL_ARGS_MAX];
};

/* Decodes a request (buf borrowed): a map of at most CTL_ARGS_MAX + 1
 * entries, "cmd" (text, 1..CTL_CMD_MAX bytes) in any place, every other key
 * a distinct text of at most CTL_KEY_MAX bytes whose value is text, a
 * positive integer, a boolean or a binary. Returns 0 or a KITH_E* code:
 * KITH_EMISSING without "cmd", KITH_EDUPKEY for a repeated key,
 * KITH_ETOOBIG past a limit, KITH_ETYPE for any other value type,
 * KITH_ETRAIL, KITH_ETRUNC, KITH_EMALFORMED, KITH_EVALUE (bad text). Never
 * writes outside *out, whatever the bytes; on error *out is unspecified. */
int ctl_request_decode(struct ctl_request *out, const uint8_t *buf, size_t len);

/* Copies the text argument key into out (n bytes, NUL-terminated).
 * Returns 0, -ENOENT (absent), KITH_ETYPE or KITH_ETOOBIG. */
int ctl_arg_text(const struct ctl_request *r, const char *key, char *out, size_t n);
int ctl_arg_uint(const struct ctl_request *r, const char *key, uint64_t *out);
/* An absent boolean reads as false. */
bool ctl_arg_flag(const struct ctl_request *r, const char *key);

struct mp_buf;

/* Packs into out the reply to a command that returned rc: {"ok": true,
 * "data": data} (data holds one packed value, borrowed) or {"ok": false,
 * "error": err, or rc's text when err is empty}. */
void ctl_reply_pack(struct mp_buf *out, int rc, const char *err, const struct mp_buf *data);

#endif
