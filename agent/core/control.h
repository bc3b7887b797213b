/* The control socket's server: a ZeroMQ ROUTER bound to
 * ipc://DATA/kithd.sock, mode 0600 (file permissions are the admin's
 * authority, as with OpenSMTPD's control socket), watched in the loop.
 * Requests and replies are those of proto/ctl.h. */
#ifndef KITH_AGENT_CORE_CONTROL_H
#define KITH_AGENT_CORE_CONTROL_H

#include <stddef.h>

#include <msgpack.h>

#include "proto/ctl.h"

/* A command: packs exactly one value (the reply's data) with pk and returns
 * 0, or returns a negative code and writes one line for the admin into err
 * (n bytes), or calls control_defer() and returns CONTROL_DEFERRED to answer later
 * with control_finish(). */
#define CONTROL_DEFERRED 1
typedef int (*control_fn)(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                          size_t n);

struct control_command {
	const char *name;
	control_fn fn;
};

struct control;

/* Binds the socket in data_dir (borrowed) and watches it in l. commands
 * (n of them) and arg are borrowed and must outlive the ctl. On success
 * *out is owned by the caller (control_free(), which removes the socket file). */
int control_new(struct control **out, struct loop *l, void *zmq_ctx, const char *data_dir,
                const struct control_command *commands, size_t n, void *arg);
/* Answers every request still deferred with an error, closes the socket,
 * removes its file and frees *c. */
void control_free(struct control **c);

/* A deferred request. */
struct control_pending;
struct mp_buf;

/* Called inside a command: keeps what is needed to answer the current
 * request later. Returns NULL when out of memory (answer at once then). The
 * handle is owned by the ctl until control_finish(). */
struct control_pending *control_defer(struct control *c);
/* Answers a deferred request: rc and err as a command returns them, data
 * (one packed value, borrowed; NULL when rc is not 0). Frees p. */
void control_finish(struct control *c, struct control_pending *p, int rc, const char *err,
                    const struct mp_buf *data);

#endif
