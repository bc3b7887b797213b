/* Fuzz target: the grant body (decode, then the round trip of body_fuzz.h). */
#include "body_fuzz.h"

BODY_FUZZ_TARGET(proto_grant, proto_grant_decode, proto_grant_encode)
