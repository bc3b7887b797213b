/* Every kith error code has its own message; system codes use strerror. */
#include <errno.h>
#include <string.h>

#include "proto/error.h"
#include "tap.h"

int main(void)
{
	int distinct = 1;

	for (int a = KITH_EDISKFULL; a <= KITH_EMALFORMED; a++) {
		ok(strcmp(proto_strerror(a), "unknown error") != 0, proto_strerror(a));
		for (int b = a + 1; b <= KITH_EMALFORMED; b++)
			if (strcmp(proto_strerror(a), proto_strerror(b)) == 0)
				distinct = 0;
	}
	ok(distinct, "messages are distinct");
	ok(strcmp(proto_strerror(-ENOENT), strerror(ENOENT)) == 0, "-errno uses strerror");
	ok(strcmp(proto_strerror(-1999), "unknown error") == 0, "unknown code");
	return tap_done();
}
