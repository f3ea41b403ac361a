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

bool jscan_member(const char *s, size_t len, size_t obj, const char *key, size_t *start,
                  size_t *end) {
    size_t key_len = strlen(key);
    bool found = false;
    size_t i = jscan_ws(s, len, obj);
    if (i >= len || s[i] != '{')
        return false;
    i = jscan_ws(s, len, i + 1);
    while (i < len && s[i] == '"') {
        size_t key_start = i + 1, key_end = jscan_string_end(s, len, i);
        if (memchr(s + key_start, '\\', key_end - key_start) != NULL)
            return false; /* an escaped key */
        bool match = key_end - key_start == key_len + 1 && memcmp(s + key_start, key, key_len) == 0;
        i = jscan_ws(s, len, key_end);
        if (i >= len || s[i] != ':')
            return false;
        i = jscan_ws(s, len, i + 1);
        size_t value_end = jscan_value_end(s, len, i);
        if (match) {
            *start = i;
            *end = value_end;
            found = true;
        }
        i = jscan_ws(s, len, value_end);
        if (i >= len || s[i] != ',')
            break;
        i = jscan_ws(s, len, i + 1);
    }
    return found;
}
