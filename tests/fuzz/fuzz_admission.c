/* Fuzz target: the admission body (decode, then the round trip of body_fuzz.h). */
#include "body_fuzz.h"

BODY_FUZZ_TARGET(proto_admission, proto_admission_decode, proto_admission_encode)
