/*
 * json.c -- validation of event data and metadata: an allocation-free, single-pass checker of RFC
 * 8259 JSON with UTF-8 validation.
 *
 * Why not a JSON library: every append validates every event's data, and building a document to
 * throw it away cost more than the rest of the append path put together (profiled: jansson and its
 * allocations took ~40% of CPU in 8 x 100-event appends). This checker allocates nothing and keeps
 * only a bit per nesting level. Duplicate keys are allowed (RFC 8259 allows them); "\u0000" is
 * allowed in string values but not in object keys, which jansson (the server's and the CLI's
 * parser) and PostgreSQL cannot hold, so an event the store accepts can be read back by them;
 * unpaired surrogate escapes are not; nesting is limited to STELE_JSON_MAX_DEPTH.
 */
#include "util/json.h"

#include "stele.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

typedef struct scan {
    const unsigned char *p, *start, *end;
    const char *err;
} scan_t;

static void ws(scan_t *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int fail(scan_t *s, const char *why) {
    s->err = why;
    return -1;
}

static int hex4(scan_t *s, uint32_t *out) {
    if (s->end - s->p < 4)
        return fail(s, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return fail(s, "invalid \\u escape");
    }
    s->p += 4;
    *out = v;
    return 0;
}

/* One UTF-8 sequence starting at s->p (its first byte >= 0x80). */
static int utf8(scan_t *s) {
    uint32_t cp;
    size_t len = stele__utf8_next(s->p, (size_t)(s->end - s->p), &cp);
    if (len == 0)
        return fail(s, "invalid UTF-8");
    s->p += len;
    return 0;
}

/* Bytes that end a run of plain string characters: '"', '\\', controls and non-ASCII. */
static const uint8_t plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* A string; in an object key (is_key) the escape \u0000 is refused. */
static int string(scan_t *s, bool is_key) {
    s->p++; /* the opening quote */
    for (;;) {
        while (s->end - s->p >= 4 && plain[s->p[0]] && plain[s->p[1]] && plain[s->p[2]] &&
               plain[s->p[3]])
            s->p += 4;
        while (s->p < s->end && plain[*s->p])
            s->p++;
        if (s->p >= s->end)
            return fail(s, "unterminated string");
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(s, "control character in string");
        if (c >= 0x80) {
            if (utf8(s) < 0)
                return -1;
            continue;
        }
        s->p++;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return fail(s, "unterminated escape");
        c = *s->p++;
        if (strchr("\"\\/bfnrt", (int)c) && c)
            continue;
        if (c != 'u')
            return fail(s, "invalid escape");
        uint32_t v;
        if (hex4(s, &v) < 0)
            return -1;
        if (v == 0 && is_key)
            return fail(s, "\\u0000 in an object key");
        if (v >= 0xdc00 && v <= 0xdfff)
            return fail(s, "unpaired surrogate escape");
        if (v >= 0xd800 && v <= 0xdbff) {
            uint32_t lo;
            if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                return fail(s, "unpaired surrogate escape");
            s->p += 2;
            if (hex4(s, &lo) < 0)
                return -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return fail(s, "unpaired surrogate escape");
        }
    }
}

static int digits(scan_t *s) {
    const unsigned char *b = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > b ? 0 : fail(s, "invalid number");
}

static int number(scan_t *s) {
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (digits(s) < 0)
        return -1;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (digits(s) < 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (digits(s) < 0)
            return -1;
    }
    return 0;
}

static int literal(scan_t *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "invalid literal");
    s->p += n;
    return 0;
}

/* The whole document. Containers are tracked by one bit per level (1 = object). */
static int document(scan_t *s, int *top) {
    uint8_t kinds[STELE_JSON_MAX_DEPTH / 8];
    int depth = 0;
    *top = 0;
    ws(s);
    for (;;) {
        /* a value */
        if (s->p >= s->end)
            return fail(s, depth ? "unexpected end of input" : "empty input");
        unsigned c = *s->p;
        if (depth == 0)
            *top = (int)c;
        if (c == '{' || c == '[') {
            if (depth == STELE_JSON_MAX_DEPTH)
                return fail(s, "nesting is deeper than 512 levels");
            if (c == '{')
                kinds[depth / 8] = (uint8_t)(kinds[depth / 8] | (1u << (depth % 8)));
            else
                kinds[depth / 8] = (uint8_t)(kinds[depth / 8] & ~(1u << (depth % 8)));
            depth++;
            s->p++;
            ws(s);
            if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                s->p++;
                depth--;
                goto after_value;
            }
            if (c == '{')
                goto key;
            continue;
        }
        if (c == '"') {
            if (string(s, false) < 0)
                return -1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (number(s) < 0)
                return -1;
        } else if (c == 't' || c == 'f' || c == 'n') {
            if (literal(s, c == 't' ? "true" : c == 'f' ? "false" : "null") < 0)
                return -1;
        } else {
            return fail(s, "unexpected character");
        }
    after_value:
        ws(s);
        if (depth == 0)
            return s->p == s->end ? 0 : fail(s, "unexpected text after the JSON value");
        {
            bool obj = (kinds[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            if (s->p >= s->end)
                return fail(s, "unexpected end of input");
            if (*s->p == (obj ? '}' : ']')) {
                s->p++;
                depth--;
                goto after_value;
            }
            if (*s->p != ',')
                return fail(s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            s->p++;
            ws(s);
            if (!obj)
                continue;
        }
    key:
        if (s->p >= s->end || *s->p != '"')
            return fail(s, "expected a string key");
        if (string(s, true) < 0)
            return -1;
        ws(s);
        if (s->p >= s->end || *s->p != ':')
            return fail(s, "expected ':'");
        s->p++;
        ws(s);
    }
}

int stele__json_validate(const char *text, size_t len, bool require_object, const char *what) {
    scan_t s = {.p = (const unsigned char *)(text ? text : ""), .err = NULL};
    s.start = s.p;
    s.end = s.p + (text ? len : 0);
    int top = 0;
    if (document(&s, &top) < 0) {
        size_t line = 1, col = 1;
        for (const unsigned char *q = s.start; q < s.p && q < s.end; q++) {
            if (*q == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return stele__fail(STELE_EJSON, "%s: %s at line %zu column %zu", what, s.err, line, col);
    }
    if (require_object && top != '{')
        return stele__fail(STELE_EJSON, "%s: not a JSON object", what);
    return 0;
}
