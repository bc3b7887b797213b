/* Fuzz target: the observation body (decode, then the round trip of body_fuzz.h). */
#include "body_fuzz.h"

BODY_FUZZ_TARGET(proto_observation, proto_observation_decode, proto_observation_encode)
