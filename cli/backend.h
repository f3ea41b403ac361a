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
 * A new command is written once in a cmd_*.c over these operations; what it needs that no
 * operation gives becomes a new operation, implemented by both backends.
 */
#ifndef STELE_CLI_BACKEND_H
#define STELE_CLI_BACKEND_H

#include "cli.h"

/* How a command needs the local store (a server's store always exists and is writable). */
typedef enum cli_open {
    CLI_OPEN_READ,     /* an existing store, only read (none: "no store at DIR", exit 3) */
    CLI_OPEN_WRITE,    /* created when missing (writing commands) */
    CLI_OPEN_MAINTAIN, /* an existing store, written but never created (delete, reindex) */
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

    /* Check a stream name before anything is written (local: stele_stream_name_check, so that a
     * rejected write creates no store; remote: the server checks it and answers in its words). */
    int (*check_name)(cli_backend_t *b, const char *stream);
    /* One stream's info as the object `info` prints (info_json keys); *out is a new reference. */
    int (*info)(cli_backend_t *b, const char *stream, json_t **out);
    /* Each stream's info (info_json keys) in name order, prefix / after / limit (0: all) / all
     * as stele_stream_list(); each(arg, info) takes the reference and returns an exit status,
     * which ends the listing when not EXIT_OK. */
    int (*streams)(cli_backend_t *b, const char *prefix, const char *after, uint64_t limit,
                   bool all, int (*each)(void *arg, json_t *info), void *arg);
    /* A stream's metadata JSON text (malloc, NUL-terminated; the caller frees) in *out. */
    int (*meta_get)(cli_backend_t *b, const char *stream, char **out);
    /* Replace a stream's metadata under expect (against its metadata version); *version is the
     * new metadata version. */
    int (*meta_set)(cli_backend_t *b, const char *stream, const char *json, int64_t expect,
                    int64_t *version);
    /* Delete (soft, or tombstone) a stream under expect. */
    int (*delete_stream)(cli_backend_t *b, const char *stream, int64_t expect, bool tombstone);

    /* The read operations print the events they read as event lines on stdout (cli_print_event
     * for the store's events, remote_print_event for the server's, byte for byte the same lines),
     * since each backend has the events in its own form: records, or the server's JSON text,
     * whose data is printed as sent. */
    /* The events of one stream from from_version (-1: the last one, backward) up to limit (0: no
     * limit). */
    int (*read_stream)(cli_backend_t *b, const char *stream, int64_t from_version, bool backward,
                       uint64_t limit);
    /* The events of $all that ro selects. */
    int (*read_all)(cli_backend_t *b, const stele_read_options_t *ro);
    /* The event with this id (id_text is its text, as given). */
    int (*event)(cli_backend_t *b, const stele_uuid_t *id, const char *id_text);

    /* Append events[0..count) to stream under expect, all or none; *result (a new reference) is
     * the object `append` prints ({"stream","first_version","last_version","first_position",
     * "last_position","idempotent"}). The input is checked before the store is opened. */
    int (*append)(cli_backend_t *b, const char *stream, int64_t expect,
                  const stele_event_in_t *events, size_t count, json_t **result);
    /* import: one run of one stream's events (lines first_line..last_line of source), under
     * expect, or at the stream's end when that conflicts. *idempotent: the run was already there;
     * *last_position: of its last event (0 when the backend does not say). The error names the
     * lines. */
    int (*import_run)(cli_backend_t *b, const char *source, const char *stream, int64_t expect,
                      const stele_event_in_t *events, size_t count, uint64_t first_line,
                      uint64_t last_line, bool *idempotent, uint64_t *last_position);
    /* import: replay an event of the reserved stream name ("$$target", line of source): set
     * target's metadata to data (unless already equal) or delete it (soft or tombstone; already
     * deleted is fine). The error names the line. */
    int (*import_system)(cli_backend_t *b, const char *source, uint64_t line, const char *name,
                         const char *target, bool is_meta, bool is_tombstone, const char *data,
                         size_t data_len);

    /* tail: follow the subscription so describes, printing its events as the read operations do
     * (live ones flushed one by one), until SIGINT or SIGTERM, or once caught up when
     * caught_up_exit; "caught up at P" goes to stderr when verbose or stderr is a terminal. */
    int (*tail)(cli_backend_t *b, const stele_subscribe_options_t *so, bool caught_up_exit,
                bool verbose);
} cli_backend_ops_t;

struct cli_backend {
    const cli_backend_ops_t *ops;
    cli_ctx_t *ctx;
    cli_open_t how;       /* local backend: how the store is to be opened */
    stele_store_t *store; /* local backend: the store, opened by the first operation */
};

/* Set up ctx's backend: the server when ctx->url is set, else the store at ctx->dir, opened as how
 * says by the first operation that needs it (so its failure is that operation's: "no store at
 * DIR" is exit 3). Returns EXIT_OK, or the exit status after printing why (then nothing is to be
 * closed). */
int cli_backend_open(cli_ctx_t *ctx, cli_open_t how, cli_backend_t *b);
/* Close it; returns status unchanged, or EXIT_ERROR if it was EXIT_OK and closing failed. */
int cli_backend_close(cli_backend_t *b, int status);

/* The two backends (backend_local.c, backend_remote.c). */
int cli_backend_local_open(cli_ctx_t *ctx, cli_open_t how, cli_backend_t *b);
int cli_backend_remote_open(cli_ctx_t *ctx, cli_backend_t *b);

#endif /* STELE_CLI_BACKEND_H */
