/* Fuzz target: the member body (decode, then the round trip of body_fuzz.h). */
#include "body_fuzz.h"

BODY_FUZZ_TARGET(proto_member, proto_member_decode, proto_member_encode)
