/* kithd's configuration: an INI file read with inih, checked against a
 * schema table (type, range, default per key) as Knot does it.
 *
 * Two timing profiles give the defaults, as memberlist has them: "wan"
 * (collectives talk over the internet) and "lan" (tests, local demos). A
 * key set in the file wins over its profile default, wherever it appears.
 * docs/man/kithd.conf.5 lists every key. */
#ifndef KITH_AGENT_CORE_CONF_H
#define KITH_AGENT_CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "log.h"

#define CONF_FILE "kithd.conf"
#define CONF_ENDPOINT_MAX 255
#define CONF_DEFAULT_PORT 7707

#define CONF_TEXT_MAX 255
/* The most [dns] flap_max may be: the changes of a name are kept per
 * name, this many. */
#define DNS_FLAP_MAX_MAX 32
/* A count set to "auto": the module chooses from what it sees. */
#define CONF_AUTO UINT32_MAX

/* STARTTLS for SMTP: use it when offered, insist on it, or never. */
enum conf_tls {
	CONF_TLS_TRY = 0,
	CONF_TLS_ALWAYS = 1,
	CONF_TLS_NEVER = 2,
};

enum conf_profile {
	CONF_PROFILE_WAN = 0,
	CONF_PROFILE_LAN = 1,
};

struct conf {
	/* [agent] */
	char listen[CONF_ENDPOINT_MAX + 1];    /* tcp://ADDR:PORT to bind */
	char advertise[CONF_ENDPOINT_MAX + 1]; /* tcp://HOST:PORT peers dial; "" = listen */
	/* The HTTP listener of /metrics and the status pages; "" = none. */
	char metrics_listen[CONF_ENDPOINT_MAX + 1];
	enum conf_profile profile;
	enum log_level log_level;
	/* [membership] (SWIM + Lifeguard) */
	uint64_t probe_interval_ms;
	uint64_t probe_timeout_ms;
	uint32_t indirect_checks;
	uint32_t suspicion_mult;     /* suspicion timeout = mult * log10(N+1) * probe interval */
	uint32_t suspicion_max_mult; /* Lifeguard: the timeout starts at max_mult times that */
	uint64_t gossip_interval_ms;
	uint32_t gossip_nodes;
	uint32_t retransmit_mult;
	uint64_t dead_forget_ms; /* dead members are dropped from gossip after this */
	/* [gossip] (records anti-entropy) */
	uint64_t sync_interval_ms;
	uint64_t sync_budget; /* bytes of records sent per exchange */
	uint32_t push_fanout; /* CONF_AUTO: ln(N + 1) + 2; 0: no push */
	/* [limits] */
	uint64_t max_message;    /* bytes; larger frames are refused by ZeroMQ */
	uint32_t bad_messages;   /* malformed messages from a peer before it is cut off */
	uint64_t ban_ms;         /* how long it stays cut off */
	uint32_t guest_rate;     /* join attempts accepted per minute from guests */
	uint32_t author_records; /* records of one author kept (twice for trust records) */
	uint64_t author_bytes;   /* and their bytes */
	/* [store] */
	uint64_t map_size; /* LMDB map at the start; it grows... */
	uint64_t map_max;  /* ...up to this */
	/* [monitoring] */
	uint32_t quorum;          /* distinct fresh observers a verdict needs */
	uint32_t down_after;      /* consecutive evaluations saying down before down */
	uint64_t recovery_ms;     /* seen up this long before up again after down */
	uint64_t heartbeat_ms;    /* an unchanged observation is re-published this often */
	uint64_t dead_alert_ms;   /* a member dead this long gets its contacts told */
	uint64_t backup_grace_ms; /* shards of an owner whose grant ended stay readable this long */
	uint64_t backup_audit_ms; /* our backups audited and repaired this often; 0: never */
	uint32_t backup_audit_read;          /* percent of the shards read back at each audit */
	uint64_t backup_dead_for_ms;         /* a holder dead this long has its shards moved */
	char backup_kith[CONF_TEXT_MAX + 1]; /* the kith program audits run ("": kith, on PATH) */
	/* [dns] */
	uint64_t dns_min_interval_ms; /* one name is changed at most once in this */
	uint32_t dns_flap_max;        /* changes of one name within dns_flap_window_ms... */
	uint64_t dns_flap_window_ms;  /* ...before automation pauses for it */
	uint32_t max_checks;          /* checks running at once */
	uint32_t refuse_private;      /* 1: never check loopback or private addresses */
	/* [alerts] */
	char smtp_url[CONF_TEXT_MAX + 1]; /* smtp://host:port or smtps://... */
	char smtp_user[CONF_TEXT_MAX + 1];
	char smtp_password[CONF_TEXT_MAX + 1];
	char smtp_from[CONF_TEXT_MAX + 1]; /* sender address */
	enum conf_tls smtp_tls;
	char matrix_homeserver[CONF_TEXT_MAX + 1]; /* https://matrix.example.org */
	char matrix_token[CONF_TEXT_MAX + 1];      /* access token of the bot user */
	uint32_t alert_retries;
	uint64_t alert_retry_ms; /* first wait before a retry, doubled each time */
};

/* Fills c with the defaults of profile. */
void conf_defaults(struct conf *c, enum conf_profile profile);
/* Reads path (borrowed) into *c. On failure *c is untouched, and err (n
 * bytes) holds one line such as "kithd.conf:12: probe_interval: out of
 * range (100ms to 1h)". Returns 0, -ENOENT, KITH_EVALUE or -ENOMEM. */
int conf_load(struct conf *c, const char *path, char *err, size_t n);
/* Same as conf_load() for text (a NUL-terminated string, borrowed); name
 * stands for the file in messages. */
int conf_parse_text(struct conf *c, const char *text, const char *name, char *err, size_t n);
/* Writes a commented configuration file with the given listen, advertise
 * and profile (strings borrowed; advertise may be ""). Never overwrites:
 * -EEXIST. */
int conf_write_new(const char *path, const char *listen, const char *advertise,
                   enum conf_profile profile);
/* Checks a "tcp://HOST:PORT" endpoint; why receives a static phrase. */
int conf_endpoint_check(const char *endpoint, const char **why);
/* The address of an HTTP listener ([agent] metrics_listen):
 * "IPV4:PORT" or "[IPV6]:PORT", into *ss and *len. Returns 0, or
 * KITH_EVALUE with *why (static text). */
int conf_listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                      const char **why);
/* The data directory: given when not NULL, else $KITH_DATA, else
 * /var/lib/kith for root, else $XDG_DATA_HOME/kith or ~/.local/share/kith.
 * Shared by kithd and kith so that both find the same one. Returns 0,
 * -ENOENT (nothing to go by) or -ENAMETOOLONG. */
int conf_data_dir(char *out, size_t n, const char *given);
/* "wan" or "lan" -> profile. Returns 0 or KITH_EVALUE. */
int conf_profile_parse(const char *text, enum conf_profile *out);

#endif
