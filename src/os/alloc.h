/*
 * alloc.h -- the project allocator. Every allocation of libstele goes through these so that tests
 * can fail the Nth allocation (invariant 6) and count what is live.
 */
#ifndef STELE_OS_ALLOC_H
#define STELE_OS_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *stele__malloc(size_t size);
void *stele__calloc(size_t count, size_t size); /* checks count * size for overflow */
void *stele__realloc(void *p, size_t size);
void stele__free(void *p);
char *stele__strdup(const char *s);
char *stele__strndup(const char *s, size_t n);

/* The allocator's counters and its armed failure, process-wide and atomic. The allocator only
 * counts and obeys; the test hooks that arm a failure and read the counters
 * (stele__alloc_fail_at(), stele__alloc_count(), stele__alloc_live()) live in the test-support
 * library (tests/support/alloc_hooks.c), not in libstele. Internal: hidden in libstele.so. */
struct stele__alloc_state {
    _Atomic uint64_t fail_countdown; /* calls left until the armed failure (0 = disarmed) */
    atomic_bool fail_sticky;         /* failures continue after the armed one */
    atomic_bool fail_tripped;        /* a sticky failure has started */
    _Atomic uint64_t calls;          /* allocations made since the process started */
    _Atomic int64_t live;            /* allocations minus frees */
};
extern struct stele__alloc_state stele__alloc_state;

#endif
