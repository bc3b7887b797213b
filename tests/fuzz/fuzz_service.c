/* Fuzz target: the service body (decode, then the round trip of body_fuzz.h). */
#include "body_fuzz.h"

BODY_FUZZ_TARGET(proto_service, proto_service_decode, proto_service_encode)
