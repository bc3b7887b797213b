/* Every limit applied to bytes kith did not produce itself.
 *
 * Decoders check each size, count, length and depth against these before
 * they use it; nothing from a peer, a file or the control socket is trusted
 * to be small. Changing a limit changes the protocol: docs/protocol.md lists
 * them too. */
#ifndef KITH_PROTO_LIMITS_H
#define KITH_PROTO_LIMITS_H

/* Keys and signatures (Ed25519, X25519). */
#define PROTO_KEY_LEN 32
#define PROTO_SIG_LEN 64

/* Whole encoded record, envelope included. */
#define PROTO_RECORD_MAX 65536
/* Record body inside the envelope. */
#define PROTO_BODY_MAX 61440
/* Record name (bytes, no NUL, no control characters). */
#define PROTO_NAME_MAX 128
/* Deepest msgpack nesting any kith structure uses, with room to skip
 * unknown optional values. */
#define PROTO_DEPTH_MAX 8
/* Entries in any one map, and items in any one array unless a tighter
 * limit below applies. */
#define PROTO_MAP_MAX 64
#define PROTO_ARRAY_MAX 1024

/* member body */
#define PROTO_MEMBER_NAME_MAX 64
#define PROTO_ENDPOINTS_MAX 8
#define PROTO_ENDPOINT_MAX 255
#define PROTO_CONTACTS_MAX 16
#define PROTO_CONTACT_MAX 511
#define PROTO_VERSION_MAX 63

/* service body */
#define PROTO_SERVICE_NAME_MAX 63
#define PROTO_URL_MAX 2047
#define PROTO_EXPECT_BODY_MAX 255

/* grant and revocation bodies */
#define PROTO_SCOPES_MAX 16
#define PROTO_SCOPE_MAX 300
#define PROTO_GRANT_ID_MAX 64
#define PROTO_SEALED_MAX 4096
#define PROTO_REASON_MAX 255

/* observation body */
#define PROTO_ERRTEXT_MAX 255

/* wire messages */
#define PROTO_MSG_MAX (16 << 20)   /* any message, whatever max_message says */
#define PROTO_UPDATES_MAX 32       /* membership updates per message */
#define PROTO_DIGEST_MAX 4096      /* authors in a heads digest */
#define PROTO_BLOCKS_MAX 4096      /* author blocks in a RECORDS message */
#define PROTO_MSG_RECORDS_MAX 8192 /* records in a RECORDS message */

/* Clock skew allowed when judging issued and expires, in seconds. */
#define PROTO_CLOCK_SKEW 300

/* The largest duration and size proto_duration_parse() and
 * proto_size_parse() accept (proto/units.h), whoever wrote the text: the
 * command line, kithd.conf, a control request or a peer's scope.
 * - Durations: 10 years (3650d). The longest lifetimes kith knows are a
 *   grant's (default 365d) and an invitation's (7d); a trust relation meant
 *   to last longer is renewed, not granted for a century. In milliseconds
 *   10 years is 3.2e11, so now + duration never comes near overflowing 64
 *   bits in seconds or milliseconds, whatever the clock says.
 * - Sizes: 1 PiB (1024T). No collective lends a partner more disk than
 *   that (a large server holds about 0.1 PiB), and sums of quotas and
 *   usage stay 2^14 times below 2^64 bytes. */
#define PROTO_DURATION_MAX_MS (3650ULL * 86400 * 1000)
#define PROTO_SIZE_MAX (1ULL << 50)

/* The largest shard count a backup scope may give (backup:SIZE:COUNT,
 * proto/scope.h): 2^28, what fills the largest quota (PROTO_SIZE_MAX) with
 * the largest shards (PROTO_SHARD_MAX, 4 MiB). A holder keeps one file and
 * one index entry per shard; more than that many is no longer a backup but
 * a file system's worth of inodes. */
#define PROTO_BACKUP_COUNT_MAX (1U << 28)

#endif
