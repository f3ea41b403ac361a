/*
 * json_io.h -- request bodies (events, expected versions) and event JSON (json_io.c).
 */
#ifndef STELE_SERVER_HTTP_JSON_IO_H
#define STELE_SERVER_HTTP_JSON_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "stele.h"

/* "any" | "no_stream" | "stream_exists" | N as a JSON value or query text. Returns 0 or -1. */
int srv_expected_from_json(const json_t *v, int64_t *out);
int srv_expected_from_text(const char *text, int64_t *out);
json_t *srv_expected_to_json(int64_t expected);

/* The events of one append, parsed from a request body, with the memory they point into. */
typedef struct srv_events {
    stele_event_in_t *events;
    size_t count;
    void **owned; /* decoded binary data and re-encoded JSON */
    size_t owned_count;
} srv_events_t;

/* Parse the JSON array `events` (a member of obj, located in raw text raw/obj_span for exact data
 * bytes) into out. On failure returns -1 with an error code name and message in err/msg. */
int srv_events_parse(const json_t *events, const char *raw, size_t raw_len, size_t obj_start,
                     srv_events_t *out, const char **err, char *msg, size_t msg_len);
void srv_events_free(srv_events_t *ev);

/* jansson's reading of a request body (JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, duplicate keys
 * allowed: see json_io.c), or NULL with "the body is not valid JSON: ..." in msg. */
json_t *srv_json_parse(const char *text, size_t len, char *msg, size_t msg_len);
/* A key that object obj (its text at raw[at]) holds more than once in the raw text ("?" if none).
 */
const char *srv_json_duplicate(const json_t *obj, const char *raw, size_t raw_len, size_t at);
/* One append (the body of POST /streams/{s}, or a part of a commit when is_commit) from the object
 * obj, whose text starts at raw[obj_start] when have_span: its keys (no unknown or repeated one),
 * expected version and events. Returns 0, or -1 with an error code name and message. */
int srv_part_read(const json_t *obj, const char *raw, size_t raw_len, size_t obj_start,
                  bool have_span, bool is_commit, int64_t *expected, srv_events_t *out,
                  const char **err, char *msg, size_t msg_len);
/* The general reader of the body of POST /streams/{s}: the parsed body (which the events' types
 * point into: release it with json_decref after srv_events_free), or NULL with an error code name
 * and message. */
json_t *srv_append_body_read(const char *raw, size_t len, int64_t *expected, srv_events_t *out,
                             const char **err, char *msg, size_t msg_len);

/* The next element of an array walked in order: *pos starts at the array's '[' (text[arr]) and is
 * moved past each element found, so a walk over n elements costs one pass, not n. */
bool srv_json_element_next(const char *text, size_t len, size_t *pos, size_t *start, size_t *end);

/* Append one event as the CLI's JSON line (no newline) to out. Returns 0 or -1 (no memory). */
int srv_event_json(struct evbuffer *out, const stele_event_t *ev);
/* Append a JSON string literal. */
void srv_json_string(struct evbuffer *out, const char *s, size_t len);
/* {"stream", "first_version", "last_version", "first_position", "last_position", "idempotent"} */
void srv_append_result_write(struct evbuffer *out, const char *stream,
                             const stele_append_result_t *r);
json_t *srv_stream_info_json(const stele_stream_info_t *info);

#endif /* STELE_SERVER_HTTP_JSON_IO_H */
