/* Error codes shared by every kith module.
 *
 * Functions return 0 on success, -errno for system errors, or one of the
 * KITH_E* codes below (all under -1000) for kith's own. proto_strerror()
 * names either kind. */
#ifndef KITH_PROTO_ERROR_H
#define KITH_PROTO_ERROR_H

enum kith_error {
	KITH_EMALFORMED = -1001, /* bytes are not valid msgpack */
	KITH_ETRUNC = -1002,     /* input ends inside a value */
	KITH_ETRAIL = -1003,     /* bytes left after the end */
	KITH_ETOOBIG = -1004,    /* a size, count or length is over its limit */
	KITH_EDEPTH = -1005,     /* nesting deeper than the limit */
	KITH_ETYPE = -1006,      /* a value has the wrong type */
	KITH_EVERSION = -1007,   /* unknown format version */
	KITH_EMISSING = -1008,   /* a required field is missing */
	KITH_EDUPKEY = -1009,    /* a map key appears twice */
	KITH_EVALUE = -1010,     /* a value is out of range or badly formed */
	KITH_EBADSIG = -1011,    /* signature does not match */
	KITH_EEXPIRED = -1012,   /* record expired */
	KITH_EFUTURE = -1013,    /* record issued in the future */
	KITH_EIDLEN = -1014,     /* peer ID has the wrong length */
	KITH_EIDCHAR = -1015,    /* peer ID has a character outside the alphabet */
	KITH_EIDCHECK = -1016,   /* peer ID check character does not match */
	KITH_EKEYSIZE = -1017,   /* identity file has the wrong size */
	KITH_EKEYMODE = -1018,   /* identity file readable by group or others */
	KITH_EKEYBAD = -1019,    /* identity file is corrupt */
	KITH_ESCHEMA = -1020,    /* store schema version mismatch */
	KITH_ESCOPE = -1021,     /* scope text is not a valid scope */
	KITH_ENOSPACE = -1022,   /* store map is full */
	KITH_EQUOTA = -1023,     /* over the quota a grant allows */
	KITH_EUSED = -1024,      /* invitation already used up */
	KITH_ENOGRANT = -1025,   /* no valid grant allows this */
	KITH_EREVOKED = -1026,   /* revoked */
	KITH_ECHECKSUM = -1027,  /* checksum does not match: damaged or incomplete */
	KITH_ETOOMANY = -1028,   /* over the number of items allowed (shards of an owner) */
	KITH_EDISKFULL = -1029,  /* the filesystem is full */
};

/* Returns a static string describing err (a KITH_E* code or -errno). */
const char *proto_strerror(int err);

#endif
