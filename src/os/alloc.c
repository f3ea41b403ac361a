/*
 * alloc.c -- the project allocator: thin wrappers over malloc that tests can make fail.
 *
 * Every allocation of libstele goes through here (invariant 6), so a test can make the Nth
 * allocation fail and check that the caller returns STELE_ENOMEM cleanly, and can compare the live
 * count before and after an operation to find leaks. The hooks that arm a failure and read the
 * counters are in the test-support library (tests/support/alloc_hooks.c); here they cost two
 * relaxed atomic operations per call when disarmed.
 */
#include "os/alloc.h"

#include "stele.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct stele__alloc_state stele__alloc_state;

/* Decides whether this allocation is the one (or one of those) to fail. */
static bool should_fail(void) {
    atomic_fetch_add_explicit(&stele__alloc_state.calls, 1, memory_order_relaxed);
    if (atomic_load(&stele__alloc_state.fail_tripped))
        return true;
    uint64_t left = atomic_load(&stele__alloc_state.fail_countdown);
    while (left != 0) {
        if (atomic_compare_exchange_weak(&stele__alloc_state.fail_countdown, &left, left - 1)) {
            if (left != 1)
                return false;
            if (atomic_load(&stele__alloc_state.fail_sticky))
                atomic_store(&stele__alloc_state.fail_tripped, true);
            return true;
        }
    }
    return false;
}

void *stele__malloc(size_t size) {
    if (should_fail())
        return NULL;
    /* malloc(0) may return NULL; callers treat NULL as failure, so never ask for 0 bytes. */
    void *p = malloc(size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&stele__alloc_state.live, 1, memory_order_relaxed);
    return p;
}

void *stele__calloc(size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        return NULL;
    if (should_fail())
        return NULL;
    void *p = calloc(total ? total : 1, 1);
    if (p)
        atomic_fetch_add_explicit(&stele__alloc_state.live, 1, memory_order_relaxed);
    return p;
}

void *stele__realloc(void *p, size_t size) {
    if (!p)
        return stele__malloc(size);
    if (should_fail())
        return NULL; /* like realloc: p is left untouched */
    return realloc(p, size ? size : 1);
}

void stele__free(void *p) {
    if (!p)
        return;
    atomic_fetch_sub_explicit(&stele__alloc_state.live, 1, memory_order_relaxed);
    free(p);
}

void stele_free(void *p) { stele__free(p); }

char *stele__strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *copy = stele__malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *stele__strdup(const char *s) { return stele__strndup(s, strlen(s)); }

void *stele_malloc(size_t size) { return stele__malloc(size); }

void *stele_realloc(void *p, size_t size) { return stele__realloc(p, size); }
