/*
 * test_error.c -- every error code has its own name, errno codes are named by the C library, and
 * the detail sentence is per thread, set by stele__fail and cleared by stele__error_clear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stele.h"
#include "util/error.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static void test_names_distinct(void **state) {
    (void)state;
    enum { FIRST = STELE_EBUSY, LAST = STELE_EINVAL };
    const char *names[LAST - FIRST + 2];
    size_t count = 0;
    for (int code = FIRST; code <= LAST; code++)
        names[count++] = stele_strerror(code);
    names[count++] = stele_strerror(STELE_OK);
    for (size_t i = 0; i < count; i++) {
        assert_non_null(names[i]);
        assert_true(strlen(names[i]) > 0);
        assert_null(strstr(names[i], "nknown"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(names[i], names[j]);
    }
    assert_string_equal(stele_strerror(STELE_ECONFLICT), "wrong expected version");
}

static void test_errno_and_unknown(void **state) {
    (void)state;
    assert_string_equal(stele_strerror(-EIO), strerror(EIO));
    assert_string_equal(stele_strerror(-ENOSPC), strerror(ENOSPC));
    assert_string_equal(stele_strerror(STELE_ERR_BASE - 99), "unknown error");
    assert_string_equal(stele_strerror(STELE_ERR_BASE), "unknown error");
    assert_string_equal(stele_strerror(5), "unknown error");
    /* An errno value the library has no text for still gets a non-empty name. */
    assert_true(strlen(stele_strerror(-4000)) > 0);
}

static void test_detail(void **state) {
    (void)state;
    stele__error_clear();
    assert_string_equal(stele_errdetail(), "");
    assert_int_equal(stele__fail(STELE_ENAME, "event %d: %s", 3, "type is empty"), STELE_ENAME);
    assert_string_equal(stele_errdetail(), "event 3: type is empty");
    stele__error_clear();
    assert_string_equal(stele_errdetail(), "");
}

static void test_detail_truncated(void **state) {
    (void)state;
    char longer[2000];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(stele__fail(STELE_EINVAL, "%s", longer), STELE_EINVAL);
    assert_int_equal(strlen(stele_errdetail()), 511);
}

static void *other_thread(void *arg) {
    const char **seen = arg;
    seen[0] = stele_errdetail()[0] == '\0' ? "empty" : "inherited";
    stele__fail(STELE_ECORRUPT, "from the other thread");
    seen[1] = strcmp(stele_errdetail(), "from the other thread") == 0 ? "own" : "wrong";
    return NULL;
}

static void test_detail_per_thread(void **state) {
    (void)state;
    stele__fail(STELE_EJSON, "main thread detail");
    const char *seen[2] = {NULL, NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(seen[0], "empty");
    assert_string_equal(seen[1], "own");
    assert_string_equal(stele_errdetail(), "main thread detail");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_distinct),
        cmocka_unit_test(test_errno_and_unknown),
        cmocka_unit_test(test_detail),
        cmocka_unit_test(test_detail_truncated),
        cmocka_unit_test(test_detail_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
