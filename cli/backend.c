/*
 * backend.c -- choosing the backend of a `stele` command: the server when --url is given, else
 * the local store (see backend.h).
 */
#include <string.h>

#include "backend.h"

int cli_backend_open(cli_ctx_t *ctx, cli_open_t how, cli_backend_t *b) {
    memset(b, 0, sizeof(*b));
    b->ctx = ctx;
    if (ctx->url != NULL) {
        return cli_backend_remote_open(ctx, b);
    }
    return cli_backend_local_open(ctx, how, b);
}

int cli_backend_close(cli_backend_t *b, int status) {
    status = cli_store_close(b->ctx, b->store, status);
    b->store = NULL;
    return status;
}
