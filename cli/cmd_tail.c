/*
 * cmd_tail.c -- `stele tail`: a subscription to one stream or to the global log. It prints the
 * history, then live events as they are committed, until SIGINT or SIGTERM (or, with
 * --caught-up-exit, as soon as the history is printed: handy for scripts and tests).
 *
 * Written once over the backend (backend.h): a subscription of the local store
 * (backend_local.c), or the server's Server-Sent Events (remote_tail.c).
 */
#include <string.h>

#include "backend.h"

int cmd_tail(cli_ctx_t *ctx, int argc, char **argv) {
    const char *from_text = NULL, *after_text = NULL;
    bool from_end = false, caught_up_exit = false, verbose = ctx->verbose;
    cli_filter_args_t fa;
    cli_opt_t opts[5 + CLI_FILTER_OPT_COUNT] = {
        {"--from", &from_text, NULL},  {"--after", &after_text, NULL},
        {"--end", NULL, &from_end},    {"--caught-up-exit", NULL, &caught_up_exit},
        {"--verbose", NULL, &verbose},
    };
    cli_filter_opts(&fa, opts + 5);
    const char *pos[1];
    size_t npos = 0;
    int status =
        cli_args_parse(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 1, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if ((from_text != NULL) + (after_text != NULL) + from_end > 1) {
        return cli_usage_errorf(ctx, "give only one of --from, --after and --end");
    }
    if (npos == 1 && cli_filter_given(&fa)) {
        return cli_usage_errorf(ctx, "filters apply to the global log: give STREAM or filters");
    }
    stele_subscribe_options_t so;
    stele_subscribe_options_init(&so);
    so.from_end = from_end;
    so.stream = npos == 1 ? pos[0] : NULL;
    uint64_t position = 0;
    if (from_text != NULL) {
        if ((status = cli_parse_u64(ctx, "--from", from_text, &position)) != EXIT_OK) {
            return status;
        }
        so.after_position = position > 0 ? position - 1 : 0;
    }
    if (after_text != NULL) {
        if ((status = cli_parse_u64(ctx, "--after", after_text, &position)) != EXIT_OK) {
            return status;
        }
        so.after_position = position;
    }
    if ((status = cli_filter_build(ctx, &fa, &so.filter)) != EXIT_OK) {
        return status;
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    status = b.ops->tail(&b, &so, caught_up_exit, verbose);
    return cli_backend_close(&b, status);
}
