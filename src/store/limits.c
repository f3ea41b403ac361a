/*
 * limits.c -- validation of stream names and event types (limits in stele.h and docs/limits.md),
 * and stele_append_check(), which checks a whole append without a store.
 *
 * Names and types are printable UTF-8: well-formed sequences (no overlongs, no surrogates, nothing
 * above U+10FFFF) and no control characters (C0, DEL, C1). A name or type that a user writes must
 * also be visibly what it is: no invisible or confusable code points (zero-width and other
 * default-ignorable code points, bidirectional controls, spaces other than U+0020), so that
 * "order-\u200b1" cannot be a second stream that lists like "order-1". Look-ups accept them, so
 * that a stream written before the rule stays readable.
 */
#include "store/store.h"

#include "log/record.h"
#include "util/error.h"
#include "util/utf8.h"

#include <inttypes.h>
#include <string.h>

/* Code points a name must not hold although they are printable: Unicode's
 * Default_Ignorable_Code_Point set (DerivedCoreProperties.txt), which renders as nothing, with the
 * bidirectional controls among them named apart, and the spaces that look like U+0020. */
static const struct invisible_range {
    uint32_t lo, hi;
    const char *what;
} invisible[] = {
    {0x00A0, 0x00A0, "a no-break space"},
    {0x00AD, 0x00AD, "a soft hyphen"},
    {0x034F, 0x034F, "a combining grapheme joiner"},
    {0x061C, 0x061C, "a bidirectional control"},
    {0x115F, 0x1160, "a Hangul filler"},
    {0x1680, 0x1680, "a space other than U+0020"},
    {0x17B4, 0x17B5, "an invisible Khmer vowel"},
    {0x180B, 0x180F, "a Mongolian variation selector or vowel separator"},
    {0x2000, 0x200A, "a space other than U+0020"},
    {0x200B, 0x200D, "a zero-width character"},
    {0x200E, 0x200F, "a bidirectional control"},
    {0x2028, 0x2029, "a line or paragraph separator"},
    {0x202A, 0x202E, "a bidirectional control"},
    {0x202F, 0x202F, "a space other than U+0020"},
    {0x205F, 0x205F, "a space other than U+0020"},
    {0x2060, 0x2065, "an invisible format character"},
    {0x2066, 0x2069, "a bidirectional control"},
    {0x206A, 0x206F, "an invisible format character"},
    {0x3000, 0x3000, "a space other than U+0020"},
    {0x3164, 0x3164, "a Hangul filler"},
    {0xFE00, 0xFE0F, "a variation selector"},
    {0xFEFF, 0xFEFF, "a zero-width no-break space (byte order mark)"},
    {0xFFA0, 0xFFA0, "a Hangul filler"},
    {0xFFF0, 0xFFF8, "a default-ignorable code point"},
    {0x1BCA0, 0x1BCA3, "an invisible format character"},
    {0x1D173, 0x1D17A, "an invisible musical format character"},
    {0xE0000, 0xE0FFF, "a tag or variation selector"},
};

/* What an invisible or confusable code point is, or NULL for any other. */
static const char *invisible_what(uint32_t cp) {
    if (cp < 0xA0)
        return NULL;
    for (size_t i = 0; i < sizeof invisible / sizeof invisible[0]; i++)
        if (cp >= invisible[i].lo && cp <= invisible[i].hi)
            return invisible[i].what;
    return NULL;
}

/* Length of the UTF-8 sequence at p (n bytes available) if it is well-formed and printable, else
 * 0. */
static size_t printable_utf8(const unsigned char *p, size_t n) {
    uint32_t cp = 0;
    size_t len = stele__utf8_next(p, n, &cp);
    if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return 0;
    return len;
}

static int check_text(const char *what, const char *s, size_t max, int code, bool lookup) {
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
        uint32_t cp = 0;
        (void)stele__utf8_next((const unsigned char *)s + i, n, &cp);
        const char *kind = lookup ? NULL : invisible_what(cp);
        if (kind)
            return stele__fail(code,
                               "%s has an invisible or confusable code point U+%04" PRIX32
                               " (%s) at byte %zu",
                               what, cp, kind, i);
        i += n;
    }
    return 0;
}

int stele__check_stream_name(const char *name, bool allow_reserved) {
    int rc =
        check_text("stream name", name, STELE_MAX_STREAM_NAME_BYTES, STELE_ENAME, allow_reserved);
    if (rc < 0)
        return rc;
    if (name[0] == '$' && !allow_reserved)
        return stele__fail(STELE_ERESERVED,
                           "stream name '%.64s' starts with '$', which is reserved", name);
    return 0;
}

int stele__check_type(const char *type, bool allow_reserved) {
    int rc = check_text("event type", type, STELE_MAX_TYPE_BYTES, STELE_ETYPE, allow_reserved);
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

int stele_stream_name_check(const char *stream) {
    stele__error_clear();
    return stele__check_stream_name(stream, false);
}

int stele_append_check(const char *stream, const stele_event_in_t *events, size_t count) {
    stele__error_clear();
    int rc = stele__check_stream_name(stream, false);
    if (rc < 0)
        return rc;
    if (!events || count == 0)
        return stele__fail(STELE_EEMPTY, "no events for stream '%.64s'", stream);
    if (count > STELE_MAX_EVENTS_PER_APPEND)
        return stele__fail(STELE_ETOOBIG, "more than %u events in one append",
                           STELE_MAX_EVENTS_PER_APPEND);
    size_t bytes = 0, slen = strlen(stream);
    for (size_t k = 0; k < count; k++) {
        if ((rc = stele__check_event(&events[k], k, false)) < 0)
            return rc;
        bytes += stele__record_size(slen, strlen(events[k].type), events[k].metadata_len,
                                    events[k].data_len, false);
    }
    if (bytes > STELE_MAX_APPEND_BYTES)
        return stele__fail(STELE_ETOOBIG, "the append encodes to %zu bytes; the limit is %u", bytes,
                           STELE_MAX_APPEND_BYTES);
    return 0;
}
