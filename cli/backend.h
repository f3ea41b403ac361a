/*
 * backend.h -- one command of the `stele` tool, two backends: the local store (-d DIR,
 * backend_local.c) or a server (--url URL, backend_remote.c over remote.c).
 *
 * A command parses and checks its arguments, opens the backend of the context, asks it for what
 * it needs and prints the answer: the command is written once, and only the backends know where
 * the answer comes from. Every operation returns EXIT_OK with its result, or the exit status after
 * printing the error ("stele: CMD: ..."). A library error's exit status and a server's JSON error
 * code's both come from the one error table (include/stele_errors.h), so the two backends exit
 * alike.
 *
 * Commands not yet moved onto the backend call their remote_* twins (remote.h) when ctx->url is
 * set.
 */
#ifndef STELE_CLI_BACKEND_H
#define STELE_CLI_BACKEND_H

#include "cli.h"

/* How a command needs the local store (a server's store always exists and is writable). */
typedef enum cli_open {
    CLI_OPEN_READ,     /* an existing store, only read (none: "no store at DIR", exit 3) */
    CLI_OPEN_WRITE,    /* created when missing (writing commands) */
    CLI_OPEN_MAINTAIN, /* an existing store, written by maintenance (reindex) */
    CLI_OPEN_VERIFY,   /* an existing store, even a damaged one (verify) */
} cli_open_t;

typedef struct cli_backend cli_backend_t;

typedef struct cli_backend_ops {
    /* Check that the store is there and usable (init: the local store is created by the open;
     * the server is asked for /health). */
    int (*ready)(cli_backend_t *b);
    /* The store's stats as the object `stats` prints (common/info_json.h stats_json keys);
     * *out is a new reference. */
    int (*stats)(cli_backend_t *b, json_t **out);
    /* The head digest: the last position and the lowercase hex SHA-256 of the hash chain. */
    int (*digest)(cli_backend_t *b, uint64_t *position, char hash_hex[65]);
    /* Verify everything: *report (a new reference) is the report `verify` prints (verify_json
     * keys), for a sound store and for a corrupt one ("ok": false, "error", "message") alike.
     * Any other failure is an exit status, always EXIT_ERROR. */
    int (*verify)(cli_backend_t *b, json_t **report);
    /* Rebuild the indexes and the catalogue from the log. Failure is always EXIT_ERROR. */
    int (*reindex)(cli_backend_t *b);
} cli_backend_ops_t;

struct cli_backend {
    const cli_backend_ops_t *ops;
    cli_ctx_t *ctx;
    stele_store_t *store; /* local backend: the open store */
};

/* Open ctx's backend: the server when ctx->url is set, else the store at ctx->dir opened as how
 * says. Returns EXIT_OK, or the exit status after printing why (then nothing is to be closed). */
int cli_backend_open(cli_ctx_t *ctx, cli_open_t how, cli_backend_t *b);
/* Close it; returns status unchanged, or EXIT_ERROR if it was EXIT_OK and closing failed. */
int cli_backend_close(cli_backend_t *b, int status);

/* The two backends (backend_local.c, backend_remote.c). */
int cli_backend_local_open(cli_ctx_t *ctx, cli_open_t how, cli_backend_t *b);
int cli_backend_remote_open(cli_ctx_t *ctx, cli_backend_t *b);

#endif /* STELE_CLI_BACKEND_H */
