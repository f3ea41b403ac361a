/*
 * test_sha256.c -- SHA-256 against the FIPS 180-2 example vectors, and incremental hashing split at
 * every point giving the one-shot digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/sha256.h"

#include <string.h>

static void hex_of(const void *data, size_t len, char out[65]) {
    uint8_t digest[STELE_SHA256_BYTES];
    stele__sha256(data, len, digest);
    stele__hex(digest, sizeof digest, out);
}

static void test_fips_vectors(void **state) {
    (void)state;
    char hex[65];
    hex_of("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(strlen(m448) * 8, 448);
    hex_of(m448, strlen(m448), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_million_a_incremental(void **state) {
    (void)state;
    char block[1000];
    memset(block, 'a', sizeof block);
    stele_sha256_t ctx;
    stele__sha256_init(&ctx);
    for (int i = 0; i < 1000; i++)
        stele__sha256_update(&ctx, block, sizeof block);
    uint8_t digest[STELE_SHA256_BYTES];
    stele__sha256_final(&ctx, digest);
    char hex[65];
    stele__hex(digest, sizeof digest, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_incremental_equals_one_shot(void **state) {
    (void)state;
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    uint8_t whole[STELE_SHA256_BYTES];
    stele__sha256(msg, sizeof msg, whole);
    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        stele_sha256_t ctx;
        uint8_t parts[STELE_SHA256_BYTES];
        stele__sha256_init(&ctx);
        stele__sha256_update(&ctx, msg, cut);
        stele__sha256_update(&ctx, msg + cut, sizeof msg - cut);
        stele__sha256_final(&ctx, parts);
        assert_memory_equal(parts, whole, sizeof whole);
    }
    /* A different message gives a different digest. */
    uint8_t other[STELE_SHA256_BYTES];
    msg[100] ^= 1;
    stele__sha256(msg, sizeof msg, other);
    assert_memory_not_equal(other, whole, sizeof whole);
}

static void test_hex(void **state) {
    (void)state;
    const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    memset(out, 'x', sizeof out);
    stele__hex(bytes, sizeof bytes, out);
    assert_string_equal(out, "000fa5ff");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_million_a_incremental),
        cmocka_unit_test(test_incremental_equals_one_shot),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
