/* Which IP addresses count as public: the guard that keeps checks and
 * alerts a peer chose off our own host and network ([monitoring]
 * refuse_private, agent/core/web.c).
 *
 * An address is public when the IANA Special-Purpose Address Registries
 * call it globally reachable (or list it not at all) and, for IPv6, when it
 * lies in 2000::/3, the only block IANA allocates as global unicast. Every
 * IPv6 form that carries an IPv4 address is judged by that address as
 * well: IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4
 * 2002:AABB:CCDD::/48, Teredo 2001:0::/32 (server and obfuscated client)
 * and ISATAP interface identifiers ::0:5efe:a.b.c.d and ::200:5efe:a.b.c.d
 * under any prefix. IPv4-compatible ::a.b.c.d, IPv4-translated
 * ::ffff:0:a.b.c.d and the local-use NAT64 prefix 64:ff9b:1::/48 are never
 * public. What it cannot know: a NAT64 translator of the operator's own
 * under a network-specific prefix (RFC 6052), or a public address routed
 * to a private network; firewalls remain the operator's.
 *
 * Pure functions: no I/O, no state, any input. Addresses are in network
 * byte order, borrowed for the call. */
#ifndef KITH_AGENT_CORE_ADDR_H
#define KITH_AGENT_CORE_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

/* a: 4 bytes. */
bool addr_ipv4_is_public(const uint8_t a[4]);
/* a: 16 bytes. */
bool addr_ipv6_is_public(const uint8_t a[16]);
/* sa holds len bytes of a socket address: AF_INET or AF_INET6 with len at
 * least the size of its struct; any other family, or a short len, is not
 * public. */
bool addr_is_public(const struct sockaddr *sa, socklen_t len);

#endif
