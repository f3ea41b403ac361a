/*
 * body_fast.c -- the common shape of an append or commit body, read in one pass without building
 * a document.
 *
 * Almost every append body looks alike: an object with "expected_version" and "events", each event
 * an object with a plain "type", "data", maybe "metadata" and "id". Reading those with jansson cost
 * more than everything else the server does for an append (profiled: json_loadb and json_delete
 * were 45% of the loop's instructions for a 1-event append). This reader takes the common shape
 * directly from the text: keys without escapes, each once; expected versions as a plain string or
 * digits; types, ids and stream names without escapes. Data and metadata are taken as raw spans and
 * checked by the library, as on the general path.
 *
 * Anything else (an escaped key or type, "content", a number spelled as a real, a duplicate key, a
 * syntax error) is not judged here: the reader answers SRV_FAST_NO and the caller reads the body
 * with the general path (json_io.c), which accepts or refuses it with its precise error. So the
 * fast path can only accept what the general path accepts, never refuse anything -- as long as the
 * library's validator, which alone judges the data and metadata taken here unread, accepts no more
 * than jansson does on the general path (the store's JSON grammar, docs/limits.md). The `body`
 * fuzz target (tests/fuzz/fuzz_body.c) checks that both readers give the same events.
 */
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "body_fast.h"

typedef struct reader {
    const char *s;
    size_t len, i;
} reader_t;

static void ws(reader_t *r) { r->i = jscan_ws(r->s, r->len, r->i); }

static bool eat(reader_t *r, char c) {
    ws(r);
    if (r->i < r->len && r->s[r->i] == c) {
        r->i++;
        return true;
    }
    return false;
}

/* A string of printable ASCII without escapes: its contents [*start, *start + *n). Anything else
 * (escapes, UTF-8, control bytes) is for the general path, which checks the whole body's UTF-8. */
static bool plain_string(reader_t *r, size_t *start, size_t *n) {
    ws(r);
    if (r->i >= r->len || r->s[r->i] != '"') {
        return false;
    }
    size_t b = r->i + 1, e = b;
    while (e < r->len && r->s[e] != '"') {
        unsigned char c = (unsigned char)r->s[e];
        if (c == '\\' || c < 0x20 || c >= 0x7f) {
            return false;
        }
        e++;
    }
    if (e >= r->len) {
        return false;
    }
    *start = b;
    *n = e - b;
    r->i = e + 1;
    return true;
}

static bool key_is(const reader_t *r, size_t start, size_t n, const char *key) {
    return strlen(key) == n && memcmp(r->s + start, key, n) == 0;
}

/* "any" | "no_stream" | "stream_exists" | digits. */
static bool expected_version(reader_t *r, int64_t *out) {
    ws(r);
    if (r->i < r->len && r->s[r->i] == '"') {
        size_t b = 0, n = 0;
        if (!plain_string(r, &b, &n)) {
            return false;
        }
        const char *t = r->s + b;
        if (n == 3 && memcmp(t, "any", 3) == 0) {
            *out = STELE_EXPECT_ANY;
        } else if (n == 9 && memcmp(t, "no_stream", 9) == 0) {
            *out = STELE_EXPECT_NO_STREAM;
        } else if (n == 13 && memcmp(t, "stream_exists", 13) == 0) {
            *out = STELE_EXPECT_STREAM_EXISTS;
        } else {
            return false;
        }
        return true;
    }
    int64_t v = 0;
    size_t digits = 0;
    while (r->i < r->len && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
        if (digits == 15) {
            return false; /* beyond 2^53 the general path decides */
        }
        v = v * 10 + (r->s[r->i] - '0');
        r->i++;
        digits++;
    }
    if (digits == 0 || (digits > 1 && r->s[r->i - digits] == '0')) {
        return false;
    }
    /* A number must end here: a fraction or exponent goes to the general path. */
    if (r->i < r->len && (r->s[r->i] == '.' || r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        return false;
    }
    *out = v;
    return true;
}

/* The raw span of any value; its validity is the library's to check (data, metadata). */
static bool value_span(reader_t *r, size_t *start, size_t *end) {
    ws(r);
    if (r->i >= r->len || strchr("{[\"-0123456789tfn", r->s[r->i]) == NULL) {
        return false;
    }
    *start = r->i;
    *end = jscan_value_end(r->s, r->len, r->i);
    if (*end <= *start || *end > r->len) {
        return false;
    }
    r->i = *end;
    return true;
}

typedef struct names {
    size_t *at; /* (start, length) pairs of the types in the text, copied out at the end */
    size_t n, cap;
} names_t;

static bool events_grow(srv_events_t *ev, size_t *cap, size_t max) {
    if (ev->count < *cap) {
        return true;
    }
    if (ev->count >= max) {
        return false; /* the general path reports the limit */
    }
    size_t ncap = *cap == 0 ? 4 : *cap * 2;
    stele_event_in_t *e = realloc(ev->events, ncap * sizeof(*e));
    if (e == NULL) {
        return false;
    }
    ev->events = e;
    *cap = ncap;
    return true;
}

/* One event object. The type's span is kept in type_at[2*k], type_at[2*k+1]. */
static bool event(reader_t *r, stele_event_in_t *in, size_t *type_start, size_t *type_len) {
    memset(in, 0, sizeof(*in));
    if (!eat(r, '{')) {
        return false;
    }
    unsigned seen = 0;
    bool first = true;
    while (!eat(r, '}')) {
        if (!first && !eat(r, ',')) {
            return false;
        }
        first = false;
        size_t k = 0, kn = 0;
        if (!plain_string(r, &k, &kn) || !eat(r, ':')) {
            return false;
        }
        unsigned bit;
        if (key_is(r, k, kn, "type")) {
            bit = 1;
            if (!plain_string(r, type_start, type_len) || *type_len == 0) {
                return false;
            }
        } else if (key_is(r, k, kn, "data")) {
            bit = 2;
            size_t b = 0, e = 0;
            if (!value_span(r, &b, &e)) {
                return false;
            }
            in->data = r->s + b;
            in->data_len = e - b;
        } else if (key_is(r, k, kn, "metadata")) {
            bit = 4;
            size_t b = 0, e = 0;
            if (!value_span(r, &b, &e)) {
                return false;
            }
            if (r->s[b] == '{') {
                in->metadata = r->s + b;
                in->metadata_len = e - b;
            } else if (!(e - b == 4 && memcmp(r->s + b, "null", 4) == 0)) {
                return false;
            }
        } else if (key_is(r, k, kn, "id")) {
            bit = 8;
            size_t b = 0, n = 0;
            char text[37];
            if (!plain_string(r, &b, &n) || n != 36) {
                return false;
            }
            memcpy(text, r->s + b, 36);
            text[36] = '\0';
            if (stele_uuid_parse(text, &in->id) != 0) {
                return false;
            }
        } else {
            return false;
        }
        if (seen & bit) {
            return false;
        }
        seen |= bit;
    }
    if ((seen & 1) == 0) {
        return false;
    }
    if ((seen & 2) == 0) {
        in->data = "{}";
        in->data_len = 2;
    }
    return true;
}

/* The events array into ev; type spans into types (pairs). */
static bool events_array(reader_t *r, srv_events_t *ev, names_t *types, size_t max) {
    if (!eat(r, '[')) {
        return false;
    }
    size_t cap = 0;
    bool first = true;
    while (!eat(r, ']')) {
        if (!first && !eat(r, ',')) {
            return false;
        }
        first = false;
        if (!events_grow(ev, &cap, max)) {
            return false;
        }
        if (types->n + 2 > types->cap) {
            size_t ncap = types->cap == 0 ? 8 : types->cap * 2;
            size_t *at = realloc(types->at, ncap * sizeof(*at));
            if (at == NULL) {
                return false;
            }
            types->at = at;
            types->cap = ncap;
        }
        if (!event(r, &ev->events[ev->count], &types->at[types->n], &types->at[types->n + 1])) {
            return false;
        }
        types->n += 2;
        ev->count++;
    }
    return ev->count > 0;
}

/* Copies of the type (and stream name) spans, NUL-terminated, in one block owned by ev. */
static bool settle_names(const reader_t *r, srv_events_t *ev, const names_t *types) {
    size_t total = 0;
    for (size_t k = 0; k < types->n; k += 2) {
        total += types->at[k + 1] + 1;
    }
    char *block = malloc(total);
    ev->owned = calloc(1, sizeof(*ev->owned));
    if (block == NULL || ev->owned == NULL) {
        free(block);
        return false;
    }
    ev->owned[0] = block;
    ev->owned_count = 1;
    char *p = block;
    for (size_t k = 0; k < types->n; k += 2) {
        memcpy(p, r->s + types->at[k], types->at[k + 1]);
        p[types->at[k + 1]] = '\0';
        ev->events[k / 2].type = p;
        p += types->at[k + 1] + 1;
    }
    return true;
}

int srv_fast_append(const char *raw, size_t len, size_t max_events, int64_t *expected,
                    srv_events_t *out) {
    memset(out, 0, sizeof(*out));
    reader_t r = {raw, len, 0};
    names_t types = {NULL, 0, 0};
    *expected = STELE_EXPECT_ANY;
    bool ok = eat(&r, '{');
    unsigned seen = 0;
    bool first = true;
    while (ok && !eat(&r, '}')) {
        size_t k = 0, kn = 0;
        if ((!first && !eat(&r, ',')) || !plain_string(&r, &k, &kn) || !eat(&r, ':')) {
            ok = false;
            break;
        }
        first = false;
        if (key_is(&r, k, kn, "expected_version") && !(seen & 1)) {
            seen |= 1;
            ok = expected_version(&r, expected);
        } else if (key_is(&r, k, kn, "events") && !(seen & 2)) {
            seen |= 2;
            ok = events_array(&r, out, &types, max_events);
        } else {
            ok = false;
        }
    }
    ws(&r);
    ok = ok && (seen & 2) && r.i == len && settle_names(&r, out, &types);
    free(types.at);
    if (!ok) {
        srv_events_free(out);
        return SRV_FAST_NO;
    }
    return SRV_FAST_OK;
}
