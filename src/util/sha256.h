/*
 * sha256.h -- SHA-256 for the commit hash chain, over OpenSSL's libcrypto (which uses the SHA
 * extensions of the processor where present). No allocation.
 */
#ifndef STELE_UTIL_SHA256_H
#define STELE_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define STELE_SHA256_BYTES 32

typedef struct stele_sha256 {
    /* large enough and aligned for OpenSSL's SHA256_CTX (checked by a static assertion) */
    _Alignas(8) unsigned char opaque[128];
} stele_sha256_t;

void stele__sha256_init(stele_sha256_t *ctx);
void stele__sha256_update(stele_sha256_t *ctx, const void *data, size_t len);
void stele__sha256_final(stele_sha256_t *ctx, uint8_t out[STELE_SHA256_BYTES]);
void stele__sha256(const void *data, size_t len, uint8_t out[STELE_SHA256_BYTES]);
/* Lower-case hex of a hash into out (65 bytes with the NUL). */
void stele__hex(const uint8_t *bytes, size_t len, char *out);

#endif
