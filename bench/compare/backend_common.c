/*
 * backend_common.c -- what every backend of stele-compare shares (see backend.h).
 */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>

int backend_fail(char *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, BACKEND_ERR_CAP, fmt, ap);
        va_end(ap);
    }
    return -1;
}
