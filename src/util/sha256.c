/*
 * sha256.c -- SHA-256 for the commit hash chain, over OpenSSL's libcrypto.
 *
 * The low-level SHA256_* calls are deprecated in OpenSSL 3 in favour of EVP, but EVP allocates a
 * context per digest; these keep the context in caller storage (stele_sha256_t) with no allocation,
 * and still use the processor's SHA extensions.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "util/sha256.h"

#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((stele_sha256_t *)0)->opaque),
               "stele_sha256_t is too small for SHA256_CTX");
_Static_assert(_Alignof(SHA256_CTX) <= 8, "stele_sha256_t is not aligned enough for SHA256_CTX");
_Static_assert(SHA256_DIGEST_LENGTH == STELE_SHA256_BYTES, "SHA-256 digest size");

static SHA256_CTX *impl(stele_sha256_t *ctx) { return (SHA256_CTX *)(void *)ctx->opaque; }

void stele__sha256_init(stele_sha256_t *ctx) { SHA256_Init(impl(ctx)); }

void stele__sha256_update(stele_sha256_t *ctx, const void *data, size_t len) {
    SHA256_Update(impl(ctx), data, len);
}

void stele__sha256_final(stele_sha256_t *ctx, uint8_t out[STELE_SHA256_BYTES]) {
    SHA256_Final(out, impl(ctx));
}

void stele__sha256(const void *data, size_t len, uint8_t out[STELE_SHA256_BYTES]) {
    stele_sha256_t ctx;
    stele__sha256_init(&ctx);
    stele__sha256_update(&ctx, data, len);
    stele__sha256_final(&ctx, out);
}

void stele__hex(const uint8_t *bytes, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}
