/*
 * test_crc32c.c -- CRC-32C: published check values, chaining, and agreement of the SSE4.2 and
 * table implementations on random buffers of every length 0..300 at every alignment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/crc32c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* The check value and the iSCSI vectors of RFC 3720 (B.4), for one implementation. */
static void check_vectors(crc_fn crc) {
    uint8_t buf[32];
    assert_int_equal(crc(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc(0, "", 0), 0);
    memset(buf, 0, sizeof buf);
    assert_int_equal(crc(0, buf, sizeof buf), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(crc(0, buf, sizeof buf), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(crc(0, buf, sizeof buf), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(crc(0, buf, sizeof buf), 0x113FDB5Cu);
}

static void test_vectors_default(void **state) {
    (void)state;
    check_vectors(stele__crc32c);
}

static void test_vectors_table(void **state) {
    (void)state;
    check_vectors(stele__crc32c_sw);
}

static void test_vectors_hw(void **state) {
    (void)state;
    if (!stele__crc32c_hw_available())
        skip();
    check_vectors(stele__crc32c_hw);
}

static void test_chaining(void **state) {
    (void)state;
    const char *text = "The quick brown fox jumps over the lazy dog, twice over.";
    size_t len = strlen(text);
    uint32_t whole = stele__crc32c(0, text, len);
    for (size_t cut = 0; cut <= len; cut++) {
        uint32_t part = stele__crc32c(0, text, cut);
        assert_int_equal(stele__crc32c(part, text + cut, len - cut), whole);
        part = stele__crc32c_sw(0, text, cut);
        assert_int_equal(stele__crc32c_sw(part, text + cut, len - cut), whole);
    }
    /* A single flipped bit must change the checksum. */
    char copy[128];
    memcpy(copy, text, len);
    copy[10] ^= 0x04;
    assert_int_not_equal(stele__crc32c(0, copy, len), whole);
}

static unsigned seed_from_env(void) {
    const char *env = getenv("STELE_TEST_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    fprintf(stderr, "test_crc32c: seed %u (replay with STELE_TEST_SEED=%u)\n", seed, seed);
    return seed;
}

static void test_hw_matches_table(void **state) {
    (void)state;
    if (!stele__crc32c_hw_available())
        skip();
    unsigned seed = seed_from_env();
    srand(seed);
    uint8_t buf[300 + 8];
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)rand();
        for (size_t start = 0; start < 8; start++) {
            for (size_t len = 0; len <= 300; len++) {
                uint32_t init = round == 0 ? 0 : (uint32_t)rand();
                uint32_t sw = stele__crc32c_sw(init, buf + start, len);
                uint32_t hw = stele__crc32c_hw(init, buf + start, len);
                if (sw != hw)
                    fail_msg("seed %u: start %zu len %zu: table %08x, sse4.2 %08x", seed, start,
                             len, sw, hw);
            }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_default),  cmocka_unit_test(test_vectors_table),
        cmocka_unit_test(test_vectors_hw),       cmocka_unit_test(test_chaining),
        cmocka_unit_test(test_hw_matches_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
