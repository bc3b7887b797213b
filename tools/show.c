#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "json.h"
#include "show.h"

void show_time(char *buf, size_t n, uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > (uint64_t)INT64_MAX / 2 || !gmtime_r(&tt, &tm) ||
	    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "%" PRIu64, t);
}

/* Decoded bodies, one per known kind. */
union body {
	struct proto_member member;
	struct proto_service_record service;
	struct proto_observation observation;
	struct proto_grant grant;
	struct proto_revocation revocation;
	struct proto_admission admission;
};

/* Decodes rec's body into b; returns 0, a decode error, or 1 for a kind
 * without a codec (or a tombstone). */
static int decode_body(union body *b, const struct proto_record *rec)
{
	if (rec->body_len == 0)
		return 1;
	switch (rec->kind) {
	case PROTO_KIND_MEMBER:
		return proto_member_decode(&b->member, rec->body, rec->body_len);
	case PROTO_KIND_SERVICE:
		return proto_service_record_decode(&b->service, rec->body, rec->body_len);
	case PROTO_KIND_OBSERVATION:
		return proto_observation_decode(&b->observation, rec->body, rec->body_len);
	case PROTO_KIND_GRANT:
		return proto_grant_decode(&b->grant, rec->body, rec->body_len);
	case PROTO_KIND_REVOCATION:
		return proto_revocation_decode(&b->revocation, rec->body, rec->body_len);
	case PROTO_KIND_ADMISSION:
		return proto_admission_decode(&b->admission, rec->body, rec->body_len);
	}
	return 1;
}

static void kind_text(char *buf, size_t n, unsigned kind)
{
	const char *name = proto_kind_name(kind);

	if (name)
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "kind-%u", kind);
}

static void print_scopes(FILE *f, const struct proto_grant *g, int json)
{
	char text[PROTO_SCOPE_MAX + 1];

	for (uint32_t i = 0; i < g->n_scopes; i++) {
		if (proto_scope_format(&g->scopes[i], text, sizeof(text)) != 0)
			snprintf(text, sizeof(text), "?");
		if (json) {
			if (i)
				fputc(',', f);
			json_cstring(f, text);
		} else {
			fprintf(f, " %s", text);
		}
	}
}

static void summary_text(FILE *f, const struct proto_record *rec, const union body *b)
{
	char id[PROTO_PEERID_SHORT_LEN + 1];

	switch (rec->kind) {
	case PROTO_KIND_MEMBER:
		fprintf(f, "\"%s\", %u endpoints, %u contacts", b->member.name,
		        b->member.n_endpoints, b->member.n_contacts);
		break;
	case PROTO_KIND_SERVICE:
		fprintf(f, "every %us, details sealed to %u reader(s)", b->service.interval_s,
		        b->service.n_boxes);
		break;
	case PROTO_KIND_OBSERVATION:
		fprintf(f, "%s %ums", proto_status_name(b->observation.status),
		        b->observation.latency_ms);
		break;
	case PROTO_KIND_GRANT:
		proto_peerid_short(id, b->grant.subject);
		fprintf(f, "to %s:", id);
		print_scopes(f, &b->grant, 0);
		break;
	case PROTO_KIND_REVOCATION:
		if (b->revocation.target == PROTO_REVOKE_GRANT) {
			fprintf(f, "grant %s", b->revocation.grant_id);
		} else {
			proto_peerid_short(id, b->revocation.member);
			fprintf(f, "member %s", id);
		}
		break;
	case PROTO_KIND_ADMISSION:
		proto_peerid_short(id, b->admission.subject);
		fprintf(f, "admits %s at %s", id,
		        b->admission.endpoint[0] ? b->admission.endpoint : "(no endpoint)");
		break;
	}
}

void show_record_header(FILE *f)
{
	fprintf(f, "%-8s %-12s %-20s %6s  %-20s  %s\n", "AUTHOR", "KIND", "NAME", "SEQ", "EXPIRES",
	        "CONTENT");
}

void show_record_line(FILE *f, const struct proto_record *rec)
{
	char author[PROTO_PEERID_SHORT_LEN + 1], kind[16], expires[32], name[24];
	union body b;
	int err = decode_body(&b, rec);

	/* Long names (an admission's is 64 hex digits) would break the
	 * columns: --json has them whole. */
	if (strlen(rec->name) > 20)
		snprintf(name, sizeof(name), "%.17s...", rec->name);
	else
		snprintf(name, sizeof(name), "%.20s", rec->name[0] ? rec->name : "-");
	proto_peerid_short(author, rec->author);
	kind_text(kind, sizeof(kind), rec->kind);
	show_time(expires, sizeof(expires), rec->expires);
	fprintf(f, "%-8s %-12s %-20s %6" PRIu64 "  %-20s  ", author, kind, name, rec->seq, expires);
	if (rec->body_len == 0)
		fprintf(f, "(deleted)");
	else if (err == 1)
		fprintf(f, "(%zu bytes)", rec->body_len);
	else if (err)
		fprintf(f, "(unreadable body: %s)", proto_strerror(err));
	else
		summary_text(f, rec, &b);
	fputc('\n', f);
}

/* A JSON array of the n strings at base, stride bytes apart. */
static void json_strings(FILE *f, const char *key, const char *base, uint32_t n, size_t stride)
{
	json_key(f, key, 0);
	fputc('[', f);
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_cstring(f, base + i * stride);
	}
	fputc(']', f);
}

static void body_json(FILE *f, const struct proto_record *rec, const union body *b)
{
	char id[PROTO_PEERID_TEXT_LEN + 1];

	fputc('{', f);
	switch (rec->kind) {
	case PROTO_KIND_MEMBER:
		json_key(f, "name", 1);
		json_cstring(f, b->member.name);
		json_strings(f, "endpoints", b->member.endpoints[0], b->member.n_endpoints,
		             sizeof(b->member.endpoints[0]));
		json_strings(f, "contacts", b->member.contacts[0], b->member.n_contacts,
		             sizeof(b->member.contacts[0]));
		json_key(f, "version", 0);
		json_cstring(f, b->member.version);
		break;
	case PROTO_KIND_SERVICE:
		fprintf(f, "\"interval_s\":%u", b->service.interval_s);
		json_key(f, "readers", 0);
		fputc('[', f);
		for (uint32_t i = 0; i < b->service.n_boxes; i++) {
			proto_peerid_format(id, b->service.boxes[i].reader);
			if (i)
				fputc(',', f);
			json_cstring(f, id);
		}
		fputc(']', f);
		break;
	case PROTO_KIND_OBSERVATION:
		proto_peerid_format(id, b->observation.owner);
		json_key(f, "owner", 1);
		json_cstring(f, id);
		json_key(f, "service", 0);
		json_cstring(f, b->observation.service);
		json_key(f, "status", 0);
		json_cstring(f, proto_status_name(b->observation.status));
		fprintf(f, ",\"latency_ms\":%u,\"checked_at\":%" PRIu64 ",\"tls_expires\":%" PRIu64,
		        b->observation.latency_ms, b->observation.checked_at,
		        b->observation.tls_expires);
		json_key(f, "error", 0);
		json_cstring(f, b->observation.error);
		break;
	case PROTO_KIND_GRANT:
		proto_peerid_format(id, b->grant.subject);
		json_key(f, "subject", 1);
		json_cstring(f, id);
		json_key(f, "scopes", 0);
		fputc('[', f);
		print_scopes(f, &b->grant, 1);
		fputc(']', f);
		fprintf(f, ",\"not_before\":%" PRIu64 ",\"sealed_bytes\":%zu", b->grant.not_before,
		        b->grant.sealed_len);
		break;
	case PROTO_KIND_REVOCATION:
		json_key(f, "target", 1);
		if (b->revocation.target == PROTO_REVOKE_GRANT) {
			json_cstring(f, "grant");
			json_key(f, "grant", 0);
			json_cstring(f, b->revocation.grant_id);
		} else {
			proto_peerid_format(id, b->revocation.member);
			json_cstring(f, "member");
			json_key(f, "member", 0);
			json_cstring(f, id);
		}
		json_key(f, "reason", 0);
		json_cstring(f, b->revocation.reason);
		break;
	case PROTO_KIND_ADMISSION:
		proto_peerid_format(id, b->admission.subject);
		json_key(f, "subject", 1);
		json_cstring(f, id);
		json_key(f, "endpoint", 0);
		json_cstring(f, b->admission.endpoint);
		break;
	}
	fputc('}', f);
}

void show_record_json(FILE *f, const struct proto_record *rec)
{
	char author[PROTO_PEERID_TEXT_LEN + 1], kind[16];
	union body b;
	int err = decode_body(&b, rec);

	proto_peerid_format(author, rec->author);
	kind_text(kind, sizeof(kind), rec->kind);
	fputc('{', f);
	json_key(f, "author", 1);
	json_cstring(f, author);
	json_key(f, "kind", 0);
	json_cstring(f, kind);
	json_key(f, "name", 0);
	json_cstring(f, rec->name);
	fprintf(f,
	        ",\"seq\":%" PRIu64 ",\"issued\":%" PRIu64 ",\"expires\":%" PRIu64
	        ",\"body_bytes\":%zu",
	        rec->seq, rec->issued, rec->expires, rec->body_len);
	json_key(f, "body", 0);
	if (err == 0)
		body_json(f, rec, &b);
	else
		fputs("null", f);
	if (err < 0) {
		json_key(f, "body_error", 0);
		json_cstring(f, proto_strerror(err));
	}
	fputc('}', f);
}
