/*
 * json.c -- validation of event data and metadata: an allocation-free, single-pass checker of RFC
 * 8259 JSON with UTF-8 validation.
 *
 * Why not a JSON library: every append validates every event's data, and building a document to
 * throw it away cost more than the rest of the append path put together (profiled: jansson and its
 * allocations took ~40% of CPU in 8 x 100-event appends). This checker allocates nothing and keeps
 * only a bit per nesting level.
 *
 * It is the one statement of the JSON the store accepts (docs/limits.md, "JSON"), and every reader
 * of events must accept all of it: steled's two body readers hand data and metadata here, and
 * jansson, which reads bodies in steled and every line the CLI reads (flags
 * JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL), accepts a superset of it (tests/fuzz: json, body).
 * So: duplicate keys are allowed (RFC 8259 allows them); "\u0000" is allowed in string values but
 * not in object keys, which jansson cannot hold; unpaired surrogate escapes are refused; nesting
 * is limited to STELE_JSON_MAX_DEPTH; a number must round to a finite double (1E400 does not, nor
 * a 310-digit integer), since jansson refuses the others -- integers beyond 64 bits are fine, and
 * kept as written.
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

/* 2^1024 - 2^970: halfway between DBL_MAX and 2^1024, the smallest magnitude that
 * round-to-nearest (ties to even) makes infinite. Its 309 decimal digits. */
static const char overflow_digits[] =
    "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017"
    "977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273"
    "854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704"
    "342711559699508093042880177904174497792";

/* Whether the number with integer digits [i0, i1), fraction digits [f0, f1) (f0 == f1 if none) and
 * decimal exponent exp rounds to a finite double, as strtod does (and so jansson, which refuses
 * the rest). Zero and underflow are finite: only magnitudes of at least the bound overflow. The
 * position of the first significant digit decides, and the digits themselves only when it has the
 * bound's magnitude (10^308). */
static bool finite(const unsigned char *i0, const unsigned char *i1, const unsigned char *f0,
                   const unsigned char *f1, int64_t exp) {
    const unsigned char *first = i0;
    int64_t e10; /* the value is 0.d1d2... x 10^e10 */
    if (*i0 != '0') {
        e10 = (int64_t)(i1 - i0) + exp;
    } else {
        for (first = f0; first < f1 && *first == '0'; first++)
            ;
        if (first == f1)
            return true; /* zero, however written */
        e10 = exp - (int64_t)(first - f0);
    }
    if (e10 != 309)
        return e10 < 309;
    /* The digits from the first significant one: the rest of the integer part, then the
     * fraction. */
    bool in_int = *i0 != '0';
    const unsigned char *q = first, *stop = in_int ? i1 : f1;
    for (size_t k = 0; k < sizeof overflow_digits - 1; k++, q++) {
        if (q == stop) {
            if (!in_int || f0 == f1)
                return true; /* a prefix of the bound's digits: smaller */
            in_int = false;
            q = f0;
            stop = f1;
        }
        if (*q != (unsigned char)overflow_digits[k])
            return *q < (unsigned char)overflow_digits[k];
    }
    return false; /* the bound itself or more */
}

static int number(scan_t *s) {
    const unsigned char *begin = s->p;
    if (*s->p == '-')
        s->p++;
    const unsigned char *i0 = s->p;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (digits(s) < 0)
        return -1;
    const unsigned char *i1 = s->p, *f0 = s->p, *f1 = s->p;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        f0 = s->p;
        if (digits(s) < 0)
            return -1;
        f1 = s->p;
    }
    int64_t exp = 0;
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        bool negative = false;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            negative = *s->p++ == '-';
        const unsigned char *e0 = s->p;
        if (digits(s) < 0)
            return -1;
        /* Saturated: any exponent beyond 10^15 decides as 10^15 does, whatever the digits. */
        for (const unsigned char *q = e0; q < s->p; q++)
            exp = exp >= 100000000000000 ? 1000000000000000 : exp * 10 + (*q - '0');
        if (negative)
            exp = -exp;
    } else if (i1 - i0 < 309) {
        return 0; /* the common case: fewer than 309 integer digits, no exponent */
    }
    if (!finite(i0, i1, f0, f1, exp)) {
        s->p = begin;
        return fail(s, "number out of range (larger in magnitude than 1.7976931348623157e308, the "
                       "largest a double holds)");
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
