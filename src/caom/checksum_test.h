/*
 * checksum_test.h - test hooks of checksum.c, for t/checksum.c only (nothing
 * in src/ calls them): the encoding of each primitive and the trace of every
 * byte sequence digested, so that the checksums can be checked byte for byte
 * against the Java reference's vectors and trace (NOTES.md, "Checksums").
 */
#ifndef CAOM2INGEST_CHECKSUM_TEST_H
#define CAOM2INGEST_CHECKSUM_TEST_H

#include <stdint.h>
#include <stdio.h>

/* One line per value fed to the digest on fp ("field.path -- MD5 of its bytes"); NULL stops. */
void checksum_set_trace(FILE *fp);

/* MD5 of one value encoded as the checksums encode it (primitive test vectors). */
void checksum_md5_bool(int v, uint8_t out[16]);
void checksum_md5_string(const char *s, uint8_t out[16]);
void checksum_md5_int32(int32_t v, uint8_t out[16]);
void checksum_md5_int64(int64_t v, uint8_t out[16]);
void checksum_md5_double(double v, uint8_t out[16]);
void checksum_md5_date(int64_t ms, uint8_t out[16]);

#endif
