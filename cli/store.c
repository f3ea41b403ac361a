/*
 * store.c -- opening and closing the store for one command of the `stele` tool.
 *
 * Writing commands open with STELE_OPEN_CREATE, so the first append makes the store. Reading
 * commands never create one: a directory without a store (missing, or not a Stele store) is
 * reported as "no store at DIR" with exit status 3, like any other thing that is not found. A
 * store another process holds (steled) is reported with the way to reach it: --url.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

int cli_store_open(const cli_ctx_t *ctx, bool create, stele_store_t **out) {
    return cli_store_open_flags(ctx, create ? STELE_OPEN_CREATE : 0, out);
}

int cli_store_open_flags(const cli_ctx_t *ctx, uint32_t flags, stele_store_t **out) {
    bool create = (flags & STELE_OPEN_CREATE) != 0;
    stele_options_t opts;
    stele_options_init(&opts);
    opts.durability = ctx->durability;
    opts.flags = flags;
    int rc = stele_store_open(ctx->dir, &opts, out);
    if (rc == 0) {
        return EXIT_OK;
    }
    *out = NULL;
    if (!create && (rc == STELE_ENOTSTORE || rc == -ENOENT)) {
        cli_errorf(ctx, "no store at %s (%s)", ctx->dir, stele_strerror(rc));
        return EXIT_NOTFOUND;
    }
    const char *detail = stele_errdetail();
    if (rc == STELE_ELOCKED) {
        /* Most often the server has it: say how to reach the same events through it. */
        cli_errorf(ctx,
                   "%s: %s: another process (a running steled?) has it open; go through that "
                   "server with --url (e.g. stele --url http://127.0.0.1:2113 %s ...), or stop it",
                   ctx->dir, stele_strerror(rc), ctx->command != NULL ? ctx->command : "");
        return EXIT_ERROR;
    }
    if (detail != NULL && detail[0] != '\0') {
        cli_errorf(ctx, "%s: %s: %s", ctx->dir, stele_strerror(rc), detail);
    } else {
        cli_errorf(ctx, "%s: %s", ctx->dir, stele_strerror(rc));
    }
    return EXIT_ERROR;
}

int cli_store_close(const cli_ctx_t *ctx, stele_store_t *store, int status) {
    if (store == NULL) {
        return status;
    }
    int rc = stele_store_close(store);
    if (rc != 0 && status == EXIT_OK) {
        cli_fail(ctx, rc);
        return EXIT_ERROR;
    }
    return status;
}
