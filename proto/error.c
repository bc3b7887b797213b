#include <string.h>

#include "error.h"

struct error_text {
	int code;
	const char *text;
};

static const struct error_text texts[] = {
    {KITH_EMALFORMED, "malformed msgpack"},
    {KITH_ETRUNC, "truncated input"},
    {KITH_ETRAIL, "trailing bytes after the end"},
    {KITH_ETOOBIG, "size, count or length over its limit"},
    {KITH_EDEPTH, "nesting too deep"},
    {KITH_ETYPE, "value of the wrong type"},
    {KITH_EVERSION, "unknown format version"},
    {KITH_EMISSING, "required field missing"},
    {KITH_EDUPKEY, "repeated map key"},
    {KITH_EVALUE, "value out of range or badly formed"},
    {KITH_EBADSIG, "bad signature"},
    {KITH_EEXPIRED, "record expired"},
    {KITH_EFUTURE, "record issued in the future"},
    {KITH_EIDLEN, "peer ID has the wrong length"},
    {KITH_EIDCHAR, "peer ID has a character outside its alphabet"},
    {KITH_EIDCHECK, "peer ID check character does not match"},
    {KITH_EKEYSIZE, "identity file has the wrong size"},
    {KITH_EKEYMODE, "identity file is readable by group or others (chmod 600 it)"},
    {KITH_EKEYBAD, "identity file is corrupt"},
    {KITH_ESCHEMA, "store was written by another schema version"},
    {KITH_ESCOPE, "invalid scope"},
    {KITH_ENOSPACE, "store is full (raise its map size)"},
    {KITH_EQUOTA, "over the quota of the grant"},
    {KITH_EUSED, "invitation already used"},
    {KITH_ENOGRANT, "no valid grant allows this"},
    {KITH_EREVOKED, "revoked"},
    {KITH_ECHECKSUM, "checksum does not match: damaged or incomplete copy"},
    {KITH_ETOOMANY, "over the number of items allowed"},
    {KITH_EDISKFULL, "disk full"},
};

const char *proto_strerror(int err)
{
	if (err > -1000)
		return strerror(-err);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].code == err)
			return texts[i].text;
	return "unknown error";
}
