/*
 * output.c -- what the `stele` tool prints: error messages with their exit statuses, JSON lines
 * on stdout, and events as NDJSON.
 *
 * Events are printed one per line with their keys in a fixed order (position, stream, version,
 * type, time, id, data, metadata) so that shell tools and tests can rely on it. The data and
 * metadata of an event are JSON text that the store validated when it was appended; they are
 * written back as they were stored, only with whitespace outside strings removed, so numbers
 * (big integers, exact decimals) and key order survive an export/import unchanged. Everything
 * else goes through jansson (compact, in insertion order).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

void cli_errorf(const cli_ctx_t *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    if (ctx != NULL && ctx->command != NULL) {
        fprintf(stderr, "stele: %s: ", ctx->command);
    } else {
        fputs("stele: ", stderr);
    }
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_errorf(const cli_ctx_t *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    if (ctx != NULL && ctx->command != NULL) {
        fprintf(stderr, "stele: %s: ", ctx->command);
    } else {
        fputs("stele: ", stderr);
    }
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (ctx != NULL && ctx->command != NULL) {
        fprintf(stderr, "Try 'stele %s --help'.\n", ctx->command);
    } else {
        fputs("Try 'stele --help'.\n", stderr);
    }
    return EXIT_USAGE;
}

int cli_exit_for(int code) {
    switch (code) {
    case STELE_OK: return EXIT_OK;
    case STELE_ECONFLICT: return EXIT_CONFLICT;
    case STELE_ENOTFOUND:
    case STELE_EDELETED:
    case STELE_ETOMBSTONED: return EXIT_NOTFOUND;
    default: return EXIT_ERROR;
    }
}

int cli_fail(const cli_ctx_t *ctx, int code) {
    const char *detail = stele_errdetail();
    if (detail != NULL && detail[0] != '\0') {
        cli_errorf(ctx, "%s: %s", stele_strerror(code), detail);
    } else {
        cli_errorf(ctx, "%s", stele_strerror(code));
    }
    return cli_exit_for(code);
}

int cli_print_json(json_t *value) {
    if (value == NULL) {
        fputs("stele: out of memory\n", stderr);
        return EXIT_ERROR;
    }
    int rc = json_dumpf(value, stdout, JSON_FLAGS);
    json_decref(value);
    if (rc != 0 || fputc('\n', stdout) == EOF || ferror(stdout)) {
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

/* A JSON string literal for len bytes of (UTF-8) text. */
static void write_string(FILE *f, const char *text, size_t len) {
    json_t *s = json_stringn_nocheck(text, len);
    if (s == NULL) {
        fputs("null", f);
        return;
    }
    json_dumpf(s, f, JSON_FLAGS);
    json_decref(s);
}

void cli_write_compact_json(FILE *f, const char *text, size_t len) {
    bool in_string = false, escaped = false;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (i > start) {
                fwrite(text + start, 1, i - start, f);
            }
            start = i + 1;
        }
    }
    if (len > start) {
        fwrite(text + start, 1, len - start, f);
    }
}

int cli_print_event(const stele_event_t *ev) {
    FILE *f = stdout;
    char time_text[36];
    char id_text[37];
    stele_time_format(ev->time_ns, time_text);
    stele_uuid_format(&ev->id, id_text);

    fprintf(f, "{\"position\":%" PRIu64 ",\"stream\":", ev->position);
    write_string(f, ev->stream, ev->stream_len);
    fprintf(f, ",\"version\":%" PRId64 ",\"type\":", ev->version);
    write_string(f, ev->type, ev->type_len);
    fprintf(f, ",\"time\":\"%s\",\"id\":\"%s\",\"data\":", time_text, id_text);
    if ((ev->flags & STELE_EVENT_BINARY) != 0) {
        char *b64 = cli_base64_encode(ev->data, ev->data_len);
        if (b64 == NULL) {
            fputs("stele: out of memory\n", stderr);
            return EXIT_ERROR;
        }
        fprintf(f, "\"%s\",\"content\":\"binary\"", b64);
        free(b64);
    } else if (ev->data_len == 0) {
        fputs("null", f);
    } else {
        cli_write_compact_json(f, ev->data, ev->data_len);
    }
    fputs(",\"metadata\":", f);
    if (ev->metadata == NULL || ev->metadata_len == 0) {
        fputs("null", f);
    } else {
        cli_write_compact_json(f, ev->metadata, ev->metadata_len);
    }
    fputs("}\n", f);
    return ferror(f) ? EXIT_ERROR : EXIT_OK;
}

int cli_print_reader(const cli_ctx_t *ctx, stele_reader_t *reader) {
    stele_event_t ev;
    for (;;) {
        int rc = stele_reader_next(reader, &ev);
        if (rc == 0) {
            return EXIT_OK;
        }
        if (rc < 0) {
            return cli_fail(ctx, rc);
        }
        if (cli_print_event(&ev) != EXIT_OK) {
            cli_errorf(ctx, "writing the output failed");
            return EXIT_ERROR;
        }
    }
}

static const char *state_name(stele_stream_state_t state) {
    switch (state) {
    case STELE_STREAM_ACTIVE: return "active";
    case STELE_STREAM_DELETED: return "deleted";
    case STELE_STREAM_TOMBSTONED: return "tombstoned";
    }
    return "unknown";
}

static json_t *time_json(int64_t ns) {
    char text[36];
    stele_time_format(ns, text);
    return json_string(text);
}

json_t *cli_stream_info_json(const stele_stream_info_t *info) {
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    bool has_events = info->last_version >= 0;
    json_object_set_new(o, "name", json_string(info->name));
    json_object_set_new(o, "state", json_string(state_name(info->state)));
    json_object_set_new(o, "first_version", json_integer((json_int_t)info->first_version));
    json_object_set_new(o, "last_version", json_integer((json_int_t)info->last_version));
    json_object_set_new(o, "event_count", json_integer((json_int_t)info->event_count));
    json_object_set_new(o, "last_position", json_integer((json_int_t)info->last_position));
    json_object_set_new(o, "created", has_events ? time_json(info->created_ns) : json_null());
    json_object_set_new(o, "updated", has_events ? time_json(info->updated_ns) : json_null());
    return o;
}

/* ---- base64 ------------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cli_base64_encode(const void *data, size_t len) {
    const uint8_t *in = data;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c) {
    const char *p = c != '\0' ? strchr(b64_alphabet, c) : NULL;
    return p != NULL ? (int)(p - b64_alphabet) : -1;
}

int cli_base64_decode(const char *text, size_t text_len, uint8_t **out, size_t *out_len) {
    if (text_len % 4 != 0) {
        return -1;
    }
    uint8_t *buf = malloc(text_len / 4 * 3 + 1);
    if (buf == NULL) {
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < text_len; i += 4) {
        bool last = i + 4 == text_len;
        int pad = 0;
        if (last && text[i + 3] == '=') {
            pad = text[i + 2] == '=' ? 2 : 1;
        }
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k >= 4 - pad ? 0 : b64_value(text[i + (size_t)k]);
            if (d < 0) {
                free(buf);
                return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        buf[o++] = (uint8_t)(v >> 16);
        if (pad < 2) {
            buf[o++] = (uint8_t)(v >> 8);
        }
        if (pad < 1) {
            buf[o++] = (uint8_t)v;
        }
    }
    *out = buf;
    *out_len = o;
    return 0;
}
