/*
 * test_limits.c -- validation of stream names and event types (store/limits.c) against an
 * independent reference: printable, well-formed UTF-8 (no overlongs, surrogates, code points above
 * U+10FFFF, C0/DEL/C1 controls), length limits, the reserved '$' prefix, and stream categories.
 * Every 1-, 2- and 3-byte sequence is checked exhaustively, 4-byte ones by their boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reference: the length of the printable, well-formed UTF-8 character at s (n bytes left), or 0. */
static size_t ref_char(const uint8_t *s, size_t n) {
    uint32_t cp;
    size_t len;
    if (s[0] < 0x80) {
        cp = s[0];
        len = 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        cp = s[0] & 0x1fu;
        len = 2;
    } else if ((s[0] & 0xf0) == 0xe0) {
        cp = s[0] & 0x0fu;
        len = 3;
    } else if ((s[0] & 0xf8) == 0xf0) {
        cp = s[0] & 0x07u;
        len = 4;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

/* Reference: is s[0..n) a sequence of printable, well-formed UTF-8 characters? */
static bool ref_text(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t len = ref_char(s + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

static void check_seq(const uint8_t *seq, size_t n) {
    char name[16];
    name[0] = 'a';
    memcpy(name + 1, seq, n);
    name[n + 1] = 'z';
    name[n + 2] = 0;
    bool want = ref_text(seq, n);
    int rc = stele__check_stream_name(name, false);
    if ((rc == 0) != want) {
        fprintf(stderr, "sequence");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x", seq[i]);
        fprintf(stderr, ": accepted=%d, reference=%d\n", rc == 0, want);
        fail();
    }
    if (!want)
        assert_int_equal(rc, STELE_ENAME);
    rc = stele__check_type(name, false);
    assert_int_equal(rc == 0, want);
    if (!want)
        assert_int_equal(rc, STELE_ETYPE);
}

static void test_utf8_exhaustive_short(void **state) {
    (void)state;
    uint8_t s[4];
    for (unsigned a = 1; a < 256; a++) {
        s[0] = (uint8_t)a;
        check_seq(s, 1);
        for (unsigned b = 1; b < 256; b++) {
            s[1] = (uint8_t)b;
            check_seq(s, 2);
        }
    }
    for (unsigned a = 0xe0; a <= 0xef; a++)
        for (unsigned b = 1; b < 256; b++)
            for (unsigned c = 1; c < 256; c++) {
                s[0] = (uint8_t)a;
                s[1] = (uint8_t)b;
                s[2] = (uint8_t)c;
                check_seq(s, 3);
            }
}

static void test_utf8_four_bytes(void **state) {
    (void)state;
    uint8_t s[4];
    const unsigned firsts[] = {0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xff};
    const unsigned conts[] = {0x01, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++)
        for (size_t j = 0; j < sizeof conts / sizeof conts[0]; j++)
            for (size_t k = 0; k < sizeof conts / sizeof conts[0]; k++)
                for (size_t l = 0; l < sizeof conts / sizeof conts[0]; l++) {
                    s[0] = (uint8_t)firsts[i];
                    s[1] = (uint8_t)conts[j];
                    s[2] = (uint8_t)conts[k];
                    s[3] = (uint8_t)conts[l];
                    check_seq(s, 4);
                }
    /* Named boundaries. */
    assert_int_equal(stele__check_stream_name("\xf0\x90\x80\x80", false), 0); /* U+10000 */
    assert_int_equal(stele__check_stream_name("\xf4\x8f\xbf\xbf", false), 0); /* U+10FFFF */
    assert_int_equal(stele__check_stream_name("\xf4\x90\x80\x80", false), STELE_ENAME);
    assert_int_equal(stele__check_stream_name("\xf0\x8f\xbf\xbf", false),
                     STELE_ENAME);                                                  /* overlong */
    assert_int_equal(stele__check_stream_name("\xed\x9f\xbf", false), 0);           /* U+D7FF */
    assert_int_equal(stele__check_stream_name("\xed\xa0\x80", false), STELE_ENAME); /* U+D800 */
    assert_int_equal(stele__check_stream_name("\xee\x80\x80", false), 0);           /* U+E000 */
    assert_int_equal(stele__check_stream_name("\xc2\x9f", false), STELE_ENAME);     /* C1 */
    assert_int_equal(stele__check_stream_name("\xc2\xa0", false), 0);               /* NBSP */
    /* Truncated sequences at the end of the name. */
    assert_int_equal(stele__check_stream_name("ab\xe2\x82", false), STELE_ENAME);
    assert_int_equal(stele__check_stream_name("ab\xf0\x9f\x98", false), STELE_ENAME);
    assert_int_equal(stele__check_stream_name("ab\xc3", false), STELE_ENAME);
}

static void test_lengths_and_reserved(void **state) {
    (void)state;
    char buf[STELE_MAX_STREAM_NAME_BYTES + 2];
    memset(buf, 'x', sizeof buf);
    buf[STELE_MAX_STREAM_NAME_BYTES] = 0;
    assert_int_equal(stele__check_stream_name(buf, false), 0);
    buf[STELE_MAX_STREAM_NAME_BYTES] = 'x';
    buf[STELE_MAX_STREAM_NAME_BYTES + 1] = 0;
    assert_int_equal(stele__check_stream_name(buf, false), STELE_ENAME);
    assert_true(strstr(stele_errdetail(), "1025") != NULL);
    /* Multi-byte characters count in bytes. */
    for (size_t i = 0; i + 2 <= STELE_MAX_STREAM_NAME_BYTES; i += 2)
        memcpy(buf + i, "\xc3\xa9", 2);
    buf[STELE_MAX_STREAM_NAME_BYTES] = 0;
    assert_int_equal(stele__check_stream_name(buf, false), 0);
    memcpy(buf + STELE_MAX_STREAM_NAME_BYTES - 1, "\xc3\xa9", 2); /* 1025 bytes */
    buf[STELE_MAX_STREAM_NAME_BYTES + 1] = 0;
    assert_int_equal(stele__check_stream_name(buf, false), STELE_ENAME);

    memset(buf, 't', sizeof buf);
    buf[STELE_MAX_TYPE_BYTES] = 0;
    assert_int_equal(stele__check_type(buf, false), 0);
    buf[STELE_MAX_TYPE_BYTES] = 't';
    buf[STELE_MAX_TYPE_BYTES + 1] = 0;
    assert_int_equal(stele__check_type(buf, false), STELE_ETYPE);
    tu_assert_detail();

    assert_int_equal(stele__check_stream_name("", false), STELE_ENAME);
    assert_int_equal(stele__check_stream_name(NULL, false), STELE_ENAME);
    assert_int_equal(stele__check_type("", true), STELE_ETYPE);
    assert_int_equal(stele__check_type(NULL, true), STELE_ETYPE);
    assert_int_equal(stele__check_stream_name("$all", false), STELE_ERESERVED);
    tu_assert_detail();
    assert_int_equal(stele__check_stream_name("$all", true), 0);
    assert_int_equal(stele__check_stream_name("$", false), STELE_ERESERVED);
    assert_int_equal(stele__check_stream_name("a$", false), 0);
    assert_int_equal(stele__check_type("$deleted", false), STELE_ERESERVED);
    assert_int_equal(stele__check_type("$deleted", true), 0);
    assert_int_equal(stele__check_stream_name(" spaced name ", false), 0);
}

static void test_category(void **state) {
    (void)state;
    struct {
        const char *name;
        size_t len;
    } cases[] = {{"order-42", 5}, {"order", 5},     {"-x", 0}, {"a-b-c", 1},
                 {"order-", 5},   {"$$order-1", 7}, {"x", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(stele__category_len(cases[i].name, strlen(cases[i].name)), cases[i].len);
    /* Only the given length counts. */
    assert_int_equal(stele__category_len("order-42", 3), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_exhaustive_short),
        cmocka_unit_test(test_utf8_four_bytes),
        cmocka_unit_test(test_lengths_and_reserved),
        cmocka_unit_test(test_category),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
