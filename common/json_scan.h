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

/* The raw text [*start, *end) of member key of the object starting at or after s[obj]. Keys are
 * compared byte for byte, so an escaped spelling cannot match: when any key of the object is
 * escaped (it might spell key) the member is reported as not found, and callers fall back to
 * jansson's value. The last occurrence wins, as in jansson. */
bool jscan_member(const char *s, size_t len, size_t obj, const char *key, size_t *start,
                  size_t *end);

#endif
