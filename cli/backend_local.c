/*
 * backend_local.c -- the `stele` tool's backend on a local store (-d DIR): each operation is the
 * libstele call, and a failure is printed with its error name and detail (cli_fail). See
 * backend.h.
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

static int local_ready(cli_backend_t *b) {
    if (b->ctx->verbose) {
        fprintf(stderr, "stele: store ready at %s\n", b->ctx->dir);
    }
    return EXIT_OK;
}

static int local_stats(cli_backend_t *b, json_t **out) {
    stele_stats_t s;
    memset(&s, 0, sizeof(s));
    int rc = stele_stats(b->store, &s);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    *out = stats_json(&s);
    return EXIT_OK;
}

static int local_digest(cli_backend_t *b, uint64_t *position, char hash_hex[65]) {
    uint8_t hash[32];
    int rc = stele_head_digest(b->store, position, hash);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    for (size_t i = 0; i < sizeof(hash); i++) {
        snprintf(hash_hex + 2 * i, 3, "%02x", hash[i]);
    }
    return EXIT_OK;
}

static int local_verify(cli_backend_t *b, json_t **report) {
    stele_verify_report_t r;
    memset(&r, 0, sizeof(r));
    cli_progress_t progress;
    cli_progress_init(&progress, "verify", NULL);
    int rc = stele_verify(b->store, cli_progress_update, &progress, &r);
    cli_progress_finish(&progress);
    if (rc != 0 && rc != STELE_ECORRUPT) {
        cli_fail(b->ctx, rc);
        return EXIT_ERROR;
    }
    *report = verify_json(rc, &r);
    return EXIT_OK;
}

static int local_reindex(cli_backend_t *b) {
    cli_progress_t progress;
    cli_progress_init(&progress, "reindex", NULL);
    int rc = stele_reindex(b->store, cli_progress_update, &progress);
    cli_progress_finish(&progress);
    if (rc != 0) {
        cli_fail(b->ctx, rc);
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

static const cli_backend_ops_t local_ops = {
    .ready = local_ready,
    .stats = local_stats,
    .digest = local_digest,
    .verify = local_verify,
    .reindex = local_reindex,
};

int cli_backend_local_open(cli_ctx_t *ctx, cli_open_t how, cli_backend_t *b) {
    b->ops = &local_ops;
    b->ctx = ctx;
    switch (how) {
    case CLI_OPEN_WRITE: return cli_store_open(ctx, true, &b->store);
    case CLI_OPEN_VERIFY:
        /* A damaged store is opened all the same, so that verify can say where it is damaged. */
        return cli_store_open_flags(ctx, STELE_OPEN_VERIFY, &b->store);
    case CLI_OPEN_READ:
    case CLI_OPEN_MAINTAIN: break;
    }
    return cli_store_open(ctx, false, &b->store);
}
