/*
 * fuzz_json.c -- the JSON validator (stele__json_validate) against jansson.
 *
 * Checks: no crash or out-of-bounds read; the require_object form accepts exactly the valid texts
 * whose value is an object; and the validator agrees with jansson (json_loadb with
 * JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, the flags of every jansson reader of
 * events: steled's bodies, the CLI's import lines and its reading of the server's answers) on
 * whether the text is JSON -- numbers included: both refuse a number that does not round to a
 * finite double. Two documented differences are not compared, both where the store is the
 * stricter: nesting deeper than STELE_JSON_MAX_DEPTH (jansson allows 2048 levels), and texts
 * holding a raw NUL byte (jansson reads the buffer as a string in places; steled and the CLI
 * refuse such input before jansson sees it).
 *
 * Also checks what the programs write back (common/json_out.c): every text the store accepts,
 * compacted, is the same JSON value (jansson: json_equal, numbers as jansson reads them), holds no
 * white space outside strings, and compacting it again changes nothing.
 */
#include "fuzz_util.h"

#include "stele.h"
#include "util/json.h"

#include "json_out.h"

#include <jansson.h>
#include <string.h>

#define READ_FLAGS (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

/* Deepest nesting of brackets outside strings (an upper bound is enough). */
static size_t max_depth(const uint8_t *p, size_t n) {
    size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > deepest)
                deepest = depth;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

/* The compacted text of a valid document: the same value, no white space left outside strings,
 * and compacting it again gives the same bytes. */
static void check_compact(const char *text, size_t size, const json_t *v) {
    json_out_t once = {0}, twice = {0};
    jout_compact(&once, text, size);
    FUZZ_CHECK(!once.failed && once.len <= size, "compacting failed or grew the text");
    json_error_t err;
    json_t *w = json_loadb(once.data, once.len, READ_FLAGS, &err);
    FUZZ_CHECK(w != NULL, "the compacted text is not JSON: %s", err.text);
    FUZZ_CHECK(json_equal(v, w), "compacting changed the value");
    json_decref(w);
    bool in_string = false;
    for (size_t i = 0; i < once.len; i++) {
        char c = once.data[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else {
            FUZZ_CHECK(!strchr(" \t\r\n", c) || c == 0, "white space left at %zu", i);
            in_string = c == '"';
        }
    }
    jout_compact(&twice, once.data, once.len);
    FUZZ_CHECK(twice.len == once.len && memcmp(twice.data, once.data, once.len) == 0,
               "compacting twice changed the text");
    jout_free(&once);
    jout_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    int rc = stele__json_validate(text, size, false, "fuzz");
    int rc_obj = stele__json_validate(text, size, true, "fuzz");
    FUZZ_CHECK(rc == 0 || rc == STELE_EJSON, "unexpected result %d", rc);
    FUZZ_CHECK(rc_obj == 0 || rc_obj == STELE_EJSON, "unexpected result %d", rc_obj);
    size_t first = 0;
    while (first < size && strchr(" \t\r\n", data[first]) && data[first])
        first++;
    bool is_object = first < size && data[first] == '{';
    FUZZ_CHECK((rc_obj == 0) == (rc == 0 && is_object), "require_object disagrees (%d, %d)", rc,
               rc_obj);

    if (memchr(data, 0, size) || max_depth(data, size) > STELE_JSON_MAX_DEPTH)
        return 0;
    json_error_t err;
    json_t *v = json_loadb(text, size, READ_FLAGS, &err);
    FUZZ_CHECK((v != NULL) == (rc == 0), "stele says %s, jansson says %s",
               rc == 0 ? "valid" : stele_errdetail(), v ? "valid" : err.text);
    if (v) {
        FUZZ_CHECK(json_is_object(v) == (rc_obj == 0), "object kind differs from jansson");
        check_compact(text, size, v);
    }
    json_decref(v);
    return 0;
}
