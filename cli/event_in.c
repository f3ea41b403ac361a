/*
 * event_in.c -- events given to the `stele` tool as NDJSON lines (append --file, import).
 *
 * A line is a JSON object: {"type": T, "data": D, "metadata": M?, "id": UUID?} and, for import,
 * "stream". "content": "binary" marks data as a base64 string of opaque bytes (as export writes
 * it). Other keys (position, version, time) are ignored: the store assigns them.
 *
 * jansson checks the line and reads the small fields. The data and metadata values are then
 * taken from the line as raw text (their byte span), not re-encoded by jansson, so numbers keep
 * their exact spelling and objects their key order: re-encoding would turn 0.1 into
 * 0.10000000000000001 and reject integers beyond 64 bits.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_scan.h"

/* Find the raw text of the top-level member `key` of the JSON object in s (already known to be
 * valid JSON). Keys are compared as decoded ("d\u0061ta" is "data") and the last occurrence wins,
 * as in jansson. */
static bool find_member(const char *s, size_t len, const char *key, size_t *off, size_t *vlen) {
    size_t start = 0, end = 0;
    if (!jscan_member(s, len, 0, key, &start, &end))
        return false;
    *off = start;
    *vlen = end - start;
    return true;
}

static char *copy_text(const char *text, size_t len) {
    char *p = malloc(len + 1);
    if (p != NULL) {
        memcpy(p, text, len);
        p[len] = '\0';
    }
    return p;
}

/* The JSON text of member `key` (value v) as a malloc'ed string: raw from the line when it can be
 * found there, else as jansson encodes it. */
static char *member_text(const char *line, size_t len, const char *key, const json_t *v,
                         size_t *out_len) {
    size_t off = 0, vlen = 0;
    char *text = NULL;
    if (find_member(line, len, key, &off, &vlen) && vlen > 0) {
        text = copy_text(line + off, vlen);
    } else {
        text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    }
    if (text != NULL) {
        *out_len = strlen(text);
        /* Raw text may hold an escaped NUL only, never a raw one, so strlen is the length. */
    }
    return text;
}

int cli_check_json(const cli_ctx_t *ctx, const char *what, const char *text, size_t len,
                   bool must_be_object) {
    json_error_t jerr;
    /* The flags every reader of events uses (steled's bodies, import lines, server answers):
     * jansson then accepts everything the store accepts (src/util/json.c); an integer beyond 64
     * bits is read as a double, not refused. The store's check has the last word. */
    json_t *v =
        json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        cli_errorf(ctx, "%s: %s: %s", what, stele_strerror(STELE_EJSON), jerr.text);
        return EXIT_ERROR;
    }
    bool is_object = json_is_object(v);
    json_decref(v);
    if (must_be_object && !is_object) {
        cli_errorf(ctx, "%s: %s: not a JSON object", what, stele_strerror(STELE_EJSON));
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

void cli_event_buf_free(cli_event_buf_t *ev) {
    if (ev == NULL) {
        return;
    }
    free(ev->type);
    free(ev->data);
    free(ev->metadata);
    free(ev->stream);
    memset(ev, 0, sizeof(*ev));
}

int cli_event_parse_line(const cli_ctx_t *ctx, const char *source, uint64_t line_no,
                         const char *line, size_t len, bool need_stream, cli_event_buf_t *ev) {
    memset(ev, 0, sizeof(*ev));
    ev->line = line_no;
    const char *problem = NULL;
    json_error_t jerr;
    /* A raw NUL byte is never JSON, but jansson skips one after a number; the raw data text
     * taken from such a line would then be cut at the NUL. */
    if (memchr(line, '\0', len) != NULL) {
        cli_errorf(ctx, "%s line %llu: %s: a NUL byte in the line", source,
                   (unsigned long long)line_no, stele_strerror(STELE_EJSON));
        return EXIT_ERROR;
    }
    json_t *root = json_loadb(line, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        cli_errorf(ctx, "%s line %llu: %s: %s", source, (unsigned long long)line_no,
                   stele_strerror(STELE_EJSON), jerr.text);
        return EXIT_ERROR;
    }
    if (!json_is_object(root)) {
        problem = "not a JSON object";
        goto fail;
    }

    json_t *type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        problem = "\"type\" is missing or not a string";
        goto fail;
    }
    ev->type = copy_text(json_string_value(type), json_string_length(type));

    ev->version = -1;
    if (need_stream) {
        json_t *version = json_object_get(root, "version");
        if (json_is_number(version) && json_number_value(version) >= 0 &&
            json_number_value(version) < 9.0e18) {
            ev->version = (int64_t)json_number_value(version);
        }
        json_t *stream = json_object_get(root, "stream");
        if (!json_is_string(stream)) {
            problem = "\"stream\" is missing or not a string";
            goto fail;
        }
        ev->stream = copy_text(json_string_value(stream), json_string_length(stream));
    }

    json_t *id = json_object_get(root, "id");
    if (id != NULL && !json_is_null(id)) {
        if (!json_is_string(id) || stele_uuid_parse(json_string_value(id), &ev->in.id) != 0) {
            problem = "\"id\" is not a UUID";
            goto fail;
        }
    }

    json_t *content = json_object_get(root, "content");
    bool binary = false;
    if (content != NULL && !json_is_null(content)) {
        if (json_is_string(content) && strcmp(json_string_value(content), "binary") == 0) {
            binary = true;
        } else if (!json_is_string(content) || strcmp(json_string_value(content), "json") != 0) {
            problem = "\"content\" is neither \"json\" nor \"binary\"";
            goto fail;
        }
    }

    json_t *data = json_object_get(root, "data");
    if (binary) {
        uint8_t *bytes = NULL;
        size_t n = 0;
        if (!json_is_string(data) ||
            b64_decode(json_string_value(data), json_string_length(data), &bytes, &n) != 0) {
            problem = "binary \"data\" is not a base64 string";
            goto fail;
        }
        ev->data = (char *)bytes;
        ev->data_len = n;
        ev->in.flags |= STELE_EVENT_BINARY;
    } else if (data == NULL) {
        ev->data = copy_text("{}", 2);
        ev->data_len = 2;
    } else {
        ev->data = member_text(line, len, "data", data, &ev->data_len);
    }

    json_t *meta = json_object_get(root, "metadata");
    size_t meta_len = 0;
    if (meta != NULL && !json_is_null(meta)) {
        if (!json_is_object(meta)) {
            problem = "\"metadata\" is not a JSON object";
            goto fail;
        }
        ev->metadata = member_text(line, len, "metadata", meta, &meta_len);
        if (ev->metadata == NULL) {
            problem = "out of memory";
            goto fail;
        }
    }
    if (ev->type == NULL || ev->data == NULL || (need_stream && ev->stream == NULL)) {
        problem = "out of memory";
        goto fail;
    }

    ev->in.type = ev->type;
    ev->in.data = ev->data;
    ev->in.data_len = ev->data_len;
    ev->in.metadata = ev->metadata;
    ev->in.metadata_len = meta_len;
    json_decref(root);
    return EXIT_OK;

fail:
    cli_errorf(ctx, "%s line %llu: %s", source, (unsigned long long)line_no, problem);
    json_decref(root);
    cli_event_buf_free(ev);
    return EXIT_ERROR;
}
