/*
 * json_scan.h -- finding the raw text of values in JSON known to be valid, shared by the programs
 * (the stele CLI and steled). They keep data and metadata as the client wrote them (0.1 stays 0.1,
 * 30-digit integers stay whole), so they locate spans in the original text instead of re-encoding
 * jansson's values. Not part of libstele.
 */
#ifndef STELE_COMMON_JSON_SCAN_H
#define STELE_COMMON_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* The first index at or after i that is not JSON white space (len if none). */
size_t jscan_ws(const char *s, size_t len, size_t i);
/* s[i] is an opening quote: the index just after the closing one (len if unterminated). */
size_t jscan_string_end(const char *s, size_t len, size_t i);
/* The index just after the JSON value that starts at s[i] (len if it runs to the end). */
size_t jscan_value_end(const char *s, size_t len, size_t i);

/* Whether the JSON string literal s[b..e) (quotes included) spells key (key_len bytes) once its
 * escapes are decoded, as jansson decodes them. */
bool jscan_key_is(const char *s, size_t b, size_t e, const char *key, size_t key_len);

/* The raw text [*start, *end) of member key of the object starting at or after s[obj]. Keys are
 * compared as decoded, so "d\u0061ta" is "data". The last occurrence wins, as in jansson. */
bool jscan_member(const char *s, size_t len, size_t obj, const char *key, size_t *start,
                  size_t *end);

/* How many members of the object starting at or after s[obj] are named key (any name when key is
 * NULL): more than jansson's object holds means a duplicate key. */
size_t jscan_member_count(const char *s, size_t len, size_t obj, const char *key);

#endif
