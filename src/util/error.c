/*
 * error.c -- names of the error codes (stele_strerror) and the per-thread detail sentence
 * (stele_errdetail) that says exactly what went wrong in the last failed call. The names come from
 * the one error table, include/stele_errors.h.
 */
#include "util/error.h"

#include "stele.h"
#include "stele_errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DETAIL_BYTES 512

static _Thread_local char detail[DETAIL_BYTES];
/* Holds strerror_r's text for errno values the C library has no fixed string for. */
static _Thread_local char errno_text[64];

/* stele.h keeps its #defines (their numbers are ABI); each must agree with its line of the list. */
#define CHECK_NUMBER(sym, number, message, json_code, grpc) \
    _Static_assert(STELE_##sym == (number), "STELE_" #sym " differs from stele_errors.h");
STELE_ERROR_LIST(CHECK_NUMBER)
#undef CHECK_NUMBER

const char *stele_strerror(int code) {
    switch (code) {
    case STELE_OK: return "success";
#define MESSAGE_CASE(sym, number, message, json_code, grpc) \
    case number: return message;
        STELE_ERROR_LIST(MESSAGE_CASE)
#undef MESSAGE_CASE
    default: break;
    }
    if (code < 0 && code >= -4095) {
        /* GNU strerror_r returns a static string for known values, else fills the buffer. */
        return strerror_r(-code, errno_text, sizeof errno_text);
    }
    return "unknown error";
}

const char *stele_errdetail(void) { return detail; }

int stele__fail(int code, const char *fmt, ...) {
    /* Formatted apart first: callers may pass stele_errdetail() itself to add context. */
    char buf[sizeof detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(detail, buf, sizeof detail);
    return code;
}

void stele__error_clear(void) { detail[0] = '\0'; }

int stele_errdetail_set(int code, const char *fmt, ...) {
    char buf[sizeof detail];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(detail, buf, sizeof detail);
    return code;
}
