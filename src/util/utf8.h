/*
 * utf8.h -- decoding one UTF-8 sequence strictly: no overlong forms, no surrogates, nothing above
 * U+10FFFF. Shared by the JSON checker and the validation of names and types.
 */
#ifndef STELE_UTIL_UTF8_H
#define STELE_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed sequence at p (n >= 1 bytes available), with its code point in
 * *cp; 0 when the bytes are not well-formed UTF-8. */
size_t stele__utf8_next(const unsigned char *p, size_t n, uint32_t *cp);

#endif
