/* Fuzz target: the revocation body (decode, then the round trip of body_fuzz.h). */
#include "body_fuzz.h"

BODY_FUZZ_TARGET(proto_revocation, proto_revocation_decode, proto_revocation_encode)
