/*
 * checksum.h - CAOM-2 metaChecksum and accMetaChecksum, byte-exact with the
 * Java reference (shared/reference/caom/NOTES.md, "Checksums").
 *
 * metaChecksum: MD5 over the entity UUID, metaProducer, then every set state
 * field in field-name order, depth first into value objects. accMetaChecksum:
 * MD5 over the raw metaChecksum and the children's raw accMetaChecksums,
 * children ordered by UUID. Both are written "md5:<32 hex>".
 */
#ifndef CAOM2INGEST_CHECKSUM_H
#define CAOM2INGEST_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct caom_observation;

/* One stored checksum that differs from the recomputed value. */
struct checksum_mismatch {
	const char	*entity;	/* "SimpleObservation", "Plane", "Chunk", ... */
	char		 id[37];	/* entity UUID */
	const char	*which;		/* "metaChecksum" or "accMetaChecksum" */
	char		 expected[40];	/* stored "md5:..." or "(absent)" */
	char		 computed[40];	/* recomputed "md5:..." */
};

/* Called once per mismatch by checksum_verify. */
typedef void (*checksum_report_fn)(const struct checksum_mismatch *m, void *arg);

/* Compute and store both checksums of every entity of obs. */
void checksum_compute(struct caom_observation *obs);
/* Recompute every checksum of obs, call fn (may be NULL) per mismatch, return their number. */
int checksum_verify(const struct caom_observation *obs, checksum_report_fn fn, void *arg,
    size_t *nentities);
/* Format a raw MD5 as "md5:<32 lower-case hex>" plus NUL. */
void checksum_format(const uint8_t md5[16], char out[37]);
/* Parse "md5:<32 hex>" into raw bytes; 0 or -1. */
int checksum_parse(const char *s, uint8_t md5[16]);
/* MD5 of everything left to read from fd; 0, or -1 with errno. */
int checksum_fd_md5(int fd, uint8_t out[16]);
/* Log every byte sequence fed to the digest to fp (NULL stops); for debugging. */
void checksum_set_trace(FILE *fp);

/* MD5 of one value encoded as the checksums encode it (primitive test vectors). */
void checksum_md5_bool(int v, uint8_t out[16]);
void checksum_md5_string(const char *s, uint8_t out[16]);
void checksum_md5_int32(int32_t v, uint8_t out[16]);
void checksum_md5_int64(int64_t v, uint8_t out[16]);
void checksum_md5_double(double v, uint8_t out[16]);
void checksum_md5_date(int64_t ms, uint8_t out[16]);

#endif
