/* The public-address guard: a table of addresses from every range of the
 * IANA special-purpose registries, and every IPv6 form that embeds an IPv4
 * address, with loopback, private and cloud-metadata addresses inside. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "agent/core/addr.h"
#include "tap.h"

static const struct {
	const char *text;
	bool public;
} cases[] = {
    /* IPv4: public */
    {"1.1.1.1", true},
    {"8.8.8.8", true},
    {"9.9.9.9", true},
    {"100.63.255.255", true}, /* just under CGNAT */
    {"100.128.0.0", true},    /* just over it */
    {"172.15.255.255", true},
    {"172.32.0.0", true},
    {"192.0.0.9", true},  /* PCP anycast, globally reachable */
    {"192.0.0.10", true}, /* TURN anycast */
    {"192.0.1.1", true},
    {"192.31.196.1", true}, /* AS112 */
    {"192.52.193.1", true}, /* AMT */
    {"192.167.255.255", true},
    {"198.17.255.255", true},
    {"198.20.0.0", true},
    {"223.255.255.255", true},
    /* IPv4: every entry that is not globally reachable */
    {"0.0.0.0", false},
    {"0.1.2.3", false},
    {"10.0.0.1", false},
    {"10.255.255.255", false},
    {"100.64.0.1", false},
    {"100.127.255.255", false},
    {"127.0.0.1", false},
    {"127.255.255.254", false},
    {"169.254.169.254", false},
    {"172.16.0.1", false},
    {"172.31.255.255", false},
    {"192.0.0.1", false},
    {"192.0.0.8", false},
    {"192.0.0.11", false},
    {"192.0.0.170", false},
    {"192.0.0.171", false},
    {"192.0.0.255", false},
    {"192.0.2.1", false},
    {"192.88.99.1", false},
    {"192.88.99.2", false},
    {"192.168.1.1", false},
    {"198.18.0.1", false},
    {"198.19.255.255", false},
    {"198.51.100.7", false},
    {"203.0.113.9", false},
    {"224.0.0.1", false},
    {"239.255.255.250", false},
    {"240.0.0.1", false},
    {"255.255.255.254", false},
    {"255.255.255.255", false},

    /* IPv6: public */
    {"2606:4700::1111", true},
    {"2001:4860::8888", true},
    {"2001:4860:4860::8888", true},
    {"2a00:1450:4007:80e::200e", true},
    {"2001:200::1", true},   /* just past 2001::/23 */
    {"2001:1::1", true},     /* PCP anycast */
    {"2001:1::2", true},     /* TURN anycast */
    {"2001:1::3", true},     /* DNS-SD SRP anycast */
    {"2001:3::1", true},     /* AMT */
    {"2001:4:112::1", true}, /* AS112-v6 */
    {"2001:20::1", true},    /* ORCHIDv2 */
    {"2001:30::1", true},    /* DETs */
    {"2620:4f:8000::1", true},
    {"3ffe:ffff::1", true},              /* inside 2000::/3, outside 3fff::/20 */
    {"3fff:1000::1", true},              /* just past 3fff::/20 */
    {"64:ff9b::101:101", true},          /* NAT64 of 1.1.1.1 */
    {"::ffff:1.1.1.1", true},            /* mapped 1.1.1.1 */
    {"2002:101:101::1", true},           /* 6to4 of 1.1.1.1 */
    {"2001:0:101:101::fefe:fefe", true}, /* Teredo: server and client 1.1.1.1 */
    {"2606:4700::5efe:101:101", true},   /* ISATAP of 1.1.1.1 */
    {"2606:4700::200:5efe:101:101", true},
    /* IPv6: every entry that is not globally reachable, and outside 2000::/3 */
    {"::", false},
    {"::1", false},
    {"::2", false},
    {"64:ff9b:1::1", false},
    {"64:ff9b:1::101:101", false},
    {"100::1", false},
    {"100::ffff:ffff:ffff:ffff", false},
    {"100:0:0:1::1", false},
    {"2001::", false},
    {"2001:1::4", false},
    {"2001:2::1", false},
    {"2001:10::1", false},
    {"2001:100::1", false},
    {"2001:1ff:ffff::1", false},
    {"2001:db8::1", false},
    {"3fff::1", false},
    {"3fff:fff::1", false},
    {"5f00::1", false},
    {"fc00::1", false},
    {"fd12:3456::1", false},
    {"fe80::1", false},
    {"febf::1", false},
    {"fec0::1", false},
    {"ff02::1", false},
    {"ff0e::1", false},
    {"4000::1", false},
    {"1000::1", false},
    {"64:ff9a::101:101", false},
    /* IPv4-compatible and IPv4-translated forms: never public */
    {"::1.1.1.1", false},
    {"::ffff:0:1.1.1.1", false},
    /* Teredo with a private server, or a public server and a private
     * client */
    {"2001:0:a00:1::fefe:fefe", false},
    {"2001:0:101:101::80ff:fffe", false},
    /* ISATAP under a public prefix with a private address */
    {"2606:4700::5efe:c0a8:101", false},
    {"2002:101:101::5efe:a00:1", false},
};

/* Every IPv6 form of the IPv4 address v4 (4 bytes): each must be refused
 * when v4 is not public. */
static void embedded_forms(const char *v4_text)
{
	uint8_t v4[4], a[16];
	char what[160];

	inet_pton(AF_INET, v4_text, v4);
	ok(!addr_ipv4_is_public(v4), v4_text);
	struct form {
		const char *name;
		uint8_t head[16];
		size_t at;
		bool invert;
	} forms[] = {
	    {"IPv4-mapped ::ffff:", {[10] = 0xff, [11] = 0xff}, 12, false},
	    {"IPv4-compatible ::", {0}, 12, false},
	    {"IPv4-translated ::ffff:0:", {[8] = 0xff, [9] = 0xff}, 12, false},
	    {"NAT64 64:ff9b::", {0, 0x64, 0xff, 0x9b}, 12, false},
	    {"NAT64 local-use 64:ff9b:1::", {0, 0x64, 0xff, 0x9b, 0, 1}, 12, false},
	    {"6to4 2002:", {0x20, 0x02}, 2, false},
	    {"Teredo server 2001:0:", {0x20, 0x01, [12] = 0xfe, 0xfe, 0xfe, 0xfe}, 4, false},
	    {"Teredo client (inverted)", {0x20, 0x01, 0, 0, 1, 1, 1, 1}, 12, true},
	    {"ISATAP 2606:4700::0:5efe:",
	     {0x26, 0x06, 0x47, 0x00, [10] = 0x5e, [11] = 0xfe},
	     12,
	     false},
	    {"ISATAP 2606:4700::200:5efe:",
	     {0x26, 0x06, 0x47, 0x00, [8] = 0x02, [10] = 0x5e, [11] = 0xfe},
	     12,
	     false},
	    {"ISATAP in 6to4 2002:101:101::5efe:",
	     {0x20, 0x02, 1, 1, 1, 1, [10] = 0x5e, [11] = 0xfe},
	     12,
	     false},
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memcpy(a, forms[i].head, 16);
		for (size_t k = 0; k < 4; k++)
			a[forms[i].at + k] = forms[i].invert ? (uint8_t)~v4[k] : v4[k];
		snprintf(what, sizeof(what), "%s%s refused", forms[i].name, v4_text);
		ok(!addr_ipv6_is_public(a), what);
	}
}

static bool public_text(const char *text)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return addr_is_public((struct sockaddr *)&ss, sizeof(*in));
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return addr_is_public((struct sockaddr *)&ss, sizeof(*in6));
	}
	printf("# bad test address %s\n", text);
	return !public_text("127.0.0.1"); /* fails the check */
}

static void test_sockaddr(void)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	struct sockaddr_storage unix_sa = {.ss_family = AF_UNIX};
	uint8_t bytes[sizeof(in6) + 1];

	inet_pton(AF_INET, "1.1.1.1", &in.sin_addr);
	ok(addr_is_public((struct sockaddr *)&in, sizeof(in)), "sockaddr_in 1.1.1.1");
	ok(!addr_is_public((struct sockaddr *)&in, sizeof(in) - 1), "short sockaddr_in");
	ok(!addr_is_public((struct sockaddr *)&in, 0), "zero length");
	ok(!addr_is_public(NULL, sizeof(in)), "NULL");
	ok(!addr_is_public((struct sockaddr *)&unix_sa, sizeof(unix_sa)), "AF_UNIX");
	inet_pton(AF_INET6, "2606:4700::1111", &in6.sin6_addr);
	ok(addr_is_public((struct sockaddr *)&in6, sizeof(in6)), "sockaddr_in6");
	ok(!addr_is_public((struct sockaddr *)&in6, sizeof(in6) - 1), "short sockaddr_in6");
	/* An unaligned copy, as libcurl's struct curl_sockaddr holds it. */
	memcpy(bytes + 1, &in6, sizeof(in6));
	ok(addr_is_public((struct sockaddr *)(bytes + 1), sizeof(in6)), "unaligned sockaddr_in6");
	in6.sin6_scope_id = 2;
	inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr);
	ok(!addr_is_public((struct sockaddr *)&in6, sizeof(in6)), "link-local with a scope");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[96];
		snprintf(what, sizeof(what), "%s is %s", cases[i].text,
		         cases[i].public ? "public" : "refused");
		ok(public_text(cases[i].text) == cases[i].public, what);
	}
	embedded_forms("127.0.0.1");
	embedded_forms("10.0.0.1");
	embedded_forms("169.254.169.254");
	embedded_forms("0.0.0.0");
	embedded_forms("192.168.0.1");
	test_sockaddr();
	return tap_done();
}
