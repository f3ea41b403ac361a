/*
 * output.c -- what the `stele` tool prints: error messages with their exit statuses, JSON lines
 * on stdout, and events as NDJSON.
 *
 * Events are printed one per line, written by common/json_out.c exactly as steled sends them:
 * keys in a fixed order so that shell tools and tests can rely on it, data and metadata as stored
 * with only the whitespace outside strings removed, so numbers (big integers, exact decimals) and
 * key order survive an export/import unchanged. Everything else goes through jansson (compact, in
 * insertion order).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error_map.h"
#include "json_out.h"

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

/* The exit status comes from the one error table, the same one remote mode maps the server's
 * errors with, so both modes exit alike. */
int cli_exit_for(int code) { return errmap_exit(code); }

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

/* Lines are built in memory (json_out.h, shared with steled) and written in one piece. */
static json_out_t line;

/* Writes what line holds and empties it: EXIT_OK, or EXIT_ERROR when memory ran out or the write
 * failed. */
static int write_line(FILE *f) {
    bool failed = line.failed;
    if (!failed && line.len > 0) {
        failed = fwrite(line.data, 1, line.len, f) != line.len;
    }
    jout_clear(&line);
    if (failed && !ferror(f)) {
        fputs("stele: out of memory\n", stderr);
    }
    return failed || ferror(f) ? EXIT_ERROR : EXIT_OK;
}

void cli_write_compact_json(FILE *f, const char *text, size_t len) {
    jout_compact(&line, text, len);
    write_line(f);
}

int cli_print_event(const stele_event_t *ev) {
    jout_event(&line, ev);
    jout_add(&line, "\n", 1);
    return write_line(stdout);
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
