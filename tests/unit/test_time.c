/*
 * test_time.c -- RFC 3339 formatting of known instants (the epoch, before it, a leap day, the
 * limits of int64 nanoseconds), parsing of every accepted form, rejection of malformed text (a '+'
 * that arrived as a space named as such), and a random round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stele.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000LL
/* 2024-02-29T00:00:00Z in Unix seconds. */
#define LEAP_DAY_2024 1709164800LL

static void expect_format(int64_t ns, const char *want) {
    char out[36];
    memset(out, 'x', sizeof out);
    stele_time_format(ns, out);
    assert_string_equal(out, want);
}

static void test_format(void **state) {
    (void)state;
    expect_format(0, "1970-01-01T00:00:00.000000000Z");
    expect_format(1, "1970-01-01T00:00:00.000000001Z");
    expect_format(-1, "1969-12-31T23:59:59.999999999Z");
    expect_format(LEAP_DAY_2024 * NS, "2024-02-29T00:00:00.000000000Z");
    expect_format((LEAP_DAY_2024 + 12 * 3600 + 34 * 60 + 56) * NS + 789000000,
                  "2024-02-29T12:34:56.789000000Z");
    expect_format((LEAP_DAY_2024 + 86400) * NS, "2024-03-01T00:00:00.000000000Z");
    expect_format(951782400LL * NS, "2000-02-29T00:00:00.000000000Z");
    expect_format(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    expect_format(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
}

static int64_t parse_ok(const char *text) {
    int64_t ns = 12345;
    int rc = stele_time_parse(text, &ns);
    if (rc != 0)
        fail_msg("\"%s\" refused: %s", text, stele_errdetail());
    return ns;
}

static void test_parse(void **state) {
    (void)state;
    int64_t leap = LEAP_DAY_2024 * NS;
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), leap);
    assert_int_equal(parse_ok("2024-02-29"), leap);
    assert_int_equal(parse_ok("2024-02-29t00:00:00z"), leap);
    assert_int_equal(parse_ok("2024-02-29T02:30:00+02:30"), leap);
    assert_int_equal(parse_ok("2024-02-28T19:00:00-05:00"), leap);
    assert_int_equal(parse_ok("2024-02-29T00:00:00.5Z"), leap + 500000000);
    assert_int_equal(parse_ok("2024-02-29T00:00:00.000000001Z"), leap + 1);
    assert_int_equal(parse_ok("2024-02-29T00:00:00.123456789+00:00"), leap + 123456789);
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("1969-12-31T23:59:59.999999999Z"), -1);
    assert_int_equal(parse_ok("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
    assert_int_equal(parse_ok("1677-09-21T00:12:43.145224192Z"), INT64_MIN + 0);
}

static void test_rejects(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "garbage",
        "2024",
        "2024-02",
        "2024-2-29",
        "2024-02-30",
        "2023-02-29",
        "1900-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-02-29T",
        "2024-02-29 00:00:00Z",
        "2024-02-29T00:00Z",
        "2024-02-29T00:00:00",
        "2024-02-29T24:00:00Z",
        "2024-02-29T23:60:00Z",
        "2024-02-29T23:59:60Z",
        "2024-02-29T00:00:00.Z",
        "2024-02-29T00:00:00.1234567890Z",
        "2024-02-29T00:00:00+0200",
        "2024-02-29T00:00:00+24:00",
        "2024-02-29T00:00:00Zjunk",
        "2024-02-29junk",
        "2263-01-01T00:00:00Z",
        "1600-01-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns = 777;
        if (stele_time_parse(bad[i], &ns) != STELE_ETIME)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(ns, 777);
        assert_non_null(strstr(stele_errdetail(), "time"));
    }
}

/* A '+' sent unencoded in a URL query string arrives as a space: the error says how to send it. */
static void test_plus_as_space(void **state) {
    (void)state;
    int64_t ns = 0;
    assert_int_equal(stele_time_parse("2026-01-01T00:00:00 01:00", &ns), STELE_ETIME);
    assert_non_null(strstr(stele_errdetail(), "%2B"));
    assert_int_equal(stele_time_parse("2026-01-01T00:00:00.5 01:00", &ns), STELE_ETIME);
    assert_non_null(strstr(stele_errdetail(), "%2B"));
    assert_int_equal(stele_time_parse("2026-01-01T00:00:00x", &ns), STELE_ETIME);
    assert_null(strstr(stele_errdetail(), "%2B"));
}

static void test_round_trip(void **state) {
    (void)state;
    const char *env = getenv("STELE_TEST_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    fprintf(stderr, "test_time: seed %u (replay with STELE_TEST_SEED=%u)\n", seed, seed);
    srand(seed);
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = 0;
        for (int k = 0; k < 4; k++)
            bits = bits << 16 | (uint64_t)(rand() & 0xffff);
        int64_t ns = (int64_t)bits;
        char text[36];
        stele_time_format(ns, text);
        int64_t back = 0;
        if (stele_time_parse(text, &back) != 0 || back != ns)
            fail_msg("seed %u: %lld -> %s -> %lld", seed, (long long)ns, text, (long long)back);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),     cmocka_unit_test(test_parse),
        cmocka_unit_test(test_rejects),    cmocka_unit_test(test_plus_as_space),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
