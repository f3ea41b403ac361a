/*
 * json_scan.c -- raw spans in valid JSON (see json_scan.h).
 */
#include "json_scan.h"

#include <string.h>

size_t jscan_ws(const char *s, size_t len, size_t i) {
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

size_t jscan_string_end(const char *s, size_t len, size_t i) {
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

size_t jscan_value_end(const char *s, size_t len, size_t i) {
    if (i >= len)
        return len;
    if (s[i] == '"')
        return jscan_string_end(s, len, i);
    if (s[i] != '{' && s[i] != '[') {
        while (i < len && s[i] != '\0' && strchr(",}] \t\r\n", s[i]) == NULL)
            i++;
        return i;
    }
    size_t depth = 0;
    while (i < len) {
        if (s[i] == '"') {
            i = jscan_string_end(s, len, i);
            continue;
        }
        if (s[i] == '{' || s[i] == '[')
            depth++;
        else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return len;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code point of the \uXXXX escape at s[i] (i at the backslash), or -1. */
static long hex4(const char *s, size_t e, size_t i) {
    if (e - i < 6 || s[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = i + 2; k < i + 6; k++) {
        int d = hex_digit(s[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

bool jscan_key_is(const char *s, size_t b, size_t e, const char *key, size_t key_len) {
    if (e - b < 2 || s[b] != '"' || s[e - 1] != '"')
        return false;
    size_t i = b + 1, k = 0;
    e--; /* the closing quote */
    if (memchr(s + i, '\\', e - i) == NULL)
        return e - i == key_len && memcmp(s + i, key, key_len) == 0;
    while (i < e) {
        unsigned char out[4];
        size_t n = 1;
        if (s[i] != '\\') {
            out[0] = (unsigned char)s[i++];
        } else if (i + 1 < e && s[i + 1] != 'u') {
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *at = strchr(from, s[i + 1]);
            if (at == NULL || s[i + 1] == '\0')
                return false;
            out[0] = (unsigned char)to[at - from];
            i += 2;
        } else {
            long cp = hex4(s, e, i);
            if (cp < 0)
                return false;
            i += 6;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                long lo = hex4(s, e, i);
                if (lo < 0xdc00 || lo > 0xdfff)
                    return false;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
            if (cp < 0x80) {
                out[0] = (unsigned char)cp;
            } else if (cp < 0x800) {
                out[0] = (unsigned char)(0xc0 | (cp >> 6));
                out[1] = (unsigned char)(0x80 | (cp & 0x3f));
                n = 2;
            } else if (cp < 0x10000) {
                out[0] = (unsigned char)(0xe0 | (cp >> 12));
                out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                out[2] = (unsigned char)(0x80 | (cp & 0x3f));
                n = 3;
            } else {
                out[0] = (unsigned char)(0xf0 | (cp >> 18));
                out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
                out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
                out[3] = (unsigned char)(0x80 | (cp & 0x3f));
                n = 4;
            }
        }
        if (key_len - k < n || memcmp(key + k, out, n) != 0)
            return false;
        k += n;
    }
    return k == key_len;
}

/* A walk over the members of an object: how many are named key (any name when key is NULL), and
 * the value of the last of them. */
typedef struct member_walk {
    const char *key;
    size_t key_len, count, start, end;
} member_walk_t;

static void walk_members(const char *s, size_t len, size_t obj, member_walk_t *w) {
    size_t i = jscan_ws(s, len, obj);
    if (i >= len || s[i] != '{')
        return;
    i = jscan_ws(s, len, i + 1);
    while (i < len && s[i] == '"') {
        size_t key_start = i, key_end = jscan_string_end(s, len, i);
        bool match = w->key == NULL || jscan_key_is(s, key_start, key_end, w->key, w->key_len);
        i = jscan_ws(s, len, key_end);
        if (i >= len || s[i] != ':')
            return;
        i = jscan_ws(s, len, i + 1);
        size_t value_end = jscan_value_end(s, len, i);
        if (match) {
            w->start = i;
            w->end = value_end;
            w->count++;
        }
        i = jscan_ws(s, len, value_end);
        if (i >= len || s[i] != ',')
            break;
        i = jscan_ws(s, len, i + 1);
    }
}

bool jscan_member(const char *s, size_t len, size_t obj, const char *key, size_t *start,
                  size_t *end) {
    member_walk_t w = {key, strlen(key), 0, 0, 0};
    walk_members(s, len, obj, &w);
    if (w.count == 0)
        return false;
    *start = w.start;
    *end = w.end;
    return true;
}

size_t jscan_member_count(const char *s, size_t len, size_t obj, const char *key) {
    member_walk_t w = {key, key != NULL ? strlen(key) : 0, 0, 0, 0};
    walk_members(s, len, obj, &w);
    return w.count;
}
