/*
 * test_alloc.c -- the project allocator: the fail-at-Nth hook (one-shot and sticky), the live
 * counter, overflow checks, and the string helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc_hooks.h"
#include "stele.h"

#include <pthread.h>
#include <string.h>

static void test_live_counter(void **state) {
    (void)state;
    int64_t live = stele__alloc_live();
    uint64_t count = stele__alloc_count();
    void *a = stele__malloc(10);
    void *b = stele__calloc(4, 8);
    char *c = stele__strdup("hello");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(stele__alloc_live(), live + 3);
    assert_int_equal(stele__alloc_count(), count + 3);
    static const uint8_t zero[32];
    assert_memory_equal(b, zero, 32);
    stele__free(a);
    stele__free(b);
    stele_free(c);
    stele__free(NULL);
    stele_free(NULL);
    assert_int_equal(stele__alloc_live(), live);
    /* Zero-byte requests still give a pointer that must be freed. */
    void *z = stele__malloc(0);
    assert_non_null(z);
    stele__free(z);
    assert_int_equal(stele__alloc_live(), live);
}

static void test_fail_once(void **state) {
    (void)state;
    int64_t live = stele__alloc_live();
    stele__alloc_fail_at(3, 0);
    void *a = stele__malloc(8);
    void *b = stele__malloc(8);
    void *c = stele__malloc(8);
    void *d = stele__malloc(8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d);
    stele__free(a);
    stele__free(b);
    stele__free(d);
    assert_int_equal(stele__alloc_live(), live);
}

static void test_fail_sticky(void **state) {
    (void)state;
    stele__alloc_fail_at(2, 1);
    void *a = stele__malloc(8);
    assert_non_null(a);
    assert_null(stele__malloc(8));
    assert_null(stele__calloc(1, 8));
    assert_null(stele__strdup("x"));
    assert_null(stele__realloc(NULL, 8));
    /* realloc failure leaves the block intact. */
    memset(a, 0x5a, 8);
    assert_null(stele__realloc(a, 64));
    assert_int_equal(((unsigned char *)a)[7], 0x5a);
    stele__alloc_fail_at(0, 0);
    void *b = stele__malloc(8);
    assert_non_null(b);
    stele__free(a);
    stele__free(b);
}

static void test_calloc_overflow(void **state) {
    (void)state;
    int64_t live = stele__alloc_live();
    assert_null(stele__calloc(SIZE_MAX / 2, 3));
    assert_int_equal(stele__alloc_live(), live);
}

static void test_realloc_and_strings(void **state) {
    (void)state;
    int64_t live = stele__alloc_live();
    char *p = stele__realloc(NULL, 4);
    assert_non_null(p);
    memcpy(p, "abc", 4);
    p = stele__realloc(p, 4096);
    assert_non_null(p);
    assert_string_equal(p, "abc");
    assert_int_equal(stele__alloc_live(), live + 1);
    stele__free(p);

    char *s = stele__strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    stele__free(s);
    s = stele__strndup("ab", 10);
    assert_string_equal(s, "ab");
    stele__free(s);
    assert_int_equal(stele__alloc_live(), live);
}

static void *allocate_many(void *arg) {
    int *failures = arg;
    for (int i = 0; i < 10000; i++) {
        void *p = stele__malloc(16);
        if (p)
            stele__free(p);
        else
            (*failures)++;
    }
    return NULL;
}

static void test_fail_across_threads(void **state) {
    (void)state;
    /* Exactly one of 40000 allocations on four threads fails: the countdown is atomic. */
    int failures[4] = {0};
    pthread_t t[4];
    stele__alloc_fail_at(25000, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, allocate_many, &failures[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    stele__alloc_fail_at(0, 0);
    assert_int_equal(failures[0] + failures[1] + failures[2] + failures[3], 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_counter),        cmocka_unit_test(test_fail_once),
        cmocka_unit_test(test_fail_sticky),         cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_realloc_and_strings), cmocka_unit_test(test_fail_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
