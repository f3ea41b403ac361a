/*
 * assert.c -- the failure path of STELE_ASSERT (see assert.h).
 */
#include "util/assert.h"

#include <stdio.h>
#include <stdlib.h>

void stele__assert_fail(const char *expr, const char *file, int line, const char *func) {
    fprintf(stderr, "stele: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}
