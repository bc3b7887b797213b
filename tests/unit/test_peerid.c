/* Peer ID text form: round trips, a vector computed independently (Python's
 * base64.b32encode plus the documented Damm check), and proof that every
 * single typo and every adjacent swap is caught. */
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/peerid.h"
#include "tap.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Index in text of the n-th ID character (dashes skipped). */
static size_t char_index(size_t n)
{
	return n + n / 7;
}

static void test_vector(void)
{
	uint8_t key[PROTO_KEY_LEN], back[PROTO_KEY_LEN];
	char text[PROTO_PEERID_TEXT_LEN + 1], s[PROTO_PEERID_SHORT_LEN + 1];

	for (int i = 0; i < PROTO_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	proto_peerid_format(text, key);
	ok(strcmp(text, "AAAQEAY-EAUDAOC-CAJBIFQ-YDIOB4V-IBCEQTC-QKRMFYY-YDENBWH-A5DYPQI") == 0,
	   "known vector formats as computed independently");
	is(strlen(text), PROTO_PEERID_TEXT_LEN, "text length");
	proto_peerid_short(s, key);
	ok(strcmp(s, "AAAQEAY") == 0, "short form is the first group");
	is(proto_peerid_parse(back, text, NULL, 0), 0, "known vector parses");
	ok(memcmp(back, key, sizeof(key)) == 0, "known vector round trips");
	is(proto_peerid_parse(back, "aaaqeay eauda0c-cajbifq-ydiob4v ibceqtcqkrmfyyydenbwha5dypqi",
	                      NULL, 0),
	   0, "lower case, spaces, no dashes and 0 for O are accepted");
	ok(memcmp(back, key, sizeof(key)) == 0, "lenient form gives the same key");
}

static void test_round_trips(void)
{
	uint8_t key[PROTO_KEY_LEN], back[PROTO_KEY_LEN];
	char text[PROTO_PEERID_TEXT_LEN + 1];
	int bad = 0;

	for (int i = 0; i < 2000; i++) {
		randombytes_buf(key, sizeof(key));
		proto_peerid_format(text, key);
		if (proto_peerid_parse(back, text, NULL, 0) != 0 || memcmp(back, key, sizeof(key)))
			bad++;
	}
	is(bad, 0, "2000 random keys round trip");
}

/* Every substitution of every character by every other letter of the
 * alphabet, and every swap of two adjacent different characters, fails. */
static void test_typos(void)
{
	uint8_t key[PROTO_KEY_LEN], back[PROTO_KEY_LEN];
	char text[PROTO_PEERID_TEXT_LEN + 1], typo[PROTO_PEERID_TEXT_LEN + 1];
	int missed_sub = 0, missed_swap = 0, subs = 0, swaps = 0;

	for (int k = 0; k < 50; k++) {
		randombytes_buf(key, sizeof(key));
		proto_peerid_format(text, key);
		for (size_t n = 0; n < PROTO_PEERID_CHARS; n++) {
			size_t at = char_index(n);
			for (int v = 0; v < 32; v++) {
				if (alphabet[v] == text[at])
					continue;
				memcpy(typo, text, sizeof(text));
				typo[at] = alphabet[v];
				subs++;
				if (proto_peerid_parse(back, typo, NULL, 0) == 0)
					missed_sub++;
			}
			if (n + 1 < PROTO_PEERID_CHARS) {
				size_t next = char_index(n + 1);
				if (text[at] == text[next])
					continue;
				memcpy(typo, text, sizeof(text));
				typo[at] = text[next];
				typo[next] = text[at];
				swaps++;
				if (proto_peerid_parse(back, typo, NULL, 0) == 0)
					missed_swap++;
			}
		}
	}
	is(missed_sub, 0, "every single-character typo is caught");
	is(missed_swap, 0, "every adjacent swap is caught");
	ok(subs > 80000 && swaps > 2500, "enough cases were tried");
}

static void test_errors(void)
{
	uint8_t key[PROTO_KEY_LEN];
	char text[PROTO_PEERID_TEXT_LEN + 1], bad[PROTO_PEERID_TEXT_LEN + 8], why[160];

	memset(key, 7, sizeof(key));
	proto_peerid_format(text, key);

	memcpy(bad, text, sizeof(text));
	bad[40] = '\0';
	is(proto_peerid_parse(key, bad, why, sizeof(why)), KITH_EIDLEN, "short ID: KITH_EIDLEN");
	ok(strstr(why, "35 characters") != NULL, "message counts the characters");

	snprintf(bad, sizeof(bad), "%sA", text);
	is(proto_peerid_parse(key, bad, why, sizeof(why)), KITH_EIDLEN, "long ID: KITH_EIDLEN");

	memcpy(bad, text, sizeof(text));
	bad[9] = '@';
	is(proto_peerid_parse(key, bad, why, sizeof(why)), KITH_EIDCHAR, "bad character");
	ok(strstr(why, "character 10 ('@')") != NULL, "message names the character and place");

	memcpy(bad, text, sizeof(text));
	bad[3] = '\t';
	is(proto_peerid_parse(key, bad, why, sizeof(why)), KITH_EIDCHAR, "control character");
	ok(strstr(why, "0x09") != NULL, "control character shown as a byte");

	memcpy(bad, text, sizeof(text));
	bad[char_index(20)] = bad[char_index(20)] == 'Q' ? 'R' : 'Q';
	is(proto_peerid_parse(key, bad, why, sizeof(why)), KITH_EIDCHECK, "typo: KITH_EIDCHECK");
	ok(strstr(why, "block 2") != NULL && strstr(why, "groups 3-4") != NULL,
	   "message names the block and groups");

	is(proto_peerid_parse(key, "", why, sizeof(why)), KITH_EIDLEN, "empty text");
	ok(strcmp(proto_strerror(KITH_EIDCHECK), "peer ID check character does not match") == 0,
	   "strerror names the check failure");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_vector();
	test_round_trips();
	test_typos();
	test_errors();
	return tap_done();
}
