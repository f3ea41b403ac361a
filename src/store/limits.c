/*
 * limits.c -- validation of stream names and event types (limits in stele.h and docs/limits.md).
 *
 * Names and types are printable UTF-8: well-formed sequences (no overlongs, no surrogates, nothing
 * above U+10FFFF) and no control characters (C0, DEL, C1).
 */
#include "store/store.h"

#include "util/error.h"
#include "util/utf8.h"

#include <string.h>

/* Length of the UTF-8 sequence at p (n bytes available) if it is well-formed and printable, else
 * 0. */
static size_t printable_utf8(const unsigned char *p, size_t n) {
    uint32_t cp = 0;
    size_t len = stele__utf8_next(p, n, &cp);
    if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return 0;
    return len;
}

static int check_text(const char *what, const char *s, size_t max, int code) {
    if (!s)
        return stele__fail(code, "%s is missing", what);
    size_t len = strlen(s);
    if (len == 0)
        return stele__fail(code, "%s is empty", what);
    if (len > max)
        return stele__fail(code, "%s is %zu bytes; the limit is %zu", what, len, max);
    for (size_t i = 0; i < len;) {
        size_t n = printable_utf8((const unsigned char *)s + i, len - i);
        if (n == 0)
            return stele__fail(code, "%s has a control character or invalid UTF-8 at byte %zu",
                               what, i);
        i += n;
    }
    return 0;
}

int stele__check_stream_name(const char *name, bool allow_reserved) {
    int rc = check_text("stream name", name, STELE_MAX_STREAM_NAME_BYTES, STELE_ENAME);
    if (rc < 0)
        return rc;
    if (name[0] == '$' && !allow_reserved)
        return stele__fail(STELE_ERESERVED,
                           "stream name '%.64s' starts with '$', which is reserved", name);
    return 0;
}

int stele__check_type(const char *type, bool allow_reserved) {
    int rc = check_text("event type", type, STELE_MAX_TYPE_BYTES, STELE_ETYPE);
    if (rc < 0)
        return rc;
    if (type[0] == '$' && !allow_reserved)
        return stele__fail(STELE_ERESERVED, "event type '%.64s' starts with '$', which is reserved",
                           type);
    return 0;
}

size_t stele__category_len(const char *name, size_t len) {
    const char *dash = memchr(name, '-', len);
    return dash ? (size_t)(dash - name) : len;
}
