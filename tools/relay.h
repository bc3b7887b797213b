/* kith backup's link to its kithd: hold.* requests to holders, relayed by
 * kithd (CTL_CMD_HOLD), several in flight on one DEALER socket and matched
 * to their replies by tag (CTL_KEY_TAG). The caller keeps its own window
 * per holder; this module bounds the total at RELAY_SLOTS (under kithd's
 * AGENT_CALLS_MAX, so kithd never answers busy to one kith alone).
 *
 * Everything happens in relay_wait(): replies are read and each request's
 * done() runs there, never inside relay_send(). */
#ifndef KITH_TOOLS_RELAY_H
#define KITH_TOOLS_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"
#include "proto/mp.h"

#define RELAY_SLOTS 48
/* How long one request may wait for its reply: kithd's own deadline for a
 * member's answer (20 s) and a margin. */
#define RELAY_TIMEOUT_MS 30000

/* A request's outcome: code 0 with the holder's encoded result
 * (result[0..len), borrowed for the call), or a negative code (the
 * holder's refusal as CTL_CMD_HOLD says, a timeout, kithd gone) with one
 * line for the admin in err. */
typedef void (*relay_done)(void *arg, int code, const char *err, const uint8_t *result, size_t len);

struct relay;

/* Connects to the kithd of data_dir (borrowed). On success *out is the
 * caller's (relay_close()); otherwise one line was printed. Returns CLI_OK
 * or CLI_FAIL. */
int relay_open(struct relay **out, const char *data_dir);
/* Drops whatever is in flight (no done() runs) and closes. */
void relay_close(struct relay **r);

/* Sends op with args (encoded, borrowed; NULL: none) to peer. Returns 0,
 * -EBUSY when RELAY_SLOTS are in flight (relay_wait() first), or another
 * negative code (out of memory, the socket failed). */
int relay_send(struct relay *r, const uint8_t peer[PROTO_KEY_LEN], const char *op,
               const struct mp_buf *args, relay_done done, void *arg);
/* Waits up to timeout_ms (0: only what is there) for replies and runs
 * their done(); expires requests past RELAY_TIMEOUT_MS (done() with
 * -ETIMEDOUT). Returns how many requests ended, or a negative code when
 * the socket failed. */
int relay_wait(struct relay *r, int timeout_ms);
/* Requests in flight. */
unsigned relay_in_flight(const struct relay *r);

#endif
