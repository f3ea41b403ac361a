/*
 * cmd_admin.c -- store-wide commands: `stele init`, `stats`, `digest` (the tamper-evident head),
 * `verify` (every checksum and the hash chain, with a progress bar) and `reindex` (rebuild
 * everything but the log, with a progress bar). Each is written once over the backend (backend.h):
 * the local store, or the server at --url.
 */
#include <string.h>

#include "backend.h"

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
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_WRITE, &b)) != EXIT_OK) {
        return status;
    }
    status = b.ops->ready(&b);
    return cli_backend_close(&b, status);
}

int cmd_stats(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    json_t *stats = NULL;
    if ((status = b.ops->stats(&b, &stats)) == EXIT_OK) {
        status = cli_print_json(stats);
    }
    return cli_backend_close(&b, status);
}

int cmd_digest(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    uint64_t position = 0;
    char hex[65];
    if ((status = b.ops->digest(&b, &position, hex)) == EXIT_OK) {
        json_t *o = json_object();
        if (o != NULL) {
            json_object_set_new(o, "position", json_integer((json_int_t)position));
            json_object_set_new(o, "hash", json_string(hex));
        }
        status = cli_print_json(o);
    }
    return cli_backend_close(&b, status);
}

int cmd_verify(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_VERIFY, &b)) != EXIT_OK) {
        return status;
    }
    json_t *report = NULL;
    if ((status = b.ops->verify(&b, &report)) == EXIT_OK) {
        /* A corrupt store: the report names the first bad record; stderr says so, exit 4. */
        json_incref(report); /* cli_print_json() releases one reference */
        status = cli_print_json(report);
        if (report != NULL && !json_is_true(json_object_get(report, "ok"))) {
            const char *error = json_string_value(json_object_get(report, "error"));
            const char *message = json_string_value(json_object_get(report, "message"));
            cli_errorf(ctx, "%s: %s", error != NULL ? error : "corrupt data",
                       message != NULL ? message : "");
            status = EXIT_ERROR;
        }
        json_decref(report);
    }
    return cli_backend_close(&b, status);
}

int cmd_reindex(cli_ctx_t *ctx, int argc, char **argv) {
    int status = no_args(ctx, argc, argv);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_MAINTAIN, &b)) != EXIT_OK) {
        return status;
    }
    status = b.ops->reindex(&b);
    return cli_backend_close(&b, status);
}
