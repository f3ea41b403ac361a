/*
 * test_json.c -- JSON validation: every kind of value accepted, malformed text refused with a
 * detail naming the field and place, objects required for metadata, and allocation failure inside
 * jansson reported as STELE_ENOMEM without leaking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc_hooks.h"
#include "stele.h"
#include "util/error.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

static int validate(const char *text, bool require_object) {
    return stele__json_validate(text, strlen(text), require_object, "event 2 data");
}

static void test_accepts(void **state) {
    (void)state;
    static const char *good[] = {
        "{}",
        "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
        "[1, 2.5, -3e10]",
        "\"text\"",
        "42",
        "true",
        "null",
        "  {\"a\" : 1}  \n",
        "{\"a\":1,\"a\":2}",       /* duplicate keys are allowed */
        "\"caf\xc3\xa9 \\u00e9\"", /* UTF-8 and escapes */
        "\"nul \\u0000 inside\"",  /* an escaped NUL is valid JSON */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (validate(good[i], false) != 0)
            fail_msg("refused %s: %s", good[i], stele_errdetail());
}

static void test_rejects(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "   ",
        "{",
        "{\"a\":1} x",
        "{}{}",
        "[1,2,]",
        "{'a':1}",
        "NaN",
        "{\"a\":01}",
        "\"\xff\"",        /* invalid UTF-8 */
        "\"tab\tinside\"", /* raw control character */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        stele__error_clear();
        if (validate(bad[i], false) != STELE_EJSON)
            fail_msg("accepted %s", bad[i]);
        const char *detail = stele_errdetail();
        assert_true(strncmp(detail, "event 2 data: ", 14) == 0);
        assert_non_null(strstr(detail, " at line "));
    }
}

static void test_length_is_respected(void **state) {
    (void)state;
    /* Only the first len bytes count: what follows them is not part of the value. */
    assert_int_equal(stele__json_validate("{}garbage", 2, true, "data"), 0);
    assert_int_equal(stele__json_validate("{\"a\":1}", 5, false, "data"), STELE_EJSON);
    /* A raw NUL byte inside the given length is not JSON. */
    assert_int_equal(stele__json_validate("{} \0", 4, false, "data"), STELE_EJSON);
    assert_int_equal(stele__json_validate(NULL, 0, false, "data"), STELE_EJSON);
}

static void test_require_object(void **state) {
    (void)state;
    assert_int_equal(stele__json_validate("{\"k\":[]}", 8, true, "event 0 metadata"), 0);
    static const char *not_objects[] = {"[1]", "\"s\"", "1", "null", "true"};
    for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
        const char *text = not_objects[i];
        assert_int_equal(stele__json_validate(text, strlen(text), true, "event 0 metadata"),
                         STELE_EJSON);
        assert_string_equal(stele_errdetail(), "event 0 metadata: not a JSON object");
        assert_int_equal(stele__json_validate(text, strlen(text), false, "x"), 0);
    }
}

static void test_line_and_column(void **state) {
    (void)state;
    assert_int_equal(validate("{\n  \"a\": 1,\n  \"b\": ?\n}", false), STELE_EJSON);
    assert_non_null(strstr(stele_errdetail(), "at line 3 column"));
}

static void test_allocates_nothing(void **state) {
    (void)state;
    const char *text = "{\"a\":[1,2,3],\"b\":{\"c\":\"long enough string value\"}}";
    uint64_t before = stele__alloc_count();
    stele__alloc_fail_at(1, 1); /* every allocation would fail: none is made */
    int rc = validate(text, true);
    stele__alloc_fail_at(0, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(stele__alloc_count(), before);
}

static void test_depth_limit(void **state) {
    (void)state;
    char deep[2 * STELE_JSON_MAX_DEPTH + 8];
    size_t n = 0;
    for (int i = 0; i < STELE_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < STELE_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    assert_int_equal(stele__json_validate(deep, n, false, "x"), 0);
    memmove(deep + 1, deep, n);
    deep[0] = '[';
    deep[n + 1] = ']';
    assert_int_equal(stele__json_validate(deep, n + 2, false, "x"), STELE_EJSON);
    assert_non_null(strstr(stele_errdetail(), "nesting"));
}

static void test_unicode(void **state) {
    (void)state;
    assert_int_equal(validate("\"\\ud83d\\ude00\"", false), 0);             /* a surrogate pair */
    assert_int_equal(validate("\"\\ud83d\"", false), STELE_EJSON);          /* lone high */
    assert_int_equal(validate("\"\\ude00\"", false), STELE_EJSON);          /* lone low */
    assert_int_equal(validate("\"\xc3\xa9\"", false), 0);                   /* e acute */
    assert_int_equal(validate("\"\xc0\xaf\"", false), STELE_EJSON);         /* overlong */
    assert_int_equal(validate("\"\xed\xa0\x80\"", false), STELE_EJSON);     /* UTF-8 surrogate */
    assert_int_equal(validate("\"\xf4\x90\x80\x80\"", false), STELE_EJSON); /* > U+10FFFF */
    assert_int_equal(validate("\"\xe2\x82\"", false), STELE_EJSON);         /* truncated */
}

/* "\u0000" may stand in a string value but not in an object key: jansson, which reads request
 * bodies in the server and lines in the CLI, cannot hold such a key, so the store would accept an
 * event the server refuses (found by fuzz_json). */
static void test_nul_escape_in_key(void **state) {
    (void)state;
    assert_int_equal(validate("{\"a\":\"\\u0000\"}", true), 0);
    assert_int_equal(validate("[\"\\u0000\"]", false), 0);
    assert_int_equal(validate("{\"a\\u0000b\":1}", true), STELE_EJSON);
    assert_non_null(strstr(stele_errdetail(), "\\u0000 in an object key"));
    assert_int_equal(validate("{\"a\":{\"\\u0000\":1}}", true), STELE_EJSON);
    assert_int_equal(validate("{\"\\u0001\":1}", true), 0);
}

/* Numbers must be finite doubles, the rule of jansson (which reads bodies in steled and every line
 * the CLI reads): 1E400, 1e999999999999 and a 100,000-digit integer were stored through steled's
 * fast body reader and then made every remote read-all and export of the store fail. */
static void test_number_range(void **state) {
    (void)state;
    static const char *finite[] = {
        "1.7976931348623157e308",  /* DBL_MAX */
        "-1.7976931348623158e308", /* still rounds to DBL_MAX */
        "1.797693134862315807e308",
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017"
        "977"
        "587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854"
        "845"
        "817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711"
        "559"
        "699508093042880177904174497791", /* 2^1024 - 2^970 - 1: rounds down to DBL_MAX */
        "0.17976931348623158e309",
        "1e-400",                       /* underflow is zero, which is finite */
        "1e-999999999999999999999999",  /* however small */
        "0e999999999999",               /* zero, whatever the exponent */
        "-0.000e+99999999999999999999", /* and negative zero */
        "-0",
        "9223372036854775808", /* beyond int64: kept as written, read as a double */
        "-9223372036854775809",
        "123456789012345678901234567890", /* 30 digits */
        "[1e308, -1e308, 1E+308]",
    };
    for (size_t i = 0; i < sizeof finite / sizeof finite[0]; i++)
        if (validate(finite[i], false) != 0)
            fail_msg("refused %s: %s", finite[i], stele_errdetail());
    static const char *infinite[] = {
        "1E400",
        "1e999999999999",
        "-1e309",
        "1.7976931348623159e308",
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017"
        "977"
        "587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854"
        "845"
        "817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711"
        "559"
        "699508093042880177904174497792", /* 2^1024 - 2^970: the tie rounds to infinity */
        "0.17976931348623158079372897140530341507993413271003782693617377898044496829276475094664"
        "9017977587207096330286416692887910946555547851940402630657488671505820681908902000708383"
        "6762738548458177115317644757302700698555713669596228429148198608349364752927190741684443"
        "655107043427115596995080930428801779041744977920001e309",
        "1e99999999999999999999999999", /* a saturated exponent */
        "{\"a\":[1, 2, 1e400]}",
    };
    for (size_t i = 0; i < sizeof infinite / sizeof infinite[0]; i++) {
        if (validate(infinite[i], false) != STELE_EJSON)
            fail_msg("accepted %s", infinite[i]);
        assert_non_null(strstr(stele_errdetail(), "number out of range"));
    }
    /* The place named is the number's first character. */
    assert_int_equal(validate("{\"n\": 1E400}", true), STELE_EJSON);
    assert_non_null(strstr(stele_errdetail(), "at line 1 column 7"));

    /* A 100,000-digit integer, and the same digits as a fraction (finite). */
    size_t n = 100000;
    char *big = calloc(n + 8, 1);
    assert_non_null(big);
    memset(big, '7', n);
    assert_int_equal(stele__json_validate(big, n, false, "data"), STELE_EJSON);
    assert_non_null(strstr(stele_errdetail(), "number out of range"));
    big[0] = '0';
    big[1] = '.';
    assert_int_equal(stele__json_validate(big, n, false, "data"), 0);
    memcpy(big + n, "e99999", 6);
    assert_int_equal(stele__json_validate(big, n + 6, false, "data"), STELE_EJSON);
    free(big);
}

/* The rest of the grammar every reader shares (docs/limits.md, "JSON"): JSON white space only, no
 * byte order mark, no leading zeros or other number spellings, no literal other than the three. */
static void test_grammar_edges(void **state) {
    (void)state;
    static const char *good[] = {" \t\r\n1 \t\r\n", "-0.0e-0", "0.5E+1", "\"\\/\"", "[]", "{}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (validate(good[i], false) != 0)
            fail_msg("refused %s: %s", good[i], stele_errdetail());
    static const char *bad[] = {
        "\xef\xbb\xbf{}", /* a byte order mark */
        "\f1",            /* form feed is not JSON white space */
        "\v1",
        "1\xc2\xa0",
        "01",
        "-01",
        "+1",
        ".5",
        "1.",
        "1e",
        "1e+",
        "-",
        "0x1",
        "Infinity",
        "-Infinity",
        "nul",
        "True",
        "[1,]",
        "{\"a\":1,}",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\x7f\x01\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (validate(bad[i], false) != STELE_EJSON)
            fail_msg("accepted %s", bad[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_require_object),
        cmocka_unit_test(test_line_and_column),
        cmocka_unit_test(test_allocates_nothing),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_nul_escape_in_key),
        cmocka_unit_test(test_number_range),
        cmocka_unit_test(test_grammar_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
