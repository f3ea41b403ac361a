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
        char *b64 = b64_encode(ev->data, ev->data_len);
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
