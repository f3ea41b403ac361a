/*
 * limits.c -- validation of stream names and event types (limits in stele.h and docs/limits.md).
 *
 * Names and types are printable UTF-8: well-formed sequences (no overlongs, no surrogates, nothing
 * above U+10FFFF) and no control characters (C0, DEL, C1).
 */
#include "store/store.h"

#include "util/error.h"

#include <string.h>

/* Length of the UTF-8 sequence at p (n bytes available) if it is well-formed and printable, else
 * 0. */
static size_t printable_utf8(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x20 || c == 0x7f)
        return 0;
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
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
        return stele__fail(STELE_ERESERVED, "stream name '%.64s' starts with '$', which is reserved",
                           name);
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
