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

#include "os/alloc.h"
#include "stele.h"
#include "util/error.h"
#include "util/json.h"

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

static void test_allocation_failure(void **state) {
    (void)state;
    const char *text = "{\"a\":[1,2,3],\"b\":{\"c\":\"long enough string value\"}}";
    assert_int_equal(validate(text, true), 0); /* warm up: jansson now uses our allocator */
    int64_t live = stele__alloc_live();
    uint64_t before = stele__alloc_count();
    assert_int_equal(validate(text, true), 0);
    uint64_t used = stele__alloc_count() - before;
    assert_true(used > 0); /* jansson's allocations go through stele__malloc */
    assert_int_equal(stele__alloc_live(), live);
    uint64_t enomem = 0;
    for (uint64_t nth = 1; nth <= used; nth++) {
        stele__alloc_fail_at(nth, 0);
        int rc = validate(text, true);
        stele__alloc_fail_at(0, 0);
        /* jansson survives a few failures (e.g. a table that cannot grow); it must never report
         * a failed allocation as invalid JSON, nor leak. */
        assert_true(rc == STELE_ENOMEM || rc == 0);
        enomem += rc == STELE_ENOMEM;
        assert_int_equal(stele__alloc_live(), live);
    }
    assert_true(enomem >= used / 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_require_object),
        cmocka_unit_test(test_line_and_column),
        cmocka_unit_test(test_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
