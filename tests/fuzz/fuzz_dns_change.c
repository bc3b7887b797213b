/* Fuzz target: the dns-change body (decode, then the round trip of body_fuzz.h). */
#include "body_fuzz.h"

BODY_FUZZ_TARGET(proto_dns_change, proto_dns_change_decode, proto_dns_change_encode)
