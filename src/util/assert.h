/*
 * assert.h -- STELE_ASSERT, the assertion that stays on in every build.
 *
 * Operating errors (I/O, bad input, limits, conflicts) are returned; a broken invariant is a
 * programmer error, and going on would write or serve wrong data. So invariants that the log, the
 * writer, the index and the store rely on (positions, versions, the visible head, queue bounds) are
 * checked always, whatever NDEBUG says: the default RelWithDebInfo build defines NDEBUG, which
 * turns <assert.h> off. A failed assertion prints the expression and its place, then aborts.
 *
 * Keep them cheap (a comparison or two): they run on the append and read paths. Checks that cost
 * a loop belong in tests.
 */
#ifndef STELE_UTIL_ASSERT_H
#define STELE_UTIL_ASSERT_H

/* Print "stele: assertion failed: <expr> (<file>:<line>, <func>)" on stderr and abort. */
_Noreturn void stele__assert_fail(const char *expr, const char *file, int line, const char *func);

#define STELE_ASSERT(cond)                   \
    (__builtin_expect(!!(cond), 1) ? (void)0 \
                                   : stele__assert_fail(#cond, __FILE__, __LINE__, __func__))

#endif
