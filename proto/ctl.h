/* The control protocol: how the kith command talks to a running kithd.
 *
 * This header is the protocol, defined once for both ends: the socket's
 * name, the limits, every command name, argument key and reply key below,
 * the request decoder and the reply packer. The server (a ZeroMQ ROUTER
 * on ipc://DATA/kithd.sock, mode 0600) is agent/core/control.h, the
 * commands are the agent's (agent/agent_ctl.c: agent_ctl_commands[]), the
 * client is tools/agentctl.h.
 *
 * A request is a msgpack map with text keys: CTL_KEY_CMD names the
 * command, the other keys are its arguments (text, unsigned integer,
 * boolean or binary). The reply is a map {"ok": true, "data": value} or
 * {"ok": false, "error": text}. Requests are decoded with the bounded
 * reader like anything else from outside the process; a malformed one gets
 * an error reply, never a crash. Both ends name keys only through the
 * constants here: a key renamed on one side alone would be silently
 * ignored by the other. */
#ifndef KITH_PROTO_CTL_H
#define KITH_PROTO_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "limits.h"

#define CTL_SOCKET "kithd.sock"
/* The largest request carries a shard (proto/ops.h: 4 MiB) and a little more. */
#define CTL_REQUEST_MAX ((4 << 20) + 65536)
#define CTL_CMD_MAX 31
#define CTL_KEY_MAX 31
#define CTL_ARGS_MAX 16

/* ---- the envelope ---- */

/* Request: {CTL_KEY_CMD: command name, argument key: value...}. */
#define CTL_KEY_CMD "cmd"
/* Reply: {CTL_REPLY_OK: true, CTL_REPLY_DATA: the command's value} or
 * {CTL_REPLY_OK: false, CTL_REPLY_ERROR: one line for the admin,
 * CTL_REPLY_CODE: the KITH_E* or -errno code, negated to be positive}. */
#define CTL_REPLY_OK "ok"
#define CTL_REPLY_DATA "data"
#define CTL_REPLY_ERROR "error"
#define CTL_REPLY_CODE "code"
/* Any request may carry a tag (unsigned integer, 1 or more), which its
 * reply repeats: a client with several requests in flight on one DEALER
 * socket (kith backup) matches replies, which come in any order, by it. */
#define CTL_KEY_TAG "tag"
#define CTL_REPLY_TAG "tag"

/* ---- commands and their arguments ----
 *
 * Each command with the keys of its arguments (CTL_KEY_*, defined where
 * first used; "?" marks an optional one) and the shape of its reply's
 * data (CTL_REPLY_* keys, defined below). */

/* kith status: no arguments -> the report under "status" below. */
#define CTL_CMD_STATUS "status"
/* kith members: no arguments -> [{id, name, state, endpoint,
 * incarnation, last_seen, since, self}]; state is a member state name
 * (proto_member_state_name()) or "revoked" for an ejected member. */
#define CTL_CMD_MEMBERS "members"
/* kith admit: peer (text, a peer ID), endpoint? (text) -> {id, endpoint};
 * or, to admit several in one request, peers (binary: a list, see
 * ctl_admit_list_decode()) -> [{id, endpoint}], in the list's order. A
 * list is checked whole before anyone is admitted: one bad entry refuses
 * the request and the error names it, so that a typo never leaves half a
 * list admitted. peer and peers together are refused. */
#define CTL_CMD_ADMIT "admit"
#define CTL_KEY_PEER "peer"
#define CTL_KEY_ENDPOINT "endpoint"
#define CTL_KEY_PEERS "peers"
/* Peers in one admit request: a network of a thousand collectives formed
 * by one command, and about 330 KB of request at most (63 bytes of peer ID
 * and 255 of endpoint each), far below CTL_REQUEST_MAX. */
#define CTL_ADMIT_MAX 1024
/* kith invite: uses? (uint, 1..1000), scopes? (text, "monitor,backup:50G"),
 * expires? (text, a duration) -> {token, expires, uses, scopes: [text]}. */
#define CTL_CMD_INVITE "invite"
#define CTL_KEY_USES "uses"
#define CTL_KEY_SCOPES "scopes"
#define CTL_KEY_EXPIRES "expires"
/* kith join: token (text, an invitation), or peer and endpoint ->
 * {founder, members} once the issuer answered. */
#define CTL_CMD_JOIN "join"
#define CTL_KEY_TOKEN "token"
/* kith grant: peer, scopes, expires?, secret? (binary: a dns scope's
 * update credential, sealed by the agent to the peer) -> {id, subject,
 * expires}. */
#define CTL_CMD_GRANT "grant"
#define CTL_KEY_SECRET "secret"
/* kith grants: all? (bool: others' grants too) -> [{id, issuer, subject,
 * direction, scopes: [text], issued, expires, revoked, state}]. */
#define CTL_CMD_GRANTS "grants"
#define CTL_KEY_ALL "all"
/* kith revoke: target (text, a peer ID or a grant ID), member? (bool:
 * eject the peer), reason? (text) -> {ejected: peer ID} or {revoked:
 * [grant ID]}. */
#define CTL_CMD_REVOKE "revoke"
#define CTL_KEY_TARGET "target"
#define CTL_KEY_MEMBER "member"
#define CTL_KEY_REASON "reason"
/* kith dns check: peer (the grant's issuer), zone (text) -> {zone, grant,
 * expires, provider, server}. */
#define CTL_CMD_DNS_CHECK "dns.check"
/* kith dns test: peer, zone -> {zone} once a TXT record was added at
 * _kith-test.ZONE and deleted (answered later: deferred). */
#define CTL_CMD_DNS_TEST "dns.test"
/* kith dns history: no arguments -> [{time, by, owner, service, dns_name,
 * zone, type, from: [text], to: [text], verdict, result, why}], every
 * dns-change record held, in the store's order. */
#define CTL_CMD_DNS_HISTORY "dns.history"
/* kith dns pin|unpin: dns_name, to ("primary", "standby" or "none") -> as
 * service.add. */
#define CTL_CMD_DNS_PIN "dns.pin"
/* kith dns status: no arguments -> [{owner, service, dns_name, zone,
 * primary: [text], standby: [text], ttl, pin ("", "primary", "standby"),
 * verdict, standby_verdict, acting (the peer ID elected now, ""),
 * last_change?: {time, by, type, to: [text], result}}], for every plan
 * this agent can read. */
#define CTL_CMD_DNS_STATUS "dns.status"
#define CTL_KEY_TO "to"
#define CTL_KEY_ZONE "zone"
/* kith shard put|get|rm: action (text, CTL_SHARD_*), peer, name (text),
 * data (binary, put only) -> put, rm: {used, quota}; get: {name, data}. */
#define CTL_CMD_SHARD "shard"
#define CTL_KEY_ACTION "action"
#define CTL_KEY_NAME "name"
#define CTL_KEY_DATA "data"
#define CTL_SHARD_PUT "put"
#define CTL_SHARD_GET "get"
#define CTL_SHARD_RM "rm"
/* kith shard drop: peer -> {freed}. */
#define CTL_CMD_SHARD_DROP "shard.drop"
/* kith services: peer -> [{name, url, interval_s, timeout_s}], as the
 * peer answered. */
#define CTL_CMD_SERVICES "services"
/* kith service add: name, url (text), expect_status? (uint),
 * expect_body? (text), interval?, timeout?, tls_warn? (text, durations),
 * and a DNS plan: dns_name?, primary?, standby? (text, addresses joined
 * by commas), ttl? (uint seconds) -> {name, monitors, dns_zone?,
 * dns_holders?}. */
#define CTL_CMD_SERVICE_ADD "service.add"
#define CTL_KEY_URL "url"
#define CTL_KEY_EXPECT_STATUS "expect_status"
#define CTL_KEY_EXPECT_BODY "expect_body"
#define CTL_KEY_INTERVAL "interval"
#define CTL_KEY_TIMEOUT "timeout"
#define CTL_KEY_TLS_WARN "tls_warn"
#define CTL_KEY_DNS_NAME "dns_name"
#define CTL_KEY_PRIMARY "primary"
#define CTL_KEY_STANDBY "standby"
#define CTL_KEY_TTL "ttl"
/* kith service set: name and any argument of service.add, or no_dns
 * (bool) to drop the plan; what is not given stays -> as service.add. */
#define CTL_CMD_SERVICE_SET "service.set"
#define CTL_KEY_NO_DNS "no_dns"
/* kith service rm: name -> {removed}. */
#define CTL_CMD_SERVICE_RM "service.rm"
/* kith service ls: no arguments -> [{name, url, interval_s, timeout_s,
 * expect_status, monitors}]. */
#define CTL_CMD_SERVICE_LS "service.ls"
/* kith health: no arguments -> [{owner, owner_name, service, verdict,
 * since, standby? (the DNS plan's), checked_here, observers: [{id,
 * status, standby?, latency_ms, age, error}]}]. */
#define CTL_CMD_HEALTH "health"
/* kith contact add|rm: action (text, CTL_CONTACT_*), uri (text) -> [text],
 * the contacts now. */
#define CTL_CMD_CONTACT "contact"
#define CTL_KEY_URI "uri"
#define CTL_CONTACT_ADD "add"
#define CTL_CONTACT_RM "rm"
/* kith record import beside a running agent: record (binary, a signed
 * record) -> {author, kind, seq, result: CTL_IMPORT_*}. */
#define CTL_CMD_RECORD_IMPORT "record.import"
#define CTL_KEY_RECORD "record"
#define CTL_IMPORT_STORED "stored"
#define CTL_IMPORT_HELD "already held"
/* kith backup, the partners that keep our shards: no arguments ->
 * [{id, quota, count, alive}], one per member whose grant lets us store
 * now (quota: its SIZE, count: the most shards it keeps). */
#define CTL_CMD_BACKUP_HOLDERS "backup.holders"
/* kith backup, one hold.* request to a holder, relayed as is: peer, op
 * (text, a hold.* op of proto/ops.h), args? (binary, the op's encoded
 * arguments) -> the holder's encoded result (binary). A refusal is an
 * error reply whose code says why: KITH_EQUOTA, -ENOENT, KITH_ENOGRANT,
 * -EAGAIN (the holder is busy: send it again in a moment), KITH_EVALUE
 * (the request was wrong, or the holder failed), -ETIMEDOUT, -EBUSY (too
 * many in flight at kithd). */
#define CTL_CMD_HOLD "hold"
/* kith backup, a snapshot's root: name (text, "backup/..."), body
 * (binary, sealed by kith; empty: forget it) -> {seq}. kithd signs and
 * publishes it as a "backup" record, with the seqs it hands out. */
#define CTL_CMD_BACKUP_PUBLISH "backup.publish"
#define CTL_KEY_BODY "body"
#define CTL_KEY_OP "op"
#define CTL_KEY_ARGS "args"

/* ---- reply keys ----
 *
 * The keys of the replies' data, each defined once: the constant is the
 * key in capitals, but for CTL_REPLY_SHARD_DATA and CTL_REPLY_OBS_ERROR
 * (CTL_REPLY_DATA and CTL_REPLY_ERROR are the envelope's). Grouped by the
 * first command whose reply has the key. */

/* members (and status, admit, grant, grants, health's observers) */
#define CTL_REPLY_ID "id"
#define CTL_REPLY_NAME "name"
#define CTL_REPLY_STATE "state"
#define CTL_REPLY_ENDPOINT "endpoint"
#define CTL_REPLY_INCARNATION "incarnation"
#define CTL_REPLY_LAST_SEEN "last_seen"
#define CTL_REPLY_SINCE "since"
#define CTL_REPLY_SELF "self"
/* invite (and grant, grants, dns.check) */
#define CTL_REPLY_TOKEN "token"
#define CTL_REPLY_EXPIRES "expires"
#define CTL_REPLY_USES "uses"
#define CTL_REPLY_SCOPES "scopes"
/* join (and status) */
#define CTL_REPLY_FOUNDER "founder"
#define CTL_REPLY_MEMBERS "members"
/* grant, grants */
#define CTL_REPLY_SUBJECT "subject"
#define CTL_REPLY_ISSUER "issuer"
#define CTL_REPLY_DIRECTION "direction"
#define CTL_REPLY_ISSUED "issued"
#define CTL_REPLY_REVOKED "revoked" /* grants: when (0: never); revoke: the IDs */
/* revoke */
#define CTL_REPLY_EJECTED "ejected"
/* dns.check */
#define CTL_REPLY_ZONE "zone"
#define CTL_REPLY_GRANT "grant"
#define CTL_REPLY_PROVIDER "provider"
#define CTL_REPLY_TIME "time"
#define CTL_REPLY_PRIMARY "primary"
#define CTL_REPLY_TTL "ttl"
#define CTL_REPLY_PIN "pin"
#define CTL_REPLY_STANDBY_VERDICT "standby_verdict"
#define CTL_REPLY_ACTING "acting"
#define CTL_REPLY_LAST_CHANGE "last_change"
#define CTL_REPLY_BY "by"
#define CTL_REPLY_TYPE "type"
#define CTL_REPLY_FROM "from"
#define CTL_REPLY_TO "to"
#define CTL_REPLY_WHY "why" /* and result, as record.import's */
#define CTL_REPLY_SERVER "server"
/* shard (name and data for get), shard.drop */
#define CTL_REPLY_USED "used"
#define CTL_REPLY_QUOTA "quota"
#define CTL_REPLY_COUNT "count"
#define CTL_REPLY_ALIVE "alive"
#define CTL_REPLY_SHARD_DATA "data"
#define CTL_REPLY_FREED "freed"
/* services, service.add, service.rm, service.ls */
#define CTL_REPLY_URL "url"
#define CTL_REPLY_INTERVAL_S "interval_s"
#define CTL_REPLY_TIMEOUT_S "timeout_s"
#define CTL_REPLY_EXPECT_STATUS "expect_status"
#define CTL_REPLY_MONITORS "monitors"
#define CTL_REPLY_REMOVED "removed"
/* health */
#define CTL_REPLY_OWNER "owner"
#define CTL_REPLY_OWNER_NAME "owner_name"
#define CTL_REPLY_SERVICE "service"
#define CTL_REPLY_DNS_NAME "dns_name"
#define CTL_REPLY_DNS_ZONE "dns_zone"
#define CTL_REPLY_DNS_HOLDERS "dns_holders"
#define CTL_REPLY_VERDICT "verdict"
#define CTL_REPLY_CHECKED_HERE "checked_here"
#define CTL_REPLY_OBSERVERS "observers"
#define CTL_REPLY_STATUS "status"
#define CTL_REPLY_LATENCY_MS "latency_ms"
#define CTL_REPLY_AGE "age"
#define CTL_REPLY_OBS_ERROR "error"
/* health: the DNS plan's standby (verdict, and each observer's status) */
#define CTL_REPLY_STANDBY "standby"
/* record.import */
#define CTL_REPLY_AUTHOR "author"
#define CTL_REPLY_KIND "kind"
#define CTL_REPLY_SEQ "seq"
#define CTL_REPLY_RESULT "result"

/* status: {id, name, version, uptime, incarnation, listen, advertise,
 * records, founder, members: {a count per member state name}, received,
 * rejected, checks, store, connections, work: the maps below}. */
#define CTL_REPLY_VERSION "version"
#define CTL_REPLY_UPTIME "uptime"
#define CTL_REPLY_LISTEN "listen"
#define CTL_REPLY_ADVERTISE "advertise"
#define CTL_REPLY_RECORDS "records"
/* status.received */
#define CTL_REPLY_RECEIVED "received"
#define CTL_REPLY_MESSAGES "messages"
#define CTL_REPLY_RECORDS_STORED "records_stored"
#define CTL_REPLY_RECORDS_STALE "records_stale"
/* status.rejected */
#define CTL_REPLY_REJECTED "rejected"
#define CTL_REPLY_RECORDS_OVER_BUDGET "records_over_budget"
#define CTL_REPLY_MESSAGES_BUSY "messages_busy"
#define CTL_REPLY_MALFORMED_MESSAGES "malformed_messages"
#define CTL_REPLY_REQUESTS_REFUSED "requests_refused"
#define CTL_REPLY_JOINS_REFUSED "joins_refused"
#define CTL_REPLY_GUEST_MESSAGES "guest_messages"
#define CTL_REPLY_HANDSHAKES_REFUSED "handshakes_refused"
#define CTL_REPLY_PEERS_BANNED "peers_banned"
#define CTL_REPLY_RECORDS_NONMEMBER "records_nonmember"
#define CTL_REPLY_RECORDS_BAD_SIGNATURE "records_bad_signature"
#define CTL_REPLY_RECORDS_INVALID "records_invalid"
#define CTL_REPLY_MEMBERSHIP_UPDATES "membership_updates"
/* status.swim: this agent's failure detector since it started */
#define CTL_REPLY_SWIM "swim"
#define CTL_REPLY_PROBES "probes"
#define CTL_REPLY_ACKS "acks"
#define CTL_REPLY_INDIRECT_PROBES "indirect_probes"
#define CTL_REPLY_SUSPICIONS "suspicions"
#define CTL_REPLY_REFUTATIONS "refutations"
#define CTL_REPLY_DEATHS "deaths"
#define CTL_REPLY_LOCAL_HEALTH "local_health"
/* status.checks: the checks this agent runs for partners */
#define CTL_REPLY_CHECKS "checks"
#define CTL_REPLY_SERVICES "services"
#define CTL_REPLY_RUN "run"
#define CTL_REPLY_LAST_MINUTE "last_minute"
#define CTL_REPLY_UP "up"
#define CTL_REPLY_DEGRADED "degraded"
#define CTL_REPLY_DOWN "down"
#define CTL_REPLY_DEFERRED "deferred" /* and status.work */
/* status.store */
#define CTL_REPLY_STORE "store"
#define CTL_REPLY_USED_BYTES "used_bytes"
#define CTL_REPLY_MAP_BYTES "map_bytes"
#define CTL_REPLY_LIMIT_BYTES "limit_bytes"
#define CTL_REPLY_NEAR_FULL "near_full"
#define CTL_REPLY_PRUNED "pruned"
#define CTL_REPLY_DROPPED_EJECTED "dropped_ejected"
/* status.connections */
#define CTL_REPLY_CONNECTIONS "connections"
#define CTL_REPLY_INBOUND "inbound"
#define CTL_REPLY_CLOSED_SILENT "closed_silent"
#define CTL_REPLY_CLOSED_GUEST "closed_guest"
#define CTL_REPLY_CLOSED_ROUTING_ID "closed_routing_id"
/* status.work */
#define CTL_REPLY_WORK "work"
#define CTL_REPLY_HANDLED "handled"
#define CTL_REPLY_WAITING "waiting"
#define CTL_REPLY_RECORDS_MESSAGES_CUT_SHORT "records_messages_cut_short"
#define CTL_REPLY_LOG_LINES_HELD "log_lines_held"

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
 * entries, CTL_KEY_CMD (text, 1..CTL_CMD_MAX bytes) in any place, every other key
 * a distinct text of at most CTL_KEY_MAX bytes whose value is text, a
 * positive integer, a boolean or a binary. Returns 0 or a KITH_E* code:
 * KITH_EMISSING without CTL_KEY_CMD, KITH_EDUPKEY for a repeated key,
 * KITH_ETOOBIG past a limit, KITH_ETYPE for any other value type,
 * KITH_ETRAIL, KITH_ETRUNC, KITH_EMALFORMED, KITH_EVALUE (bad text). Never
 * writes outside *out, whatever the bytes; on error *out is unspecified. */
int ctl_request_decode(struct ctl_request *out, const uint8_t *buf, size_t len);

/* Copies the text argument key into out (n bytes, NUL-terminated).
 * Returns 0, -ENOENT (absent), KITH_ETYPE or KITH_ETOOBIG. */
int ctl_arg_text(const struct ctl_request *r, const char *key, char *out, size_t n);
int ctl_arg_uint(const struct ctl_request *r, const char *key, uint64_t *out);
/* Whether the request has argument key, of any type. */
bool ctl_arg_has(const struct ctl_request *r, const char *key);
/* An absent boolean reads as false. */
bool ctl_arg_flag(const struct ctl_request *r, const char *key);
/* The binary argument key, or NULL when it is absent or no binary. */
const struct ctl_arg *ctl_arg_bin(const struct ctl_request *r, const char *key);
/* Parses the peer ID argument key into peer; err (n bytes) says what is
 * wrong, for the admin. Returns 0, KITH_EMISSING or KITH_EVALUE. */
int ctl_arg_peer(const struct ctl_request *r, const char *key, uint8_t peer[PROTO_KEY_LEN],
                 char *err, size_t n);
/* Writes fmt into err (n bytes) and returns code: a command's refusal in
 * one statement, return ctl_fail(err, n, KITH_EVALUE, "...", ...). */
__attribute__((format(printf, 4, 5))) int ctl_fail(char *err, size_t n, int code, const char *fmt,
                                                   ...);

struct mp_buf;

/* One peer of an admit list. */
struct ctl_admit_entry {
	uint8_t peer[PROTO_KEY_LEN];
	char endpoint[PROTO_ENDPOINT_MAX + 1]; /* "" when none was given */
};

/* Appends to out the CTL_KEY_PEERS list of e[0..n) (borrowed): a
 * msgpack array of n entries, each an array of two texts [peer ID,
 * endpoint], the endpoint "" when none. Returns 0, KITH_ETOOBIG for n
 * above CTL_ADMIT_MAX, KITH_EVALUE for n of 0 or an endpoint that is no
 * valid text (mp_text_ok()), or -ENOMEM; out is left as it was on a
 * refusal. */
int ctl_admit_list_encode(struct mp_buf *out, const struct ctl_admit_entry *e, size_t n);

/* Decodes a CTL_KEY_PEERS list (buf borrowed) into out, which has room
 * for max entries (max at most CTL_ADMIT_MAX): 1..max entries as
 * ctl_admit_list_encode() writes them, each peer ID valid and listed
 * once, each endpoint at most PROTO_ENDPOINT_MAX bytes (its form is the
 * agent's to check). Returns 0 with *n_out entries, or a KITH_E* code
 * with err (n bytes) saying what is wrong and, for a bad entry, which
 * one ("peer 3 of 5: ..."): KITH_ETOOBIG past max, a length or two
 * items, KITH_EVALUE for an empty list, an entry of fewer items, a bad or
 * repeated peer ID, KITH_ETYPE, KITH_ETRUNC, KITH_EMALFORMED, KITH_ETRAIL
 * for bytes that are no such list. Never writes outside out[0..max),
 * whatever the bytes. */
int ctl_admit_list_decode(struct ctl_admit_entry *out, size_t max, size_t *n_out,
                          const uint8_t *buf, size_t len, char *err, size_t n);

/* Packs into out the reply to a command that returned rc: {"ok": true,
 * "data": data} (data holds one packed value, borrowed) or {"ok": false,
 * "error": err, or rc's text when err is empty, "code": -rc}; with "tag":
 * tag added when tag is not 0. A data buffer that ran out of memory makes
 * an error reply. */
void ctl_reply_pack(struct mp_buf *out, uint64_t tag, int rc, const char *err,
                    const struct mp_buf *data);

#endif
