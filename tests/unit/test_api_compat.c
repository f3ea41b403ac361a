/*
 * test_api_compat.c -- what a program built against one stele.h relies on from a libstele.so of
 * another version: the run-time version calls (stele_version(), stele_version_number()) agree
 * with the header and with project(VERSION) in CMakeLists.txt, and the output structs that may
 * grow (stele_stats_t, stele_stream_info_t, stele_verify_report_t) are filled by their
 * struct_size: a struct_size that was not set is refused with nothing written, a caller whose
 * struct is larger than the library's (a newer header) gets the library's size back in
 * struct_size and its extra bytes untouched, and entries of a stream list carry the library's
 * size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <stdio.h>
#include <string.h>

#ifndef STELE_PROJECT_VERSION
#error "tests/CMakeLists.txt passes project(VERSION) as STELE_PROJECT_VERSION"
#endif

#define TAIL_BYTES 24
#define TAIL_FILL 0xEE

static void test_version_calls(void **state) {
    (void)state;
    assert_string_equal(stele_version(), STELE_VERSION_STRING);
    assert_string_equal(stele_version(), STELE_PROJECT_VERSION);
    uint32_t n = stele_version_number();
    assert_int_equal(n, STELE_VERSION_NUMBER);
    char text[32];
    snprintf(text, sizeof text, "%u.%u.%u", (unsigned)(n >> 16), (unsigned)(n >> 8 & 0xff),
             (unsigned)(n & 0xff));
    assert_string_equal(text, stele_version());
    /* Later versions compare greater: the number orders major before minor before patch. */
    assert_true(STELE_VERSION_NUMBER < ((uint32_t)STELE_VERSION_MAJOR << 16 | 0xffffu));
}

static bool all_bytes(const void *p, size_t n, unsigned char v) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return false;
    return true;
}

/* A caller compiled against a newer stele.h whose stele_stats_t has TAIL_BYTES more. */
typedef struct newer_stats {
    stele_stats_t known;
    unsigned char tail[TAIL_BYTES];
} newer_stats_t;

static void test_stats_struct_size(void **state) {
    tu_fixture_t *f = *state;
    assert_int_equal(tu_append1(f->s, "order-1", STELE_EXPECT_ANY, "T", "{}", NULL), 0);

    /* Not set: refused, detail naming the field, nothing written. */
    stele_stats_t st;
    memset(&st, 0xAB, sizeof st);
    st.struct_size = 0;
    assert_int_equal(stele_stats(f->s, &st), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "struct_size"));
    assert_int_equal(st.struct_size, 0);
    assert_true(
        all_bytes(&st.head_position, sizeof st - offsetof(stele_stats_t, head_position), 0xAB));
    /* One byte short of the last field: refused too. */
    st.struct_size = offsetof(stele_stats_t, durability);
    assert_int_equal(stele_stats(f->s, &st), STELE_EINVAL);

    /* This header's size: filled. */
    stele_stats_t cur = {.struct_size = sizeof cur};
    assert_int_equal(stele_stats(f->s, &cur), 0);
    assert_int_equal(cur.struct_size, sizeof cur);
    assert_int_equal(cur.head_position, 1);
    assert_int_equal(cur.appends, 1);
    assert_int_equal(cur.durability, STELE_DURABILITY_NONE);

    /* A newer header's size: what the library knows is filled, struct_size says how much, the
     * rest is left as the caller set it. */
    newer_stats_t nw;
    memset(&nw, 0, sizeof nw);
    memset(nw.tail, TAIL_FILL, sizeof nw.tail);
    nw.known.struct_size = sizeof nw;
    assert_int_equal(stele_stats(f->s, &nw.known), 0);
    assert_int_equal(nw.known.struct_size, sizeof(stele_stats_t));
    assert_int_equal(nw.known.head_position, 1);
    assert_true(all_bytes(nw.tail, sizeof nw.tail, TAIL_FILL));
}

typedef struct newer_info {
    stele_stream_info_t known;
    unsigned char tail[TAIL_BYTES];
} newer_info_t;

static void test_stream_info_struct_size(void **state) {
    tu_fixture_t *f = *state;
    assert_int_equal(tu_append1(f->s, "order-1", STELE_EXPECT_ANY, "T", "{}", NULL), 0);
    assert_int_equal(tu_append1(f->s, "order-1", STELE_EXPECT_ANY, "T", "{}", NULL), 0);

    stele_stream_info_t info;
    memset(&info, 0xAB, sizeof info);
    info.struct_size = 0;
    assert_int_equal(stele_stream_info(f->s, "order-1", &info), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "stele_stream_info_t.struct_size"));
    assert_true(all_bytes(&info.state, sizeof info - offsetof(stele_stream_info_t, state), 0xAB));

    stele_stream_info_t cur = {.struct_size = sizeof cur};
    assert_int_equal(stele_stream_info(f->s, "order-1", &cur), 0);
    assert_int_equal(cur.struct_size, sizeof cur);
    assert_string_equal(cur.name, "order-1");
    assert_int_equal(cur.last_version, 1);
    assert_int_equal(cur.event_count, 2);

    /* A missing stream still answers with the size filled (and nothing else). */
    stele_stream_info_t none = {.struct_size = sizeof none};
    assert_int_equal(stele_stream_info(f->s, "order-2", &none), STELE_ENOTFOUND);
    assert_int_equal(none.struct_size, sizeof none);

    newer_info_t nw;
    memset(&nw, 0, sizeof nw);
    memset(nw.tail, TAIL_FILL, sizeof nw.tail);
    nw.known.struct_size = sizeof nw;
    assert_int_equal(stele_stream_info(f->s, "order-1", &nw.known), 0);
    assert_int_equal(nw.known.struct_size, sizeof(stele_stream_info_t));
    assert_int_equal(nw.known.last_version, 1);
    assert_true(all_bytes(nw.tail, sizeof nw.tail, TAIL_FILL));

    /* A list's entries are the library's: their struct_size is its size. */
    stele_stream_list_t *list = NULL;
    assert_int_equal(stele_stream_list(f->s, NULL, NULL, 0, false, &list), 0);
    assert_int_equal(stele_stream_list_count(list), 1);
    const stele_stream_info_t *e = stele_stream_list_get(list, 0);
    assert_int_equal(e->struct_size, sizeof(stele_stream_info_t));
    assert_string_equal(e->name, "order-1");
    stele_stream_list_free(list);
}

typedef struct newer_report {
    stele_verify_report_t known;
    unsigned char tail[TAIL_BYTES];
} newer_report_t;

static void test_verify_struct_size(void **state) {
    tu_fixture_t *f = *state;
    assert_int_equal(tu_append1(f->s, "order-1", STELE_EXPECT_ANY, "T", "{}", NULL), 0);

    stele_verify_report_t rep;
    memset(&rep, 0xAB, sizeof rep);
    rep.struct_size = 0;
    assert_int_equal(stele_verify(f->s, NULL, NULL, &rep), STELE_EINVAL);
    assert_non_null(strstr(stele_errdetail(), "stele_verify_report_t.struct_size"));
    assert_true(all_bytes(&rep.events, sizeof rep - offsetof(stele_verify_report_t, events), 0xAB));

    stele_verify_report_t cur = {.struct_size = sizeof cur};
    assert_int_equal(stele_verify(f->s, NULL, NULL, &cur), 0);
    assert_int_equal(cur.struct_size, sizeof cur);
    assert_int_equal(cur.events, 1);
    assert_int_equal(cur.error, 0);

    newer_report_t nw;
    memset(&nw, 0, sizeof nw);
    memset(nw.tail, TAIL_FILL, sizeof nw.tail);
    nw.known.struct_size = sizeof nw;
    assert_int_equal(stele_verify(f->s, NULL, NULL, &nw.known), 0);
    assert_int_equal(nw.known.struct_size, sizeof(stele_verify_report_t));
    assert_int_equal(nw.known.events, 1);
    assert_true(all_bytes(nw.tail, sizeof nw.tail, TAIL_FILL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_calls),
        cmocka_unit_test_setup_teardown(test_stats_struct_size, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_stream_info_struct_size, tu_store_setup,
                                        tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_verify_struct_size, tu_store_setup, tu_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
