/* Fuzz target: the record envelope, then the body of a known kind. */
#include <stdint.h>
#include <stdlib.h>

#include "proto/body.h"
#include "proto/record.h"

/* A fixed clock, so that a crash replays the same way on any day. */
#define NOW 1700000000ULL

static void decode_body(const struct proto_record *rec)
{
	static union {
		struct proto_member member;
		struct proto_service_record service;
		struct proto_observation observation;
		struct proto_grant grant;
		struct proto_revocation revocation;
		struct proto_admission admission;
	} u;
	switch (rec->kind) {
	case PROTO_KIND_MEMBER:
		proto_member_decode(&u.member, rec->body, rec->body_len);
		break;
	case PROTO_KIND_SERVICE:
		/* A service record's body is the sealed form (body.h). */
		proto_service_record_decode(&u.service, rec->body, rec->body_len);
		break;
	case PROTO_KIND_ADMISSION:
		proto_admission_decode(&u.admission, rec->body, rec->body_len);
		break;
	case PROTO_KIND_OBSERVATION:
		proto_observation_decode(&u.observation, rec->body, rec->body_len);
		break;
	case PROTO_KIND_GRANT:
		proto_grant_decode(&u.grant, rec->body, rec->body_len);
		break;
	case PROTO_KIND_REVOCATION:
		proto_revocation_decode(&u.revocation, rec->body, rec->body_len);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_record rec;
	if (proto_record_decode(&rec, data, size))
		return 0;
	/* The decoder's promises, checked on every record it accepts. */
	if (rec.kind == 0 || rec.seq == 0 || rec.expires < rec.issued ||
	    rec.body_len > PROTO_BODY_MAX || rec.signed_bytes < data ||
	    rec.signed_bytes + rec.signed_len > data + size)
		abort();
	proto_record_verify(&rec);
	proto_record_check_time(&rec, NOW);
	proto_kind_name(rec.kind);
	/* The fuzzer cannot forge signatures: bodies are decoded whatever the
	 * verification said, so that they are fuzzed through the envelope. */
	if (rec.body_len)
		decode_body(&rec);
	return 0;
}
