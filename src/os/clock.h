/*
 * clock.h -- time sources. Wall time for event timestamps, monotonic time for intervals.
 */
#ifndef STELE_OS_CLOCK_H
#define STELE_OS_CLOCK_H

#include <stdint.h>

/* CLOCK_REALTIME in ns since the Unix epoch. */
int64_t stele__clock_realtime_ns(void);
/* CLOCK_MONOTONIC in ns. */
int64_t stele__clock_monotonic_ns(void);

#endif
