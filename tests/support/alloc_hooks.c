/*
 * alloc_hooks.c -- the allocator's test hooks (see alloc_hooks.h), over the counters that
 * src/os/alloc.c keeps.
 */
#include "alloc_hooks.h"

#include <stdatomic.h>

void stele__alloc_fail_at(uint64_t nth, int sticky) {
    struct stele__alloc_state *st = &stele__alloc_state;
    /* Disarm first so no allocation on another thread sees a half-armed state. */
    atomic_store(&st->fail_countdown, 0);
    atomic_store(&st->fail_tripped, false);
    atomic_store(&st->fail_sticky, sticky != 0);
    atomic_store(&st->fail_countdown, nth);
}

uint64_t stele__alloc_count(void) { return atomic_load(&stele__alloc_state.calls); }

int64_t stele__alloc_live(void) { return atomic_load(&stele__alloc_state.live); }
