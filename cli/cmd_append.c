/*
 * cmd_append.c -- `stele append`: one event from the arguments, or many from an NDJSON file,
 * written by exactly one stele_append() call so that they are all written or none.
 *
 * Everything that can be checked without the store (options, the id, the JSON of data and
 * metadata, every line of the file, then the whole append with stele_append_check: the stream
 * name, types and sizes) is checked before the store is opened: a rejected request never writes,
 * and never even creates the store.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* Parse every non-blank line of buf into *out (grown as needed). */
static int parse_file(const cli_ctx_t *ctx, const char *source, char *buf, size_t len,
                      cli_event_buf_t **out, size_t *count) {
    cli_event_buf_t *events = NULL;
    size_t n = 0, cap = 0;
    uint64_t line_no = 0;
    int status = EXIT_OK;
    size_t start = 0;
    while (start < len) {
        char *nl = memchr(buf + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        size_t line_len = end - start;
        line_no++;
        if (line_len > 0 && buf[start + line_len - 1] == '\r') {
            line_len--;
        }
        bool blank = true;
        for (size_t i = 0; i < line_len && blank; i++) {
            blank = strchr(" \t", buf[start + i]) != NULL;
        }
        if (!blank) {
            if (n == cap) {
                size_t new_cap = cap == 0 ? 16 : cap * 2;
                cli_event_buf_t *bigger = realloc(events, new_cap * sizeof(*events));
                if (bigger == NULL) {
                    cli_errorf(ctx, "out of memory");
                    status = EXIT_ERROR;
                    break;
                }
                events = bigger;
                cap = new_cap;
            }
            status = cli_event_parse_line(ctx, source, line_no, buf + start, line_len, false,
                                          &events[n]);
            if (status != EXIT_OK) {
                break;
            }
            n++;
        }
        start = end + 1;
    }
    if (status != EXIT_OK) {
        for (size_t i = 0; i < n; i++) {
            cli_event_buf_free(&events[i]);
        }
        free(events);
        return status;
    }
    *out = events;
    *count = n;
    return EXIT_OK;
}

/* Append and report; shared by the one-event and the file forms. */
static int do_append(cli_ctx_t *ctx, const char *stream, int64_t expect,
                     const stele_event_in_t *events, size_t count) {
    cli_backend_t b;
    int status = cli_backend_open(ctx, CLI_OPEN_WRITE, &b);
    if (status != EXIT_OK) {
        return status;
    }
    json_t *result = NULL;
    if ((status = b.ops->append(&b, stream, expect, events, count, &result)) == EXIT_OK) {
        status = cli_print_json(result);
    }
    return cli_backend_close(&b, status);
}

int cmd_append(cli_ctx_t *ctx, int argc, char **argv) {
    const char *expect_text = NULL, *meta = NULL, *id_text = NULL, *file = NULL;
    const char *data_file = NULL;
    bool binary = false;
    const cli_opt_t opts[] = {
        {"--expect", &expect_text, NULL},  {"--meta", &meta, NULL},
        {"--id", &id_text, NULL},          {"--file", &file, NULL},
        {"--data-file", &data_file, NULL}, {"--binary", NULL, &binary},
    };
    const char *pos[3];
    size_t npos = 0;
    int status =
        cli_args_parse(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 3, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    int64_t expect = STELE_EXPECT_ANY;
    if (expect_text != NULL &&
        (status = cli_parse_expect(ctx, "--expect", expect_text, &expect)) != EXIT_OK) {
        return status;
    }
    if (npos == 0) {
        return cli_usage_errorf(ctx, "missing STREAM");
    }
    const char *stream = pos[0];

    if (file != NULL) {
        if (npos > 1 || meta != NULL || id_text != NULL || binary || data_file != NULL) {
            return cli_usage_errorf(
                ctx, "--file takes only STREAM and --expect (TYPE, DATA, --meta, --id, --binary "
                     "and --data-file come from the file)");
        }
        char *buf = NULL;
        size_t len = 0;
        if ((status = cli_read_file(ctx, file, &buf, &len)) != EXIT_OK) {
            return status;
        }
        cli_event_buf_t *bufs = NULL;
        size_t count = 0;
        status = parse_file(ctx, strcmp(file, "-") == 0 ? "stdin" : file, buf, len, &bufs, &count);
        free(buf);
        if (status != EXIT_OK) {
            return status;
        }
        stele_event_in_t *events = count > 0 ? calloc(count, sizeof(*events)) : NULL;
        if (count == 0) {
            cli_errorf(ctx, "%s: %s has no events", stele_strerror(STELE_EEMPTY), file);
            status = EXIT_ERROR;
        } else if (events == NULL) {
            cli_errorf(ctx, "out of memory");
            status = EXIT_ERROR;
        } else {
            for (size_t i = 0; i < count; i++) {
                events[i] = bufs[i].in;
            }
            status = do_append(ctx, stream, expect, events, count);
        }
        free(events);
        for (size_t i = 0; i < count; i++) {
            cli_event_buf_free(&bufs[i]);
        }
        free(bufs);
        return status;
    }

    if (npos < 2) {
        return cli_usage_errorf(ctx, "missing TYPE (or --file)");
    }
    if (npos == 3 && data_file != NULL) {
        return cli_usage_errorf(ctx, "give DATA or --data-file, not both");
    }
    stele_event_in_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = pos[1];
    if (id_text != NULL && (status = cli_parse_uuid(ctx, "--id", id_text, &ev.id)) != EXIT_OK) {
        return status;
    }
    char *data_buf = NULL;
    size_t data_len = 0;
    if (data_file != NULL) {
        if ((status = cli_read_file(ctx, data_file, &data_buf, &data_len)) != EXIT_OK) {
            return status;
        }
        ev.data = data_buf;
    } else {
        ev.data = npos == 3 ? pos[2] : "{}";
        data_len = strlen(ev.data);
    }
    ev.data_len = data_len;
    if (binary) {
        ev.flags |= STELE_EVENT_BINARY;
    } else {
        status = cli_check_json(ctx, "data", ev.data, ev.data_len, false);
    }
    if (status == EXIT_OK && meta != NULL) {
        status = cli_check_json(ctx, "--meta", meta, strlen(meta), true);
        ev.metadata = meta;
        ev.metadata_len = strlen(meta);
    }
    if (status == EXIT_OK) {
        status = do_append(ctx, stream, expect, &ev, 1);
    }
    free(data_buf);
    return status;
}
