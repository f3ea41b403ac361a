/*
 * test_uuid.c -- UUID text round trips, rejection of malformed text, and the layout and ordering of
 * generated version-7 ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "os/clock.h"
#include "stele.h"
#include "util/uuid.h"

#include <string.h>

static void test_round_trip(void **state) {
    (void)state;
    const char *text = "0189d6e4-5c3a-7b2e-9f10-a1b2c3d4e5f6";
    stele_uuid_t id;
    assert_int_equal(stele_uuid_parse(text, &id), 0);
    assert_int_equal(id.bytes[0], 0x01);
    assert_int_equal(id.bytes[6], 0x7b);
    assert_int_equal(id.bytes[15], 0xf6);
    char out[37];
    stele_uuid_format(&id, out);
    assert_string_equal(out, text);

    /* Upper case is accepted and formatted back in lower case. */
    assert_int_equal(stele_uuid_parse("0189D6E4-5C3A-7B2E-9F10-A1B2C3D4E5F6", &id), 0);
    stele_uuid_format(&id, out);
    assert_string_equal(out, text);
}

static void test_rejects(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "0189d6e4-5c3a-7b2e-9f10-a1b2c3d4e5f",   /* 35 characters */
        "0189d6e4-5c3a-7b2e-9f10-a1b2c3d4e5f6a", /* 37 characters */
        "0189d6e45c3a7b2e9f10a1b2c3d4e5f6",      /* no hyphens */
        "0189d6e4-5c3a-7b2e-9f10a-1b2c3d4e5f6",  /* hyphen moved */
        "0189d6e4_5c3a-7b2e-9f10-a1b2c3d4e5f6",  /* wrong separator */
        "0189d6g4-5c3a-7b2e-9f10-a1b2c3d4e5f6",  /* non-hex */
        "0189d6e4-5c3a-7b2e-9f10-a1b2c3d4e5 6",  /* space */
        "{0189d6e4-5c3a-7b2e-9f10-a1b2c3d4e5f}", /* braces */
    };
    stele_uuid_t id;
    memset(&id, 0xab, sizeof id);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(stele_uuid_parse(bad[i], &id), STELE_EUUID);
        assert_true(strlen(stele_errdetail()) > 0);
    }
    /* A failed parse leaves the output untouched. */
    for (size_t i = 0; i < sizeof id.bytes; i++)
        assert_int_equal(id.bytes[i], 0xab);
}

static uint64_t timestamp_ms(const stele_uuid_t *id) {
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | id->bytes[i];
    return ms;
}

static void test_generate_v7(void **state) {
    (void)state;
    enum { COUNT = 2000 };
    static stele_uuid_t ids[COUNT];
    uint64_t before_ms = (uint64_t)(stele__clock_realtime_ns() / 1000000);
    for (int i = 0; i < COUNT; i++)
        stele_uuid_generate(&ids[i]);
    uint64_t after_ms = (uint64_t)(stele__clock_realtime_ns() / 1000000);
    for (int i = 0; i < COUNT; i++) {
        assert_int_equal(ids[i].bytes[6] >> 4, 7); /* version */
        assert_int_equal(ids[i].bytes[8] >> 6, 2); /* variant 10 */
        assert_false(stele_uuid_is_nil(&ids[i]));
        uint64_t ms = timestamp_ms(&ids[i]);
        assert_true(ms >= before_ms && ms <= after_ms);
        if (i > 0) {
            assert_true(ms >= timestamp_ms(&ids[i - 1]));
            assert_memory_not_equal(&ids[i], &ids[i - 1], sizeof ids[i]);
        }
        char text[37];
        stele_uuid_t back;
        stele_uuid_format(&ids[i], text);
        assert_int_equal(stele_uuid_parse(text, &back), 0);
        assert_memory_equal(&back, &ids[i], sizeof back);
    }
}

static void test_is_nil(void **state) {
    (void)state;
    stele_uuid_t id;
    memset(&id, 0, sizeof id);
    assert_true(stele_uuid_is_nil(&id));
    id.bytes[15] = 1;
    assert_false(stele_uuid_is_nil(&id));
    assert_int_equal(stele_uuid_parse("00000000-0000-0000-0000-000000000000", &id), 0);
    assert_true(stele_uuid_is_nil(&id));
}

static void test_random_bytes(void **state) {
    (void)state;
    uint8_t a[64], b[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    stele__random_bytes(a, sizeof a);
    stele__random_bytes(b, sizeof b);
    /* 512 random bits coinciding or staying all zero is not going to happen. */
    assert_memory_not_equal(a, b, sizeof a);
    uint8_t zero[64] = {0};
    assert_memory_not_equal(a, zero, sizeof a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_generate_v7),  cmocka_unit_test(test_is_nil),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
