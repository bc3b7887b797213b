/* Public or not: the tables of the IANA Special-Purpose Address Registries
 * and the IPv6 forms that embed an IPv4 address (see addr.h).
 *
 * Written by hand: neither glibc nor any library in Debian 12 that kith
 * links (libcurl, libzmq, ldns) says whether an address is globally
 * reachable; the IN6_IS_ADDR_* macros cover loopback, link-local,
 * site-local, multicast, mapped and compatible forms only.
 *
 * Each table entry is a prefix and what the registry says of it; the
 * longest matching prefix decides, as in a routing table, so that a
 * globally reachable entry inside a larger one that is not (192.0.0.9/32
 * inside 192.0.0.0/24) wins. */
#include <stddef.h>
#include <string.h>

#include <netinet/in.h>

#include "addr.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* IANA IPv4 Special-Purpose Address Registry,
 * https://www.iana.org/assignments/iana-ipv4-special-registry/ (as of
 * 2025): every entry, with its "Globally Reachable" column. Addresses in
 * no entry are public. */
static const struct v4_entry {
	uint8_t prefix[4];
	uint8_t bits;
	bool global;
} v4_table[] = {
    {{0, 0, 0, 0}, 8, false},          /* "this network" (0.0.0.0 reaches this host) */
    {{0, 0, 0, 0}, 32, false},         /* "this host on this network" */
    {{10, 0, 0, 0}, 8, false},         /* private-use, RFC 1918 */
    {{100, 64, 0, 0}, 10, false},      /* shared address space (CGNAT), RFC 6598 */
    {{127, 0, 0, 0}, 8, false},        /* loopback */
    {{169, 254, 0, 0}, 16, false},     /* link local (cloud metadata at .169.254) */
    {{172, 16, 0, 0}, 12, false},      /* private-use */
    {{192, 0, 0, 0}, 24, false},       /* IETF protocol assignments */
    {{192, 0, 0, 0}, 29, false},       /* IPv4 service continuity prefix */
    {{192, 0, 0, 8}, 32, false},       /* IPv4 dummy address */
    {{192, 0, 0, 9}, 32, true},        /* Port Control Protocol anycast */
    {{192, 0, 0, 10}, 32, true},       /* TURN anycast */
    {{192, 0, 0, 170}, 32, false},     /* NAT64/DNS64 discovery */
    {{192, 0, 0, 171}, 32, false},     /* NAT64/DNS64 discovery */
    {{192, 0, 2, 0}, 24, false},       /* documentation (TEST-NET-1) */
    {{192, 31, 196, 0}, 24, true},     /* AS112-v4 */
    {{192, 52, 193, 0}, 24, true},     /* AMT */
    {{192, 88, 99, 0}, 24, false},     /* deprecated 6to4 relay anycast, RFC 7526 */
    {{192, 168, 0, 0}, 16, false},     /* private-use */
    {{198, 18, 0, 0}, 15, false},      /* benchmarking */
    {{198, 51, 100, 0}, 24, false},    /* documentation (TEST-NET-2) */
    {{203, 0, 113, 0}, 24, false},     /* documentation (TEST-NET-3) */
    {{240, 0, 0, 0}, 4, false},        /* reserved */
    {{255, 255, 255, 255}, 32, false}, /* limited broadcast */
    /* Not in the registry but never a unicast destination: multicast
     * (IANA IPv4 Multicast Address Space Registry). */
    {{224, 0, 0, 0}, 4, false},
};

/* What to do with an IPv6 address under a prefix. */
enum v6_rule {
	V6_REFUSE,
	V6_PUBLIC,
	V6_EMBED_LOW32, /* IPv4 in the last 4 bytes: mapped, NAT64 well-known prefix */
	V6_EMBED_6TO4,  /* IPv4 in bytes 2..5 (RFC 3056) */
	V6_EMBED_TEREDO /* server IPv4 in bytes 4..7, client's in 12..15 inverted (RFC 4380) */
};

/* IANA IPv6 Special-Purpose Address Registry,
 * https://www.iana.org/assignments/iana-ipv6-special-registry/ (as of
 * 2025), every entry: not globally reachable is V6_REFUSE, globally
 * reachable V6_PUBLIC; the forms embedding an IPv4 address ("N/A" for
 * Teredo and 6to4) are judged by it. Above them the IANA IPv6 Address
 * Space registry: only 2000::/3 is global unicast, so what no entry
 * matches is refused (the rest is reserved, unique-local, link-local,
 * deprecated site-local fec0::/10 or multicast; ::/96, the deprecated
 * IPv4-compatible form, and ::ffff:0:0:0/96, the IPv4-translated one,
 * fall there too). Prefixes are written as the eight 16-bit groups. */
static const struct v6_entry {
	uint16_t prefix[8];
	uint8_t bits;
	enum v6_rule rule;
} v6_table[] = {
    {{0x2000}, 3, V6_PUBLIC},                        /* global unicast */
    {{0}, 128, V6_REFUSE},                           /* unspecified (reaches this host) */
    {{0, 0, 0, 0, 0, 0, 0, 1}, 128, V6_REFUSE},      /* loopback */
    {{0, 0, 0, 0, 0, 0xffff}, 96, V6_EMBED_LOW32},   /* IPv4-mapped */
    {{0x64, 0xff9b}, 96, V6_EMBED_LOW32},            /* NAT64 well-known prefix */
    {{0x64, 0xff9b, 1}, 48, V6_REFUSE},              /* NAT64 local-use, RFC 8215 */
    {{0x100}, 64, V6_REFUSE},                        /* discard-only */
    {{0x100, 0, 0, 1}, 64, V6_REFUSE},               /* dummy IPv6 prefix */
    {{0x2001}, 23, V6_REFUSE},                       /* IETF protocol assignments */
    {{0x2001, 0}, 32, V6_EMBED_TEREDO},              /* Teredo */
    {{0x2001, 1, 0, 0, 0, 0, 0, 1}, 128, V6_PUBLIC}, /* PCP anycast */
    {{0x2001, 1, 0, 0, 0, 0, 0, 2}, 128, V6_PUBLIC}, /* TURN anycast */
    {{0x2001, 1, 0, 0, 0, 0, 0, 3}, 128, V6_PUBLIC}, /* DNS-SD SRP anycast */
    {{0x2001, 2, 0}, 48, V6_REFUSE},                 /* benchmarking */
    {{0x2001, 3}, 32, V6_PUBLIC},                    /* AMT */
    {{0x2001, 4, 0x112}, 48, V6_PUBLIC},             /* AS112-v6 */
    {{0x2001, 0x10}, 28, V6_REFUSE},                 /* deprecated ORCHID */
    {{0x2001, 0x20}, 28, V6_PUBLIC},                 /* ORCHIDv2 */
    {{0x2001, 0x30}, 28, V6_PUBLIC},                 /* drone remote ID (DETs) */
    {{0x2001, 0xdb8}, 32, V6_REFUSE},                /* documentation */
    {{0x2002}, 16, V6_EMBED_6TO4},                   /* 6to4 */
    {{0x2620, 0x4f, 0x8000}, 48, V6_PUBLIC},         /* AS112 direct delegation */
    {{0x3fff}, 20, V6_REFUSE},                       /* documentation */
    {{0x5f00}, 16, V6_REFUSE},                       /* SRv6 SIDs */
    {{0xfc00}, 7, V6_REFUSE},                        /* unique-local */
    {{0xfe80}, 10, V6_REFUSE},                       /* link-local */
};

/* True when the first bits of a equal those of prefix. */
static bool in_prefix(const uint8_t *a, const uint8_t *prefix, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, prefix, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (prefix[full] & mask);
}

bool addr_ipv4_is_public(const uint8_t a[4])
{
	const struct v4_entry *best = NULL;

	for (size_t i = 0; i < N(v4_table); i++)
		if (in_prefix(a, v4_table[i].prefix, v4_table[i].bits) &&
		    (!best || v4_table[i].bits > best->bits))
			best = &v4_table[i];
	return !best || best->global;
}

/* The rule of the longest prefix of v6_table that holds a. */
static enum v6_rule v6_lookup(const uint8_t a[16])
{
	const struct v6_entry *best = NULL;

	for (size_t i = 0; i < N(v6_table); i++) {
		uint8_t prefix[16];
		for (size_t g = 0; g < 8; g++) {
			prefix[2 * g] = (uint8_t)(v6_table[i].prefix[g] >> 8);
			prefix[2 * g + 1] = (uint8_t)v6_table[i].prefix[g];
		}
		if (in_prefix(a, prefix, v6_table[i].bits) &&
		    (!best || v6_table[i].bits > best->bits))
			best = &v6_table[i];
	}
	return best ? best->rule : V6_REFUSE;
}

/* An ISATAP interface identifier (RFC 5214): 0000:5efe or 0200:5efe (the
 * universal bit set), then the IPv4 address; it may follow any prefix. */
static bool isatap_ok(const uint8_t a[16])
{
	if ((a[8] != 0x00 && a[8] != 0x02) || a[9] != 0 || a[10] != 0x5e || a[11] != 0xfe)
		return true;
	return addr_ipv4_is_public(a + 12);
}

/* Teredo: the server's IPv4 address, then the client's with every bit
 * inverted (the "obfuscated" address, so that NATs leave it alone). */
static bool teredo_ok(const uint8_t a[16])
{
	uint8_t client[4];

	for (size_t i = 0; i < 4; i++)
		client[i] = (uint8_t)~a[12 + i];
	return addr_ipv4_is_public(a + 4) && addr_ipv4_is_public(client);
}

bool addr_ipv6_is_public(const uint8_t a[16])
{
	switch (v6_lookup(a)) {
	case V6_PUBLIC:
		return isatap_ok(a);
	case V6_EMBED_LOW32:
		return addr_ipv4_is_public(a + 12);
	case V6_EMBED_6TO4:
		return addr_ipv4_is_public(a + 2) && isatap_ok(a);
	case V6_EMBED_TEREDO:
		return teredo_ok(a);
	case V6_REFUSE:
		break;
	}
	return false;
}

bool addr_is_public(const struct sockaddr *sa, socklen_t len)
{
	sa_family_t family;

	if (!sa || len < (socklen_t)(offsetof(struct sockaddr, sa_family) + sizeof(family)))
		return false;
	/* Copied, not read in place: sa may point to bytes of no particular
	 * alignment (libcurl hands over a struct curl_sockaddr). */
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof(family));
	if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;
		memcpy(&in, sa, sizeof(in));
		return addr_ipv4_is_public((const uint8_t *)&in.sin_addr);
	}
	if (family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in6;
		memcpy(&in6, sa, sizeof(in6));
		return addr_ipv6_is_public(in6.sin6_addr.s6_addr);
	}
	return false;
}
