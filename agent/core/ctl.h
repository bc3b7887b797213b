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
#ifndef KITH_AGENT_CORE_CTL_H
#define KITH_AGENT_CORE_CTL_H

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

/* A command: packs exactly one value (the reply's data) with pk and returns
 * 0, or returns a negative code and writes one line for the admin into err
 * (n bytes), or calls ctl_defer() and returns CTL_DEFERRED to answer later
 * with ctl_finish(). */
#define CTL_DEFERRED 1
typedef int (*ctl_fn)(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                      size_t n);

struct ctl_command {
	const char *name;
	ctl_fn fn;
};

struct ctl;

/* Binds the socket in data_dir (borrowed) and watches it in l. commands
 * (n of them) and arg are borrowed and must outlive the ctl. On success
 * *out is owned by the caller (ctl_free(), which removes the socket file). */
int ctl_new(struct ctl **out, struct loop *l, void *zmq_ctx, const char *data_dir,
            const struct ctl_command *commands, size_t n, void *arg);
/* Answers every request still deferred with an error, closes the socket,
 * removes its file and frees *c. */
void ctl_free(struct ctl **c);

/* A deferred request. */
struct ctl_pending;
struct mp_buf;

/* Called inside a command: keeps what is needed to answer the current
 * request later. Returns NULL when out of memory (answer at once then). The
 * handle is owned by the ctl until ctl_finish(). */
struct ctl_pending *ctl_defer(struct ctl *c);
/* Answers a deferred request: rc and err as a command returns them, data
 * (one packed value, borrowed; NULL when rc is not 0). Frees p. */
void ctl_finish(struct ctl *c, struct ctl_pending *p, int rc, const char *err,
                const struct mp_buf *data);

#endif
