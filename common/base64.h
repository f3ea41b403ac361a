/*
 * base64.h -- RFC 4648 base64 with padding, for binary event data in JSON (the CLI and steled).
 */
#ifndef STELE_COMMON_BASE64_H
#define STELE_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* A NUL-terminated encoding of data (malloc; the caller frees), or NULL when out of memory. */
char *b64_encode(const void *data, size_t len);
/* Decode text[0..len) into a new buffer (malloc; the caller frees). 0, or -1 when the text is not
 * padded base64 or memory runs out. */
int b64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len);

#endif
