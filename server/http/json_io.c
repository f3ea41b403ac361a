/*
 * json_io.c -- JSON in and out: events in request bodies, expected versions, and events, append
 * results and stream infos in the shapes the `stele` CLI prints (docs/cli.md).
 *
 * This is the general reader of append and commit bodies (body_fast.c reads the common shape and
 * hands anything else here; both must accept the same bodies with the same events, which the
 * `body` fuzz target checks). jansson checks a whole body (strict UTF-8, nesting bounded) and reads
 * the small fields; the request's own objects (the body, a commit's parts, each event) may not
 * repeat a key, but data and metadata may (RFC 8259 allows it), so jansson runs without
 * JSON_REJECT_DUPLICATES and the request's objects are checked here. An event's data and metadata
 * are then taken from the body as raw text (their byte span), not re-encoded by jansson, so numbers
 * keep their exact spelling (0.1 stays 0.1, big integers survive), objects their key order and
 * their repeated keys, as with the CLI; the library checks them (util/json.c, the one statement of
 * the JSON the store accepts). Events are written back as stored, with whitespace outside strings
 * removed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "base64.h"
#include "info_json.h"
#include "json_out.h"
#include "json_scan.h"
#include "json_io.h"

/* ---- expected versions ---------------------------------------------------------------------- */

int srv_expected_from_text(const char *text, int64_t *out) {
    if (strcmp(text, "any") == 0) {
        *out = STELE_EXPECT_ANY;
    } else if (strcmp(text, "no_stream") == 0) {
        *out = STELE_EXPECT_NO_STREAM;
    } else if (strcmp(text, "stream_exists") == 0) {
        *out = STELE_EXPECT_STREAM_EXISTS;
    } else {
        int64_t v = 0;
        size_t n = 0;
        for (; text[n] >= '0' && text[n] <= '9' && n < 19; n++) {
            v = v * 10 + (text[n] - '0');
        }
        if (n == 0 || text[n] != '\0') {
            return -1;
        }
        *out = v;
    }
    return 0;
}

int srv_expected_from_json(const json_t *v, int64_t *out) {
    if (v == NULL) {
        *out = STELE_EXPECT_ANY;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return s[0] >= '0' && s[0] <= '9' ? -1 : srv_expected_from_text(s, out);
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
            *out = (int64_t)d;
            return 0;
        }
    }
    return -1;
}

json_t *srv_expected_to_json(int64_t expected) {
    switch (expected) {
    case STELE_EXPECT_ANY: return json_string("any");
    case STELE_EXPECT_NO_STREAM: return json_string("no_stream");
    case STELE_EXPECT_STREAM_EXISTS: return json_string("stream_exists");
    default: return json_integer((json_int_t)expected);
    }
}

/* ---- raw spans ------------------------------------------------------------------------------ */

bool srv_json_element_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *end) {
    size_t i = jscan_ws(s, len, *pos);
    if (i >= len || (s[i] != '[' && s[i] != ','))
        return false;
    i = jscan_ws(s, len, i + 1);
    if (i >= len || s[i] == ']')
        return false;
    size_t value_end = jscan_value_end(s, len, i);
    *start = i;
    *end = value_end;
    *pos = jscan_ws(s, len, value_end);
    return true;
}

/* ---- events in ------------------------------------------------------------------------------ */

static int own(srv_events_t *out, void *p) {
    if (p == NULL) {
        return -1;
    }
    out->owned[out->owned_count++] = p;
    return 0;
}

/* The JSON text of member key of the event object at raw[obj] (value v): its raw span when it can
 * be found, else jansson's encoding (owned by out). */
static int member_text(srv_events_t *out, const json_t *v, const char *raw, size_t raw_len,
                       bool have_obj, size_t obj, const char *key, const void **text, size_t *len) {
    size_t start = 0, end = 0;
    if (have_obj && jscan_member(raw, raw_len, obj, key, &start, &end) && end > start) {
        *text = raw + start;
        *len = end - start;
        return 0;
    }
    char *enc = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (own(out, enc) != 0) {
        return -1;
    }
    *text = enc;
    *len = strlen(enc);
    return 0;
}

#define FAIL(code, ...)                      \
    do {                                     \
        *err = (code);                       \
        snprintf(msg, msg_len, __VA_ARGS__); \
        goto fail;                           \
    } while (0)

int srv_events_parse(const json_t *events, const char *raw, size_t raw_len, size_t obj_start,
                     srv_events_t *out, const char **err, char *msg, size_t msg_len) {
    memset(out, 0, sizeof(*out));
    size_t arr_start = 0, arr_end = 0;
    bool have_arr =
        raw != NULL && jscan_member(raw, raw_len, obj_start, "events", &arr_start, &arr_end);
    if (!json_is_array(events)) {
        *err = "bad_request";
        snprintf(msg, msg_len, "\"events\" must be an array of events");
        return -1;
    }
    size_t count = json_array_size(events);
    if (count == 0) {
        *err = "empty_append";
        snprintf(msg, msg_len, "\"events\" is empty");
        return -1;
    }
    out->events = calloc(count, sizeof(*out->events));
    out->owned = calloc(count * 2, sizeof(*out->owned));
    if (out->events == NULL || out->owned == NULL) {
        FAIL("internal", "out of memory");
    }
    out->count = count;
    size_t walk = arr_start;
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(events, i);
        stele_event_in_t *in = &out->events[i];
        if (!json_is_object(e)) {
            FAIL("bad_request", "event %zu is not an object", i);
        }
        size_t obj = 0, obj_end = 0;
        bool have_obj = have_arr && srv_json_element_next(raw, raw_len, &walk, &obj, &obj_end);
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)e, key, value) {
            if (strcmp(key, "type") != 0 && strcmp(key, "data") != 0 &&
                strcmp(key, "metadata") != 0 && strcmp(key, "id") != 0 &&
                strcmp(key, "content") != 0) {
                FAIL("bad_request", "event %zu: unknown key \"%s\"", i, key);
            }
        }
        if (have_obj && jscan_member_count(raw, raw_len, obj, NULL) != json_object_size(e)) {
            FAIL("invalid_json", "event %zu: duplicate key \"%s\"", i,
                 srv_json_duplicate(e, raw, raw_len, obj));
        }
        const json_t *type = json_object_get(e, "type");
        if (!json_is_string(type)) {
            FAIL("invalid_type", "event %zu: \"type\" must be a string", i);
        }
        if (strlen(json_string_value(type)) != json_string_length(type)) {
            FAIL("invalid_type", "event %zu: the type holds a NUL character", i);
        }
        in->type = json_string_value(type);
        const json_t *id = json_object_get(e, "id");
        if (id != NULL && !json_is_null(id)) {
            if (!json_is_string(id) || stele_uuid_parse(json_string_value(id), &in->id) != 0) {
                FAIL("invalid_argument", "event %zu: \"id\" must be a UUID", i);
            }
        }
        const json_t *content = json_object_get(e, "content");
        bool binary = false;
        if (content != NULL) {
            if (!json_is_string(content) || (strcmp(json_string_value(content), "binary") != 0 &&
                                             strcmp(json_string_value(content), "json") != 0)) {
                FAIL("invalid_argument", "event %zu: \"content\" must be \"binary\" or \"json\"",
                     i);
            }
            binary = strcmp(json_string_value(content), "binary") == 0;
        }
        const json_t *data = json_object_get(e, "data");
        if (binary) {
            uint8_t *bytes = NULL;
            size_t n = 0;
            if (!json_is_string(data) ||
                b64_decode(json_string_value(data), json_string_length(data), &bytes, &n) != 0) {
                FAIL("invalid_argument", "event %zu: binary \"data\" must be a base64 string", i);
            }
            out->owned[out->owned_count++] = bytes;
            in->data = bytes;
            in->data_len = n;
            in->flags |= STELE_EVENT_BINARY;
        } else if (data == NULL) {
            in->data = "{}";
            in->data_len = 2;
        } else if (member_text(out, data, raw, raw_len, have_obj, obj, "data", &in->data,
                               &in->data_len) != 0) {
            FAIL("internal", "out of memory");
        }
        const json_t *meta = json_object_get(e, "metadata");
        if (meta != NULL && !json_is_null(meta)) {
            if (!json_is_object(meta)) {
                FAIL("invalid_json", "event %zu: \"metadata\" must be an object", i);
            }
            if (member_text(out, meta, raw, raw_len, have_obj, obj, "metadata", &in->metadata,
                            &in->metadata_len) != 0) {
                FAIL("internal", "out of memory");
            }
        }
    }
    return 0;
fail:
    srv_events_free(out);
    return -1;
}

const char *srv_json_duplicate(const json_t *obj, const char *raw, size_t raw_len, size_t at) {
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        if (jscan_member_count(raw, raw_len, at, key) > 1) {
            return key;
        }
    }
    return "?";
}

json_t *srv_json_parse(const char *text, size_t len, char *msg, size_t msg_len) {
    json_error_t jerr;
    /* Integers are read as reals so that big ones (kept exactly as raw text in event data) do
     * not fail the parse; srv_expected_from_json() accepts integral reals. No
     * JSON_REJECT_DUPLICATES: data may repeat keys; the request's own objects are checked by their
     * readers (srv_json_duplicate). */
    json_t *v = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (v == NULL) {
        snprintf(msg, msg_len, "the body is not valid JSON: %s at byte %d", jerr.text,
                 jerr.position);
    }
    return v;
}

/* An expected version written as plain digits is read from the text, exactly: jansson holds it as
 * a double, which would round 9007199254740993 to ...992. */
static int expected_from_span(const char *s, size_t n, int64_t *out) {
    int64_t v = 0;
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - (s[i] - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int srv_part_read(const json_t *obj, const char *raw, size_t raw_len, size_t obj_start,
                  bool have_span, bool is_commit, int64_t *expected, srv_events_t *out,
                  const char **err, char *msg, size_t msg_len) {
    memset(out, 0, sizeof(*out));
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        if (strcmp(key, "events") != 0 && strcmp(key, "expected_version") != 0 &&
            !(is_commit && strcmp(key, "stream") == 0)) {
            *err = "bad_request";
            snprintf(msg, msg_len, "unknown key \"%s\"", key);
            return -1;
        }
    }
    if (have_span && jscan_member_count(raw, raw_len, obj_start, NULL) != json_object_size(obj)) {
        *err = "invalid_json";
        snprintf(msg, msg_len, "duplicate key \"%s\"",
                 srv_json_duplicate(obj, raw, raw_len, obj_start));
        return -1;
    }
    const json_t *ev = json_object_get(obj, "expected_version");
    size_t start = 0, end = 0;
    int rc;
    if (json_is_number(ev) && have_span &&
        jscan_member(raw, raw_len, obj_start, "expected_version", &start, &end) &&
        strspn(raw + start, "0123456789") >= end - start) {
        rc = expected_from_span(raw + start, end - start, expected);
    } else {
        rc = srv_expected_from_json(ev, expected);
    }
    if (rc != 0) {
        *err = "invalid_argument";
        snprintf(msg, msg_len,
                 "\"expected_version\" must be \"any\", \"no_stream\", \"stream_exists\" or a "
                 "version >= 0");
        return -1;
    }
    return srv_events_parse(json_object_get(obj, "events"), have_span ? raw : NULL,
                            have_span ? raw_len : 0, obj_start, out, err, msg, msg_len);
}

json_t *srv_append_body_read(const char *raw, size_t len, int64_t *expected, srv_events_t *out,
                             const char **err, char *msg, size_t msg_len) {
    memset(out, 0, sizeof(*out));
    json_t *body = srv_json_parse(raw, len, msg, msg_len);
    if (body == NULL) {
        *err = "invalid_json";
        return NULL;
    }
    if (!json_is_object(body)) {
        *err = "bad_request";
        snprintf(msg, msg_len, "the body must be an object {\"expected_version\", \"events\"}");
    } else if (srv_part_read(body, raw, len, 0, true, false, expected, out, err, msg, msg_len) ==
               0) {
        return body;
    }
    json_decref(body);
    return NULL;
}

void srv_events_free(srv_events_t *ev) {
    for (size_t i = 0; i < ev->owned_count; i++) {
        free(ev->owned[i]);
    }
    free(ev->owned);
    free(ev->events);
    memset(ev, 0, sizeof(*ev));
}

/* ---- events out ----------------------------------------------------------------------------- */

/* Answers are built in a scratch buffer (json_out.h) and handed to the evbuffer in one piece.
 * Only the loop thread writes answers, so one buffer serves. */
static json_out_t scratch;

static int flush(json_out_t *b, struct evbuffer *out) {
    int rc = b->failed ? -1 : evbuffer_add(out, b->data, b->len);
    jout_clear(b);
    return rc;
}

void srv_json_string(struct evbuffer *out, const char *s, size_t len) {
    jout_string(&scratch, s, len);
    flush(&scratch, out);
}

int srv_event_json(struct evbuffer *out, const stele_event_t *ev) {
    jout_event(&scratch, ev);
    return flush(&scratch, out);
}

void srv_append_result_write(struct evbuffer *out, const char *stream,
                             const stele_append_result_t *r) {
    json_out_t *b = &scratch;
    jout_str(b, "{\"stream\":");
    jout_string(b, stream, strlen(stream));
    jout_str(b, ",\"first_version\":");
    jout_i64(b, r->first_version);
    jout_str(b, ",\"last_version\":");
    jout_i64(b, r->last_version);
    jout_str(b, ",\"first_position\":");
    jout_u64(b, r->first_position);
    jout_str(b, ",\"last_position\":");
    jout_u64(b, r->last_position);
    jout_str(b, r->idempotent ? ",\"idempotent\":true}" : ",\"idempotent\":false}");
    flush(b, out);
}

json_t *srv_stream_info_json(const stele_stream_info_t *info) { return info_json(info); }
