/*
 * cmd_tail.c -- `stele tail`: a subscription to one stream or to the global log. It prints the
 * history, then live events as they are committed, until SIGINT or SIGTERM (or, with
 * --caught-up-exit, as soon as the history is printed: handy for scripts and tests).
 *
 * The signal handler only sets a flag; the loop waits for events in short slices and checks it,
 * so the store is always closed cleanly. Live events are flushed one by one so that a pipe
 * reader sees each as it happens.
 */
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "remote.h"

#define WAIT_SLICE_MS 200

static int follow(const cli_ctx_t *ctx, stele_subscription_t *sub, bool caught_up_exit,
                  bool verbose) {
    bool live = false;
    stele_event_t ev;
    while (!cli_stop_requested()) {
        int rc = stele_subscription_next(sub, &ev, WAIT_SLICE_MS);
        if (rc == STELE_SUB_EVENT) {
            if (cli_print_event(&ev) != EXIT_OK) {
                cli_errorf(ctx, "writing the output failed");
                return EXIT_ERROR;
            }
            if (live) {
                fflush(stdout);
            }
        } else if (rc == STELE_SUB_CAUGHT_UP) {
            live = true;
            fflush(stdout);
            if (verbose || isatty(STDERR_FILENO) == 1) {
                fprintf(stderr, "caught up at %llu\n",
                        (unsigned long long)stele_subscription_position(sub));
            }
            if (caught_up_exit) {
                return EXIT_OK;
            }
        } else if (rc == STELE_SUB_TIMEOUT) {
            fflush(stdout);
        } else if (rc == STELE_ECLOSED && cli_stop_requested()) {
            break;
        } else {
            return cli_fail(ctx, rc < 0 ? rc : STELE_EINVAL);
        }
    }
    return EXIT_OK;
}

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
    if (ctx->url != NULL) {
        return remote_tail(ctx, &so, caught_up_exit, verbose);
    }

    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, false, &store)) != EXIT_OK) {
        return status;
    }
    cli_stop_on_signals();
    stele_subscription_t *sub = NULL;
    int rc = stele_subscribe(store, &so, &sub);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        status = follow(ctx, sub, caught_up_exit, verbose);
        stele_subscription_close(sub);
    }
    return cli_store_close(ctx, store, status);
}
