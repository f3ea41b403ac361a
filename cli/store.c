/*
 * store.c -- opening and closing the store for one command of the `stele` tool.
 *
 * Writing commands open with STELE_OPEN_CREATE, so the first append makes the store. Reading
 * commands never create one: a directory without a store (missing, or not a Stele store) is
 * reported as "no store at DIR" with exit status 3, like any other thing that is not found.
 *
 * The commands that only read (read_only_command below) always open with STELE_OPEN_READONLY: no
 * lock, nothing written, so they work the same whether or not a steled holds the store, and show
 * what the log held when they started. The others take the writer's lock; when another process
 * (steled) holds it, the error says the way to reach that store: --url. tail is one of them: it
 * follows new events, which only the process that writes them can see.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

/* Commands that never write (meta only when it prints: it opens with create to replace). */
static bool read_only_command(const char *command) {
    static const char *const names[] = {"read",  "read-all", "event",  "streams", "info",
                                        "stats", "digest",   "export", "meta"};
    for (size_t i = 0; command != NULL && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(command, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

int cli_store_open(const cli_ctx_t *ctx, bool create, stele_store_t **out) {
    uint32_t flags = create ? STELE_OPEN_CREATE : 0;
    if (!create && read_only_command(ctx->command)) {
        flags = STELE_OPEN_READONLY;
    }
    return cli_store_open_flags(ctx, flags, out);
}

int cli_store_open_flags(const cli_ctx_t *ctx, uint32_t flags, stele_store_t **out) {
    bool create = (flags & STELE_OPEN_CREATE) != 0;
    stele_options_t opts;
    stele_options_init(&opts);
    opts.durability = ctx->durability;
    opts.flags = flags;
    if (ctx->segment_size_bytes != 0) {
        opts.segment_size_bytes = ctx->segment_size_bytes;
    }
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
        bool tail = ctx->command != NULL && strcmp(ctx->command, "tail") == 0;
        cli_errorf(ctx,
                   "%s: %s: another process (a running steled?) has it open for writing; %sgo "
                   "through that server with --url (e.g. stele --url http://127.0.0.1:2113 %s "
                   "...), or stop it",
                   ctx->dir, stele_strerror(rc),
                   tail ? "tail follows the events it appends, which only it sees: " : "",
                   ctx->command != NULL ? ctx->command : "");
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
