/*
 * cmd_admin.c -- store-wide commands: `stele init`, `stats`, `digest` (the tamper-evident head),
 * `verify` (every checksum and the hash chain, with a progress bar) and `reindex` (rebuild
 * everything but the log, with a progress bar).
 */
#include <string.h>

#include "cli.h"
#include "remote.h"

/* Commands that take no arguments at all. */
static int no_args(cli_ctx_t *ctx, int argc, char **argv) {
    const char *pos[1];
    size_t npos = 0;
    int status = cli_args_parse(ctx, argc, argv, NULL, 0, pos, 0, &npos);
    return status < 0 ? -1 : status;
}

int cmd_init(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (ctx->url != NULL) {
        return remote_init(ctx);
    }
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, true, &store)) != EXIT_OK) {
        return status;
    }
    if (ctx->verbose) {
        fprintf(stderr, "stele: store ready at %s\n", ctx->dir);
    }
    return cli_store_close(ctx, store, EXIT_OK);
}

int cmd_stats(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (ctx->url != NULL) {
        return remote_stats(ctx);
    }
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, false, &store)) != EXIT_OK) {
        return status;
    }
    stele_stats_t s = {.struct_size = sizeof s};
    int rc = stele_stats(store, &s);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        json_t *o = stats_json(&s);
        status = cli_print_json(o);
    }
    return cli_store_close(ctx, store, status);
}

int cmd_digest(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (ctx->url != NULL) {
        return remote_digest(ctx);
    }
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, false, &store)) != EXIT_OK) {
        return status;
    }
    uint64_t position = 0;
    uint8_t hash[32];
    int rc = stele_head_digest(store, &position, hash);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        char hex[65];
        for (size_t i = 0; i < sizeof(hash); i++) {
            snprintf(hex + 2 * i, 3, "%02x", hash[i]);
        }
        json_t *o = json_object();
        if (o != NULL) {
            json_object_set_new(o, "position", json_integer((json_int_t)position));
            json_object_set_new(o, "hash", json_string(hex));
        }
        status = cli_print_json(o);
    }
    return cli_store_close(ctx, store, status);
}

int cmd_verify(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (ctx->url != NULL) {
        return remote_verify(ctx);
    }
    stele_store_t *store = NULL;
    /* A damaged store is opened all the same, so that verify can say where it is damaged */
    if ((status = cli_store_open_flags(ctx, STELE_OPEN_VERIFY, &store)) != EXIT_OK) {
        return status;
    }
    stele_verify_report_t report = {.struct_size = sizeof report};
    cli_progress_t progress;
    cli_progress_init(&progress, "verify", NULL);
    int rc = stele_verify(store, cli_progress_update, &progress, &report);
    cli_progress_finish(&progress);
    if (rc == 0 || rc == STELE_ECORRUPT) {
        status = cli_print_json(verify_json(rc, &report));
        if (rc != 0) {
            char message[sizeof(report.message) + 1];
            memcpy(message, report.message, sizeof(report.message));
            message[sizeof(report.message)] = '\0';
            cli_errorf(ctx, "%s: %s", stele_strerror(rc), message);
            status = EXIT_ERROR;
        }
    } else {
        status = cli_fail(ctx, rc);
        status = EXIT_ERROR;
    }
    return cli_store_close(ctx, store, status);
}

int cmd_reindex(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    if (ctx->url != NULL) {
        return remote_reindex(ctx);
    }
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, false, &store)) != EXIT_OK) {
        return status;
    }
    cli_progress_t progress;
    cli_progress_init(&progress, "reindex", NULL);
    int rc = stele_reindex(store, cli_progress_update, &progress);
    cli_progress_finish(&progress);
    if (rc != 0) {
        cli_fail(ctx, rc);
        status = EXIT_ERROR;
    }
    return cli_store_close(ctx, store, status);
}
