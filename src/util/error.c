/*
 * error.c -- names of the error codes (stele_strerror) and the per-thread detail sentence
 * (stele_errdetail) that says exactly what went wrong in the last failed call.
 */
#include "util/error.h"

#include "stele.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DETAIL_BYTES 512

static _Thread_local char detail[DETAIL_BYTES];
/* Holds strerror_r's text for errno values the C library has no fixed string for. */
static _Thread_local char errno_text[64];

const char *stele_strerror(int code) {
    switch (code) {
    case STELE_OK: return "success";
    case STELE_EINVAL: return "invalid argument";
    case STELE_ENAME: return "invalid stream name";
    case STELE_ETYPE: return "invalid event type";
    case STELE_EJSON: return "invalid JSON";
    case STELE_ETOOBIG: return "limit exceeded";
    case STELE_EEMPTY: return "no events to append";
    case STELE_ECONFLICT: return "wrong expected version";
    case STELE_ENOTFOUND: return "stream not found";
    case STELE_EDELETED: return "stream deleted";
    case STELE_ETOMBSTONED: return "stream tombstoned";
    case STELE_EIDREUSE: return "event id reused for a different event";
    case STELE_ECORRUPT: return "corrupt data";
    case STELE_ENOTSTORE: return "not a Stele store";
    case STELE_EVERSION: return "store format too new";
    case STELE_EPOISONED: return "store poisoned by an earlier write failure";
    case STELE_ECLOSED: return "store closing";
    case STELE_ENOMEM: return "out of memory";
    case STELE_ELOCKED: return "store locked by another process";
    case STELE_ERESERVED: return "reserved name";
    case STELE_EUUID: return "invalid UUID";
    case STELE_EREADONLY: return "store is read-only";
    case STELE_ETIME: return "invalid time";
    case STELE_EBUSY: return "append queue full";
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
