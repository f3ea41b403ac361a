/*
 * test_limits.c -- validation of stream names and event types (store/limits.c) against an
 * independent reference: printable, well-formed UTF-8 (no overlongs, surrogates, code points above
 * U+10FFFF, C0/DEL/C1 controls), and in the names users write no invisible or confusable code
 * points (Unicode's Default_Ignorable_Code_Point set, spaces other than U+0020, line and paragraph
 * separators), which look-ups still accept; length limits, the reserved '$' prefix, stream
 * categories, and stele_append_check(). Every 1-, 2- and 3-byte sequence is checked exhaustively,
 * 4-byte ones by their boundaries.
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

/* Reference: invisible or confusable code points, written from DerivedCoreProperties.txt
 * (Default_Ignorable_Code_Point) and the Zs, Zl and Zp categories without U+0020. */
static bool ref_invisible(uint32_t cp) {
    static const uint32_t singles[] = {0x00A0, 0x00AD, 0x034F, 0x061C, 0x1680, 0x202F,
                                       0x205F, 0x3000, 0x3164, 0xFEFF, 0xFFA0};
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++)
        if (cp == singles[i])
            return true;
    return (cp >= 0x115F && cp <= 0x1160) || (cp >= 0x17B4 && cp <= 0x17B5) ||
           (cp >= 0x180B && cp <= 0x180F) || (cp >= 0x2000 && cp <= 0x200F) ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) ||
           (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFFF0 && cp <= 0xFFF8) ||
           (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A) ||
           (cp >= 0xE0000 && cp <= 0xE0FFF);
}

/* Reference: the length of the printable, well-formed UTF-8 character at s (n bytes left), or 0;
 * with visible set, also 0 for an invisible or confusable one. */
static size_t ref_char_in(const uint8_t *s, size_t n, bool visible) {
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
    if (visible && ref_invisible(cp))
        return 0;
    return len;
}

/* Reference: is s[0..n) a sequence of printable, well-formed (and with visible set, visible)
 * UTF-8 characters? */
static bool ref_text_in(const uint8_t *s, size_t n, bool visible) {
    for (size_t i = 0; i < n;) {
        size_t len = ref_char_in(s + i, n - i, visible);
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
    bool want = ref_text_in(seq, n, true);
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
    /* Look-ups (and the store's own names) accept invisible code points: only the UTF-8 rules. */
    want = ref_text_in(seq, n, false);
    if ((stele__check_stream_name(name, true) == 0) != want) {
        fprintf(stderr, "look-up of sequence");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x", seq[i]);
        fprintf(stderr, ": accepted=%d, reference=%d\n", !want, want);
        fail();
    }
    assert_int_equal(stele__check_type(name, true) == 0, want);
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
    assert_int_equal(stele__check_stream_name("\xc2\xa0", false), STELE_ENAME);     /* NBSP */
    assert_int_equal(stele__check_stream_name("\xc2\xa0", true), 0);
    assert_int_equal(stele__check_stream_name("\xc2\xa1", false), 0); /* U+00A1 */
    /* 4-byte invisible ones: tags and a musical format character, by their boundaries. */
    assert_int_equal(stele__check_stream_name("a\xf3\xa0\x80\x80", false), STELE_ENAME); /* E0000 */
    assert_int_equal(stele__check_stream_name("a\xf3\xa0\xbf\xbf", false), STELE_ENAME); /* E0FFF */
    assert_int_equal(stele__check_stream_name("a\xf3\xa1\x80\x80", false), 0);           /* E1000 */
    assert_int_equal(stele__check_stream_name("a\xf3\xa0\x80\x80", true), 0);
    assert_int_equal(stele__check_type("a\xf0\x9d\x85\xb3", false), STELE_ETYPE); /* 1D173 */
    assert_int_equal(stele__check_type("a\xf0\x9d\x85\xbb", false), 0);           /* 1D17B */
    assert_int_equal(stele__check_type("a\xf0\x9b\xb2\xa0", false), STELE_ETYPE); /* 1BCA0 */
    assert_int_equal(stele__check_stream_name("\xf0\x9f\x98\x80", false), 0);     /* an emoji */
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

/* The error names the code point, what it is and its byte offset; the example first. */
static void test_invisible_named(void **state) {
    (void)state;
    assert_int_equal(stele__check_stream_name("order-\xe2\x80\x8b"
                                              "1",
                                              false),
                     STELE_ENAME);
    const char *d = stele_errdetail();
    assert_non_null(strstr(d, "U+200B"));
    assert_non_null(strstr(d, "zero-width"));
    assert_non_null(strstr(d, "at byte 6"));
    assert_int_equal(stele__check_stream_name("order-\xe2\x80\x8b"
                                              "1",
                                              true),
                     0);
    assert_int_equal(stele__check_stream_name("\xd7\x90\xe2\x80\xae", false), STELE_ENAME);
    d = stele_errdetail();
    assert_non_null(strstr(d, "U+202E"));
    assert_non_null(strstr(d, "bidirectional"));
    assert_non_null(strstr(d, "at byte 2"));
    assert_int_equal(stele__check_type("Order\xef\xbb\xbfPlaced", false), STELE_ETYPE);
    d = stele_errdetail();
    assert_non_null(strstr(d, "event type"));
    assert_non_null(strstr(d, "U+FEFF"));
    assert_non_null(strstr(d, "at byte 5"));
    assert_int_equal(stele__check_stream_name("a\xf3\xa0\x80\x81", false), STELE_ENAME);
    assert_non_null(strstr(stele_errdetail(), "U+E0001"));
    /* Visible non-ASCII text and the ASCII space stay valid. */
    assert_int_equal(stele__check_stream_name("caf\xc3\xa9 \xe4\xb8\xad-1", false), 0);
}

/* stele_append_check: the checks of stele_append() that need no store. */
static void test_append_check(void **state) {
    (void)state;
    stele_event_in_t ev = {.type = "OrderPlaced", .data = "{\"a\":1}", .data_len = 7};
    assert_int_equal(stele_append_check("order-1", &ev, 1), 0);
    assert_int_equal(stele_append_check("$bad", &ev, 1), STELE_ERESERVED);
    assert_int_equal(stele_append_check("order-\xe2\x80\x8b"
                                        "1",
                                        &ev, 1),
                     STELE_ENAME);
    assert_non_null(strstr(stele_errdetail(), "U+200B"));
    assert_int_equal(stele_append_check("order-1", NULL, 0), STELE_EEMPTY);
    assert_int_equal(stele_stream_name_check("order-1"), 0);
    assert_int_equal(stele_stream_name_check("$meta"), STELE_ERESERVED);
    assert_int_equal(stele_stream_name_check("a\xe2\x81\xa6"
                                             "b"),
                     STELE_ENAME); /* U+2066 */
    assert_non_null(strstr(stele_errdetail(), "U+2066"));
    assert_int_equal(stele_stream_name_check(""), STELE_ENAME);
    assert_int_equal(stele_append_check("order-1", &ev, STELE_MAX_EVENTS_PER_APPEND + 1),
                     STELE_ETOOBIG);
    stele_event_in_t bad[2] = {ev, ev};
    bad[1].data = "{";
    bad[1].data_len = 1;
    assert_int_equal(stele_append_check("order-1", bad, 2), STELE_EJSON);
    assert_non_null(strstr(stele_errdetail(), "event 1"));
    bad[1] = ev;
    bad[1].type = "$system";
    assert_int_equal(stele_append_check("order-1", bad, 2), STELE_ERESERVED);
    bad[1].type = "";
    assert_int_equal(stele_append_check("order-1", bad, 2), STELE_ETYPE);
    bad[1] = ev;
    bad[1].data_len = STELE_MAX_DATA_BYTES + 1;
    assert_int_equal(stele_append_check("order-1", bad, 2), STELE_ETOOBIG);
    /* Each event within its limit, together above the encoded size of one append. */
    size_t big = STELE_MAX_DATA_BYTES;
    char *blob = calloc(1, big);
    assert_non_null(blob);
    stele_event_in_t many[5];
    for (int i = 0; i < 5; i++)
        many[i] = (stele_event_in_t){
            .type = "b", .data = blob, .data_len = big, .flags = STELE_EVENT_BINARY};
    assert_int_equal(stele_append_check("order-1", many, 3), 0);
    assert_int_equal(stele_append_check("order-1", many, 5), STELE_ETOOBIG);
    assert_non_null(strstr(stele_errdetail(), "encodes to"));
    free(blob);
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
        cmocka_unit_test(test_utf8_exhaustive_short), cmocka_unit_test(test_utf8_four_bytes),
        cmocka_unit_test(test_lengths_and_reserved),  cmocka_unit_test(test_invisible_named),
        cmocka_unit_test(test_append_check),          cmocka_unit_test(test_category),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
