/* kithd as a whole: the modules wired together around one event loop.
 *
 * agent_new() takes the data directory's lock (one kithd per directory),
 * loads the identity, the configuration and the store, computes the trust
 * network, binds the transport and the control socket, and publishes the
 * agent's member record when its address changed. agent_run() runs the
 * loop until SIGTERM or SIGINT, then announces that the agent leaves;
 * SIGHUP reloads the configuration's timings and log level. */
#ifndef KITH_AGENT_AGENT_H
#define KITH_AGENT_AGENT_H

#include <stddef.h>

struct agent;

/* data_dir and config_path (NULL: DATA/kithd.conf) are borrowed. On
 * failure err (n bytes) holds one line for the admin. */
int agent_new(struct agent **out, const char *data_dir, const char *config_path, char *err,
              size_t n);
/* Runs until a stop signal. Returns 0 or a negative code. */
int agent_run(struct agent *a);
void agent_free(struct agent **a);

#endif
