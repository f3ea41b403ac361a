/*
 * test_assert.c -- STELE_ASSERT stays on in every build, including the default RelWithDebInfo
 * build, which defines NDEBUG (and so turns the C library's assert off): a broken invariant aborts
 * with the expression and its place on stderr, and a kept one costs nothing visible.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/assert.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int kept = 1;

static void test_kept_invariant_passes(void **state) {
    (void)state;
    STELE_ASSERT(kept == 1);
    STELE_ASSERT(kept + 1 == 2 && kept > 0);
}

static void test_broken_invariant_aborts(void **state) {
    (void)state;
#ifdef NDEBUG
    printf("NDEBUG is defined in this build: STELE_ASSERT must still be on\n");
#endif
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        STELE_ASSERT(kept == 2);
        _exit(0); /* reached only when the assertion is off */
    }
    close(fds[1]);
    char msg[512] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof msg - 1 && (n = read(fds[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(msg, "assertion failed: kept == 2"));
    assert_non_null(strstr(msg, "test_assert.c"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_invariant_passes),
        cmocka_unit_test(test_broken_invariant_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
