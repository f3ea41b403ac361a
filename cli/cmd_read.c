/*
 * cmd_read.c -- `stele read` (one stream), `stele read-all` (the global log, with filters) and
 * `stele event` (one event by its id): the events as NDJSON on stdout, one per line, in the order
 * asked for. Each is written once over the backend (backend.h): the local store, or the server
 * at --url.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

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
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    status = b.ops->read_stream(&b, pos[0], from_version, backward, limit);
    return cli_backend_close(&b, status);
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
    cli_backend_t b;
    int status = cli_backend_open(ctx, CLI_OPEN_READ, &b);
    if (status != EXIT_OK) {
        return status;
    }
    status = b.ops->read_all(&b, ro);
    return cli_backend_close(&b, status);
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
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    status = b.ops->event(&b, &id, pos[0]);
    return cli_backend_close(&b, status);
}
