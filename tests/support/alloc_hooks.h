/*
 * alloc_hooks.h -- the allocator's test hooks: make the Nth allocation of libstele fail and count
 * what is live (invariant 6). Part of the test-support library, never of libstele: the allocator
 * (src/os/alloc.c) only keeps the counters these read and write.
 */
#ifndef STELE_TEST_ALLOC_HOOKS_H
#define STELE_TEST_ALLOC_HOOKS_H

#include "os/alloc.h"

#include <stdint.h>

/* Fail the nth allocation from now (1 = the next), and every one after it when sticky; 0 disarms.
 * Process-wide, atomic. */
void stele__alloc_fail_at(uint64_t nth, int sticky);
/* Allocations made since the process started (for choosing N). */
uint64_t stele__alloc_count(void);
/* Allocations minus frees (for leak checks in tests). */
int64_t stele__alloc_live(void);

#endif
