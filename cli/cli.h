/*
 * cli.h -- what the files of the `stele` command-line tool share.
 *
 * The tool uses only the public API (stele.h), jansson and libc. Every command is a function
 * cmd_<name>(ctx, argc, argv) that receives the arguments after its name and returns the process
 * exit status. Exit statuses are part of the tool's contract (docs/cli.md):
 *
 *   0 ok, 1 usage (bad flag, value or argument syntax), 2 expected-version conflict,
 *   3 not found / deleted / tombstoned (also: no store in the directory for a reading command),
 *   4 every other error (data the library rejects, I/O, corruption).
 */
#ifndef STELE_CLI_H
#define STELE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "stele.h"

#include "base64.h"
#include "info_json.h"

enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,
    EXIT_CONFLICT = 2,
    EXIT_NOTFOUND = 3,
    EXIT_ERROR = 4,
};

/* The global options, parsed before the command name. */
typedef struct cli_ctx {
    const char *dir;               /* data directory (-d, --data, STELE_DATA, "./data") */
    stele_durability_t durability; /* --durability */
    bool verbose;                  /* --verbose */
    const char *command;           /* the command's name, for messages */
    const char *url;               /* --url, STELE_URL: work through that server (remote.h) */
    const char *token;             /* --token, STELE_TOKEN: its API token */
    const char *cacert;            /* --cacert, SSL_CERT_FILE: CA certificates for https */
    const char *capath;            /* SSL_CERT_DIR: a directory of CA certificates */
    bool insecure;                 /* --insecure: do not verify the server's certificate */
    uint64_t segment_size_bytes;   /* --segment-size-bytes: maximum segment size (0: default) */
} cli_ctx_t;

/* ---- args.c: command-line options -------------------------------------------------------- */

/* One option a command accepts. Exactly one of value / flag is set. */
typedef struct cli_opt {
    const char *name;   /* "--limit" */
    const char **value; /* option takes a value: set to it (the last one given wins) */
    bool *flag;         /* option takes no value: set to true */
} cli_opt_t;

/* Parse argv[0..argc) against opts: options in any order, "--name VALUE" or "--name=VALUE",
 * "--" ends options, "-" alone is a positional. Positionals are stored in pos (at most max_pos;
 * *npos receives their count). Returns EXIT_OK, EXIT_USAGE after printing a message naming the
 * bad option, or -1 when --help/-h was given (the caller prints its usage and exits 0). */
int cli_args_parse(const cli_ctx_t *ctx, int argc, char **argv, const cli_opt_t *opts,
                   size_t opt_count, const char **pos, size_t max_pos, size_t *npos);

/* Typed values. Each prints a usage message naming the flag and returns EXIT_USAGE on bad text,
 * or EXIT_OK. */
int cli_parse_u64(const cli_ctx_t *ctx, const char *flag, const char *text, uint64_t *out);
int cli_parse_i64(const cli_ctx_t *ctx, const char *flag, const char *text, int64_t *out);
int cli_parse_expect(const cli_ctx_t *ctx, const char *flag, const char *text, int64_t *out);
int cli_parse_uuid(const cli_ctx_t *ctx, const char *flag, const char *text, stele_uuid_t *out);
int cli_parse_time(const cli_ctx_t *ctx, const char *flag, const char *text, int64_t *out);

/* Read a whole file ("-" = stdin) into a NUL-terminated malloc'ed buffer. Returns EXIT_OK or
 * EXIT_ERROR after printing why. */
int cli_read_file(const cli_ctx_t *ctx, const char *path, char **buf, size_t *len);

/* ---- filter.c: the $all filter options shared by read-all and tail ------------------------- */

typedef struct cli_filter_args {
    const char *type, *type_prefix, *category, *prefix, *stream, *since, *until;
    bool system;
} cli_filter_args_t;

#define CLI_FILTER_OPT_COUNT 8
/* Write the CLI_FILTER_OPT_COUNT option entries that fill *fa into opts. */
void cli_filter_opts(cli_filter_args_t *fa, cli_opt_t *opts);
/* True when any filter option was given. */
bool cli_filter_given(const cli_filter_args_t *fa);
/* Turn the given options into a filter (times parsed). Returns EXIT_OK or EXIT_USAGE. */
int cli_filter_build(const cli_ctx_t *ctx, const cli_filter_args_t *fa, stele_filter_t *out);

/* ---- output.c: messages, exit statuses and NDJSON -------------------------------------------- */

/* "stele: <command>: <message>" on stderr. */
void cli_errorf(const cli_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error: prints the message and a hint, returns EXIT_USAGE. */
int cli_usage_errorf(const cli_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The exit status for a libstele error code. */
int cli_exit_for(int code);
/* "stele: <command>: <stele_strerror(code)>: <stele_errdetail()>" then the exit status for it.
 * Call it right after the failing library call (the detail is per thread, per call). */
int cli_fail(const cli_ctx_t *ctx, int code);

/* Print a jansson value as one compact line on stdout and release it (the reference is stolen).
 * Returns EXIT_OK or EXIT_ERROR when stdout failed. */
int cli_print_json(json_t *value);

/* Print one event as an NDJSON line (keys: position, stream, version, type, time, id, data,
 * [content], metadata). Returns EXIT_OK or EXIT_ERROR when stdout failed. */
int cli_print_event(const stele_event_t *ev);

/* Print every event of reader with cli_print_event(); returns the exit status. */
int cli_print_reader(const cli_ctx_t *ctx, stele_reader_t *reader);

/* SIGINT and SIGTERM set a flag that long-running commands check to end cleanly (stop.c). */
void cli_stop_on_signals(void);
bool cli_stop_requested(void);

/* Print the events of $all that ro selects, from the store or the server (--url) (cmd_read.c);
 * returns the exit status. */
int cli_print_all(cli_ctx_t *ctx, const stele_read_options_t *ro);

/* Shared with steled (common/): info_json() for a stream's info, b64_encode()/b64_decode() for
 * binary data, jscan_*() for raw JSON spans. */

/* Write JSON text on one line: whitespace outside strings is dropped, the rest kept byte for byte
 * (so numbers and key order survive unchanged). */
void cli_write_compact_json(FILE *f, const char *text, size_t len);

/* ---- store.c: opening the store ------------------------------------------------------------ */

/* Open ctx->dir. create: writing commands create the store if missing. A reading command on a
 * directory without a store prints "no store at DIR" and returns EXIT_NOTFOUND. Returns EXIT_OK
 * with *out set, or the exit status after printing the error. */
int cli_store_open(const cli_ctx_t *ctx, bool create, stele_store_t **out);
/* The same with any STELE_OPEN_* flags (verify opens with STELE_OPEN_VERIFY). */
int cli_store_open_flags(const cli_ctx_t *ctx, uint32_t flags, stele_store_t **out);
/* Close the store; returns status unchanged, or EXIT_ERROR if it was EXIT_OK and closing failed. */
int cli_store_close(const cli_ctx_t *ctx, stele_store_t *store, int status);

/* ---- event_in.c: events given as NDJSON (append --file, import) ------------------------------ */

/* One input event and the memory it owns. */
typedef struct cli_event_buf {
    stele_event_in_t in; /* points into the fields below */
    char *type;
    char *data;
    size_t data_len;
    char *metadata;
    char *stream;    /* import only: the event's stream ("stream" key), else NULL */
    int64_t version; /* import only: its exported "version", or -1 when absent */
    uint64_t line;   /* 1-based line number, for messages */
} cli_event_buf_t;

/* Parse one NDJSON line into *ev (which is zeroed first). need_stream: the "stream" key is
 * required (import). On bad input prints "<source> line N: ..." and returns EXIT_ERROR; bad text
 * that is argument syntax (the id) is also data here, so the status is EXIT_ERROR. */
int cli_event_parse_line(const cli_ctx_t *ctx, const char *source, uint64_t line_no,
                         const char *line, size_t len, bool need_stream, cli_event_buf_t *ev);
void cli_event_buf_free(cli_event_buf_t *ev);

/* Check that len bytes of text are JSON (an object when must_be_object) before the store is
 * opened. what names it in the message ("data", "--meta"). Returns EXIT_OK or EXIT_ERROR after
 * printing "<what>: <stele_strerror(STELE_EJSON)>: <why>". */
int cli_check_json(const cli_ctx_t *ctx, const char *what, const char *text, size_t len,
                   bool must_be_object);

/* ---- progress.c: a progress bar on stderr when it is a terminal ------------------------------ */

typedef struct cli_progress {
    const char *label;
    bool enabled;     /* stderr is a terminal */
    bool drawn;       /* something is on the line */
    int64_t last_ns;  /* last draw (monotonic) */
    const char *unit; /* "bytes" or "events" */
} cli_progress_t;

void cli_progress_init(cli_progress_t *p, const char *label, const char *unit);
/* A stele_progress_fn: arg is a cli_progress_t. total 0 = unknown. */
void cli_progress_update(void *arg, uint64_t done, uint64_t total);
/* Erase the bar. */
void cli_progress_finish(cli_progress_t *p);

/* ---- commands ------------------------------------------------------------------------------ */

int cmd_init(cli_ctx_t *ctx, int argc, char **argv);
int cmd_append(cli_ctx_t *ctx, int argc, char **argv);
int cmd_read(cli_ctx_t *ctx, int argc, char **argv);
int cmd_read_all(cli_ctx_t *ctx, int argc, char **argv);
int cmd_event(cli_ctx_t *ctx, int argc, char **argv);
int cmd_tail(cli_ctx_t *ctx, int argc, char **argv);
int cmd_streams(cli_ctx_t *ctx, int argc, char **argv);
int cmd_info(cli_ctx_t *ctx, int argc, char **argv);
int cmd_meta(cli_ctx_t *ctx, int argc, char **argv);
int cmd_delete(cli_ctx_t *ctx, int argc, char **argv);
int cmd_stats(cli_ctx_t *ctx, int argc, char **argv);
int cmd_digest(cli_ctx_t *ctx, int argc, char **argv);
int cmd_verify(cli_ctx_t *ctx, int argc, char **argv);
int cmd_reindex(cli_ctx_t *ctx, int argc, char **argv);
int cmd_export(cli_ctx_t *ctx, int argc, char **argv);
int cmd_import(cli_ctx_t *ctx, int argc, char **argv);

/* main.c: print the usage of one command (or of the tool when name is NULL) on f. */
void cli_print_usage(FILE *f, const char *name);

#endif /* STELE_CLI_H */
