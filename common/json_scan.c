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
