/*
 * cmd_read.c -- `stele read` (one stream), `stele read-all` (the global log, with filters) and
 * `stele event` (one event by its id): the events as NDJSON on stdout, one per line, in the order
 * asked for.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote.h"

/* Open the local store, open a reader on it with open_reader(store, arg, &reader), print its
 * events and close both: the local half of `read` and `event`. */
typedef int (*reader_open_fn)(stele_store_t *store, const void *arg, stele_reader_t **out);

static int print_local(cli_ctx_t *ctx, reader_open_fn open_reader, const void *arg) {
    stele_store_t *store = NULL;
    int status = cli_store_open(ctx, false, &store);
    if (status != EXIT_OK) {
        return status;
    }
    stele_reader_t *reader = NULL;
    int rc = open_reader(store, arg, &reader);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        status = cli_print_reader(ctx, reader);
        stele_reader_close(reader);
    }
    return cli_store_close(ctx, store, status);
}

typedef struct stream_read {
    const char *stream;
    int64_t from_version;
    stele_direction_t dir;
    uint64_t limit;
} stream_read_t;

static int open_stream_reader(stele_store_t *store, const void *arg, stele_reader_t **out) {
    const stream_read_t *r = arg;
    return stele_read_stream(store, r->stream, r->from_version, r->dir, r->limit, out);
}

static int open_event_reader(stele_store_t *store, const void *arg, stele_reader_t **out) {
    return stele_event_by_id(store, arg, out);
}

int cmd_read(cli_ctx_t *ctx, int argc, char **argv) {
    const char *from_text = NULL, *limit_text = NULL;
    bool backward = false;
    const cli_opt_t opts[] = {
        {"--from", &from_text, NULL},
        {"--limit", &limit_text, NULL},
        {"--backward", NULL, &backward},
    };
    const char *pos[1];
    size_t npos = 0;
    int status =
        cli_args_parse(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 1, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (npos != 1) {
        return cli_usage_errorf(ctx, "missing STREAM");
    }
    uint64_t from = 0, limit = 0;
    if (from_text != NULL && (status = cli_parse_u64(ctx, "--from", from_text, &from)) != 0) {
        return status;
    }
    if (from > (uint64_t)INT64_MAX) {
        return cli_usage_errorf(ctx, "--from: '%s' is too large", from_text);
    }
    if (limit_text != NULL && (status = cli_parse_u64(ctx, "--limit", limit_text, &limit)) != 0) {
        return status;
    }
    int64_t from_version = from_text != NULL ? (int64_t)from : (backward ? -1 : 0);
    if (ctx->url != NULL) {
        return remote_read(ctx, pos[0], from_version, backward, limit);
    }

    stream_read_t r = {.stream = pos[0],
                       .from_version = from_version,
                       .dir = backward ? STELE_BACKWARD : STELE_FORWARD,
                       .limit = limit};
    return print_local(ctx, open_stream_reader, &r);
}

int cmd_read_all(cli_ctx_t *ctx, int argc, char **argv) {
    const char *from_text = NULL, *limit_text = NULL;
    bool backward = false;
    cli_filter_args_t fa;
    cli_opt_t opts[3 + CLI_FILTER_OPT_COUNT] = {
        {"--from", &from_text, NULL},
        {"--limit", &limit_text, NULL},
        {"--backward", NULL, &backward},
    };
    cli_filter_opts(&fa, opts + 3);
    const char *pos[1];
    size_t npos = 0;
    int status =
        cli_args_parse(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 0, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    stele_read_options_t ro;
    stele_read_options_init(&ro);
    ro.direction = backward ? STELE_BACKWARD : STELE_FORWARD;
    if (from_text != NULL &&
        (status = cli_parse_u64(ctx, "--from", from_text, &ro.from_position)) != 0) {
        return status;
    }
    if (limit_text != NULL &&
        (status = cli_parse_u64(ctx, "--limit", limit_text, &ro.limit)) != 0) {
        return status;
    }
    if ((status = cli_filter_build(ctx, &fa, &ro.filter)) != EXIT_OK) {
        return status;
    }
    return cli_print_all(ctx, &ro);
}

int cli_print_all(cli_ctx_t *ctx, const stele_read_options_t *ro) {
    if (ctx->url != NULL) {
        return remote_read_all(ctx, ro);
    }
    stele_store_t *store = NULL;
    int status = cli_store_open(ctx, false, &store);
    if (status != EXIT_OK) {
        return status;
    }
    stele_reader_t *reader = NULL;
    int rc = stele_read_all(store, ro, &reader);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        status = cli_print_reader(ctx, reader);
        stele_reader_close(reader);
    }
    return cli_store_close(ctx, store, status);
}

int cmd_event(cli_ctx_t *ctx, int argc, char **argv) {
    const char *pos[1];
    size_t npos = 0;
    int status = cli_args_parse(ctx, argc, argv, NULL, 0, pos, 1, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (npos != 1) {
        return cli_usage_errorf(ctx, "missing ID");
    }
    stele_uuid_t id;
    if ((status = cli_parse_uuid(ctx, "ID", pos[0], &id)) != EXIT_OK) {
        return status;
    }
    if (ctx->url != NULL) {
        return remote_event(ctx, pos[0]);
    }
    return print_local(ctx, open_event_reader, &id);
}
