/*
 * checksum.h - CAOM-2 metaChecksum and accMetaChecksum, byte-exact with the
 * Java reference (shared/reference/caom/NOTES.md, "Checksums").
 *
 * metaChecksum: MD5 over the entity UUID, metaProducer, then every set state
 * field in field-name order, depth first into value objects. accMetaChecksum:
 * MD5 over the raw metaChecksum and the children's raw accMetaChecksums,
 * children ordered by UUID. Both are written "md5:<32 hex>". The encoding
 * itself is checked byte for byte through the hooks of checksum_test.h.
 */
#ifndef CAOM2INGEST_CHECKSUM_H
#define CAOM2INGEST_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

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

#endif
