/*
 * clock.c -- wall and monotonic time in nanoseconds. Both clocks exist on every Linux, so a failure
 * of clock_gettime() is a programmer error and aborts.
 */
#include "os/clock.h"

#include <stdlib.h>
#include <time.h>

static int64_t read_clock(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        abort();
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

int64_t stele__clock_realtime_ns(void) { return read_clock(CLOCK_REALTIME); }

int64_t stele__clock_monotonic_ns(void) { return read_clock(CLOCK_MONOTONIC); }
