/*
 * json_out.h -- JSON text built in a growable buffer (steled's answers, the CLI's lines and its
 * request bodies to a server), and the one place an event is written as JSON: the line
 * `stele read` prints and the object steled answers with are the same bytes.
 *
 * Keys come in a fixed order (position, stream, version, type, time, id, data, metadata).
 * The data and metadata of an event are JSON text the store validated when it was appended; they
 * are written back as stored, with only the whitespace outside strings removed, so numbers (big
 * integers, exact decimals) and key order survive an export and import unchanged. Binary data is
 * written as a base64 string followed by "content":"binary".
 *
 * Building a line in memory and handing it on in one piece costs far less than many small writes
 * (perf of GET /all: evbuffer_add and vfprintf per field were ~45% of the CPU). Not part of
 * libstele.
 */
#ifndef STELE_COMMON_JSON_OUT_H
#define STELE_COMMON_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stele.h>

/* Text being built, always NUL-terminated once something was added (data is NULL before).
 * Zero-initialised is empty. When memory runs out, failed is set and later additions are
 * dropped, so callers check once, at the end. */
typedef struct json_out {
    char *data;
    size_t len, cap;
    bool failed;
} json_out_t;

void jout_add(json_out_t *b, const void *data, size_t n);
void jout_str(json_out_t *b, const char *s);
void jout_printf(json_out_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jout_u64(json_out_t *b, uint64_t v);
void jout_i64(json_out_t *b, int64_t v);
/* A JSON string literal of len bytes of UTF-8: '"', '\\' and control bytes escaped. */
void jout_string(json_out_t *b, const char *s, size_t len);
/* Valid JSON text on one line: whitespace outside strings dropped, the rest byte for byte. */
void jout_compact(json_out_t *b, const char *text, size_t len);
/* The event as one JSON object (no newline). */
void jout_event(json_out_t *b, const stele_event_t *ev);

/* Empties b for the next text (keeps its memory); jout_free gives the memory back. */
void jout_clear(json_out_t *b);
void jout_free(json_out_t *b);

/* The decimal digits of v in out (not terminated); returns how many. */
size_t jout_u64_text(char out[20], uint64_t v);

#endif
